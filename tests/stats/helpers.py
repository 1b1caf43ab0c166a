"""Seeded tables, masks and assertions shared by the tests of mlqa_debug.stats."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mlqa_debug.stats import (
    ClassificationData,
    ClassificationMetrics,
    Estimate,
    RegressionMetrics,
    evaluate,
    prepare_classification,
)

Z95 = 1.959963984540054
MASK_KINDS = ["all", "random", "empty", "one_row", "most", "all_but_one"]


@dataclass(frozen=True)
class ClassTable:
    """A seeded classification table: integer codes, probabilities and class names."""

    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray
    classes: tuple[str, ...]

    def prepare(self, *, with_probs: bool = True, n_bins: int = 10) -> ClassificationData:
        probs = self.probs if with_probs else None
        return prepare_classification(
            self.y_true, self.y_pred, classes=self.classes, pred_probs=probs, n_bins=n_bins
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def make_mask(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of one of MASK_KINDS over n rows."""
    mask = np.zeros(n, dtype=bool)
    if kind == "all":
        mask[:] = True
    elif kind == "random":
        mask = rng.random(n) < 0.3
    elif kind == "one_row":
        mask[n // 2] = True
    elif kind == "most":  # more than half: summed through the complement
        mask = rng.random(n) < 0.9
    elif kind == "all_but_one":
        mask[:] = True
        mask[3] = False
    return mask


def masked_metrics(
    table: ClassTable, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, ClassificationMetrics]:
    """A mask of one of MASK_KINDS over the table's rows, and the metrics of those rows."""
    mask = make_mask(kind, len(table.y_true), rng)
    return mask, evaluate(table.prepare(), mask)


@contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def assert_estimate_contains_value(estimate: Estimate) -> None:
    if not math.isnan(estimate.low):
        assert estimate.low <= estimate.value <= estimate.high


def assert_difference_is_sane(
    inside: ClassificationMetrics | RegressionMetrics,
    rest: ClassificationMetrics | RegressionMetrics,
    p_value: float,
) -> None:
    if inside.n and rest.n:
        assert 0.0 <= p_value <= 1.0
    else:
        assert math.isnan(p_value)
