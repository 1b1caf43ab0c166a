"""How a regression's residuals differ inside a slice: statistics, histograms, points to draw.

The residual is ``prediction - label`` (positive = over-prediction), as in
:class:`~mlqa_debug.data.predictions.Predictions`; an error is ``|residual| >
error_threshold``. Everything compares the slice with the rest of the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = [
    "MAX_SCATTER_POINTS",
    "ResidualHistogram",
    "residual_histogram",
    "residual_summary",
    "scatter_positions",
]

MAX_SCATTER_POINTS = 20_000
"""Points a scatter of rows draws at most."""


def residual_summary(predictions: Predictions, mask: np.ndarray) -> pd.DataFrame:
    """Residual statistics (``prediction - label``) of the slice, the rest and all rows.

    Columns: ``rows``, ``bias`` (mean residual), ``MAE``, ``RMSE``, ``median``,
    ``p05``, ``p95`` and ``errors`` (share with ``|residual| > error_threshold``).
    """
    residual = predictions.residual
    mask = check_mask(mask, len(residual))
    threshold = float(predictions.schema.error_threshold or 0.0)
    parts = {"slice": residual[mask], "rest": residual[~mask], "overall": residual}
    rows = {name: _residual_stats(values, threshold) for name, values in parts.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "rows of"
    return frame


def _residual_stats(values: np.ndarray, threshold: float) -> dict[str, float]:
    if values.size == 0:
        nan = math.nan
        keys = ("bias", "MAE", "RMSE", "median", "p05", "p95", "errors")
        return {"rows": 0, **dict.fromkeys(keys, nan)}
    p05, median, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {
        "rows": int(values.size),
        "bias": float(values.mean()),
        "MAE": float(np.abs(values).mean()),
        "RMSE": float(np.sqrt(np.mean(values**2))),
        "median": float(median),
        "p05": float(p05),
        "p95": float(p95),
        "errors": float(np.mean(np.abs(values) > threshold)),
    }


@dataclass(frozen=True, eq=False)
class ResidualHistogram:
    """Residual counts of slice and rest over shared bin ``edges``."""

    edges: np.ndarray
    slice_counts: np.ndarray
    rest_counts: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts as shares of each group (so groups of different sizes compare)."""
        return (
            self.slice_counts / max(int(self.slice_counts.sum()), 1),
            self.rest_counts / max(int(self.rest_counts.sum()), 1),
        )


def residual_histogram(
    residual: np.ndarray, mask: np.ndarray, *, bins: int | None = None
) -> ResidualHistogram:
    """Histograms of ``residual`` inside and outside ``mask`` on the same bins.

    The bins span all residuals, so ``slice_counts + rest_counts`` is the histogram
    of all rows. ``bins=None`` takes about the square root of the number of rows,
    between 10 and 60.
    """
    residual = np.asarray(residual, dtype=np.float64)
    mask = check_mask(mask, len(residual))
    finite = np.isfinite(residual)
    if bins is None:
        bins = int(np.clip(np.sqrt(finite.sum()), 10, 60))
    edges = np.histogram_bin_edges(residual[finite], bins=bins) if finite.any() else np.r_[0, 1]
    inside, _ = np.histogram(residual[mask & finite], bins=edges)
    outside, _ = np.histogram(residual[~mask & finite], bins=edges)
    return ResidualHistogram(edges, inside.astype(np.int64), outside.astype(np.int64))


def scatter_positions(
    mask: np.ndarray,
    *,
    max_points: int = MAX_SCATTER_POINTS,
    random_state: int = 0,
) -> np.ndarray:
    """Row positions to draw: all rows when few, else a seeded sample (sorted).

    The slice keeps up to half of ``max_points`` (all its rows if fewer), the rest
    fills the remainder, so a small slice stays fully visible on a large table.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.size <= max_points:
        return np.arange(mask.size)
    rng = np.random.default_rng(random_state)
    inside, outside = np.flatnonzero(mask), np.flatnonzero(~mask)
    n_in = min(inside.size, max(max_points // 2, max_points - outside.size))
    n_out = min(outside.size, max_points - n_in)
    chosen = np.r_[
        rng.choice(inside, n_in, replace=False) if n_in < inside.size else inside,
        rng.choice(outside, n_out, replace=False) if n_out < outside.size else outside,
    ]
    return np.sort(chosen)
