"""Explanations page: which features drive a slice's errors (SHAP), and why one example failed."""

import streamlit as st

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.examples import examples_page
from mlqa_debug.analyses.explain import figures as plots
from mlqa_debug.ui.builder import predicate_chips
from mlqa_debug.ui.cases import save_case_form
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.downloads import csv_download
from mlqa_debug.ui.models import (
    EXAMPLE_KEY,
    explain_options,
    explain_with_progress,
    pick_example,
    registered_model,
)
from mlqa_debug.ui.text import md, without_paths
from mlqa_debug.ui.widgets import copy_link

ctx = open_page("explanations", options=explain_options)
predictions, current, mask, ws, name = ctx.predictions, ctx.slice, ctx.mask, ctx.workspace, ctx.name
schema = predictions.schema
predicate_chips(current)

model, model_problem = registered_model(ws, name)
sources = ex.available_sources(predictions, has_model=model is not None)
if model_problem:
    st.warning(md(f"The registered model cannot be used: {without_paths(model_problem, ws)}"))
if not sources:
    st.info(
        f"No attributions for {md(repr(name))}: the table has no `shap_<feature>` columns and no "
        "model is registered with it. Register one with "
        "`mlqa-debug add FILE --name NAME --model MODEL`, or attach one from the server's "
        "trusted folder on the Data page."
    )
    st.stop()

source, target = ctx.options["source"], ctx.options["target"]
max_rows = int(ctx.options["rows"])
controls = st.columns([2, 2, 2, 3])
if len(sources) > 1:
    names = {"model": "from the model", "precomputed": "shap_ columns"}
    controls[0].radio(
        "Attributions", sources, format_func=names.get, horizontal=True, **ctx.bind("source")
    )
if schema.is_classification:
    controls[1].selectbox(
        "Explain",
        ctx.option("target").choices,
        **ctx.bind("target"),
        help="Which class's score the attributions explain.",
        format_func=lambda t: "predicted class" if t == ex.PREDICTED else f"class {t}",
    )
if source == "model":
    controls[2].selectbox(
        "Rows to explain",
        ctx.option("rows").choices,
        **ctx.bind("rows"),
        format_func=lambda r: f"up to {int(r):,}",
        help="The slice, plus a reference sample of the rest.",
    )
controls[3].text_input(
    "Example id",
    **ctx.bind(EXAMPLE_KEY),
    placeholder="pick an error below, or paste an id",
)
example = st.session_state[EXAMPLE_KEY]
position = ex.find_example(predictions, example or None)
if example and position is None:
    st.warning(md(f"No example with id {example!r} in {name!r}."))

neighbours = ex.nearest_correct(predictions, position) if position is not None else None
required = [] if position is None else [position]
required += [] if neighbours is None else neighbours["position"].tolist()
budget = max_rows if source == "model" else predictions.n_samples
plan = ex.plan_rows(predictions, mask, max_rows=budget, required=required)
expl = explain_with_progress(predictions, plan.rows, model=model, source=source, ws=ws).explanation
info, att = expl.info, ex.toward(expl, predictions, target)
in_slice, errors = mask[att.rows], predictions.error[att.rows]
additivity = {True: "✓", False: "✗", None: "not checkable"}[info.additive]
additivity += f" on {info.checked_rows:,} rows checked" if info.checked_rows else ""
st.caption(
    f"{md(ex.explainer_text(info))}{' · model ' + md(info.model) if info.model else ''} · "
    f"output space: {info.output_space} · additivity (base + attributions = output) {additivity} · "
    f"{int(in_slice.sum()):,} of {plan.n_slice:,} slice rows and {int((~in_slice).sum()):,} "
    f"rows of the rest explained{' (a sample)' if plan.sampled else ''}"
)
if info.approximate:
    st.warning(
        "Approximate attributions: exact TreeSHAP would not fit the time budget for "
        "this model, so these are Saabas values (shap's `approximate=True`)."
    )
if info.agreement is not None and info.agreement < 0.99:
    st.warning(
        f"The model reproduces only {info.agreement:.1%} of the table's predictions "
        "on the rows checked: it may not be the model that made them."
    )
for note in info.notes:
    st.caption(md(f"Note: {note}"))
if not in_slice.any():
    st.info("None of the slice's rows is explained yet.")
    st.stop()

