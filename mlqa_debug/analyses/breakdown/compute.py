"""Error rate by value (or bin) of every feature inside a slice.

Built for reruns on a million rows: the features are integer-coded once
(:func:`mlqa_debug.slicing.encoding.encode_features`) and packed several to
an integer with the error bit (:class:`BreakdownIndex`), so one change of slice
costs a gather and a ``np.bincount`` per group over the smaller side of the mask
(the other side is the cached totals minus it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import Encoding, Predicate, Slice, encode_features

__all__ = ["MAX_ROWS", "N_BINS", "BreakdownIndex", "breakdown_index", "feature_breakdown"]

N_BINS = 5
"""Quantile bins per numeric feature."""
MAX_ROWS = 100
"""Rows of the breakdown table, worst first."""
MAX_GROUP_BINS = 2**12
"""Most bins one packed code may address (features x values x error bit)."""


@dataclass(frozen=True, eq=False)
class BreakdownIndex:
    """Feature codes packed several to an integer, with the error bit, and their totals.

    A group of features ``(f1, f2, f3)`` with ``k1, k2, k3`` codes is stored as
    ``((c1 * k2 + c2) * k3 + c3) * 2 + error``, so one ``bincount`` per group
    gives the joint counts, and summing out the other axes each feature's.
    """

    encoding: Encoding
    groups: tuple[tuple[int, ...], ...]  # feature indices per packed code
    packed: np.ndarray  # (n_groups, n_samples) int32
    totals: tuple[np.ndarray, ...]  # bincount of each packed row over all rows
    offsets: np.ndarray  # first code of each feature in the flat (n_codes, 2) result
    error_rate: float
    columns: np.ndarray  # per flat code: its feature's column name
    predicates: tuple[tuple[Predicate, ...], ...]  # per flat code: the predicates selecting it

    def slice_of(self, code: int) -> Slice:
        """The slice selecting one flat code (built when a table shows it, not for all)."""
        return Slice(self.predicates[code])

    @classmethod
    def build(cls, predictions: Predictions, *, n_bins: int = N_BINS) -> BreakdownIndex:
        """Code the dataset's features (text columns aside) and pack them with the error bit."""
        features = [c for c, k in predictions.schema.features.items() if k != "text"]
        encoding = encode_features(predictions.frame, features, n_bins=n_bins)
        cards = encoding.cardinalities
        groups = group_features(cards, n_cells=2)
        packed = pack_codes(encoding, groups, predictions.error.astype(np.int32), n_cells=2)
        totals = [
            np.bincount(row, minlength=2 * math.prod(cards[j] for j in group))
            for row, group in zip(packed, groups, strict=True)
        ]
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)
        columns = np.repeat(
            np.array(encoding.columns, dtype=object), [f.cardinality for f in encoding.features]
        )
        predicates = tuple(p for f in encoding.features for p in f.predicates)
        error_rate = float(predictions.error.mean())
        return cls(
            encoding, groups, packed, tuple(totals), offsets, error_rate, columns, predicates
        )

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """``(n_codes, 2)`` rows without / with an error per code, inside ``mask``."""
        inside = int(np.count_nonzero(mask)) <= mask.size // 2
        rows = np.flatnonzero(mask if inside else ~mask)
        cards = self.encoding.cardinalities
        out = np.zeros((sum(cards), 2), dtype=np.int64)
        for group, packed, total in zip(self.groups, self.packed, self.totals, strict=True):
            picked = np.bincount(packed[rows], minlength=total.size)
            joint = (picked if inside else total - picked).reshape(*(cards[j] for j in group), 2)
            for axis, j in enumerate(group):
                others = tuple(a for a in range(len(group)) if a != axis)
                start = self.offsets[j]
                out[start : start + cards[j]] = joint.sum(axis=others)
        return out


def group_features(cards: list[int], *, n_cells: int) -> tuple[tuple[int, ...], ...]:
    """Consecutive features packed while joint bins x ``n_cells`` stay under MAX_GROUP_BINS."""
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    bins = n_cells
    for j, card in enumerate(cards):
        if current and bins * card > MAX_GROUP_BINS:
            groups.append(tuple(current))
            current, bins = [], n_cells
        current.append(j)
        bins *= card
    if current:
        groups.append(tuple(current))
    return tuple(groups)


def pack_codes(
    encoding: Encoding, groups: tuple[tuple[int, ...], ...], cell: np.ndarray, *, n_cells: int
) -> np.ndarray:
    """``(n_groups, n_rows)`` int32: each group's codes packed with the row's cell (< n_cells)."""
    cards = encoding.cardinalities
    packed = np.empty((len(groups), len(cell)), dtype=np.int32)
    for g, group in enumerate(groups):
        row = packed[g]
        row[:] = 0
        for j in group:
            row *= cards[j]
            row += encoding.features[j].codes
        row *= n_cells
        row += cell
    return packed


def breakdown_index(predictions: Predictions) -> BreakdownIndex:
    """The dataset's index, built once and kept with the dataset."""
    return predictions.memo("breakdown_index", lambda: BreakdownIndex.build(predictions))


def feature_breakdown(
    predictions: Predictions, mask: np.ndarray, *, limit: int = MAX_ROWS
) -> pd.DataFrame:
    """One row per (feature, value or bin) present in the slice, worst first.

    Columns: ``feature``, ``value`` (its predicate text), ``rows``, ``errors``,
    ``error rate``, ``lift`` (over the overall error rate), ``z`` (errors above
    what the overall rate predicts, in standard deviations) and ``slice`` (the
    :class:`Slice` that adds the value). Values that cover the whole slice are
    left out: adding them would change nothing.
    """
    index = breakdown_index(predictions)
    counts = index.counts(mask)
    size = int(np.count_nonzero(mask))
    rows = counts.sum(axis=1)
    errors = counts[:, 1]
    keep = np.flatnonzero((rows > 0) & (rows < size))
    if keep.size == 0:
        return pd.DataFrame(
            columns=["feature", "value", "rows", "errors", "error rate", "lift", "z", "slice"]
        )
    p0 = index.error_rate
    n, e = rows[keep].astype(np.float64), errors[keep].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = e / n
        lift = rate / p0 if p0 > 0 else np.full_like(rate, np.nan)
        z = (e - n * p0) / np.sqrt(n * p0 * (1 - p0)) if 0 < p0 < 1 else np.zeros_like(rate)
    order = np.argsort(-z, kind="stable")[:limit]
    codes = keep[order]
    slices = [index.slice_of(int(c)) for c in codes]
    return pd.DataFrame(
        {
            "feature": index.columns[codes],
            "value": [s.text for s in slices],
            "rows": n[order].astype(np.int64),
            "errors": e[order].astype(np.int64),
            "error rate": rate[order],
            "lift": lift[order],
            "z": z[order],
            "slice": slices,
        }
    )
