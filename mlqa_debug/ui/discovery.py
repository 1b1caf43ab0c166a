"""Widgets and cached runs of the Discover page.

The search and the error tree run as background jobs (:mod:`mlqa_debug.ui.background`):
one per dataset and parameters, shared by every session, with progress and Cancel.
On an external dataset the search runs on its engine over every row
(:func:`run_discovery_external`); the tree needs the rows and grows on the sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from mlqa_debug.analyses.discovery.service import (
    DEFAULT_PARAMS,
    ERROR_MEASURES,
    DiscoveryParams,
    DiscoveryResult,
    TreeTarget,
    cached_discovery,
    discover_slices,
    discovery_key,
    grow_error_tree,
)
from mlqa_debug.analyses.discovery.tree import ErrorTree
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.external import ExternalTable
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.engines.discover import cached_discovery_on, discover_on_cached, discovery_key_on
from mlqa_debug.jobs import Job, background_jobs
from mlqa_debug.ui.background import job_result
from mlqa_debug.ui.cases import save_case_form
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.links import slice_url
from mlqa_debug.ui.options import ViewOption, choice, flag, number, write_option
from mlqa_debug.ui.state import get_workspace
from mlqa_debug.ui.text import md, without_paths
from mlqa_debug.ui.widgets import open_slice_link

DEFAULTS = DEFAULT_PARAMS  # the service's defaults, named once there
#: The default minimum support is 1% of the rows, but never fewer than this many.
MIN_SUPPORT_ROWS = 20
#: Seconds a page run waits for a search or a tree before leaving it to the background.
WAIT_SECONDS = 3.0

RESULT_COLUMNS = {
    "slice": st.column_config.TextColumn(width="large"),
    "open": st.column_config.LinkColumn("open", display_text="Open on Slices ↗"),
    "error rate": st.column_config.NumberColumn(format="percent"),
    "95% CI": st.column_config.TextColumn(),
    "lift": st.column_config.NumberColumn(format="%.2fx"),
    "share": st.column_config.NumberColumn(format="percent"),
    "score": st.column_config.NumberColumn(format="%.3f"),
}
TREE_COLUMNS = {
    "slice": st.column_config.TextColumn(width="large"),
    "open": st.column_config.LinkColumn("open", display_text="Open on Slices ↗"),
    "share of errors": st.column_config.NumberColumn(format="percent"),
}


#: The numeric search parameters: URL name, session key, label, range, whole number, step.
NUMBERS = (
    ("alpha", "d_alpha", "α (error vs size)", 0.05, 1.0, False, 0.01),
    ("k", "d_k", "k (results)", 1, 100, True, 1),
    ("level", "d_level", "Max predicates", 1, 4, True, 1),
    ("support", "d_support", "Min support (% of rows)", 0.01, 50.0, False, 0.5),
    ("bins", "d_bins", "Bins per numeric", 2, 20, True, 1),
)


def _defaults(n_rows: int) -> dict[str, float]:
    """The service's defaults in the page's units (support in % of rows, at least 20 rows)."""
    support = max(DEFAULTS.min_support * 100, round(100 * MIN_SUPPORT_ROWS / max(n_rows, 1), 2))
    return {"alpha": DEFAULTS.alpha, "k": DEFAULTS.k, "level": DEFAULTS.max_level,
            "support": support, "bins": DEFAULTS.n_bins}  # fmt: skip


def discover_options(ctx: PageContext) -> list[ViewOption[Any]]:
    """The Discover page's search parameters as view options (URL names, ranges, defaults)."""
    predictions = ctx.predictions
    # an external dataset is searched over every row, so its 20 rows are of all of them
    defaults = _defaults(ctx.external.n_rows if ctx.external else predictions.n_samples)
    measures = [m for m in ERROR_MEASURES if _measure_fits(predictions, m)]
    numbers = [  # kept in the link even at their defaults: a link pins the search it shows
        number(
            param,
            defaults[param],
            low=low,
            high=high,
            integer=whole,
            key=key,
            what=label.split(" (")[0],
            keep_default=True,
        )
        for param, key, label, low, high, whole, _ in NUMBERS
    ]
    return [
        *numbers,
        choice("measure", measures, key="d_measure", what="the error measure", keep_default=True),
        flag("inside", default=True, key="d_inside", what="searching inside the slice"),
    ]


def params_form(
    ctx: PageContext, features: list[str], default: list[str] | None = None
) -> DiscoveryParams:
    """The search parameters (seeded from the URL by the page context); Search applies them.

    ``features`` are the choices, ``default`` the ones selected at first (all of them
    unless given: a wide table's default is a subset, see ``default_features``).
    """
    default = features if default is None else default
    current = ctx.slice
    with st.form("discover_params", border=True):
        c = st.columns(6)
        for column, (param, key, label, *_, step) in zip(c, NUMBERS, strict=False):
            low, high = ctx.option(param).bounds or (None, None)
            widget = column.slider if param == "alpha" else column.number_input
            widget(label, low, high, step=step, key=key)
        c[5].selectbox("Error measure", ctx.option("measure").choices, key="d_measure")
        chosen = st.multiselect("Features", features, default=default, key="d_features")
        st.checkbox(
            f"Search inside the current slice ({md(current.text or 'all rows')})",
            key="d_inside",
            disabled=not current.predicates,
        )
        if st.form_submit_button("Search", type="primary"):
            for option in ctx.declared:
                write_option(option)
    s = st.session_state
    return DiscoveryParams(
        alpha=float(s.d_alpha),
        k=int(s.d_k),
        max_level=int(s.d_level),
        min_support=float(s.d_support) / 100,
        n_bins=int(s.d_bins),
        features=tuple(chosen) if chosen and set(chosen) != set(default) else None,
        within=current.text if s.d_inside else "",
        measure=s.d_measure,
    )


