"""History page: every recorded check over runs, the trends, cases that degrade slowly."""

import streamlit as st

from mlqa_debug.history import ALPHA, RUN_COLUMN, TREND_RUNS, runs_frame
from mlqa_debug.history.figures import case_figure, status_grid_figure
from mlqa_debug.ui import history as ui
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.text import md

MAX_LINES = 6

ctx = open_page("history", dataset="none", slice_box=False, heading="History: quality over time")
loaded = ui.safe_load(ctx.workspace)
if loaded is None:
    st.stop()
for problem in loaded.problems:
    st.warning(md(f"Line {problem.line} of {problem.file} is left out: {problem.message}"))
if loaded.tidied.empty:
    st.info(
        "No checks recorded yet. Each run of "
        "`mlqa-debug check --cases DIR PREDICTIONS --record --model-version V` adds one record "
        "per case to the history (here, or in the folder `$MLQA_DEBUG_HISTORY` names); this "
        "page then shows every case over the runs and flags the ones that degrade steadily."
    )
    st.stop()

tidied, cases = loaded.tidied, loaded.cases
names = dict(zip(cases["case_id"], cases["case_name"], strict=True))
left, middle, right = st.columns(3)
chosen_cases = left.multiselect(
    "Cases",
    list(names),
    format_func=lambda i: names[i],
    key="history_cases",
    placeholder="all cases",
)
chosen_status = middle.multiselect(
    "Latest status",
    list(ui.STATUS_CHOICES),
    format_func=ui.STATUS_CHOICES.get,
    key="history_status",
    placeholder="any status",
)
models = sorted({str(m) for m in tidied["model"].dropna()})
chosen_models = right.multiselect("Model", models, key="history_models", placeholder="all models")
only_degrading = st.toggle("Only degrading cases", key="history_degrading")

shown_cases = cases
if chosen_cases:
    shown_cases = shown_cases[shown_cases["case_id"].isin(chosen_cases)]
if chosen_status:
    shown_cases = shown_cases[shown_cases["status"].isin(chosen_status)]
if only_degrading:
    shown_cases = shown_cases[shown_cases["trend"] == "degrading"]
shown = tidied[tidied["case_id"].isin(shown_cases["case_id"])]
if chosen_models:
    shown = shown[shown["model"].isin(chosen_models)]

runs = runs_frame(shown)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Cases", f"{len(shown_cases):,}")
c2.metric("Runs", f"{len(runs):,}")
c3.metric("Failing now", f"{int(shown_cases['status'].isin(['fail', 'empty']).sum()):,}")
c4.metric("Degrading", f"{int((shown_cases['trend'] == 'degrading').sum()):,}")
st.caption(
    f"History “{md(loaded.file_name)}”. A case is *degrading* when its value worsened steadily "
    f"over its last {TREND_RUNS} runs (Mann-Kendall test, p < {ALPHA}), even while it passes."
)
if shown.empty:
    st.info("No record matches these filters.")
    st.stop()

order = shown_cases.assign(
    rank=shown_cases["trend"].ne("degrading") * 2 + ~shown_cases["status"].isin(["fail", "empty"])
).sort_values(["rank", "case_name"])
labels = {
    i: ("▼ " if t == "degrading" else "") + str(n)
    for i, n, t in zip(order["case_id"], order["case_name"], order["trend"], strict=True)
}
st.subheader("Status by run")
st.plotly_chart(status_grid_figure(shown, labels), key="history_grid")

st.subheader("Cases")
COLUMNS = ["status", "case_name", "metric", "op", "threshold", "value", "trend", "p_value", "runs"]
RENAMED = {"case_name": "case", "op": "condition", "value": "last value", "p_value": "trend p"}
table = order[COLUMNS].rename(columns=RENAMED)
st.dataframe(table, hide_index=True, width="stretch", key="history_table")

st.subheader("Values over runs")
picked = list(order["case_id"])[:MAX_LINES]
if len(order) > MAX_LINES:
    st.caption(
        f"The first {MAX_LINES} of {len(order):,} cases (degrading and failing first); "
        "choose cases above to see others."
    )
links = ui.run_links(shown, ctx.workspace)
for case_id in picked:
    rows = shown[shown["case_id"] == case_id]
    figure = case_figure(rows, name=labels[case_id], metric=str(rows["metric"].iloc[-1]))
    event = st.plotly_chart(
        figure, key=f"history_line_{case_id}", on_select="rerun", selection_mode="points"
    )
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points[:1]:
        hit = rows[rows[RUN_COLUMN] == point.get("customdata")]
        url = None if hit.empty else links.get(hit.index[0])
        if url:
            st.markdown(f"[Open run {md(str(hit['run_id'].iloc[0]))} on the Slices page]({url})")
        else:
            st.caption("That run's dataset is not in the workspace any more.")

st.subheader("Runs")
run_table = runs.iloc[::-1].copy()
record_links = links.groupby(shown[RUN_COLUMN]).first()
run_table["open"] = run_table["run"].map(record_links)
st.dataframe(
    run_table[
        [
            "time",
            "run_id",
            "model",
            "model_version",
            "dataset",
            "build_id",
            "commit",
            "cases",
            "pass",
            "fail",
            "empty",
            "not_applicable",
            "open",
        ]
    ],
    hide_index=True,
    width="stretch",
    key="history_runs",
    column_config={"open": st.column_config.LinkColumn("Slices", display_text="open data")},
)
