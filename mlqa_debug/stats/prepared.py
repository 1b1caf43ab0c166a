"""What prepared data has in common: sums over one side of a mask, the other side by subtraction.

:class:`Prepared` is the base of :class:`~mlqa_debug.stats.classification.ClassificationData`
and :class:`~mlqa_debug.stats.regression.RegressionData`. Each keeps the sums over all
rows (``_totals``); :meth:`Prepared.split` sums the *smaller* side of a mask
directly and gets the other side as totals minus it, so a tiny slice or a tiny
rest is summed exactly, without cancellation, at the cost of one gather.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["NAN", "BoolArray", "FloatArray", "IntArray", "Prepared", "Summable", "frozen"]

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
NAN = float("nan")


def frozen(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only in place."""
    array.setflags(write=False)
    return array


class Summable:
    """Dataclass mixin: field-wise subtraction (totals minus one side = the other side)."""

    def __sub__(self, other: Self) -> Self:
        assert is_dataclass(self)  # subclasses are dataclasses; narrows the type for mypy
        diffs = {f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        return type(self)(**diffs)


S = TypeVar("S", bound=Summable)
R = TypeVar("R")


class Prepared(Generic[S, R]):
    """Per-row terms reduced to sums ``S``, and the metrics ``R`` of those sums.

    Subclasses are frozen dataclasses with ``y_true``, ``_totals`` (the sums over
    all rows) and ``_overall`` (their metrics), and say how to sum some rows
    (:meth:`_sums`) and what metrics some sums give (:meth:`_metrics`).
    """

    y_true: np.ndarray
    _totals: S
    _overall: R

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.y_true.size)

    def _sums(self, idx: IntArray) -> S:
        raise NotImplementedError

    def _metrics(self, sums: S) -> R:
        raise NotImplementedError

    def split(self, mask: BoolArray) -> tuple[R, R]:
        """Metrics inside and outside ``mask`` from one gather over its smaller side."""
        inside = int(np.count_nonzero(mask))
        is_complement = 2 * inside > mask.size
        part = self._sums(np.flatnonzero(~mask if is_complement else mask))
        rest = self._totals - part
        if is_complement:
            return self._metrics(rest), self._metrics(part)
        return self._metrics(part), self._metrics(rest)
