"""The default threshold of a new case: its baseline, moved by a tolerance in the worse direction.

Without an explicit threshold a case allows its baseline to move by:

- rates in [0, 1] (error rate, accuracy, precision, recall, F1 and their macro
  averages): half the half-width of the baseline's 95 % Wilson interval (rows of
  the slice; for ``recall[c]`` and ``f1[c]`` the rows labelled ``c``, for
  ``precision[c]`` the rows predicted ``c``), and at least 0.005 (half a point);
- ``mae`` and ``rmse``: half the half-width of their 95 % interval, at least 1 % of
  the baseline;
- ``log_loss``, ``brier``, ``ece`` and ``r2`` (no interval): 5 % of the baseline,
  at least 0.005;
- ``n_wrong`` of an example set: no tolerance, the count when saved (so a set
  saved with every example right must stay all right).

The threshold is rounded outwards to 4 significant digits (never below the
baseline's own value) and rates are clipped to [0, 1]. Half an interval
half-width is about the noise between two similar models on the same rows: on
the bundled ``loans`` data it lets the improved ``employment == 'gig'`` slice
(0.382 -> 0.282) and ``income >= 150000`` (0.433 -> 0.443, threshold 0.4474) pass
against ``loans_v2``, and fails the overall error rate (0.1666 -> 0.1729,
threshold 0.1716) and ``term_months == 60`` (0.208 -> 0.219, threshold 0.2131).
"""

from __future__ import annotations

import math

from mlqa_debug.cases.conditions import (
    N_WRONG,
    RATE_METRICS,
    Direction,
    metric_base,
    metric_direction,
    passes,
)
from mlqa_debug.cases.measurement import Measurement

RATE_FLOOR = 0.005
INTERVAL_SHARE = 0.5
RELATIVE_FLOOR = 0.01
RELATIVE_TOLERANCE = 0.05
THRESHOLD_DIGITS = 4


def default_tolerance(metric: str, baseline: Measurement) -> float:
    """How far the metric may move in the worse direction (see the module docstring)."""
    base = metric_base(metric)
    b = abs(baseline.value)
    share = INTERVAL_SHARE * baseline.half_width
    if base == N_WRONG:
        return 0.0
    if base in RATE_METRICS:
        return max(RATE_FLOOR, share) if math.isfinite(share) else RATE_FLOOR
    if base in ("mae", "rmse"):
        floor = RELATIVE_FLOOR * b
        return max(floor, share) if math.isfinite(share) else RELATIVE_TOLERANCE * b
    return max(RATE_FLOOR, RELATIVE_TOLERANCE * b)


def tolerance_rule(metric: str) -> str:
    """The default tolerance of ``metric`` in words (what the save form explains)."""
    base = metric_base(metric)
    if base == N_WRONG:
        return "no tolerance: no example may turn wrong"
    if base in RATE_METRICS:
        return "half the half-width of its 95% interval, at least 0.005"
    if base in ("mae", "rmse"):
        return "half the half-width of its 95% interval, at least 1% of the baseline"
    return "5% of the baseline, at least 0.005"


def default_threshold(metric: str, baseline: Measurement) -> float:
    """The baseline moved by :func:`default_tolerance` in the worse direction, rounded out."""
    op = metric_direction(metric)
    tolerance = default_tolerance(metric, baseline)
    raw = baseline.value + tolerance if op == "<=" else baseline.value - tolerance
    if metric_base(metric) in RATE_METRICS:
        raw = min(max(raw, 0.0), 1.0)
    return round_outward(raw, op)


def round_outward(value: float, op: Direction, *, digits: int = THRESHOLD_DIGITS) -> float:
    """``value`` to ``digits`` significant digits, up for ``<=`` and down for ``>=``.

    The result never makes ``value`` itself fail: ``passes(value, op, result)`` holds.
    """
    if value == 0 or not math.isfinite(value):
        return value
    factor = 10.0 ** (digits - 1 - math.floor(math.log10(abs(value))))
    scaled = value * factor
    step = math.ceil(scaled - 1e-9) if op == "<=" else math.floor(scaled + 1e-9)
    result = step / factor
    if not passes(value, op, result):  # the float division landed on the wrong side
        result = (step + 1 if op == "<=" else step - 1) / factor
    return result
