"""Small confusion matrices and random codes for the confusion tests."""

from __future__ import annotations

import numpy as np

from mlqa_debug.analyses import confusion as cf


def random_codes(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    return y_true, y_pred


def matrix_of(counts: np.ndarray) -> cf.ConfusionMatrix:
    k = len(counts)
    errors = int(counts.sum() - np.trace(counts))
    return cf.ConfusionMatrix(counts, tuple(f"c{i}" for i in range(k)), tuple(range(k)), errors)
