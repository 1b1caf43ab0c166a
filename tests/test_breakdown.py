"""Feature breakdown inside a slice, against a brute-force group-by."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from mlqa_debug import load_predictions
from mlqa_debug.analyses.breakdown import breakdown_index, feature_breakdown
from mlqa_debug.data.predictions import Predictions


@pytest.fixture
def predictions() -> Predictions:
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "region name": rng.choice(["north", "south", "east", None], n),
            "age": rng.integers(18, 80, n),
            "income.k": np.where(rng.random(n) < 0.05, np.nan, rng.gamma(3, 20, n)),
            "label": rng.integers(0, 2, n),
        }
    )
    frame["prediction"] = np.where(rng.random(n) < 0.8, frame["label"], 1 - frame["label"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    buffer.seek(0)
    buffer.name = "frame.parquet"
    return load_predictions(buffer)


@pytest.mark.parametrize("share", [0.0, 0.01, 0.3, 0.7, 1.0])
def test_counts_match_group_by(predictions: Predictions, share: float) -> None:
    rng = np.random.default_rng(int(share * 100))
    mask = rng.random(predictions.n_samples) < share
    index = breakdown_index(predictions)
    counts = index.counts(mask)
    error = predictions.error
    for j, feature in enumerate(index.encoding.features):
        codes = feature.codes[mask]
        expected_rows = np.bincount(codes, minlength=feature.cardinality)
        expected_errors = np.bincount(codes, weights=error[mask], minlength=feature.cardinality)
        block = counts[index.offsets[j] : index.offsets[j] + feature.cardinality]
        np.testing.assert_array_equal(block.sum(axis=1), expected_rows)
        np.testing.assert_array_equal(block[:, 1], expected_errors)


def test_rows_are_exact_and_sorted(predictions: Predictions) -> None:
    mask = predictions.frame["age"].to_numpy() >= 40
    table = feature_breakdown(predictions, mask)
    assert not table.empty
    assert list(table["z"]) == sorted(table["z"], reverse=True)
    frame = predictions.slice_frame
    for row in table.itertuples(index=False):
        selected = mask & row.slice.mask(frame)
        assert row.rows == int(selected.sum())
        assert row.errors == int(predictions.error[selected].sum())
        assert 0 < row.rows < int(mask.sum())  # values covering the whole slice are left out


def test_missing_values_get_their_own_row(predictions: Predictions) -> None:
    table = feature_breakdown(predictions, np.ones(predictions.n_samples, dtype=bool))
    assert "`region name` is missing" in set(table["value"])
    assert "`income.k` is missing" in set(table["value"])


def test_empty_slice_gives_empty_table(predictions: Predictions) -> None:
    table = feature_breakdown(predictions, np.zeros(predictions.n_samples, dtype=bool))
    assert table.empty
    assert "slice" in table.columns
