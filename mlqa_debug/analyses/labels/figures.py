"""Figures of the label review (plotly, no Streamlit): one example's class probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

__all__ = ["MAX_BARS", "probability_bars"]

MAX_BARS = 20
"""Classes drawn at most: the most probable ones, the given and the predicted class always."""

GIVEN_COLOUR = "#d97706"  # amber: the label under review
PREDICTED_COLOUR = "#2563eb"  # blue: what the model predicts
OTHER_COLOUR = "#9ca3af"


def _shown_classes(probs: npt.NDArray[np.float64], keep: Sequence[int], limit: int) -> list[int]:
    """Indices of the classes drawn, in class order: ``keep`` and the most probable others."""
    if len(probs) <= limit:
        return list(range(len(probs)))
    chosen = set(keep)
    for j in np.argsort(-probs, kind="stable"):
        if len(chosen) >= limit:
            break
        chosen.add(int(j))
    return sorted(chosen)


def probability_bars(
    classes: Sequence[Any],
    probs: npt.ArrayLike,
    *,
    given: int,
    predicted: int,
    limit: int = MAX_BARS,
) -> go.Figure:
    """Horizontal bars of one example's class probabilities, given and predicted class marked.

    ``given`` and ``predicted`` are indices into ``classes``. With more than ``limit``
    classes only the most probable ones are drawn (the given and predicted always),
    and the title says so.
    """
    values = np.asarray(probs, dtype=np.float64)
    shown = _shown_classes(values, (given, predicted), limit)
    names = [str(classes[j]) for j in shown]
    colours = [
        GIVEN_COLOUR if j == given else PREDICTED_COLOUR if j == predicted else OTHER_COLOUR
        for j in shown
    ]
    roles = [
        " (given, predicted)"
        if j == given == predicted
        else " (given)"
        if j == given
        else " (predicted)"
        if j == predicted
        else ""
        for j in shown
    ]
    figure = go.Figure(
        go.Bar(
            x=values[shown],
            y=[f"{n}{r}" for n, r in zip(names, roles, strict=True)],
            orientation="h",
            marker_color=colours,
            text=[f"{v:.1%}" for v in values[shown]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    title = "Class probabilities"
    if len(shown) < len(values):
        title += f" (the {len(shown)} most probable of {len(values)} classes)"
    figure.update_layout(
        title=title,
        height=90 + 26 * len(shown),
        margin={"l": 10, "r": 50, "t": 40, "b": 30},
        xaxis={"range": [0, 1.0], "tickformat": ".0%", "title": None},
        yaxis={"autorange": "reversed", "type": "category", "title": None},
        showlegend=False,
    )
    return figure
