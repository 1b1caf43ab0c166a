"""Compare page: the candidate (this dataset) against a baseline model on the same examples.

What got fixed, what broke, on which slices, with paired tests and a correction
for the number of slices compared; the review summary for a pull request.
"""

from dataclasses import replace

import streamlit as st

from mlqa_debug.analyses.compare import figures as plots
from mlqa_debug.analyses.compare import view
from mlqa_debug.analyses.compare.report import Comparison
from mlqa_debug.analyses.compare.summary import review_markdown
from mlqa_debug.errors import MlqaError
from mlqa_debug.stats import count, percent
from mlqa_debug.ui import compare as ui
from mlqa_debug.ui import compare_external as external
from mlqa_debug.ui import slice_state
from mlqa_debug.ui.context import draw_navigation, open_page, stop_page
from mlqa_debug.ui.labels import label_noise_note
from mlqa_debug.ui.text import md
from mlqa_debug.ui.widgets import copy_link

ctx = open_page(
    "compare", options=ui.compare_options, second="optional", slice_box=False, navigation="late"
)
left, right = st.columns([1, 3])
with left:
    ui.baseline_picker(ctx)
with right:
    slice_state.slice_text_box()
paired = ui.paired_or_stop(ctx)
baseline_name, regression_task = ui.baseline_name(ctx), paired.task == "regression"
# Both external on one engine: the headline and the flips over every pair (exact), and
# ``paired`` is then a paired sample (the same ids of both) for what needs the rows.
second = ctx.second
assert second is not None  # paired_or_stop stops a page without a baseline
outside = ctx.external or second.external
pair, exact = external.exact_or_stop(ctx)
st.caption(
    md(
        f"Candidate {ctx.name!r} (fingerprint {ctx.predictions.short_fingerprint}) against "
        f"baseline {baseline_name!r} (fingerprint {second.predictions.short_fingerprint}); every "
        "difference is candidate − baseline, on the rows both tables hold."
    )
)

# ---------------------------------------------------------------- matching
problems = view.match_problems(paired)
if exact is not None:  # what paired over every row
    p = exact.paired
    unpaired = p.only_in_baseline + p.only_in_candidate + p.label_mismatches
    (st.warning if unpaired else st.caption)(md(p.summary()))
elif problems:
    st.warning(md(paired.summary()), icon=":material/rule:")
    st.dataframe(view.match_frame(problems), hide_index=True, width="stretch", key="cmp_match")
else:
    st.caption(md(paired.summary()))

mask = ui.pair_mask(paired, ctx)
if not mask.any():
    sample = (
        f" of the paired sample ({count(paired.n)} pairs) falls in this slice, which holds "
        f"{count(exact.headline.n)} of all the pairs: too few for its sampled sections"
        if exact is not None
        else " falls in this slice"
    )
    st.info(f"No compared row{sample}: choose another slice.")
    copy_link(ctx.link())
    stop_page()

# ---------------------------------------------------------------- verdict and headline
# Filled once the slices are compared, so the numbers paint first. A container, not
# st.empty(): it keeps the last verdict on screen until the new one arrives, where an
# empty slot would drop the banner and shift the numbers up and back on every change.
verdict_slot = st.container()
cols = st.columns(4)
compared = exact.headline.n if exact is not None else int(mask.sum())
cols[0].metric(  # known from the mask alone, so it paints before any test runs
    "Rows compared",
    count(compared),
    f"{percent(compared / (exact.paired.n if exact is not None else mask.size))} of the pairs",
    delta_color="off",
    delta_arrow="off",
)
try:
    if exact is not None:
        head, flips = exact.headline, exact.flips
    else:
        head = ui.headline_for(paired, ctx, mask)
        flips = ui.flips_for(paired, ctx, mask)
except MlqaError as e:
    st.error(md(e))
    stop_page()
primary = head.primary
name = view.lower_label(primary.label)
cols[1].metric(f"Baseline {name}", view.value_text(primary.baseline, primary.metric))
cols[2].metric(
    f"Candidate {name}",
    view.value_text(primary.candidate, primary.metric),
    view.difference_text(primary.difference, primary.metric),
    delta_color="inverse" if not primary.higher_is_better else "normal",
)
try:
    deltas = ui.deltas_for(paired, ctx, mask)
except MlqaError as e:
    st.error(md(e))
    stop_page()
comparison = Comparison(
    paired=paired,
    where=ctx.slice,
    headline=head,
    flips=flips,
    deltas=deltas,
    newly=None,
    alpha=head.alpha,
    candidate_name=ctx.name,
    baseline_name=baseline_name,
)
cols[3].metric("Verdict", comparison.verdict)
# Compute the charts and tables below before drawing them: the browser paints the numbers
# meanwhile, rather than after a burst of links, tables and charts.
forest = plots.forest_figure(head)
deltas_table = (
    None
    if deltas.frame.empty
    else view.deltas_frame(deltas, here=ui.here_link(ctx), on_slices=ui.slices_link(ctx))
)
draw_navigation()  # after the numbers: a slice change paints them sooner
with verdict_slot:
    alert = {"Regression": st.error, "Improvement": st.success}.get(comparison.verdict, st.info)
    alert(md(view.verdict_sentence(comparison.verdict, head, deltas)))
st.dataframe(view.headline_frame(head), hide_index=True, width="stretch", key="cmp_headline")
if exact is not None and outside is not None:
    st.caption(external.exact_pairs_note(outside, exact) + " The verdict also weighs the slices "
               "below, which are sampled.")  # fmt: skip
label_noise_note(ctx, who=f"{ctx.name}'s errors")  # once reviews of the candidate exist
st.plotly_chart(forest, key="cmp_forest", config={"displayModeBar": False})

