"""Per-slice metrics with 95% confidence intervals.

One set of functions serves the UI, the CLI and regression cases. The work is
split in two stages so that a slice change on a 1,000,000-row table costs a few
milliseconds:

1. ``prepare_classification`` / ``prepare_regression`` run once per dataset. They
   integer-code every row (label, prediction, calibration bin, hit flags) and
   precompute per-row terms (log loss, Brier, confidence, residual powers), plus
   the totals over all rows.
2. ``evaluate`` / ``slice_report`` run on every slice change. They gather the
   precomputed arrays on the *smaller* side of the mask (the slice or its
   complement), reduce them with ``np.bincount`` and sums, and get the other side
   as totals minus that side. No pandas, no group-by.

Definitions
-----------
Classification
    An error is ``y_pred != y_true``. ``error_rate`` carries a Wilson score
    interval. Precision, recall and F1 follow scikit-learn with
    ``zero_division=0``; macro averages run over the classes present in
    ``y_true`` or ``y_pred`` of the evaluated rows (scikit-learn's ``labels=None``).
    ``log_loss`` is the mean of ``-log(clip(p_true, eps, 1 - eps))`` (float64
    ``eps``, as scikit-learn). ``brier`` is the multiclass Brier score, the mean
    over rows of ``sum_k (p_k - onehot_k)^2``, except for binary data where it is
    scikit-learn's ``brier_score_loss`` on the positive class ``classes[1]``,
    ``mean((p_1 - y)^2)`` (half the multiclass value). ``ece`` is the top-label
    expected calibration error: rows go to ``n_bins`` equal-width bins of
    confidence (the max probability; bins are ``[i/B, (i+1)/B)``, the last one
    closed, as in ``sklearn.calibration.calibration_curve``) and
    ``ece = sum_b n_b / n * |acc_b - conf_b|`` where ``acc_b`` is the share of rows
    whose *argmax* class is the label. ECE thus describes the probabilities alone
    and ignores ``y_pred`` when a tuned threshold makes it differ from the argmax.
Regression
    ``residual = y_pred - y_true`` (positive = over-prediction). An error is
    ``|residual| > threshold``. MAE and bias carry normal intervals
    ``mean ± z·sd/√n``; RMSE carries the normal interval of the MSE, clipped at 0
    and square-rooted.
Slice versus rest
    ``Difference`` holds the slice error rate minus the rest error rate with
    Newcombe's hybrid score interval (method 10 of Newcombe 1998, built from the
    two Wilson intervals), a two-sided p-value, and the lift over the overall rate.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Generic, Self, TypeVar, overload

import numpy as np
import numpy.typing as npt
from scipy import special, stats

__all__ = [
    "ClassScores",
    "ClassificationData",
    "ClassificationMetrics",
    "Difference",
    "Estimate",
    "RegressionData",
    "RegressionMetrics",
    "SliceReport",
    "evaluate",
    "prepare_classification",
    "prepare_regression",
    "slice_report",
    "wilson_interval",
]

CONFIDENCE = 0.95
"""Confidence level of every interval this module reports."""

_Z = float(special.ndtri(0.5 + 0.5 * CONFIDENCE))  # 1.959963984540054
_NAN = float("nan")
_EPS = float(np.finfo(np.float64).eps)
_FISHER_BELOW = 5.0  # smallest expected cell count for which the z-test is used

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval; ``low``/``high`` are nan when undefined (e.g. n == 0)."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe form: ``{"value": ..., "low": ..., "high": ...}``, None for nan."""
        return {
            "value": _json_float(self.value),
            "low": _json_float(self.low),
            "high": _json_float(self.high),
        }


