"""Figures of the Data quality page: reliability diagrams, label distribution, drift of a column.

No Streamlit here (the page calls ``st.plotly_chart``). Every number in a hover
text goes through :mod:`mlqa_debug.stats.format`, so an empty bin reads "–",
never "nan".
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mlqa_debug.analyses.quality.calibration import Calibration, ReliabilityCurve
from mlqa_debug.analyses.quality.drift import FeatureDrift
from mlqa_debug.stats.figures import HOVER_LABEL, MARGIN, OVERALL_COLOR, REST_COLOR, figure_title
from mlqa_debug.stats.format import count, number, percent

__all__ = [
    "CURRENT_COLOR",
    "REFERENCE_COLOR",
    "drift_figure",
    "label_distribution_figure",
    "reliability_figure",
]

REFERENCE_COLOR = REST_COLOR
"""The reference table (training, an earlier period), in every figure of the page."""
CURRENT_COLOR = OVERALL_COLOR
"""The current table."""
MAX_VISIBLE_CLASSES = 3
"""Per-class curves drawn at once; more classes start hidden (click the legend to show)."""


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in values]


def _curve_trace(curve: ReliabilityCurve, *, color: str | None, visible: bool | str) -> go.Scatter:
    """Observed share against mean predicted probability, per non-empty bin."""
    keep = curve.counts > 0
    observed, predicted = curve.observed[keep], curve.predicted[keep]
    hover = [
        f"{html.escape(curve.name)}<br>predicted {percent(p)}, observed {percent(o)}"
        f"<br>95% CI [{percent(lo)}, {percent(hi)}]<br>{count(n)} rows"
        for p, o, lo, hi, n in zip(
            predicted, observed, curve.low[keep], curve.high[keep], curve.counts[keep], strict=True
        )
    ]
    is_top = curve.name == "top label"
    error_y = None
    if is_top:
        error_y = {
            "type": "data",
            "symmetric": False,
            "array": _finite(curve.high[keep] - observed),
            "arrayminus": _finite(observed - curve.low[keep]),
            "thickness": 1,
        }
    return go.Scatter(
        x=_finite(predicted),
        y=_finite(observed),
        mode="lines+markers",
        name=f"{html.escape(curve.name if is_top else f'class {curve.name}')} "
        f"(ECE {number(curve.ece)})",
        line={"width": 3 if is_top else 1.5, **({"color": color} if color else {})},
        marker={"size": 8 if is_top else 6},
        error_y=error_y,
        hovertext=hover,
        hoverinfo="text",
        visible=visible,
    )


def reliability_figure(found: Calibration, *, title: str = "Reliability diagram") -> go.Figure:
    """The top-label diagram (with 95% intervals) and one line per class over the diagonal.

    Beyond :data:`MAX_VISIBLE_CLASSES` classes, the per-class lines start hidden
    (``legendonly``): a click on the legend shows one.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfectly calibrated",
            line={"color": REST_COLOR, "dash": "dash", "width": 1},
            hoverinfo="skip",
        )
    )
    fig.add_trace(_curve_trace(found.top_label, color=CURRENT_COLOR, visible=True))
    many = len(found.per_class) > MAX_VISIBLE_CLASSES
    for curve in found.per_class:
        fig.add_trace(_curve_trace(curve, color=None, visible="legendonly" if many else True))
    fig.update_layout(
        title=figure_title(
            title,
            f"{count(found.n)} rows in {len(found.top_label.counts)} equal-width bins; "
            "points under the diagonal are over-confident",
        ),
        xaxis={"title": "mean predicted probability", "range": [0, 1], "tickformat": ".0%"},
        yaxis={"title": "observed share", "range": [0, 1.02], "tickformat": ".0%"},
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        margin={**MARGIN, "t": 70},
        hoverlabel=HOVER_LABEL,
        height=480,
    )
    return fig


def label_distribution_figure(table: pd.DataFrame) -> go.Figure:
    """Grouped bars per class: the share labelled with it and the share predicted as it.

    ``table`` is :func:`~mlqa_debug.analyses.quality.label_distribution`'s.
    """
    classes = [html.escape(str(c)) for c in table["class"]]
    fig = go.Figure()
    for column, rows, name, color in (
        ("share", "rows", "label", REFERENCE_COLOR),
        ("predicted_share", "predicted", "prediction", CURRENT_COLOR),
    ):
        shares = table[column].to_numpy(dtype=np.float64)
        fig.add_trace(
            go.Bar(
                x=classes,
                y=shares,
                name=name,
                marker_color=color,
                hovertext=[
                    f"{c}: {percent(s)} of the rows ({count(n)}) as {name}"
                    for c, s, n in zip(classes, shares, table[rows], strict=True)
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=figure_title(
            "Labels and predictions per class", "share of the rows labelled and predicted as each"
        ),
        barmode="group",
        xaxis={"title": "class", "type": "category"},
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        margin=MARGIN,
        hoverlabel=HOVER_LABEL,
        height=340,
    )
    return fig


def drift_figure(
    drift: FeatureDrift, *, names: Sequence[str] = ("reference", "current")
) -> go.Figure:
    """Both tables' shares over the column's bins (the reference's), as grouped bars.

    A bin empty in both tables (no missing values, no "(other)" category) is left out.
    """
    kept = [
        i
        for i, (r, c) in enumerate(zip(drift.reference_share, drift.current_share, strict=True))
        if r > 0 or c > 0
    ]
    bins = [html.escape(drift.bins[i]) for i in kept]
    fig = go.Figure()
    for shares, name, color in (
        (drift.reference_share, names[0], REFERENCE_COLOR),
        (drift.current_share, names[1], CURRENT_COLOR),
    ):
        shown = [shares[i] for i in kept]
        fig.add_trace(
            go.Bar(
                x=bins,
                y=shown,
                name=html.escape(name),
                marker_color=color,
                hovertext=[
                    f"{b}: {percent(s)} of {html.escape(name)}"
                    for b, s in zip(bins, shown, strict=True)
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=figure_title(
            f"Distribution of {html.escape(drift.column)}",
            f"PSI {number(drift.psi)} ({drift.level}); bins from the reference",
        ),
        barmode="group",
        xaxis={"title": html.escape(drift.column), "type": "category"},
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        margin={**MARGIN, "t": 70},
        hoverlabel=HOVER_LABEL,
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        height=380,
    )
    return fig
