"""Tests of mlqa_debug.analyses.confusion.pairs: URL form, slice, mask and examples of a cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import ParameterError, SliceError
from mlqa_debug.slicing import parse_slice, slice_mask


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
    with pytest.raises(ParameterError, match=message) as info:
        cf.parse_pair(text, classes)
    assert info.value.name == "pair" and not isinstance(info.value, SliceError)
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


def test_pair_slice_at_a_threshold(loans: Predictions) -> None:
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