_NAN_ESTIMATE = Estimate(_NAN, _NAN, _NAN)


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class (scikit-learn, ``zero_division=0``).

    ``support`` counts rows labelled with the class, ``n_predicted`` rows predicted
    as it; a class with both 0 is absent from the rows and left out of macro averages.
    """

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    n_predicted: int


class _NamedMetrics:
    """Lookup by name and JSON form, shared by the classification and regression metrics.

    ``value("macro_f1")``, ``value("recall[cat]")``; for regression ``"error_rate"`` is
    an alias of ``"over_threshold"``. Unknown names raise ValueError listing the valid ones.
    """

    def _values(self) -> dict[str, float]:
        raise NotImplementedError

    def metric_names(self) -> tuple[str, ...]:
        """Names accepted by :meth:`value` for this object."""
        return tuple(self._values())

    def value(self, name: str) -> float:
        """One metric by name; ValueError if unknown."""
        return _lookup(self._values(), name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (plain floats and ints, None for nan)."""
        return _jsonable(self)


@dataclass(frozen=True)
class ClassificationMetrics(_NamedMetrics):
    """Classification metrics of a set of rows; see the module docstring for definitions.

    ``log_loss``, ``brier`` and ``ece`` are None when the data has no probabilities
    and nan when it has but the rows are empty.
    """

    n: int
    share: float
    n_errors: int
    error_rate: Estimate
    accuracy: float
    per_class: tuple[ClassScores, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    log_loss: float | None
    brier: float | None
    ece: float | None

    def _values(self) -> dict[str, float]:
        values = {
            "n": float(self.n),
            "share": self.share,
            "n_errors": float(self.n_errors),
            "error_rate": self.error_rate.value,
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
        }
        optional = {"log_loss": self.log_loss, "brier": self.brier, "ece": self.ece}
        values.update({k: v for k, v in optional.items() if v is not None})
        for scores in self.per_class:
            values[f"precision[{scores.name}]"] = scores.precision
            values[f"recall[{scores.name}]"] = scores.recall
            values[f"f1[{scores.name}]"] = scores.f1
        return values


@dataclass(frozen=True)
class RegressionMetrics(_NamedMetrics):
    """Regression metrics of a set of rows; see the module docstring for definitions.

    ``bias`` is ``mean(y_pred - y_true)``: positive means the model over-predicts.
    ``r2`` is nan with fewer than 2 rows or when ``y_true`` is constant on them
    (scikit-learn would report 0.0 or 1.0 there). ``over_threshold`` is the share of
    rows with ``|residual| > threshold`` (the regression error rate), Wilson interval.
    """

    n: int
    share: float
    n_errors: int
    mae: Estimate
    rmse: Estimate
    bias: Estimate
    r2: float
    over_threshold: Estimate
    threshold: float

    @property
    def error_rate(self) -> Estimate:
        """The regression error rate: an alias of :attr:`over_threshold`."""
        return self.over_threshold

    def _values(self) -> dict[str, float]:
        return {
            "n": float(self.n),
            "share": self.share,
            "n_errors": float(self.n_errors),
            "mae": self.mae.value,
            "rmse": self.rmse.value,
            "bias": self.bias.value,
            "r2": self.r2,
            "over_threshold": self.over_threshold.value,
            "error_rate": self.over_threshold.value,
        }


@dataclass(frozen=True)
class Difference:
    """Slice versus rest.

    ``error_rate_diff``: slice error rate minus rest error rate, with Newcombe's
    hybrid score interval (method 10, Newcombe 1998).
    ``p_value``: two-sided test of equal error rates; Fisher's exact test when an
    expected cell count of the 2x2 table is below 5, else the pooled two-proportion
    z-test. nan when the slice or the rest is empty.
    ``lift``: slice error rate / overall error rate (nan when either is undefined or 0/0).
    """

    error_rate_diff: Estimate
    p_value: float
    lift: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return _jsonable(self)


M = TypeVar("M", ClassificationMetrics, RegressionMetrics)


@dataclass(frozen=True)
class SliceReport(Generic[M]):
    """Metrics of a slice, of the rows outside it and of all rows, and their difference."""

    slice: M
    rest: M
    overall: M
    difference: Difference

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with keys slice, rest, overall, difference."""
        return _jsonable(self)


# --------------------------------------------------------------------------- intervals


def wilson_interval(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (no continuity correction).

    Same numbers as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``;
    ``(nan, nan)`` when ``n == 0``. The interval always contains ``k / n``.
    """
    k, n = operator.index(k), operator.index(n)
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if n == 0:
        return _NAN, _NAN
    z = float(special.ndtri(0.5 + 0.5 * confidence))
    p = k / n
    denom = 2.0 * (n + z * z)
    center = (2.0 * n * p + z * z) / denom
    delta = z / denom * math.sqrt(4.0 * n * p * (1.0 - p) + z * z)
    low = 0.0 if k == 0 else min(center - delta, p)
    high = 1.0 if k == n else max(center + delta, p)
    return max(low, 0.0), min(high, 1.0)


def _proportion(k: int, n: int) -> Estimate:
    if n == 0:
        return _NAN_ESTIMATE
    low, high = wilson_interval(k, n, confidence=CONFIDENCE)
    return Estimate(k / n, low, high)


def _newcombe_difference(k1: int, n1: int, k2: int, n2: int) -> Estimate:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score interval."""
    if n1 == 0 or n2 == 0:
        return _NAN_ESTIMATE
    p1, p2 = k1 / n1, k2 / n2
    low1, high1 = wilson_interval(k1, n1, confidence=CONFIDENCE)
    low2, high2 = wilson_interval(k2, n2, confidence=CONFIDENCE)
    diff = p1 - p2
    low = diff - math.hypot(p1 - low1, high2 - p2)
    high = diff + math.hypot(high1 - p1, p2 - low2)
    return Estimate(diff, low, high)


def _two_proportion_p_value(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of equal proportions; Fisher exact on small expected counts."""
    if n1 == 0 or n2 == 0:
        return _NAN
    pooled = (k1 + k2) / (n1 + n2)
    if min(n1, n2) * min(pooled, 1.0 - pooled) < _FISHER_BELOW:
        table = [[k1, n1 - k1], [k2, n2 - k2]]
        return min(float(stats.fisher_exact(table).pvalue), 1.0)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = (k1 / n1 - k2 / n2) / se
    return float(2.0 * special.ndtr(-abs(z)))


def _mean_estimate(total: float, total_sq: float, n: int) -> Estimate:
    """Mean of n values from their sum and sum of squares, normal 95% interval."""
    if n == 0:
        return _NAN_ESTIMATE
    mean = total / n
    if n < 2:
        return Estimate(mean, _NAN, _NAN)
    variance = max((total_sq - total * mean) / (n - 1), 0.0)
    half = _Z * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half)


