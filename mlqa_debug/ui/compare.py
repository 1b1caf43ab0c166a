"""Widgets and cached runs of the Compare page (candidate ``ds`` against baseline ``vs``).

What is computed for a slice is kept per (pair, slice, parameters) in a
process-wide cache, so going back to a slice, paging the flips or changing an
option of one section recomputes only that section. The library computes
(:mod:`mlqa_debug.analyses.compare`), this module draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import streamlit as st

from mlqa_debug import cases as lib
from mlqa_debug.analyses.compare import (
    FLIP_KINDS,
    FlipPage,
    Flips,
    Headline,
    NewFailures,
    PairedPredictions,
    SliceDeltas,
    flip_counts,
    flip_table,
    headline,
    newly_failing,
    pair_predictions,
    slice_deltas,
    view,
)
from mlqa_debug.cache import DiskCache
from mlqa_debug.cases.relative import build_relative_case
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import Slice, parse_slice, slice_mask
from mlqa_debug.stats.corrections import Correction
from mlqa_debug.ui import compare_external as external
from mlqa_debug.ui import serving, slice_state, state
from mlqa_debug.ui.cases import cases_store, form_error, saved_message
from mlqa_debug.ui.context import PageContext, stop_page
from mlqa_debug.ui.links import DS_PARAM, SLICE_PARAM, VS_PARAM, page_url
from mlqa_debug.ui.options import ViewOption, choice, flag, number, write_param
from mlqa_debug.ui.text import md, without_paths

PAGE = "compare"
FPAGE_PARAM = "fpage"
BASELINE_KEY = "cmp_baseline"
PAGE_SIZE = 50
#: "Where it newly fails" runs by itself when rows x features is at most this; else on a click.
AUTO_NEWLY_CELLS = 3_000_000
CORRECTION_LABELS = {"holm": "Holm (family-wise)", "bh": "Benjamini-Hochberg (false discoveries)"}


# --------------------------------------------------------------------------- options


def flip_kinds(task: str) -> list[str]:
    """The kinds of flip a task has: "still wrong, different prediction" needs 3+ classes."""
    return [k for k in FLIP_KINDS if task == "multiclass" or k != "both_wrong_different"]


def compare_options(ctx: PageContext) -> Iterator[ViewOption[Any]]:
    """The page's view: significance level, minimum slice size, correction, flips shown."""
    yield number("alpha", 0.05, low=0.001, high=0.2, key="cmp_alpha", what="the significance level")
    yield number(
        "min", 30, low=1, high=1_000_000, integer=True, key="cmp_min", what="the minimum slice size"
    )
    yield choice("adjust", ["holm", "bh"], key="cmp_adjust", what="the correction")
    yield choice("flip", flip_kinds(ctx.predictions.task), key="cmp_flip", what="the flips shown")
    yield number(
        FPAGE_PARAM,
        1,
        low=1,
        high=10_000_000,
        integer=True,
        key="cmp_fpage",
        what="the page of flips",
    )
    yield flag("newly", key="cmp_newly", what="the search for new failures")


# --------------------------------------------------------------------------- the pair


def _pick_baseline() -> None:
    write_param(VS_PARAM, st.session_state.get(BASELINE_KEY))


def baseline_picker(ctx: PageContext) -> None:
    """The baseline selectbox: every other dataset of the workspace; a choice changes the link."""
    names = [n for n in ctx.workspace.names() if n != ctx.name]
    current = ctx.second.name if ctx.second is not None else None
    if current is not None and current not in names:  # the candidate itself: said below
        names.append(current)
    st.session_state[BASELINE_KEY] = current
    st.selectbox(
        "Baseline",
        names,
        index=None,
        key=BASELINE_KEY,
        on_change=_pick_baseline,
        placeholder="Choose the model to compare with",
        help="The older model's predictions on the same examples. Differences are "
        "candidate (this dataset) − baseline.",
    )


