"""Tests of analyses.embeddings.vectors: the matrix a map is drawn from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import vectors
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError
from tests.analyses.embeddings.helpers import load
from tests.conftest import NUMERIC_NAME, QUOTED_NAME, TEXT_NAME, UNICODE_NAME


def test_features_are_encoded_without_the_target(binary_frame: pd.DataFrame, write_table) -> None:
    predictions = load(binary_frame, write_table)
    inp = emb.projection_input(predictions)
    assert inp.source == "features"
    assert TEXT_NAME not in inp.columns and "label" not in inp.columns
    assert "score" not in inp.columns and "id" not in inp.columns
    shuffled = binary_frame.assign(
        label=binary_frame["label"].to_numpy()[::-1],
        prediction=1 - binary_frame["prediction"],
        score=1 - binary_frame["score"],
    )
    again = emb.projection_input(load(shuffled, write_table))
    np.testing.assert_array_equal(inp.matrix, again.matrix)


def test_numeric_columns_are_standardised_and_categoricals_one_hot(
    binary_frame: pd.DataFrame, write_table
) -> None:
    predictions = load(binary_frame, write_table)
    matrix = emb.projection_input(predictions).matrix.astype(np.float64)
    raw = binary_frame[NUMERIC_NAME].to_numpy(np.float64)
    expected = (raw - raw.mean()) / raw.std()
    matches = [j for j in range(matrix.shape[1]) if np.allclose(matrix[:, j], expected, atol=1e-5)]
    assert matches, "the numeric column appears standardised"
    codes = binary_frame[UNICODE_NAME].astype("category").cat.codes.to_numpy()
    one_hot = [
        j for j in range(matrix.shape[1]) if set(np.round(matrix[:, j], 5)) == {0.0, 0.70711}
    ]
    for value in range(3):  # each value of the categorical column has its own column
        assert any(np.array_equal(matrix[:, j] > 0, codes == value) for j in one_hot), (
            f"value {value}"
        )


def test_missing_values_get_an_indicator_and_rare_categories_share_a_column(
    binary_frame: pd.DataFrame, write_table
) -> None:
    frame = binary_frame.copy()
    frame.loc[::7, NUMERIC_NAME] = np.nan
    frame[QUOTED_NAME] = [f"v{i % 9}" for i in range(len(frame))]
    predictions = load(frame, write_table)
    wide = vectors._build_input(predictions, max_categories=20).matrix
    narrow = vectors._build_input(predictions, max_categories=3).matrix
    assert wide.shape[1] - narrow.shape[1] == 9 - 3  # 9 values -> 2 kept + 1 shared column
    indicator = (frame[NUMERIC_NAME].isna()).to_numpy(np.float64)
    assert any(np.array_equal(wide[:, j], indicator) for j in range(wide.shape[1]))
    assert np.isfinite(wide).all()


def test_the_embedding_is_used_as_it_is(digits: Predictions) -> None:
    inp = emb.projection_input(digits)
    assert inp.source == "embedding" and inp.columns == tuple(f"emb_{i}" for i in range(16))
    np.testing.assert_array_equal(inp.matrix, digits.frame[list(inp.columns)].to_numpy(np.float32))
    assert "16 embedding columns" in inp.description


def test_nothing_to_project_is_a_clear_error(write_table) -> None:
    frame = pd.DataFrame(
        {
            "label": [0, 1] * 30,
            "prediction": [0, 0] * 30,
            "note": [f"text {i}" * 20 for i in range(60)],
        }
    )
    predictions = load(frame, write_table)
    with pytest.raises(SchemaError, match="nothing to draw a map from"):
        emb.projection_input(predictions)