# --------------------------------------------------------------------------- sums


class _Summable:
    """Dataclass mixin: field-wise subtraction (totals minus one side = the other side)."""

    def __sub__(self, other: Self) -> Self:
        assert is_dataclass(self)  # subclasses are dataclasses; narrows the type for mypy
        diffs = {f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        return type(self)(**diffs)


@dataclass(frozen=True, eq=False)
class _ClassSums(_Summable):
    n: int
    true_counts: IntArray  # (K, 2): rows by label and [wrong, right]
    pred_counts: IntArray  # (K, B, 2): rows by prediction, calibration bin, argmax hit
    confidence: FloatArray  # (K, B, 2): sum of confidence over the same cells
    log_loss: float
    brier: float


@dataclass(frozen=True, eq=False)
class _RegressionSums(_Summable):
    n: int
    n_errors: int
    residual: float
    abs_residual: float
    sq_residual: float
    quad_residual: float  # sum of residual**4, for the MSE interval
    centred: float  # sum of y_true - overall mean
    sq_centred: float


@dataclass(frozen=True, eq=False)
class _ClassCodes:
    """Per-row codes and terms that the sums reduce over."""

    n_classes: int
    n_bins: int
    true_code: IntArray  # y_true * 2 + correct
    pred_code: IntArray  # (y_pred * n_bins + bin) * 2 + argmax_hit
    terms: FloatArray | None  # (3, n): confidence, log loss, Brier


def _class_sums(codes: _ClassCodes, idx: IntArray | None) -> _ClassSums:
    """Sums over rows ``idx`` (all rows when None)."""
    true_code = codes.true_code if idx is None else codes.true_code.take(idx)
    pred_code = codes.pred_code if idx is None else codes.pred_code.take(idx)
    k, b = codes.n_classes, codes.n_bins
    true_counts = np.bincount(true_code, minlength=2 * k).reshape(k, 2)
    pred_counts = np.bincount(pred_code, minlength=2 * k * b).reshape(k, b, 2)
    if codes.terms is None:
        return _ClassSums(true_code.size, true_counts, pred_counts, np.zeros((k, b, 2)), 0.0, 0.0)
    terms = codes.terms if idx is None else codes.terms.take(idx, axis=1)
    conf = np.bincount(pred_code, weights=terms[0], minlength=2 * k * b).astype(np.float64)
    conf = conf.reshape(k, b, 2)
    loss, brier = terms[1].sum(), terms[2].sum()
    return _ClassSums(true_code.size, true_counts, pred_counts, conf, float(loss), float(brier))


def _regression_sums(
    columns: FloatArray, is_error: BoolArray, idx: IntArray | None
) -> _RegressionSums:
    """Sums over rows ``idx`` (all rows when None); ``columns`` is (6, n)."""
    if idx is not None:
        columns, is_error = columns.take(idx, axis=1), is_error.take(idx)
    moments = [float(m) for m in columns.sum(axis=1)]
    return _RegressionSums(columns.shape[1], int(np.count_nonzero(is_error)), *moments)


def _split_indices(mask: BoolArray) -> tuple[IntArray, bool]:
    """Row positions of the smaller side of ``mask`` and whether that side is the complement."""
    inside = int(np.count_nonzero(mask))
    if 2 * inside <= mask.size:
        return np.flatnonzero(mask), False
    return np.flatnonzero(~mask), True


# --------------------------------------------------------------------------- prepared data


@dataclass(frozen=True, eq=False)
class ClassificationData:
    """A classification table prepared for fast per-slice metrics (``prepare_classification``).

    Per-row arrays are read-only. ``is_error`` is ``y_pred != y_true``; ``confidence``
    (max probability), ``log_loss_terms``, ``brier_terms`` and ``calibration_bin`` are
    None without probabilities. The fields starting with ``_`` are internal.
    """

    classes: tuple[str, ...]
    y_true: IntArray
    y_pred: IntArray
    is_error: BoolArray
    confidence: FloatArray | None
    log_loss_terms: FloatArray | None
    brier_terms: FloatArray | None
    calibration_bin: IntArray | None
    n_bins: int
    _codes: _ClassCodes = field(repr=False)
    _totals: _ClassSums = field(repr=False)
    _overall: ClassificationMetrics = field(repr=False)

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.y_true.size)

    @property
    def has_probabilities(self) -> bool:
        """Whether log loss, Brier and ECE are available."""
        return self.confidence is not None