def paired_or_stop(ctx: PageContext) -> PairedPredictions:
    """The two tables paired by id; a message and a stop when there is no usable baseline."""
    if ctx.second is None:
        st.info(
            md(
                f"Choose a baseline to compare {ctx.name!r} with: the predictions of another "
                "model on the same examples."
            )
        )
        stop_page()
    if ctx.second.name == ctx.name:
        st.error(
            md(
                f"The baseline is {ctx.name!r}, the candidate itself: choose another dataset "
                "to compare with."
            )
        )
        stop_page()
    if ctx.external is not None or ctx.second.external is not None:
        return external.paired_samples_or_stop(ctx, external.engine_pair(ctx))
    try:
        return pair_predictions(ctx.predictions, ctx.second.predictions)
    except MlqaError as e:
        st.error(
            md(
                f"{ctx.name!r} cannot be compared with {ctx.second.name!r}: "
                f"{without_paths(e, ctx.workspace)}"
            )
        )
        stop_page()


def baseline_name(ctx: PageContext) -> str:
    """The baseline's dataset name (pages past :func:`paired_or_stop` have one)."""
    return ctx.second.name if ctx.second is not None else ""


def pair_mask(paired: PairedPredictions, ctx: PageContext) -> np.ndarray:
    """The compared pairs inside the current slice.

    The pairs of an external dataset's paired sample are not the page's rows (its
    random sample): the slice is applied to the paired sample's candidate rows.
    """
    if not ctx.slice.predicates:
        return np.ones(paired.n, dtype=bool)
    if paired.candidate is not ctx.predictions:
        return paired.pair_mask(slice_mask(paired.candidate, ctx.slice))
    return paired.pair_mask(ctx.mask)


# --------------------------------------------------------------------------- cached runs
# Keyed by the pair's key (both fingerprints) and the slice's id; the pair and the mask
# are not hashed (``_`` arguments): the key says what they are.


@st.cache_resource(max_entries=32, show_spinner=False)
def _headline(
    key: str, slice_id: str, alpha: float, _paired: PairedPredictions, _mask: np.ndarray
) -> Headline:
    return headline(_paired, _mask, alpha=alpha)


@st.cache_resource(max_entries=32, show_spinner=False)
def _flips(key: str, slice_id: str, _paired: PairedPredictions, _mask: np.ndarray) -> Flips:
    return flip_counts(_paired, _mask)


@st.cache_resource(max_entries=64, show_spinner=False)
def _flip_page(
    key: str, slice_id: str, kind: str, page: int, _paired: PairedPredictions, _mask: np.ndarray
) -> FlipPage:
    return flip_table(_paired, kind, _mask, page=page, page_size=PAGE_SIZE)


@st.cache_resource(max_entries=32, show_spinner=False)
def _deltas(
    key: str,
    slice_text: str,
    min_size: int,
    correction: str,
    alpha: float,
    _paired: PairedPredictions,
    _mask: np.ndarray,
    _within: Slice,
) -> SliceDeltas:
    method: Correction = "bh" if correction == "bh" else "holm"
    return slice_deltas(
        _paired, _mask, within=_within, min_size=min_size, correction=method, alpha=alpha
    )


@st.cache_resource(max_entries=16, show_spinner=False)
def _newly(
    key: str, slice_text: str, _paired: PairedPredictions, _mask: np.ndarray, _within: Slice
) -> NewFailures:
    cache = DiskCache(state.get_workspace().cache_dir("compare"))
    with serving.expensive_job("this search"):
        return newly_failing(_paired, _mask, within=_within, cache=cache)


def headline_for(paired: PairedPredictions, ctx: PageContext, mask: np.ndarray) -> Headline:
    return _headline(paired.key, ctx.slice.id, float(ctx.options["alpha"]), paired, mask)


def flips_for(paired: PairedPredictions, ctx: PageContext, mask: np.ndarray) -> Flips:
    return _flips(paired.key, ctx.slice.id, paired, mask)


