"""Discovery on a predictions table: parameters, the error measure, caching.

:func:`discover_slices` runs SliceLine (:mod:`.sliceline`) on the dataset's
coded features (optionally inside a slice) and returns ranked
:class:`DiscoveredSlice` rows; :func:`grow_error_tree` fits the error tree.
Results are cached on disk by the dataset's fingerprint and every parameter,
so a second visit is instant.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlqa_debug.analyses.discovery.sliceline import find_slices
from mlqa_debug.analyses.discovery.tree import ErrorTree, fit_error_tree
from mlqa_debug.cache import DiskCache, cache_key
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import Schema
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import MAX_SLICE_LENGTH, Slice, parse_slice, slice_mask
from mlqa_debug.slicing.encoding import Encoding, encode_features
from mlqa_debug.stats import wilson_interval
from mlqa_debug.types import Progress

logger = logging.getLogger(__name__)

ErrorMeasure = Literal["error", "abs_error", "log_loss"]
ERROR_MEASURES: tuple[ErrorMeasure, ...] = ("error", "abs_error", "log_loss")


@dataclass(frozen=True)
class DiscoveryParams:
    """Everything a discovery result depends on besides the data.

    ``min_support`` is a fraction of the rows searched (< 1) or a row count;
    ``features`` None means :func:`default_features` (the first 100 non-text
    features); ``within`` is a slice's text
    (the search runs inside it); ``measure`` is the per-row error SliceLine
    scores: the 0/1 error, the absolute residual (regression) or the log loss
    (classification with probabilities).
    """

    alpha: float = 0.95
    k: int = 10
    max_level: int = 2
    min_support: float = 0.01
    n_bins: int = 5
    features: tuple[str, ...] | None = None
    within: str = ""
    measure: ErrorMeasure = "error"

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ParameterError(f"alpha must be in (0, 1], got {self.alpha}")
        if not 1 <= self.k <= 1000:
            raise ParameterError(f"k must be between 1 and 1000, got {self.k}")
        if not 1 <= self.max_level <= 5:
            raise ParameterError(f"max level must be between 1 and 5, got {self.max_level}")
        if self.min_support <= 0:
            raise ParameterError(f"min support must be positive, got {self.min_support}")
        if not 2 <= self.n_bins <= 50:
            raise ParameterError(f"bins per numeric feature must be 2 to 50, got {self.n_bins}")


DEFAULT_PARAMS = DiscoveryParams()
"""The parameters callers start from; the CLI's ``discover`` flags default to these."""


@dataclass(frozen=True)
class DiscoveredSlice:
    """One ranked result: the slice and its statistics on the rows searched."""

    slice: Slice
    size: int
    error_sum: float
    score: float
    level: int
    error_rate: float
    low: float
    high: float
    lift: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["slice"] = self.slice.text
        return out


@dataclass(frozen=True)
class DiscoveryResult:
    """Ranked slices plus what the search ran on."""

    slices: tuple[DiscoveredSlice, ...]
    params: DiscoveryParams
    n_rows: int
    mean_error: float
    features: tuple[str, ...]
    skipped: tuple[str, ...] = field(default=())
    cached: bool = False


def error_vector(predictions: Predictions, measure: ErrorMeasure) -> np.ndarray:
    """The per-row error SliceLine scores (non-negative floats)."""
    if measure == "error":
        return predictions.error.astype(np.float64)
    if measure == "abs_error":
        if predictions.schema.is_classification:
            raise ParameterError("the absolute error needs a regression task; use 'error'")
        return np.abs(predictions.residual)
    proba = predictions.proba_matrix
    if proba is None:
        raise ParameterError("the log loss needs probability columns; use 'error'")
    picked = proba[np.arange(len(proba)), np.maximum(predictions.y_true_codes, 0)]
    return -np.log(np.clip(picked, 1e-15, 1.0))


MAX_DEFAULT_FEATURES = 100
"""At most this many features are searched by default (a wide table's first ones)."""


def usable_features(predictions: Predictions) -> tuple[str, ...]:
    """Every feature discovery can search: all but free text, in table order."""
    return tuple(c for c, kind in predictions.schema.features.items() if kind != "text")


def default_features(predictions: Predictions) -> tuple[str, ...]:
    """Features discovery uses by default: the first :data:`MAX_DEFAULT_FEATURES` usable ones.

    Usable: all but free text, and image pixels if other features exist. A table with
    more (a wide table of 10,000 columns) is searched on its first 100 in table
    order, which keeps the search to seconds; name others in ``features``.
    """
    return schema_default_features(predictions.schema)


def schema_default_features(schema: Schema) -> tuple[str, ...]:
    """:func:`default_features` from the schema alone (what an engine knows of its table)."""
    usable = tuple(c for c, kind in schema.features.items() if kind != "text")
    pixels = set(schema.image.columns) if schema.image else set()
    chosen = tuple(c for c in usable if c not in pixels) or usable
    return chosen[:MAX_DEFAULT_FEATURES]


def feature_encoding(predictions: Predictions, features: Sequence[str], n_bins: int) -> Encoding:
    """Coded features, built once per dataset and parameters."""
    unknown = [c for c in features if c not in predictions.schema.features]
    if unknown:
        raise ParameterError(f"not features of this dataset: {', '.join(map(repr, unknown))}")
    key = f"encoding:{n_bins}:{'|'.join(features)}"
    return predictions.memo(
        key, lambda: encode_features(predictions.frame, list(features), n_bins=n_bins)
    )