@dataclass(frozen=True, eq=False)
class RegressionData:
    """A regression table prepared for fast per-slice metrics (``prepare_regression``).

    ``residual = y_pred - y_true``; ``is_error`` is ``abs_residual > threshold``.
    Per-row arrays are read-only. The fields starting with ``_`` are internal.
    """

    y_true: FloatArray
    y_pred: FloatArray
    residual: FloatArray
    abs_residual: FloatArray
    is_error: BoolArray
    threshold: float
    _columns: FloatArray = field(repr=False)
    _totals: _RegressionSums = field(repr=False)
    _overall: RegressionMetrics = field(repr=False)

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.y_true.size)


def prepare_classification(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    classes: Sequence[str],
    pred_probs: npt.ArrayLike | None = None,
    n_bins: int = 10,
) -> ClassificationData:
    """Integer-code a classification table and precompute its per-row terms, once per dataset.

    ``y_true`` and ``y_pred`` hold integer codes ``0..K-1`` into ``classes`` (display
    names, unique). ``pred_probs`` is ``(n, K)`` with rows summing to 1 (a warning
    names rows that do not); for binary data (``K == 2``, positive class
    ``classes[1]``) a 1-D array of positive-class probabilities is accepted too.
    ``n_bins`` equal-width confidence bins are used for ECE.
    """
    names = _check_classes(classes)
    k = len(names)
    true = _as_codes(y_true, name="y_true", n_classes=k)
    pred = _as_codes(y_pred, name="y_pred", n_classes=k)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    if operator.index(n_bins) < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    correct = true == pred
    if pred_probs is None:
        bins, hits, terms, n_bins = np.zeros_like(true), np.zeros_like(correct), None, 1
    else:
        probs = _as_probs(pred_probs, n_rows=true.size, n_classes=k)
        bins, hits, terms = _probability_terms(probs, true, n_bins=n_bins)
        terms = _frozen(terms)
    codes = _ClassCodes(
        k, n_bins, _frozen(true * 2 + correct), _frozen((pred * n_bins + bins) * 2 + hits), terms
    )
    totals = _class_sums(codes, None)
    overall = _classification_metrics(
        totals, classes=names, n_total=true.size, with_probs=terms is not None
    )
    return ClassificationData(
        classes=names,
        y_true=_frozen(true),
        y_pred=_frozen(pred),
        is_error=_frozen(~correct),
        confidence=None if terms is None else terms[0],
        log_loss_terms=None if terms is None else terms[1],
        brier_terms=None if terms is None else terms[2],
        calibration_bin=None if terms is None else _frozen(bins),
        n_bins=n_bins,
        _codes=codes,
        _totals=totals,
        _overall=overall,
    )


