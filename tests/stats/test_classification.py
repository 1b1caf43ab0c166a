"""Tests of mlqa_debug.stats.classification against scikit-learn and hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from mlqa_debug.stats import (
    evaluate,
    prepare_classification,
    slice_report,
)
from tests.stats.helpers import (
    MASK_KINDS,
    ClassTable,
    make_mask,
    masked_metrics,
    no_warnings,
    softmax,
)


def reference_ece(y_true: np.ndarray, probs: np.ndarray, n_bins: int) -> float:
    """Top-label ECE, bins [i/B, (i+1)/B) with the last one closed, by a plain loop."""
    confidence, hit = probs.max(axis=1), probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        upper = confidence <= edges[b + 1] if b == n_bins - 1 else confidence < edges[b + 1]
        rows = (confidence >= edges[b]) & upper
        if rows.any():
            gap = abs(hit[rows].mean() - confidence[rows].mean())
            total += rows.sum() / len(y_true) * gap
    return total


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_classification_matches_sklearn(
    class_table: ClassTable, kind: str, rng: np.random.Generator
) -> None:
    mask, got = masked_metrics(class_table, kind, rng)
    y_true, y_pred = class_table.y_true[mask], class_table.y_pred[mask]
    probs, k = class_table.probs[mask], len(class_table.classes)
    assert got.n == mask.sum()
    assert got.share == pytest.approx(mask.mean())
    if got.n == 0:
        return
    assert got.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert got.n_errors == np.count_nonzero(y_true != y_pred)
    assert got.error_rate.value == pytest.approx(1.0 - accuracy_score(y_true, y_pred))
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert [c.precision for c in got.per_class] == pytest.approx(p)
    assert [c.recall for c in got.per_class] == pytest.approx(r)
    assert [c.f1 for c in got.per_class] == pytest.approx(f)
    assert [c.support for c in got.per_class] == list(s)
    assert [c.n_predicted for c in got.per_class] == list(np.bincount(y_pred, minlength=k))
    mp, mr, _, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert got.macro_precision == pytest.approx(mp)
    assert got.macro_recall == pytest.approx(mr)
    assert got.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert got.log_loss == pytest.approx(log_loss(y_true, probs, labels=labels))
    assert got.ece == pytest.approx(reference_ece(y_true, probs, 10))


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_brier_matches_sklearn(
    class_table: ClassTable, kind: str, rng: np.random.Generator
) -> None:
    """Binary: sklearn's score of the positive class; multiclass: the unscaled sum over classes."""
    mask, got = masked_metrics(class_table, kind, rng)
    if got.n == 0:
        assert got.brier is not None and math.isnan(got.brier)
        return
    y_true, probs = class_table.y_true[mask], class_table.probs[mask]
    if len(class_table.classes) == 2:
        want = brier_score_loss(y_true, probs[:, 1], pos_label=1, labels=[0, 1])
    else:
        labels = list(range(len(class_table.classes)))
        want = brier_score_loss(y_true, probs, labels=labels, scale_by_half=False)
    assert got.brier == pytest.approx(want)


def test_binary_brier_from_1d_scores_equals_two_columns(binary_table: ClassTable) -> None:
    from_scores = prepare_classification(
        binary_table.y_true,
        binary_table.y_pred,
        classes=binary_table.classes,
        pred_probs=binary_table.probs[:, 1],
    )
    assert evaluate(from_scores) == evaluate(binary_table.prepare())


def test_ece_hand_computed() -> None:
    probs = np.array([[0.95, 0.05], [0.85, 0.15], [0.25, 0.75], [0.65, 0.35]])
    y_true = np.array([0, 1, 1, 1])  # hit, miss, hit, miss
    data = prepare_classification(
        y_true, probs.argmax(axis=1), classes=["n", "p"], pred_probs=probs, n_bins=5
    )
    # bin [0.8, 1.0): acc 0.5, conf 0.9; bin [0.6, 0.8): acc 0.5, conf 0.7
    assert evaluate(data).ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.2)


