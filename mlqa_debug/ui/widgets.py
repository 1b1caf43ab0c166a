"""Widgets shared by several pages (they draw; the library computes)."""

from __future__ import annotations

import re
import urllib.parse

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing.slices import Slice
from mlqa_debug.stats import metrics as metrics


def suggest_name(filename: str) -> str:
    """A valid dataset id from an uploaded file's name."""
    stem = filename.rsplit(".", 1)[0].lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:48]
    return name or "dataset"


def upload_form(ws: Workspace) -> None:
    """Upload a CSV/Parquet file and register it in the workspace."""
    with st.expander("Add a dataset (CSV or Parquet)"):
        uploaded = st.file_uploader("Predictions file", type=["csv", "parquet"], key="upload_file")
        default = suggest_name(uploaded.name) if uploaded is not None else ""
        name = st.text_input("Dataset name", value=default, key=f"upload_name_{default}")
        if st.button("Register", disabled=uploaded is None, key="upload_register") and uploaded:
            try:
                entry = ws.add(uploaded, name=name, filename=uploaded.name)
            except MlqaError as e:
                st.error(str(e))
                return
            st.session_state["_current_ds"] = entry.name
            st.query_params.clear()
            st.query_params["ds"] = entry.name
            st.rerun()


def summary_metrics(predictions: Predictions) -> None:
    """Headline numbers of a dataset as a row of st.metric."""
    s = predictions.schema
    cols = st.columns(5)
    cols[0].metric("Rows", f"{predictions.n_samples:,}")
    cols[1].metric("Task", s.task)
    if s.is_classification:
        cols[2].metric("Classes", len(s.classes))
    else:
        cols[2].metric("Error threshold", f"|residual| > {s.error_threshold:.3g}")
    cols[3].metric("Error rate", f"{predictions.error.mean():.2%}")
    cols[4].metric("Features", len(s.features))


def metrics_table(predictions: Predictions) -> None:
    """The overall metrics as a one-row table."""
    values = metrics.evaluate(predictions.metric_data).to_dict()
    flat = {k: v for k, v in values.items() if not isinstance(v, dict | list)}
    st.dataframe(pd.DataFrame([flat]), hide_index=True, width="stretch")


def copy_link(page: str, params: dict[str, str | None]) -> None:
    """The full URL of the current view, with a copy button."""
    from mlqa_debug.ui.slice_state import share_url

    url = share_url(page, params)
    st.markdown("**Link to this view**")
    st.code(url, language=None, wrap_lines=True)


def open_slice_link(
    dataset: str, s: Slice, *, label: str | None = None, key: str | None = None
) -> None:
    """A link that opens ``s`` on the Slices page (same dataset), shareable as is."""
    text = label or f"Open on Slices: {s.text or 'all rows'}"
    try:
        st.page_link(
            "pages/slices.py",
            label=text,
            icon=":material/filter_alt:",
            query_params={"ds": dataset, "slice": s.text},
        )
    except StreamlitAPIException:  # a page file run on its own (tests): a plain link
        query = urllib.parse.urlencode({"ds": dataset, "slice": s.text})
        st.markdown(f"[{escape_markdown(text)}](/slices?{query})")


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (slice text can hold any character)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$])", r"\\\1", text)