def discovery_key(predictions: Predictions, params: DiscoveryParams | None = None) -> str:
    """The cache key of a search: the dataset's fingerprint, every parameter, the features."""
    params = params or DEFAULT_PARAMS
    features = params.features or default_features(predictions)
    return cache_key("discovery", predictions.fingerprint, dataclasses.asdict(params), features)


def cached_discovery(
    predictions: Predictions, params: DiscoveryParams | None = None, *, cache: DiskCache
) -> DiscoveryResult | None:
    """The search's result from the disk cache, or None when it has not run yet."""
    params = params or DEFAULT_PARAMS
    hit = cache.get_json(discovery_key(predictions, params))
    return None if hit is None else _from_cache(hit, params)


def discover_slices(
    predictions: Predictions,
    params: DiscoveryParams | None = None,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DiscoveryResult:
    """Top-k slices by SliceLine score (exact), inside ``params.within``.

    ``progress`` and ``cancelled`` follow and stop the search (see
    :func:`~.sliceline.find_slices`); a cancelled search raises
    :class:`~mlqa_debug.errors.Cancelled` and caches nothing.
    """
    params = params or DEFAULT_PARAMS
    features = params.features or default_features(predictions)
    key = discovery_key(predictions, params)
    if cache is not None and (hit := cache.get_json(key)) is not None:
        return _from_cache(hit, params)
    if progress is not None:
        progress(f"coding {len(features):,} features", None)
    within = parse_slice(params.within, max_length=MAX_SLICE_LENGTH)
    mask = slice_mask(predictions, within)
    errors = error_vector(predictions, params.measure)
    encoding = feature_encoding(predictions, features, params.n_bins)
    rows = np.flatnonzero(mask)
    codes = [codes[rows] for codes in encoding.codes]
    found = find_slices(
        codes,
        errors[rows],
        cardinalities=encoding.cardinalities,
        alpha=params.alpha,
        k=params.k,
        max_level=params.max_level,
        min_support=params.min_support,
        progress=progress,
        cancelled=cancelled,
    )
    mean_error = float(errors[rows].mean()) if rows.size else float("nan")
    slices = tuple(
        _discovered(within & encoding.to_slice(f.items), f, mean_error, params.measure)
        for f in found
    )
    result = DiscoveryResult(
        slices, params, int(rows.size), mean_error, tuple(encoding.columns), encoding.skipped
    )
    if cache is not None:
        cache.put_json(key, _to_cache(result))
    return result


def _discovered(s: Slice, found: Any, mean_error: float, measure: ErrorMeasure) -> DiscoveredSlice:
    rate = found.error_sum / found.size
    if measure == "error":
        low, high = wilson_interval(round(found.error_sum), found.size)
    else:
        low = high = float("nan")
    lift = rate / mean_error if mean_error > 0 else float("nan")
    return DiscoveredSlice(
        s, found.size, found.error_sum, found.score, found.level, rate, low, high, lift
    )


def _to_cache(result: DiscoveryResult) -> dict[str, Any]:
    return {
        "slices": [d.to_dict() for d in result.slices],
        "n_rows": result.n_rows,
        "mean_error": result.mean_error,
        "features": list(result.features),
        "skipped": list(result.skipped),
    }


def _from_cache(data: dict[str, Any], params: DiscoveryParams) -> DiscoveryResult:
    slices = tuple(  # texts this module wrote: ``within`` plus a few predicates, so no limit
        DiscoveredSlice(**{**d, "slice": parse_slice(d["slice"], max_length=len(d["slice"]))})
        for d in data["slices"]
    )
    return DiscoveryResult(
        slices,
        params,
        int(data["n_rows"]),
        float(data["mean_error"]),
        tuple(data["features"]),
        tuple(data["skipped"]),
        cached=True,
    )


TreeTarget = Literal["error", "abs_residual", "residual"]


def tree_target(predictions: Predictions, target: TreeTarget) -> np.ndarray:
    """What the error tree predicts: the 0/1 error, or (regression) |residual| or residual."""
    if target == "error" or predictions.schema.is_classification:
        return predictions.error.astype(np.float64)
    return np.abs(predictions.residual) if target == "abs_residual" else predictions.residual


def grow_error_tree(
    predictions: Predictions,
    *,
    features: Sequence[str] | None = None,
    max_depth: int = 3,
    min_samples_leaf: int | float = 0.01,
    within: str = "",
    target: TreeTarget = "error",
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ErrorTree:
    """A shallow tree on the error (or, for regression, the residual) over the features.

    Every node's ``slice`` selects exactly the rows the tree sends there (inside
    ``within``). ``progress`` and ``cancelled`` follow and stop the fit (see
    :func:`~.tree.fit_error_tree`).
    """
    within_slice = parse_slice(within, max_length=MAX_SLICE_LENGTH)
    mask = slice_mask(predictions, within_slice)
    rows = np.flatnonzero(mask)
    values = tree_target(predictions, target)
    regression = target != "error" and not predictions.schema.is_classification
    chosen = list(features or default_features(predictions))
    tree = fit_error_tree(
        predictions.frame.iloc[rows],
        values[rows],
        features=chosen,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        task="regression" if regression else "classification",
        progress=progress,
        cancelled=cancelled,
    )
    if not within_slice.predicates:
        return tree
    return dataclasses.replace(
        tree,
        nodes=tuple(dataclasses.replace(n, slice=within_slice & n.slice) for n in tree.nodes),
    )
