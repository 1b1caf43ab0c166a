"""Plotly figures for the Explanations page, from :mod:`mlqa_debug.analyses.explain` results.

No Streamlit here: the page calls ``st.plotly_chart(fig)``. Colours follow
:mod:`mlqa_debug.stats.figures` (slice red, rest grey); attributions that push toward
the explained target are red, against it blue, as in shap's own plots.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mlqa_debug.analyses.explain.aggregate import Waterfall
from mlqa_debug.stats.figures import REST_COLOR, SLICE_COLOR

ERROR_COLOR = "#d62728"
CORRECT_COLOR = "#1f77b4"
PUSH_UP = "#e4572e"
PUSH_DOWN = "#2e86ab"
VALUE_SCALE = [[0.0, "#2e86ab"], [0.5, "#c9c2d6"], [1.0, "#e4572e"]]
MARGIN = {"l": 10, "r": 10, "t": 60, "b": 10}
LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0}

ColourBy = Literal["error", "value"]


def _bar_height(n: int, *, per_bar: int = 26, extra: int = 90) -> int:
    return max(220, extra + per_bar * n)


def importance_bars(table: pd.DataFrame, *, top: int = 12) -> go.Figure:
    """Mean |SHAP| inside the slice next to the rest, for the ``top`` rows of ``table``.

    ``table`` is :func:`~mlqa_debug.analyses.explain.aggregate.importance_table` (ranked by the
    difference), so the features that matter more inside the slice come first.
    """
    rows = table.head(top).iloc[::-1]  # horizontal bars are drawn bottom-up
    has_rest = bool(rows["rest"].notna().any())
    fig = go.Figure(
        go.Bar(
            y=rows["feature"],
            x=rows["slice"],
            name="slice" if has_rest else "all rows",
            orientation="h",
            marker_color=SLICE_COLOR,
            hovertemplate="%{y}: %{x:.3g}<extra>slice</extra>",
        )
    )
    if has_rest:
        fig.add_bar(
            y=rows["feature"],
            x=rows["rest"],
            name="rest",
            orientation="h",
            marker_color=REST_COLOR,
            hovertemplate="%{y}: %{x:.3g}<extra>rest</extra>",
        )
    fig.update_layout(
        title="Mean |SHAP| in the slice and in the rest",
        barmode="group",
        height=_bar_height(len(rows), per_bar=30 if has_rest else 22),
        margin=MARGIN,
        legend=LEGEND_TOP,
        xaxis_title="mean |SHAP|",
    )
    return fig


def push_bars(table: pd.DataFrame, *, top: int = 12, regression: bool = False) -> go.Figure:
    """Mean signed push toward the prediction's side, errors vs correct rows.

    ``table`` is :func:`~mlqa_debug.analyses.explain.aggregate.push_table`. Classification: SHAP
    toward each row's predicted class (the wrong class on errors). Regression:
    SHAP in the direction of the residual.
    """
    rows = table.head(top).iloc[::-1]
    toward = "the residual's direction" if regression else "the predicted class"
    wrong = "errors" if regression else "errors (toward the wrong class)"
    fig = go.Figure()
    for column, color, label in (
        ("errors", ERROR_COLOR, wrong),
        ("correct", CORRECT_COLOR, "correct predictions"),
    ):
        if rows[column].notna().any():
            fig.add_bar(
                y=rows["feature"],
                x=rows[column],
                name=label,
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}: %{x:+.3g}<extra>" + label + "</extra>",
            )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(
        title=f"Mean SHAP toward {toward}",
        barmode="group",
        height=_bar_height(len(rows), per_bar=30),
        margin=MARGIN,
        legend=LEGEND_TOP,
        xaxis_title=f"mean SHAP toward {toward}",
    )
    return fig


def _jitter(frame: pd.DataFrame, order: list[str]) -> np.ndarray:
    """Beeswarm offsets: wider where points are dense (a histogram per feature), seeded."""
    rng = np.random.default_rng(0)
    offsets = np.zeros(len(frame))
    for feature in order:
        idx = np.flatnonzero((frame["feature"] == feature).to_numpy())
        x = frame["shap"].to_numpy()[idx]
        if len(idx) == 0:
            continue
        counts, edges = np.histogram(x, bins=min(40, max(5, len(idx) // 10)))
        density = counts[np.clip(np.digitize(x, edges[1:-1]), 0, len(counts) - 1)]
        offsets[idx] = rng.uniform(-1, 1, len(idx)) * 0.38 * density / max(counts.max(), 1)
    return offsets


def beeswarm(frame: pd.DataFrame, *, features: list[str], colour: ColourBy = "error") -> go.Figure:
    """One row of points per feature: its SHAP value for each explained row.

    ``frame`` is :func:`~mlqa_debug.analyses.explain.aggregate.beeswarm_frame`; ``features`` are
    drawn top to bottom. Colour by the row's error, or by the feature's value
    (low blue, high red; missing grey).
    """
    position = {f: len(features) - 1 - i for i, f in enumerate(features)}
    y = frame["feature"].map(position).to_numpy(dtype=np.float64) + _jitter(frame, features)
    hover = (
        "%{customdata[0]}<br>%{customdata[1]} = %{customdata[2]}<br>SHAP %{x:+.3g}<extra></extra>"
    )
    custom = frame[["id", "feature", "value"]].to_numpy()
    fig = go.Figure()
    if colour == "error":
        for flag, name, color in ((False, "correct", CORRECT_COLOR), (True, "error", ERROR_COLOR)):
            keep = (frame["error"] == flag).to_numpy()
            fig.add_scattergl(
                x=frame["shap"][keep], y=y[keep], mode="markers", name=name,
                marker={"color": color, "size": 5, "opacity": 0.6},
                customdata=custom[keep], hovertemplate=hover,
            )  # fmt: skip
    else:
        known = frame["colour"].notna().to_numpy()
        fig.add_scattergl(
            x=frame["shap"][~known], y=y[~known], mode="markers", name="missing",
            marker={"color": "#bbbbbb", "size": 5}, customdata=custom[~known], hovertemplate=hover,
        )  # fmt: skip
        fig.add_scattergl(
            x=frame["shap"][known], y=y[known], mode="markers", name="value", showlegend=False,
            marker={
                "color": frame["colour"][known], "colorscale": VALUE_SCALE, "size": 5,
                "opacity": 0.75, "cmin": 0, "cmax": 1,
                "colorbar": {"title": "value", "tickvals": [0, 1], "ticktext": ["low", "high"]},
            },
            customdata=custom[known], hovertemplate=hover,
        )  # fmt: skip
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(
        title="SHAP value of each explained row (beeswarm)",
        height=_bar_height(len(features), per_bar=34),
        margin=MARGIN,
        xaxis_title="SHAP value",
        yaxis={
            "tickvals": list(range(len(features))),
            "ticktext": features[::-1],
            "range": [-0.7, len(features) - 0.3],
            "zeroline": False,
        },
        legend=LEGEND_TOP,
    )
    return fig


def dependence(frame: pd.DataFrame, *, feature: str) -> go.Figure:
    """SHAP value of ``feature`` against its value, coloured by error.

    Numbers give a scatter plot; categories a strip of jittered points per
    value with a box per error group.
    """
    fig = go.Figure()
    numeric = pd.api.types.is_numeric_dtype(
        frame["x"].dtype
    ) or pd.api.types.is_datetime64_any_dtype(frame["x"].dtype)
    for flag, name, color in ((False, "correct", CORRECT_COLOR), (True, "error", ERROR_COLOR)):
        part = frame[frame["error"] == flag]
        hover = (
            "%{customdata}<br>" + feature + " = %{x}<br>SHAP %{y:+.3g}<extra>" + name + "</extra>"
        )
        if numeric:
            fig.add_scattergl(
                x=part["x"], y=part["shap"], mode="markers", name=name,
                marker={"color": color, "size": 6, "opacity": 0.6},
                customdata=part["id"], hovertemplate=hover,
            )  # fmt: skip
        else:
            fig.add_box(
                x=part["x"].astype(str), y=part["shap"], name=name, boxpoints="all", jitter=0.5,
                pointpos=0, marker={"color": color, "size": 4, "opacity": 0.6},
                line={"color": color, "width": 1}, fillcolor="rgba(0,0,0,0)",
                customdata=part["id"], hovertemplate=hover,
            )  # fmt: skip
    fig.add_hline(y=0, line_color="#444", line_width=1)
    fig.update_layout(
        title=f"Dependence: SHAP value of {feature} against its value",
        height=380,
        margin=MARGIN,
        xaxis_title=feature,
        yaxis_title=f"SHAP value of {feature}",
        boxmode="group",
        legend=LEGEND_TOP,
    )
    return fig


def _label(feature: str, value: str) -> str:
    text = f"{feature} = {value}" if value else feature
    return text if len(text) <= 48 else text[:47] + "…"


def waterfall(wf: Waterfall, *, output_space: str) -> go.Figure:
    """The row's attributions from the base value to the model output, largest first."""
    base = 0.0 if math.isnan(wf.base) else wf.base
    labels = [_label(f, v) for f, v in zip(wf.frame["feature"], wf.frame["value"], strict=True)]
    path = base + np.concatenate([[0.0], np.cumsum(wf.frame["shap"].to_numpy())])
    low, high = float(path.min()), float(path.max())
    if output_space != "prediction":  # scores: show where zero (or the 0.5 boundary) lies
        low, high = min(low, 0.0), max(high, 0.0)
    pad = 0.18 * (high - low or 1.0)
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            cliponaxis=False,
            y=[*labels, "model output"],
            x=[*wf.frame["shap"], wf.output if not math.isnan(wf.output) else 0.0],
            measure=["relative"] * len(labels) + ["total"],
            base=base,
            text=[f"{v:+.3g}" for v in wf.frame["shap"]] + [f"{wf.output:.4g}"],
            textposition="outside",
            increasing={"marker": {"color": PUSH_UP}},
            decreasing={"marker": {"color": PUSH_DOWN}},
            totals={"marker": {"color": "#555555"}},
            connector={"line": {"color": "#999", "width": 1}},
            hovertemplate="%{y}: %{x:+.4g}<extra></extra>",
        )
    )
    base_text = "unknown base" if math.isnan(wf.base) else f"base {wf.base:.4g}"
    what = f"Toward {wf.target} ({output_space})"
    if output_space == "prediction":
        what = "The prediction"
    fig.update_layout(
        title=f"{what}: {base_text} → {wf.output:.4g}",
        height=_bar_height(len(labels) + 1, per_bar=30),
        margin={**MARGIN, "r": 60},
        yaxis={"autorange": "reversed"},
        xaxis={"title": output_space, "range": [low - pad, high + pad]},
        showlegend=False,
    )
    return fig


