"""Suspected label errors: planted flips rank high; the ranking is cleanlab's on the same inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from mlqa_debug.analyses.labels import (
    METHODS,
    prepare_inputs,
    rank_inputs,
    rank_suspects,
    table_inputs,
)
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import ParameterError, SchemaError

from .conftest import CLASSES, Planted

PROB_COLUMNS = [f"prob_{c}" for c in CLASSES]


def _reference(labels: np.ndarray, probs: np.ndarray, rank_by: str) -> np.ndarray:
    """Bare cleanlab: the ranked issue indices."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(
            find_label_issues(labels, probs, return_indices_ranked_by=rank_by, n_jobs=1)
        )


def _codes(values: pd.Series, classes: tuple[str, ...]) -> np.ndarray:
    return pd.Categorical(values, categories=list(classes)).codes.astype(np.int64)


@pytest.mark.parametrize(("k", "bound"), [(25, 0.9), (50, 0.9), (100, 0.8)])
def test_planted_flips_rank_near_the_top(
    planted: Planted, planted_predictions: Predictions, k: int, bound: float
) -> None:
    """100 planted flips in 2,000 rows; at k = 100 precision is also recall."""
    result = rank_suspects(planted_predictions)
    top = result.order[:k]
    precision = np.isin(top, planted.flipped).mean()
    print(f"precision at {k}: {precision:.3f} ({len(planted.flipped)} planted)")
    assert precision >= bound
    flagged = result.suspects["position"].to_numpy()
    assert np.isin(planted.flipped, flagged).mean() >= 0.7  # recall of the flagged issues


@pytest.mark.parametrize("rank_by", ["self_confidence", "normalized_margin"])
def test_ranking_is_cleanlabs_on_the_same_inputs(
    planted: Planted, planted_predictions: Predictions, rank_by: str
) -> None:
    frame = planted.frame
    labels = _codes(frame["label"], CLASSES)
    probs = frame[PROB_COLUMNS].to_numpy()
    expected = _reference(labels, probs, rank_by)
    result = rank_suspects(planted_predictions, rank_by=rank_by)  # type: ignore[arg-type]
    assert result.suspects["position"].tolist() == expected.tolist()
    scores = get_label_quality_scores(labels, probs, method=rank_by)
    np.testing.assert_allclose(result.table["score"], scores[result.order], rtol=1e-6)
    assert result.method is METHODS[rank_by]  # type: ignore[index]
    assert "Northcutt" in result.method.citation and "cleanlab" in result.method.citation


def test_suspect_frame_names_given_and_suggested_classes(
    planted: Planted, planted_predictions: Predictions
) -> None:
    table = rank_suspects(planted_predictions).table
    assert list(table.columns) == ["position", "id", "given", "suggested", "score", "is_issue"]
    frame = planted.frame.iloc[table["position"]]
    assert table["id"].tolist() == frame["id"].tolist()
    assert table["given"].tolist() == frame["label"].tolist()
    probs = frame[PROB_COLUMNS].to_numpy().copy()
    probs[np.arange(len(probs)), _codes(frame["label"], CLASSES)] = -1
    assert table["suggested"].tolist() == [CLASSES[j] for j in probs.argmax(axis=1)]
    assert (table["given"] != table["suggested"]).all()
    scores = table["score"].to_numpy()
    rest = scores[~table["is_issue"].to_numpy()]
    assert np.all(np.diff(rest) >= 0)  # after the issues, the others by score


def test_column_order_of_the_file_does_not_change_the_ranking(
    planted: Planted, planted_predictions: Predictions, tmp_path: Path
) -> None:
    shuffled = planted.frame[[*reversed(planted.frame.columns)]]
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    again = rank_suspects(load_predictions(path)).table
    first = rank_suspects(planted_predictions).table
    pd.testing.assert_frame_equal(first, again)


def test_adapter_maps_string_labels_in_any_column_order(planted: Planted) -> None:
    frame = planted.frame
    order = ("dog", "ant", "cat", "bee")  # probability columns in another order
    probs = frame[[f"prob_{c}" for c in order]].to_numpy()
    inputs = prepare_inputs(frame["label"], probs, classes=order)
    assert inputs.classes == order
    np.testing.assert_array_equal(inputs.labels, _codes(frame["label"], order))
    order_idx, flags, _ = rank_inputs(inputs)
    expected = _reference(_codes(frame["label"], order), probs, "self_confidence")
    assert order_idx[flags].tolist() == expected.tolist()


def test_adapter_matches_numeric_labels_given_as_text() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    inputs = prepare_inputs(["0", "1", 0], probs, classes=[0, 1])
    assert inputs.labels.tolist() == [0, 1, 0]


def test_adapter_refuses_a_label_without_probability_column(planted: Planted) -> None:
    frame = planted.frame
    probs = frame[PROB_COLUMNS[:3]].to_numpy()  # no prob_dog
    probs = probs / probs.sum(axis=1, keepdims=True)
    with pytest.raises(SchemaError, match=r"'dog' have no probability column.*prob_dog") as info:
        prepare_inputs(frame["label"], probs, classes=CLASSES[:3], file="planted.csv")
    assert str(info.value).startswith("planted.csv: ")
    assert info.value.rows == np.flatnonzero(frame["label"].to_numpy() == "dog").tolist()


