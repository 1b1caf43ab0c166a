"""Confusion page: which classes the current slice confuses (for regression, its residuals)."""

from functools import partial

import streamlit as st

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.analyses.confusion import figures as plots
from mlqa_debug.stats import count, percent
from mlqa_debug.ui.cases import save_case_form
from mlqa_debug.ui.confusion import (
    COMPARES,
    MAX_PAIRS,
    NORM_LABELS,
    NORMS,
    cell_clicked,
    confusion_options,
    exact_matrices,
    examples_block,
    many_classes,
    row_picked,
    url_widget,
)
from mlqa_debug.ui.context import draw_navigation, open_page
from mlqa_debug.ui.external import exact_note, sampled_note
from mlqa_debug.ui.residuals import regression_view
from mlqa_debug.ui.text import md
from mlqa_debug.ui.widgets import copy_link, open_slice_link

ctx = open_page("confusion", options=confusion_options, navigation="late")
predictions, current, mask, dataset = ctx.predictions, ctx.slice, ctx.mask, ctx.name
schema = predictions.schema
external = ctx.external  # an external dataset: counts over every row from its engine

if current.predicates:
    open_slice_link(dataset, current, label="Open this slice on the Slices page")
    if not mask.any():
        st.warning("No rows match this slice.")

if not schema.is_classification:
    draw_navigation()
    regression_view(ctx)
    st.stop()

classes = schema.classes
scores = cf.positive_scores(predictions)
threshold, y_pred, at = None, None, ""
if scores is not None:
    label = md(f"Threshold: predict {schema.positive} when P[{schema.positive}] is at least")
    threshold = url_widget(ctx, st.slider, label, "thr", min_value=0.0, max_value=1.0, step=0.01)
    y_pred, at = cf.binary_predictions(predictions, threshold=threshold), f" at {threshold:.2f}"
exact = (
    exact_matrices(external, current, threshold=threshold, classes=classes) if external else None
)
if exact is not None:
    in_slice, overall = exact
else:
    overall = cf.class_confusion(predictions, y_pred=y_pred)
    in_slice = cf.class_confusion(predictions, mask, y_pred=y_pred)

top = st.columns(4)
off = {"delta_color": "off", "delta_arrow": "off"}
share = f"{percent(in_slice.n_samples / max(overall.n_samples, 1))} of all rows"
top[0].metric("Rows in slice", count(in_slice.n_samples), share, **off)
rate = f"{percent(in_slice.error_rate)} error rate" if in_slice.n_samples else None
top[1].metric(f"Errors in slice{at}", count(in_slice.n_errors), rate, **off)
top[2].metric(f"Overall error rate{at}", percent(overall.error_rate))
top[3].metric("Classes", f"{len(classes)}")
# Compute what the rest of the page shows before drawing it: the browser paints the
# numbers meanwhile, rather than after a burst of links, widgets and charts. The view
# options are read from the session (open_page resolved them); the widgets drawn
# below hold the same values.
norm, compare = st.session_state["norm"], st.session_state["compare"]
many = many_classes(predictions)
n_shown = int(st.session_state["top"]) if many else len(classes)
shown, shown_overall = cf.fold_top(in_slice, overall, n=n_shown)
pair_token = st.session_state.get("pair")
pair = cf.parse_pair(pair_token, classes) if pair_token else None
pairs = cf.confused_pairs(
    in_slice, reference=overall if current.predicates else None, limit=MAX_PAIRS
)
tokens = cf.pair_tokens(pairs, classes)
heat = partial(plots.confusion_heatmap, normalize=NORMS[norm], selected=pair)
if not current.predicates:
    figures = {"all": heat(shown, title="All rows", what="all rows")}
elif compare == "diff":
    diff = plots.difference_heatmap(shown, shown_overall, normalize=NORMS[norm], selected=pair)
    figures = {"diff": diff}
else:
    figures = {
        "slice": heat(shown, reference=shown_overall, title="Slice"),
        "overall": heat(shown_overall, title="Overall", what="all rows"),
    }
if threshold is not None:
    scored, curves = cf.threshold_report(
        predictions, mask if current.predicates else None, threshold=threshold
    )
    pr_table, pr_figure = cf.threshold_frame(scored), plots.pr_curve_figure(curves, points=scored)

