"""Tests of mlqa_debug.analyses.confusion.compute against scikit-learn and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    confusion_matrix,
)

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import parse_slice, slice_mask
from tests.analyses.confusion.helpers import matrix_of, random_codes


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
    with pytest.raises(ParameterError, match="classification task"):
        cf.class_confusion(diabetes)


def test_to_frame_labels_rows_and_columns(digits: Predictions) -> None:
    frame = cf.class_confusion(digits).to_frame("true")
    assert frame.index.name == "true" and frame.columns.name == "predicted"
    np.testing.assert_allclose(frame.sum(axis=1), 1.0)


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
    ("text", "expected"),
    [(None, 12), ("5", 5), ("2", 2), ("1", 12), ("500", 500), ("501", 12), ("-3", 12),
     ("١٢", 12), ("99999999999999999999", 12), ("x", 12)],
)  # fmt: skip
def test_parse_top(text: str | None, expected: int) -> None:
    assert cf.parse_top(text) == expected
