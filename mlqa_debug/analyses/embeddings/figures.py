"""The embedding map as a plotly figure: WebGL points, one trace per colour group.

Every point carries its row position in ``customdata`` (a number, or the first
column of a 2-D ``customdata`` whose other columns are the hover's numbers), so a
box or lasso selection maps back to rows whatever the trace order
(:func:`mlqa_debug.analyses.embeddings.selection.selected_positions`). The hover
label is a ``hovertemplate`` over typed arrays
(:func:`mlqa_debug.analyses.embeddings.hover_template.trace_hover`), not an HTML string
per point. No Streamlit here.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from mlqa_debug.analyses.embeddings.clusters import ClusterResult
from mlqa_debug.analyses.embeddings.hover_template import trace_hover
from mlqa_debug.analyses.embeddings.points import MapPoints

ERROR_COLOR = "#d62728"
CORRECT_COLOR = "#9fb3c8"
SLICE_COLOR = "#1f77b4"
BACKGROUND_COLOR = "#cfcfcf"
BACKGROUND_GROUPS = ("correct", "rest", "no cluster", "other")
CONTINUOUS_SCALES = {"confidence": "Viridis", "abs_error": "Reds", "label": "Cividis"}
MAX_ANNOTATED_CLUSTERS = 12
HEIGHT = 640


def marker_size(n_points: int) -> int:
    """Smaller markers for denser maps."""
    for limit, size in ((1_000, 8), (5_000, 6), (20_000, 4)):
        if n_points <= limit:
            return size
    return 3


def _group_colors(points: MapPoints) -> dict[str, str]:
    by, names = points.color.by, points.color.names
    fixed = {"error": ERROR_COLOR, "correct": CORRECT_COLOR, "in slice": SLICE_COLOR}
    palette = qualitative.Dark24 if by == "cluster" else qualitative.T10
    colors: dict[str, str] = {}
    i = 0
    for name in names:
        if name in BACKGROUND_GROUPS and name != "correct":
            colors[name] = BACKGROUND_COLOR
        elif by in ("error", "slice") and name in fixed:
            colors[name] = fixed[name]
        else:
            colors[name] = palette[i % len(palette)]
            i += 1
    return colors


def _draw_order(names: tuple[str, ...]) -> list[int]:
    """Background groups first (drawn underneath), then the others in their order."""
    back = [i for i, n in enumerate(names) if n in BACKGROUND_GROUPS]
    return back + [i for i, n in enumerate(names) if n not in BACKGROUND_GROUPS]


def _trace(
    points: MapPoints, rows: np.ndarray, *, name: str, size: int, **marker: object
) -> go.Scattergl:
    hover = trace_hover(points.hover, rows)
    return go.Scattergl(
        x=points.coords[rows, 0].astype(np.float32),
        y=points.coords[rows, 1].astype(np.float32),
        mode="markers",
        name=name,
        customdata=hover.customdata,
        text=hover.text,
        hovertext=hover.hovertext,
        hovertemplate=hover.template,
        marker={"size": size, "opacity": 0.8, "line": {"width": 0}, **marker},
    )


def group_traces(points: MapPoints) -> list[go.Scattergl]:
    """One trace per colour group (with points), background groups first."""
    groups = points.color.groups
    if groups is None:
        raise ValueError("group_traces needs a categorical colouring; use continuous_trace")
    colors = _group_colors(points)
    size = marker_size(len(points.positions))
    traces = []
    for index in _draw_order(points.color.names):
        rows = np.flatnonzero(groups == index)
        if len(rows) == 0:
            continue
        name = points.color.names[index]
        label = f"{name} ({len(rows):,})"
        traces.append(_trace(points, rows, name=label, size=size, color=colors[name]))
    return traces


def continuous_trace(points: MapPoints) -> go.Scattergl:
    """One trace coloured on a scale (confidence, |residual|, a regression target)."""
    values = points.color.values
    if values is None:
        raise ValueError("continuous_trace needs a colour scale; use group_traces")
    scale = CONTINUOUS_SCALES.get(points.color.by, "Cividis")
    return _trace(
        points,
        np.arange(len(points.positions)),
        name=points.color.title,
        size=marker_size(len(points.positions)),
        color=np.asarray(values, dtype=np.float32),  # a colour needs no more precision
        colorscale=scale,
        showscale=True,
        colorbar={"title": {"text": points.color.title}, "thickness": 12},
    )


def _cluster_annotations(clusters: ClusterResult) -> list[dict[str, object]]:
    return [
        {
            "x": c.center[0],
            "y": c.center[1],
            "text": f"<b>{c.name}</b> {c.error_rate.value:.0%}",
            "showarrow": False,
            "font": {"size": 11, "color": "#222"},
            "bgcolor": "rgba(255,255,255,0.75)",
            "borderpad": 2,
        }
        for c in clusters.clusters[:MAX_ANNOTATED_CLUSTERS]
    ]


def embedding_map(points: MapPoints, *, height: int = HEIGHT, revision: str = "") -> go.Figure:
    """Scatter of the map's points (scattergl), coloured as ``points.color`` says.

    Box select is the default drag mode; ``customdata`` of every point is its row
    position. With clusters, the highest-error ones are labelled at their centres.
    """
    if points.color.is_continuous:
        traces = [continuous_trace(points)]
    else:
        traces = group_traces(points)
    fig = go.Figure(traces)
    x_name, y_name = points.axis_names
    axis = {"showticklabels": False, "zeroline": False, "showgrid": False, "ticks": ""}
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        dragmode="select",
        hovermode="closest",
        uirevision=revision or None,
        legend={
            "title": {"text": points.color.title},
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "x": 0,
            "itemsizing": "constant",
        },
        xaxis={**axis, "title": {"text": x_name}},
        yaxis={**axis, "title": {"text": y_name}},
        annotations=_cluster_annotations(points.clusters) if points.clusters else [],
    )
    return fig