draw_navigation()  # after the numbers: a slice change paints them sooner
if external:
    what = "The matrices, the pairs table and these numbers"
    st.caption(exact_note(external) if exact is not None else sampled_note(external, what))

c1, c2, c3 = st.columns([2, 2, 1])
url_widget(ctx, c1.radio, "Cells show", "norm", options=list(NORMS), horizontal=True,
           format_func=NORM_LABELS.get)  # fmt: skip
if current.predicates:
    url_widget(ctx, c2.radio, "Compare the slice", "compare", options=list(COMPARES),
               horizontal=True, format_func=COMPARES.get)  # fmt: skip
if many:
    help_ = "Classes of the most confused pairs; the rest fold into 'other'."
    url_widget(
        ctx, c3.number_input, "Classes shown", "top", min_value=2, max_value=len(classes),
        help=help_,
    )  # fmt: skip


def draw(where, name):
    key = f"cm_{name}_{pair_token}_{norm}_{compare}_{threshold}_{n_shown}"
    where.plotly_chart(figures[name], key=key, on_select=partial(cell_clicked, key, classes),
                       selection_mode="points", config={"displayModeBar": False})  # fmt: skip


left, right = st.columns(2)
for where, name in zip((left, right), figures, strict=False):
    draw(where, name)
if len(figures) == 2:
    right = st.container()
folded = f" {len(classes) - n_shown} classes fold into 'other'." if shown.is_folded else ""
left.caption(f"Click a cell to see its examples below.{folded}")

with right:
    st.markdown("**Most confused pairs** (true → predicted)")
    if pairs.empty:
        st.info("No errors in this slice.")
    else:
        key = f"pairs_{current.id}_{pair_token}_{threshold}"
        percent = st.column_config.NumberColumn(format="percent")
        count = st.column_config.NumberColumn(format="localized")
        st.dataframe(
            pairs, key=key, hide_index=True, on_select=partial(row_picked, key, tokens),
            selection_mode="single-row", height=min(420, 35 * (len(pairs) + 1) + 3),
            column_order=[c for c in cf.PAIR_COLUMNS if c in pairs],
            column_config={"share of class": percent, "overall share": percent, "count": count,
                           "change (pts)": st.column_config.NumberColumn(format="%+.1f")},
        )  # fmt: skip

if threshold is not None:
    st.subheader(f"Precision and recall{at}")
    if external:
        st.caption(sampled_note(external, "This precision and recall table"))
    left, right = st.columns([1, 2])
    left.dataframe(pr_table)
    right.plotly_chart(pr_figure, key="pr")

st.subheader("Examples")
if external:
    st.caption(sampled_note(external, "This list of rows"))
options = [None, *tokens] + ([pair_token] if pair_token and pair_token not in tokens else [])
arrow = partial(cf.pair_text, classes)
url_widget(
    ctx,
    st.selectbox,
    "Pair (true → predicted)",
    "pair",
    options=options,
    format_func=arrow,
    placeholder="Choose a pair",
)
if pair is None:
    st.info(
        "Choose a pair to see its rows: click a cell, select a row of the table, or use the list."
    )
else:
    rows = cf.pair_mask(predictions, pair, mask, y_pred=y_pred)
    where = " in the slice" if current.predicates else ""
    where += " of the sample" if external and external.sampled else ""
    title = f"true {classes[pair[0]]} → predicted {classes[pair[1]]}"
    st.markdown(f"**{md(title)}**{at}: {int(rows.sum()):,} rows{where}")
    cell = cf.pair_slice(predictions, pair, threshold=threshold)
    link = current & cell.slice
    open_slice_link(dataset, link, label=f"Open on Slices: {link.text}")
    save_case_form(
        predictions, slice=link, source_page="confusion", key="confusion_case", external=external
    )
    if not cell.exact:
        note = "the score column cannot be used in slices, so that slice uses the prediction"
        st.caption(f"At threshold {threshold:.2f} {note} column (the model's threshold).")
    examples_block(predictions, rows, threshold)
copy_link(ctx.link())