def prepare_regression(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    threshold: float | None = None,
) -> RegressionData:
    """Precompute residual terms of a regression table, once per dataset.

    ``threshold`` is the error threshold on ``|y_pred - y_true|`` (an error is strictly
    above it); by default the 90th percentile of ``|residual|`` (``np.quantile``,
    linear interpolation), so about 10% of rows count as errors.
    """
    true = _as_float(y_true, name="y_true")
    pred = _as_float(y_pred, name="y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    residual = pred - true
    abs_residual = np.abs(residual)
    limit = _regression_threshold(abs_residual, threshold)
    centred = true - (true.mean() if true.size else 0.0)
    sq = residual * residual
    columns = _frozen(np.stack([residual, abs_residual, sq, sq * sq, centred, centred * centred]))
    is_error = _frozen(abs_residual > limit)
    totals = _regression_sums(columns, is_error, None)
    return RegressionData(
        y_true=_frozen(true),
        y_pred=_frozen(pred),
        residual=columns[0],
        abs_residual=columns[1],
        is_error=is_error,
        threshold=limit,
        _columns=columns,
        _totals=totals,
        _overall=_regression_metrics(totals, n_total=true.size, threshold=limit),
    )


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    names = tuple(str(c) for c in classes)
    if not names:
        raise ValueError("classes is empty; pass the display name of every class code")
    duplicates = sorted({c for c in names if names.count(c) > 1})
    if duplicates:
        raise ValueError(f"class names must be unique, got duplicates {duplicates}")
    return names


def _as_codes(values: npt.ArrayLike, *, name: str, n_classes: int) -> IntArray:
    codes = np.asarray(values)
    if codes.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {codes.shape}")
    if codes.dtype.kind not in "iub":
        raise ValueError(
            f"{name} must hold integer class codes 0..{n_classes - 1}, got dtype {codes.dtype}"
        )
    bad = np.flatnonzero((codes < 0) | (codes >= n_classes))
    if bad.size:
        raise ValueError(
            f"{name} must hold class codes 0..{n_classes - 1}; {bad.size} rows do not "
            f"(first at position {bad[0]}: {codes[bad[0]]})"
        )
    return codes.astype(np.intp)


def _as_probs(pred_probs: npt.ArrayLike, *, n_rows: int, n_classes: int) -> FloatArray:
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim == 1 and n_classes == 2:
        probs = np.column_stack([1.0 - probs, probs])
    if probs.shape != (n_rows, n_classes):
        raise ValueError(
            f"pred_probs must have shape ({n_rows}, {n_classes}) (rows, classes), got {probs.shape}"
        )
    outside = np.flatnonzero(~((probs >= 0.0) & (probs <= 1.0)).all(axis=1))
    if outside.size:
        raise ValueError(
            f"pred_probs must lie in [0, 1]; {outside.size} rows do not "
            f"(first at position {outside[0]}: {probs[outside[0]].tolist()})"
        )
    off = np.abs(probs.sum(axis=1) - 1.0)
    if off.size and off.max() > 1e-6:
        warnings.warn(
            f"pred_probs: {np.count_nonzero(off > 1e-6)} rows do not sum to 1 (off by up to "
            f"{off.max():.3g}); log loss, Brier and ECE use them as given",
            UserWarning,
            stacklevel=3,
        )
    return probs


def _probability_terms(
    probs: FloatArray, y_true: IntArray, *, n_bins: int
) -> tuple[IntArray, BoolArray, FloatArray]:
    """Calibration bin, argmax hit and the (3, n) terms confidence, log loss, Brier."""
    rows = np.arange(y_true.size)
    p_true = probs[rows, y_true]
    loss = -np.log(np.clip(p_true, _EPS, 1.0 - _EPS))
    if probs.shape[1] == 2:
        brier = (probs[:, 1] - (y_true == 1)) ** 2
    else:
        gap = probs.copy()
        gap[rows, y_true] -= 1.0
        brier = np.einsum("ij,ij->i", gap, gap)
    confidence = probs.max(axis=1)
    hits = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="right").astype(np.intp)
    return bins, hits, np.stack([confidence, loss, brier])


