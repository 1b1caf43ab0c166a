"""Tests of mlqa_debug.stats.paired against scipy, published values, formulas and simulation."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlqa_debug.stats import (
    Estimate,
    mcnemar_exact,
    mcnemar_exact_many,
    multinomial_bootstrap,
    paired_mean_difference,
    paired_mean_difference_from_sums,
    paired_proportion_difference,
    paired_proportion_difference_many,
    rmse_difference,
    wilcoxon_p_value,
)

SLICES = 10_000


def _best_time(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _random_tables(rng: np.random.Generator, size: int) -> np.ndarray:
    """(4, size) cells (both, only_first, only_second, neither): zeros, small and large counts."""
    scale = rng.choice([0, 1, 5, 50, 5_000, 500_000], size=(4, size))
    cells = rng.integers(0, scale + 1)
    cells[:, :3] = 0  # empty tables
    cells[1:3, 3:6] = 0  # no discordant pair
    return cells


# McNemar


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000))
def test_mcnemar_matches_binomtest(broken: int, fixed: int) -> None:
    got = mcnemar_exact(broken, fixed)
    want = 1.0 if broken + fixed == 0 else stats.binomtest(broken, broken + fixed).pvalue
    # scipy's sum of pmf values underflows to 0 near 1e-290 (hypothesis found 1.03e-290 against
    # 0.0); bdtr keeps a few more digits, so both read as 0 below 1e-250
    assert got == pytest.approx(want, rel=1e-8, abs=1e-250)


def test_mcnemar_many_matches_binomtest_elementwise() -> None:
    rng = np.random.default_rng(11)
    _, b, c, _ = _random_tables(rng, 400)
    b[:20], c[:20] = rng.integers(0, 4, 20), rng.integers(0, 4, 20)  # tiny counts
    b[20:30], c[20:30] = 100_000 + rng.integers(0, 2_000, 10), 100_000  # large, near-balanced
    got = mcnemar_exact_many(b, c)
    want = [stats.binomtest(x, x + y).pvalue if x + y else 1.0 for x, y in zip(b, c, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-290)
    assert [mcnemar_exact(int(x), int(y)) for x, y in zip(b, c, strict=True)] == got.tolist()


def test_mcnemar_known_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 2 * 0.5**5
    assert mcnemar_exact(96, 52) == pytest.approx(3.7e-4, rel=0.02)  # loans_v2, unemployed slice
    assert mcnemar_exact(96, 52) == mcnemar_exact(52, 96)


def test_mcnemar_many_keeps_shape_and_rejects_bad_counts() -> None:
    assert mcnemar_exact_many(np.zeros((2, 3), int), np.ones((2, 3), int)).shape == (2, 3)
    assert mcnemar_exact_many([2.0], [7.0]) == pytest.approx([mcnemar_exact(2, 7)])
    with pytest.raises(ValueError, match="broken must be >= 0"):
        mcnemar_exact(-1, 3)
    with pytest.raises(ValueError, match="fixed must hold whole counts"):
        mcnemar_exact_many([1, 2], [0.5, 1])
    with pytest.raises(ValueError, match="same shape"):
        mcnemar_exact_many([1, 2], [1, 2, 3])


# Newcombe's paired interval


def _newcombe_reference(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> tuple:
    """Newcombe (1998) method 10 written out from the paper; scipy's Wilson intervals."""
    n = a + b + c + d

    def wilson(k: int) -> tuple[float, float]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        return ci.low, ci.high

    p1, p2 = (a + b) / n, (a + c) / n
    (l2, u2), (l3, u3) = wilson(a + b), wilson(a + c)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    ad_bc = a * d - b * c
    if margins == 0 or 0 <= ad_bc <= n / 2:
        phi = 0.0
    else:
        phi = (ad_bc - n / 2 if ad_bc > 0 else ad_bc) / math.sqrt(margins)
    delta = math.sqrt((p1 - l2) ** 2 - 2 * phi * (p1 - l2) * (u3 - p2) + (u3 - p2) ** 2)
    epsilon = math.sqrt((u2 - p1) ** 2 - 2 * phi * (u2 - p1) * (p2 - l3) + (p2 - l3) ** 2)
    return p1 - p2, p1 - p2 - delta, p1 - p2 + epsilon