def flip_page_for(
    paired: PairedPredictions, ctx: PageContext, mask: np.ndarray, kind: str, page: int
) -> FlipPage:
    return _flip_page(paired.key, ctx.slice.id, kind, page, paired, mask)


def deltas_for(paired: PairedPredictions, ctx: PageContext, mask: np.ndarray) -> SliceDeltas:
    o = ctx.options
    return _deltas(
        paired.key,
        ctx.slice.text,
        int(o["min"]),
        str(o["adjust"]),
        float(o["alpha"]),
        paired,
        mask,
        ctx.slice,
    )


def newly_ready(ctx: PageContext) -> bool:
    """Whether to search now: asked for in the link, or a table small enough to search at once.

    Decided on the whole table, not the slice, so a large table's slice changes stay
    fast unless the search was asked for (then every slice is searched).
    """
    p = ctx.predictions
    cells = p.n_samples * max(len(p.schema.features), 1)
    return bool(ctx.options["newly"]) or cells <= AUTO_NEWLY_CELLS


def newly_for(paired: PairedPredictions, ctx: PageContext, mask: np.ndarray) -> NewFailures:
    return _newly(paired.key, ctx.slice.text, paired, mask, ctx.slice)


# --------------------------------------------------------------------------- links


def here_link(ctx: PageContext) -> Callable[[str], str]:
    """A function: slice text -> this page's link on that slice (relative, for tables)."""
    params = ctx.link_params()

    def link(text: str) -> str:
        return page_url(PAGE, {**params, SLICE_PARAM: text, FPAGE_PARAM: None})

    return link


def slices_link(ctx: PageContext) -> Callable[[str], str]:
    """A function: slice text -> the Slices page's link on that slice of the candidate."""

    def link(text: str) -> str:
        return page_url("slices", {DS_PARAM: ctx.name, SLICE_PARAM: text})

    return link


DELTA_ORDER = (
    "worse",
    "slice",
    "rows",
    "baseline",
    "candidate",
    "difference",
    "95% CI",
    "p",
    "adjusted p",
    "broken",
    "fixed",
    "open here",
    "on Slices",
    "kind",
)
"""Columns of the slice table as shown (the links before the slice's kind)."""
DELTA_COLUMNS = {
    "worse": st.column_config.TextColumn(
        "", width=28, help="▲: significantly worse (adjusted p < α)"
    ),
    "slice": st.column_config.TextColumn(width="medium"),
    "open here": st.column_config.LinkColumn("open here", display_text="Compare ↗"),
    "on Slices": st.column_config.LinkColumn("on Slices", display_text="Slices ↗"),
    "adjusted p": st.column_config.TextColumn(help="p adjusted for the number of slices compared"),
}
NEWLY_COLUMNS = {
    "slice": st.column_config.TextColumn(width="large"),
    "open here": st.column_config.LinkColumn("open here", display_text="Compare ↗"),
    "on Slices": st.column_config.LinkColumn("on Slices", display_text="Slices ↗"),
}


def open_from_table(current: Slice, slices: list[str]) -> Callable[[], None]:
    """``on_select`` of the slice table: the chosen row's slice becomes this page's slice."""
    key = f"cmp_deltas_{current.id}"

    def apply() -> None:
        rows = st.session_state[key].selection.rows
        if rows:
            slice_state.set_slice(parse_slice(slices[rows[0]]))
            write_param(FPAGE_PARAM, None)

    return apply


# --------------------------------------------------------------------------- saving


def broken_ids(paired: PairedPredictions, mask: np.ndarray) -> list[Any]:
    """The candidate's id values of the broken pairs inside the mask (candidate order)."""
    return list(paired.ids(np.flatnonzero(paired.broken & mask)).tolist())