def _as_float(values: npt.ArrayLike, *, name: str) -> FloatArray:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "iufb":
        raise ValueError(f"{name} must be a 1-D numeric array, got {array.dtype} {array.shape}")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(
            f"{name} must be finite; {bad.size} rows are not (first at position {bad[0]})"
        )
    return array


def _regression_threshold(abs_residual: FloatArray, threshold: float | None) -> float:
    if threshold is None:
        if abs_residual.size == 0:
            raise ValueError("no rows to take a default threshold from; pass threshold=")
        return float(np.quantile(abs_residual, 0.9))
    limit = float(threshold)
    if not (math.isfinite(limit) and limit >= 0.0):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold}")
    return limit


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# --------------------------------------------------------------------------- metrics from sums


def _ratio(num: np.ndarray, den: np.ndarray) -> FloatArray:
    """Element-wise ``num / den`` with 0 where ``den == 0`` (scikit-learn's zero_division=0)."""
    out = np.zeros(np.shape(num), dtype=np.float64)
    return np.divide(num, den, out=out, where=den > 0)


def _classification_metrics(
    sums: _ClassSums, *, classes: tuple[str, ...], n_total: int, with_probs: bool
) -> ClassificationMetrics:
    n = sums.n
    tp, support = sums.true_counts[:, 1], sums.true_counts.sum(axis=1)
    predicted = sums.pred_counts.sum(axis=(1, 2))
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    present = (support + predicted) > 0
    per_class = tuple(
        ClassScores(name, float(p), float(r), float(f), int(s), int(q))
        for name, p, r, f, s, q in zip(
            classes, precision, recall, f1, support, predicted, strict=True
        )
    )
    n_errors = n - int(tp.sum())
    return ClassificationMetrics(
        n=n,
        share=n / n_total if n_total else _NAN,
        n_errors=n_errors,
        error_rate=_proportion(n_errors, n),
        accuracy=1.0 - n_errors / n if n else _NAN,
        per_class=per_class,
        macro_precision=_masked_mean(precision, present),
        macro_recall=_masked_mean(recall, present),
        macro_f1=_masked_mean(f1, present),
        log_loss=_mean_or_none(sums.log_loss, n, with_probs),
        brier=_mean_or_none(sums.brier, n, with_probs),
        ece=_ece(sums) if with_probs else None,
    )