def test_newcombe_published_example() -> None:
    # Cavo et al. (2012) data in Fagerland, Lydersen & Laake (2017), ch. 8, Newcombe
    # square-and-add: -0.0621 (95% CI -0.1186 to -0.0046).
    got = paired_proportion_difference(59, 6, 16, 80)
    assert (got.value, got.low, got.high) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def test_newcombe_paper_example() -> None:
    # Newcombe (1998), Table II example (a): cells 36, 12, 2, 0 -> method 10: 0.0569 to 0.3404
    got = paired_proportion_difference(36, 12, 2, 0)
    assert got.value == pytest.approx(0.2)
    assert (round(got.low, 4), round(got.high, 4)) == (0.0569, 0.3404)


@pytest.mark.parametrize(
    "table",
    [(12, 9, 2, 21), (14, 5, 0, 22), (1, 1, 7, 12), (59, 6, 16, 80), (0, 0, 0, 10), (10, 0, 0, 0),
     (0, 7, 0, 0), (0, 3, 4, 0), (3, 0, 0, 4), (500, 20, 45, 9000), (1, 0, 0, 1)],
)  # fmt: skip
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_newcombe_matches_formula(table: tuple[int, int, int, int], confidence: float) -> None:
    got = paired_proportion_difference(*table, confidence=confidence)
    want = _newcombe_reference(*table, confidence=confidence)
    assert (got.value, got.low, got.high) == pytest.approx(want, abs=1e-12)
    assert -1.0 <= got.low <= got.value <= got.high <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.tuples(*[st.integers(0, 400)] * 4).filter(lambda t: sum(t) > 0))
def test_newcombe_matches_formula_property(table: tuple[int, int, int, int]) -> None:
    got = paired_proportion_difference(*table)
    assert (got.value, got.low, got.high) == pytest.approx(_newcombe_reference(*table), abs=1e-12)


def test_newcombe_many_equals_scalar_elementwise() -> None:
    cells = _random_tables(np.random.default_rng(2), 500)
    diff, low, high = paired_proportion_difference_many(*cells, confidence=0.9)
    for i, table in enumerate(cells.T):
        one = paired_proportion_difference(*map(int, table), confidence=0.9)
        want = [one.value, one.low, one.high]
        np.testing.assert_allclose([diff[i], low[i], high[i]], want, rtol=1e-12, atol=1e-14)


def test_newcombe_empty_table_is_nan() -> None:
    assert all(math.isnan(v) for v in vars(paired_proportion_difference(0, 0, 0, 0)).values())
    diff, low, high = paired_proportion_difference_many([0, 3], [0, 1], [0, 1], [0, 3])
    assert (
        np.isnan([diff[0], low[0], high[0]]).all()
        and not np.isnan([diff[1], low[1], high[1]]).any()
    )


def test_newcombe_identical_models_centre_on_zero() -> None:
    got = paired_proportion_difference(30, 0, 0, 70)
    assert got.value == 0.0 and got.low < 0.0 < got.high


def test_newcombe_rejects_bad_cells() -> None:
    with pytest.raises(ValueError, match="table cells must be >= 0"):
        paired_proportion_difference(1, -1, 0, 0)
    with pytest.raises(ValueError, match="only_second must be >= 0"):
        paired_proportion_difference_many([1], [1], [-1], [1])
    with pytest.raises(ValueError, match="confidence must be strictly between"):
        paired_proportion_difference_many([1], [1], [1], [1], confidence=1.0)


def _paired_tables(p1: float, p2: float, rho: float, n: int, reps: int, seed: int) -> np.ndarray:
    """(4, reps) simulated paired tables with marginals p1, p2 and correlation rho."""
    p11 = p1 * p2 + rho * math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
    probs = [p11, p1 - p11, p2 - p11, 1 - p1 - p2 + p11]
    return np.random.default_rng(seed).multinomial(n, probs, size=reps).T


@pytest.mark.parametrize(
    ("p1", "p2", "rho", "n"),
    [(0.2, 0.25, 0.5, 200), (0.1, 0.1, 0.3, 500), (0.5, 0.45, 0.0, 100), (0.17, 0.2, 0.8, 1343)],
)
def test_newcombe_coverage_by_simulation(p1: float, p2: float, rho: float, n: int) -> None:
    _, low, high = paired_proportion_difference_many(*_paired_tables(p1, p2, rho, n, 2000, 12))
    coverage = np.mean((low <= p1 - p2) & (p1 - p2 <= high))
    assert 0.93 <= coverage <= 0.97


