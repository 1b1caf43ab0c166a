"""Where it got worse: the paired difference on every value or bin of every feature.

For the user's slice (``within``) and for each value (or quantile bin) of each
non-text feature of the CANDIDATE inside it, both models' metric (error rate, or
MAE for regression), the paired difference (candidate - baseline) with its 95%
interval, the p-value of a paired test and the p-value adjusted for the number of
slices compared (Holm, or Benjamini-Hochberg).

Built for reruns on a million rows: the features of the compared rows are
integer-coded once (:func:`mlqa_debug.slicing.encoding.encode_features`) and packed
several to an integer with the pair's cell (baseline wrong x candidate wrong), so a
change of slice costs a gather and one ``np.bincount`` per packed group over the
smaller side of the mask (the other side is the cached totals minus it).
Classification: Newcombe's paired interval and McNemar's exact test from the 2x2
counts; regression: paired t from per-code sums of ``d = |e_c| - |e_b|`` and ``d²``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mlqa_debug.analyses.breakdown.compute import group_features, pack_codes
from mlqa_debug.analyses.compare.pairing import PairedPredictions
from mlqa_debug.analyses.discovery.service import feature_encoding
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import EMPTY, Slice, slice_mask
from mlqa_debug.slicing.encoding import Encoding
from mlqa_debug.stats import (
    CORRECTIONS,
    Correction,
    adjust_p_values,
    mcnemar_exact_many,
    paired_mean_difference_from_sums,
    paired_proportion_difference_many,
)

__all__ = ["COLUMNS", "DeltaIndex", "SliceDeltas", "delta_index", "slice_deltas"]

COLUMNS = (
    "slice",
    "feature",
    "kind",
    "rows",
    "baseline",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "worse",
    "significant",
)
"""Frame columns (classification adds ``broken`` and ``fixed``)."""


@dataclass(frozen=True)
class SliceDeltas:
    """The per-slice comparison table, worst first, and how it was corrected.

    ``slices`` holds the :class:`~mlqa_debug.slicing.Slice` of each frame row (same
    order), for links.
    """

    frame: pd.DataFrame
    metric: str
    correction: Correction
    alpha: float
    min_size: int
    n_compared: int
    n_hidden: int
    slices: tuple[Slice, ...] = field(default=())

    @property
    def significant(self) -> pd.DataFrame:
        """Rows where the candidate is significantly worse after the correction."""
        return self.frame[self.frame["significant"]]


@dataclass(frozen=True, eq=False)
class DeltaIndex:
    """Feature codes of the compared pairs packed with their cell, and the totals.

    Classification: cell = ``2 * wrong_baseline + wrong_candidate`` (4 cells).
    Regression: one cell; ``weights`` (rows ``e_b``, ``e_c``, ``d²``) are summed per code.
    """

    encoding: Encoding
    groups: tuple[tuple[int, ...], ...]
    packed: np.ndarray  # (n_groups, n_pairs) int32
    n_cells: int
    weights: np.ndarray | None  # (3, n_pairs) float64, regression
    totals: tuple[np.ndarray, ...]  # per group: (bins, n_cells + n_weights) over all pairs
    offsets: np.ndarray
    kinds: tuple[str, ...]  # per flat code: "value", "bin" or "missing"
    columns: tuple[str, ...]  # per flat code: feature column

    @property
    def n_codes(self) -> int:
        return sum(self.encoding.cardinalities)

    def counts(self, mask: np.ndarray | None) -> np.ndarray:
        """``(n_codes, n_cells [+ 3 weight sums])`` inside ``mask`` (over pairs; None = all)."""
        cards = self.encoding.cardinalities
        out = np.zeros((self.n_codes, self.totals[0].shape[1] if self.totals else 0))
        if mask is None:
            inside, rows = True, None
        else:
            inside = int(np.count_nonzero(mask)) <= mask.size // 2
            rows = np.flatnonzero(mask if inside else ~mask)
        for g, group in enumerate(self.groups):
            total = self.totals[g]
            if rows is None:
                joint = total
            else:
                picked = self._bincount(g, rows, total.shape[0] * self.n_cells)
                joint = picked if inside else total - picked
            shaped = joint.reshape(*(cards[j] for j in group), joint.shape[1])
            for axis, j in enumerate(group):
                others = tuple(a for a in range(len(group)) if a != axis)
                start = self.offsets[j]
                out[start : start + cards[j]] = shaped.sum(axis=others) if others else shaped
        return out

    def _bincount(self, g: int, rows: np.ndarray | None, bins: int) -> np.ndarray:
        codes = self.packed[g] if rows is None else self.packed[g][rows]
        counts = np.bincount(codes, minlength=bins)
        if self.weights is None:
            return counts.reshape(-1, self.n_cells).astype(np.float64)
        sums = [counts]
        for w in self.weights:
            sums.append(np.bincount(codes, weights=w if rows is None else w[rows], minlength=bins))
        return np.stack(sums, axis=1)

    @classmethod
    def build(cls, paired: PairedPredictions, *, n_bins: int) -> DeltaIndex:
        """Code the candidate's features on the compared rows and pack them with the cells."""
        encoding = candidate_encoding(paired.candidate, n_bins=n_bins)
        if paired.n != paired.candidate.n_samples or not np.array_equal(
            paired.rows, np.arange(paired.n)
        ):
            encoding = _at_rows(encoding, paired.rows)
        cards = encoding.cardinalities
        if paired.is_classification:
            n_cells, weights = 4, None
            cell = paired.wrong_baseline.astype(np.int32) * 2 + paired.wrong_candidate
        else:
            assert paired.abs_error_baseline is not None and paired.abs_error_candidate is not None
            n_cells, cell = 1, np.zeros(paired.n, dtype=np.int32)
            eb, ec = paired.abs_error_baseline, paired.abs_error_candidate
            weights = np.stack([eb, ec, (ec - eb) ** 2])
        groups = group_features(cards, n_cells=n_cells)
        packed = pack_codes(encoding, groups, cell, n_cells=n_cells)
        index = cls(
            encoding,
            groups,
            packed,
            n_cells,
            weights,
            (),
            _offsets(cards),
            _kinds(encoding),
            _columns(encoding),
        )
        totals = tuple(
            index._bincount(g, None, n_cells * math.prod(cards[j] for j in group))
            for g, group in enumerate(groups)
        )
        return cls(
            encoding,
            groups,
            packed,
            n_cells,
            weights,
            totals,
            index.offsets,
            index.kinds,
            index.columns,
        )


