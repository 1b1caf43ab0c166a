"""Numbers as people read them: rates, differences of rates, counts, intervals, p-values.

One formatter for every table, caption and hover text, so a rate reads the
same everywhere (``12.3%``), a difference of two rates is in percentage points
(``+3.2 pts``) and a count has thousands separators (``1,234``). Nothing here
ever prints ``nan``: a missing or undefined value (``None``, nan, ±inf) is
:data:`MISSING`, an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import SupportsFloat

from mlqa_debug.stats.results import Estimate

__all__ = ["MISSING", "count", "interval", "number", "p_value", "percent", "points"]

MISSING = "–"
"""What an undefined value reads as."""

Number = SupportsFloat | None
"""What the formatters take: a float, a numpy number or 0-d array, or None (undefined)."""


def _finite(value: Number, scale: float = 1.0) -> float | None:
    """``value`` as a float when it (times ``scale``) is finite, else None."""
    if value is None:
        return None
    real = float(value)
    return real if math.isfinite(scale * real) else None


def percent(value: Number, *, digits: int = 1, signed: bool = False) -> str:
    """A share as a percentage: ``0.123`` -> ``12.3%`` (``+12.3%`` when ``signed``)."""
    share = _finite(value, 100.0)
    if share is None:
        return MISSING
    return f"{share:+.{digits}%}" if signed else f"{share:.{digits}%}"


def points(delta: Number, *, digits: int = 1) -> str:
    """A difference of two shares in percentage points: ``0.032`` -> ``+3.2 pts``."""
    share = _finite(delta, 100.0)
    if share is None:
        return MISSING
    return f"{100.0 * share:+.{digits}f} pts"


def count(n: Number) -> str:
    """A number of rows (or anything counted) with thousands separators: ``1,234``."""
    real = _finite(n)
    if real is None:
        return MISSING
    return f"{int(real):,}"


def number(value: Number, *, digits: int = 3, signed: bool = False) -> str:
    """``digits`` significant digits (``0.0123``, ``45.6``); from 1,000 on, whole: ``12,346``."""
    real = _finite(value)
    if real is None:
        return MISSING
    sign = "+" if signed else ""
    if abs(real) < 1000:
        return f"{real:{sign}.{digits}g}"
    return f"{real:{sign},.0f}"


def interval(estimate: Estimate, fmt: Callable[[float], str] = percent) -> str:
    """A value and its interval, ``12.0% [10.1%, 14.2%]``; the value alone without bounds."""
    if math.isnan(estimate.low) or math.isnan(estimate.high):
        return fmt(estimate.value)
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}]"


def p_value(p: Number) -> str:
    """A p-value to 3 decimals, ``< 0.001`` below that."""
    real = _finite(p)
    if real is None:
        return MISSING
    return "< 0.001" if real < 0.001 else f"{real:.3f}"