def test_newcombe_and_mcnemar_many_are_fast() -> None:
    cells = _random_tables(np.random.default_rng(4), SLICES)
    assert _best_time(lambda: paired_proportion_difference_many(*cells)) < 0.05
    assert _best_time(lambda: mcnemar_exact_many(cells[1], cells[2])) < 0.05


# paired means, Wilcoxon


@pytest.mark.parametrize("n", [2, 3, 10, 400])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_paired_mean_difference_matches_ttest_rel(n: int, confidence: float) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(0.1, 0.5, n)
    want = stats.ttest_rel(x, y).confidence_interval(confidence)
    got = paired_mean_difference(x - y, confidence=confidence)
    assert got.value == pytest.approx(np.mean(x - y), abs=1e-14)
    assert (got.low, got.high) == pytest.approx((want.low, want.high), rel=1e-10)


def test_paired_mean_difference_small_inputs() -> None:
    assert all(math.isnan(v) for v in vars(paired_mean_difference([])).values())
    assert paired_mean_difference([0.4]).value == 0.4 and math.isnan(
        paired_mean_difference([0.4]).low
    )
    assert paired_mean_difference(np.zeros(5)) == Estimate(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="d has nan or inf values"):
        paired_mean_difference([1.0, np.nan])
    with pytest.raises(ValueError, match="d must be 1-D"):
        paired_mean_difference(np.ones((2, 2)))


def _grouped_differences(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row differences and slice codes: sizes 0, 1, 2, an all-zero slice, bigger slices."""
    rng = np.random.default_rng(seed)
    codes = np.r_[[1], [2, 2], [3] * 8, rng.integers(4, 40, 3000)]
    d = rng.normal(0.05, 1.0, codes.size) * rng.random(codes.size)
    d[codes == 3] = 0.0
    return d, codes


def test_paired_t_from_sums_matches_ttest_rel() -> None:
    d, codes = _grouped_differences(5)
    sums = [np.bincount(codes, weights=w, minlength=40) for w in (d, d * d, None)]
    diff, low, high, p = paired_mean_difference_from_sums(sums[0], sums[1], sums[2].astype(int))
    assert math.isnan(diff[0]) and np.isnan([low[:2], high[:2], p[:2]]).all()
    assert diff[1] == d[codes == 1][0]
    assert (diff[3], low[3], high[3], p[3]) == (0.0, 0.0, 0.0, 1.0)
    for code in [2, *range(4, 40)]:
        rows = d[codes == code]
        test = stats.ttest_rel(rows, np.zeros_like(rows))
        ci = test.confidence_interval(0.95)
        got = [diff[code], low[code], high[code], p[code]]
        np.testing.assert_allclose(got, [rows.mean(), ci.low, ci.high, test.pvalue], rtol=1e-8)


def test_paired_t_from_sums_equals_scalar_elementwise() -> None:
    d, codes = _grouped_differences(6)
    sums = [np.bincount(codes, weights=w, minlength=40) for w in (d, d * d, None)]
    diff, low, high, _ = paired_mean_difference_from_sums(*sums, confidence=0.9)
    for code in range(40):
        one = paired_mean_difference(d[codes == code], confidence=0.9)
        got = [diff[code], low[code], high[code]]
        want = [one.value, one.low, one.high]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_paired_t_from_sums_is_fast_and_checks_shapes() -> None:
    rng = np.random.default_rng(8)
    n = rng.integers(0, 500, SLICES)
    total, total_sq = rng.normal(size=SLICES) * n * 0.1, n * (1.0 + rng.random(SLICES))
    assert _best_time(lambda: paired_mean_difference_from_sums(total, total_sq, n)) < 0.05
    with pytest.raises(ValueError, match="same shape"):
        paired_mean_difference_from_sums(total, total_sq, n[:-1])


@pytest.mark.parametrize(
    "kind", ["exact_small", "with_ties_and_zeros", "large", "one_nonzero", "negative"]
)
def test_wilcoxon_matches_scipy(kind: str) -> None:
    rng = np.random.default_rng(9)
    d = {
        "exact_small": rng.normal(0.3, 1, 12),
        "with_ties_and_zeros": np.round(rng.normal(0.2, 1, 80), 1),
        "large": rng.normal(0.02, 1, 5000),
        "one_nonzero": np.r_[np.zeros(6), 0.5],
        "negative": -rng.random(30),
    }[kind]
    want = stats.wilcoxon(d, zero_method="wilcox", method="auto").pvalue
    assert wilcoxon_p_value(d) == pytest.approx(want, rel=1e-12)


def test_wilcoxon_edge_cases() -> None:
    assert wilcoxon_p_value(np.zeros(10)) == 1.0
    assert math.isnan(wilcoxon_p_value([]))
    with pytest.raises(ValueError, match="nan or inf"):
        wilcoxon_p_value([0.1, np.inf])


# RMSE difference


def _correlated_errors(
    n: int, reps: int, sd_first: float, sd_second: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(reps, n) squared errors of two correlated normal-error models; true RMSEs are the sds."""
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, reps, n))
    e1, e2 = sd_first * z1, sd_second * (0.7 * z1 + math.sqrt(1 - 0.49) * z2)
    return e1**2, e2**2


