"""Tests of mlqa_debug.stats.regression against scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    mean_absolute_error,
    r2_score,
    root_mean_squared_error,
)

from mlqa_debug.stats import (
    evaluate,
    prepare_regression,
    slice_report,
)
from tests.stats.helpers import (
    MASK_KINDS,
    Z95,
    assert_difference_is_sane,
    assert_estimate_contains_value,
    make_mask,
    no_warnings,
)


@pytest.fixture
def regression_table(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Large offset and skewed errors, so centring and cancellation matter."""
    y_true = rng.normal(5_000.0, 30.0, 500)
    y_pred = y_true + rng.gamma(2.0, 3.0, 500) - 4.0
    return y_true, y_pred


def _mean_interval(values: np.ndarray) -> tuple[float, float]:
    half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_regression_matches_sklearn(
    regression_table: tuple[np.ndarray, np.ndarray], kind: str, rng: np.random.Generator
) -> None:
    y_true_all, y_pred_all = regression_table
    data = prepare_regression(y_true_all, y_pred_all, threshold=6.0)
    mask = make_mask(kind, data.n_samples, rng)
    got = evaluate(data, mask)
    y_true, y_pred = y_true_all[mask], y_pred_all[mask]
    assert (got.n, got.threshold) == (mask.sum(), 6.0)
    if got.n == 0:
        assert math.isnan(got.mae.value) and math.isnan(got.r2)
        return
    residual = y_pred - y_true
    assert got.mae.value == pytest.approx(mean_absolute_error(y_true, y_pred))
    assert got.rmse.value == pytest.approx(root_mean_squared_error(y_true, y_pred))
    assert got.bias.value == pytest.approx(residual.mean())
    over = np.abs(residual) > 6.0
    assert (got.n_errors, got.over_threshold.value) == (over.sum(), pytest.approx(over.mean()))
    if got.n == 1:
        assert math.isnan(got.r2) and math.isnan(got.mae.low) and math.isnan(got.rmse.high)
        return
    assert got.r2 == pytest.approx(r2_score(y_true, y_pred), rel=1e-9)
    assert (got.mae.low, got.mae.high) == pytest.approx(_mean_interval(np.abs(residual)))
    assert (got.bias.low, got.bias.high) == pytest.approx(_mean_interval(residual))
    mse_low, mse_high = _mean_interval(residual**2)
    assert got.rmse.low == pytest.approx(math.sqrt(max(mse_low, 0.0)))
    assert got.rmse.high == pytest.approx(math.sqrt(mse_high))


def test_regression_default_threshold_is_90th_percentile(
    regression_table: tuple[np.ndarray, np.ndarray],
) -> None:
    y_true, y_pred = regression_table
    data = prepare_regression(y_true, y_pred)
    assert data.threshold == pytest.approx(np.quantile(np.abs(y_pred - y_true), 0.9))
    assert evaluate(data).value("error_rate") == pytest.approx(0.1, abs=0.002)
    assert data.residual.tolist() == pytest.approx((y_pred - y_true).tolist())


def test_regression_bias_sign_is_prediction_minus_truth() -> None:
    data = prepare_regression([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], threshold=0.5)
    metrics = evaluate(data)
    assert metrics.value("bias") == 1.0
    assert metrics.value("over_threshold") == metrics.value("error_rate") == 1.0


def test_regression_r2_nan_on_constant_truth(rng: np.random.Generator) -> None:
    """A constant slice of most rows: its sums come as totals minus the rest, with rounding."""
    y_true = np.r_[np.full(17, 5000.1), rng.normal(0.0, 10.0, 16)]
    y_pred = y_true + rng.normal(0.0, 1.0, 33)
    data = prepare_regression(y_true, y_pred, threshold=1.0)
    mask = np.arange(33) < 17
    with no_warnings():
        constant = evaluate(data, mask)
    assert math.isnan(constant.r2)
    assert constant.mae.value == pytest.approx(np.abs(y_pred - y_true)[mask].mean())
    assert evaluate(data, ~mask).r2 == pytest.approx(r2_score(y_true[~mask], y_pred[~mask]))


def test_regression_rmse_interval_clipped_at_zero() -> None:
    data = prepare_regression([0.0, 0.0, 0.0], [0.0, 0.0, 3.0], threshold=1.0)
    rmse = evaluate(data).rmse
    assert rmse.low == 0.0 and rmse.value == pytest.approx(math.sqrt(3.0))


def test_regression_empty_slice_without_warnings(
    regression_table: tuple[np.ndarray, np.ndarray],
) -> None:
    data = prepare_regression(*regression_table)
    with no_warnings():
        report = slice_report(data, np.zeros(data.n_samples, dtype=bool))
    assert report.slice.n == 0 and math.isnan(report.slice.rmse.value)
    assert report.rest == report.overall
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1.0, np.nan], [1.0, 2.0]), {}, "y_true must be finite; 1 rows"),
        (([1.0, 2.0], [1.0]), {}, "y_true has 2 rows but y_pred has 1"),
        ((["a", "b"], [1.0, 2.0]), {}, "y_true must be a 1-D numeric array"),
        (([1.0], [1.0]), {"threshold": -1.0}, "threshold must be a finite number >= 0"),
        (([], []), {}, "no rows to take a default threshold from"),
    ],
)
def test_prepare_regression_rejects_bad_input(
    args: tuple[list[object], list[object]], kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        prepare_regression(*args, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_regression_partition_and_intervals(rows: list[tuple[float, float, bool]]) -> None:
    y_true, y_pred, mask = (np.array(column) for column in zip(*rows, strict=True))
    data = prepare_regression(y_true, y_pred)
    with no_warnings():
        report = slice_report(data, mask.astype(bool))
    assert report.slice.n + report.rest.n == report.overall.n == len(rows)
    assert report.slice.n_errors + report.rest.n_errors == report.overall.n_errors
    assert_difference_is_sane(report.slice, report.rest, report.difference.p_value)
    for metrics in (report.slice, report.rest, report.overall):
        for estimate in (metrics.mae, metrics.rmse, metrics.bias, metrics.over_threshold):
            assert_estimate_contains_value(estimate)
