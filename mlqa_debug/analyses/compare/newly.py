"""Where it newly fails: slice discovery on the "broken" indicator of the compared pairs.

SliceLine (:func:`mlqa_debug.analyses.discovery.find_slices`) searches the candidate's
coded features (the same codes as :mod:`.deltas`) for slices, of up to ``max_level``
predicates, where many pairs broke (baseline right, candidate wrong). Each result
carries both models' error rates on the slice and McNemar's exact p-value. Results
are cached on disk by the pair's fingerprints and every parameter, as discovery does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlqa_debug.analyses.compare.deltas import delta_index
from mlqa_debug.analyses.compare.pairing import OUTCOME, PairedPredictions
from mlqa_debug.analyses.discovery import find_slices
from mlqa_debug.cache import DiskCache, cache_key
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import EMPTY, Slice, parse_slice, slice_mask
from mlqa_debug.stats import mcnemar_exact

__all__ = ["NewFailure", "NewFailures", "newly_failing"]

ALPHA = 0.95
"""SliceLine's weight of the error term (as discovery's default)."""


@dataclass(frozen=True)
class NewFailure:
    """One slice where the candidate broke pairs, with both models' error rates on it."""

    slice: Slice
    size: int
    broken: int
    broken_rate: float
    score: float
    baseline_error: float
    candidate_error: float
    difference: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["slice"] = self.slice.text
        return out


@dataclass(frozen=True)
class NewFailures:
    """Ranked slices (best SliceLine score first) and what the search ran on."""

    slices: tuple[NewFailure, ...]
    n_rows: int
    n_broken: int
    cached: bool = False

    @property
    def broken_rate(self) -> float:
        return self.n_broken / self.n_rows if self.n_rows else float("nan")


def _check(k: int, max_level: int, min_support: float, n_bins: int) -> None:
    if not 1 <= k <= 1000:
        raise ParameterError(f"k must be between 1 and 1000, got {k}", name="k", value=k)
    if not 1 <= max_level <= 5:
        raise ParameterError(
            f"max level must be between 1 and 5, got {max_level}", name="max_level", value=max_level
        )
    if min_support <= 0:
        raise ParameterError(
            f"min support must be positive, got {min_support}",
            name="min_support",
            value=min_support,
        )
    if not 2 <= n_bins <= 50:
        raise ParameterError(
            f"bins per numeric feature must be 2 to 50, got {n_bins}", name="n_bins", value=n_bins
        )


def newly_failing(
    paired: PairedPredictions,
    mask: np.ndarray | None = None,
    *,
    within: Slice = EMPTY,
    k: int = 10,
    max_level: int = 2,
    min_support: float = 0.01,
    n_bins: int = 5,
    cache: DiskCache | None = None,
) -> NewFailures:
    """Top-``k`` slices by SliceLine score on the broken indicator inside ``mask``.

    ``mask`` is over PAIRS and should select ``within`` (computed from it when None);
    returned slices include ``within``'s predicates. ``min_support`` is a fraction
    of the searched pairs (< 1) or a count.
    """
    _check(k, max_level, min_support, n_bins)
    if mask is None:
        mask = (
            paired.pair_mask(slice_mask(paired.candidate, within))
            if within.predicates
            else np.ones(paired.n, dtype=bool)
        )
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (paired.n,):
        raise ParameterError(
            f"the mask has {mask.size:,} entries; expected one per compared pair ({paired.n:,})",
            name="mask",
        )
    rows = np.flatnonzero(mask)
    params = {
        "k": k,
        "max_level": max_level,
        "min_support": min_support,
        "n_bins": n_bins,
        "within": within.text,
        "rows": int(rows.size),
        "alpha": ALPHA,
    }
    key = cache_key("compare_newly", paired.key, params)
    if cache is not None and (hit := cache.get_json(key)) is not None:
        return _from_cache(hit)
    result = _search(
        paired, rows, within, k=k, max_level=max_level, min_support=min_support, n_bins=n_bins
    )
    if cache is not None:
        cache.put_json(key, _to_cache(result))
    return result


def _search(
    paired: PairedPredictions,
    rows: np.ndarray,
    within: Slice,
    *,
    k: int,
    max_level: int,
    min_support: float,
    n_bins: int,
) -> NewFailures:
    encoding = delta_index(paired, n_bins=n_bins).encoding
    broken = paired.outcome[rows] == OUTCOME["broken"]
    fixed = paired.outcome[rows] == OUTCOME["fixed"]
    codes = [c[rows] for c in encoding.codes]
    found = find_slices(
        codes,
        broken.astype(np.float64),
        cardinalities=encoding.cardinalities,
        alpha=ALPHA,
        k=k,
        max_level=max_level,
        min_support=min_support,
    )
    wrong_b, wrong_c = paired.wrong_baseline[rows], paired.wrong_candidate[rows]
    out = []
    for f in found:
        inside = np.ones(rows.size, dtype=bool)
        for j, code in f.items:
            inside &= codes[j] == code
        size = int(np.count_nonzero(inside))
        n_broken = int(np.count_nonzero(broken & inside))
        eb = float(np.count_nonzero(wrong_b & inside)) / size
        ec = float(np.count_nonzero(wrong_c & inside)) / size
        p = mcnemar_exact(n_broken, int(np.count_nonzero(fixed & inside)))
        out.append(
            NewFailure(
                within & encoding.to_slice(f.items),
                size,
                n_broken,
                n_broken / size,
                float(f.score),
                eb,
                ec,
                ec - eb,
                p,
            )
        )
    return NewFailures(tuple(out), int(rows.size), int(np.count_nonzero(broken)))


def _to_cache(result: NewFailures) -> dict[str, Any]:
    return {
        "slices": [s.to_dict() for s in result.slices],
        "n_rows": result.n_rows,
        "n_broken": result.n_broken,
    }


def _from_cache(data: dict[str, Any]) -> NewFailures:
    slices = tuple(  # texts this module wrote, so no length limit
        NewFailure(**{**d, "slice": parse_slice(d["slice"], max_length=len(d["slice"]))})
        for d in data["slices"]
    )
    return NewFailures(slices, int(data["n_rows"]), int(data["n_broken"]), cached=True)