def candidate_encoding(candidate: Predictions, *, n_bins: int = 5) -> Encoding:
    """The candidate's coded features over all its rows, shared with the Discover page.

    Bins are the candidate table's own, as on the Slices and Discover pages; the
    index takes the compared rows' codes from it.
    """
    features = [c for c, k in candidate.schema.features.items() if k != "text"]
    return feature_encoding(candidate, features, n_bins)


def _at_rows(encoding: Encoding, rows: np.ndarray) -> Encoding:
    features = tuple(replace(f, codes=f.codes[rows]) for f in encoding.features)
    return Encoding(features, encoding.skipped)


def _offsets(cards: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)


def _kinds(encoding: Encoding) -> tuple[str, ...]:
    out = []
    for f in encoding.features:
        for preds in f.predicates:
            if preds[0].op == "is missing":
                out.append("missing")
            else:
                out.append("value" if f.kind == "categorical" else "bin")
    return tuple(out)


def _columns(encoding: Encoding) -> tuple[str, ...]:
    return tuple(f.column for f in encoding.features for _ in f.predicates)


def delta_index(paired: PairedPredictions, *, n_bins: int = 5) -> DeltaIndex:
    """The pair's index, built once and kept with the candidate."""
    return paired.memo(f"deltas_index:{n_bins}", lambda: DeltaIndex.build(paired, n_bins=n_bins))


# --------------------------------------------------------------------------- the table


def _check(min_size: int, correction: str, alpha: float, n_bins: int) -> None:
    if min_size < 1:
        raise ParameterError(
            f"min size must be >= 1, got {min_size}", name="min_size", value=min_size
        )
    if correction not in CORRECTIONS:
        raise ParameterError(
            f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}",
            name="correction",
            value=correction,
        )
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}", name="alpha", value=alpha)
    if not 2 <= n_bins <= 50:
        raise ParameterError(
            f"bins per numeric feature must be 2 to 50, got {n_bins}", name="n_bins", value=n_bins
        )


def slice_deltas(
    paired: PairedPredictions,
    mask: np.ndarray | None = None,
    *,
    within: Slice = EMPTY,
    min_size: int = 30,
    correction: Correction = "holm",
    alpha: float = 0.05,
    n_bins: int = 5,
) -> SliceDeltas:
    """The per-slice table (module docstring), worst first; ties by p-value.

    ``mask`` is over PAIRS and should select ``within`` (the page passes
    ``paired.pair_mask(ctx.mask)``); when None it is computed from ``within``.
    Rows: ``within`` itself (kind ``current slice``, or ``all rows`` when it is
    EMPTY; always shown and counted) and every value or bin with at least one row
    inside the mask that does not cover all of it. Slices under ``min_size`` rows
    are hidden and not counted in the correction (``n_hidden``).
    """
    _check(min_size, correction, alpha, n_bins)
    if mask is None and within.predicates:
        mask = paired.pair_mask(slice_mask(paired.candidate, within))
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (paired.n,):
            raise ParameterError(
                f"the mask has {mask.size:,} entries; expected one per compared pair "
                f"({paired.n:,}; use paired.pair_mask for a mask over candidate rows)",
                name="mask",
            )
    index = delta_index(paired, n_bins=n_bins)
    counts = index.counts(mask)
    size = paired.n if mask is None else int(np.count_nonzero(mask))
    whole = _whole(paired, mask, index.n_cells, counts.shape[1])
    rows = counts[:, : index.n_cells].sum(axis=1)
    present = np.flatnonzero((rows > 0) & (rows < size))
    shown = present[rows[present] >= min_size]
    table = np.vstack([whole[None, :], counts[shown]])
    stats = (_rate_stats if paired.is_classification else _mae_stats)(table)
    kinds = ["current slice" if within.predicates else "all rows"]
    kinds += [index.kinds[c] for c in shown]
    features = [""] + [index.columns[c] for c in shown]
    slices = [within] + [within & _code_slice(index, c) for c in shown]
    frame = _frame(stats, slices, features, kinds, correction, alpha)
    order = _order(frame)
    frame = frame.iloc[order].reset_index(drop=True)
    return SliceDeltas(
        frame=frame,
        metric="error_rate" if paired.is_classification else "mae",
        correction=correction,
        alpha=alpha,
        min_size=min_size,
        n_compared=int(np.count_nonzero(frame["p_value"].notna())),
        n_hidden=int(present.size - shown.size),
        slices=tuple(slices[i] for i in order),
    )


