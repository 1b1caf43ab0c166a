"""Regression metrics of any set of rows, from residual terms prepared once per dataset.

:func:`prepare_regression` precomputes the residual powers and the centred
labels; :func:`~mlqa_debug.stats.evaluation.evaluate` then sums them over the
rows of a slice.

Definitions
-----------
``residual = y_pred - y_true`` (positive = over-prediction). An error is
``|residual| > threshold``. MAE and bias carry normal intervals
``mean ± z·sd/√n``; RMSE carries the normal interval of the MSE, clipped at 0
and square-rooted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlqa_debug.stats.intervals import mean_estimate, proportion_estimate
from mlqa_debug.stats.prepared import (
    NAN,
    BoolArray,
    FloatArray,
    IntArray,
    Prepared,
    Summable,
    frozen,
)
from mlqa_debug.stats.results import Estimate, RegressionMetrics

__all__ = ["RegressionData", "prepare_regression"]


@dataclass(frozen=True, eq=False)
class _RegressionSums(Summable):
    n: int
    n_errors: int
    residual: float
    abs_residual: float
    sq_residual: float
    quad_residual: float  # sum of residual**4, for the MSE interval
    centred: float  # sum of y_true - overall mean
    sq_centred: float


@dataclass(frozen=True, eq=False)
class RegressionData(Prepared[_RegressionSums, RegressionMetrics]):
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

    def _sums(self, idx: IntArray) -> _RegressionSums:
        return _regression_sums(self._columns, self.is_error, idx)

    def _metrics(self, sums: _RegressionSums) -> RegressionMetrics:
        return _regression_metrics(sums, n_total=self.n_samples, threshold=self.threshold)


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
    columns = frozen(np.stack([residual, abs_residual, sq, sq * sq, centred, centred * centred]))
    is_error = frozen(abs_residual > limit)
    totals = _regression_sums(columns, is_error, None)
    return RegressionData(
        y_true=frozen(true),
        y_pred=frozen(pred),
        residual=columns[0],
        abs_residual=columns[1],
        is_error=is_error,
        threshold=limit,
        _columns=columns,
        _totals=totals,
        _overall=_regression_metrics(totals, n_total=true.size, threshold=limit),
    )


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


def _regression_sums(
    columns: FloatArray, is_error: BoolArray, idx: IntArray | None
) -> _RegressionSums:
    """Sums over rows ``idx`` (all rows when None); ``columns`` is (6, n)."""
    if idx is not None:
        columns, is_error = columns.take(idx, axis=1), is_error.take(idx)
    moments = [float(m) for m in columns.sum(axis=1)]
    return _RegressionSums(columns.shape[1], int(np.count_nonzero(is_error)), *moments)


def _regression_metrics(
    sums: _RegressionSums, *, n_total: int, threshold: float
) -> RegressionMetrics:
    n = sums.n
    mse = mean_estimate(sums.sq_residual, sums.quad_residual, n)
    return RegressionMetrics(
        n=n,
        share=n / n_total if n_total else NAN,
        n_errors=sums.n_errors,
        mae=mean_estimate(sums.abs_residual, sums.sq_residual, n),
        rmse=Estimate(_sqrt(mse.value), _sqrt(mse.low), _sqrt(mse.high)),
        bias=mean_estimate(sums.residual, sums.sq_residual, n),
        r2=_r2(sums),
        over_threshold=proportion_estimate(sums.n_errors, n),
        threshold=threshold,
    )


def _sqrt(value: float) -> float:
    """Square root clipped at 0; nan stays nan."""
    return 0.0 if value < 0.0 else math.sqrt(value)


def _r2(sums: _RegressionSums) -> float:
    if sums.n < 2:
        return NAN
    ss_tot = sums.sq_centred - sums.centred * sums.centred / sums.n
    if ss_tot <= 1e-12 * sums.sq_centred:  # constant y_true, up to rounding
        return NAN
    return 1.0 - sums.sq_residual / ss_tot
