"""Tests of mlqa_debug.stats.metrics against scikit-learn, scipy and published values."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    root_mean_squared_error,
)

from mlqa_debug.stats.metrics import (
    ClassificationData,
    ClassificationMetrics,
    Estimate,
    RegressionMetrics,
    evaluate,
    prepare_classification,
    prepare_regression,
    slice_report,
    wilson_interval,
)

Z95 = 1.959963984540054
MASK_KINDS = ["all", "random", "empty", "one_row", "most", "all_but_one"]


@dataclass(frozen=True)
class ClassTable:
    """A seeded classification table: integer codes, probabilities and class names."""

    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray
    classes: tuple[str, ...]

    def prepare(self, *, with_probs: bool = True, n_bins: int = 10) -> ClassificationData:
        probs = self.probs if with_probs else None
        return prepare_classification(
            self.y_true, self.y_pred, classes=self.classes, pred_probs=probs, n_bins=n_bins
        )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture
def binary_table(rng: np.random.Generator) -> ClassTable:
    """Binary; predictions use a 0.4 threshold, so y_pred is not always the argmax."""
    p1 = rng.random(400)
    y_true = (rng.random(400) < p1).astype(np.int64)
    y_pred = (p1 > 0.4).astype(np.int64)
    probs = np.column_stack([1.0 - p1, p1])
    return ClassTable(y_true, y_pred, probs, ("no", "yes"))


@pytest.fixture
def multiclass_table(rng: np.random.Generator) -> ClassTable:
    """Five classes; 'e' is predicted but never a label, some predictions are not the argmax."""
    n, k = 400, 5
    y_true = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y_true] += 1.2
    probs = _softmax(logits)
    y_pred = probs.argmax(axis=1)
    swap = rng.random(n) < 0.1
    y_pred[swap] = rng.integers(0, k, int(swap.sum()))
    y_pred[:7] = 4
    return ClassTable(y_true, y_pred, probs, ("a", "b", "c", "d", "e"))


@pytest.fixture(params=["binary", "multiclass"])
def class_table(request: pytest.FixtureRequest) -> ClassTable:
    table: ClassTable = request.getfixturevalue(f"{request.param}_table")
    return table


def make_mask(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of one of MASK_KINDS over n rows."""
    mask = np.zeros(n, dtype=bool)
    if kind == "all":
        mask[:] = True
    elif kind == "random":
        mask = rng.random(n) < 0.3
    elif kind == "one_row":
        mask[n // 2] = True
    elif kind == "most":  # more than half: summed through the complement
        mask = rng.random(n) < 0.9
    elif kind == "all_but_one":
        mask[:] = True
        mask[3] = False
    return mask


@contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


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


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_classification_matches_sklearn(
    class_table: ClassTable, kind: str, rng: np.random.Generator
) -> None:
    mask = make_mask(kind, len(class_table.y_true), rng)
    got = evaluate(class_table.prepare(), mask)
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
def test_binary_brier_is_sklearn_positive_class(
    binary_table: ClassTable, kind: str, rng: np.random.Generator
) -> None:
    mask = make_mask(kind, len(binary_table.y_true), rng)
    got = evaluate(binary_table.prepare(), mask)
    if got.n == 0:
        assert got.brier is not None and math.isnan(got.brier)
        return
    want = brier_score_loss(
        binary_table.y_true[mask], binary_table.probs[mask, 1], pos_label=1, labels=[0, 1]
    )
    assert got.brier == pytest.approx(want)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_multiclass_brier_is_unscaled_sum_over_classes(
    multiclass_table: ClassTable, kind: str, rng: np.random.Generator
) -> None:
    mask = make_mask(kind, len(multiclass_table.y_true), rng)
    got = evaluate(multiclass_table.prepare(), mask)
    if got.n == 0:
        return
    labels = list(range(len(multiclass_table.classes)))
    y_true, probs = multiclass_table.y_true[mask], multiclass_table.probs[mask]
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
    probs = _softmax(rng.normal(size=(n, k)))
    data = prepare_classification(
        y_true, y_pred, classes=[str(i) for i in range(k)], pred_probs=probs
    )
    mask = rng.random(n) < 0.5
    got = evaluate(data, mask)
    want = f1_score(y_true[mask], y_pred[mask], average="macro", zero_division=0)
    assert got.macro_f1 == pytest.approx(want)
    assert got.log_loss == pytest.approx(log_loss(y_true[mask], probs[mask], labels=range(k)))


# --------------------------------------------------------------------------- regression


@pytest.fixture
def regression_table(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Large offset and skewed errors, so centring and cancellation matter."""
    y_true = rng.normal(5_000.0, 30.0, 500)
    y_pred = y_true + rng.gamma(2.0, 3.0, 500) - 4.0
    return y_true, y_pred


def _mean_interval(values: np.ndarray) -> tuple[float, float]:
    half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_regression_matches_sklearn(
    regression_table: tuple[np.ndarray, np.ndarray], kind: str, rng: np.random.Generator
) -> None:
    y_true_all, y_pred_all = regression_table
    data = prepare_regression(y_true_all, y_pred_all, threshold=6.0)
    mask = make_mask(kind, data.n_samples, rng)
    got = evaluate(data, mask)
    y_true, y_pred = y_true_all[mask], y_pred_all[mask]
    assert (got.n, got.threshold) == (mask.sum(), 6.0)
    if got.n == 0:
        assert math.isnan(got.mae.value) and math.isnan(got.r2)
        return
    residual = y_pred - y_true
    assert got.mae.value == pytest.approx(mean_absolute_error(y_true, y_pred))
    assert got.rmse.value == pytest.approx(root_mean_squared_error(y_true, y_pred))
    assert got.bias.value == pytest.approx(residual.mean())
    over = np.abs(residual) > 6.0
    assert (got.n_errors, got.over_threshold.value) == (over.sum(), pytest.approx(over.mean()))
    if got.n == 1:
        assert math.isnan(got.r2) and math.isnan(got.mae.low) and math.isnan(got.rmse.high)
        return
    assert got.r2 == pytest.approx(r2_score(y_true, y_pred), rel=1e-9)
    assert (got.mae.low, got.mae.high) == pytest.approx(_mean_interval(np.abs(residual)))
    assert (got.bias.low, got.bias.high) == pytest.approx(_mean_interval(residual))
    mse_low, mse_high = _mean_interval(residual**2)
    assert got.rmse.low == pytest.approx(math.sqrt(max(mse_low, 0.0)))
    assert got.rmse.high == pytest.approx(math.sqrt(mse_high))


def test_regression_default_threshold_is_90th_percentile(
    regression_table: tuple[np.ndarray, np.ndarray],
) -> None:
    y_true, y_pred = regression_table
    data = prepare_regression(y_true, y_pred)
    assert data.threshold == pytest.approx(np.quantile(np.abs(y_pred - y_true), 0.9))
    assert evaluate(data).value("error_rate") == pytest.approx(0.1, abs=0.002)
    assert data.residual.tolist() == pytest.approx((y_pred - y_true).tolist())


def test_regression_bias_sign_is_prediction_minus_truth() -> None:
    data = prepare_regression([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], threshold=0.5)
    metrics = evaluate(data)
    assert metrics.value("bias") == 1.0
    assert metrics.value("over_threshold") == metrics.value("error_rate") == 1.0


def test_regression_r2_nan_on_constant_truth(rng: np.random.Generator) -> None:
    """A constant slice of most rows: its sums come as totals minus the rest, with rounding."""
    y_true = np.r_[np.full(17, 5000.1), rng.normal(0.0, 10.0, 16)]
    y_pred = y_true + rng.normal(0.0, 1.0, 33)
    data = prepare_regression(y_true, y_pred, threshold=1.0)
    mask = np.arange(33) < 17
    with no_warnings():
        constant = evaluate(data, mask)
    assert math.isnan(constant.r2)
    assert constant.mae.value == pytest.approx(np.abs(y_pred - y_true)[mask].mean())
    assert evaluate(data, ~mask).r2 == pytest.approx(r2_score(y_true[~mask], y_pred[~mask]))


def test_regression_rmse_interval_clipped_at_zero() -> None:
    data = prepare_regression([0.0, 0.0, 0.0], [0.0, 0.0, 3.0], threshold=1.0)
    rmse = evaluate(data).rmse
    assert rmse.low == 0.0 and rmse.value == pytest.approx(math.sqrt(3.0))


def test_regression_empty_slice_without_warnings(
    regression_table: tuple[np.ndarray, np.ndarray],
) -> None:
    data = prepare_regression(*regression_table)
    with no_warnings():
        report = slice_report(data, np.zeros(data.n_samples, dtype=bool))
    assert report.slice.n == 0 and math.isnan(report.slice.rmse.value)
    assert report.rest == report.overall
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1.0, np.nan], [1.0, 2.0]), {}, "y_true must be finite; 1 rows"),
        (([1.0, 2.0], [1.0]), {}, "y_true has 2 rows but y_pred has 1"),
        ((["a", "b"], [1.0, 2.0]), {}, "y_true must be a 1-D numeric array"),
        (([1.0], [1.0]), {"threshold": -1.0}, "threshold must be a finite number >= 0"),
        (([], []), {}, "no rows to take a default threshold from"),
    ],
)
def test_prepare_regression_rejects_bad_input(
    args: tuple[list[object], list[object]], kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        prepare_regression(*args, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- intervals and tests


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


# --------------------------------------------------------------------------- properties


@st.composite
def class_tables(draw: st.DrawFn) -> tuple[ClassificationData, np.ndarray]:
    """Small random classification data, with or without probabilities, and a mask."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(0, 40))
    codes = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    y_true, y_pred = np.array(draw(codes), dtype=np.int64), np.array(draw(codes), dtype=np.int64)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    probs = None
    if draw(st.booleans()):
        weights = st.lists(st.floats(0.01, 1.0), min_size=n * k, max_size=n * k)
        raw = np.array(draw(weights)).reshape(n, k)
        probs = raw / raw.sum(axis=1, keepdims=True)
    classes = [f"c{i}" for i in range(k)]
    data = prepare_classification(y_true, y_pred, classes=classes, pred_probs=probs)
    return data, mask


def _assert_estimate_contains_value(estimate: Estimate) -> None:
    if not math.isnan(estimate.low):
        assert estimate.low <= estimate.value <= estimate.high


@settings(max_examples=150, deadline=None)
@given(class_tables())
def test_slice_and_rest_partition_overall(table: tuple[ClassificationData, np.ndarray]) -> None:
    data, mask = table
    with no_warnings():
        report = slice_report(data, mask)
    inside, rest, overall = report.slice, report.rest, report.overall
    assert inside.n + rest.n == overall.n == data.n_samples
    assert inside.n_errors + rest.n_errors == overall.n_errors
    for a, b, c in zip(inside.per_class, rest.per_class, overall.per_class, strict=True):
        assert (a.support + b.support, a.n_predicted + b.n_predicted) == (
            c.support,
            c.n_predicted,
        )
    if data.has_probabilities and inside.n and rest.n:
        assert isinstance(inside.log_loss, float) and isinstance(rest.log_loss, float)
        assert isinstance(overall.log_loss, float)
        total = inside.log_loss * inside.n + rest.log_loss * rest.n
        assert total == pytest.approx(overall.log_loss * overall.n)
    _assert_difference_is_sane(report.slice, report.rest, report.difference.p_value)
    _assert_estimate_contains_value(report.difference.error_rate_diff)
    for metrics in (inside, rest, overall):
        _assert_estimate_contains_value(metrics.error_rate)


def _assert_difference_is_sane(
    inside: ClassificationMetrics | RegressionMetrics,
    rest: ClassificationMetrics | RegressionMetrics,
    p_value: float,
) -> None:
    if inside.n and rest.n:
        assert 0.0 <= p_value <= 1.0
    else:
        assert math.isnan(p_value)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_regression_partition_and_intervals(rows: list[tuple[float, float, bool]]) -> None:
    y_true, y_pred, mask = (np.array(column) for column in zip(*rows, strict=True))
    data = prepare_regression(y_true, y_pred)
    with no_warnings():
        report = slice_report(data, mask.astype(bool))
    assert report.slice.n + report.rest.n == report.overall.n == len(rows)
    assert report.slice.n_errors + report.rest.n_errors == report.overall.n_errors
    _assert_difference_is_sane(report.slice, report.rest, report.difference.p_value)
    for metrics in (report.slice, report.rest, report.overall):
        for estimate in (metrics.mae, metrics.rmse, metrics.bias, metrics.over_threshold):
            _assert_estimate_contains_value(estimate)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**7).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_point_estimate(kn: tuple[int, int]) -> None:
    k, n = kn
    low, high = wilson_interval(k, n)
    if n == 0:
        assert math.isnan(low) and math.isnan(high)
    else:
        assert 0.0 <= low <= k / n <= high <= 1.0
