"""Slow degradation: the Mann-Kendall trend test over a case's last runs.

A case that passes at 0.118 against a threshold of 0.12 after rising from 0.09 over
six model versions is a failure waiting to happen; no single check shows it. The
Mann-Kendall test asks whether a series rises or falls steadily, using only the
order of its values (so one outlier run cannot make a trend, and no straight line
is assumed):

- ``S = sum over i < j of sign(x[j] - x[i])``;
- ``Var(S) = (n(n-1)(2n+5) - sum over tied groups t(t-1)(2t+5)) / 18`` (ties
  correction: rates measured on the same rows often repeat exactly);
- ``Z = (S - 1) / sqrt(Var(S))`` for ``S > 0``, ``(S + 1) / sqrt(Var(S))`` for
  ``S < 0`` (continuity correction), ``0`` otherwise; two-sided ``p = 2 (1 - Phi(|Z|))``.

The verdict is direction-aware: for a lower-is-better metric (a case whose
condition is ``<=``, such as ``error_rate``) a rise is ``"degrading"``, for a
higher-is-better one (``>=``, such as ``recall[1]``) a fall is. With ``p >=``
:data:`ALPHA` the case is ``"stable"``. The test is two-sided at ``alpha``, so a
flat noisy series is called anything but stable in about ``alpha`` of cases and
``"degrading"`` in about ``alpha / 2``.

Defaults: the last :data:`TREND_RUNS` (10) runs with a value, ``alpha`` =
:data:`ALPHA` (0.05). Fewer than :data:`MIN_RUNS` (5) values are ``"stable"``:
four values cannot reach ``p < 0.05`` even when strictly monotonic. Runs where
the case had no value (empty slice, not applicable) are left out. The slope shown
with a trend is Sen's: the median of the pairwise slopes, per run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Trend = Literal["degrading", "stable", "improving"]
TREND_RUNS = 10
"""How many of a case's most recent runs (with a value) the trend test looks at."""
ALPHA = 0.05
"""The two-sided significance level of the trend test."""
MIN_RUNS = 5
"""Fewer values than this are too few to call a trend at :data:`ALPHA`."""


@dataclass(frozen=True)
class MannKendall:
    """The test's statistic ``s``, its variance, ``z``, the two-sided ``p`` and Sen's slope."""

    n: int
    s: int
    var_s: float
    z: float
    p_value: float
    slope: float


def mann_kendall(values: npt.ArrayLike, *, continuity: bool = True) -> MannKendall:
    """The Mann-Kendall test of a series in time order (ties corrected).

    ``continuity=False`` drops the continuity correction (what ``scipy.stats.kendalltau``
    computes against the time index, for comparison). Fewer than 3 values give ``p = 1``.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 3:
        return MannKendall(n, 0, 0.0, 0.0, 1.0, math.nan)
    i, j = np.triu_indices(n, k=1)
    diffs = x[j] - x[i]
    s = int(np.sign(diffs).sum())
    _, counts = np.unique(x, return_counts=True)
    ties = float((counts * (counts - 1) * (2 * counts + 5)).sum())
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18
    if var_s <= 0 or s == 0:
        z = 0.0
    else:
        shift = (1 if s > 0 else -1) if continuity else 0
        z = (s - shift) / math.sqrt(var_s)
    p = math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))
    slope = float(np.median(diffs / (j - i)))
    return MannKendall(n, s, var_s, z, min(p, 1.0), slope)


@dataclass(frozen=True)
class TrendResult:
    """The verdict on a case's recent values: trend, the test, the values it looked at."""

    trend: Trend
    test: MannKendall
    values: tuple[float, ...]
    alpha: float = ALPHA

    @property
    def runs(self) -> int:
        return len(self.values)

    def describe(self, metric: str) -> str:
        """``error_rate rising over the last 6 runs (Mann-Kendall p = 0.0085, +0.0056/run)``."""
        if self.runs < MIN_RUNS:
            return f"too few runs for a trend ({self.runs} of the {MIN_RUNS} needed)"
        if self.trend == "stable":
            return f"no steady trend over the last {self.runs} runs (p = {self.test.p_value:.2g})"
        way = "rising" if self.test.s > 0 else "falling"
        return (
            f"{metric} {way} over the last {self.runs} runs "
            f"(Mann-Kendall p = {self.test.p_value:.2g}, {self.test.slope:+.4g}/run)"
        )


def trend_of(
    values: Sequence[float | None],
    *,
    op: str,
    runs: int = TREND_RUNS,
    alpha: float = ALPHA,
) -> TrendResult:
    """The trend of a case's values (oldest first; ``None`` and nan are left out).

    ``op`` is the case's condition (``"<="``: lower is better, ``">="``: higher is
    better); only the last ``runs`` values count.
    """
    if op not in ("<=", ">="):
        raise ValueError(f"op must be '<=' or '>=', got {op!r}")
    kept = [float(v) for v in values if v is not None and math.isfinite(v)][-runs:]
    test = mann_kendall(kept)
    verdict: Trend = "stable"
    if len(kept) >= MIN_RUNS and test.p_value < alpha and test.s != 0:
        worse = test.s > 0 if op == "<=" else test.s < 0
        verdict = "degrading" if worse else "improving"
    return TrendResult(verdict, test, tuple(kept), alpha)
