"""Flips: pairs the candidate fixed, broke, or still gets wrong; their counts and a paged table.

Counts come from one ``np.bincount`` of the outcome codes
(:data:`~mlqa_debug.analyses.compare.pairing.OUTCOME`) inside the mask. For regression
a pair is broken when its absolute error grew by more than the error threshold,
fixed when it shrank by more than it, still wrong (``both_wrong_same``) when both
errors are over the threshold and the change is within it; there is no
"different prediction" kind (``both_wrong_different`` is ``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlqa_debug.analyses.compare.pairing import OUTCOME, PairedPredictions
from mlqa_debug.errors import ParameterError

__all__ = ["FLIP_KINDS", "FlipKind", "FlipPage", "Flips", "flip_counts", "flip_table"]

FlipKind = Literal["broken", "fixed", "both_wrong_same", "both_wrong_different"]
FLIP_KINDS: tuple[FlipKind, ...] = ("broken", "fixed", "both_wrong_same", "both_wrong_different")
"""Kinds of flips in page order: broken first."""
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Flips:
    """How many pairs fall in each outcome (inside a mask)."""

    n: int
    both_right: int
    broken: int
    fixed: int
    both_wrong_same: int
    both_wrong_different: int | None

    def count(self, kind: str) -> int | None:
        """Pairs of one kind (``both_right`` or a :data:`FLIP_KINDS` name)."""
        _check_kind(kind, allow_right=True)
        value: int | None = getattr(self, kind)
        return value

    def rate(self, kind: str) -> float:
        """Share of the pairs of one kind (nan when there are no pairs or no such kind)."""
        value = self.count(kind)
        if value is None or self.n == 0:
            return float("nan")
        return value / self.n

    def to_dict(self) -> dict[str, int | None]:
        return {
            "n": self.n,
            "both_right": self.both_right,
            "broken": self.broken,
            "fixed": self.fixed,
            "both_wrong_same": self.both_wrong_same,
            "both_wrong_different": self.both_wrong_different,
        }


def _check_kind(kind: str, *, allow_right: bool = False) -> None:
    allowed = (("both_right",) if allow_right else ()) + FLIP_KINDS
    if kind not in allowed:
        raise ParameterError(
            f"unknown kind of flip {kind!r}; expected one of {', '.join(allowed)}",
            name="kind",
            value=kind,
        )


def _pair_mask(paired: PairedPredictions, mask: np.ndarray | None) -> np.ndarray | None:
    if mask is None:
        return None
    out = np.asarray(mask, dtype=bool)
    if out.shape != (paired.n,):
        raise ParameterError(
            f"the mask has {out.size:,} entries; expected one per compared pair "
            f"({paired.n:,}; use paired.pair_mask for a mask over candidate rows)",
            name="mask",
        )
    return out


def flip_counts(paired: PairedPredictions, mask: np.ndarray | None = None) -> Flips:
    """Counts of each outcome over the pairs in ``mask`` (a mask over pairs; None = all)."""
    selected = _pair_mask(paired, mask)
    outcome = paired.outcome if selected is None else paired.outcome[selected]
    counts = np.bincount(outcome, minlength=len(OUTCOME))
    different = int(counts[OUTCOME["both_wrong_different"]])
    return Flips(
        n=int(outcome.size),
        both_right=int(counts[OUTCOME["both_right"]]),
        broken=int(counts[OUTCOME["broken"]]),
        fixed=int(counts[OUTCOME["fixed"]]),
        both_wrong_same=int(counts[OUTCOME["both_wrong_same"]]),
        both_wrong_different=different if paired.is_classification else None,
    )


@dataclass(frozen=True)
class FlipPage:
    """One page of the pairs of one kind: rows ``start .. start + len(frame)`` of ``total``."""

    frame: pd.DataFrame
    total: int
    start: int
    kind: str


def flip_table(
    paired: PairedPredictions,
    kind: str,
    mask: np.ndarray | None = None,
    *,
    page: int = 0,
    page_size: int = 50,
) -> FlipPage:
    """The pairs of one kind, a page at a time, with both predictions side by side.

    Columns: the id (if the candidate has one), ``label``, ``baseline prediction``,
    ``candidate prediction``; with probabilities ``baseline P(label)``,
    ``candidate P(label)``, ``baseline confidence``, ``candidate confidence``;
    regression ``baseline abs error``, ``candidate abs error``, ``change``; then the
    candidate's feature columns. Order: the candidate's confidence descending (most
    confident first; by position without probabilities), regression by ``|change|``
    descending.
    """
    _check_kind(kind)
    if page < 0:
        raise ParameterError(f"page must be >= 0, got {page}", name="page", value=page)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ParameterError(
            f"page size must be 1 to {MAX_PAGE_SIZE}, got {page_size}",
            name="page_size",
            value=page_size,
        )
    selected = _pair_mask(paired, mask)
    hit = paired.outcome == OUTCOME[kind]
    if selected is not None:
        hit &= selected
    positions = np.flatnonzero(hit)
    order = _order(paired, positions)
    start = page * page_size
    shown = positions[order[start : start + page_size]]
    return FlipPage(_frame(paired, shown), int(positions.size), start, kind)


def _order(paired: PairedPredictions, positions: np.ndarray) -> np.ndarray:
    """Sorting order of ``positions``: most confident / biggest change first, stable."""
    if not paired.is_classification:
        assert paired.abs_error_candidate is not None and paired.abs_error_baseline is not None
        change = paired.abs_error_candidate[positions] - paired.abs_error_baseline[positions]
        return np.argsort(-np.abs(change), kind="stable")
    confidence = paired.candidate.confidence
    if confidence is None:
        return np.arange(positions.size)
    return np.argsort(-confidence[paired.rows[positions]], kind="stable")


def _frame(paired: PairedPredictions, shown: np.ndarray) -> pd.DataFrame:
    candidate = paired.candidate
    schema = candidate.schema
    rows = paired.rows[shown]
    columns: dict[str, object] = {}
    if schema.id is not None:
        columns[schema.id] = candidate.frame[schema.id].to_numpy()[rows]
    if paired.is_classification:
        columns.update(_class_columns(paired, shown))
    else:
        columns.update(_regression_columns(paired, shown))
    out = pd.DataFrame(columns)
    features = [c for c in schema.features if c not in out.columns]
    if features:
        extra = candidate.frame[features].iloc[rows].reset_index(drop=True)
        out = pd.concat([out, extra], axis=1)
    return out


def _class_columns(paired: PairedPredictions, shown: np.ndarray) -> dict[str, object]:
    classes = np.asarray(paired.classes, dtype=object)
    y = paired.y_true[shown]
    out: dict[str, object] = {
        "label": classes[y],
        "baseline prediction": _names(classes, paired.pred_baseline[shown]),
        "candidate prediction": _names(classes, paired.pred_candidate[shown]),
    }
    pb, pc = paired.proba_baseline, paired.proba_candidate
    if pb is not None and pc is not None:
        pick = np.maximum(y, 0)
        out["baseline P(label)"] = pb[shown, pick]
        out["candidate P(label)"] = pc[shown, pick]
        out["baseline confidence"] = pb[shown, np.maximum(paired.pred_baseline[shown], 0)]
        out["candidate confidence"] = pc[shown, np.maximum(paired.pred_candidate[shown], 0)]
    return out


def _names(classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.full(len(codes), None, dtype=object)
    known = codes >= 0
    out[known] = classes[codes[known]]
    return out


def _regression_columns(paired: PairedPredictions, shown: np.ndarray) -> dict[str, object]:
    assert paired.abs_error_candidate is not None and paired.abs_error_baseline is not None
    eb, ec = paired.abs_error_baseline[shown], paired.abs_error_candidate[shown]
    return {
        "label": paired.y_true[shown],
        "baseline prediction": paired.pred_baseline[shown],
        "candidate prediction": paired.pred_candidate[shown],
        "baseline abs error": eb,
        "candidate abs error": ec,
        "change": ec - eb,
    }
