"""Error rate by value (or bin) of every feature inside a slice.

Built for reruns on a million rows: the features are integer-coded once
(:func:`mlqa_debug.discovery.encoding.encode_features`), stacked with offsets
and with the error bit folded in (``2 * code + error``), so one change of slice
costs one gather and one ``np.bincount`` over the smaller side of the mask
(the other side is the cached totals minus it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug.discovery.encoding import Encoding, encode_features
from mlqa_debug.loading import Predictions
from mlqa_debug.slices import Slice

N_BINS = 5
MAX_ROWS = 300


@dataclass(frozen=True, eq=False)
class BreakdownIndex:
    """Stacked codes of every feature with the error bit, and their totals."""

    encoding: Encoding
    stacked: np.ndarray  # (n_features, n_samples): 2 * (offset + code) + error
    offsets: np.ndarray  # first stacked code of each feature
    totals: np.ndarray  # bincount of ``stacked`` over all rows
    error_rate: float

    @classmethod
    def build(cls, predictions: Predictions, *, n_bins: int = N_BINS) -> BreakdownIndex:
        features = [c for c, k in predictions.schema.features.items() if k != "text"]
        encoding = encode_features(predictions.frame, features, n_bins=n_bins)
        cards = np.asarray(encoding.cardinalities, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]) if len(cards) else cards
        n_codes = int(cards.sum())
        dtype = np.int16 if 2 * n_codes < np.iinfo(np.int16).max else np.int32
        error = predictions.error.astype(dtype)
        stacked = np.empty((len(cards), predictions.n_samples), dtype=dtype)
        for j, feature in enumerate(encoding.features):
            np.add(feature.codes, offsets[j], out=stacked[j], casting="unsafe")
            stacked[j] *= 2
            stacked[j] += error
        totals = np.bincount(stacked.ravel(), minlength=2 * n_codes)
        return cls(encoding, stacked, offsets, totals, float(predictions.error.mean()))

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """``(n_codes, 2)`` rows without / with an error per code, inside ``mask``."""
        n_inside = int(np.count_nonzero(mask))
        inside = n_inside <= mask.size // 2
        rows = np.flatnonzero(mask if inside else ~mask)
        picked = np.bincount(self.stacked[:, rows].ravel(), minlength=self.totals.size)
        result = picked if inside else self.totals - picked
        return result.reshape(-1, 2)


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
    feature_of = np.searchsorted(index.offsets, keep, side="right") - 1
    records = []
    for i in order:
        j = int(feature_of[i])
        code = int(keep[i] - index.offsets[j])
        feature = index.encoding.features[j]
        records.append(
            {
                "feature": feature.column,
                "value": feature.label(code),
                "rows": int(n[i]),
                "errors": int(e[i]),
                "error rate": float(rate[i]),
                "lift": float(lift[i]),
                "z": float(z[i]),
                "slice": Slice(feature.predicates[code]),
            }
        )
    return pd.DataFrame.from_records(records)
