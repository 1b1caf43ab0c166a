"""Plotly figures of the confusion page; no Streamlit here (pages call ``st.plotly_chart``).

The heatmaps draw the diagonal (correct predictions) in a quiet grey scale and
the off-diagonal cells (the confusions) in their own red scale, so errors stand
out even when the diagonal holds most rows. Each cell also carries an invisible
square marker whose ``customdata`` is ``[true_code, pred_code]`` (``-1`` for
"other"): plotly heatmaps do not report clicks as selections, scatter markers do,
so a click on a cell comes back to the page as a point selection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go

from mlqa_debug.analyses.confusion.compute import ConfusionMatrix, Normalize, difference
from mlqa_debug.analyses.confusion.thresholds import PrCurve, ThresholdMetrics
from mlqa_debug.stats.figures import HOVER_LABEL, MARGIN, SIDE_COLORS, figure_title
from mlqa_debug.stats.format import count, percent, points

__all__ = ["confusion_heatmap", "difference_heatmap", "pr_curve_figure"]

ERROR_SCALE = [[0.0, "#fff5f0"], [0.35, "#fc9272"], [1.0, "#a50f15"]]
CORRECT_SCALE = [[0.0, "#f7f7f7"], [1.0, "#9ecae1"]]
DIVERGING_SCALE = [[0.0, "#2166ac"], [0.5, "#f7f7f7"], [1.0, "#b2182b"]]
SELECTED_LINE = "#111111"


def _cell_size(n_classes: int) -> int:
    """Pixels per cell (height): roomy for 2 classes, compact for 20+."""
    return int(max(24, min(90, 480 / max(n_classes, 1))))


def _figure_height(n_classes: int) -> int:
    return _cell_size(n_classes) * n_classes + 150


def _share_text(value: float) -> str:
    if value == 0:
        return ""
    pct = 100 * value
    return f"{pct:.0f}%" if pct >= 9.95 else f"{pct:.1f}%"


def _count_text(value: float) -> str:
    if value == 0:
        return ""
    return f"{value / 1000:.1f}k" if value >= 10_000 else f"{int(value):,}"


def _cell_texts(matrix: ConfusionMatrix, normalize: Normalize | None) -> np.ndarray:
    values = matrix.normalized(normalize)
    fmt: Callable[[float], str] = _share_text if normalize else _count_text
    return np.vectorize(fmt, otypes=[object])(values)


def _axis(labels: tuple[str, ...], title: str, *, reverse: bool) -> dict[str, Any]:
    k = len(labels)
    return {
        "type": "category",
        "categoryorder": "array",
        "categoryarray": list(labels),
        "title": {"text": title},
        # fixed: the invisible markers would pad an automatic range off the cells
        "range": [k - 0.5, -0.5] if reverse else [-0.5, k - 0.5],
        "tickfont": {"size": 12 if k <= 16 else 10},
        "showgrid": False,
    }


def _click_layer(matrix: ConfusionMatrix, hover: np.ndarray) -> dict[str, Any]:
    """Invisible square markers on the cell centres that carry the pair and the hover text."""
    k = matrix.n_classes
    rows, cols = np.divmod(np.arange(k * k), k)
    codes = np.asarray(matrix.codes)
    return {
        "type": "scatter",
        "x": [matrix.labels[j] for j in cols],
        "y": [matrix.labels[i] for i in rows],
        "mode": "markers",
        "marker": {"symbol": "square", "size": _cell_size(k) - 2, "opacity": 0},
        "customdata": np.column_stack([codes[rows], codes[cols]]).tolist(),
        "hovertext": hover[rows, cols].tolist(),
        "hovertemplate": "%{hovertext}<extra></extra>",
        "selected": {"marker": {"opacity": 0}},
        "unselected": {"marker": {"opacity": 0}},
        "showlegend": False,
        "name": "cells",
    }


def _selected_box(matrix: ConfusionMatrix, selected: tuple[int, int] | None) -> list[Any]:
    """An outline around the selected cell (none when it is not shown)."""
    codes = list(matrix.codes)
    if selected is None or selected[0] not in codes or selected[1] not in codes:
        return []
    i, j = codes.index(selected[0]), codes.index(selected[1])
    return [
        {
            "type": "rect",
            "x0": j - 0.5,
            "x1": j + 0.5,
            "y0": i - 0.5,
            "y1": i + 0.5,
            "line": {"color": SELECTED_LINE, "width": 3},
            "layer": "above",
        }
    ]


def _heatmap(
    z: np.ndarray, texts: np.ndarray, labels: tuple[str, ...], **style: Any
) -> dict[str, Any]:
    k = len(labels)
    return {
        "type": "heatmap",
        "z": z,
        "x": list(labels),
        "y": list(labels),
        "text": texts,
        "texttemplate": "%{text}",
        "textfont": {"size": 13 if k <= 10 else 11 if k <= 16 else 9},
        "hoverinfo": "skip",
        "xgap": 1,
        "ygap": 1,
        **style,
    }


def _matrix_figure(
    traces: list[dict[str, Any]],
    matrix: ConfusionMatrix,
    hover: np.ndarray,
    *,
    title: dict[str, Any],
    selected: tuple[int, int] | None,
) -> go.Figure:
    """The heatmap traces, the click layer and the shared layout, built in one go."""
    layout = {
        "title": title,
        "xaxis": _axis(matrix.labels, "predicted", reverse=False),
        "yaxis": _axis(matrix.labels, "true", reverse=True),
        "shapes": _selected_box(matrix, selected),
        "height": _figure_height(matrix.n_classes),
        "margin": MARGIN,
        "hoverlabel": HOVER_LABEL,
        "hovermode": "closest",
        "hoverdistance": -1,  # the nearest cell centre answers, wherever in the cell
        "plot_bgcolor": "white",
    }
    return go.Figure(data=[*traces, _click_layer(matrix, hover)], layout=layout)


def _hover_texts(
    matrix: ConfusionMatrix, reference: ConfusionMatrix | None, what: str
) -> np.ndarray:
    counts = matrix.counts
    rows_share, cols_share = matrix.normalized("true"), matrix.normalized("pred")
    ref_share = reference.normalized("true") if reference is not None else None
    labels = matrix.labels
    k = matrix.n_classes
    out = np.empty((k, k), dtype=object)
    for i, j in np.ndindex(k, k):
        true, pred = labels[i], labels[j]
        line = (
            f"true <b>{true}</b> → predicted <b>{pred}</b><br>"
            f"{what}: {count(counts[i, j])} rows · {percent(rows_share[i, j])} of true {true} · "
            f"{percent(cols_share[i, j])} of predicted {pred}"
        )
        if reference is not None and ref_share is not None:
            line += (
                f"<br>overall: {count(reference.counts[i, j])} rows · "
                f"{percent(ref_share[i, j])} of true {true}"
            )
        if matrix.codes[i] < 0 and i == j and matrix.other_errors:
            line += f"<br>includes {count(matrix.other_errors)} confusions among other classes"
        out[i, j] = line
    return out


def confusion_heatmap(
    matrix: ConfusionMatrix,
    *,
    normalize: Normalize | None = None,
    reference: ConfusionMatrix | None = None,
    selected: tuple[int, int] | None = None,
    title: str = "Confusion matrix",
    what: str = "slice",
) -> go.Figure:
    """An annotated heatmap: counts, or shares by row (recall) or column (precision).

    ``reference`` (same classes) adds its numbers to the hover text; ``selected``
    (class codes) outlines that cell.
    """
    values = matrix.normalized(normalize)
    diagonal = np.eye(matrix.n_classes, dtype=bool)
    texts = _cell_texts(matrix, normalize)
    empty = matrix.counts == 0  # no colour at all: an empty cell is not a small one
    traces = []
    for cells, scale, show in (
        (diagonal & ~empty, CORRECT_SCALE, False),
        (~diagonal & ~empty, ERROR_SCALE, True),
    ):
        z = np.where(cells, values, np.nan)
        colorbar = {"title": {"text": "errors"}, "thickness": 12, "len": 0.8}
        traces.append(
            _heatmap(
                z,
                np.where(cells, texts, ""),
                matrix.labels,
                colorscale=scale,
                zmin=0,
                zmax=float(z[cells].max()) if cells.any() else 1.0,
                showscale=show,
                colorbar=colorbar | ({"tickformat": ".0%"} if normalize else {}),
            )
        )
    what_text = {
        None: "counts",
        "true": "share of each true class (recall on the diagonal)",
        "pred": "share of each predicted class (precision on the diagonal)",
        "all": "share of all rows",
    }[normalize]
    subtitle = f"{count(matrix.n_samples)} rows · {what_text}"
    hover = _hover_texts(matrix, reference, what)
    return _matrix_figure(
        traces, matrix, hover, title=figure_title(title, subtitle), selected=selected
    )


def difference_heatmap(
    matrix: ConfusionMatrix,
    reference: ConfusionMatrix,
    *,
    normalize: Normalize | None = None,
    selected: tuple[int, int] | None = None,
    title: str = "Slice minus overall",
) -> go.Figure:
    """Slice minus overall in percentage points (red: more in the slice, blue: less)."""
    diff = difference(matrix, reference, normalize=normalize)
    both_empty = (matrix.counts == 0) & (reference.counts == 0)
    signed = np.vectorize(lambda v: f"{v:+.1f}", otypes=[object])(diff)
    texts = np.where(both_empty | (np.abs(diff) < 0.05), "", signed)
    limit = max(float(np.abs(diff).max()), 1.0)
    trace = _heatmap(
        diff,
        texts,
        matrix.labels,
        colorscale=DIVERGING_SCALE,
        zmid=0,
        zmin=-limit,
        zmax=limit,
        colorbar={"title": {"text": "pts"}, "thickness": 12, "len": 0.8},
    )
    base = _hover_texts(matrix, reference, "slice")
    hover = np.empty_like(base)
    for (i, j), line in np.ndenumerate(base):
        hover[i, j] = f"{line}<br>difference: {points(diff[i, j] / 100, digits=2)}"
    unit = "share of each predicted class" if normalize == "pred" else "share of each true class"
    if normalize == "all":
        unit = "share of all rows"
    subtitle = f"percentage points of the {unit}; red: more in the slice"
    return _matrix_figure(
        [trace], matrix, hover, title=figure_title(title, subtitle), selected=selected
    )


#: Points drawn per precision-recall curve: finer than a chart's width in pixels can show.
CURVE_POINTS = 500


def _curve_trace(name: str, curve: PrCurve, color: str) -> go.Scatter:
    # float32 halves the typed arrays Plotly sends; a drawing needs no more digits.
    precision, recall, thresholds = (a.astype(np.float32) for a in curve.thinned(CURVE_POINTS))
    ap = curve.average_precision
    label = f"{name} (AP {ap:.3f})" if not math.isnan(ap) else f"{name} (no positives)"
    return go.Scatter(
        x=recall,
        y=precision,
        mode="lines",
        name=label,
        line={"color": color, "width": 2, "shape": "hv"},
        customdata=thresholds,
        hovertemplate=(
            f"{name}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}"
            "<br>threshold %{customdata:.3f}<extra></extra>"
        ),
    )


def _point_trace(name: str, point: ThresholdMetrics, color: str) -> go.Scatter:
    return go.Scatter(
        x=[point.recall],
        y=[point.precision],
        mode="markers",
        marker={"color": color, "size": 11, "line": {"width": 2, "color": "white"}},
        name=f"{name} at {point.threshold:.2f}",
        showlegend=False,
        hovertemplate=(
            f"{name} at threshold {point.threshold:.2f}<br>"
            "recall %{x:.3f}<br>precision %{y:.3f}<extra></extra>"
        ),
    )


def pr_curve_figure(
    curves: dict[str, PrCurve],
    *,
    points: dict[str, ThresholdMetrics] | None = None,
    title: str = "Precision-recall",
) -> go.Figure:
    """Precision against recall for each named curve (``"slice"``, ``"overall"``, ``"rest"``).

    ``points`` marks each curve's operating point at the current threshold.
    """
    fig = go.Figure()
    for name, curve in curves.items():
        if curve.n_samples == 0:
            continue
        color = SIDE_COLORS.get(name, "#555555")
        fig.add_trace(_curve_trace(name, curve, color))
        point = (points or {}).get(name)
        if point is not None and point.n_positive:
            fig.add_trace(_point_trace(name, point, color))
    fig.update_layout(
        title=figure_title(title, "dots: the current threshold"),
        xaxis={"title": "recall", "range": [0, 1.02], "tickformat": ".0%"},
        yaxis={"title": "precision", "range": [0, 1.05], "tickformat": ".0%"},
        height=380,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2, "x": 0},
        hoverlabel=HOVER_LABEL,
    )
    return fig
