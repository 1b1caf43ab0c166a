"""Which rows a map draws: every error first, then a fixed random sample of the correct rows.

The browser gets at most :data:`MAX_POINTS` points. Each row has a fixed random
priority (from ``random_state``), so the same row keeps its place in every view:
a row drawn in a large view is also drawn in any smaller view of it. UMAP uses
the same rule to pick the rows it is fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_POINTS", "PointSample", "sample_points"]

MAX_POINTS = 50_000
"""Most points the browser gets (WebGL stays responsive; selections stay small)."""


@dataclass(frozen=True, eq=False)
class PointSample:
    """Row positions to draw (sorted), out of the candidate rows."""

    positions: np.ndarray
    n_candidates: int
    n_errors: int
    n_errors_shown: int

    @property
    def is_sample(self) -> bool:
        return len(self.positions) < self.n_candidates

    def caption(self) -> str:
        """What the map shows, in words."""
        shown = len(self.positions)
        if not self.is_sample:
            return f"All {shown:,} rows ({self.n_errors:,} errors)."
        correct_shown = shown - self.n_errors_shown
        correct = self.n_candidates - self.n_errors
        if self.n_errors_shown == self.n_errors:
            errors = f"all {self.n_errors:,} errors"
        else:
            errors = f"{self.n_errors_shown:,} of the {self.n_errors:,} errors (random, fixed seed)"
        return (
            f"A sample: {shown:,} of {self.n_candidates:,} rows — {errors} and "
            f"{correct_shown:,} of the {correct:,} correct rows (random, fixed seed)."
        )


def _priority(n: int, random_state: int) -> np.ndarray:
    return np.random.default_rng(random_state).random(n)


def sample_points(
    error: np.ndarray,
    *,
    candidates: np.ndarray | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
) -> PointSample:
    """At most ``max_points`` candidate rows: every error first (up to the cap), then correct rows.

    Deterministic: each row has a fixed random priority (from ``random_state``), and
    the rows with the best priorities among the errors, then among the correct rows,
    are kept, so a row shown in a large view is also shown in any smaller view of it.
    """
    error = np.asarray(error, dtype=bool)
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    mask = np.ones(len(error), dtype=bool) if candidates is None else np.asarray(candidates, bool)
    if mask.shape != error.shape:
        raise ValueError(f"candidates must have shape {error.shape}, got {mask.shape}")
    rows = np.flatnonzero(mask)
    n_errors = int(np.count_nonzero(error[rows]))
    if len(rows) <= max_points:
        return PointSample(rows, len(rows), n_errors, n_errors)
    key = _priority(len(error), random_state)[rows] + (~error[rows]).astype(np.float64)
    chosen = np.sort(rows[np.argpartition(key, max_points - 1)[:max_points]])
    return PointSample(chosen, len(rows), n_errors, int(np.count_nonzero(error[chosen])))
