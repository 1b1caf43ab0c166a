"""The filter builder: pick a column, an operator and values; add the predicate to the slice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import ColumnKind, Predicate, Slice
from mlqa_debug.ui import slice_state
from mlqa_debug.ui.text import md

OPS_BY_KIND: dict[ColumnKind, list[str]] = {
    "categorical": ["in", "not in", "==", "!=", "is missing", "is not missing"],
    "text": ["in", "not in", "==", "!=", "is missing", "is not missing"],
    "boolean": ["==", "!=", "is missing", "is not missing"],
    "numeric": [">=", "<", "between", "<=", ">", "==", "!=", "in", "is missing", "is not missing"],
    "datetime": [">=", "<", "between", "<=", ">", "is missing", "is not missing"],
}
MAX_CHOICES = 500


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@st.cache_data(max_entries=64, show_spinner=False)
def value_counts(_predictions: Predictions, fingerprint: str, column: str) -> pd.Series:
    """Counts of a column's most common values (keyed by the dataset's fingerprint)."""
    series = _predictions.slice_frame[column]
    return series.value_counts(dropna=True).head(MAX_CHOICES)


def _quartiles(series: pd.Series) -> tuple[float, float, float]:
    numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(numbers).all():
        return (0.0, 0.0, 0.0)
    q1, med, q3 = np.nanquantile(numbers, [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)


def _value_inputs(predictions: Predictions, column: str, kind: ColumnKind, op: str) -> tuple:
    """Widgets for the values of ``column op ...``; returns the values tuple."""
    if op in ("is missing", "is not missing"):
        return ()
    series = predictions.slice_frame[column]
    if kind in ("categorical", "text", "boolean") or op == "in":
        counts = value_counts(predictions, predictions.fingerprint, column)
        options = [_plain(v) for v in counts.index]
        labels = {v: f"{v} ({n:,})" for v, n in zip(options, counts.to_numpy(), strict=True)}
        if op in ("in", "not in"):
            chosen = st.multiselect(
                "Values", options, format_func=lambda v: labels.get(v, str(v)), key="b_values"
            )
            return tuple(chosen)
        value = st.selectbox(
            "Value", options, format_func=lambda v: labels.get(v, str(v)), key="b_value"
        )
        return () if value is None else (value,)
    if kind == "datetime":
        lo, hi = series.min(), series.max()
        if op == "between":
            picked = st.date_input("Between", (lo.date(), hi.date()), key="b_dates")
            return tuple(d.isoformat() for d in picked) if len(picked) == 2 else ()
        day = st.date_input("Date", lo.date(), key="b_date")
        return (day.isoformat(),) if isinstance(day, dt.date) else ()
    q1, med, q3 = predictions.memo(f"quartiles:{column}", lambda: _quartiles(series))
    integral = pd.api.types.is_integer_dtype(series.dtype)
    cast = int if integral else float
    if op == "between":
        a = st.number_input("From", value=cast(q1), key="b_lo")
        b = st.number_input("To", value=cast(q3), key="b_hi")
        return (cast(a), cast(b))
    value = st.number_input("Value", value=cast(med), key="b_num")
    return (cast(value),)


@st.fragment
def slice_builder(predictions: Predictions) -> None:
    """Column / operator / values pickers and an Add button; invalid picks explain why.

    A fragment: picking a column, an operator or values reruns the builder alone,
    not the page under it; only Add, which changes the slice, reruns the page.
    """
    kinds = predictions.column_kinds
    features = list(predictions.schema.features)
    extra = [
        c for c in kinds if c not in predictions.schema.features and c != predictions.schema.id
    ]
    columns = features + extra
    c1, c2, c3, c4 = st.columns([3, 2, 5, 1.3], vertical_alignment="bottom")
    with c1:
        column = st.selectbox("Column", columns, key="b_column")
    kind = kinds[column]
    with c2:
        op = st.selectbox("Operator", OPS_BY_KIND[kind], key=f"b_op_{kind}")
    with c3:
        values = _value_inputs(predictions, column, kind, op)
    with c4:
        st.button(
            "Add",
            type="primary",
            key="b_add",
            width="stretch",
            on_click=_add,
            args=(column, op, values, kinds),
        )
    if st.session_state.pop(_BUILDER_ADDED, False):
        st.rerun()  # the slice changed: everything under the builder depends on it
    problem = st.session_state.pop(_BUILDER_ERROR, None)
    if problem:
        st.error(md(problem))


_BUILDER_ERROR = "_builder_error"
_BUILDER_ADDED = "_builder_added"


def _add(column: str, op: str, values: tuple, kinds: dict[str, ColumnKind]) -> None:
    """on_click of Add: validate the predicate and add it to the slice."""
    if op in ("in", "not in") and not values:
        st.session_state[_BUILDER_ERROR] = "Pick at least one value."
        return
    try:
        predicate = Predicate(column, op, values)  # type: ignore[arg-type]
        Slice((predicate,)).check(kinds)
    except SliceError as e:
        st.session_state[_BUILDER_ERROR] = str(e)
        return
    slice_state.add_predicate(predicate)
    st.session_state[_BUILDER_ADDED] = True


def predicate_chips(s: Slice) -> None:
    """The slice's predicates as buttons that remove them."""
    if not s.predicates:
        st.caption("No filter: the slice is all rows.")
        return
    cols = st.columns(min(len(s.predicates), 4) + 1)
    for i, predicate in enumerate(s.predicates):
        cols[i % 4].button(
            f"✕ {md(predicate.text)}",
            key=f"chip_{i}_{predicate.text}",
            on_click=slice_state.remove_predicate,
            args=(predicate,),
            help="Remove this predicate",
        )
    cols[-1].button("Clear all", key="chip_clear", on_click=slice_state.set_slice, args=(Slice(),))
