"""Embeddings page: a 2-D map of the examples; select a region to see what it has in common."""

from typing import Any

import pandas as pd
import streamlit as st

from mlqa_debug.analyses import confusion
from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings.figures import embedding_map
from mlqa_debug.cache import DiskCache
from mlqa_debug.data import images as images
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import EMPTY
from mlqa_debug.stats import difference_text, report_frame
from mlqa_debug.ui.cases import save_case_form
from mlqa_debug.ui.context import PageContext, open_page
from mlqa_debug.ui.downloads import csv_download
from mlqa_debug.ui.options import ViewOption, choice, flag
from mlqa_debug.ui.text import md, without_paths
from mlqa_debug.ui.widgets import copy_link, open_slice_link

NAMES = {"umap": "UMAP", "pca": "PCA", "given": "Given (proj_x, proj_y)", "abs_error": "|residual|"}
NAMES |= {"slice": "in the current slice"}
PERCENT = st.column_config.NumberColumn(format="percent")
STRENGTH = st.column_config.ProgressColumn(
    min_value=0.0, max_value=1.0, format="%.2f", help="Cramér's V: 0 alike, 1 fully apart"
)
FEATURES = {"strength": STRENGTH, "in selection": PERCENT, "in the rest": PERCENT}
CLUSTERS = {"error rate": PERCENT, "lift": st.column_config.NumberColumn(format="%.2fx")}


def name(value: str) -> str:
    return NAMES.get(value, value)


def view_options(ctx: PageContext) -> list[ViewOption[Any]]:
    """The map, the colouring (its choices depend on the slice) and the cluster switch."""
    has_slice = bool(ctx.slice.predicates)
    colors = emb.color_choices(ctx.predictions, has_slice=has_slice, has_clusters=True)
    return [
        choice("proj", emb.method_choices(ctx.predictions), what="the map", keep_default=True),
        choice("color", colors, what="the colouring", keep_default=True),
        flag("clusters", what="error clusters"),
    ]


def focus(source: str) -> None:
    st.session_state["emb_focus"] = source


ctx = open_page("embeddings", options=view_options)
predictions, current, dataset = ctx.predictions, ctx.slice, ctx.name
in_slice = ctx.mask if current.predicates else None
try:
    cache = DiskCache(ctx.workspace.cache_dir("embeddings"))
except OSError as e:
    st.error(md(f"The map cache cannot be used: {without_paths(e, ctx.workspace)}"))
    st.stop()

method, color = ctx.options["proj"], ctx.options["color"]
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
c1.radio("Map", ctx.option("proj").choices, format_func=name, horizontal=True, **ctx.bind("proj"))
c2.selectbox("Colour by", ctx.option("color").choices, format_func=name, **ctx.bind("color"))
show_clusters = c3.toggle("Error clusters", **ctx.bind("clusters"))
if current.predicates and not ctx.mask.any():
    st.info("No rows match this slice, so the map has nothing to show. Change or clear the slice.")
    st.stop()

jobs, job = emb.projection_jobs(), None
try:
    projection = emb.load_projection(predictions, method=method, cache=cache)
    if projection is None:  # UMAP runs in the background: show PCA at once
        first = "pca" if method == "umap" else method
        with st.spinner(f"Computing the {name(first)} map…"):
            projection = emb.get_projection(predictions, method=first, cache=cache)
        job = jobs.start(predictions, method="umap", cache=cache) if method == "umap" else None
except MlqaError as e:
    st.error(md(f"No map for this dataset: {without_paths(e, ctx.workspace)}"))
    st.stop()

if job is not None and job.error is not None:
    reason = without_paths(job.error, ctx.workspace)
    st.error(md(f"UMAP could not be computed: {reason}.") + " The PCA map is shown.")
    st.button("Try UMAP again", on_click=jobs.forget, args=[job.key], key="emb_retry")
elif job is not None:
    key = job.key

    @st.fragment(run_every=2.0)
    def umap_status() -> None:
        """Poll the background UMAP; swap it in when ready, unless that would drop a selection."""
        running = jobs.get(key)
        if running is not None and running.running:
            st.progress(running.fraction or 0.0, f"{running.status_text()} — PCA shown meanwhile.")
            return
        if not getattr(st.session_state.get("emb_map"), "selection", {}).get("points"):
            st.rerun()
        if st.button("UMAP is ready: show it (this clears the selection)", key="emb_swap"):
            st.rerun()

    umap_status()

view = emb.view_rows(projection, slice_mask=in_slice, color_by=color)
clusters = None
if show_clusters or color == "cluster":
    with st.spinner("Finding clusters…"):
        clusters = emb.error_clusters(predictions, projection, candidates=view)
