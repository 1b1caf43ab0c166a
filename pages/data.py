"""Data page: pick or upload a dataset, see its summary and validation, remap roles."""

import pandas as pd
import streamlit as st

from mlqa_debug.data.schema import TASKS, Roles
from mlqa_debug.errors import MlqaError
from mlqa_debug.ui import quality, serving, state, widgets
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.models import attach_model_form
from mlqa_debug.ui.text import md, without_paths

ctx = open_page("data", dataset="optional", slice_box=False)
ws = ctx.workspace
widgets.upload_form(ws)

if ctx.dataset is None:
    st.info("Choose a dataset in the sidebar" + ("." if ctx.read_only else ", or add one above."))
    st.stop()

predictions, name, entry = ctx.predictions, ctx.name, ctx.entry
st.subheader(md(f"{name} — {entry.description or entry.source or predictions.source}"))
widgets.summary_metrics(predictions)

left, right = st.columns([3, 2])
with left:
    st.markdown("**Columns and roles**")
    st.dataframe(
        pd.DataFrame(predictions.schema.roles_table()),
        hide_index=True,
        width="stretch",
        height=320,
    )
with right:
    st.markdown("**Validation report**")
    widgets.check_report(predictions, name)
    st.caption(f"Fingerprint `{predictions.fingerprint}` · file {md(predictions.source)}")
    quality.quality_link(name, quality.report_for(predictions).counts())

st.markdown("**Overall metrics**")
widgets.metrics_table(predictions)

st.divider()
st.markdown("**Remap column roles**")
columns = list(predictions.frame.columns)
override_key = f"roles_override_{name}"
with st.form(f"remap_{name}"):
    c1, c2, c3, c4 = st.columns(4)
    label = c1.selectbox("Label", columns, index=columns.index(predictions.schema.label))
    prediction = c2.selectbox(
        "Prediction", columns, index=columns.index(predictions.schema.prediction)
    )
    id_options = ["(none)", *columns]
    current_id = predictions.schema.id or "(none)"
    id_column = c3.selectbox("Id", id_options, index=id_options.index(current_id))
    task = c4.selectbox("Task", TASKS, index=TASKS.index(predictions.schema.task))
    applied = st.form_submit_button("Apply")
if applied:
    st.session_state[override_key] = Roles(
        label=label,
        prediction=prediction,
        id=None if id_column == "(none)" else id_column,
        task=task,
    )
override = st.session_state.get(override_key)
if override is not None:
    try:
        remapped = state.load_dataset(ws, name, override)
    except MlqaError as e:
        st.error(md(f"With these roles the data does not validate: {without_paths(e, ws)}"))
    else:
        st.success(
            md(
                f"With label {override.label!r} and prediction {override.prediction!r}: "
                f"{remapped.schema.task}, error rate {remapped.error.mean():.2%}, "
                f"{len(remapped.schema.features)} features."
            )
        )
        st.dataframe(pd.DataFrame(remapped.schema.roles_table()), hide_index=True, height=200)
        if entry.builtin:
            st.caption("Built-in samples keep their roles; register a copy to save new ones.")
        elif ctx.read_only:
            serving.read_only_note("roles are previewed here, not saved")
        elif st.button("Save these roles for the dataset"):
            try:
                ws.save_roles(name, entry.roles.merged(override))
            except MlqaError as e:
                st.error(md(without_paths(e, ws)))
            else:
                del st.session_state[override_key]
                st.rerun()

st.divider()
st.markdown("**Default baseline**")
baseline_help = (
    "Another dataset with an older model's predictions on the same examples: what this one "
    "is compared with by default (Compare page, relative regression cases)."
)
current_baseline = entry.baseline
others = [n for n in ws.names() if n != name]
if entry.builtin:
    st.selectbox(
        "Default baseline",
        [current_baseline or "(none)"],
        disabled=True,
        key=f"baseline_builtin_{name}",
        help=baseline_help,
    )
    st.caption("Built-in samples keep their baseline; register a copy to choose another.")
elif ctx.read_only:
    st.markdown(f"Compared by default with: **{md(current_baseline or 'none')}**")
    serving.read_only_note("the default baseline is shown here, not changed")
else:
    if current_baseline is not None and current_baseline not in others:
        st.warning(md(f"The default baseline {current_baseline!r} is no longer in the workspace."))
    baseline_options = ["(none)", *others]
    with st.form(f"baseline_{name}"):
        chosen_baseline = st.selectbox(
            "Default baseline",
            baseline_options,
            index=baseline_options.index(
                current_baseline if current_baseline in others else "(none)"
            ),
            help=baseline_help,
        )
        save_baseline = st.form_submit_button("Save default baseline")
    if save_baseline:
        try:
            ws.set_baseline(name, None if chosen_baseline == "(none)" else chosen_baseline)
        except MlqaError as e:
            st.error(md(without_paths(e, ws)))
        else:
            st.rerun()

attach_model_form(ws, name)

with st.expander(f"First rows of {md(name)}"):
    st.dataframe(predictions.frame.head(50), width="stretch")
