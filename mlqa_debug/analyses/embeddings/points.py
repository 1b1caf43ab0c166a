"""The points a map view draws: which rows, where, in which colour, with which hover fields.

A view draws the slice's mapped rows (every mapped row when colouring by slice),
sampled to at most :data:`~mlqa_debug.analyses.embeddings.sampling.MAX_POINTS`.
The figure (:mod:`~mlqa_debug.analyses.embeddings.figures`) draws a
:class:`MapPoints` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlqa_debug.analyses.embeddings.clusters import ClusterResult
from mlqa_debug.analyses.embeddings.colors import ColorBy, ColorSpec, color_spec
from mlqa_debug.analyses.embeddings.hover import HoverTable, hover_table
from mlqa_debug.analyses.embeddings.lru import array_digest, remembered
from mlqa_debug.analyses.embeddings.projection import Projection
from mlqa_debug.analyses.embeddings.sampling import MAX_POINTS, PointSample, sample_points
from mlqa_debug.data.predictions import Predictions

__all__ = ["MapPoints", "map_points", "view_caption", "view_rows"]


@dataclass(frozen=True, eq=False)
class MapPoints:
    """Everything the figure needs: points, their row positions, colours and hover fields."""

    positions: np.ndarray
    coords: np.ndarray  # (len(positions), 2)
    color: ColorSpec
    hover: HoverTable
    sample: PointSample
    axis_names: tuple[str, str]
    clusters: ClusterResult | None = None


def view_rows(
    projection: Projection, *, slice_mask: np.ndarray | None = None, color_by: ColorBy = "error"
) -> np.ndarray:
    """Rows a view draws from: the slice's mapped rows (all mapped rows when colouring by slice)."""
    mapped = np.isfinite(projection.coords).all(axis=1)
    if slice_mask is None or color_by == "slice":
        return mapped
    return mapped & np.asarray(slice_mask, dtype=bool)


def map_points(
    predictions: Predictions,
    projection: Projection,
    *,
    slice_mask: np.ndarray | None = None,
    color_by: ColorBy = "error",
    clusters: ClusterResult | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
) -> MapPoints:
    """The points to draw: the slice's mapped rows (all rows when colouring by slice), sampled."""
    candidates = view_rows(projection, slice_mask=slice_mask, color_by=color_by)
    sample = sample_points(
        predictions.error, candidates=candidates, max_points=max_points, random_state=random_state
    )
    positions = sample.positions
    color = color_spec(predictions, positions, color_by, slice_mask, clusters)
    hover = remembered(
        predictions,
        "embeddings.hover",
        array_digest(positions),
        lambda: hover_table(predictions, positions),
    )
    return MapPoints(
        positions,
        projection.coords[positions],
        color,
        hover,
        sample,
        projection.axis_names,
        clusters,
    )


def view_caption(projection: Projection, points: MapPoints, *, slice_text: str) -> str:
    """What the map is and shows, e.g. ``PCA (...) of 10 features · all rows. All 20,000 rows``."""
    scope = f"the slice `{slice_text}`" if slice_text else "all rows"
    return f"{projection.description} · {scope}. {points.sample.caption()}"