def save_broken_form(ctx: PageContext, paired: PairedPredictions, mask: np.ndarray) -> None:
    """Save the broken rows of the slice as an example-set case (on the baseline's table)."""
    key = "cmp_broken"
    if paired.candidate.schema.id is None or paired.baseline.schema.id is None:
        st.button(
            "Save broken rows as a case",
            disabled=True,
            key=f"{key}__none",
            help="An example-set case needs an id column in both tables.",
        )
        return
    ids = broken_ids(paired, mask)
    if not ids:
        st.button(
            "Save broken rows as a case",
            disabled=True,
            key=f"{key}__none",
            help="No row broke in this slice.",
        )
        return
    target = f"{paired.key}:{ctx.slice.id}"
    popover = st.popover(
        f"Save the {len(ids):,} broken rows as a case",
        icon=":material/bookmark_add:",
        key=f"{key}__open",
        on_change="rerun",
        help="An example-set case: these rows must be predicted right (the baseline got them "
        "right, the candidate wrong).",
    )
    with popover:
        if popover.open:
            _broken_fields(ctx, paired, ids, key, target)
    saved_message(key, target)


def _broken_fields(
    ctx: PageContext, paired: PairedPredictions, ids: list[Any], key: str, target: str
) -> None:
    if ctx.second is None:  # paired_or_stop made sure there is one
        return
    if st.session_state.get(f"{key}__target") != target:
        st.session_state[f"{key}__target"] = target
        text = ctx.slice.text or "all rows"
        st.session_state[f"{key}__name"] = _unused_name(f"broken by {ctx.name}: {text}")
        st.session_state[f"{key}__error"] = None
    st.markdown(
        f"**{len(ids):,} rows** that {md(ctx.second.name)} got right and {md(ctx.name)} got "
        "wrong. Saved on the baseline's table; passes while none of them is wrong."
    )
    st.text_input("Name", key=f"{key}__name", max_chars=lib.MAX_NAME_LENGTH)
    st.text_area("Note", key=f"{key}__note", height=68, placeholder="Why this matters (optional)")
    serving.author_input(key)
    st.button(
        "Save case",
        type="primary",
        key=f"{key}__save",
        on_click=_save_broken,
        args=(
            paired.baseline,  # the rows paired (an external dataset's paired sample)
            ids,
            ctx.name,
            ctx.second.name,
            ctx.predictions.short_fingerprint,
            key,
            target,
        ),
    )
    form_error(key)


def _unused_name(base: str) -> str:
    """``base`` (shortened to fit), or ``base (2)`` ... when the library has it already."""
    base = base if len(base) <= 100 else base[:97].rstrip() + "..."
    used = {c.name.casefold() for c in cases_store().load().cases}
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base} ({n})", n + 1
    return name


def _save_broken(
    baseline: Any,
    ids: list[Any],
    candidate: str,
    baseline_name: str,
    fingerprint: str,
    key: str,
    target: str,
) -> None:
    note = (st.session_state.get(f"{key}__note") or "").strip()
    origin = f"Broken by candidate {candidate} (fingerprint {fingerprint}) against {baseline_name}."
    try:
        new = lib.build_case(
            baseline,
            name=st.session_state.get(f"{key}__name", ""),
            ids=ids,
            metric=lib.N_WRONG,
            threshold=0.0,
            note=f"{note}\n\n{origin}" if note else origin,
            dataset=baseline_name,
            page=PAGE,
            author=serving.case_author(key),
        )
        case = cases_store().save(new.case, rows=new.rows)
    except MlqaError as e:
        st.session_state[f"{key}__error"] = str(e)
        return
    _saved(key, target, case, baseline_name)


def save_relative_form(ctx: PageContext, paired: PairedPredictions) -> None:
    """Save the slice as a rule case relative to the baseline ("no worse by more than X")."""
    key = "cmp_relative"
    target = f"{paired.key}:{ctx.slice.id}"
    popover = st.popover(
        "Save the slice as a relative case",
        icon=":material/bookmark_add:",
        key=f"{key}__open",
        on_change="rerun",
        help="A rule case: every future model must be no worse than the baseline on this "
        "slice by more than a margin (checked with `mlqa-debug check --baseline`).",
    )
    with popover:
        if popover.open:
            _relative_fields(ctx, key, target)
    saved_message(key, target)


