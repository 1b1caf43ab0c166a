"""Data quality page: can this table be trusted for an evaluation? And against a reference?

The registered quality checks on this table (findings worst first, each a slice
with its error rate against the rest), calibration and the label distribution;
with a reference table (``?vs=``, the training set or an earlier period):
leakage between the two, drift per column, and drift of the error rate per slice.
"""

import streamlit as st

from mlqa_debug.analyses.quality import figures as plots
from mlqa_debug.stats.format import count
from mlqa_debug.ui import quality as ui
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.text import md
from mlqa_debug.ui.widgets import copy_link

ctx = open_page(
    "quality",
    options=ui.quality_options,
    second="optional",
    second_default=False,
    slice_box=False,
)
predictions = ctx.predictions
report = ui.report_for(predictions)
st.caption(
    md(
        f"Checks on every row of {ctx.name!r} (fingerprint {predictions.short_fingerprint}); "
        "each finding is a slice, with the error rate there against the rest."
    )
)
ui.summary(report)

# ---------------------------------------------------------------- findings
st.subheader("Findings")
if not report.findings:
    st.success("No check found anything.")
else:
    ui.findings_table(report.findings, ctx.name, predictions.n_samples, key="quality_findings")
    finding = ui.pick_finding(ctx, report.findings, ui.FINDING_PARAM, label="Finding")
    ui.finding_detail(ctx, finding, reference=None, key="quality_case")

# ---------------------------------------------------------------- calibration, labels
left, right = st.columns(2)
with left:
    st.subheader("Calibration")
    found = ui.calibration_for(predictions)
    if predictions.task == "regression":
        st.caption("A regression table has no classes and no probabilities: no calibration.")
    elif found is None:
        st.caption(
            "No probabilities in this table (`prob_<class>` or `score` columns): "
            "calibration needs them."
        )
    else:
        st.plotly_chart(plots.reliability_figure(found), key="quality_reliability")
        st.dataframe(ui.ece_frame(found), hide_index=True, width="stretch", key="quality_ece")
        st.caption("Slices much worse calibrated than the table are among the findings above.")
with right:
    st.subheader("Label distribution")
    if predictions.task == "regression":
        st.caption("A regression table has no classes: see the residuals on the Slices page.")
    else:
        st.plotly_chart(
            plots.label_distribution_figure(ui.labels_for(predictions)), key="quality_labels"
        )

# ---------------------------------------------------------------- against a reference
st.subheader("Against a reference table")
ui.reference_picker(ctx)
problem = ui.reference_problem(ctx)
if ctx.second is None or problem is not None:
    if problem is not None:
        st.error(md(problem))
    else:
        st.info(
            "Choose a reference table (the training set, or an earlier period) to look for "
            "leakage and drift."
        )
    copy_link(ctx.link())
    st.stop()

reference = ctx.second.predictions
ref_name = ctx.second.name
if ctx.second.name == ctx.entry.baseline:
    st.caption(
        md(
            f"{ref_name!r} is this dataset's default baseline, another model's predictions on "
            "the same examples: its rows are shared by design, so leakage findings against it "
            "are expected. For leakage, choose the training set."
        )
    )
if missing := ui.missing_columns(ctx):
    st.warning(
        md(
            f"{ref_name!r} lacks {count(len(missing))} feature column(s) of {ctx.name!r} "
            f"({', '.join(map(repr, missing[:8]))}): leakage and drift compare the others."
        )
    )

st.markdown("**Leakage**")
with st.spinner(
    md(f"Looking for rows of {ref_name!r} in {ctx.name!r}: exact and near duplicates, shared ids, "
       "leaky features…"),
    show_time=True,
):  # fmt: skip
    leakage = ui.run_or_say("Leakage", lambda: ui.leakage_for(predictions, reference), ctx)
if leakage is not None:
    st.dataframe(
        ui.leakage_frame(leakage, ctx.name, predictions.n_samples),
        hide_index=True,
        width="stretch",
        key="quality_leakage",
        column_config=ui.TABLE_COLUMNS,
    )
    st.caption(md(ui.leakage_caption(leakage)))
    for note in ui.leakage_notes(leakage):
        st.caption(md(note))
    if leakage.findings:
        leak = ui.pick_finding(ctx, leakage.findings, ui.LEAK_PARAM, label="Leakage finding")
        ui.finding_detail(ctx, leak, reference=ref_name, key="quality_leak_case")

st.markdown("**Drift**")
with st.spinner(md(f"Comparing each column of {ctx.name!r} with {ref_name!r}…"), show_time=True):
    drifts = ui.run_or_say("Drift", lambda: ui.drift_for(predictions, reference), ctx)
if drifts:
    st.dataframe(ui.drift_frame(drifts), hide_index=True, width="stretch", key="quality_drift")
    st.caption(ui.DRIFT_NOTE)
    drift = ui.pick_drift_column(ctx, drifts)
    st.plotly_chart(
        plots.drift_figure(drift, names=(ref_name, ctx.name)), key="quality_drift_chart"
    )
elif drifts is not None:
    st.info("The two tables share no column to compare.")

st.markdown("**Error rate per slice**")
with st.spinner(md(f"Comparing error rates per slice with {ref_name!r}…"), show_time=True):
    slice_drifts = ui.run_or_say(
        "Error-rate drift", lambda: ui.slice_drift_for(predictions, reference), ctx
    )
if slice_drifts:
    st.dataframe(
        ui.slice_drift_frame(slice_drifts, ctx.name),
        hide_index=True,
        width="stretch",
        key="quality_slice_drift",
        column_config=ui.SLICE_DRIFT_COLUMNS,
    )
    st.caption(
        "Error rate of each one-predicate slice in both tables; differences are current − "
        "reference with 95% intervals (Newcombe), p-values Holm-adjusted over every slice "
        "compared; significant slices first, then by the smallest change the interval allows. "
        f"The top {ui.TOP_SLICES} shown."
    )
elif slice_drifts is not None:
    st.caption(md(f"No slice compared: {ui.no_slice_drift(predictions, reference)}."))

copy_link(ctx.link())
