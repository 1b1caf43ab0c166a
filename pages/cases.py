"""Cases page: the regression-case library, checked against the current dataset."""

import streamlit as st

from mlqa_debug import cases as lib
from mlqa_debug.errors import MlqaError
from mlqa_debug.ui import cases as ui
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.downloads import csv_download
from mlqa_debug.ui.external import exact_note
from mlqa_debug.ui.text import md, without_paths

ctx = open_page("cases", options=ui.case_options, slice_box=False, heading="Regression cases")
predictions, dataset = ctx.predictions, ctx.name
external = ctx.external  # an external dataset: cases are checked on its engine, every row
n_rows = external.n_rows if external else predictions.n_samples
try:
    store = ui.cases_store()
    listing = store.load()
except MlqaError as e:
    st.error(md(f"The case library cannot be opened: {without_paths(e, ctx.workspace)}"))
    st.stop()

folder = store.directory.name  # the browser sees the library's name, never the server's path
st.caption(
    f"Case library “{md(folder)}” · checked against **{md(dataset)}** "
    f"({n_rows:,} rows, fingerprint `{predictions.short_fingerprint}`)"
)
with st.expander("Check these cases in CI"):
    st.code(
        f"mlqa-debug check --cases {folder} new_predictions.csv --junit report.xml\n"
        f"mlqa-debug export --cases {folder} --out tests/regression_cases",
        language="bash",
    )
    st.caption(
        f"Give the path of the {md(folder)} folder on your CI machine. check exits 1 on a "
        "regression; export writes a pytest module and its fixtures."
    )
for problem in listing.problems:
    st.warning(
        f"Case file {md(problem.file)} cannot be read and is left out: "
        f"{md(without_paths(problem.message, ctx.workspace))}"
    )
if not listing.cases:
    st.info(
        "No cases yet. Save one with **Save as regression case** on the Slices or the Data "
        "quality page, or from the command line: "
        "`mlqa-debug case add DATASET --name NAME --where TEXT`."
    )
    st.stop()

baseline_table = ui.external_baseline(ctx, listing) if external else None
baseline = baseline_table.sample if baseline_table else None
if external is None:
    baseline = ui.default_baseline(ctx, listing)
if baseline is not None:
    st.caption(
        f"Relative cases are measured on the default baseline **{md(ctx.entry.baseline)}** too "
        "(set on the Data page)."
    )
report = ui.current_report(predictions, listing, baseline)
run_clicked = st.button(
    f"Run all {len(listing.cases):,} cases against {md(dataset)}",
    icon=":material/play_arrow:",
    type="primary",
    key="run_all",
)
progress_slot = st.empty()
if run_clicked or (report is None and ui.should_auto_run(predictions, listing, n_rows=n_rows)):
    if external:
        report = ui.run_external(external, listing, slot=progress_slot, baseline=baseline_table)
    else:
        report = ui.run_all(predictions, listing, slot=progress_slot, baseline=baseline)
ui.status_counts(report, len(listing.cases))
if external and report is not None:
    st.caption(
        f"{exact_note(external)} Slice and example-set cases are checked on every row; a "
        "quality check that needs the rows says in its message when it ran on a sample."
    )

left, right = st.columns([3, 2], vertical_alignment="bottom")
counts = {k: (report.count(k) if report else 0) for k in lib.STATUSES}
filters = [k for k in ui.FILTERS if k != "error" or counts["error"]]  # errors: when there are
if st.session_state.get(ui.STATUS_PARAM) not in (*filters, None):
    ctx.set(ui.STATUS_PARAM, "all")
left.segmented_control(
    "Status",
    filters,
    format_func=lambda k: ui.FILTERS[k] + (f" ({counts[k]})" if k in counts and report else ""),
    **ctx.bind(ui.STATUS_PARAM),
)
search = right.text_input("Search", key="case_search", placeholder="name or slice contains…")

frame = ui.library_frame(listing, report, dataset=dataset)
shown = ui.filter_frame(frame, st.session_state.get(ui.STATUS_PARAM) or "all", search)
st.dataframe(
    ui.styled(shown[list(ui.TABLE_COLUMNS)]),
    column_config=ui.TABLE_COLUMNS,
    hide_index=True,
    width="stretch",
    key="cases_table",
    on_select=lambda: ui.pick_case("cases_table", list(shown["id"])),
    selection_mode="single-row",
)
st.caption(
    f"{len(shown):,} of {len(frame):,} cases. Select a row to open the case below; "
    "“Open slice” shows it on the Slices page."
)
csv_download(shown[list(ui.TABLE_COLUMNS)], file_name="cases.csv", key="cases_csv")

st.divider()
ids = [c.id for c in listing.cases]
names = {c.id: c.name for c in listing.cases}
chosen = ctx.options[ui.CASE_PARAM]
if chosen is not None and chosen not in ids:
    st.error(f"The link names a case that is not in this library ({md(repr(chosen[:40]))}).")
    ctx.set(ui.CASE_PARAM, None)
st.selectbox(
    "Case",
    ids,
    index=None,
    format_func=lambda i: names.get(i, i),
    placeholder="Choose a case to open it",
    **ctx.bind(ui.CASE_PARAM),
)
case_id = st.session_state.get(ui.CASE_PARAM)
if case_id in ids:
    case = next(c for c in listing.cases if c.id == case_id)
    result = next((r for r in report.results if r.case.id == case_id), None) if report else None
    ui.case_panel(store, case, result, dataset=dataset)