def _masked_mean(values: FloatArray, keep: BoolArray) -> float:
    count = int(np.count_nonzero(keep))
    return float(values[keep].sum() / count) if count else _NAN


def _mean_or_none(total: float, n: int, with_probs: bool) -> float | None:
    if not with_probs:
        return None
    return total / n if n else _NAN


def _ece(sums: _ClassSums) -> float:
    """Top-label expected calibration error from per-bin counts, hits and confidence sums."""
    if sums.n == 0:
        return _NAN
    counts = sums.pred_counts.sum(axis=(0, 2))
    hits = sums.pred_counts[:, :, 1].sum(axis=0)
    confidence = sums.confidence.sum(axis=(0, 2))
    gaps = np.where(counts > 0, np.abs(hits - confidence), 0.0)
    return float(gaps.sum() / sums.n)


def _regression_metrics(
    sums: _RegressionSums, *, n_total: int, threshold: float
) -> RegressionMetrics:
    n = sums.n
    mse = _mean_estimate(sums.sq_residual, sums.quad_residual, n)
    return RegressionMetrics(
        n=n,
        share=n / n_total if n_total else _NAN,
        n_errors=sums.n_errors,
        mae=_mean_estimate(sums.abs_residual, sums.sq_residual, n),
        rmse=Estimate(_sqrt(mse.value), _sqrt(mse.low), _sqrt(mse.high)),
        bias=_mean_estimate(sums.residual, sums.sq_residual, n),
        r2=_r2(sums),
        over_threshold=_proportion(sums.n_errors, n),
        threshold=threshold,
    )


def _sqrt(value: float) -> float:
    """Square root clipped at 0; nan stays nan."""
    return 0.0 if value < 0.0 else math.sqrt(value)


def _r2(sums: _RegressionSums) -> float:
    if sums.n < 2:
        return _NAN
    ss_tot = sums.sq_centred - sums.centred * sums.centred / sums.n
    if ss_tot <= 1e-12 * sums.sq_centred:  # constant y_true, up to rounding
        return _NAN
    return 1.0 - sums.sq_residual / ss_tot


# --------------------------------------------------------------------------- public entry points


@overload
def evaluate(
    data: ClassificationData, mask: npt.ArrayLike | None = None
) -> ClassificationMetrics: ...
@overload
def evaluate(data: RegressionData, mask: npt.ArrayLike | None = None) -> RegressionMetrics: ...
def evaluate(
    data: ClassificationData | RegressionData, mask: npt.ArrayLike | None = None
) -> ClassificationMetrics | RegressionMetrics:
    """Metrics of the rows where ``mask`` is True (all rows when None); never raises on n == 0."""
    _check_data(data)
    if mask is None:
        return data._overall
    return _split(data, _as_mask(mask, data.n_samples))[0]


