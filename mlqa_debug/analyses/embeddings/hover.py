"""The hover text of each point: id, label and prediction, confidence or residual, a few features.

Every value is HTML-escaped (plotly renders hover text as HTML) and shortened.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions

__all__ = ["HOVER_FULL_POINTS", "hover_texts", "readable_number"]

HOVER_FULL_POINTS = 10_000
"""Maps with more points get a shorter hover text (see :func:`hover_texts`)."""


def readable_number(value: float) -> str:
    """A readable number: ``52,310`` for large values, 4 significant digits otherwise."""
    if not math.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _hover_columns(predictions: Predictions, n_features: int) -> list[str]:
    s = predictions.schema
    image = set(s.image.columns) if s.image is not None else set()
    usable = [c for c, k in s.features.items() if k != "text" and c not in image]
    return usable[:n_features]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _text(values: pd.Series, width: int = 40) -> pd.Series:
    """Short, HTML-escaped text of a column's values (at most ``width`` characters each)."""
    if pd.api.types.is_float_dtype(values.dtype):
        out = values.map(readable_number)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").fillna("–")
    else:
        out = values.astype(object).map(lambda v: "–" if v is None or v is pd.NA else str(v))
    return out.map(lambda v: html.escape(_shorten(v, width)))


def hover_texts(
    predictions: Predictions, positions: np.ndarray, *, n_features: int | None = None
) -> np.ndarray:
    """Hover text per point: id, label and prediction, confidence or residual, a few features.

    Plotly sends each selected point's hover text back with a selection, and
    Streamlit drops messages over 25 MB, so big maps get a shorter text: up to
    :data:`HOVER_FULL_POINTS` points, 4 features and values of up to 40
    characters; beyond, 2 features and 16 characters (about 300 bytes per
    selected point, 15 MB for 50,000). No points, no texts: an empty view (a
    slice that matches no row) gets an empty array.
    """
    if len(positions) == 0:  # pandas gives an empty column of numbers no text dtype
        return np.empty(0, dtype=object)
    s = predictions.schema
    full = len(positions) <= HOVER_FULL_POINTS
    width = 40 if full else 16
    n_features = (4 if full else 2) if n_features is None else n_features
    frame = predictions.frame.iloc[positions]
    ident = (
        _text(frame[s.id], width)
        if s.id is not None
        else pd.Series((positions + 1).astype(str), index=frame.index)
    )
    lines = "<b>" + ident.astype(str) + "</b><br>label " + _text(frame[s.label], width)
    lines = lines + " · predicted " + _text(frame[s.prediction], width)
    if predictions.confidence is not None:
        conf = pd.Series(predictions.confidence[positions], index=frame.index)
        lines = lines + "<br>confidence " + conf.map(lambda v: f"{v:.2f}")
    elif not s.is_classification:
        res = pd.Series(predictions.residual[positions], index=frame.index)
        lines = lines + "<br>residual " + res.map(lambda v: f"{v:+.4g}")
    for column in _hover_columns(predictions, n_features):
        name = html.escape(_shorten(column, width))
        lines = lines + "<br>" + name + " " + _text(frame[column], width)
    return lines.to_numpy(dtype=object)
