"""Widgets shared by several pages (they draw; the library computes)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

from mlqa_debug import stats as metrics
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import DatasetExistsError, QuotaExceededError, Workspace
from mlqa_debug.errors import MlqaError, SchemaError
from mlqa_debug.slicing import Slice, parse_slice
from mlqa_debug.ui import serving
from mlqa_debug.ui.links import DS_PARAM, SLICE_PARAM, page_link
from mlqa_debug.ui.state import open_dataset
from mlqa_debug.ui.text import md, without_paths


def suggest_name(filename: str) -> str:
    """A valid dataset id from an uploaded file's name."""
    stem = filename.rsplit(".", 1)[0].lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:48]
    return name or "dataset"


def upload_form(ws: Workspace) -> None:
    """Upload a CSV/Parquet file and register it in the workspace (not on a read-only server)."""
    if serving.read_only():
        serving.read_only_note("datasets cannot be uploaded here")
        return
    with st.expander("Add a dataset (CSV or Parquet)"):
        if (refused := st.session_state.pop(_UPLOAD_REFUSED, None)) is not None:
            st.error(md(without_paths(refused, ws)))
        uploaded = st.file_uploader(
            "Predictions file", type=["csv", "parquet"], key=_uploader_key()
        )
        default = suggest_name(uploaded.name) if uploaded is not None else ""
        name = st.text_input("Dataset name", value=default, key=f"upload_name_{default}")
        if st.button("Register", disabled=uploaded is None, key="upload_register") and uploaded:
            try:
                entry = ws.add(uploaded, name=name, filename=uploaded.name)
            except MlqaError as e:
                if not isinstance(e, SchemaError | QuotaExceededError):  # the name: fix it
                    st.error(md(without_paths(upload_error_text(e), ws)))
                    return
                st.session_state[_UPLOAD_REFUSED] = upload_error_text(e)
                _discard_upload(uploaded)  # a refused file does not stay in memory
                st.rerun()
            _discard_upload(uploaded)  # registered: the workspace has its copy
            open_dataset(entry.name)
            st.rerun()


#: Session keys of the upload form: its round (a new round is a new, empty uploader) and
#: the message of a refused file, shown above that uploader.
_UPLOAD_ROUND, _UPLOAD_REFUSED = "_upload_round", "_upload_refused"


def _uploader_key() -> str:
    round_ = st.session_state.get(_UPLOAD_ROUND, 0)
    return "upload_file" if round_ == 0 else f"upload_file_{round_}"


def upload_error_text(e: MlqaError) -> str:
    """What the Data page says when ``Workspace.add`` refuses an upload: advice for this form."""
    if isinstance(e, DatasetExistsError):
        return f"{e.fact}; type another name under Dataset name"
    if isinstance(e, QuotaExceededError):
        return f"{e.fact}; ask whoever runs this server to remove datasets or raise the quota"
    return str(e)


def _discard_upload(uploaded: UploadedFile) -> None:
    """Drop Streamlit's copy of an upload (kept in memory for the session) and empty the form."""
    ctx = get_script_run_ctx()
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=uploaded.file_id)
    uploaded.close()
    st.session_state[_UPLOAD_ROUND] = st.session_state.get(_UPLOAD_ROUND, 0) + 1


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


def slice_metrics(report: metrics.SliceReport[Any]) -> None:
    """The Slices page's headline: rows in the slice first, then the error rates."""
    top = st.columns(4)
    top[0].metric(
        "Rows in slice",
        metrics.count(report.slice.n),
        f"{metrics.percent(report.slice.share)} of all rows",
        delta_color="off",
        delta_arrow="off",
    )
    compared = report.slice.n and report.rest.n  # no difference to show when a side is empty
    top[1].metric(
        "Slice error rate",
        metrics.percent(report.slice.error_rate.value),
        f"{metrics.points(report.difference.error_rate_diff.value)} vs rest" if compared else None,
        delta_color="inverse",
    )
    top[2].metric("Rest error rate", metrics.percent(report.rest.error_rate.value))
    top[3].metric("Overall error rate", metrics.percent(report.overall.error_rate.value))


def metrics_table(predictions: Predictions) -> None:
    """The overall metrics as a one-row table."""
    values = metrics.evaluate(predictions.metric_data).to_dict()
    flat = {k: v for k, v in values.items() if not isinstance(v, dict | list)}
    st.dataframe(pd.DataFrame([flat]), hide_index=True, width="stretch")


def copy_link(url: str) -> None:
    """The full URL of the current view (``ctx.link()``), with a copy button."""
    st.markdown("**Link to this view**")
    st.code(url, language=None, wrap_lines=True)


def open_slice_link(dataset: str, s: Slice, *, label: str | None = None) -> None:
    """A link that opens ``s`` on the Slices page (same dataset), shareable as is."""
    text = label or f"Open on Slices: {s.text or 'all rows'}"
    params = {DS_PARAM: dataset, SLICE_PARAM: s.text}
    page_link("slices", params, label=text, icon=":material/filter_alt:")


CHECK_MARKS = {"pass": "✓", "warn": "!", "fail": "✗", "skipped": "–"}


def check_report(predictions: Predictions, dataset: str) -> None:
    """The checks the loader ran, each with its real status (a skipped one says why)."""
    results = predictions.checks()
    for r in results:
        if r.status in ("warn", "fail"):
            st.warning(f"**{md(r.title)}**: {md(r.message)}", icon=":material/warning:")
            if r.slice:
                open_slice_link(dataset, parse_slice(r.slice), label=f"Open these rows: {r.slice}")
    table = pd.DataFrame(
        {
            "": [CHECK_MARKS[r.status] for r in results],
            "check": [r.title for r in results],
            "result": [r.message for r in results],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", height=320, key="check_report")
    ran = sum(r.status != "skipped" for r in results)
    st.caption(f"{ran} of {len(results)} checks ran; – marks a check that did not apply.")
    reported = [r.message for r in results]
    for warning in predictions.warnings:  # warnings from reading, not from a check
        if not any(message in warning for message in reported):
            st.warning(md(warning))
