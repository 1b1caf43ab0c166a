"""Tests of mlqa_debug.analyses.confusion.thresholds against scikit-learn."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError, ParameterError, SliceError
from mlqa_debug.slicing import parse_slice, slice_mask


def test_binary_predictions_follow_the_score(loans: Predictions) -> None:
    np.testing.assert_array_equal(
        cf.binary_predictions(loans, threshold=0.5), loans.y_pred_codes
    )  # the model predicts score >= 0.5
    scores = cf.positive_scores(loans)
    assert scores is not None
    np.testing.assert_array_equal(scores, loans.frame["score"].to_numpy())
    low = cf.binary_predictions(loans, threshold=0.2)
    assert low.sum() == (scores >= 0.2).sum()


def test_thresholds_need_a_binary_score(digits: Predictions) -> None:
    assert cf.positive_scores(digits) is None
    with pytest.raises(ParameterError, match="binary task"):
        cf.binary_predictions(digits, threshold=0.5)
    with pytest.raises(ParameterError, match="not binary"):
        cf.binary_truth(digits)


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda p: cf.binary_predictions(p, threshold=0.5), "a threshold"),
        (lambda p: cf.threshold_report(p, None, threshold=0.5), "a threshold"),
        (lambda p: cf.slice_pr_curve(p), "a precision-recall curve"),
        (lambda p: cf.threshold_changes(p, 0.5), "a threshold"),
    ],
)
def test_a_threshold_on_a_multiclass_task_is_a_parameter_error_not_a_slice_error(
    digits: Predictions, call: Callable[[Predictions], object], what: str
) -> None:
    with pytest.raises(ParameterError, match=f"{what} needs a binary task") as info:
        call(digits)
    assert isinstance(info.value, MlqaError) and isinstance(info.value, ValueError)
    assert not isinstance(info.value, SliceError)


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.3, 0.5, 0.77, 1.0])
@pytest.mark.parametrize("where", ["", "employment == 'gig'", "income >= 150000"])
def test_threshold_metrics_match_sklearn(loans: Predictions, threshold: float, where: str) -> None:
    mask = slice_mask(loans, parse_slice(where))
    truth = cf.binary_truth(loans)
    scores = loans.frame["score"].to_numpy()
    got = cf.threshold_metrics(truth, scores, threshold=threshold, mask=mask)
    y, predicted = truth[mask], scores[mask] >= threshold
    p, r, f, _ = precision_recall_fscore_support(y, predicted, average="binary", zero_division=0)
    assert (got.precision, got.recall, got.f1) == pytest.approx((p, r, f))
    assert got.n_samples == mask.sum() and got.n_positive == y.sum()
    # the matrix at the threshold holds the same counts
    matrix = cf.class_confusion(
        loans, mask, y_pred=cf.binary_predictions(loans, threshold=threshold)
    )
    assert (matrix.counts[1, 1], matrix.counts[0, 1]) == (got.tp, got.fp)


def test_threshold_metrics_without_positives() -> None:
    got = cf.threshold_metrics(np.zeros(4, bool), np.array([0.1, 0.2, 0.9, 0.4]), threshold=0.95)
    assert (got.precision, got.recall, got.f1, got.tn) == (0.0, 0.0, 0.0, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, 0.5), ("", 0.5), ("0.3", 0.3), ("0", 0.0), ("1", 1.0), ("0.333", 0.33), ("1e-1", 0.1),
     ("nan", None), ("-0.1", None), ("1.5", None), ("abc", None), ("inf", None)],
)  # fmt: skip
def test_parse_threshold(text: str | None, expected: float | None) -> None:
    assert cf.parse_threshold(text) == expected
    assert cf.threshold_from_url(text) == (0.5 if expected is None else expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("decimals", [2, 6])
def test_pr_curve_matches_sklearn(seed: int, decimals: int) -> None:
    rng = np.random.default_rng(seed)
    n = 700
    y = rng.random(n) < 0.3
    scores = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), decimals)  # ties at 2 decimals
    mask = rng.random(n) < 0.5
    got = cf.pr_curve(y, scores, mask=mask)
    precision, recall, thresholds = precision_recall_curve(y[mask], scores[mask])
    np.testing.assert_allclose(got.precision, precision)
    np.testing.assert_allclose(got.recall, recall)
    np.testing.assert_allclose(got.thresholds, thresholds)
    assert got.average_precision == pytest.approx(average_precision_score(y[mask], scores[mask]))
    order = np.argsort(-scores, kind="stable")
    again = cf.pr_curve(y, scores, mask=mask, order=order)
    np.testing.assert_array_equal(again.precision, got.precision)


def test_pr_curve_edge_cases() -> None:
    empty = cf.pr_curve(np.zeros(3, bool), np.ones(3), mask=np.zeros(3, bool))
    assert empty.n_samples == 0 and list(empty.precision) == [1.0] and list(empty.recall) == [0.0]
    scores = np.array([0.2, 0.8, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns: no positive class
        precision, recall, _ = precision_recall_curve(np.zeros(3, bool), scores)
    none = cf.pr_curve(np.zeros(3, bool), scores)
    np.testing.assert_allclose(none.precision, precision)
    np.testing.assert_allclose(none.recall, recall)
    assert np.isnan(none.average_precision)


def test_slice_pr_curve_and_thinning(loans: Predictions) -> None:
    mask = loans.frame["region"].to_numpy() == "coastal"
    got = cf.slice_pr_curve(loans, mask)
    y = loans.frame["label"].to_numpy()[mask] == 1
    precision, recall, _ = precision_recall_curve(y, loans.frame["score"].to_numpy()[mask])
    np.testing.assert_allclose(got.precision, precision)
    np.testing.assert_allclose(got.recall, recall)
    p, r, t = got.thinned(200)
    assert len(p) <= 200 and (p[0], r[0], p[-1], r[-1]) == (precision[0], recall[0], 1.0, 0.0)
    assert np.isnan(t[-1]) and np.all(np.diff(t[:-1]) >= 0)
    metrics, curves = cf.threshold_report(loans, mask, threshold=0.4)
    assert set(metrics) == set(curves) == {"slice", "overall"}
    assert curves["overall"].n_samples == loans.n_samples
    assert set(cf.threshold_report(loans, None, threshold=0.4)[0]) == {"overall"}


def test_predictions_at_a_threshold_are_computed_once_and_shared(
    loans: Predictions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Confusion page asks for them three times a run (matrices, pair rows, examples)."""
    calls = {"n": 0}
    where = np.where

    def counted(*args, **kwargs):
        calls["n"] += 1
        return where(*args, **kwargs)

    monkeypatch.setattr(np, "where", counted)
    first = cf.binary_predictions(loans, threshold=0.37)
    again = cf.binary_predictions(loans, threshold=0.37)
    assert again is first and calls["n"] == 1
    assert not first.flags.writeable
    assert cf.binary_predictions(loans, threshold=0.38) is not first
