""" "How reliable is this ranking here?": plant label flips in a copy and see where they rank.

On a copy of the table's labels (inside the slice), a seeded share (``share``, default
:data:`DEFAULT_SHARE` = 5 %) of the *confidently correct* rows is flipped: rows whose
given label is the model's most probable class with a probability at least that
class's confident-learning threshold (the mean probability of the class over the rows
labelled with it). Each flip goes to the row's second most probable class, the most
plausible mistake a labeller makes. The copy is ranked again exactly as
:func:`~mlqa_debug.analyses.labels.suspects.rank_suspects` ranks (same scope), and for
several ``k`` the report says how many planted flips land in the top ``k``:
precision at k (planted in top k / k) and recall at k (planted in top k / planted),
plus the recall of the flagged issues. Flips are planted on top of whatever real
errors the labels hold, which also rank high, so precision at k reads as a lower
bound; ``best_precision`` is what a perfect ranker reaches (``min(k, planted) / k``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.analyses.labels.suspects import (
    LabelInputs,
    RankBy,
    Scope,
    rank_inputs,
    table_inputs,
)
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = ["DEFAULT_KS", "DEFAULT_SHARE", "Reliability", "plant_flips", "ranking_reliability"]

DEFAULT_SHARE = 0.05
"""Share of the confidently correct rows whose label is flipped in the copy."""
DEFAULT_KS = (10, 25, 50, 100, 250, 500)
"""The ``k`` of precision at k reported by default (those up to the rows ranked)."""


@dataclass(frozen=True)
class Reliability:
    """Where planted flips ranked: ``table`` has one row per k (``k``, ``found``,
    ``precision``, ``recall``, ``best_precision``); ``planted`` are positions in the
    full table; ``flagged_recall`` is the share of planted flips flagged as issues."""

    table: pd.DataFrame
    planted: npt.NDArray[np.int64]
    candidates: int
    share: float
    random_state: int
    flagged_recall: float

    @property
    def n_planted(self) -> int:
        return len(self.planted)


def plant_flips(
    inputs: LabelInputs, *, share: float, random_state: int, among: npt.ArrayLike | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Flipped labels, the flipped rows (indices into ``inputs``) and the candidates' count.

    ``among`` (boolean over ``inputs``' rows) limits the flips to those rows (a slice).
    """
    if not 0 < share < 1:
        raise ParameterError(f"share must be in (0, 1), got {share!r}", name="share", value=share)
    probs, labels = inputs.pred_probs, inputs.labels
    rows = np.arange(inputs.n_samples)
    counts = np.bincount(labels, minlength=probs.shape[1])
    sums = np.zeros(probs.shape[1])
    np.add.at(sums, labels, probs[rows, labels])
    thresholds = sums / np.maximum(counts, 1)
    self_confidence = probs[rows, labels]
    confident = (probs.argmax(axis=1) == labels) & (self_confidence >= thresholds[labels])
    if among is not None:
        confident &= np.asarray(among, dtype=bool)
    candidates = np.flatnonzero(confident)
    n_flip = round(share * len(candidates))
    chosen = np.sort(np.random.default_rng(random_state).choice(candidates, n_flip, replace=False))
    second = np.argsort(probs[chosen], axis=1)[:, -2]
    flipped = labels.copy()
    flipped[chosen] = second
    return flipped, chosen.astype(np.int64), len(candidates)


def ranking_reliability(
    predictions: Predictions,
    *,
    mask: npt.ArrayLike | None = None,
    share: float = DEFAULT_SHARE,
    ks: Sequence[int] = DEFAULT_KS,
    random_state: int = 0,
    rank_by: RankBy = "self_confidence",
    scope: Scope = "table",
) -> Reliability:
    """Plant flips among the slice's confidently correct rows, rank again, report precision at k."""
    n = predictions.n_samples
    in_slice = np.ones(n, bool) if mask is None else check_mask(mask, n)
    inputs = table_inputs(predictions, mask=None if scope == "table" else in_slice)
    among = in_slice[inputs.positions]
    flipped, chosen, candidates = plant_flips(
        inputs, share=share, random_state=random_state, among=among
    )
    if len(chosen) == 0:
        raise ParameterError(
            f"no label could be planted: {candidates} confidently correct rows in the slice, "
            f"and {share:.0%} of them rounds to none",
            name="share",
            value=share,
        )
    copy = LabelInputs(flipped, inputs.pred_probs, inputs.classes, inputs.positions, inputs.skipped)
    order, flags, _ = rank_inputs(copy, rank_by=rank_by, keep=among)
    is_planted = np.zeros(inputs.n_samples, dtype=bool)
    is_planted[chosen] = True
    hits = np.cumsum(is_planted[order])
    rows = [_at_k(k, hits, len(chosen)) for k in sorted(set(ks)) if 0 < k <= len(order)]
    return Reliability(
        pd.DataFrame(rows, columns=["k", "found", "precision", "recall", "best_precision"]),
        inputs.positions[chosen],
        candidates,
        share,
        random_state,
        float(is_planted[order][flags].sum() / len(chosen)),
    )


def _at_k(
    k: int, hits: npt.NDArray[np.int64], planted: int
) -> tuple[int, int, float, float, float]:
    found = int(hits[k - 1])
    return k, found, found / k, found / planted, min(k, planted) / k
