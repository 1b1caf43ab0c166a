"""Discover page: the worst slices found automatically (SliceLine) and an error tree."""

import streamlit as st

from mlqa_debug.analyses.discovery import figures as plots
from mlqa_debug.analyses.discovery.service import TreeTarget, default_features, usable_features
from mlqa_debug.errors import MlqaError
from mlqa_debug.ui import discovery as ui
from mlqa_debug.ui.context import open_page
from mlqa_debug.ui.external import exact_note, sampled_note
from mlqa_debug.ui.text import md
from mlqa_debug.ui.widgets import copy_link

ctx = open_page("discover", options=ui.discover_options, slice_box=False)
predictions, dataset = ctx.predictions, ctx.name
external = ctx.external  # an external dataset: the search counts every row on its engine
features = list(default_features(predictions))
usable = list(usable_features(predictions))

st.caption(
    "SliceLine (Sagadeeva & Boehm, 2021) ranks conjunctions of feature values by "
    "score = α·(slice error / mean error − 1) − (1 − α)·(rows / slice rows − 1): "
    "high α favours high error, low α favours large slices. The search is exact."
)
try:
    if len(usable) > len(features):
        st.caption(
            f"This table has {len(usable):,} features: by default the search and the tree use "
            f"the first {len(features)}, which keeps them to seconds; choose others under Features."
        )
    params = ui.params_form(ctx, usable, features)
    if external is not None:
        result = ui.run_discovery_external(external, params)  # None while the search runs
    else:
        result = ui.run_discovery(predictions, params)
except MlqaError as e:
    st.error(md(e))
    st.stop()

where = f" inside {md(params.within)}" if params.within else ""
if result is not None:
    st.subheader(f"Top {len(result.slices)} slices{where}")
    st.caption(
        f"Searched {result.n_rows:,} rows over {len(result.features)} features "
        f"({'from the cache' if result.cached else 'just computed'}); "
        f"mean error {result.mean_error:.3g}."
        + (f" Left out: {md(', '.join(result.skipped))}." if result.skipped else "")
    )
    if external is not None:
        st.caption(exact_note(external) + " The slices, their rows and error rates are exact.")
if result is not None and not result.slices:
    st.info("No slice scores above zero: try a higher α or a lower minimum support.")
elif result is not None:
    st.dataframe(
        ui.results_frame(result, dataset),
        hide_index=True,
        width="stretch",
        column_config=ui.RESULT_COLUMNS,
    )
    st.plotly_chart(
        plots.tradeoff_scatter(result.slices, mean_error=result.mean_error),
        key="tradeoff",
        on_select="rerun",
        selection_mode="points",
    )
    ui.selected_slice_actions(predictions, result, dataset, key="tradeoff", external=ctx.external)

copy_link(ctx.link())

st.divider()
st.subheader("Error tree")
if external is not None:
    st.caption(sampled_note(external, "The error tree"))
c1, c2, c3 = st.columns(3)
depth = c1.slider("Depth", 1, 5, 3, key="tree_depth")
leaf = c2.select_slider(
    "Min rows per leaf",
    [0.001, 0.005, 0.01, 0.02, 0.05],
    0.01,
    key="tree_leaf",
    format_func=lambda v: f"{v:.1%}",
)
targets: list[TreeTarget] = (
    ["error"] if predictions.schema.is_classification else ["abs_residual", "residual", "error"]
)
target = c3.selectbox("Tree target", targets, key="tree_target") or "error"
tree_features = st.multiselect("Tree features", usable, default=features, key="tree_features")
try:
    tree = ui.error_tree(predictions, tree_features, depth, leaf, params.within, target)
except MlqaError as e:
    st.error(md(e))
    st.stop()
if tree is not None:  # None while it grows
    st.plotly_chart(plots.error_tree_icicle(tree, rate_label=ui.rate_label(target)), key="tree")
    st.dataframe(
        ui.tree_frame(tree, dataset, target),
        hide_index=True,
        width="stretch",
        column_config=ui.TREE_COLUMNS,
    )
    st.caption(
        "Open a node's slice from its link; a node's slice selects exactly the rows "
        "the tree sends there."
    )
