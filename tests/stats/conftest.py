"""Seeded classification tables for the tests of mlqa_debug.stats."""

from __future__ import annotations

import numpy as np
import pytest

from tests.stats.helpers import ClassTable, softmax


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


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
    probs = softmax(logits)
    y_pred = probs.argmax(axis=1)
    swap = rng.random(n) < 0.1
    y_pred[swap] = rng.integers(0, k, int(swap.sum()))
    y_pred[:7] = 4
    return ClassTable(y_true, y_pred, probs, ("a", "b", "c", "d", "e"))


@pytest.fixture(params=["binary", "multiclass"])
def class_table(request: pytest.FixtureRequest) -> ClassTable:
    table: ClassTable = request.getfixturevalue(f"{request.param}_table")
    return table
