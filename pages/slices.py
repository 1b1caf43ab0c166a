"""Slices page: build a slice, compare it with the rest, refine it, read its examples."""

import numpy as np
import streamlit as st

from mlqa_debug.analyses.breakdown import feature_breakdown
from mlqa_debug.analyses.examples import ERRORS_FIRST, examples_page, sort_options
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import Slice
from mlqa_debug.stats import difference_text, report_frame, slice_report
from mlqa_debug.stats import figures as plots
from mlqa_debug.ui import slice_state
from mlqa_debug.ui.builder import predicate_chips, slice_builder
from mlqa_debug.ui.cases import save_case_form
from mlqa_debug.ui.context import draw_navigation, open_page
from mlqa_debug.ui.downloads import csv_download
from mlqa_debug.ui.external import exact_note, exact_slice_report, sampled_note
from mlqa_debug.ui.labels import label_noise_note
from mlqa_debug.ui.widgets import copy_link, slice_metrics

BUILDER_OPEN_KEY, _BUILDER_SLICE_KEY = "slices_builder_open", "_slices_builder_slice"

ctx = open_page("slices", navigation="late")
predictions, current, mask = ctx.predictions, ctx.slice, ctx.mask

# The builder and chips sit above the numbers but are drawn after them: the browser
# applies the run's messages in order, so the row count is painted sooner.
controls = st.container()
external = ctx.external  # an external dataset: the numbers over every row, from its engine
report = exact_slice_report(external, current) if external else None
if report is None:
    report = slice_report(predictions.metric_data, mask)

slice_metrics(report)
st.caption(difference_text(report))
# Compute the rest before drawing it: the browser paints the numbers meanwhile, rather
# than after a burst of the sidebar's links, the builder and the tables behind them.
table = report_frame(report)
rates = plots.error_rate_bars(report)
breakdown = feature_breakdown(predictions, mask)
draw_navigation()  # after the numbers: a slice change paints them sooner
if external:
    st.caption(exact_note(external) if report.overall.n == external.n_rows else "")
with controls:
    # Open on an empty slice, closed once it has a filter (each time the slice changes);
    # the builder runs only while it is open, so a slice change does not redraw it.
    if st.session_state.get(_BUILDER_SLICE_KEY) != current.id:
        st.session_state[_BUILDER_SLICE_KEY] = current.id
        st.session_state[BUILDER_OPEN_KEY] = not current.predicates
    adding = st.expander("Add a filter", key=BUILDER_OPEN_KEY, on_change="rerun")
    if adding.open:
        with adding:
            slice_builder(predictions)
    predicate_chips(current)
label_noise_note(ctx)  # confirmed label noise, once reviews exist (Labels page)

left, right = st.columns([3, 2])
with left:
    st.table(table)  # a dozen formatted numbers: static HTML, no grid to mount per change
with right:
    st.plotly_chart(rates, key="rates", config={"displayModeBar": False})

copy_link(ctx.link())
save_case_form(
    predictions, slice=current, source_page="slices", key="slices_case", external=external
)

st.subheader("Where the slice departs from the overall error rate")
if external:
    st.caption(sampled_note(external, "This breakdown"))
if breakdown.empty:
    st.info("No feature values inside this slice.")
else:
    st.dataframe(
        breakdown.drop(columns=["slice"]),
        key=f"breakdown_{current.id}",
        on_select=slice_state.refine_from_table(current, list(breakdown["slice"])),
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        height=320,
        column_config={
            "error rate": st.column_config.NumberColumn(format="percent"),
            "lift": st.column_config.NumberColumn(format="%.2fx"),
            "z": st.column_config.NumberColumn(
                format="%.1f", help="(errors − expected) / sd, against the overall error rate"
            ),
        },
    )
    st.caption("Select a row to add that value to the slice.")
    csv_download(breakdown.drop(columns=["slice"]), file_name=f"{ctx.name}-breakdown.csv",
                 key="breakdown_csv")  # fmt: skip


@st.fragment
def examples_section(predictions: Predictions, mask: np.ndarray, current: Slice) -> None:
    """The slice's rows, a page at a time; ordering or paging reruns this section alone."""
    st.subheader("Examples")
    if ctx.external:
        st.caption(sampled_note(ctx.external, "This list of rows"))
    c1, c2, c3 = st.columns([3, 1, 1])
    options = sort_options(predictions)
    sort_by = c1.selectbox("Order by", options, index=options.index(ERRORS_FIRST), key="ex_sort")
    descending = c2.toggle("Descending", value=True, key="ex_desc")
    n_pages = max(1, -(-int(mask.sum()) // 50))
    state = st.session_state
    if state.get("_ex_slice") != current.id or state.get("ex_page", 1) > n_pages:
        state["_ex_slice"], state["ex_page"] = current.id, 1  # a new slice
    page = c3.number_input(f"Page (of {n_pages:,})", 1, n_pages, key="ex_page") - 1
    examples = examples_page(predictions, mask, sort_by=sort_by, descending=descending, page=page)
    st.dataframe(examples.frame, width="stretch", height=400)
    last = examples.start + len(examples.frame)
    shown = f"Rows {examples.start + 1:,}–{last:,} of {examples.total:,}"
    st.caption(shown if examples.total else "The slice is empty.")
    csv_download(
        examples.frame, file_name=f"{ctx.name}-examples.csv", key="examples_csv", index=True
    )


examples_section(predictions, mask, current)
