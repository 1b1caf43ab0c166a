"""Permutation SHAP in numpy against brute-force Shapley values."""

from __future__ import annotations

import itertools
import math

import numpy as np

from mlqa_debug.analyses import explain as ex


def test_permutation_shap_equals_brute_force_shapley_values() -> None:
    """With up to 4 features every order is used: the exact interventional Shapley values."""
    rng = np.random.default_rng(3)
    rows, background = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))

    def f(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, 0] * x[:, 1] + np.sin(x[:, 2]), np.maximum(x[:, 3], x[:, 0])])

    values, base, output = ex.permutation_shap(f, rows, background, seeds=range(5))

    def v(row: np.ndarray, subset: tuple[int, ...]) -> np.ndarray:
        x = background.copy()
        x[:, list(subset)] = row[list(subset)]
        return f(x).mean(axis=0)

    n = 4
    for i, row in enumerate(rows):
        for j in range(n):
            others = [k for k in range(n) if k != j]
            phi = sum(
                math.factorial(len(s)) * math.factorial(n - len(s) - 1) / math.factorial(n)
                * (v(row, (*s, j)) - v(row, s))
                for size in range(n) for s in itertools.combinations(others, size)
            )  # fmt: skip
            np.testing.assert_allclose(values[i, j], phi, atol=1e-12)
        np.testing.assert_allclose(base[i], f(background).mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(output[i], f(row[None])[0], atol=1e-12)


def test_permutation_shap_of_a_row_does_not_depend_on_its_batch() -> None:
    rng = np.random.default_rng(4)
    rows, background = rng.normal(size=(6, 9)), rng.normal(size=(5, 9))

    def f(x: np.ndarray) -> np.ndarray:
        return x[:, 0] * x[:, 1] - x[:, 2] * x[:, 8] + x[:, 4] ** 2

    together = ex.permutation_shap(f, rows, background, seeds=range(10, 16), chunk_rows=100)[0]
    alone = ex.permutation_shap(f, rows[3:4], background, seeds=[13])[0]
    np.testing.assert_array_equal(together[3], alone[0])
    np.testing.assert_allclose(together.sum(axis=1)[:, 0], f(rows) - f(background).mean(), 1e-10)
