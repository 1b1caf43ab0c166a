"""Figures of the Compare page: a forest chart of paired differences with their 95% intervals.

Differences are candidate − baseline. A point is red when the candidate is
significantly worse, green when significantly better, grey otherwise. Rates
(error rate, accuracy, precision, recall, F1) share one panel in percentage
points; every other metric gets a panel of its own, since their units differ.
No Streamlit here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from mlqa_debug.analyses.compare.view import difference_text, interval_text, is_rate
from mlqa_debug.stats.figures import HOVER_LABEL, MARGIN, figure_title
from mlqa_debug.stats.format import p_value

if TYPE_CHECKING:
    from mlqa_debug.analyses.compare import Headline

__all__ = ["BETTER_COLOR", "WORSE_COLOR", "forest_figure"]

WORSE_COLOR = "#d62728"
"""Significantly worse."""
BETTER_COLOR = "#2ca02c"
"""Significantly better."""
NEUTRAL_COLOR = "#7f7f7f"
"""Not significant."""
ROW_HEIGHT = 34
LABEL_CHAR = 6.0  # px per character of a tick label, with room to spare


@dataclass(frozen=True)
class _Row:
    label: str
    metric: str
    difference: float
    low: float
    high: float
    p_value: float
    worse: bool
    significant: bool


def _color(row: _Row) -> str:
    if not row.significant:
        return NEUTRAL_COLOR
    return WORSE_COLOR if row.worse else BETTER_COLOR


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(float(value))


def _trace(rows: Sequence[_Row], *, scale: float) -> go.Scatter:
    """Points at the differences, asymmetric error bars to the interval bounds."""
    x = [r.difference * scale if _finite(r.difference) else None for r in rows]
    plus = [
        (r.high - r.difference) * scale if _finite(r.high) and _finite(r.difference) else 0
        for r in rows
    ]
    minus = [
        (r.difference - r.low) * scale if _finite(r.low) and _finite(r.difference) else 0
        for r in rows
    ]
    hover = [
        f"{html.escape(r.label)}<br>difference {difference_text(r.difference, r.metric)}"
        f"<br>95% CI {interval_text(r.low, r.high, r.metric)}<br>p {p_value(r.p_value)}"
        for r in rows
    ]
    return go.Scatter(
        x=x,
        y=[html.escape(r.label) for r in rows],
        mode="markers",
        marker={"size": 10, "color": [_color(r) for r in rows], "symbol": "diamond"},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": plus,
            "arrayminus": minus,
            "color": "#555",
            "thickness": 1.5,
            "width": 4,
        },
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
    )


def _panels(rows: Sequence[_Row]) -> list[tuple[str, list[_Row]]]:
    """Rates together (points), each other metric alone (its own units)."""
    rates = [r for r in rows if is_rate(r.metric)]
    panels: list[tuple[str, list[_Row]]] = (
        [("difference (percentage points)", rates)] if rates else []
    )
    panels += [(f"difference in {r.label}", [r]) for r in rows if not is_rate(r.metric)]
    return panels


def _forest(panels: Sequence[tuple[str, list[_Row]]], *, title: str, subtitle: str) -> go.Figure:
    """One panel per unit, stacked; each panel's x axis says what it measures.

    Axes, zero lines and margins are laid out by hand in one layout: ``make_subplots``
    and ``add_vline`` cost tens of milliseconds per figure on the server, and axes that
    size their own margins (``automargin``) make the browser lay the figure out again on
    every rerun (about 35 ms of each Compare slice change at 1M rows).
    """
    heights = [ROW_HEIGHT * max(len(p[1]), 1) for p in panels]
    gap = 70  # room for an axis' ticks and title between panels
    total = sum(heights) + gap * len(panels)
    longest = max((len(r.label) for _, rows in panels for r in rows), default=8)
    layout: dict[str, Any] = {
        "title": figure_title(title, subtitle),
        "height": 80 + total,  # each panel's gap holds its own ticks and axis title
        # The metric names beside the points, at about LABEL_CHAR px a character.
        "margin": {**MARGIN, "t": 70, "l": min(16 + round(LABEL_CHAR * longest), 320)},
        "hoverlabel": HOVER_LABEL,
        "showlegend": False,
        "shapes": [],
    }
    traces = []
    top = 1.0
    for i, (name, members) in enumerate(panels, start=1):
        rate_panel = bool(members) and is_rate(members[0].metric)
        suffix = "" if i == 1 else str(i)
        bottom = top - heights[i - 1] / total
        trace = _trace(members, scale=100.0 if rate_panel else 1.0)
        trace.update(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        traces.append(trace)
        layout[f"xaxis{suffix}"] = {
            "anchor": f"y{suffix}",
            "zeroline": False,
            "automargin": False,
            "ticksuffix": " pts" if rate_panel else "",
            "title": {"text": html.escape(name), "font": {"size": 11}, "standoff": 4},
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [max(bottom, 0.0), top],
            "autorange": "reversed",
            "automargin": False,
            "anchor": f"x{suffix}",
        }
        layout["shapes"].append(
            {
                "type": "line",
                "xref": f"x{suffix}",
                "yref": f"y{suffix} domain",
                "x0": 0,
                "x1": 0,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "#444", "width": 1},
            }
        )
        top = bottom - gap / total
    return go.Figure(data=traces, layout=layout)


def forest_figure(headline: Headline) -> go.Figure:
    """Each headline metric's difference (candidate − baseline) with its 95% interval."""
    rows = [
        _Row(
            d.label,
            d.metric,
            d.difference,
            d.ci_low,
            d.ci_high,
            d.p_value,
            d.worse,
            d.worse is not None and _finite(d.p_value) and d.p_value < headline.alpha,
        )
        for d in headline.rows
    ]
    return _forest(
        _panels(rows),
        title="Candidate − baseline, with 95% intervals",
        subtitle=f"red: significantly worse, green: significantly better (p < {headline.alpha:g})",
    )
