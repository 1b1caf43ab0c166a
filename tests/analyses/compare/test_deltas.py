"""Tests of mlqa_debug.analyses.compare.deltas against brute force, scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mlqa_debug.analyses.compare import SliceDeltas, pair_predictions, slice_deltas
from mlqa_debug.analyses.compare.pairing import PairedPredictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import EMPTY, MAX_SLICE_LENGTH, Slice, parse_slice, slice_mask

from .helpers import classification_pair, predictions

STATSMODELS = {"holm": "holm", "bh": "fdr_bh"}


def _brute_force(paired: PairedPredictions, deltas: SliceDeltas) -> None:
    """Every row recomputed from its slice text on the candidate table."""
    frame = deltas.frame
    assert list(frame.columns[:13]) == [
        "slice",
        "feature",
        "kind",
        "rows",
        "baseline",
        "candidate",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "worse",
        "significant",
    ]
    wrong_b, wrong_c = paired.wrong_baseline, paired.wrong_candidate
    for text, row, s in zip(frame["slice"], frame.itertuples(), deltas.slices, strict=True):
        parsed = parse_slice(text, max_length=MAX_SLICE_LENGTH)
        assert parsed == s
        inside = paired.pair_mask(slice_mask(paired.candidate, parsed))
        assert row.rows == inside.sum(), text
        if paired.is_classification:
            broken = int((~wrong_b & wrong_c & inside).sum())
            fixed = int((wrong_b & ~wrong_c & inside).sum())
            assert (row.broken, row.fixed) == (broken, fixed), text
            assert row.baseline == pytest.approx(wrong_b[inside].mean()), text
            assert row.candidate == pytest.approx(wrong_c[inside].mean()), text
            expected = stats.binomtest(broken, broken + fixed).pvalue if broken + fixed else 1.0
            assert row.p_value == pytest.approx(expected, rel=1e-9), text
        else:
            assert paired.abs_error_candidate is not None and paired.abs_error_baseline is not None
            ec, eb = paired.abs_error_candidate[inside], paired.abs_error_baseline[inside]
            assert row.baseline == pytest.approx(eb.mean()) and row.candidate == pytest.approx(
                ec.mean()
            )
            t = stats.ttest_rel(ec, eb)
            assert row.p_value == pytest.approx(t.pvalue, rel=1e-6), text
            assert (row.ci_low, row.ci_high) == pytest.approx(tuple(t.confidence_interval()))
        assert row.difference == pytest.approx(row.candidate - row.baseline)
        assert row.ci_low <= row.difference <= row.ci_high
    adjusted = multipletests(frame["p_value"], method=STATSMODELS[deltas.correction])[1]
    np.testing.assert_allclose(frame["p_adjusted"], adjusted, rtol=1e-9)
    assert deltas.n_compared == len(frame)
    worse = frame["difference"] > 0
    np.testing.assert_array_equal(frame["worse"], worse)
    np.testing.assert_array_equal(
        frame["significant"], worse & (frame["p_adjusted"] < deltas.alpha)
    )
    diffs = frame["difference"].to_numpy()
    assert (np.diff(diffs) <= 1e-15).all()  # worst first


@pytest.fixture(scope="module")
def loans_pair(loans: Predictions, loans_v2: Predictions) -> PairedPredictions:
    return pair_predictions(loans_v2, loans)


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_loans_rows_match_brute_force(loans_pair: PairedPredictions, correction: str) -> None:
    deltas = slice_deltas(loans_pair, correction=correction)  # type: ignore[arg-type]
    assert deltas.metric == "error_rate" and deltas.n_hidden == 0
    assert (deltas.frame["kind"] == "all rows").sum() == 1
    features = {f for f in deltas.frame["feature"] if f}
    assert features == {c for c, k in loans_pair.candidate.schema.features.items() if k != "text"}
    _brute_force(loans_pair, deltas)


def test_unemployed_is_the_top_row_and_significant(loans_pair: PairedPredictions) -> None:
    deltas = slice_deltas(loans_pair)
    top = deltas.frame.iloc[0]
    assert top["slice"] == "employment == 'unemployed'"
    assert top["rows"] == 1343 and (top["broken"], top["fixed"]) == (96, 52)
    assert top["baseline"] == pytest.approx(0.230, abs=5e-4)
    assert top["candidate"] == pytest.approx(0.263, abs=5e-4)
    assert top["p_value"] == pytest.approx(3.7e-4, rel=0.02)
    assert top["p_adjusted"] < 0.05 and top["significant"]
    gig = deltas.frame.set_index("slice").loc["employment == 'gig'"]
    assert gig["difference"] < 0 and not gig["worse"] and not gig["significant"]
    significant = set(deltas.significant["slice"])
    assert "employment == 'salaried'" in significant
    assert "`credit.score` < 642 and `credit.score` >= 603" in significant


def test_min_size_hides_and_does_not_count(loans_pair: PairedPredictions) -> None:
    full = slice_deltas(loans_pair)
    big = slice_deltas(loans_pair, min_size=2000)
    small = full.frame[(full.frame["rows"] < 2000) & (full.frame["kind"] != "all rows")]
    assert len(small) > 0 and big.n_hidden == len(small)
    assert big.n_compared == full.n_compared - len(small) == len(big.frame)
    assert (big.frame["rows"] >= 2000).all()
    _brute_force(loans_pair, big)
    kept = full.frame.set_index("slice").loc[big.frame["slice"], "p_value"]
    np.testing.assert_allclose(big.frame["p_value"], kept)
    assert (big.frame["p_adjusted"].to_numpy() <= 1.0).all()


@pytest.mark.parametrize("text", ["region == 'east' and age >= 30", "region != 'east'"])
def test_within_a_user_slice(loans_pair: PairedPredictions, text: str) -> None:
    within = parse_slice(text)  # a small slice, and one of most rows (counted as the rest)
    deltas = slice_deltas(loans_pair, within=within, min_size=20)
    current = deltas.frame[deltas.frame["kind"] == "current slice"]
    assert list(current["slice"]) == [within.text]
    assert all(set(within.predicates) <= set(s.predicates) for s in deltas.slices)
    assert within.text in set(deltas.frame["slice"])
    assert "region == 'east'" not in set(deltas.frame["slice"])  # covers the whole slice or none
    _brute_force(loans_pair, deltas)
    mask = loans_pair.pair_mask(slice_mask(loans_pair.candidate, within))
    again = slice_deltas(loans_pair, mask, within=within, min_size=20)
    pd.testing.assert_frame_equal(again.frame, deltas.frame)


def test_generated_multiclass_matches_brute_force() -> None:
    base, cand = classification_pair(np.random.default_rng(21), 3000, classes=4)
    base = base.assign(size=np.where(np.arange(3000) % 17 == 0, np.nan, base["size"]))
    cand = cand.assign(size=base["size"])
    paired = pair_predictions(predictions(cand), predictions(base))
    deltas = slice_deltas(paired, min_size=1, correction="bh")
    assert "size is missing" in set(deltas.frame["slice"])
    _brute_force(paired, deltas)


def test_regression_matches_brute_force(rng: np.random.Generator) -> None:
    n = 2000
    y = rng.normal(0, 1, n)
    group = rng.choice(["a", "b", "c"], n)
    base = pd.DataFrame(
        {
            "id": np.arange(n),
            "group": group,
            "x": rng.random(n),
            "label": y,
            "prediction": y + rng.normal(0, 0.5, n),
        }
    )
    noise = np.where(group == "b", 0.9, 0.5)
    cand = base.assign(prediction=y + rng.normal(0, 1, n) * noise)
    paired = pair_predictions(
        predictions(cand, task="regression"), predictions(base, task="regression")
    )
    deltas = slice_deltas(paired)
    assert deltas.metric == "mae" and "broken" not in deltas.frame.columns
    assert deltas.frame.iloc[0]["slice"] == "group == 'b'" and deltas.frame.iloc[0]["significant"]
    _brute_force(paired, deltas)


def test_empty_mask_and_bad_options(loans_pair: PairedPredictions) -> None:
    empty = slice_deltas(loans_pair, np.zeros(loans_pair.n, dtype=bool))
    assert len(empty.frame) == 1 and empty.n_compared == 0 and empty.frame.iloc[0]["rows"] == 0
    with pytest.raises(ParameterError, match="unknown correction 'bonferroni'"):
        slice_deltas(loans_pair, correction="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="min size"):
        slice_deltas(loans_pair, min_size=0)
    overall = slice_deltas(loans_pair, within=EMPTY)
    assert overall.slices[list(overall.frame["kind"]).index("all rows")] == EMPTY
    assert all(isinstance(s, Slice) for s in overall.slices)
