"""The label review's sentences and figure: worth_reading against a brute-force reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.labels import Reliability
from mlqa_debug.analyses.labels.figures import probability_bars
from mlqa_debug.analyses.labels.view import (
    feature_frame,
    reliability_sentence,
    worth_reading,
)
from mlqa_debug.data.predictions import Predictions


def reliability(order: np.ndarray, ks: list[int]) -> Reliability:
    """The table ranking_reliability reports for a review order of planted (1) / not (0)."""
    hits = np.cumsum(order)
    planted = int(order.sum())
    rows = [(k, int(hits[k - 1]), hits[k - 1] / k, hits[k - 1] / planted, min(k, planted) / k)
            for k in ks]  # fmt: skip
    table = pd.DataFrame(rows, columns=["k", "found", "precision", "recall", "best_precision"])
    return Reliability(table, np.flatnonzero(order), 1000, 0.05, 0, 1.0)


def brute_force(order: np.ndarray, ks: list[int], bar: float) -> int | None:
    """The deepest k whose every stretch (between consecutive ks) is at least ``bar`` planted."""
    deepest, start = None, 0
    for k in ks:
        if order[start:k].mean() < bar:
            return deepest
        deepest, start = k, k
    return deepest


@pytest.mark.parametrize("seed", range(20))
def test_worth_reading_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    order = (rng.random(600) < np.linspace(0.95, 0.05, 600)).astype(int)
    ks = [10, 25, 50, 100, 250, 500]
    assert worth_reading(reliability(order, ks)) == brute_force(order, ks, 0.5)


def test_sentences_name_the_depth_and_the_seed() -> None:
    strong = reliability(np.r_[np.ones(100, int), np.zeros(500, int)], [10, 50, 100, 250])
    assert "Worth reading down to about position 100" in reliability_sentence(strong)
    assert "seed 0" in reliability_sentence(strong)
    weak = reliability(np.r_[np.zeros(10, int), np.ones(5, int), np.zeros(100, int)], [10, 50])
    assert worth_reading(weak) is None
    assert "the ranking is weak" in reliability_sentence(weak)


def test_bars_keep_given_and_predicted_among_many_classes() -> None:
    probs = np.full(30, 0.01)
    probs[[3, 7]] = [0.4, 0.3]
    figure = probability_bars([f"c{i}" for i in range(30)], probs, given=29, predicted=3, limit=5)
    labels = list(figure.data[0].y)
    assert len(labels) == 5 and "c29 (given)" in labels and "c3 (predicted)" in labels
    assert "c7" in labels
    assert "5 most probable of 30" in figure.layout.title.text


def test_feature_frame_leaves_pixels_out(digits: Predictions, loans: Predictions) -> None:
    assert feature_frame(digits, 0).empty
    frame = feature_frame(loans, 0)
    assert list(frame["feature"]) == list(loans.schema.features)
    assert "nan" not in set(frame["value"])
