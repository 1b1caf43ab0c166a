"""The current slice: in the URL (``?slice=<text form>``), in a text box, in a builder.

The URL holds the last *valid* slice in its canonical text form, so a link is
readable in a review. The text box (key :data:`TEXT_KEY`) is seeded from the URL
whenever the URL changes and otherwise belongs to the user; a parse error keeps
the typed text and shows the parser's message under it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import EMPTY, Predicate, Slice, parse_slice
from mlqa_debug.ui.links import MAX_PARAM_LENGTH, SLICE_PARAM, page_url
from mlqa_debug.ui.options import raw_param, seed, write_param
from mlqa_debug.ui.text import md

TEXT_KEY = "slice"
_ERROR_KEY = "_slice_error"
_URL_ERROR_KEY = "_slice_url_error"


def _parse_url_slice(raw: str | None) -> str:
    return raw or ""


def _apply_text() -> None:
    """on_change of the text box: parse, canonicalise, put in the URL; keep text on error."""
    text = st.session_state.get(TEXT_KEY, "") or ""
    try:
        s = parse_slice(text, max_length=MAX_PARAM_LENGTH)
    except SliceError as e:
        st.session_state[_ERROR_KEY] = str(e)
        return
    st.session_state[_ERROR_KEY] = None
    set_slice(s)


def set_slice(s: Slice) -> None:
    """Make ``s`` the current slice (URL and text box). Call from callbacks or before the box."""
    st.session_state[TEXT_KEY] = s.text
    st.session_state[_ERROR_KEY] = None
    write_param(SLICE_PARAM, s.text)


def add_predicate(predicate: Predicate) -> None:
    set_slice(url_slice() & Slice((predicate,)))


def remove_predicate(predicate: Predicate) -> None:
    current = url_slice()
    set_slice(Slice(tuple(p for p in current.predicates if p != predicate)))


def refine_from_table(current: Slice, refinements: list[Slice]) -> Callable[[], None]:
    """An ``on_select`` callback for a table whose rows add ``refinements[i]`` to the slice."""
    key = f"breakdown_{current.id}"

    def apply() -> None:
        rows = st.session_state[key].selection.rows
        if rows:
            set_slice(current & refinements[rows[0]])

    return apply


def url_slice() -> Slice:
    """The slice the URL holds; the empty slice if absent or unparsable."""
    raw = raw_param(SLICE_PARAM)
    if not raw:
        return EMPTY
    try:
        return parse_slice(raw, max_length=MAX_PARAM_LENGTH)
    except SliceError:
        return EMPTY


def current_slice_and_mask(predictions: Predictions) -> tuple[Slice, np.ndarray]:
    """Seed the text box from the URL; the slice in force, checked on the data, and its rows.

    Parsed, checked and evaluated once per run. A slice in the URL that does not
    parse or does not fit the dataset gives an inline message and the empty
    slice (all rows), never an exception.
    """
    raw = st.query_params.get(SLICE_PARAM)
    seed(TEXT_KEY, _parse_url_slice, param=SLICE_PARAM)
    if raw is not None and len(raw) > MAX_PARAM_LENGTH:
        st.error(f"The slice in this link is too long ({len(raw):,} characters); showing all rows.")
        return EMPTY, _all_rows(predictions)
    try:
        s = parse_slice(raw or "", max_length=MAX_PARAM_LENGTH)
        s.check(predictions.column_kinds)
        mask = s.mask(predictions.slice_frame) if s.predicates else _all_rows(predictions)
    except SliceError as e:
        st.error(md(f"The slice in this link cannot be used — {e} — so all rows are shown."))
        return EMPTY, _all_rows(predictions)
    if (raw or "") != s.text:  # show and share the canonical form
        st.session_state[TEXT_KEY] = s.text
        write_param(SLICE_PARAM, s.text)
    return s, mask


def _all_rows(predictions: Predictions) -> np.ndarray:
    mask = np.ones(predictions.n_samples, dtype=bool)
    mask.setflags(write=False)
    return mask


def slice_text_box(*, label: str = "Slice") -> None:
    """The editable text form; shows the parser's message inline on a bad edit."""
    st.text_input(
        label,
        key=TEXT_KEY,
        on_change=_apply_text,
        placeholder="e.g. region in ('north', 'west') and age >= 40 — empty means all rows",
        help=(
            "Predicates joined by `and`: ==, !=, <, <=, >, >=, in (...), not in (...), "
            "between a and b, is missing, is not missing. Quote odd column names with "
            "backticks: `income band` == '10-20k'. Press Enter to apply."
        ),
    )
    problem = st.session_state.get(_ERROR_KEY)
    if problem:
        st.error(md(f"Not applied: {problem}"))


def share_url(page: str, params: dict[str, Any]) -> str:
    """The full URL of a view: this server's address, ``page`` and the parameters."""
    return page_url(page, params, absolute=True)
