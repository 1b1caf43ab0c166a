"""Models and explanations in the UI: the registered model (cached), attributions with
progress, attaching a model from the trusted folder, and the Explanations page's URL options.

Attributions are computed by a background job (:mod:`mlqa_debug.ui.background`), one
per model, dataset, rows and time budget, shared by every session, with progress and
Cancel; the page waits for it about as long as its time budget, then polls it.

Models are code: they load only from the dataset's own folder, or are copied
there from the server's trusted folder (``$MLQA_DEBUG_TRUSTED_MODELS``) by
:func:`attach_model_form`. Nothing here takes a path or a file from the browser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import streamlit as st

from mlqa_debug.analyses import explain
from mlqa_debug.cache import cache_key
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace
from mlqa_debug.errors import MlqaError
from mlqa_debug.jobs import Job
from mlqa_debug.ui import serving
from mlqa_debug.ui.background import job_result
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.options import ViewOption, choice, text, write_param
from mlqa_debug.ui.text import md, without_paths

#: Seconds a page run spends computing attributions before it shows what it has.
PAGE_TIME_BUDGET = explain.DEFAULT_TIME_BUDGET
#: Seconds granted when the user asks for the rest of the rows.
LONG_TIME_BUDGET = 120.0
#: Seconds a page run waits beyond :data:`PAGE_TIME_BUDGET` (loading shap, the checks)
#: before it leaves the job to the background and polls it.
WAIT_SLACK = 10.0
_MORE_KEY = "_explain_more"
EXAMPLE_KEY = "example"


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def _load(root: str, name: str, stamp: tuple[str, int, int]) -> explain.LoadedModel | str | None:
    try:
        return explain.dataset_model(Workspace(root), name)
    except MlqaError as e:  # cached too: the message, until the file changes
        return str(e)


def registered_model(ws: Workspace, name: str) -> tuple[explain.LoadedModel | None, str | None]:
    """The dataset's model (once per process and file version), or the reason there is none."""
    entry = ws.entry(name)
    path = entry.model_path
    stat = path.stat() if path is not None else None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size) if stat else ("", 0, 0)
    loaded = _load(str(ws.root), name, stamp)
    if isinstance(loaded, str):
        return None, loaded
    return loaded, None


def _ask_for_more() -> None:
    st.session_state[_MORE_KEY] = True


def explain_with_progress(
    predictions: Predictions,
    rows: np.ndarray,
    *,
    model: explain.LoadedModel | None,
    source: explain.AttributionSource,
    ws: Workspace,
) -> explain.ExplainResult:
    """Attributions of ``rows``; stops the page while they are computed or when they failed.

    A run spends at most :data:`PAGE_TIME_BUDGET` seconds; if rows remain, a
    button grants :data:`LONG_TIME_BUDGET` seconds to the next one (which the page
    follows with a progress bar and can cancel).
    """
    if source == "precomputed" or model is None:  # a lookup: nothing to wait for
        try:
            return explain.explain(predictions, rows, model=model, source=source)
        except MlqaError as e:
            st.error(md(f"No attributions: {without_paths(e, ws)}"))
            st.stop()
    budget = LONG_TIME_BUDGET if st.session_state.get(_MORE_KEY) else PAGE_TIME_BUDGET
    digest = hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()
    key = cache_key("explain", model.sha, predictions.fingerprint, source, digest, budget)
    loaded = model  # narrowed to a model, for the closure

    def attributions(job: Job[explain.ExplainResult]) -> explain.ExplainResult:
        return explain.explain(
            predictions,
            rows,
            model=loaded,
            source=source,
            cache_dir=ws.cache_dir("shap"),
            time_budget=budget,
            progress=job.report,
            cancelled=job.cancelled,
        )

    result = job_result(
        f"explain:{key}",
        attributions,
        what="the explanations",
        name="explain_job",
        wait=PAGE_TIME_BUDGET + WAIT_SLACK,
        describe=lambda e: without_paths(e, ws),
    )
    if result is None:
        st.stop()
    st.session_state.pop(_MORE_KEY, None)
    if not result.complete:
        left = len(result.remaining)
        eta = f" (about {result.cost.seconds(left):,.0f} s)" if result.cost else ""
        st.info(
            f"{left:,} of the {result.requested:,} rows this view needs are not explained yet: "
            f"a page run stops computing after {budget:.0f} s. The views below use the "
            f"{result.explanation.n_rows:,} rows explained so far."
        )
        if serving.read_only():  # a long run is not a cheap analysis
            serving.read_only_note("longer runs are off; `mlqa-debug explain` fills the cache")
        else:
            st.button(f"Explain the remaining {left:,} rows{eta}", on_click=_ask_for_more)
    return result


def attach_model_form(ws: Workspace, name: str) -> None:
    """Attach a model from the server's trusted folder to a registered dataset (Data page)."""
    entry = ws.entry(name)
    with st.expander("Model for explanations"):
        if entry.roles.model is not None:
            spec = entry.roles.model
            st.markdown(f"Registered model: **{md(spec.name or spec.file)}** ({md(spec.file)})")
        else:
            st.markdown("No model is registered with this dataset.")
        if entry.builtin:
            st.caption("Built-in samples come with their own model.")
            return
        if serving.read_only():
            serving.read_only_note("models cannot be attached here")
            return
        files = explain.trusted_model_files()
        if not files:
            st.caption(
                f"To attach a model, put the file in the folder named by ${ENV_TRUSTED_MODELS} "
                "on the server, or register it with `mlqa-debug add FILE --model MODEL`. "
                "Model files run code when loaded, so they are never uploaded from a browser."
            )
            return
        chosen = st.selectbox("Model file in the trusted folder", files, key=f"attach_{name}")
        if st.button("Attach to this dataset", key=f"attach_go_{name}") and chosen:
            try:
                explain.register_model(ws, name, chosen)
            except MlqaError as e:
                st.error(md(without_paths(e, ws)))
                return
            st.success(md(f"{chosen} is now the model of {name!r}."))
            st.rerun()


def explain_options(ctx: PageContext) -> Iterator[ViewOption[Any]]:
    """The Explanations page's options, in order: each may depend on those before it.

    ``feature`` takes any name here; the page checks it against the explained
    features once they are known (:meth:`PageContext.correct`).
    """
    predictions = ctx.predictions
    model, _ = registered_model(ctx.workspace, ctx.name)
    sources = explain.available_sources(predictions, has_model=model is not None)
    if not sources:
        return
    yield choice("source", sources, what="the attributions", keep_default=True)
    targets = explain.target_options(predictions, ctx.options["source"])
    yield choice("target", targets, what="the target", keep_default=True)
    rows = [str(r) for r in explain.ROW_CHOICES]
    yield choice("rows", rows, default=str(explain.DEFAULT_MAX_ROWS), what="the rows",
                 keep_default=True)  # fmt: skip
    yield choice("colour", ["error", "value"], what="the colouring", keep_default=True)
    yield text("feature", what="the feature")
    yield text(EXAMPLE_KEY, what="the example")


def pick_example(table_key: str, ids: list[str]) -> None:
    """``on_select`` of the errors table: the chosen row becomes ``?example=``."""
    rows = st.session_state[table_key].selection.rows
    if rows:
        st.session_state[EXAMPLE_KEY] = ids[rows[0]]
        write_param(EXAMPLE_KEY, ids[rows[0]])
