"""Tests of mlqa_debug.stats.intervals against scipy and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlqa_debug.stats import (
    ClassificationData,
    prepare_classification,
    slice_report,
    wilson_interval,
)
from tests.stats.helpers import (
    Z95,
)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775327998628893),  # Newcombe 1998: 0/10 -> 0 to 0.2775
        (5, 10, 0.2365930905125640, 0.7634069094874361),  # 0.2366 to 0.7634
        (10, 10, 0.7224672001371107, 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe 1998, Table I example: 81/263
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=1e-4 if k == 81 else 1e-12)
    assert _wilson_formula(k, n) == pytest.approx(got, abs=1e-12)


def _wilson_formula(k: int, n: int) -> tuple[float, float]:
    p = k / n
    center = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return center - half, center + half


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (3, 7), (1, 1000), (999, 1000), (20, 50)])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float) -> None:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    got = wilson_interval(k, n, confidence=confidence)
    assert got == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_empty_is_nan() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


@pytest.mark.parametrize(
    ("k", "n", "confidence", "match"),
    [(3, 2, 0.95, "0 <= k <= n"), (-1, 2, 0.95, "0 <= k <= n"), (1, 2, 1.0, "strictly between")],
)
def test_wilson_rejects_bad_arguments(k: int, n: int, confidence: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        wilson_interval(k, n, confidence=confidence)


def _two_group_data(k1: int, n1: int, k2: int, n2: int) -> tuple[ClassificationData, np.ndarray]:
    """Classification data whose first n1 rows (the slice) hold k1 errors, the rest k2."""
    errors = np.r_[np.arange(n1) < k1, np.arange(n2) < k2]
    y_true = np.zeros(n1 + n2, dtype=np.int64)
    data = prepare_classification(y_true, errors.astype(np.int64), classes=["ok", "bad"])
    return data, np.arange(n1 + n2) < n1


@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [  # Newcombe (1998), Table II, method 10 (hybrid score, no continuity correction)
        ((56, 70, 48, 80), 0.0524, 0.3339),
        ((9, 10, 3, 10), 0.1705, 0.8090),
        ((6, 7, 2, 7), 0.0582, 0.8062),
        ((5, 56, 0, 29), -0.0381, 0.1926),
        ((0, 10, 0, 20), -0.1611, 0.2775),
        ((10, 10, 0, 20), 0.6791, 1.0000),
    ],
)
def test_difference_interval_matches_newcombe(
    counts: tuple[int, int, int, int], low: float, high: float
) -> None:
    k1, n1, k2, n2 = counts
    diff = slice_report(*_two_group_data(k1, n1, k2, n2)).difference.error_rate_diff
    assert diff.value == pytest.approx(k1 / n1 - k2 / n2)
    assert (diff.low, diff.high) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("counts", [(30, 100, 200, 1000), (400, 500, 300, 700), (50, 60, 10, 40)])
def test_p_value_is_z_test_on_large_counts(counts: tuple[int, int, int, int]) -> None:
    k1, n1, k2, n2 = counts
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    want = stats.chi2_contingency(table, correction=False).pvalue  # == two-sided pooled z-test
    assert slice_report(*_two_group_data(*counts)).difference.p_value == pytest.approx(want)


@pytest.mark.parametrize("counts", [(2, 5, 1, 40), (0, 3, 10, 20), (3, 3, 0, 900), (1, 500, 0, 4)])
def test_p_value_is_fisher_on_small_expected_counts(counts: tuple[int, int, int, int]) -> None:
    k1, n1, k2, n2 = counts
    want = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
    assert slice_report(*_two_group_data(*counts)).difference.p_value == pytest.approx(want)


def test_lift_is_slice_rate_over_overall_rate() -> None:
    report = slice_report(*_two_group_data(30, 100, 20, 300))
    assert report.difference.lift == pytest.approx(0.3 / (50 / 400))
    assert report.overall.error_rate.value == pytest.approx(50 / 400)


def test_lift_nan_when_no_errors_at_all() -> None:
    report = slice_report(*_two_group_data(0, 10, 0, 30))
    assert math.isnan(report.difference.lift) and report.difference.p_value == 1.0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**7).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_point_estimate(kn: tuple[int, int]) -> None:
    k, n = kn
    low, high = wilson_interval(k, n)
    if n == 0:
        assert math.isnan(low) and math.isnan(high)
    else:
        assert 0.0 <= low <= k / n <= high <= 1.0