def _measure_fits(predictions: Predictions, measure: str) -> bool:
    if measure == "abs_error":
        return not predictions.schema.is_classification
    if measure == "log_loss":
        return predictions.proba_matrix is not None
    return True


def run_discovery(predictions: Predictions, params: DiscoveryParams) -> DiscoveryResult | None:
    """Discovery, cached on disk by fingerprint and parameters; None while it runs.

    A search not cached runs as a background job in a slot of the process's job
    limit; the page shows its progress meanwhile (:func:`~mlqa_debug.ui.background.job_result`).
    """
    ws = get_workspace()
    cache = DiskCache(ws.cache_dir("discovery"))
    key = f"discovery:{discovery_key(predictions, params)}"
    finished = background_jobs().get(key)  # just computed: say so, rather than "from the cache"
    found = finished.result if finished is not None and finished.state == "done" else None
    found = found or cached_discovery(predictions, params, cache=cache)
    if found is not None:
        return found

    def search(job: Job[DiscoveryResult]) -> DiscoveryResult:
        return discover_slices(
            predictions, params, cache=cache, progress=job.report, cancelled=job.cancelled
        )

    return _search_job(key, search, ws)


def _search_job(
    key: str, search: Callable[[Job[DiscoveryResult]], DiscoveryResult], ws: Workspace
) -> DiscoveryResult | None:
    """The search's result once its background job is done; None (progress shown) until then."""
    return job_result(
        key,
        search,
        what="the search",
        name="discover_job",
        wait=WAIT_SECONDS,
        describe=lambda e: without_paths(e, ws),
    )


def run_discovery_external(table: ExternalTable, params: DiscoveryParams) -> DiscoveryResult | None:
    """Discovery on the table's engine over every row; None while it runs.

    Cached on disk by the files' fingerprint, the roles and the parameters. The job
    holds the table's engine (one connection shared by the sessions) while it counts;
    the page scripts do not wait on it: they poll the job like any other search.
    """
    ws = get_workspace()
    cache = DiskCache(ws.cache_dir("discovery"))
    key = f"discovery-external:{table.name}:{discovery_key_on(table.engine, params)}"
    finished = background_jobs().get(key)  # just computed: say so, rather than "from the cache"
    found = finished.result if finished is not None and finished.state == "done" else None
    found = found or cached_discovery_on(table.engine, params, cache=cache)
    if found is not None:
        return found

    def search(job: Job[DiscoveryResult]) -> DiscoveryResult:
        job.report(f"waiting for {table.engine_title}", None)
        with table.locked() as engine:
            return discover_on_cached(
                engine, params, cache=cache, progress=job.report, cancelled=job.cancelled
            )

    return _search_job(key, search, ws)


def results_frame(result: DiscoveryResult, dataset: str) -> pd.DataFrame:
    rows = []
    for rank, d in enumerate(result.slices, start=1):
        ci = f"{d.low:.1%} – {d.high:.1%}" if not math.isnan(d.low) else "–"
        rows.append(
            {
                "rank": rank,
                "slice": d.slice.text,
                "open": slice_url(dataset, d.slice),
                "rows": d.size,
                "share": d.size / max(result.n_rows, 1),
                "error rate": d.error_rate,
                "95% CI": ci,
                "lift": d.lift,
                "score": d.score,
                "predicates": d.level,
            }
        )
    return pd.DataFrame(rows)


def selected_slice_actions(
    predictions: Predictions,
    result: DiscoveryResult,
    dataset: str,
    *,
    key: str,
    external: ExternalTable | None = None,
) -> None:
    """After a point is clicked in the chart: its slice with a link to the Slices page.

    On an external dataset a case saved from here records the engine's exact value.
    """
    event = st.session_state.get(key)
    points = getattr(getattr(event, "selection", None), "points", None) or []
    if not points:
        st.caption("Click a point to pick its slice.")
        return
    rank = int(points[0]["customdata"][0])
    chosen = result.slices[rank].slice
    open_slice_link(dataset, chosen, label=f"Open #{rank + 1} on Slices: {chosen.text}")
    save_case_form(
        predictions, slice=chosen, source_page="discover", key="discover_case", external=external
    )


def error_tree(
    predictions: Predictions,
    features: list[str],
    depth: int,
    min_leaf: float,
    within: str,
    target: TreeTarget,
) -> ErrorTree | None:
    """The error tree, kept with the dataset; None while its background job runs."""
    key = f"tree:{features}:{depth}:{min_leaf}:{within}:{target}"

    def grow(job: Job[ErrorTree]) -> ErrorTree:
        return predictions.memo(
            key,
            lambda: grow_error_tree(
                predictions,
                features=features or None,
                max_depth=depth,
                min_samples_leaf=min_leaf,
                within=within,
                target=target,
                progress=job.report,
                cancelled=job.cancelled,
            ),
        )

    return job_result(
        f"{key}:{predictions.fingerprint}",
        grow,
        what="the error tree",
        name="tree_job",
        wait=WAIT_SECONDS,
        describe=lambda e: without_paths(e, get_workspace()),
    )


def rate_label(target: str) -> str:
    return {"error": "error rate", "abs_residual": "mean |residual|"}.get(target, "mean residual")


def tree_frame(tree: ErrorTree, dataset: str, target: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for n in tree.nodes:
        rows.append(
            {
                "node": n.id,
                "depth": n.depth,
                "slice": n.slice.text or "(all rows)",
                "open": slice_url(dataset, n.slice),
                "rows": n.size,
                rate_label(target): n.error_mean,
                "share of errors": n.error_share,
                "leaf": n.is_leaf,
            }
        )
    return pd.DataFrame(rows)
