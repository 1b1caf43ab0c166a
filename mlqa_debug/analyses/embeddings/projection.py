"""A 2-D map of the rows: which maps a dataset offers, their cache key, and computing one.

The map is drawn from, in order of preference:

1. **given** coordinates: columns ``proj_x`` and ``proj_y`` in the data are used
   exactly as they are (rows with a missing coordinate are left off the map);
2. the embedding columns, or else the encoded features
   (:mod:`~mlqa_debug.analyses.embeddings.vectors`), through ``pca``
   (:mod:`~mlqa_debug.analyses.embeddings.pca`, fast enough to show at once) or
   ``umap`` (:mod:`~mlqa_debug.analyses.embeddings.umap_layout`, seconds to minutes:
   the app computes it in the background, see
   :mod:`~mlqa_debug.analyses.embeddings.jobs`).

Results are cached by :mod:`~mlqa_debug.analyses.embeddings.projection_cache`
under :func:`projection_key`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug.analyses.embeddings.params import DEFAULT_PARAMS, METHODS, Method, ProjectionParams
from mlqa_debug.analyses.embeddings.pca import pca_2d
from mlqa_debug.analyses.embeddings.umap_layout import umap_rows
from mlqa_debug.analyses.embeddings.vectors import (
    ENCODING_VERSION,
    VectorSource,
    input_columns,
    projection_input,
)
from mlqa_debug.cache import cache_key
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError
from mlqa_debug.types import Progress

__all__ = [
    "Projection",
    "compute_projection",
    "default_method",
    "method_choices",
    "projection_key",
]

logger = logging.getLogger(__name__)

_AXIS_PREFIX: dict[Method, str] = {"umap": "UMAP", "pca": "PC"}
_VERSIONED: dict[Method, tuple[str, ...]] = {
    "umap": ("umap-learn", "scikit-learn", "numpy"),
    "pca": ("scikit-learn", "numpy"),
}


@dataclass(frozen=True, eq=False)
class Projection:
    """2-D coordinates of every row: ``coords`` is ``(n_samples, 2)`` float32, NaN = not mapped."""

    coords: np.ndarray
    method: Method
    source: VectorSource
    key: str
    description: str
    seconds: float = 0.0

    @property
    def n_mapped(self) -> int:
        """Rows with coordinates."""
        return int(np.isfinite(self.coords).all(axis=1).sum())

    @property
    def axis_names(self) -> tuple[str, str]:
        if self.method == "given":
            return "proj_x", "proj_y"
        prefix = _AXIS_PREFIX[self.method]
        return f"{prefix} 1", f"{prefix} 2"


def method_choices(predictions: Predictions) -> tuple[Method, ...]:
    """The maps this dataset offers: ``given`` only when it has proj_x/proj_y."""
    if predictions.schema.projection is not None:
        return ("given", "umap", "pca")
    return ("umap", "pca")


def default_method(predictions: Predictions) -> Method:
    """Given coordinates when the data has them, else UMAP."""
    return method_choices(predictions)[0]


def _versions(method: Method) -> dict[str, str]:
    out: dict[str, str] = {}
    for package in _VERSIONED.get(method, ()):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "?"
    return out


def projection_key(
    predictions: Predictions, *, method: Method, params: ProjectionParams = DEFAULT_PARAMS
) -> str:
    """Cache key: fingerprint, input columns, method, parameters and library versions."""
    source, columns = input_columns(predictions)
    if method == "given":
        source, columns = "given", tuple(predictions.schema.projection or ())
    return cache_key(
        "embeddings",
        ENCODING_VERSION,
        predictions.fingerprint,
        method,
        source,
        list(columns),
        params.for_method(method),
        _versions(method),
    )


def compute_projection(
    predictions: Predictions,
    *,
    method: Method,
    params: ProjectionParams = DEFAULT_PARAMS,
    progress: Progress | None = None,
) -> Projection:
    """Compute a projection (no cache). ``progress(phase, fraction)`` reports UMAP's progress."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    key = projection_key(predictions, method=method, params=params)
    start = time.perf_counter()
    if method == "given":
        coords, text = _given(predictions)
        return Projection(coords, "given", "given", key, text, time.perf_counter() - start)
    inp = projection_input(predictions)
    if method == "pca":
        coords, text = pca_2d(inp.matrix, random_state=params.random_state)
    else:
        report = progress or _log_progress
        coords, text = umap_rows(predictions.error, inp.matrix, params, report)
    description = f"{text} of {inp.description}"
    return Projection(coords, method, inp.source, key, description, time.perf_counter() - start)


def _log_progress(phase: str, fraction: float | None) -> None:
    """The default progress callback: log the phase."""
    logger.debug("projection: %s %s", phase, fraction)


def _given(predictions: Predictions) -> tuple[np.ndarray, str]:
    names = predictions.schema.projection
    if names is None:
        raise SchemaError(
            "the data has no given coordinates (columns proj_x and proj_y)",
            file=predictions.source,
            expected=["proj_x", "proj_y"],
        )
    frame = predictions.frame
    coords = np.column_stack(
        [
            pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            for c in names
        ]
    ).astype(np.float32)
    coords[~np.isfinite(coords).all(axis=1)] = np.nan
    return coords, "Given coordinates"