def test_rmse_difference_matches_delta_method_formula() -> None:
    sq1, sq2 = _correlated_errors(300, 1, 1.1, 1.0, 3)
    est, p = rmse_difference(sq1[0], sq2[0])
    m1, m2 = sq1[0].mean(), sq2[0].mean()
    cov = np.cov(sq1[0], sq2[0])  # ddof = 1
    var = cov[0, 0] / (4 * m1) + cov[1, 1] / (4 * m2) - 2 * cov[0, 1] / (4 * math.sqrt(m1 * m2))
    se = math.sqrt(var / 300)
    assert est.value == pytest.approx(math.sqrt(m1) - math.sqrt(m2), abs=1e-14)
    half = stats.norm.ppf(0.975) * se
    assert (est.low, est.high) == pytest.approx((est.value - half, est.value + half), rel=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(est.value) / se), rel=1e-9)


@pytest.mark.parametrize("n", [500, 5000])
@pytest.mark.parametrize(("sd_first", "sd_second"), [(1.0, 1.0), (1.2, 1.0)])
def test_rmse_difference_coverage_by_simulation(n: int, sd_first: float, sd_second: float) -> None:
    sq1, sq2 = _correlated_errors(n, 2000, sd_first, sd_second, n)
    results = [rmse_difference(a, b) for a, b in zip(sq1, sq2, strict=True)]
    truth = sd_first - sd_second
    coverage = np.mean([e.low <= truth <= e.high for e, _ in results])
    assert 0.93 <= coverage <= 0.97
    if truth == 0:  # p-values under the null: about 5% below 0.05
        assert 0.03 <= np.mean([p < 0.05 for _, p in results]) <= 0.07


def test_rmse_difference_p_value_finds_planted_difference() -> None:
    sq1, sq2 = _correlated_errors(5000, 1, 1.1, 1.0, 1)
    est, p = rmse_difference(sq1[0], sq2[0])
    assert est.low > 0 and p < 1e-6
    assert rmse_difference(sq2[0], sq1[0])[1] == pytest.approx(p)


def test_rmse_difference_edge_cases() -> None:
    est, p = rmse_difference([], [])
    assert math.isnan(est.value) and math.isnan(p)
    same = np.array([0.5, 2.0, 0.1])
    assert rmse_difference(same, same) == (Estimate(0.0, 0.0, 0.0), 1.0)
    est, p = rmse_difference(np.zeros(50), np.random.default_rng(0).random(50))  # a perfect model
    assert est.high < 0 and 0 <= p < 0.05
    est, p = rmse_difference([4.0], [1.0])
    assert est.value == 1.0 and math.isnan(est.low) and math.isnan(p)
    with pytest.raises(ValueError, match="same shape"):
        rmse_difference([1.0, 2.0], [1.0])


# multinomial bootstrap


def _f1_difference(counts: np.ndarray) -> np.ndarray:
    """F1 of the positive class, candidate minus baseline; cells (..., y_true, pred_b, pred_c)."""

    def f1(confusion: np.ndarray) -> np.ndarray:  # (..., y_true, pred)
        tp, fp, fn = confusion[..., 1, 1], confusion[..., 0, 1], confusion[..., 1, 0]
        denominator = 2 * tp + fp + fn
        return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)

    return f1(counts.sum(axis=-2)) - f1(counts.sum(axis=-1))


def _population(seed: int) -> np.ndarray:
    """Cell probabilities (y_true, pred_b, pred_c) of two correlated binary classifiers."""
    rng = np.random.default_rng(seed)
    y = rng.random(200_000) < 0.3
    score = y + rng.normal(0, 0.8, y.size)
    pred_b = score + rng.normal(0, 0.3, y.size) > 0.6
    pred_c = score + rng.normal(0, 0.3, y.size) > 0.5
    return np.bincount(y * 4 + pred_b * 2 + pred_c, minlength=8).reshape(2, 2, 2) / y.size


