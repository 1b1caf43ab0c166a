"""The matrix a map is drawn from: the embedding columns, or the features encoded for distance.

1. the **embedding** columns (``emb_0 ... emb_k`` or a list column ``embedding``),
   as they are; a non-finite value is replaced by its column's mean;
2. otherwise the **features**, encoded without the target (label, prediction,
   probabilities, SHAP values and ids never enter):

   * numeric and datetime columns (datetimes as days) are standardised to mean 0
     and standard deviation 1; a missing or infinite value takes the column's
     median and gets a 0/1 indicator column ``<col> is missing``;
   * categorical and boolean columns are one-hot encoded: the
     ``max_categories - 1`` most frequent values keep a column each, rarer values
     share one, a missing value has its own; every one-hot entry is
     ``1/sqrt(2)``, so two rows that differ in one categorical column are at
     distance 1 in it, the distance of one standard deviation of a numeric column;
   * text columns are left out.

Given coordinates (``proj_x``, ``proj_y``) need no matrix; see
:mod:`~mlqa_debug.analyses.embeddings.projection`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing.encoding import Unsupported, categorical_codes

__all__ = [
    "ENCODING_VERSION",
    "MAX_CATEGORIES",
    "ProjectionInput",
    "VectorSource",
    "input_columns",
    "projection_input",
]

logger = logging.getLogger(__name__)

VectorSource = Literal["embedding", "features", "given"]
"""What a map's coordinates come from: the embedding, the encoded features, given proj_x/y."""

MAX_CATEGORIES = 20
ENCODING_VERSION = "1"
"""Part of every projection's cache key: bump it when the encoding changes."""
_ONE_HOT = 1.0 / math.sqrt(2.0)
_NS_PER_DAY = 86_400e9


@dataclass(frozen=True, eq=False)
class ProjectionInput:
    """The matrix a projection runs on: ``(n_samples, n_dims)`` float32."""

    matrix: np.ndarray
    source: VectorSource
    columns: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """E.g. ``the 16 embedding columns`` or ``10 features (scaled, one-hot)``."""
        n = len(self.columns)
        if self.source == "embedding":
            return f"the {n} embedding column{'s' if n != 1 else ''}"
        if self.source == "given":
            return "the given coordinates proj_x, proj_y"
        return f"{n} feature{'s' if n != 1 else ''} (numerics scaled, categoricals one-hot)"


def input_columns(predictions: Predictions) -> tuple[VectorSource, tuple[str, ...]]:
    """Where the map comes from and which columns feed it (cheap: no encoding)."""
    s = predictions.schema
    if s.embedding:
        return "embedding", tuple(s.embedding)
    usable = tuple(c for c, kind in s.features.items() if kind != "text")
    return "features", usable


def projection_input(
    predictions: Predictions, *, max_categories: int = MAX_CATEGORIES
) -> ProjectionInput:
    """The embedding, or the encoded features (see the module docstring); kept with the data.

    Raises :class:`SchemaError` when there is nothing to project.
    """
    return predictions.memo(
        f"embeddings.input:{max_categories}", lambda: _build_input(predictions, max_categories)
    )


def _build_input(predictions: Predictions, max_categories: int) -> ProjectionInput:
    source, columns = input_columns(predictions)
    if source == "embedding":
        matrix = cast(np.ndarray, predictions.embedding_matrix).astype(np.float32, copy=True)
        return ProjectionInput(_fill_nonfinite(matrix), "embedding", columns)
    blocks: list[np.ndarray] = []
    used: list[str] = []
    skipped: list[str] = []
    for column in columns:
        kind = predictions.schema.features[column]
        encoded = _encode_column(predictions.frame[column], kind, max_categories=max_categories)
        if encoded is None:
            skipped.append(column)
            continue
        blocks.append(encoded)
        used.append(column)
    if not blocks:
        raise SchemaError(
            "nothing to draw a map from: the data has no embedding columns (emb_0, emb_1, ...) "
            "and no numeric, categorical, boolean or datetime features",
            file=predictions.source,
            expected="embedding columns or features",
            received=list(predictions.frame.columns),
        )
    return ProjectionInput(np.hstack(blocks), "features", tuple(used), tuple(skipped))


def _fill_nonfinite(matrix: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(matrix)
    if bad.any():
        logger.warning("embedding has %d non-finite values; using column means", bad.sum())
        counts = (~bad).sum(axis=0)
        sums = np.where(bad, 0.0, matrix).sum(axis=0)
        means = np.divide(sums, counts, out=np.zeros_like(sums, dtype=np.float64), where=counts > 0)
        matrix[bad] = means[np.nonzero(bad)[1]]
    return matrix


def _encode_column(
    series: pd.Series, kind: str, *, max_categories: int = MAX_CATEGORIES
) -> np.ndarray | None:
    """One feature as ``(n, k)`` float32 columns, or ``None`` if it says nothing."""
    if kind in ("categorical", "boolean"):
        return _one_hot(series, max_categories)
    if kind == "datetime":
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = stamps.dt.as_unit("ns").to_numpy().view(np.int64).astype(np.float64)
        values = np.where(stamps.isna().to_numpy(), np.nan, ns / _NS_PER_DAY)
        return _scaled(values)
    if kind == "numeric":
        return _scaled(pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan))
    return None


def _scaled(values: np.ndarray) -> np.ndarray | None:
    """Standardised values (median for missing) plus a missing indicator when needed."""
    values = np.where(np.isfinite(values), values, np.nan)
    missing = np.isnan(values)
    if missing.all():
        return None
    filled = np.where(missing, np.nanmedian(values), values)
    sd = filled.std()
    columns = [(filled - filled.mean()) / sd] if sd > 0 else []
    if missing.any():
        columns.append(missing.astype(np.float64))
    return np.column_stack(columns).astype(np.float32) if columns else None


def _one_hot(series: pd.Series, max_categories: int) -> np.ndarray | None:
    """One-hot of the frequent values, one shared column for the rare ones, one for missing."""
    try:
        codes, labels = categorical_codes(series)
    except (Unsupported, TypeError):
        return None
    n_values = len(labels)
    counts = np.bincount(codes[codes >= 0], minlength=n_values)
    keep = np.sort(np.argsort(-counts, kind="stable")[: max(1, max_categories - 1)])
    remap = np.full(n_values + 1, len(keep), dtype=np.int64)  # rare values -> one column
    remap[keep] = np.arange(len(keep))
    remap[-1] = len(keep) + 1  # code -1 (missing) reads the last entry
    column = remap[codes]
    n_columns = len(keep) + 2
    out = np.zeros((len(codes), n_columns), dtype=np.float32)
    out[np.arange(len(codes)), column] = _ONE_HOT
    used = out.any(axis=0)
    return out[:, used] if used.sum() > 1 else None
