"""Drift between two tables: PSI by hand, the tests against scipy, planted shifts found."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlqa_debug.analyses.quality.drift import (
    EPSILON,
    PSI_MAJOR,
    PSI_MODERATE,
    drift_json,
    feature_drift,
    population_stability_index,
)
from tests.analyses.quality.helpers import clean_frame, predictions


def test_psi_of_a_worked_example() -> None:
    """Two bins 50/50 against 40/60: (0.4-0.5)ln(0.8) + (0.6-0.5)ln(1.2) = 0.0405."""
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.6 - 0.5) * math.log(0.6 / 0.5)
    assert population_stability_index([0.5, 0.5], [0.4, 0.6]) == pytest.approx(expected)
    assert expected == pytest.approx(0.04055, abs=1e-5)
    assert population_stability_index([0.3, 0.7], [0.3, 0.7]) == 0.0
    empty = population_stability_index([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])  # an empty bin
    assert math.isfinite(empty)
    assert empty == pytest.approx(
        -0.1 * math.log(0.4 / 0.5) + (0.1 - EPSILON) * math.log(0.1 / EPSILON)
    )


@pytest.fixture
def pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    reference, current = clean_frame(rng, 20_000), clean_frame(rng, 20_000)
    current["size"] = current["size"] + 1.5  # a planted shift of 0.75 sd
    colours = rng.choice(["red", "green", "blue", "grey"], len(current), p=[0.55, 0.15, 0.15, 0.15])
    current["colour"] = colours
    return reference, current


def test_planted_shifts_are_found_and_the_rest_is_stable(pair) -> None:
    reference, current = pair
    drifts = {d.column: d for d in feature_drift(predictions(current), predictions(reference))}
    assert drifts["size"].drifted and drifts["size"].level == "major"
    assert drifts["colour"].drifted and drifts["colour"].psi >= PSI_MODERATE
    assert not drifts["weight"].drifted and drifts["weight"].psi < 0.01
    ranked = [d.column for d in feature_drift(predictions(current), predictions(reference))]
    assert ranked[:2] == ["size", "colour"]  # by effect size
    assert {"label", "prediction"} <= set(drifts)  # the label and the prediction too
    assert drifts["size"].psi > PSI_MAJOR


def test_the_tests_are_scipys(pair) -> None:
    reference, current = pair
    drifts = {d.column: d for d in feature_drift(predictions(current), predictions(reference))}
    ks = stats.ks_2samp(reference["weight"], current["weight"], method="asymp")
    assert drifts["weight"].test == "ks"
    assert drifts["weight"].statistic == pytest.approx(ks.statistic)
    assert drifts["weight"].p_value == pytest.approx(ks.pvalue)
    table = pd.crosstab(
        np.r_[np.zeros(len(reference)), np.ones(len(current))],
        np.r_[reference["colour"].to_numpy(), current["colour"].to_numpy()],
    )
    chi2, p, _, _ = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert drifts["colour"].test == "chi2"
    assert drifts["colour"].statistic == pytest.approx(chi2)
    assert drifts["colour"].p_value == pytest.approx(p)


def test_unshifted_tables_drift_nowhere_over_seeds() -> None:
    flagged = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        a, b = clean_frame(rng, 5_000), clean_frame(rng, 5_000)
        flagged += sum(d.drifted for d in feature_drift(predictions(b), predictions(a)))
    assert flagged == 0


def test_shares_bins_and_missing_values() -> None:
    rng = np.random.default_rng(3)
    reference, current = clean_frame(rng, 4_000), clean_frame(rng, 4_000)
    current.loc[:999, "size"] = np.nan  # a quarter missing now, none before
    (size,) = [
        d for d in feature_drift(predictions(current), predictions(reference)) if d.column == "size"
    ]
    assert size.bins[-1] == "(missing)"
    assert size.reference_share[-1] == 0.0 and size.current_share[-1] == pytest.approx(0.25)
    assert sum(size.reference_share) == pytest.approx(1.0)
    assert sum(size.current_share) == pytest.approx(1.0)
    assert len(size.bins) == 11  # ten bins cut at the reference's deciles, and the missing one
    assert size.drifted  # a quarter of the rows missing is drift, whatever the test says


def test_json_shape(pair) -> None:
    reference, current = pair
    rows = drift_json(feature_drift(predictions(current), predictions(reference)))
    assert {"column", "psi", "statistic", "p_value", "test", "drifted"} <= set(rows[0])
    assert all(isinstance(r["drifted"], bool) for r in rows)


@pytest.mark.parametrize("seed", range(5))
def test_ks_matches_scipy_with_ties_and_unequal_sizes(seed: int) -> None:
    from mlqa_debug.analyses.quality.drift import _ks_2samp

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 20, 3_000 + seed * 500).astype(float)
    b = rng.integers(1, 21, 1_200).astype(float)
    expected = stats.ks_2samp(a, b, method="asymp")
    d, p = _ks_2samp(np.sort(a), np.sort(b))
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