@overload
def slice_report(
    data: ClassificationData, mask: npt.ArrayLike
) -> SliceReport[ClassificationMetrics]: ...
@overload
def slice_report(data: RegressionData, mask: npt.ArrayLike) -> SliceReport[RegressionMetrics]: ...
def slice_report(
    data: ClassificationData | RegressionData, mask: npt.ArrayLike
) -> SliceReport[ClassificationMetrics] | SliceReport[RegressionMetrics]:
    """Slice (rows where ``mask`` is True) versus rest versus all rows, and their difference.

    The error is ``y_pred != y_true`` for classification and ``|residual| > threshold``
    for regression. Costs one gather over the smaller side of the mask.
    """
    _check_data(data)
    checked = _as_mask(mask, data.n_samples)
    if isinstance(data, ClassificationData):  # same call twice: one per type, for mypy
        return _report(*_split(data, checked), data._overall)
    return _report(*_split(data, checked), data._overall)


def _check_data(data: object) -> None:
    if not isinstance(data, ClassificationData | RegressionData):
        raise TypeError(
            f"expected data from prepare_classification/prepare_regression, "
            f"got {type(data).__name__}"
        )


def _report(inside: M, outside: M, overall: M) -> SliceReport[M]:
    k1, n1, k2, n2 = inside.n_errors, inside.n, outside.n_errors, outside.n
    base = _error_rate(overall)
    difference = Difference(
        error_rate_diff=_newcombe_difference(k1, n1, k2, n2),
        p_value=_two_proportion_p_value(k1, n1, k2, n2),
        lift=_error_rate(inside) / base if base > 0.0 else _NAN,
    )
    return SliceReport(inside, outside, overall, difference)


def _error_rate(metrics: ClassificationMetrics | RegressionMetrics) -> float:
    if isinstance(metrics, ClassificationMetrics):
        return metrics.error_rate.value
    return metrics.over_threshold.value


@overload
def _split(
    data: ClassificationData, mask: BoolArray
) -> tuple[ClassificationMetrics, ClassificationMetrics]: ...
@overload
def _split(
    data: RegressionData, mask: BoolArray
) -> tuple[RegressionMetrics, RegressionMetrics]: ...
def _split(
    data: ClassificationData | RegressionData, mask: BoolArray
) -> (
    tuple[ClassificationMetrics, ClassificationMetrics]
    | tuple[RegressionMetrics, RegressionMetrics]
):
    """Metrics inside and outside ``mask`` from one gather over its smaller side.

    That side's sums are computed directly and the other side's as totals minus them,
    so a tiny slice or a tiny rest is summed exactly, without cancellation.
    """
    idx, is_complement = _split_indices(mask)
    if isinstance(data, ClassificationData):
        part = _class_sums(data._codes, idx)
        rest = data._totals - part
        inside, outside = (rest, part) if is_complement else (part, rest)
        return _classification_metrics_of(data, inside), _classification_metrics_of(data, outside)
    rpart = _regression_sums(data._columns, data.is_error, idx)
    rrest = data._totals - rpart
    rin, rout = (rrest, rpart) if is_complement else (rpart, rrest)
    return _regression_metrics_of(data, rin), _regression_metrics_of(data, rout)


def _classification_metrics_of(data: ClassificationData, sums: _ClassSums) -> ClassificationMetrics:
    return _classification_metrics(
        sums, classes=data.classes, n_total=data.n_samples, with_probs=data.has_probabilities
    )


def _regression_metrics_of(data: RegressionData, sums: _RegressionSums) -> RegressionMetrics:
    return _regression_metrics(sums, n_total=data.n_samples, threshold=data.threshold)


def _as_mask(mask: npt.ArrayLike, n_rows: int) -> BoolArray:
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        raise ValueError(f"mask must be a boolean array, got dtype {array.dtype}")
    if array.shape != (n_rows,):
        raise ValueError(f"mask must have shape ({n_rows},) like the data, got {array.shape}")
    return array


# --------------------------------------------------------------------------- JSON helpers


def _lookup(values: dict[str, float], name: str) -> float:
    try:
        return values[name]
    except KeyError:
        known = ", ".join(values)
        raise ValueError(f"unknown metric {name!r}; valid names here: {known}") from None


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, nan/inf to None, numpy scalars to Python."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _json_float(value)
    return value
