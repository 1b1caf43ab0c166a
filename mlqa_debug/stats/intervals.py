"""Confidence intervals and tests of proportions and means, at 95% unless told otherwise.

- :func:`wilson_interval`: Wilson score interval of ``k / n`` (no continuity
  correction), and :func:`proportion_estimate`, the proportion with it;
- :func:`newcombe_difference`: ``k1/n1 - k2/n2`` with Newcombe's hybrid score
  interval (method 10 of Newcombe 1998, built from the two Wilson intervals);
- :func:`two_proportion_p_value`: two-sided test of equal proportions, Fisher's
  exact test when an expected cell count of the 2x2 table is below 5, else the
  pooled two-proportion z-test;
- :func:`mean_estimate`: a mean from a sum and a sum of squares, with the normal
  interval ``mean ± z·sd/√n``.
"""

from __future__ import annotations

import math
import operator

from scipy import special

from mlqa_debug.stats.results import Estimate

__all__ = [
    "CONFIDENCE",
    "mean_estimate",
    "newcombe_difference",
    "proportion_estimate",
    "two_proportion_p_value",
    "wilson_interval",
]

CONFIDENCE = 0.95
"""Confidence level of every interval the metrics report."""

_Z = float(special.ndtri(0.5 + 0.5 * CONFIDENCE))  # 1.959963984540054
_NAN = float("nan")
_NAN_ESTIMATE = Estimate(_NAN, _NAN, _NAN)
_FISHER_BELOW = 5.0  # smallest expected cell count for which the z-test is used


def wilson_interval(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (no continuity correction).

    Same numbers as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``;
    ``(nan, nan)`` when ``n == 0``. The interval always contains ``k / n``.
    """
    k, n = operator.index(k), operator.index(n)
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if n == 0:
        return _NAN, _NAN
    z = float(special.ndtri(0.5 + 0.5 * confidence))
    p = k / n
    denom = 2.0 * (n + z * z)
    center = (2.0 * n * p + z * z) / denom
    delta = z / denom * math.sqrt(4.0 * n * p * (1.0 - p) + z * z)
    low = 0.0 if k == 0 else min(center - delta, p)
    high = 1.0 if k == n else max(center + delta, p)
    return max(low, 0.0), min(high, 1.0)


def proportion_estimate(k: int, n: int) -> Estimate:
    """``k / n`` with its 95% Wilson interval; all nan when ``n == 0``."""
    if n == 0:
        return _NAN_ESTIMATE
    low, high = wilson_interval(k, n, confidence=CONFIDENCE)
    return Estimate(k / n, low, high)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int) -> Estimate:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score interval."""
    if n1 == 0 or n2 == 0:
        return _NAN_ESTIMATE
    p1, p2 = k1 / n1, k2 / n2
    low1, high1 = wilson_interval(k1, n1, confidence=CONFIDENCE)
    low2, high2 = wilson_interval(k2, n2, confidence=CONFIDENCE)
    diff = p1 - p2
    low = diff - math.hypot(p1 - low1, high2 - p2)
    high = diff + math.hypot(high1 - p1, p2 - low2)
    return Estimate(diff, low, high)


def two_proportion_p_value(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of equal proportions; Fisher exact on small expected counts."""
    if n1 == 0 or n2 == 0:
        return _NAN
    pooled = (k1 + k2) / (n1 + n2)
    if min(n1, n2) * min(pooled, 1.0 - pooled) < _FISHER_BELOW:
        table = [[k1, n1 - k1], [k2, n2 - k2]]
        from scipy import stats  # lazy: importing scipy.stats takes about a second

        return min(float(stats.fisher_exact(table).pvalue), 1.0)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = (k1 / n1 - k2 / n2) / se
    return float(2.0 * special.ndtr(-abs(z)))


def mean_estimate(total: float, total_sq: float, n: int) -> Estimate:
    """Mean of n values from their sum and sum of squares, normal 95% interval."""
    if n == 0:
        return _NAN_ESTIMATE
    mean = total / n
    if n < 2:
        return Estimate(mean, _NAN, _NAN)
    variance = max((total_sq - total * mean) / (n - 1), 0.0)
    half = _Z * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half)