def _code_slice(index: DeltaIndex, code: int) -> Slice:
    feature = int(np.searchsorted(index.offsets, code, side="right") - 1)
    return Slice(index.encoding.predicates(feature, int(code - index.offsets[feature])))


def _whole(
    paired: PairedPredictions, mask: np.ndarray | None, n_cells: int, width: int
) -> np.ndarray:
    """The counts (and sums) of the whole mask: the current slice's row."""
    out = np.zeros(width)
    if paired.is_classification:
        wb, wc = paired.wrong_baseline, paired.wrong_candidate
        if mask is not None:
            wb, wc = wb[mask], wc[mask]
        cell = wb.astype(np.int64) * 2 + wc
        out[:n_cells] = np.bincount(cell, minlength=4)
        return out
    assert paired.abs_error_baseline is not None and paired.abs_error_candidate is not None
    eb, ec = paired.abs_error_baseline, paired.abs_error_candidate
    if mask is not None:
        eb, ec = eb[mask], ec[mask]
    out[:] = [eb.size, eb.sum(), ec.sum(), ((ec - eb) ** 2).sum()]
    return out


def _rate_stats(table: np.ndarray) -> dict[str, np.ndarray]:
    """Error rates, Newcombe paired interval and McNemar p from the 4 cells per row.

    Cells: 0 both right, 1 only the candidate wrong (broken), 2 only the baseline
    wrong (fixed), 3 both wrong.
    """
    neither, broken, fixed, both = (np.rint(table[:, i]).astype(np.int64) for i in range(4))
    n = (neither + broken + fixed + both).astype(np.float64)
    diff, low, high = paired_proportion_difference_many(both, broken, fixed, neither)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "rows": n.astype(np.int64),
            "baseline": (both + fixed) / n,
            "candidate": (both + broken) / n,
            "difference": diff,
            "ci_low": low,
            "ci_high": high,
            "p_value": mcnemar_exact_many(broken, fixed),
            "broken": broken,
            "fixed": fixed,
        }


def _mae_stats(table: np.ndarray) -> dict[str, np.ndarray]:
    """MAE of both models and the paired t interval of the mean of ``d = |e_c| - |e_b|``."""
    n, sum_b, sum_c, sum_d2 = (table[:, i] for i in range(4))
    rows = np.rint(n).astype(np.int64)
    diff, low, high, p = paired_mean_difference_from_sums(sum_c - sum_b, sum_d2, rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "rows": rows,
            "baseline": sum_b / n,
            "candidate": sum_c / n,
            "difference": diff,
            "ci_low": low,
            "ci_high": high,
            "p_value": p,
        }


def _frame(
    stats: dict[str, np.ndarray],
    slices: list[Slice],
    features: list[str],
    kinds: list[str],
    correction: Correction,
    alpha: float,
) -> pd.DataFrame:
    p = stats["p_value"].copy()
    p[stats["rows"] == 0] = np.nan
    adjusted = adjust_p_values(p, method=correction)
    worse = np.nan_to_num(stats["difference"], nan=0.0) > 0
    columns: dict[str, object] = {
        "slice": [s.text for s in slices],
        "feature": features,
        "kind": kinds,
        "rows": stats["rows"],
        "baseline": stats["baseline"],
        "candidate": stats["candidate"],
        "difference": stats["difference"],
        "ci_low": stats["ci_low"],
        "ci_high": stats["ci_high"],
        "p_value": p,
        "p_adjusted": adjusted,
        "worse": worse,
        "significant": worse & (np.nan_to_num(adjusted, nan=1.0) < alpha),
    }
    if "broken" in stats:
        columns["broken"] = stats["broken"]
        columns["fixed"] = stats["fixed"]
    return pd.DataFrame(columns)


def _order(frame: pd.DataFrame) -> np.ndarray:
    """Biggest difference in the worse direction first (both metrics: higher is worse), then p."""
    diff = frame["difference"].to_numpy(np.float64)
    p = frame["p_value"].to_numpy(np.float64)
    key_diff = np.where(np.isnan(diff), np.inf, -diff)
    key_p = np.where(np.isnan(p), np.inf, p)
    return np.lexsort((np.arange(len(frame)), key_p, key_diff))
