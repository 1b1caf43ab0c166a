"""Tests of mlqa_debug.analyses.confusion.compute against scikit-learn and brute force."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from mlqa_debug.analyses.confusion import compute as cf
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing.slices import parse_slice
from mlqa_debug.stats.report import slice_mask


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Predictions]:
    ws = Workspace(tmp_path_factory.mktemp("ws"))
    return {name: ws.load(name) for name in ("loans", "digits", "diabetes")}


@pytest.fixture
def loans(samples: dict[str, Predictions]) -> Predictions:
    return samples["loans"]


@pytest.fixture
def digits(samples: dict[str, Predictions]) -> Predictions:
    return samples["digits"]


@pytest.fixture
def diabetes(samples: dict[str, Predictions]) -> Predictions:
    return samples["diabetes"]


def random_codes(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    return y_true, y_pred


# --------------------------------------------------------------------------- matrices


@pytest.mark.parametrize(("n", "k"), [(0, 3), (1, 2), (500, 2), (1000, 7), (3000, 50)])
def test_counts_match_sklearn(n: int, k: int) -> None:
    y_true, y_pred = random_codes(n + k, n, k)
    mask = np.random.default_rng(1).random(n) < 0.3
    labels = list(range(k))
    got = cf.confusion_counts(y_true, y_pred, n_classes=k)
    expected = confusion_matrix(y_true, y_pred, labels=labels) if n else np.zeros((k, k))
    np.testing.assert_array_equal(got, expected)
    masked = cf.confusion_counts(y_true, y_pred, n_classes=k, mask=mask)
    if mask.any():
        expected = confusion_matrix(y_true[mask], y_pred[mask], labels=labels)
        np.testing.assert_array_equal(masked, expected)
    assert masked.sum() == mask.sum()


@pytest.mark.parametrize("normalize", ["true", "pred", "all"])
def test_normalisations_match_sklearn_with_absent_classes(normalize: str) -> None:
    y_true, y_pred = random_codes(3, 400, 6)
    y_true[y_true == 4] = 0  # class 4 has no rows: a 0/0 row
    y_pred[y_pred == 5] = 1  # class 5 is never predicted: a 0/0 column
    counts = cf.confusion_counts(y_true, y_pred, n_classes=6)
    expected = confusion_matrix(y_true, y_pred, labels=range(6), normalize=normalize)
    np.testing.assert_allclose(cf.normalize_counts(counts, normalize), expected)  # type: ignore[arg-type]


def test_normalize_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="normalize must be"):
        cf.normalize_counts(np.eye(2), "rows")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 3], [0, 1], "y_true holds codes outside"),
        ([0, 1], [0, -1], "y_pred holds codes outside"),
        ([0, 1], [0], "1-d of one length"),
    ],
)
def test_counts_refuse_bad_codes(y_true: list[int], y_pred: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cf.confusion_counts(np.array(y_true), np.array(y_pred), n_classes=3)


def test_counts_refuse_a_mask_of_another_length() -> None:
    with pytest.raises(ValueError, match="boolean array of 2 rows"):
        cf.confusion_counts(np.array([0, 1]), np.array([0, 1]), n_classes=2, mask=np.ones(3, bool))


@given(
    st.integers(1, 12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.booleans()), max_size=200),
)
@settings(max_examples=60, deadline=None)
def test_matrix_sums_to_the_rows_it_counts(k: int, rows: list[tuple[int, int, bool]]) -> None:
    y_true = np.array([t % k for t, _, _ in rows], dtype=np.int64)
    y_pred = np.array([p % k for _, p, _ in rows], dtype=np.int64)
    mask = np.array([m for _, _, m in rows], dtype=bool)
    inside = cf.confusion_counts(y_true, y_pred, n_classes=k, mask=mask)
    outside = cf.confusion_counts(y_true, y_pred, n_classes=k, mask=~mask)
    assert inside.sum() == mask.sum()
    np.testing.assert_array_equal(
        inside + outside, cf.confusion_counts(y_true, y_pred, n_classes=k)
    )


@pytest.mark.parametrize("where", ["", "label in (3, 8, 9)", "px_36 > 4", "id != 'D0000'"])
def test_dataset_matrix_matches_sklearn(digits: Predictions, where: str) -> None:
    frame = digits.frame
    mask = np.ones(len(frame), bool) if not where else slice_mask(digits, parse_slice(where))
    got = cf.class_confusion(digits, mask)  # "id != ..." takes the complement path
    expected = confusion_matrix(
        frame["label"][mask], frame["prediction"][mask], labels=list(digits.schema.classes)
    )
    np.testing.assert_array_equal(got.counts, expected)
    assert got.labels == tuple(str(c) for c in range(10))
    assert got.n_errors == int((frame["label"][mask] != frame["prediction"][mask]).sum())
    assert got.n_samples == mask.sum()


def test_digits_known_confusion(digits: Predictions) -> None:
    matrix = cf.class_confusion(digits)
    assert matrix.n_errors == 33  # sample_data/README.md: 33 of 899 rows
    assert matrix.counts[8, 1] == 5  # "the most frequent confusion is 8 predicted as 1"
    pairs = cf.confused_pairs(matrix)
    assert (pairs.loc[0, "true"], pairs.loc[0, "predicted"], pairs.loc[0, "count"]) == ("8", "1", 5)


def test_regression_has_no_confusion_matrix(diabetes: Predictions) -> None:
    with pytest.raises(SliceError, match="classification task"):
        cf.class_confusion(diabetes)


def test_to_frame_labels_rows_and_columns(digits: Predictions) -> None:
    frame = cf.class_confusion(digits).to_frame("true")
    assert frame.index.name == "true" and frame.columns.name == "predicted"
    np.testing.assert_allclose(frame.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- folding


def matrix_of(counts: np.ndarray) -> cf.ConfusionMatrix:
    k = len(counts)
    errors = int(counts.sum() - np.trace(counts))
    return cf.ConfusionMatrix(counts, tuple(f"c{i}" for i in range(k)), tuple(range(k)), errors)


@given(
    st.integers(2, 9).flatmap(
        lambda k: st.tuples(
            st.lists(st.integers(0, 30), min_size=k * k, max_size=k * k),
            st.sets(st.integers(0, k - 1), max_size=k),
            st.just(k),
        )
    )
)
@settings(max_examples=80, deadline=None)
def test_folding_keeps_totals(case: tuple[list[int], set[int], int]) -> None:
    values, keep, k = case
    counts = np.array(values, dtype=np.int64).reshape(k, k)
    matrix = matrix_of(counts)
    folded = cf.fold_classes(matrix, sorted(keep))
    assert folded.n_samples == matrix.n_samples
    assert folded.n_errors == matrix.n_errors
    kept = sorted(keep)
    if len(kept) == k:
        assert folded is matrix
        return
    assert folded.labels[-1] == cf.OTHER and folded.codes[-1] == -1
    np.testing.assert_array_equal(
        folded.counts[: len(kept), : len(kept)], counts[np.ix_(kept, kept)]
    )
    np.testing.assert_array_equal(folded.counts.sum(axis=1)[:-1], counts.sum(axis=1)[kept])
    np.testing.assert_array_equal(folded.counts.sum(axis=0)[:-1], counts.sum(axis=0)[kept])
    rest = [i for i in range(k) if i not in keep]
    among = counts[np.ix_(rest, rest)]
    assert folded.other_errors == among.sum() - np.trace(among)
    assert folded.counts[-1, -1] == among.sum()


def test_fold_refuses_positions_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        cf.fold_classes(matrix_of(np.eye(3, dtype=np.int64)), [0, 3])


def test_top_classes_keep_the_largest_confusions() -> None:
    counts = np.diag([50] * 20).astype(np.int64)
    counts[7, 13] = 12  # the largest confusion: class 7 is rarely *predicted*
    counts[2, 3] = counts[3, 2] = counts[2, 4] = counts[4, 2] = 6  # class 2 is busy
    counts[19, 0] = 5
    matrix = matrix_of(counts)
    np.testing.assert_array_equal(cf.top_classes(matrix, 2), [7, 13])
    np.testing.assert_array_equal(cf.top_classes(matrix, 5), [2, 3, 4, 7, 13])
    np.testing.assert_array_equal(cf.top_classes(matrix, 7), [0, 2, 3, 4, 7, 13, 19])
    assert len(cf.top_classes(matrix, 25)) == 20
    with pytest.raises(ValueError, match="at least 1"):
        cf.top_classes(matrix, 0)


def test_top_classes_fill_from_the_reference() -> None:
    in_slice = matrix_of(np.diag([5, 5, 5, 5, 5]).astype(np.int64))  # no errors in the slice
    everywhere = np.diag([50] * 5).astype(np.int64)
    everywhere[3, 1] = 4
    picked = cf.top_classes(in_slice, 3, reference=matrix_of(everywhere))
    np.testing.assert_array_equal(picked, [0, 1, 3])  # the reference's pair, then by support


def test_fold_top_folds_both_alike() -> None:
    y_true, y_pred = random_codes(9, 4000, 30)
    mask = np.arange(4000) % 3 == 0
    k = 30
    counts = cf.confusion_counts(y_true, y_pred, n_classes=k, mask=mask)
    total = cf.confusion_counts(y_true, y_pred, n_classes=k)
    shown, shown_all = cf.fold_top(matrix_of(counts), matrix_of(total), n=10)
    assert shown.codes == shown_all.codes and len(shown.codes) == 11
    assert shown.n_samples == mask.sum() and shown_all.n_samples == 4000
    small = matrix_of(counts[:11, :11])
    assert cf.fold_top(small, small, n=10) == (small, small)  # 11 classes: nothing to fold


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_difference_in_percentage_points(normalize: str | None) -> None:
    a, b = random_codes(5, 300, 4), random_codes(6, 900, 4)
    m1 = matrix_of(cf.confusion_counts(*a, n_classes=4))
    m2 = matrix_of(cf.confusion_counts(*b, n_classes=4))
    how = normalize or "true"
    expected = 100 * (
        confusion_matrix(*a, labels=range(4), normalize=how)
        - confusion_matrix(*b, labels=range(4), normalize=how)
    )
    np.testing.assert_allclose(cf.difference(m1, m2, normalize=normalize), expected)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same classes"):
        cf.difference(m1, cf.fold_classes(m2, [0, 1]), normalize=normalize)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pairs


def test_pairs_match_brute_force(loans: Predictions) -> None:
    mask = loans.frame["employment"].to_numpy() == "gig"
    overall = cf.class_confusion(loans)
    pairs = cf.confused_pairs(cf.class_confusion(loans, mask), reference=overall)
    frame = loans.frame[mask]
    wrong = frame[frame["label"] != frame["prediction"]]
    brute = wrong.groupby(["label", "prediction"]).size().sort_values(ascending=False)
    assert [(int(t), int(p), int(n)) for (t, p), n in brute.items()] == [
        (int(t), int(p), int(n))
        for t, p, n in zip(pairs["true"], pairs["predicted"], pairs["count"], strict=True)
    ]
    for _, row in pairs.iterrows():
        t, p = int(row["true"]), int(row["predicted"])
        assert row["share of class"] == pytest.approx(row["count"] / (frame["label"] == t).sum())
        everywhere = loans.frame["label"] == t
        ref = ((loans.frame["prediction"] == p) & everywhere).sum()
        assert row["overall count"] == ref
        change = 100 * (row["share of class"] - ref / everywhere.sum())
        assert row["change (pts)"] == pytest.approx(change)
    assert pairs["share of errors"].sum() == pytest.approx(1.0)


def test_pairs_rank_ties_by_share_then_codes() -> None:
    counts = np.array([[10, 2, 0], [2, 30, 1], [0, 0, 4]], dtype=np.int64)
    pairs = cf.confused_pairs(matrix_of(counts))
    # two pairs with 2 rows: 0->1 is 2/12 of class 0, 1->0 is 2/33 of class 1
    assert list(zip(pairs["true_code"], pairs["pred_code"], strict=True)) == [
        (0, 1),
        (1, 0),
        (1, 2),
    ]
    everything = cf.confused_pairs(matrix_of(counts), include_correct=True, limit=2)
    assert list(everything["count"]) == [30, 10]


def test_pairs_skip_other() -> None:
    counts = np.array([[10, 2, 3], [1, 30, 1], [5, 0, 4]], dtype=np.int64)
    folded = cf.fold_classes(matrix_of(counts), [0, 1])
    pairs = cf.confused_pairs(folded)
    assert cf.OTHER not in set(pairs["true"]) | set(pairs["predicted"])


@pytest.mark.parametrize(
    ("classes", "pair", "text"),
    [
        ((0, 1, 8), (2, 1), "8~1"),
        (("cat", "dog", "émeu"), (2, 0), "émeu~cat"),
        (("a~b", "c", "b"), (0, 1), "a~b~c"),
        ((True, False), (1, 0), "False~True"),
        ((0.5, 1.5), (0, 1), "0.5~1.5"),
    ],
)
def test_pair_round_trip(classes: tuple[object, ...], pair: tuple[int, int], text: str) -> None:
    assert cf.format_pair(classes, pair) == text
    assert cf.parse_pair(text, classes) == pair
    assert cf.pair_text(classes, text) == f"{classes[pair[0]]} → {classes[pair[1]]}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("81", "not of the form"),
        ("8~11", "does not name two classes"),
        ("~", "does not name two classes"),
        ("<script>~1", "does not name two classes"),
        ("a~b~c", "ambiguous"),
        ("~" * 20_000, "does not name two classes"),  # hostile: answered without a scan
    ],
)
def test_bad_pairs_are_explained(text: str, message: str) -> None:
    classes = (1, 8) if text != "a~b~c" else ("a", "a~b", "b~c", "c")
    with pytest.raises(SliceError, match=message):
        cf.parse_pair(text, classes)
    assert cf.pair_text(classes, text) == text
    assert cf.pair_text(classes, None) == "(none)"


@pytest.mark.parametrize("pair", [(8, 1), (3, 8), (0, 0), (7, 2)])
def test_pair_slice_selects_the_cell(digits: Predictions, pair: tuple[int, int]) -> None:
    current = parse_slice("confidence < 0.99")
    mask = slice_mask(digits, current)
    cell = cf.pair_slice(digits, pair)
    assert cell.exact
    assert cell.slice.text == f"label == {pair[0]} and prediction == {pair[1]}"
    combined = slice_mask(digits, current & cell.slice)
    np.testing.assert_array_equal(combined, cf.pair_mask(digits, pair, mask))
    assert cf.class_confusion(digits, mask).counts[pair] == combined.sum()


def test_pair_slice_keeps_string_classes(
    multiclass_frame: pd.DataFrame, write_table, tmp_path: Path
) -> None:
    predictions = load_predictions(write_table(multiclass_frame, "animals.csv"))
    codes = (predictions.schema.classes.index("émeu"), predictions.schema.classes.index("cat"))
    cell = cf.pair_slice(predictions, codes)
    assert cell.slice.text == "label == 'émeu' and prediction == 'cat'"
    np.testing.assert_array_equal(
        slice_mask(predictions, cell.slice), cf.pair_mask(predictions, codes)
    )


def test_pair_slice_at_a_threshold(samples: dict[str, Predictions], tmp_path: Path) -> None:
    loans = samples["loans"]
    assert cf.pair_slice(loans, (1, 0), threshold=0.5).exact  # 0.5 is the model's own threshold
    assert cf.threshold_changes(loans, 0.5) == 0
    # the score column can be used in slices, so the slice is exactly the cell at the threshold
    for pair, op in (((1, 0), "<"), ((0, 1), ">=")):
        cell = cf.pair_slice(loans, pair, threshold=0.3)
        assert cell.exact and cell.slice.text == f"label == {pair[0]} and score {op} 0.3"
        score = loans.frame["score"].to_numpy()
        label = loans.frame["label"].to_numpy()
        expected = (label == pair[0]) & ((score >= 0.3) == bool(pair[1]))
        np.testing.assert_array_equal(slice_mask(loans, cell.slice), expected)
        y_pred = cf.binary_predictions(loans, threshold=0.3)
        np.testing.assert_array_equal(
            slice_mask(loans, cell.slice), cf.pair_mask(loans, pair, y_pred=y_pred)
        )


# --------------------------------------------------------------------------- thresholds


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
    with pytest.raises(SliceError, match="binary task"):
        cf.binary_predictions(digits, threshold=0.5)
    with pytest.raises(SliceError, match="not binary"):
        cf.binary_truth(digits)


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, 12), ("5", 5), ("2", 2), ("1", 12), ("500", 500), ("501", 12), ("-3", 12),
     ("١٢", 12), ("99999999999999999999", 12), ("x", 12)],
)  # fmt: skip
def test_parse_top(text: str | None, expected: int) -> None:
    assert cf.parse_top(text) == expected


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


def test_threshold_frame_text() -> None:
    frame = cf.threshold_frame({"slice": cf.ThresholdMetrics(0.3, tp=3, fp=1, fn=1, tn=1995)})
    assert frame.loc["precision", "slice"] == "0.750"
    assert frame.loc["true negatives", "slice"] == "1,995"


# --------------------------------------------------------------------------- regression


def test_residual_summary_by_hand(diabetes: Predictions) -> None:
    mask = diabetes.frame["bmi"].to_numpy() >= 30
    summary = cf.residual_summary(diabetes, mask)
    residual = (diabetes.frame["prediction"] - diabetes.frame["label"]).to_numpy()
    threshold = diabetes.schema.error_threshold
    for name, part in (("slice", residual[mask]), ("rest", residual[~mask]), ("overall", residual)):
        row = summary.loc[name]
        assert row["rows"] == len(part)
        assert row["bias"] == pytest.approx(part.mean())
        assert row["MAE"] == pytest.approx(np.abs(part).mean())
        assert row["RMSE"] == pytest.approx(np.sqrt((part**2).mean()))
        assert row["median"] == pytest.approx(np.median(part))
        assert row["p95"] == pytest.approx(np.quantile(part, 0.95))
        assert row["errors"] == pytest.approx((np.abs(part) > threshold).mean())
    assert "MAE" in cf.residual_text(summary)
    text = cf.residual_frame(summary, threshold=threshold)
    assert text.loc["slice", "rows"] == "56" and text.columns[-1] == f"|residual| > {threshold:.3g}"
    empty = cf.residual_summary(diabetes, np.zeros(len(mask), bool))
    assert empty.loc["slice", "rows"] == 0 and np.isnan(empty.loc["slice", "MAE"])
    assert cf.residual_text(empty).startswith("The slice or the rest is empty")
    assert cf.residual_frame(empty).loc["slice", "MAE"] == "–"


def test_residual_histogram_shares_bins(diabetes: Predictions) -> None:
    mask = diabetes.frame["sex"].to_numpy() == "male"
    hist = cf.residual_histogram(diabetes.residual, mask, bins=15)
    everything, edges = np.histogram(diabetes.residual, bins=15)
    np.testing.assert_allclose(hist.edges, edges)
    np.testing.assert_array_equal(hist.slice_counts + hist.rest_counts, everything)
    assert hist.slice_counts.sum() == mask.sum()
    shares = hist.shares()
    assert shares[0].sum() == pytest.approx(1.0) and shares[1].sum() == pytest.approx(1.0)
    assert len(hist.centers) == 15


def test_residual_histogram_ignores_non_finite_values() -> None:
    hist = cf.residual_histogram(np.array([np.nan, np.nan]), np.array([True, False]))
    assert hist.slice_counts.sum() == 0 and len(hist.edges) == 2


@pytest.mark.parametrize(("n", "in_slice"), [(100, 10), (50_000, 300), (50_000, 45_000)])
def test_scatter_positions(n: int, in_slice: int) -> None:
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(0).choice(n, in_slice, replace=False)] = True
    positions = cf.scatter_positions(mask, max_points=20_000)
    assert len(positions) == min(n, 20_000)
    assert np.all(np.diff(positions) > 0)
    if in_slice <= 10_000:
        assert mask[positions].sum() == in_slice  # a small slice is drawn whole
    np.testing.assert_array_equal(positions, cf.scatter_positions(mask, max_points=20_000))


# --------------------------------------------------------------------------- examples


def test_pair_examples_layout(digits: Predictions) -> None:
    rows = cf.pair_mask(digits, (8, 1))
    page = cf.pair_examples(digits, rows, image_uris=["data:x"] * 5)
    columns = list(page.frame.columns)
    assert columns[:6] == ["image", "id", "label", "prediction", "confidence", "error"]
    assert columns[6:16] == [f"prob_{i}" for i in range(10)]
    assert not any(c.startswith(("px_", "emb_")) for c in columns)
    assert page.total == 5 and list(page.frame["confidence"]) == sorted(
        page.frame["confidence"], reverse=True
    )  # all are errors: the most confident first
    np.testing.assert_array_equal(np.sort(cf.example_positions(page)), np.flatnonzero(rows))


def test_pair_examples_at_a_threshold(loans: Predictions) -> None:
    y_pred = cf.binary_predictions(loans, threshold=0.3)
    rows = cf.pair_mask(loans, (0, 1), y_pred=y_pred)
    page = cf.pair_examples(loans, rows, threshold=0.3, page_size=20)
    assert list(page.frame.columns[:5]) == [
        "id",
        "label",
        "prediction",
        "prediction @ 0.30",
        "confidence",
    ]
    assert set(page.frame["prediction @ 0.30"]) == {1}
    assert (page.frame["score"] >= 0.3).all()
    assert page.n_pages == -(-int(rows.sum()) // 20)


# --------------------------------------------------------------------------- figures


def test_heatmap_cells_carry_their_pair(digits: Predictions) -> None:
    from mlqa_debug.analyses.confusion import figures as plots

    matrix = cf.class_confusion(digits)
    fig = plots.confusion_heatmap(matrix, normalize="true", selected=(8, 1), reference=matrix)
    correct, errors, cells = fig.data
    assert cells.type == "scatter" and len(cells.customdata) == 100
    index = 8 * 10 + 1
    assert list(cells.customdata[index]) == [8, 1]
    assert (cells.x[index], cells.y[index]) == ("1", "8")
    assert "true <b>8</b> → predicted <b>1</b>" in cells.hovertext[index]
    assert "5 rows · 5.7% of true 8" in cells.hovertext[index]
    assert errors.text[8][1] == "5.7%" and correct.text[8][1] == ""  # errors drawn apart
    assert np.isnan(errors.z[0][1]) and np.isnan(errors.z[8][8])  # empty cells: no colour
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (0.5, 1.5, 7.5, 8.5)
    assert tuple(fig.layout.yaxis.range) == (9.5, -0.5)  # first class on top, no padding


def test_folded_heatmap_and_difference() -> None:
    from mlqa_debug.analyses.confusion import figures as plots

    counts = np.diag([40] * 6).astype(np.int64)
    counts[4, 5] = 7
    counts[0, 1] = 3
    folded = cf.fold_classes(matrix_of(counts), [0, 1, 2])
    fig = plots.confusion_heatmap(folded, selected=(4, 5))
    assert not fig.layout.shapes  # the selected pair is folded away
    cells = fig.data[-1]
    assert list(cells.customdata[-1]) == [-1, -1]
    assert "includes 7 confusions among other classes" in cells.hovertext[-1]
    diff = plots.difference_heatmap(folded, folded, normalize=None, selected=(0, 1))
    assert diff.data[0].zmid == 0 and set(np.ravel(diff.data[0].text)) == {""}
    assert "difference: +0.00 pts" in diff.data[-1].hovertext[1]


def test_other_figures_build(loans: Predictions, diabetes: Predictions) -> None:
    from mlqa_debug.analyses.confusion import figures as plots

    mask = loans.frame["employment"].to_numpy() == "gig"
    metrics, curves = cf.threshold_report(loans, mask, threshold=0.3)
    fig = plots.pr_curve_figure(curves, points=metrics)
    names = [t.name for t in fig.data]
    assert names[0].startswith("slice (AP ") and "overall at 0.30" in names
    rows = diabetes.frame["bmi"].to_numpy() >= 30
    positions = cf.scatter_positions(rows)
    y_true, y_pred = diabetes.frame["label"].to_numpy(), diabetes.frame["prediction"].to_numpy()
    scatter = plots.predicted_vs_actual(y_true, y_pred, rows, positions, threshold=93.6)
    assert scatter.data[1].name == f"slice ({rows.sum()})" and scatter.data[0].type == "scattergl"
    histogram = cf.residual_histogram(diabetes.residual, rows)
    bars = plots.residual_histograms(histogram, threshold=93.6)
    assert sum(bars.data[1].y) == pytest.approx(1.0)