def test_calibration_bins_are_closed_on_the_left() -> None:
    probs = np.array([[0.5, 0.5], [0.45, 0.55], [0.0, 1.0]])
    y_true = np.array([0, 0, 1])  # argmax hit, miss, hit
    data = prepare_classification(y_true, y_true, classes=["n", "p"], pred_probs=probs)
    assert data.calibration_bin is not None
    assert data.calibration_bin.tolist() == [5, 5, 9]
    # bin [0.5, 0.6): two rows, accuracy 0.5, confidence 0.525; bin [0.9, 1.0]: exact
    assert evaluate(data).ece == pytest.approx(2 / 3 * 0.025)


def test_ece_uses_argmax_not_y_pred(binary_table: ClassTable) -> None:
    flipped = 1 - binary_table.y_pred
    data = prepare_classification(
        binary_table.y_true, flipped, classes=binary_table.classes, pred_probs=binary_table.probs
    )
    assert evaluate(data).ece == pytest.approx(evaluate(binary_table.prepare()).ece)


def test_empty_slice_is_nan_without_warnings(class_table: ClassTable) -> None:
    data = class_table.prepare()
    with no_warnings():
        report = slice_report(data, np.zeros(data.n_samples, dtype=bool))
    empty = report.slice
    assert (empty.n, empty.n_errors, empty.share) == (0, 0, 0.0)
    assert all(math.isnan(v) for v in (empty.accuracy, empty.macro_f1, empty.error_rate.low))
    assert empty.log_loss is not None and math.isnan(empty.log_loss)
    assert empty.ece is not None and math.isnan(empty.ece)
    assert all(c.precision == c.recall == c.f1 == 0.0 for c in empty.per_class)
    assert report.rest == report.overall
    assert math.isnan(report.difference.p_value) and math.isnan(report.difference.lift)


def test_without_probabilities_probability_metrics_are_none(class_table: ClassTable) -> None:
    data = class_table.prepare(with_probs=False)
    metrics = evaluate(data, np.arange(data.n_samples) % 2 == 0)
    assert (metrics.log_loss, metrics.brier, metrics.ece) == (None, None, None)
    assert not data.has_probabilities and data.confidence is None
    with pytest.raises(ValueError, match=r"unknown metric 'log_loss'.*valid names"):
        metrics.value("log_loss")


def test_slice_rest_overall_agree_with_direct_evaluation(
    class_table: ClassTable, rng: np.random.Generator
) -> None:
    data = class_table.prepare()
    mask = make_mask("random", data.n_samples, rng)
    report = slice_report(data, mask)
    assert report.slice == evaluate(data, mask)
    assert report.overall == evaluate(data)
    direct_rest = evaluate(data, ~mask)
    assert report.rest.per_class == direct_rest.per_class
    for name in report.rest.metric_names():
        assert report.rest.value(name) == pytest.approx(direct_rest.value(name), rel=1e-9)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("n", 4.0),
        ("n_errors", 1.0),
        ("error_rate", 0.25),
        ("accuracy", 0.75),
        ("precision[cat]", 1.0),
        ("recall[cat]", 0.5),
        ("f1[cat]", 2 / 3),
        ("precision[dog]", 2 / 3),
        ("recall[dog]", 1.0),
        ("macro_recall", 0.75),
    ],
)
def test_value_by_name(name: str, expected: float) -> None:
    data = prepare_classification(
        np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), classes=["cat", "dog"]
    )
    assert evaluate(data).value(name) == pytest.approx(expected)


def test_value_unknown_name_lists_valid_names(multiclass_table: ClassTable) -> None:
    metrics = evaluate(multiclass_table.prepare())
    assert {"ece", "brier", "f1[e]", "share"} <= set(metrics.metric_names())
    with pytest.raises(ValueError, match=r"unknown metric 'f1\[zebra\]'.*macro_f1"):
        metrics.value("f1[zebra]")


