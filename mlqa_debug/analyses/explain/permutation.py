"""Permutation SHAP in numpy: interventional Shapley values of any function of numbers.

It computes what ``shap.PermutationExplainer`` with an ``Independent`` masker
computes, vectorised with one model call per chunk of rows: two antithetic
pairs of feature orders per row, seeded by the row, every order for up to 4
features. shap's own version spends 8-9 s compiling numba code in every new
server process before its first row, which would break "a first explanation
within seconds".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

AGNOSTIC_PERMUTATIONS = 2
MAX_EXACT_PERMUTATIONS = 24


def _permutations(n_features: int, n_pairs: int, seed: int) -> np.ndarray:
    """Feature orders for permutation SHAP: all of them for a few features, else
    ``n_pairs`` random orders and their reverses (antithetic), seeded."""
    if math.factorial(n_features) <= MAX_EXACT_PERMUTATIONS:
        return np.array(list(itertools.permutations(range(n_features))), dtype=np.int64)
    rng = np.random.default_rng(seed)
    forward = np.stack([rng.permutation(n_features) for _ in range(n_pairs)])
    return np.concatenate([forward, forward[:, ::-1]])


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    *,
    seeds: Sequence[int],
    n_pairs: int = AGNOSTIC_PERMUTATIONS,
    chunk_rows: int = 50_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interventional SHAP values of ``f`` by permutation sampling, vectorised.

    For each row and feature order, features are switched from background to
    the row's values one by one; each switch's change in the background-mean
    output is that feature's part, averaged over the orders. Base + values
    equals ``f`` exactly for every order, so additivity is exact; with at most
    4 features every order is used and the values are the exact Shapley values.
    ``f`` maps ``(N, F)`` to ``(N,)`` or ``(N, K)``; returns values ``(n, F, K)``,
    base ``(n, K)`` and output ``(n, K)``. Row i's orders come from ``seeds[i]``,
    so a row's values do not depend on the other rows.
    """
    n, n_features = rows.shape
    per_row = len(_permutations(n_features, n_pairs, 0)) * (n_features + 1) * len(background)
    step = max(1, chunk_rows // per_row)
    parts = [
        _permutation_block(f, rows[i : i + step], background, seeds[i : i + step], n_pairs)
        for i in range(0, n, step)
    ]
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(3))  # type: ignore[return-value]


def _permutation_block(
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    seeds: Sequence[int],
    n_pairs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_features = rows.shape[1]
    orders = np.stack([_permutations(n_features, n_pairs, int(s)) for s in seeds])  # (b, P, F)
    rank = np.argsort(orders, axis=-1)  # position of each feature in each order
    masks = rank[:, :, None, :] < np.arange(n_features + 1)[:, None]  # (b, P, F+1, F)
    inputs = np.where(masks[:, :, :, None, :], rows[:, None, None, None, :], background)
    out = np.asarray(f(inputs.reshape(-1, n_features)), dtype=np.float64)
    out = out.reshape(*inputs.shape[:4], -1).mean(axis=3)  # (b, P, F+1, K)
    steps = out[:, :, 1:] - out[:, :, :-1]  # steps[..., k, :] is the part of orders[..., k]
    values = np.take_along_axis(steps, rank[..., None], axis=2).mean(axis=1)
    return values, out[:, :, 0].mean(axis=1), out[:, :, -1].mean(axis=1)
