"""Error-rate drift per slice: a planted degradation found, Holm applied, training sets skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.quality.drift import (
    slice_drift_json,
    slice_drift_skipped,
    slice_error_drift,
)
from mlqa_debug.slicing import parse_slice
from mlqa_debug.stats import adjust_p_values, newcombe_difference, two_proportion_p_value
from tests.analyses.quality.helpers import clean_frame, predictions


def degraded(rng: np.random.Generator, n: int = 6000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables from one model; in the current one, 'red' rows err 25 points more often."""
    reference, current = clean_frame(rng, n), clean_frame(rng, n)
    red = np.flatnonzero((current["colour"] == "red").to_numpy() & (rng.random(n) < 0.25))
    current.loc[red, "prediction"] = 1 - current.loc[red, "label"]
    return reference, current


def test_a_planted_degradation_tops_the_ranking(rng: np.random.Generator) -> None:
    reference, current = degraded(rng)
    drifts = slice_error_drift(predictions(current), predictions(reference), max_slices=1000)
    top = drifts[0]
    assert top.slice == "colour == 'red'" and top.significant
    assert top.difference.value > 0.15 and top.difference.low > 0.1
    by_slice = {d.slice: d for d in drifts}
    for colour in ("green", "blue", "grey"):  # the other colours did not move
        assert not by_slice[f"colour == '{colour}'"].significant
    # bins of other features hold a quarter of red rows each: they moved a quarter as much
    assert all(d.difference.value < top.difference.value / 2 for d in drifts[1:])
    # the numbers are the two tables' counts, Newcombe's interval and the Slices page's test
    cur = current[current["colour"] == "red"]
    ref = reference[reference["colour"] == "red"]
    k1, n1 = int((cur["label"] != cur["prediction"]).sum()), len(cur)
    k2, n2 = int((ref["label"] != ref["prediction"]).sum()), len(ref)
    assert (top.n_current, top.n_reference) == (n1, n2)
    assert top.difference == newcombe_difference(k1, n1, k2, n2)
    assert top.p_value == two_proportion_p_value(k1, n1, k2, n2)


def test_holm_adjusts_over_every_slice_compared(rng: np.random.Generator) -> None:
    reference, current = degraded(rng)
    everything = slice_error_drift(predictions(current), predictions(reference), max_slices=1000)
    adjusted = adjust_p_values([d.p_value for d in everything], method="holm")
    np.testing.assert_allclose([d.adjusted_p for d in everything], adjusted)
    assert all(d.adjusted_p >= d.p_value for d in everything)
    top = slice_error_drift(predictions(current), predictions(reference), max_slices=3)
    assert [d.slice for d in top] == [d.slice for d in everything[:3]]
    assert top[0].adjusted_p == everything[0].adjusted_p  # Holm over all, not the three shown
    effects = [d.effect for d in everything if not d.significant]
    assert effects == sorted(effects, reverse=True)  # ranked by effect size


def test_slices_are_the_current_tables_bins_and_open_on_both(rng: np.random.Generator) -> None:
    reference, current = degraded(rng, 3000)
    current_table, reference_table = predictions(current), predictions(reference)
    drifts = slice_error_drift(current_table, reference_table, max_slices=1000)
    columns = {parse_slice(d.slice).predicates[0].column for d in drifts}
    assert columns == {"colour", "size", "weight"}  # the label and id are not features
    for d in drifts:
        s = parse_slice(d.slice)
        assert int(s.mask(current_table.slice_frame).sum()) == d.n_current
        assert int(s.mask(reference_table.slice_frame).sum()) == d.n_reference


def test_given_slices_and_small_ones_left_out(rng: np.random.Generator) -> None:
    reference, current = degraded(rng, 3000)
    wanted = ["colour == 'red' and size > 10.0", "size > 16.0", "missing_column == 1"]
    drifts = slice_error_drift(predictions(current), predictions(reference), slices=wanted)
    assert [d.slice for d in drifts] == ["colour == 'red' and size > 10.0"]  # too few, no column


def test_a_reference_without_predictions_is_skipped(rng: np.random.Generator) -> None:
    reference = clean_frame(rng).drop(columns=["prediction", "score"])
    current, training = predictions(clean_frame(rng)), predictions(reference, prediction="label")
    assert "no predictions" in (slice_drift_skipped(current, training) or "")
    assert slice_error_drift(current, training) == []
    assert slice_drift_skipped(current, predictions(clean_frame(rng))) is None


def test_json_is_plain(rng: np.random.Generator) -> None:
    reference, current = degraded(rng, 3000)
    (item,) = slice_drift_json(
        slice_error_drift(predictions(current), predictions(reference), max_slices=1)
    )
    assert set(item) == {
        "slice",
        "rows_reference",
        "rows_current",
        "error_reference",
        "error_current",
        "difference",
        "p_value",
        "adjusted_p",
        "significant",
    }
    assert item["difference"]["value"] == pytest.approx(
        item["error_current"]["value"] - item["error_reference"]["value"]
    )
