"""Tests of mlqa_debug.analyses.compare.pairing: ids, problems reported, refused pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.compare import OUTCOME, pair_predictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CompareError

from .helpers import classification_pair, predictions, regression_pair


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return classification_pair(np.random.default_rng(3), 600)


def _by_id(frame: pd.DataFrame, ids: np.ndarray, column: str) -> np.ndarray:
    return frame.set_index("id").loc[ids, column].to_numpy()


def test_shuffled_order_pairs_by_id(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    shuffled = cand.sample(frac=1.0, random_state=1).reset_index(drop=True)
    paired = pair_predictions(predictions(shuffled, "c.parquet"), predictions(base, "b.parquet"))
    assert paired.n == len(base) and not paired.by_position
    ids = paired.ids()
    np.testing.assert_array_equal(ids, shuffled["id"].to_numpy())  # candidate order
    np.testing.assert_array_equal(paired.pred_baseline, _by_id(base, ids, "prediction"))
    np.testing.assert_array_equal(paired.pred_candidate, _by_id(cand, ids, "prediction"))
    np.testing.assert_array_equal(paired.y_true, _by_id(base, ids, "label"))
    wrong_b = _by_id(base, ids, "prediction") != _by_id(base, ids, "label")
    np.testing.assert_array_equal(paired.wrong_baseline, wrong_b)
    assert paired.summary() == "600 rows compared"
    assert not paired.outcome.flags.writeable


def test_ids_in_one_table_and_repeated_ids_are_reported(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    base, cand = frames
    valid = predictions(base.iloc[5:], "b.parquet")  # the loader refuses repeated ids: build one
    repeated = pd.concat([base.iloc[5:], base.iloc[[10, 11]]], ignore_index=True)
    baseline = Predictions(
        repeated, valid.schema, "repeated", "b.parquet"
    )  # 0-4 gone, 10, 11 twice
    cand = cand.iloc[:-3]  # 597-599 gone
    paired = pair_predictions(predictions(cand, "c.parquet"), baseline)
    assert sorted(paired.only_in_candidate.tolist()) == [0, 1, 2, 3, 4]
    assert sorted(paired.only_in_baseline.tolist()) == [597, 598, 599]
    assert sorted(paired.duplicated_baseline.tolist()) == [10, 11]
    assert len(paired.duplicated_candidate) == 0
    assert paired.n == 600 - 5 - 3
    assert set(paired.ids().tolist()) == set(range(5, 597))
    text = paired.summary()
    assert text.startswith("592 rows compared; 3 only in baseline (e.g. 597, 598, 599)")
    assert "5 only in candidate (e.g. 0, 1, 2, ...)" in text and "2 repeated in baseline" in text


def test_label_mismatches_are_excluded_and_reported(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    base, cand = frames
    base = base.copy()
    changed = [7, 70, 300]
    base.loc[changed, "label"] = (base.loc[changed, "label"] + 1) % 3
    paired = pair_predictions(predictions(cand), predictions(base, "b.parquet"))
    assert sorted(paired.label_mismatches.tolist()) == changed
    assert paired.n == 597 and not set(changed) & set(paired.ids().tolist())
    assert "3 with different labels (left out) (e.g. 7, 70, 300)" in paired.summary()


def test_integer_and_string_ids_match(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    base = base.assign(id=base["id"].astype(str))
    cand = cand.assign(id=cand["id"].astype(np.float64))  # 7.0 is the id '7'
    paired = pair_predictions(predictions(cand), predictions(base, "b.parquet"))
    assert paired.n == 600 and len(paired.only_in_baseline) == 0


def test_string_classes_in_another_order_map_to_the_candidate(rng: np.random.Generator) -> None:
    n = 300
    labels = rng.choice(["cat", "dog", "eel"], n)
    base = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.random(n),
            "label": labels,
            "prediction": rng.choice(["cat", "dog", "eel"], n),
        }
    )
    cand = base.assign(prediction=np.where(rng.random(n) < 0.5, labels, "dog"))
    paired = pair_predictions(predictions(cand), predictions(base))
    classes = np.asarray(paired.classes, dtype=object)
    np.testing.assert_array_equal(classes[paired.pred_baseline], base["prediction"])
    np.testing.assert_array_equal(classes[paired.pred_candidate], cand["prediction"])
    both_wrong = (base["prediction"] != labels) & (cand["prediction"] != labels)
    same = both_wrong & (base["prediction"] == cand["prediction"])
    assert (paired.outcome == OUTCOME["both_wrong_same"]).sum() == same.sum()


def test_different_tasks_are_refused(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    regression = base.assign(label=base["size"], prediction=base["size"] * 1.1)
    with pytest.raises(
        CompareError,
        match=r"candidate 'x.parquet' is multiclass, baseline "
        r"'y.parquet' is regression",
    ):
        pair_predictions(predictions(cand, "x.parquet"), predictions(regression, "y.parquet"))


def test_different_class_sets_name_the_extra_classes(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    base, cand = frames
    cand = cand.assign(
        label=cand["label"].replace({2: 5}), prediction=cand["prediction"].replace({2: 5})
    )
    base = base.assign(
        label=base["label"].replace({2: 5}), prediction=base["prediction"].replace({2: 5})
    )
    base.loc[0, "prediction"] = 9
    with (
        pytest.warns(UserWarning, match="no label has"),
        pytest.raises(CompareError, match=r"class sets differ") as err,
    ):
        pair_predictions(predictions(cand, "c.parquet"), predictions(base, "b.parquet"))
    assert "baseline 'b.parquet' also has 9" in str(err.value)
    assert "candidate 'c.parquet' also has no other class" in str(err.value)


def test_one_table_without_ids_is_refused(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    with pytest.raises(CompareError, match=r"only one table has an id column: 'c.parquet'"):
        pair_predictions(
            predictions(cand, "c.parquet"), predictions(base.drop(columns="id"), "b.parquet")
        )


def test_no_common_id_shows_ids_of_both(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    base = base.assign(id="b" + base["id"].astype(str))
    with pytest.raises(
        CompareError,
        match=r"no id is in both tables: .* has ids 0, 1, 2, \.\.\..*"
        r"'b0', 'b1', 'b2'",
    ):
        pair_predictions(predictions(cand), predictions(base))


def test_neither_with_ids_pairs_by_position(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    base, cand = frames
    paired = pair_predictions(
        predictions(cand.drop(columns="id")), predictions(base.drop(columns="id"))
    )
    assert paired.by_position and paired.n == 600
    np.testing.assert_array_equal(paired.pred_baseline, base["prediction"])
    assert "paired by row order" in paired.summary()
    with pytest.raises(CompareError, match=r"row counts differ .*600 rows.*599"):
        pair_predictions(
            predictions(cand.drop(columns="id")), predictions(base.drop(columns="id").iloc[1:])
        )


def test_pair_mask_and_memo(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    assert pair_predictions(loans_v2, loans) is paired
    assert paired.key == f"{loans_v2.fingerprint}:{loans.fingerprint}"
    mask = loans_v2.frame["employment"].to_numpy() == "gig"
    assert paired.pair_mask(mask).sum() == mask.sum()
    with pytest.raises(CompareError, match="one per candidate row"):
        paired.pair_mask(mask[:-1])
    calls = []
    assert paired.memo("x:1", lambda: calls.append(1) or 5) == 5
    assert paired.memo("x:1", lambda: calls.append(1) or 6) == 5 and calls == [1]


def test_regression_pairs_use_the_baseline_threshold(rng: np.random.Generator) -> None:
    base, cand = regression_pair(rng, 400)
    y = base["label"].to_numpy()
    paired = pair_predictions(
        predictions(cand, task="regression"), predictions(base, task="regression")
    )
    threshold = paired.baseline.schema.error_threshold
    assert paired.error_threshold == threshold
    eb = np.abs(base["prediction"] - y).to_numpy()
    ec = np.abs(cand["prediction"] - y).to_numpy()
    np.testing.assert_allclose(paired.abs_error_baseline, eb)
    np.testing.assert_array_equal(paired.wrong_candidate, ec > threshold)
    np.testing.assert_array_equal(paired.outcome == OUTCOME["broken"], ec - eb > threshold)
    np.testing.assert_array_equal(paired.outcome == OUTCOME["fixed"], ec - eb < -threshold)
    assert not (paired.outcome == OUTCOME["both_wrong_different"]).any()
