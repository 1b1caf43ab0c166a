"""Tests of mlqa_debug.analyses.compare.headline against scipy, scikit-learn and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from mlqa_debug.analyses.compare import headline, pair_predictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError

from .helpers import classification_pair, predictions, regression_pair


def test_loans_error_rate_and_mcnemar(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    h = headline(paired)
    rate = h.primary
    assert rate.metric == "error_rate" and h.n == 20_000
    assert rate.baseline == pytest.approx(0.1666) and rate.candidate == pytest.approx(0.1729)
    assert rate.difference == pytest.approx(0.0063)
    assert rate.p_value == pytest.approx(stats.binomtest(766, 766 + 640).pvalue, rel=1e-9)
    assert rate.ci_low < rate.difference < rate.ci_high and rate.ci_low > 0
    assert rate.worse and rate.significant_at(h.alpha)
    accuracy = h.get("accuracy")
    assert accuracy is not None and accuracy.difference == pytest.approx(-0.0063)
    assert (accuracy.ci_low, accuracy.ci_high) == pytest.approx((-rate.ci_high, -rate.ci_low))
    assert accuracy.worse and accuracy.higher_is_better


def test_binary_scores_match_sklearn(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    mask = paired.pair_mask(loans_v2.frame["region"].to_numpy() != "east")
    h = headline(paired, mask)
    y = loans_v2.frame["label"].to_numpy()[mask]
    preds = {
        "baseline": loans.frame["prediction"].to_numpy()[mask],
        "candidate": loans_v2.frame["prediction"].to_numpy()[mask],
    }
    for name, score in (
        ("precision", metrics.precision_score),
        ("recall", metrics.recall_score),
        ("f1", metrics.f1_score),
    ):
        row = h.get(f"{name}[1]")
        assert row is not None, name
        for side, pred in preds.items():
            assert getattr(row, side) == pytest.approx(score(y, pred, pos_label=1))
        assert row.difference == pytest.approx(row.candidate - row.baseline)
        assert row.ci_low <= row.difference <= row.ci_high
        assert row.test == "paired bootstrap (2,000, seed 0)"
    probs = {
        "baseline": loans.frame["score"].to_numpy()[mask],
        "candidate": loans_v2.frame["score"].to_numpy()[mask],
    }
    loss, brier = h.get("log_loss"), h.get("brier")
    assert loss is not None and brier is not None
    for side, p in probs.items():
        assert getattr(loss, side) == pytest.approx(metrics.log_loss(y, p))
        assert getattr(brier, side) == pytest.approx(metrics.brier_score_loss(y, p))
    d = (probs["candidate"] - y) ** 2 - (probs["baseline"] - y) ** 2
    ttest = stats.ttest_1samp(d, 0.0)
    assert brier.p_value == pytest.approx(ttest.pvalue)
    assert (brier.ci_low, brier.ci_high) == pytest.approx(tuple(ttest.confidence_interval()))


def test_multiclass_macro_scores_match_sklearn() -> None:
    base, cand = classification_pair(np.random.default_rng(11), 3000, classes=4)
    cand.loc[cand["label"] == 3, "prediction"] = 0  # the candidate never predicts class 3
    paired = pair_predictions(predictions(cand), predictions(base))
    h = headline(paired, n_resamples=500)
    y = base["label"].to_numpy()
    assert [r.metric for r in h.rows] == [
        "error_rate",
        "accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
    ]
    for metric, score in (
        ("macro_precision", metrics.precision_score),
        ("macro_recall", metrics.recall_score),
        ("macro_f1", metrics.f1_score),
    ):
        row = h.get(metric)
        assert row is not None
        for side, frame in (("baseline", base), ("candidate", cand)):
            expected = score(y, frame["prediction"], average="macro", zero_division=0)
            assert getattr(row, side) == pytest.approx(expected), (metric, side)
        assert row.worse and row.p_value < 0.01 and row.ci_high < 0
        assert row.test == "paired bootstrap (500, seed 0)"


def test_bootstrap_is_seeded(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    first, again = headline(paired), headline(paired)
    assert first == again
    other = headline(paired, random_state=1)
    f1, f1_other = first.get("f1[1]"), other.get("f1[1]")
    assert f1 is not None and f1_other is not None
    assert f1.difference == f1_other.difference and f1.ci_low != f1_other.ci_low
    assert f1.ci_low == pytest.approx(f1_other.ci_low, abs=0.005)


def test_bootstrap_interval_against_row_resampling() -> None:
    base, cand = classification_pair(np.random.default_rng(4), 800, classes=2)
    paired = pair_predictions(predictions(cand), predictions(base))
    row = headline(paired, n_resamples=4000).get("recall[1]")
    assert row is not None
    rng = np.random.default_rng(9)
    y, pb, pc = (
        base["label"].to_numpy(),
        base["prediction"].to_numpy(),
        cand["prediction"].to_numpy(),
    )
    i = rng.integers(0, len(y), (3000, len(y)))  # resampled rows, recall by hand
    positive = y[i] == 1
    diffs = ((pc[i] == 1) & positive).sum(1) / positive.sum(1) - ((pb[i] == 1) & positive).sum(
        1
    ) / positive.sum(1)
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert row.ci_low == pytest.approx(low, abs=0.012) and row.ci_high == pytest.approx(
        high, abs=0.012
    )


def test_regression_headline(rng: np.random.Generator) -> None:
    base, cand = regression_pair(rng)
    paired = pair_predictions(
        predictions(cand, task="regression"), predictions(base, task="regression")
    )
    h = headline(paired)
    assert [r.metric for r in h.rows] == ["mae", "rmse", "error_rate"]
    eb = np.abs(base["prediction"] - base["label"]).to_numpy()
    ec = np.abs(cand["prediction"] - cand["label"]).to_numpy()
    mae, rmse, rate = h.rows
    assert h.primary is mae
    assert (mae.baseline, mae.candidate) == pytest.approx((eb.mean(), ec.mean()))
    assert mae.difference == pytest.approx(ec.mean() - eb.mean())
    assert mae.p_value == pytest.approx(stats.wilcoxon(ec - eb).pvalue)
    t = stats.ttest_rel(ec, eb)
    assert (mae.ci_low, mae.ci_high) == pytest.approx(tuple(t.confidence_interval()))
    assert rmse.baseline == pytest.approx(np.sqrt(np.mean(eb**2)))
    assert rmse.candidate == pytest.approx(np.sqrt(np.mean(ec**2)))
    assert rmse.ci_low < rmse.difference < rmse.ci_high and rmse.test == "delta method"
    threshold = paired.baseline.schema.error_threshold
    b, c = (
        int(((eb <= threshold) & (ec > threshold)).sum()),
        int(((eb > threshold) & (ec <= threshold)).sum()),
    )
    assert rate.p_value == pytest.approx(stats.binomtest(b, b + c).pvalue)
    assert rate.candidate == pytest.approx((ec > threshold).mean())
    assert mae.worse and rmse.worse


def test_empty_mask_and_bad_alpha(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    h = headline(paired, np.zeros(paired.n, dtype=bool))
    assert h.n == 0 and np.isnan(h.primary.difference) and not h.primary.worse
    with pytest.raises(ParameterError, match="alpha"):
        headline(paired, alpha=1.5)
    with pytest.raises(ParameterError, match="one per compared pair"):
        headline(paired, np.ones(5, dtype=bool))