def _relative_fields(ctx: PageContext, key: str, target: str) -> None:
    if ctx.second is None:
        return
    candidate, baseline = ctx.predictions, ctx.second.predictions
    choices = [m for m in lib.metric_choices(candidate) if m in lib.metric_choices(baseline)]
    st.markdown("**Slice**")
    st.code(ctx.slice.text or "all rows", language=None, wrap_lines=True)
    metric = st.selectbox(
        "Metric",
        choices,
        key=f"{key}__metric",
        format_func=lambda m: f"{m} — {lib.describe_metric(m)}",
    )
    if st.session_state.get(f"{key}__target") != f"{target}:{metric}":
        st.session_state[f"{key}__target"] = f"{target}:{metric}"
        st.session_state[f"{key}__margin"] = 0.01 if view.is_rate(metric) else 0.0
        taken = [c.name for c in cases_store().load().cases]
        st.session_state[f"{key}__name"] = lib.suggest_name(taken, where=ctx.slice, page=PAGE)
        st.session_state[f"{key}__error"] = None
    _relative_preview(candidate, baseline, ctx.slice, metric)
    rate = view.is_rate(metric)
    st.number_input(
        f"Margin ({'0.01 = 1 point' if rate else 'in the metric units'})",
        min_value=0.0,
        step=0.005 if rate else None,
        format="%.4f" if rate else "%.6g",
        key=f"{key}__margin",
    )
    st.text_input("Name", key=f"{key}__name", max_chars=lib.MAX_NAME_LENGTH)
    st.text_area("Note", key=f"{key}__note", height=68, placeholder="Why this matters (optional)")
    serving.author_input(key)
    st.button(
        "Save case",
        type="primary",
        key=f"{key}__save",
        on_click=_save_relative,
        args=(candidate, baseline, ctx.slice, metric, ctx.name, ctx.second.name, key, target),
    )
    form_error(key)


def _relative_preview(candidate: Any, baseline: Any, where: Slice, metric: str) -> None:
    threshold = baseline.schema.error_threshold
    try:
        now = lib.measure(candidate, metric=metric, where=where, error_threshold=threshold)
        ref = lib.measure(baseline, metric=metric, where=where, error_threshold=threshold)
    except MlqaError as e:
        st.warning(md(f"This cannot be saved as a case: {e}"))
        return
    st.markdown(
        f"On this slice now: baseline **{view.value_text(ref.value, metric)}** "
        f"({ref.rows:,} rows), candidate **{view.value_text(now.value, metric)}** "
        f"({now.rows:,} rows)."
    )


def _save_relative(
    candidate: Any,
    baseline: Any,
    where: Slice,
    metric: str,
    candidate_name: str,
    baseline_name: str,
    key: str,
    target: str,
) -> None:
    try:
        case = build_relative_case(
            candidate,
            baseline,
            where=where,
            metric=metric,
            margin=float(st.session_state.get(f"{key}__margin") or 0.0),
            name=st.session_state.get(f"{key}__name", ""),
            note=st.session_state.get(f"{key}__note", "") or "",
            candidate_name=candidate_name,
            baseline_name=baseline_name,
            author=serving.case_author(key),
            page=PAGE,
        )
        case = cases_store().save(case)
    except MlqaError as e:
        st.session_state[f"{key}__error"] = str(e)
        return
    _saved(key, target, case, candidate_name)


def _saved(key: str, target: str, case: lib.Case, dataset: str) -> None:
    st.session_state[f"{key}__saved"] = (target, case.id, case.name, case.condition, dataset)
    st.session_state[f"{key}__open"] = False
    st.session_state[f"{key}__target"] = None
    st.session_state[f"{key}__note"] = ""
    st.session_state[f"{key}__error"] = None