def test_table_without_probabilities_says_what_is_needed(tmp_path: Path) -> None:
    frame = pd.DataFrame({"label": ["a", "b"] * 10, "prediction": ["a", "a"] * 10})
    path = tmp_path / "bare.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ParameterError, match=r"bare.csv: label review needs prob_<class> columns"):
        rank_suspects(load_predictions(path))


def test_classes_no_label_has_are_left_out_as_cleanlab_needs(planted: Planted) -> None:
    frame = planted.frame[planted.frame["label"] != "dog"]
    probs = frame[PROB_COLUMNS].to_numpy()
    inputs = prepare_inputs(frame["label"], probs, classes=CLASSES)
    assert inputs.dropped_classes == ("dog",) and inputs.classes == CLASSES[:3]
    reduced = probs[:, :3] / probs[:, :3].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(inputs.pred_probs, reduced)
    order, flags, _ = rank_inputs(inputs)
    expected = _reference(_codes(frame["label"], CLASSES[:3]), reduced, "self_confidence")
    assert order[flags].tolist() == expected.tolist()
    assert len(expected) > 0  # cleanlab on the full matrix flags nothing here


def test_rows_with_missing_probabilities_are_skipped_and_named(planted: Planted) -> None:
    frame = planted.frame
    probs = frame[PROB_COLUMNS].to_numpy().copy()
    probs[[3, 10, 11], 1] = np.nan
    with pytest.warns(UserWarning, match=r"3 rows have a missing label or probability.*3, 10, 11"):
        inputs = prepare_inputs(frame["label"], probs, classes=CLASSES)
    assert inputs.skipped.tolist() == [3, 10, 11]
    keep = np.setdiff1d(np.arange(len(frame)), [3, 10, 11])
    order, flags, _ = rank_inputs(inputs)
    expected = _reference(_codes(frame["label"], CLASSES)[keep], probs[keep], "self_confidence")
    assert inputs.positions[order[flags]].tolist() == keep[expected].tolist()


def test_slice_scope_ranks_only_the_slice_rows(
    planted: Planted, planted_predictions: Predictions
) -> None:
    frame = planted.frame
    mask = (frame["group"] == "north").to_numpy()
    rows = np.flatnonzero(mask)
    labels = _codes(frame["label"], CLASSES)[rows]
    expected = rows[_reference(labels, frame[PROB_COLUMNS].to_numpy()[rows], "self_confidence")]
    result = rank_suspects(planted_predictions, mask=mask, scope="slice")
    assert result.suspects["position"].tolist() == expected.tolist()
    assert result.n_rows == mask.sum() == result.n_ranked


def test_table_scope_keeps_the_slice_rows_of_the_whole_ranking(
    planted_predictions: Predictions,
) -> None:
    mask = (planted_predictions.frame["group"] == "south").to_numpy()
    whole = rank_suspects(planted_predictions).table
    sliced = rank_suspects(planted_predictions, mask=mask).table
    expected = whole[mask[whole["position"].to_numpy()]].reset_index(drop=True)
    pd.testing.assert_frame_equal(sliced, expected)


def test_a_slice_of_one_class_needs_the_table_scope(planted_predictions: Predictions) -> None:
    mask = (planted_predictions.frame["label"] == "cat").to_numpy()
    assert rank_suspects(planted_predictions, mask=mask).n_ranked == mask.sum()
    with pytest.raises(ParameterError, match="at least two classes"):
        rank_suspects(planted_predictions, mask=mask, scope="slice")


def test_table_inputs_refuses_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"label": rng.normal(size=50), "prediction": rng.normal(size=50)})
    path = tmp_path / "reg.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ParameterError, match="classification task"):
        table_inputs(load_predictions(path))


def test_binary_score_column_is_used(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    score = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.15, 400), 0, 1)
    y[:10] = 1 - y[:10]
    frame = pd.DataFrame({"label": y, "prediction": (score > 0.5).astype(int), "score": score})
    path = tmp_path / "binary.csv"
    frame.to_csv(path, index=False)
    result = rank_suspects(load_predictions(path))
    probs = np.column_stack([1 - score, score])
    assert result.suspects["position"].tolist() == _reference(y, probs, "self_confidence").tolist()


def test_limit_keeps_the_head_of_the_review_order(planted_predictions: Predictions) -> None:
    mask = (planted_predictions.frame["group"] == "north").to_numpy()
    whole = rank_suspects(planted_predictions, mask=mask)
    head = rank_suspects(planted_predictions, mask=mask, limit=7)
    pd.testing.assert_frame_equal(head.table, whole.table.head(7))
    assert (head.n_ranked, head.n_issues, head.n_rows) == (
        whole.n_ranked,
        whole.n_issues,
        whole.n_rows,
    )
    assert whole.n_issues == int(whole.table["is_issue"].sum())
    with pytest.raises(ParameterError, match="limit must be"):
        rank_suspects(planted_predictions, limit=-1)