def _row_bootstrap(cells: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    """Plain row bootstrap: rebuild the rows, resample them, count cells, percentile interval."""
    rows = np.repeat(np.arange(cells.size), cells.ravel())
    picked = rows[np.random.default_rng(seed).integers(0, rows.size, (resamples, rows.size))]
    offsets = picked + cells.size * np.arange(resamples)[:, None]
    counts = np.bincount(offsets.ravel(), minlength=resamples * cells.size)
    values = _f1_difference(counts.reshape(resamples, *cells.shape))
    low, high = np.quantile(values, [0.025, 0.975])
    return low, high, min(1.0, 2 * min(np.mean(values <= 0), np.mean(values >= 0)))


def test_bootstrap_equals_row_bootstrap_in_distribution() -> None:
    cells = np.random.default_rng(3).multinomial(800, _population(0).ravel()).reshape(2, 2, 2)
    got = multinomial_bootstrap(cells, _f1_difference, n_resamples=20_000, random_state=1)
    want = _row_bootstrap(cells, 20_000, seed=2)
    width = want[1] - want[0]
    assert got[:2] == pytest.approx(want[:2], abs=0.03 * width)
    assert got[2] == pytest.approx(want[2], abs=0.03)


def test_bootstrap_is_seeded_and_shapes_are_passed() -> None:
    cells = np.array([[[50, 3], [4, 10]], [[5, 2], [6, 70]]])
    shapes: list[tuple[int, ...]] = []

    def statistic(counts: np.ndarray) -> np.ndarray:
        shapes.append(counts.shape)
        assert (counts.sum(axis=(1, 2, 3)) == cells.sum()).all()
        return _f1_difference(counts)

    first = multinomial_bootstrap(cells, statistic, n_resamples=500, random_state=7)
    assert first == multinomial_bootstrap(cells, statistic, n_resamples=500, random_state=7)
    assert first != multinomial_bootstrap(cells, statistic, n_resamples=500, random_state=8)
    rng = np.random.default_rng(7)
    assert multinomial_bootstrap(cells, statistic, n_resamples=500, random_state=rng) == first
    assert shapes[0] == (500, 2, 2, 2)


def test_bootstrap_edge_cases() -> None:
    same = np.array([[40, 0], [0, 60]])  # both models always agree: difference always 0

    def gap(counts: np.ndarray) -> np.ndarray:
        return (counts[:, 0, 1] - counts[:, 1, 0]) / counts.sum(axis=(1, 2))

    assert multinomial_bootstrap(same, gap) == (0.0, 0.0, 1.0)
    assert all(math.isnan(v) for v in multinomial_bootstrap(np.zeros((2, 2), int), gap))
    planted = np.array([[40, 30], [2, 28]])
    low, high, p = multinomial_bootstrap(planted, gap, n_resamples=1000)
    assert 0 < low < 28 / 100 < high and p < 0.01
    with pytest.raises(ValueError, match=r"statistic must return shape \(10,\)"):
        multinomial_bootstrap(planted, lambda c: c.sum(axis=1), n_resamples=10)
    with pytest.raises(ValueError, match="counts must be >= 0"):
        multinomial_bootstrap(np.array([3, -1]), gap)
    with pytest.raises(ValueError, match="n_resamples must be >= 1"):
        multinomial_bootstrap(planted, gap, n_resamples=0)


def test_bootstrap_leaves_out_nan_values() -> None:
    cells = np.array([3, 1])

    def ratio(counts: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts[:, 1] == 0, np.nan, counts[:, 0] / counts[:, 1])

    low, high, _ = multinomial_bootstrap(cells, ratio, n_resamples=2000)
    assert np.isfinite([low, high]).all() and 0 <= low <= high <= 4


@pytest.mark.slow
def test_bootstrap_f1_difference_coverage_by_simulation() -> None:
    probs = _population(0)
    truth = _f1_difference(probs[None])[0]
    rng = np.random.default_rng(10)
    covered = []
    for seed in range(1000):
        cells = rng.multinomial(1000, probs.ravel()).reshape(2, 2, 2)
        low, high, _ = multinomial_bootstrap(
            cells, _f1_difference, n_resamples=1000, random_state=seed
        )
        covered.append(low <= truth <= high)
    assert 0.93 <= np.mean(covered) <= 0.97