st.subheader("What matters more in this slice")
importance = ex.importance_table(att, in_slice)
left, right = st.columns([3, 2])
left.plotly_chart(plots.importance_bars(importance), key="importance")
right.dataframe(importance.dropna(axis=1, how="all").round(4), hide_index=True, height=360)
st.caption(f"Mean |SHAP| toward {md(att.target)}, ranked by slice minus rest.")

wrong = "the wrong class" if schema.is_classification else "the error"
st.subheader(f"What pushes the slice's errors toward {wrong}")
push = ex.push_table(ex.toward_error(expl, predictions), errors, in_slice)
n_errors = int((in_slice & errors).sum())
if n_errors == 0:
    st.info("No errors among the slice's explained rows.")
else:
    st.caption(f"{n_errors:,} errors and {int((in_slice & ~errors).sum()):,} correct predictions.")
    st.plotly_chart(plots.push_bars(push, regression=not schema.is_classification), key="push")

st.subheader("Summary and dependence")
features = ex.top_features(importance)
colour, feature = ctx.options["colour"], ctx.options["feature"]
if feature not in att.features:
    if feature:
        ctx.correct("feature", features[0], reason="not an explained feature")
    else:
        ctx.set("feature", features[0])
    feature = features[0]
c1, c2 = st.columns(2)
c1.radio(
    "Colour by",
    ["error", "value"],
    horizontal=True,
    format_func={"error": "error", "value": "feature value"}.get,
    **ctx.bind("colour"),
)
c2.selectbox("Dependence plot for", list(att.features), **ctx.bind("feature"))
swarm = ex.beeswarm_frame(att, predictions, features=features, rows_mask=in_slice)
c1.plotly_chart(plots.beeswarm(swarm, features=features, colour=colour), key="beeswarm")
dep = ex.dependence_frame(att, predictions, feature, rows_mask=in_slice)
c2.plotly_chart(plots.dependence(dep, feature=feature), key="dependence")

st.subheader("Why one example went wrong")
page = examples_page(predictions, mask & predictions.error, page_size=100)
if page.total:
    ids = [ex.example_id(predictions, p - 1) for p in page.frame.index]
    lead = [c for c in (schema.id, schema.label, schema.prediction, *predictions.derived) if c]
    shown = page.frame[[c for c in dict.fromkeys([*lead, *features[:6]]) if c in page.frame]]
    st.dataframe(
        shown,
        key="error_table",
        on_select=lambda: pick_example("error_table", ids),
        selection_mode="single-row",
        height=250,
        width="stretch",
    )
    st.caption(
        f"The slice's {page.total:,} errors, most confident first (the first {len(ids)}). "
        "Select one to explain it."
    )
    csv_download(shown, file_name=f"{ctx.name}-errors.csv", key="errors_csv", index=True)
if position is None:
    st.info("Select an error in the table, or open a link with ?example=ID, to explain it.")
elif expl.index([position])[0] < 0:
    st.info("This example is not explained yet.")
else:
    row = predictions.frame.iloc[position]
    truth, said = ex.format_value(row[schema.label]), ex.format_value(row[schema.prediction])
    verdict = "an error" if predictions.error[position] else "correct"
    where = "" if mask[position] else " It is outside the current slice."
    st.markdown(f"**{md(example)}**: label {md(truth)}, prediction {md(said)} ({verdict}).{where}")
    ex_att = ex.toward(expl, predictions, ex.example_target(predictions, position, source))
    image = ex.image_attributions(ex_att, predictions, position)
    side = image is not None or (neighbours is not None and len(neighbours) > 0)
    left, right = st.columns(2) if side else (st.container(), None)
    wf = ex.waterfall(ex_att, predictions, position)
    left.plotly_chart(plots.waterfall(wf, output_space=info.output_space), key="waterfall")
    if right is not None and image is not None:
        right.plotly_chart(plots.attribution_image(*image, target=ex_att.target), key="image")
    if right is not None and neighbours is not None and len(neighbours):
        contrast = ex.neighbour_contrast(ex_att, position, neighbours["position"].tolist())
        right.plotly_chart(plots.neighbour_bars(contrast, target=ex_att.target), key="neighbours")
        right.dataframe(neighbours.drop(columns="position"), hide_index=True, width="stretch")
    elif neighbours is None:
        st.caption("No embedding columns (emb_*), so no nearest correct neighbours to compare.")

copy_link(ctx.link())
if current.predicates:
    save_case_form(
        predictions,
        slice=current,
        source_page="explanations",
        key="explain_case",
        external=ctx.external,
    )
