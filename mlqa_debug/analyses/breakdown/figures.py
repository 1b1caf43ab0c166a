"""Plotly figures built from library results; no Streamlit here (pages call st.plotly_chart)."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from mlqa_debug.stats.metrics import SliceReport

SLICE_COLOR = "#d62728"
REST_COLOR = "#7f7f7f"
OVERALL_COLOR = "#1f77b4"


def error_rate_bars(report: SliceReport[Any]) -> go.Figure:
    """Error rate of slice, rest and overall with their 95% intervals."""
    names, values, lows, highs = [], [], [], []
    for name in ("slice", "rest", "overall"):
        e = getattr(report, name)
        estimate = e.error_rate
        if math.isnan(estimate.value):
            continue
        names.append(f"{name} (n={e.n:,})")
        values.append(estimate.value)
        lows.append(estimate.value - estimate.low)
        highs.append(estimate.high - estimate.value)
    colors = [SLICE_COLOR, REST_COLOR, OVERALL_COLOR][-len(names) :] if names else []
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colors,
            error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
            text=[f"{v:.1%}" for v in values],
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
