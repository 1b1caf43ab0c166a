"""Roles, task and classes resolved on an engine agree with the loader; bad tables are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.errors import SchemaError
from tests.engines.conftest import multiclass_frame


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "t.parquet") -> Path:
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    "label, prediction",
    [
        (np.r_[np.arange(30.0), np.arange(30.0)], np.r_[np.arange(30.0), np.arange(30.0)] + 0.5),
        (np.tile([0.0, 1.0], 30), np.tile([1.0, 1.0], 30)),  # integral floats: binary
        (np.arange(60) % 25, (np.arange(60) % 25).astype(float)),  # many ints, float preds
        (np.arange(60) % 5, np.arange(60) % 4),
    ],
)
def test_the_task_and_classes_are_the_loaders(
    tmp_path: Path, label: np.ndarray, prediction: np.ndarray, open_on: Any
) -> None:
    frame = pd.DataFrame({"label": label, "prediction": prediction, "x": np.arange(60) % 3})
    path = _write(tmp_path, frame)
    expected = load_predictions(path).schema
    got = open_on(path, "duckdb").schema
    assert (got.task, got.classes, got.positive) == (
        expected.task,
        expected.classes,
        expected.positive,
    )
    assert dict(got.features) == dict(expected.features)


def test_a_class_only_predicted_and_probability_columns(tmp_path: Path, open_on: Any) -> None:
    frame = multiclass_frame()
    frame.loc[0, "prediction"] = "émeu"
    frame.loc[frame["label"] == "émeu", "label"] = "cat"  # émeu: predicted, never a label
    path = _write(tmp_path, frame)
    with pytest.warns(UserWarning, match="that no label has"):
        expected = load_predictions(path).schema
    got = open_on(path, "duckdb").schema
    assert got.classes == expected.classes == ("cat", "dog", "émeu")
    assert dict(got.proba) == dict(expected.proba)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": [0, None, 1, 1]}, r"label column 'label' has 1 missing values"),
        ({"score": [0.1, 1.5, 0.2, 0.3]}, r"'score' has 1 values that are not numbers in \[0, 1\]"),
        ({"prediction": None}, "no prediction column"),
        ({"label": None}, "no label column"),
    ],
)
def test_bad_tables_are_refused_naming_the_file(
    tmp_path: Path, change: dict[str, Any], message: str, open_on: Any
) -> None:
    frame = pd.DataFrame(
        {"label": [0, 1, 1, 0], "prediction": [0, 1, 0, 0], "score": [0.1, 0.9, 0.4, 0.3]}
    )
    for column, values in change.items():
        if values is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = values
    path = _write(tmp_path, frame, "bad.parquet")
    with pytest.raises(SchemaError, match=message) as info:
        open_on(path, "duckdb")
    assert "bad.parquet" in str(info.value)