# ---------------------------------------------------------------- flips
st.subheader("Flips")
cols = st.columns(4)
kinds = ctx.option("flip").choices
for column, (label, n, rate) in zip(cols, view.flip_rows(flips, kinds), strict=False):
    column.metric(label, n, f"{rate} of rows", delta_color="off", delta_arrow="off")
picked, page_box = st.columns([3, 1])
picked.segmented_control(
    "Rows to show",
    kinds,
    format_func=lambda k: f"{view.SHORT_FLIP_LABELS[k]} ({count(getattr(flips, k))})",
    **ctx.bind("flip", required=True),
)
kind = ctx.options["flip"]
picked.caption(view.flip_label(kind, regression=regression_task))
if st.session_state.setdefault("_cmp_slice", ctx.slice.id) != ctx.slice.id:
    st.session_state["_cmp_slice"] = ctx.slice.id  # a new slice: its first page of flips
    ctx.set(ui.FPAGE_PARAM, 1)
total = int(getattr(flips, kind) or 0)
n_pages = max(1, -(-total // ui.PAGE_SIZE))
if ctx.options["fpage"] > n_pages:
    ctx.correct("fpage", n_pages, reason=f"there are {n_pages:,} pages of these rows")
page_box.number_input(f"Page (of {n_pages:,})", 1, n_pages, **ctx.bind("fpage"))
if pair is not None:
    flip_page = external.exact_flip_page(
        pair, ctx, kind, int(ctx.options["fpage"]) - 1, ui.PAGE_SIZE
    )
else:
    flip_page = ui.flip_page_for(paired, ctx, mask, kind, int(ctx.options["fpage"]) - 1)
st.dataframe(
    view.flip_frame(flip_page.frame),
    hide_index=True,
    width="stretch",
    height=320,
    key="cmp_flip_table",
)
st.caption(
    f"Rows {flip_page.start + 1:,}–{flip_page.start + len(flip_page.frame):,} of "
    f"{flip_page.total:,}; most confident mistakes first."
    if flip_page.total
    else "No such rows in this slice."
)
if exact is not None and outside is not None:
    st.caption(f"Exact: the flip counts and these rows are read by {outside.engine_title} "
               "from every pair.")  # fmt: skip

# ---------------------------------------------------------------- where it got worse
st.subheader("Where it got worse")
c1, c2, c3 = st.columns(3)
c1.number_input("Minimum slice size", 1, 1_000_000, step=10, **ctx.bind("min"))
c2.selectbox(
    "Correction for many slices",
    ["holm", "bh"],
    format_func=ui.CORRECTION_LABELS.__getitem__,
    **ctx.bind("adjust"),
)
c3.number_input(
    "Significance level α (every test)", 0.001, 0.2, step=0.01, format="%.3f", **ctx.bind("alpha")
)
if exact is not None and outside is not None:
    st.caption(external.paired_note(outside, paired, "This table of slices"))
if deltas_table is None:
    st.info(f"No feature value has {count(deltas.min_size)} compared rows or more here.")
else:
    slices = list(deltas.frame["slice"])
    st.dataframe(
        deltas_table,
        key=f"cmp_deltas_{ctx.slice.id}",
        on_select=ui.open_from_table(ctx.slice, slices),
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        height=360,
        column_order=[c for c in ui.DELTA_ORDER if c in deltas_table.columns],
        column_config=ui.DELTA_COLUMNS,
    )
    st.caption(md(view.deltas_caption(deltas)) + " Select a row to open its slice here.")

# ---------------------------------------------------------------- newly failing
st.subheader("Where it newly fails")
st.caption(
    "SliceLine (the Discover page's search) on the broken indicator: multi-feature slices "
    "where the candidate turned right answers wrong, ranked by score. Cached on disk."
)
if exact is not None and outside is not None:
    st.caption(external.paired_note(outside, paired, "This search"))
newly = None
if ui.newly_ready(ctx):
    try:
        with st.spinner("Searching for slices where rows broke (SliceLine)…", show_time=True):
            newly = ui.newly_for(paired, ctx, mask)
    except MlqaError as e:
        st.error(md(e))
else:
    st.button(
        "Search for new failures",
        key="cmp_newly_run",
        on_click=ctx.set,
        args=("newly", True),
        icon=":material/travel_explore:",
    )
if newly is not None:
    comparison = replace(comparison, newly=newly)
    if not newly.slices:
        st.info(f"No slice stands out among the {count(newly.n_broken)} broken rows.")
    else:
        st.dataframe(
            view.newly_frame(newly, here=ui.here_link(ctx), on_slices=ui.slices_link(ctx)),
            hide_index=True,
            width="stretch",
            key="cmp_newly",
            column_config=ui.NEWLY_COLUMNS,
        )
        st.caption(
            f"Searched {count(newly.n_rows)} rows with {count(newly.n_broken)} broken "
            f"({'from the cache' if newly.cached else 'just computed'})."
        )

# ---------------------------------------------------------------- save
if not ctx.read_only:
    st.subheader("Save as regression cases")
    save_left, save_right = st.columns(2)
    with save_left:
        ui.save_broken_form(ctx, paired, mask)
        if exact is not None and outside is not None:
            st.caption(external.paired_note(outside, paired, "The list of broken rows saved"))
    with save_right:
        ui.save_relative_form(ctx, paired)

# ---------------------------------------------------------------- review summary, link
st.subheader("Copy review summary")
markdown = review_markdown(comparison, link=lambda s: ctx.link(slice=s.text))
st.code(markdown, language="markdown", wrap_lines=True)
st.download_button(
    "Download review summary (.md)",
    markdown,
    file_name=f"compare-{ctx.name}-vs-{baseline_name}.md",
    mime="text/markdown",
    key="cmp_md",
)
copy_link(ctx.link())
