"""Multiple-testing corrections of p-values: Holm (family-wise error) and Benjamini-Hochberg (FDR).

Used when many slices are compared at once: an adjusted p-value below ``alpha``
keeps the family-wise error rate (Holm) or the false discovery rate (BH) at ``alpha``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["CORRECTIONS", "Correction", "adjust_p_values"]

Correction = Literal["holm", "bh"]
CORRECTIONS: dict[Correction, str] = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
"""Correction methods and their display names."""

FloatArray = npt.NDArray[np.float64]


def adjust_p_values(p_values: npt.ArrayLike, *, method: Correction = "holm") -> FloatArray:
    """Adjusted p-values, same shape as ``p_values``; nan entries stay nan and are not counted.

    ``"holm"``: Holm's step-down (Holm 1979), ``max_{j<=i} min(1, (m - j + 1) p_(j))``;
    ``"bh"``: Benjamini-Hochberg step-up (Benjamini & Hochberg 1995),
    ``min_{j>=i} min(1, m p_(j) / j)``; ``m`` is the number of non-nan p-values. Same
    numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm" | "fdr_bh")[1]``.
    """
    if method not in _ADJUST:
        raise ValueError(f"unknown correction {method!r}; expected one of {', '.join(CORRECTIONS)}")
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    present = ~np.isnan(flat)
    outside = present & ~((flat >= 0.0) & (flat <= 1.0))
    if np.any(outside):
        positions = np.flatnonzero(outside)[:5].tolist()
        raise ValueError(f"p-values must be in [0, 1]; positions {positions} are not")
    adjusted = np.full(flat.shape, np.nan)
    if np.any(present):
        adjusted[present] = _ADJUST[method](flat[present])
    return adjusted.reshape(p.shape)


def _holm(p: FloatArray) -> FloatArray:
    """Holm step-down adjustment of p-values without nan."""
    order = np.argsort(p, kind="stable")
    steps = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    return _unsort(np.minimum(steps, 1.0), order)


def _benjamini_hochberg(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg step-up adjustment of p-values without nan."""
    order = np.argsort(p, kind="stable")
    raw = p[order] / (np.arange(1, p.size + 1) / p.size)
    steps = np.minimum.accumulate(raw[::-1])[::-1]
    return _unsort(np.minimum(steps, 1.0), order)


def _unsort(values: FloatArray, order: npt.NDArray[np.intp]) -> FloatArray:
    out = np.empty_like(values)
    out[order] = values
    return out


_ADJUST: dict[str, Callable[[FloatArray], FloatArray]] = {
    "holm": _holm,
    "bh": _benjamini_hochberg,
}