def test_to_dict_is_strict_json(class_table: ClassTable) -> None:
    data = class_table.prepare()
    for mask in (np.zeros(data.n_samples, dtype=bool), np.arange(data.n_samples) < 100):
        as_dict = slice_report(data, mask).to_dict()
        text = json.dumps(as_dict, allow_nan=False)
        assert set(json.loads(text)) == {"slice", "rest", "overall", "difference"}
    overall = evaluate(data).to_dict()
    assert overall["per_class"][0]["name"] == class_table.classes[0]
    assert overall["error_rate"]["value"] == pytest.approx(evaluate(data).error_rate.value)


def test_prepared_arrays_are_read_only_copies(binary_table: ClassTable) -> None:
    data = binary_table.prepare()
    assert not data.y_true.flags.writeable and not data.is_error.flags.writeable
    assert binary_table.y_true.flags.writeable
    assert data.is_error.tolist() == (binary_table.y_true != binary_table.y_pred).tolist()
    assert data.confidence is not None and data.calibration_bin is not None
    assert data.calibration_bin.max() < data.n_bins


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_true": [0, 3]}, r"y_true must hold class codes 0..2; 1 rows"),
        ({"y_pred": [0.0, 1.0]}, "y_pred must hold integer class codes"),
        ({"y_pred": [0, 1, 1]}, "y_true has 2 rows but y_pred has 3"),
        ({"y_true": [[0, 1]]}, "y_true must be 1-D"),
        ({"classes": ["a", "b", "a"]}, r"unique, got duplicates \['a'\]"),
        ({"classes": []}, "classes is empty"),
        ({"pred_probs": np.full((2, 2), 0.5)}, r"pred_probs must have shape \(2, 3\)"),
        ({"pred_probs": [[1.5, -0.5, 0.0], [1, 0, 0]]}, r"must lie in \[0, 1\]; 1 rows"),
        ({"pred_probs": [[np.nan, 0.5, 0.5], [1, 0, 0]]}, r"must lie in \[0, 1\]"),
        ({"pred_probs": np.full((2, 3), 1 / 3), "n_bins": 0}, "n_bins must be a positive"),
    ],
)
def test_prepare_classification_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"y_true": [0, 1], "y_pred": [1, 2], "classes": ["a", "b", "c"]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        prepare_classification(
            args["y_true"],  # type: ignore[arg-type]
            args["y_pred"],  # type: ignore[arg-type]
            classes=args["classes"],  # type: ignore[arg-type]
            pred_probs=args.get("pred_probs"),  # type: ignore[arg-type]
            n_bins=args.get("n_bins", 10),  # type: ignore[arg-type]
        )


def test_probabilities_not_summing_to_one_warn() -> None:
    with pytest.warns(UserWarning, match="1 rows do not sum to 1"):
        prepare_classification(
            [0, 1], [0, 1], classes=["a", "b"], pred_probs=[[0.5, 0.5], [0.5, 0.4]]
        )


@pytest.mark.parametrize(
    ("mask", "match"),
    [([1, 0, 1], "must be a boolean array"), ([True, False], r"must have shape \(3,\)")],
)
def test_bad_mask_is_rejected(mask: list[object], match: str) -> None:
    data = prepare_classification([0, 1, 1], [0, 1, 0], classes=["a", "b"])
    with pytest.raises(ValueError, match=match):
        evaluate(data, np.array(mask))
    with pytest.raises(ValueError, match=match):
        slice_report(data, np.array(mask))


def test_unprepared_data_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expected data from prepare_classification"):
        evaluate(np.zeros(3))  # type: ignore[call-overload]


def test_many_classes_stay_linear_in_k(rng: np.random.Generator) -> None:
    k, n = 2000, 3000
    y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
    probs = softmax(rng.normal(size=(n, k)))
    data = prepare_classification(
        y_true, y_pred, classes=[str(i) for i in range(k)], pred_probs=probs
    )
    mask = rng.random(n) < 0.5
    got = evaluate(data, mask)
    want = f1_score(y_true[mask], y_pred[mask], average="macro", zero_division=0)
    assert got.macro_f1 == pytest.approx(want)
    assert got.log_loss == pytest.approx(log_loss(y_true[mask], probs[mask], labels=range(k)))
