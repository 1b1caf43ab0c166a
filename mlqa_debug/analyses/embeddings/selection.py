"""A box or lasso selection from the browser, decoded into row positions.

Each point carries its row position in ``customdata``
(:func:`selected_positions`); on a sampled map the drawn region also covers rows
that are not drawn (:func:`region_mask`). The event comes from the browser, so
anything that is not a valid position or a finite polygon is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlqa_debug.analyses.embeddings.points import MapPoints
from mlqa_debug.analyses.embeddings.projection import Projection

__all__ = ["region_mask", "selected_positions", "selection_rows"]

_MAX_VERTICES = 100_000


def _as_position(value: Any) -> int | None:
    """A row position from a point's customdata: a number, or a 2-D customdata's row (a list,
    or a typed-array row that JSON writes as ``{"0": position, "1": ...}``), position first."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    elif isinstance(value, dict):
        value = value.get("0")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def selected_positions(
    points: Sequence[Mapping[str, Any]],
    *,
    n_samples: int,
    traces: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Row positions of selected points, from each point's ``customdata`` (sorted, unique).

    ``traces`` (the row positions of each trace, as drawn) is the fallback for points
    without customdata: ``traces[curve_number][point_index]``. Anything else in the
    event (it comes from the browser) is ignored: values that are not integer
    positions in ``0 .. n_samples - 1`` are dropped.
    """
    found: list[int] = []
    for point in points:
        if not isinstance(point, Mapping):
            continue
        position = _as_position(point.get("customdata"))
        if position is None and traces is not None:
            position = _from_trace(point, traces)
        if position is not None and 0 <= position < n_samples:
            found.append(position)
    return np.unique(np.asarray(found, dtype=np.int64))


def _from_trace(point: Mapping[str, Any], traces: Sequence[np.ndarray]) -> int | None:
    curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
    if not isinstance(curve, int) or not isinstance(index, int) or isinstance(curve, bool):
        return None
    if not (0 <= curve < len(traces) and 0 <= index < len(traces[curve])):
        return None
    return int(traces[curve][index])


def selection_rows(
    selection: Mapping[str, Any], projection: Projection, points: MapPoints, *, n_samples: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Selected row positions and, on a sampled map, the rows inside the drawn region."""
    selected = selected_positions(selection.get("points") or [], n_samples=n_samples)
    region = region_mask(projection.coords, selection) if points.sample.is_sample else None
    return selected, region


def _inside_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points lie inside the polygon (vertices px, py)."""
    inside = np.zeros(len(x), dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        crosses = (py[i] > y) != (py[j] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (px[j] - px[i]) * (y - py[i]) / (py[j] - py[i]) + px[i]
        inside ^= crosses & (x < at)
        j = i
    return inside


def _numbers(values: Any) -> np.ndarray | None:
    if not isinstance(values, list | tuple) or not values or len(values) > _MAX_VERTICES:
        return None
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if out.ndim == 1 and np.isfinite(out).all() else None


def _xy(shape: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A box's or lasso's ``x`` and ``y`` numbers, or ``None`` where they are not usable."""
    if not isinstance(shape, Mapping):
        return None, None
    return _numbers(shape.get("x")), _numbers(shape.get("y"))


def region_mask(coords: np.ndarray, selection: Mapping[str, Any]) -> np.ndarray | None:
    """Rows whose coordinates lie inside the selection's boxes or lasso polygons (union).

    ``selection`` is Streamlit's plotly selection state (``box``: ``[{"x": [x0, x1],
    "y": [y0, y1]}]``, ``lasso``: ``[{"x": [...], "y": [...]}]``). ``None`` when it
    holds no usable geometry (a click selection, or malformed input).
    """
    x, y = coords[:, 0], coords[:, 1]
    out = np.zeros(len(coords), dtype=bool)
    used = False
    for box in selection.get("box") or ():
        xs, ys = _xy(box)
        if xs is None or ys is None or len(xs) < 2 or len(ys) < 2:
            continue
        out |= (x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max())
        used = True
    for lasso in selection.get("lasso") or ():
        px, py = _xy(lasso)
        if px is None or py is None or len(px) != len(py) or len(px) < 3:
            continue
        out |= _inside_polygon(x, y, px, py)
        used = True
    return out if used else None
