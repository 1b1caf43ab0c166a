"""The History page's figures: the status grid (cases x runs) and a case's values over runs.

Figures only: the frames come from :mod:`mlqa_debug.history.series`. The grid colours
each cell by status (pass, fail, empty, not applicable; blank where a case was not
checked in a run), newest run on the right. A case's line shows its value per run
with the 95% interval as a band and the threshold it was held to as a step line;
each point's ``customdata`` is the run's position, so a page can open that run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mlqa_debug.history.series import RUN_COLUMN

STATUS_CODES = {"pass": 0, "fail": 1, "empty": 2, "not_applicable": 3, "error": 4}
STATUS_COLOURS = ("#2e7d32", "#c62828", "#ef6c00", "#9e9e9e", "#6a1b9a")
STATUS_LABELS = ("pass", "fail", "empty", "n/a", "error")


def status_grid_figure(tidied: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """A heatmap of status per case (rows, ``labels``: id -> shown name) and run (columns)."""
    runs = np.sort(tidied[RUN_COLUMN].unique())
    cases = list(labels)
    row = pd.Index(cases).get_indexer(pd.Index(tidied["case_id"]))
    col = np.searchsorted(runs, tidied[RUN_COLUMN].to_numpy())
    keep = row >= 0
    z = np.full((len(cases), len(runs)), np.nan)
    z[row[keep], col[keep]] = tidied["status"].map(STATUS_CODES).to_numpy()[keep]
    run_ids = tidied.drop_duplicates(RUN_COLUMN).set_index(RUN_COLUMN)["run_id"].reindex(runs)
    k = len(STATUS_COLOURS)
    scale = [
        [edge, colour] for i, colour in enumerate(STATUS_COLOURS) for edge in (i / k, (i + 1) / k)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(r) for r in run_ids.to_numpy()],
            y=[labels[c] for c in cases],
            zmin=-0.5,
            zmax=k - 0.5,
            colorscale=scale,
            xgap=1,
            ygap=1,
            colorbar={"tickvals": list(range(k)), "ticktext": list(STATUS_LABELS), "title": ""},
            hovertemplate="%{y}<br>run %{x}<extra></extra>",
        )
    )
    figure.update_layout(
        height=min(120 + 22 * len(cases), 900) + (110 if len(runs) <= 40 else 0),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={
            "title": {"text": "run (oldest left, newest right)", "standoff": 12},
            "type": "category",
            "showticklabels": len(runs) <= 40,
            "tickangle": -40,
            "automargin": True,  # the run ids under the grid push the title down, not over them
        },
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return figure


def case_figure(rows: pd.DataFrame, *, name: str, metric: str) -> go.Figure:
    """One case over runs: value (points per status), 95% band, threshold."""
    rows = rows.sort_values(RUN_COLUMN)
    x = rows["run_id"].astype(str).to_numpy()
    figure = go.Figure()
    banded = rows[rows["low"].notna()]
    if not banded.empty:
        figure.add_trace(
            go.Scatter(
                x=np.concatenate(
                    [banded["run_id"].astype(str), banded["run_id"].astype(str)[::-1]]
                ),
                y=np.concatenate([banded["high"], banded["low"][::-1]]),
                fill="toself",
                fillcolor="rgba(33,150,243,0.15)",
                line={"width": 0},
                hoverinfo="skip",
                name="95% interval",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["threshold"],
            mode="lines",
            line={"dash": "dash", "color": "#c62828", "shape": "hv"},
            name="threshold",
        )
    )
    colours = rows["status"].map(dict(zip(STATUS_CODES, STATUS_COLOURS, strict=True)))
    figure.add_trace(
        go.Scatter(
            x=x,
            y=rows["value"],
            mode="lines+markers",
            marker={"color": colours.to_numpy(), "size": 8},
            line={"color": "#1565c0"},
            customdata=rows[RUN_COLUMN].to_numpy(),
            text=rows["model_version"].fillna("").to_numpy(),
            hovertemplate="run %{x}<br>model %{text}<br>" + metric + " %{y:.4g}<extra></extra>",
            name=metric,
        )
    )
    figure.update_layout(
        title={"text": name, "font": {"size": 14}},
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"type": "category", "title": "run"},
        yaxis={"title": metric},
        legend={"orientation": "h"},
    )
    return figure
