"""Plotly figures of a regression's residuals: predicted vs actual, residual histograms.

The slice is drawn in colour over the rest in grey (all rows in one colour when
there is no slice). No Streamlit here (pages call ``st.plotly_chart``).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from mlqa_debug.analyses.residuals.compute import ResidualHistogram
from mlqa_debug.stats.figures import (
    HOVER_LABEL,
    MARGIN,
    OVERALL_COLOR,
    REST_COLOR,
    SLICE_COLOR,
    figure_title,
)
from mlqa_debug.stats.format import count, number

__all__ = ["predicted_vs_actual", "residual_histograms"]


def predicted_vs_actual(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    mask: np.ndarray,
    positions: np.ndarray,
    *,
    threshold: float | None = None,
    title: str = "Predicted vs actual",
) -> go.Figure:
    """WebGL scatter of the rows at ``positions``: slice in colour over the rest in grey.

    The diagonal is a perfect prediction; dotted lines mark ``|residual| = threshold``.
    """
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    fig = go.Figure()
    groups = [
        ("rest", positions[~mask[positions]], REST_COLOR, 0.35),
        ("slice", positions[mask[positions]], SLICE_COLOR, 0.8),
    ]
    if mask.all():  # no slice: one colour for all rows
        groups = [("all rows", positions, OVERALL_COLOR, 0.7)]
    for name, chosen, color, opacity in groups:
        fig.add_trace(
            go.Scattergl(
                x=y_true[chosen],
                y=y_pred[chosen],
                mode="markers",
                name=f"{name} ({count(len(chosen))})",
                marker={"color": color, "size": 6, "opacity": opacity},
                customdata=chosen + 1,
                hovertemplate=(
                    "row %{customdata}<br>actual %{x:.4g}<br>predicted %{y:.4g}"
                    f"<extra>{name}</extra>"
                ),
            )
        )
    low, high = _padded_range(y_true, y_pred)
    fig.add_trace(_line([low, high], [low, high], "perfect", dash="dash"))
    if threshold:
        fig.add_trace(
            _line([low, high], [low + threshold, high + threshold], f"±{number(threshold)}")
        )
        fig.add_trace(_line([low, high], [low - threshold, high - threshold], None))
    fig.update_layout(
        title=figure_title(title),
        xaxis={"title": "actual (label)", "range": [low, high]},
        yaxis={"title": "predicted", "range": [low, high]},
        height=420,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hoverlabel=HOVER_LABEL,
    )
    return fig


def _padded_range(*values: np.ndarray) -> tuple[float, float]:
    """The range of the finite values, 3% wider on each side; (0, 1) when there are none."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.03 * (high - low or 1.0)
    return low - pad, high + pad


def _line(x: list[float], y: list[float], name: str | None, *, dash: str = "dot") -> go.Scatter:
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name=name or "",
        showlegend=name is not None,
        line={"color": "#444444", "width": 1, "dash": dash},
        hoverinfo="skip",
    )


def residual_histograms(
    histogram: ResidualHistogram,
    *,
    threshold: float | None = None,
    title: str = "Residuals (prediction − label)",
) -> go.Figure:
    """Slice and rest residual distributions on shared bins, as shares of each group."""
    slice_share, rest_share = histogram.shares()
    width = float(np.diff(histogram.edges).mean()) if len(histogram.edges) > 1 else 1.0
    fig = go.Figure()
    groups = [
        ("rest", rest_share, histogram.rest_counts, REST_COLOR),
        ("slice", slice_share, histogram.slice_counts, SLICE_COLOR),
    ]
    if not histogram.rest_counts.any():  # no slice: all rows in one colour
        groups = [("all rows", slice_share, histogram.slice_counts, OVERALL_COLOR)]
    for name, share, counts, color in groups:
        fig.add_trace(
            go.Bar(
                x=histogram.centers,
                y=share,
                width=width,
                name=f"{name} ({count(counts.sum())})",
                marker={"color": color, "opacity": 0.55},
                customdata=np.column_stack([histogram.edges[:-1], histogram.edges[1:], counts]),
                hovertemplate=(
                    "%{customdata[0]:.4g} to %{customdata[1]:.4g}<br>"
                    f"{name}: %{{y:.1%}} (%{{customdata[2]:,}} rows)<extra></extra>"
                ),
            )
        )
    if threshold:
        for x in (-threshold, threshold):
            fig.add_vline(x=x, line={"color": "#444444", "width": 1, "dash": "dot"})
    fig.update_layout(
        title=figure_title(
            title, f"dotted: the error threshold ±{number(threshold)}" if threshold else None
        ),
        barmode="overlay",
        bargap=0,
        xaxis={"title": "residual"},
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        height=420,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hoverlabel=HOVER_LABEL,
    )
    return fig
