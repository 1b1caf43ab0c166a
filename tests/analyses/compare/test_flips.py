"""Tests of mlqa_debug.analyses.compare.flips: counts against pandas, the paged table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.compare import FLIP_KINDS, flip_counts, flip_table, pair_predictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError

from .helpers import classification_pair, predictions, regression_pair


def _reference(base: pd.DataFrame, cand: pd.DataFrame) -> pd.Series:
    """Flip kind per row by merging on id and a pandas crosstab of the two error indicators."""
    merged = base.merge(cand, on="id", suffixes=("_b", "_c"))
    wrong_b = merged["prediction_b"] != merged["label_b"]
    wrong_c = merged["prediction_c"] != merged["label_c"]
    same = merged["prediction_b"] == merged["prediction_c"]
    table = pd.crosstab([wrong_b, wrong_c], same)
    counts = {
        "both_right": int(table.loc[(False, False)].sum()),
        "broken": int(table.loc[(False, True)].sum()),
        "fixed": int(table.loc[(True, False)].sum()),
        "both_wrong_same": int(table.loc[(True, True)].get(True, 0)),
        "both_wrong_different": int(table.loc[(True, True)].get(False, 0)),
    }
    return pd.Series(counts)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("classes", [3, 6])
def test_counts_match_pandas_crosstab(seed: int, classes: int) -> None:
    base, cand = classification_pair(np.random.default_rng(seed), 1500, classes=classes)
    cand = cand.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    paired = pair_predictions(predictions(cand), predictions(base))
    flips = flip_counts(paired)
    expected = _reference(base, cand)
    for kind, value in expected.items():
        assert getattr(flips, str(kind)) == value, kind
    assert flips.n == 1500 == expected.sum()
    assert flips.rate("broken") == pytest.approx(expected["broken"] / 1500)
    # inside a mask over pairs: the rows of one colour
    mask = paired.pair_mask(paired.candidate.frame["colour"].to_numpy() == "red")
    red = cand[cand["colour"] == "red"]
    inside = flip_counts(paired, mask)
    for kind, value in _reference(base[base["id"].isin(red["id"])], red).items():
        assert getattr(inside, str(kind)) == value, kind


def test_loans_pair(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    flips = flip_counts(paired)
    assert (flips.broken, flips.fixed) == (766, 640)
    assert flips.n == 20_000 and flips.both_right + flips.both_wrong_same == 20_000 - 766 - 640
    assert flips.both_wrong_different == 0  # binary: two wrong answers are the same class
    expected = _reference(loans.frame, loans_v2.frame)
    assert flips.to_dict() == {"n": 20_000, **expected.to_dict()}


def test_table_pages_and_order(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    first = flip_table(paired, "broken", page_size=40)
    assert first.total == 766 and first.start == 0 and len(first.frame) == 40
    columns = list(first.frame.columns)
    assert columns[:8] == [
        "id",
        "label",
        "baseline prediction",
        "candidate prediction",
        "baseline P(label)",
        "candidate P(label)",
        "baseline confidence",
        "candidate confidence",
    ]
    assert "employment" in columns and "score" not in columns
    confidence = first.frame["candidate confidence"].to_numpy()
    assert (np.diff(confidence) <= 0).all()
    last = flip_table(paired, "broken", page=19, page_size=40)
    assert len(last.frame) == 766 - 19 * 40 and last.start == 760
    assert last.frame["candidate confidence"].max() <= confidence.min()
    rows = loans_v2.frame.set_index("id").loc[first.frame["id"]]
    assert (rows["prediction"].to_numpy() != rows["label"].to_numpy()).all()
    base = loans.frame.set_index("id").loc[first.frame["id"]]
    assert (base["prediction"].to_numpy() == base["label"].to_numpy()).all()
    np.testing.assert_allclose(
        first.frame["candidate confidence"], np.maximum(rows["score"], 1 - rows["score"])
    )
    gig = paired.pair_mask(loans_v2.frame["employment"].to_numpy() == "gig")
    fixed = flip_table(paired, "fixed", gig, page_size=500)
    assert fixed.total == flip_counts(paired, gig).fixed == len(fixed.frame)
    assert set(fixed.frame["employment"]) == {"gig"}


def test_bad_kind_and_page() -> None:
    base, cand = classification_pair(np.random.default_rng(5), 200)
    paired = pair_predictions(predictions(cand), predictions(base))
    with pytest.raises(ParameterError, match="unknown kind of flip 'lost'"):
        flip_table(paired, "lost")
    with pytest.raises(ParameterError, match="page must be >= 0"):
        flip_table(paired, "broken", page=-1)
    assert FLIP_KINDS[0] == "broken"
    assert flip_table(paired, "broken", page=99).frame.empty


def test_regression_flips(rng: np.random.Generator) -> None:
    base, cand = regression_pair(rng, 500)
    y = base["label"].to_numpy()
    paired = pair_predictions(
        predictions(cand, task="regression"), predictions(base, task="regression")
    )
    t = paired.baseline.schema.error_threshold
    eb, ec = np.abs(base["prediction"] - y), np.abs(cand["prediction"] - y)
    change = ec - eb
    flips = flip_counts(paired)
    assert flips.broken == (change > t).sum() and flips.fixed == (change < -t).sum()
    assert flips.both_wrong_same == ((eb > t) & (ec > t) & (change.abs() <= t)).sum()
    assert flips.both_wrong_different is None and np.isnan(flips.rate("both_wrong_different"))
    page = flip_table(paired, "broken", page_size=1000)
    assert list(page.frame.columns)[:7] == [
        "id",
        "label",
        "baseline prediction",
        "candidate prediction",
        "baseline abs error",
        "candidate abs error",
        "change",
    ]
    assert (np.diff(page.frame["change"].abs().to_numpy()) <= 0).all()
    assert (page.frame["change"] > t).all() and len(page.frame) == flips.broken
