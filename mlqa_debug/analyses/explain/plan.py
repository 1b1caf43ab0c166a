"""Which rows to explain, in what order: a slice's rows and a reference sample of the rest.

Every sample is a prefix of one fixed random order of the dataset's rows
(:func:`priority_order`), so a row keeps its place across slices and stored
attributions are reused; what comes first is what the page needs first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlqa_debug.data.predictions import Predictions

DEFAULT_MAX_ROWS = 2_000
ROW_CHOICES = (500, 1_000, 2_000, 5_000, 10_000, 20_000)


def priority_order(predictions: Predictions) -> np.ndarray:
    """A fixed random order of all rows: samples are prefixes, so slices share rows."""
    return predictions.memo(
        "explain-order", lambda: np.random.default_rng(0).permutation(predictions.n_samples)
    )


@dataclass(frozen=True)
class RowPlan:
    """Rows to explain, in priority order: required rows, then slice and rest interleaved."""

    rows: np.ndarray
    required: np.ndarray
    slice_rows: np.ndarray
    rest_rows: np.ndarray
    n_slice: int
    n_rest: int

    @property
    def sampled(self) -> bool:
        return len(self.slice_rows) < self.n_slice or len(self.rest_rows) < self.n_rest


def plan_rows(
    predictions: Predictions,
    mask: np.ndarray,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    required: Sequence[int] | np.ndarray = (),
) -> RowPlan:
    """The slice's rows and a reference sample of the rest, within ``max_rows``.

    The rest gets at least a third of the budget (when it has rows), the slice
    the remainder; both are prefixes of one fixed random order, so a row keeps
    its place across slices and stored attributions are reused.
    """
    order = priority_order(predictions)
    in_slice = np.asarray(mask, dtype=bool)[order]
    slice_all, rest_all = order[in_slice], order[~in_slice]
    n_rest = min(len(rest_all), max(max_rows // 3, max_rows - len(slice_all)))
    n_slice = min(len(slice_all), max_rows - n_rest)
    slice_rows, rest_rows = slice_all[:n_slice], rest_all[:n_rest]
    rank = np.concatenate(
        [(np.arange(n_slice) + 0.5) / max(n_slice, 1), (np.arange(n_rest) + 0.5) / max(n_rest, 1)]
    )
    mixed = np.concatenate([slice_rows, rest_rows])[np.argsort(rank, kind="stable")]
    needed = np.asarray(required, dtype=np.int64)
    rows = unique_positions(np.concatenate([needed, mixed]), predictions.n_samples)
    return RowPlan(rows, needed, slice_rows, rest_rows, len(slice_all), len(rest_all))


def unique_positions(rows: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    """``rows`` as row positions in ``[0, n)``, first occurrences kept, order kept."""
    positions = np.asarray(rows, dtype=np.int64).ravel()
    bad = positions[(positions < 0) | (positions >= n)]
    if len(bad):
        raise ValueError(f"row positions out of range [0, {n}): {bad[:5].tolist()}")
    _, first = np.unique(positions, return_index=True)
    return positions[np.sort(first)]