points = emb.map_points(
    predictions, projection, slice_mask=in_slice, color_by=color, clusters=clusters
)
slice_text = "" if color == "slice" else current.text
st.caption(md(emb.view_caption(projection, points, slice_text=slice_text)))
if len(points.positions) == 0:
    st.info("No row of this view has coordinates on this map.")
    st.stop()

event = st.plotly_chart(
    embedding_map(points, revision=projection.key),
    key="emb_map",
    on_select=lambda: focus("map"),
    selection_mode=("box", "lasso"),
    config={"displaylogo": False, "scrollZoom": True},
)
st.caption(
    "Drag a box (or pick the lasso in the chart's toolbar) to select points; double-click clears."
)
selection = event.selection if event is not None else {}
selected, region = emb.selection_rows(
    selection, projection, points, n_samples=predictions.n_samples
)
title = f"Selection: {len(selected):,} points"

if clusters is not None and show_clusters:
    st.subheader("Error clusters")
    if not clusters.clusters:
        st.info("HDBSCAN finds no dense cluster on this map.")
    else:
        table = clusters.to_frame()
        st.dataframe(
            table, hide_index=True, height=min(36 * len(table) + 38, 300), column_config=CLUSTERS
        )
        st.selectbox("Inspect a cluster", list(table["cluster"]), index=None, key="emb_cluster",
                     placeholder="Choose a cluster", on_change=focus, args=["cluster"])  # fmt: skip
        st.caption(clusters.describe())
        chosen = clusters.by_name(st.session_state.get("emb_cluster"))
        if chosen and (not len(selected) or st.session_state.get("emb_focus") == "cluster"):
            selected, region = clusters.members(chosen, points.positions), clusters.mask(chosen)
            title = f"Cluster {chosen.name}: {chosen.size:,} rows"

link = ctx.link()
if not len(selected):
    st.info(
        "Select points on the map to see their metrics, what sets them apart and a slice for them."
    )
    copy_link(link)
    st.stop()

base = EMPTY if color == "slice" else current
summary = emb.summarize_selection(predictions, selected, shown=points.positions, candidates=view,
                                  region=region, base=base)  # fmt: skip
st.subheader(title)
for column, (label, value, delta) in zip(st.columns(4), summary.headline(), strict=True):
    column.metric(label, value, delta, delta_color="inverse" if label == "Error rate" else "off")
st.caption(difference_text(summary.report).replace("the rest", "all other rows"))

left, right = st.columns(2)
with left:
    st.markdown("**A slice that describes them**")
    rule = summary.rule
    if rule is None:
        st.caption("No rule on the features separates these points from the rest of the map.")
    else:
        st.code(rule.rule.text, language=None, wrap_lines=True)
        st.caption(rule.describe(within_slice=bool(base.predicates)))
        open_slice_link(dataset, rule.slice, label="Open this slice on the Slices page")
with right:
    st.markdown("**Keep the selected points as an example set**")
    if summary.ids is None:
        st.caption("The data has no id column, so the points cannot be kept by their ids.")
    else:
        save_case_form(
            predictions,
            ids=list(summary.ids),
            source_page="embeddings",
            key="emb_case",
            external=ctx.external,
        )
        ids = pd.Series(summary.ids, name=predictions.schema.id)
        csv_download(ids, file_name=f"{dataset}-selection.csv", key="emb_ids",
                     label="Download their ids (CSV)")  # fmt: skip

st.markdown("**What sets the selected points apart** from the other points on the map")
st.dataframe(summary.features, hide_index=True, column_config=FEATURES)
examples = confusion.pair_examples(predictions, summary.mask, page_size=50)
rows = confusion.example_positions(examples)
if images.has_images(predictions):
    st.markdown("**Selected examples**, errors first (label→prediction)")
    captions = emb.example_captions(predictions, rows)
    with st.container(horizontal=True, gap="small", key="emb_images"):
        for png, caption in zip(images.row_images(predictions, rows), captions, strict=True):
            st.image(png, caption=md(caption), width=56)
with st.expander(f"Examples: {len(rows)} of {summary.n_rows:,} rows, errors first"):
    st.dataframe(examples.frame, height=min(420, 35 * len(rows) + 38))
    csv_download(examples.frame, file_name=f"{dataset}-selection-examples.csv",
                 key="emb_examples_csv", index=True)  # fmt: skip
with st.expander("All metrics: selection, all other rows, overall"):
    table = report_frame(summary.report).rename(
        columns={"slice": "selection", "rest": "all other rows"}
    )
    st.dataframe(table, height=36 * len(table) + 38)
copy_link(link)
