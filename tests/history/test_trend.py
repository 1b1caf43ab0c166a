"""The Mann-Kendall trend test against brute force and scipy, and on seeded series."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from mlqa_debug.history import ALPHA, mann_kendall, trend_of


def brute_s(x: list[float]) -> int:
    return sum((x[j] > x[i]) - (x[j] < x[i]) for i, j in itertools.combinations(range(len(x)), 2))


def brute_var(x: list[float]) -> float:
    n = len(x)
    ties = sum(t * (t - 1) * (2 * t + 5) for t in map(x.count, set(x)))
    return (n * (n - 1) * (2 * n + 5) - ties) / 18


@pytest.mark.parametrize("seed", range(20))
def test_s_and_variance_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = [float(v) for v in np.round(rng.normal(size=int(rng.integers(3, 30))), 1)]  # ties
    result = mann_kendall(x)
    assert result.s == brute_s(x)
    assert result.var_s == pytest.approx(brute_var(x))


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("ties", [False, True])
def test_p_value_matches_scipy_kendalltau(seed: int, ties: bool) -> None:
    """Without continuity correction MK is Kendall's tau against time (scipy, asymptotic)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=25) + np.linspace(0, rng.normal(), 25)
    if ties:
        x = np.round(x, 0)
    ours = mann_kendall(x, continuity=False)
    theirs = stats.kendalltau(np.arange(len(x)), x, method="asymptotic")
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-12)


def test_the_issue_example_is_degrading_while_passing() -> None:
    values = [0.09, 0.095, 0.101, 0.106, 0.112, 0.118]  # passes <= 0.12 every time
    result = trend_of(values, op="<=")
    assert result.trend == "degrading"
    assert result.test.p_value < 0.01
    assert trend_of(values, op=">=").trend == "improving"  # direction-aware
    assert trend_of([-v for v in values], op=">=").trend == "degrading"


def test_too_few_runs_are_stable() -> None:
    assert trend_of([0.1, 0.2, 0.3, 0.4], op="<=").trend == "stable"  # p = 0.089 at best
    assert trend_of([None, 0.1, math.nan], op="<=").runs == 1


def test_only_the_last_runs_count() -> None:
    old_rise = list(np.linspace(0.0, 1.0, 20))
    flat_recent = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0]
    assert trend_of(old_rise + flat_recent, op="<=", runs=10).trend == "stable"
    assert trend_of(old_rise + flat_recent, op="<=", runs=30).trend == "degrading"


def test_planted_slow_drift_is_flagged_and_flat_noise_is_not() -> None:
    """Over 200 seeds: a slow drift (0.0015/run, noise sd 0.002) is caught in most; flat
    noise is called a trend in about alpha of seeds (binomial bounds), degrading in about
    alpha / 2."""
    seeds = range(200)
    drift_hits = flat_trend = flat_degrading = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        noise = rng.normal(0, 0.002, 10)
        drift = trend_of(list(0.09 + 0.0015 * np.arange(10) + noise), op="<=")
        flat = trend_of(list(0.10 + rng.normal(0, 0.01, 10)), op="<=")
        drift_hits += drift.trend == "degrading"
        flat_trend += flat.trend != "stable"
        flat_degrading += flat.trend == "degrading"
    n = len(seeds)
    assert drift_hits / n > 0.9
    sd = math.sqrt(ALPHA * (1 - ALPHA) / n)
    assert flat_trend / n <= ALPHA + 3 * sd  # continuity correction: conservative
    assert flat_degrading / n <= ALPHA / 2 + 3 * math.sqrt(ALPHA / 2 / n)
    assert flat_trend > 0  # the test is not simply blind