def neighbour_bars(contrast: pd.DataFrame, *, target: str) -> go.Figure:
    """The example's attributions next to its correct neighbours' mean."""
    rows = contrast.iloc[::-1]
    fig = go.Figure()
    fig.add_bar(y=rows["feature"], x=rows["example"], name="this example", orientation="h",
                marker_color=ERROR_COLOR)  # fmt: skip
    fig.add_bar(y=rows["feature"], x=rows["neighbours"], name="nearest correct (mean)",
                orientation="h", marker_color=CORRECT_COLOR)  # fmt: skip
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(
        title="The example vs its nearest correct neighbours",
        barmode="group",
        height=_bar_height(len(rows), per_bar=30),
        margin=MARGIN,
        legend=LEGEND_TOP,
        xaxis_title="SHAP value",
    )
    return fig


def attribution_image(pixels: np.ndarray, values: np.ndarray, *, target: str) -> go.Figure:
    """The example's image next to its per-pixel attributions (red: toward the target)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("image", f"SHAP toward {target}"))
    fig.add_heatmap(z=pixels, colorscale="gray_r", showscale=False, row=1, col=1,
                    hovertemplate="pixel (%{y}, %{x}): %{z}<extra></extra>")  # fmt: skip
    limit = float(np.abs(values).max()) or 1.0
    fig.add_heatmap(
        z=values, colorscale="RdBu_r", zmid=0, zmin=-limit, zmax=limit, row=1, col=2,
        colorbar={"title": "SHAP", "len": 0.9},
        hovertemplate="pixel (%{y}, %{x}): %{z:+.3g}<extra></extra>",
    )  # fmt: skip
    for col in (1, 2):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}",
                         showticklabels=False, row=1, col=col)  # fmt: skip
        fig.update_xaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(height=300, margin=MARGIN)
    return fig
