"""Figures of the Discover page: the size / error-rate trade-off and the error tree."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from mlqa_debug.analyses.discovery.service import DiscoveredSlice
from mlqa_debug.analyses.discovery.tree import ErrorTree


def tradeoff_scatter(slices: Sequence[DiscoveredSlice], *, mean_error: float) -> go.Figure:
    """Size against error rate of each found slice, marker size by score; rank in customdata."""
    fig = go.Figure(
        go.Scatter(
            x=[d.size for d in slices],
            y=[d.error_rate for d in slices],
            mode="markers+text",
            text=[str(i + 1) for i in range(len(slices))],
            textposition="top center",
            customdata=[[i, d.slice.text] for i, d in enumerate(slices)],
            marker={
                "size": [10 + 20 * max(d.score, 0) / max(s.score for s in slices) for d in slices]
                if slices
                else [],
                "color": [d.score for d in slices],
                "colorscale": "Reds",
                "showscale": True,
                "colorbar": {"title": "score"},
                "line": {"width": 1, "color": "#444"},
            },
            hovertemplate="#%{customdata[0]}: %{customdata[1]}<br>rows %{x:,}"
            "<br>error %{y:.1%}<extra></extra>",
        )
    )
    fig.add_hline(
        y=mean_error,
        line_dash="dot",
        annotation_text=f"overall {mean_error:.1%}",
        annotation_position="bottom right",
    )
    fig.update_layout(
        title="Size vs error rate of the found slices (number = rank)",
        xaxis={"title": "rows in slice", "type": "log"},
        yaxis={"title": "error rate", "tickformat": ".0%"},
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def error_tree_icicle(tree: ErrorTree, *, rate_label: str = "error rate") -> go.Figure:
    """The tree as an icicle: area by rows, colour by error rate; node id in customdata."""
    nodes = tree.nodes
    labels = [
        " and ".join(p.text for p in n.condition) if n.condition else "all rows" for n in nodes
    ]
    fig = go.Figure(
        go.Icicle(
            ids=[str(n.id) for n in nodes],
            parents=["" if n.parent is None else str(n.parent) for n in nodes],
            labels=labels,
            values=[n.size for n in nodes],
            branchvalues="total",
            customdata=[[n.id, n.error_mean, n.size, n.error_share] for n in nodes],
            marker={"colors": [n.error_mean for n in nodes], "colorscale": "RdYlGn_r"},
            hovertemplate="%{label}<br>rows %{customdata[2]:,}<br>"
            + rate_label
            + " %{customdata[1]:.3g}<br>share of errors %{customdata[3]:.1%}<extra></extra>",
            texttemplate="%{label}<br>%{customdata[2]:,} rows · %{customdata[1]:.3g}",
            tiling={"orientation": "v"},
        )
    )
    fig.update_layout(height=460, margin={"l": 4, "r": 4, "t": 10, "b": 4})
    return fig
