"""Figures of a slice report, and the look every figure shares.

The colours of slice, rest and overall, the titles, margins and hover labels
are defined here once; the figures of each analysis use them. No Streamlit here
(pages call ``st.plotly_chart``).
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from mlqa_debug.stats.format import count, percent
from mlqa_debug.stats.results import SliceReport

__all__ = [
    "HOVER_LABEL",
    "MARGIN",
    "OVERALL_COLOR",
    "REST_COLOR",
    "SIDE_COLORS",
    "SLICE_COLOR",
    "error_rate_bars",
    "figure_title",
]

SLICE_COLOR = "#d62728"
"""The slice, in every figure."""
REST_COLOR = "#7f7f7f"
"""The rows outside the slice."""
OVERALL_COLOR = "#1f77b4"
"""All rows."""
SIDE_COLORS = {"slice": SLICE_COLOR, "rest": REST_COLOR, "overall": OVERALL_COLOR}
"""The colour of each side of a slice report, in the order figures list them."""
MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}
"""Margins of a figure with a title (and subtitle)."""
HOVER_LABEL = {"bgcolor": "white", "font": {"size": 12}}
"""Hover boxes: black on white."""


def figure_title(text: str, subtitle: str | None = None) -> dict[str, Any]:
    """A left-aligned plotly title, with a smaller subtitle under it."""
    title: dict[str, Any] = {"text": text, "x": 0.0, "xanchor": "left"}
    if subtitle:
        title["subtitle"] = {"text": subtitle, "font": {"size": 12}}
    return title


def error_rate_bars(report: SliceReport[Any]) -> go.Figure:
    """Error rate of slice, rest and overall with their 95% intervals."""
    names, values, lows, highs, colors = [], [], [], [], []
    for name, color in SIDE_COLORS.items():
        e = getattr(report, name)
        estimate = e.error_rate
        if math.isnan(estimate.value):
            continue  # an empty side has no bar
        names.append(f"{name} (n={count(e.n)})")
        values.append(estimate.value)
        lows.append(estimate.value - estimate.low)
        highs.append(estimate.high - estimate.value)
        colors.append(color)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colors,
            error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
            text=[percent(v) for v in values],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
        )
    )
    top = max([v + h for v, h in zip(values, highs, strict=True)], default=1.0)
    fig.update_layout(
        title="Error rate with 95% interval",
        yaxis={"tickformat": ".0%", "range": [0, min(1.0, top * 1.25 + 0.01)]},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=320,
        showlegend=False,
    )
    return fig
