"""What a point's hover label shows: id, label and prediction, confidence or residual, features.

:func:`hover_table` collects the values once per view, as data: numbers stay
numbers, text is shortened and HTML-escaped (plotly renders hover labels as
HTML). :mod:`.hover_template` turns a trace's share into typed arrays and a
``hovertemplate``; :func:`hover_texts` renders the same fields as one HTML
string per point, formatted in Python.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions

__all__ = [
    "HOVER_FULL_POINTS",
    "HoverField",
    "HoverTable",
    "hover_table",
    "hover_texts",
    "readable_number",
]

HOVER_FULL_POINTS = 10_000
"""Maps with more points get a shorter hover label (see :func:`hover_table`)."""

MISSING = "–"
FLOAT64_EXACT = 2**53
"""Integers at least this large are shown as text (float64 would change them)."""

FieldKind = Literal["text", "integer", "readable", "probability", "signed"]


def readable_number(value: float) -> str:
    """A readable number: ``52,310`` for large values, 4 significant digits otherwise."""
    if not math.isfinite(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _finite_or_missing(format_value: Callable[[float], str]) -> Callable[[float], str]:
    return lambda v: format_value(v) if math.isfinite(v) else MISSING


_PYTHON_FORMATS: dict[FieldKind, Callable[[float], str]] = {
    "integer": _finite_or_missing(lambda v: str(int(v))),
    "readable": readable_number,
    "probability": _finite_or_missing(lambda v: f"{v:.2f}"),
    "signed": _finite_or_missing(lambda v: f"{v:+.4g}"),
}


@dataclass(frozen=True, eq=False)
class HoverField:
    """One item of the hover label: the HTML around its value, and the value of each point.

    ``values`` are escaped, shortened strings (``kind == "text"``) or float64
    numbers, NaN where missing, shown as ``kind`` says (``integer``: ``42``;
    ``readable``: :func:`readable_number`; ``probability``: ``0.87``;
    ``signed``: ``+1.25``).
    """

    before: str
    values: np.ndarray
    kind: FieldKind
    after: str = ""

    def texts(self, rows: np.ndarray) -> np.ndarray:
        """The values of ``rows`` as Python formats them (object array of strings)."""
        values = self.values[rows]
        if self.kind == "text":
            return values
        return np.array([_PYTHON_FORMATS[self.kind](v) for v in values.tolist()], dtype=object)

    def rendered(self, rows: np.ndarray) -> np.ndarray:
        """``before + value + after`` for ``rows``."""
        return self.before + self.texts(rows) + self.after


@dataclass(frozen=True, eq=False)
class HoverTable:
    """The hover fields of a view's points, in display order, and the dataset's row count."""

    fields: tuple[HoverField, ...]
    positions: np.ndarray
    n_samples: int

    def __len__(self) -> int:
        return len(self.positions)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def _text(values: pd.Series, width: int) -> np.ndarray:
    """Short, HTML-escaped text of a column's values (at most ``width`` characters each)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").fillna(MISSING).astype(object)
    else:
        out = values.astype(object).map(lambda v: MISSING if _is_missing(v) else str(v))
    escaped = [html.escape(_shorten(v, width)) for v in out.tolist()]
    return np.array(escaped, dtype=object)


def _field(values: pd.Series, before: str, *, width: int, after: str = "") -> HoverField:
    """A column as a hover field: floats readable, integers as they are, the rest as text."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return HoverField(before, _text(values, width), "text", after)
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_float_dtype(dtype):
        return HoverField(before, numbers, "readable", after)
    if np.nanmax(np.abs(numbers), initial=0.0) >= FLOAT64_EXACT:
        return HoverField(before, _text(values, width), "text", after)
    return HoverField(before, numbers, "integer", after)


def _hover_columns(predictions: Predictions, n_features: int) -> list[str]:
    s = predictions.schema
    image = set(s.image.columns) if s.image is not None else set()
    usable = [c for c, k in s.features.items() if k != "text" and c not in image]
    return usable[:n_features]


def hover_table(
    predictions: Predictions, positions: np.ndarray, *, n_features: int | None = None
) -> HoverTable:
    """Hover fields of the points at ``positions``: id, label and prediction, confidence
    or residual, a few features.

    Plotly sends each selected point's hover data back with a selection, and
    Streamlit drops messages over 25 MB, so big maps show less: up to
    :data:`HOVER_FULL_POINTS` points, 4 features and values of up to 40
    characters; beyond, 2 features and 16 characters.
    """
    s = predictions.schema
    full = len(positions) <= HOVER_FULL_POINTS
    width = 40 if full else 16
    n_features = (4 if full else 2) if n_features is None else n_features
    frame = predictions.frame.iloc[positions]
    if s.id is not None:
        ident = _field(frame[s.id], "<b>", width=width, after="</b>")
    else:
        ident = HoverField("<b>", positions.astype(np.float64) + 1, "integer", "</b>")
    fields = [
        ident,
        _field(frame[s.label], "<br>label ", width=width),
        _field(frame[s.prediction], " · predicted ", width=width),
    ]
    if predictions.confidence is not None:
        conf = np.asarray(predictions.confidence[positions], dtype=np.float64)
        fields.append(HoverField("<br>confidence ", conf, "probability"))
    elif not s.is_classification:
        res = np.asarray(predictions.residual[positions], dtype=np.float64)
        fields.append(HoverField("<br>residual ", res, "signed"))
    for column in _hover_columns(predictions, n_features):
        name = html.escape(_shorten(column, width))
        fields.append(_field(frame[column], f"<br>{name} ", width=width))
    return HoverTable(tuple(fields), np.asarray(positions), predictions.n_samples)


def hover_texts(
    predictions: Predictions, positions: np.ndarray, *, n_features: int | None = None
) -> np.ndarray:
    """The hover label of each point as one HTML string (the fields of :func:`hover_table`).

    About 300 bytes per point on a big map; the figure sends
    :func:`~mlqa_debug.analyses.embeddings.hover_template.trace_hover`'s data instead.
    No points, no texts: an empty array.
    """
    table = hover_table(predictions, positions, n_features=n_features)
    rows = np.arange(len(positions))
    out = np.full(len(positions), "", dtype=object)
    for field in table.fields:
        out = out + field.rendered(rows)
    return out
