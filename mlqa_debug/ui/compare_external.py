"""The Compare page when a dataset is external: exact from the engine, slices on a paired sample.

Both external on one engine: the headline and the flips come from
:func:`~mlqa_debug.engines.compare.compare_on` over every pair (exact), a page of
flips from the join, and the per-slice deltas and newly failing slices from a
*paired* sample (:func:`~mlqa_debug.engines.compare_rows.paired_sample`: the same
ids from both tables). Otherwise (one table loaded, or two engines) the two
samples are paired by id when enough ids pair, and every number is the sample's;
when too few pair, the page says how to get the comparison (register both by
reference on one engine) and stops.
"""

from __future__ import annotations

import hashlib
from typing import NoReturn

import streamlit as st

from mlqa_debug.analyses.compare import FlipPage, PairedPredictions, pair_predictions
from mlqa_debug.data.external import ExternalTable, sample_rows_from_env
from mlqa_debug.engines.compare import EngineComparison, compare_on
from mlqa_debug.engines.compare_rows import EnginePair, flip_page_on, pair_engines, paired_sample
from mlqa_debug.errors import MlqaError, SliceError
from mlqa_debug.slicing import Slice
from mlqa_debug.ui.context import PageContext, stop_page
from mlqa_debug.ui.text import md, without_paths
from mlqa_debug.ui.widgets import copy_link

__all__ = [
    "MIN_PAIRED_SHARE",
    "MIN_PAIRS",
    "engine_pair",
    "exact_comparison",
    "exact_flip_page",
    "exact_or_stop",
    "exact_pairs_note",
    "paired_note",
    "paired_samples_or_stop",
]

MIN_PAIRS = 30
"""Fewest pairs two samples must share to be compared (else: register both on one engine)."""
MIN_PAIRED_SHARE = 0.5
"""And at least this share of the smaller sample's rows must pair."""


def _tables(ctx: PageContext) -> tuple[ExternalTable | None, ExternalTable | None]:
    second = ctx.second.external if ctx.second is not None else None
    return ctx.external, second


def _table_key(t: ExternalTable) -> str:
    """What names one opened table in the caches: its path, files and roles."""
    roles = hashlib.blake2b(repr(t.engine.schema).encode(), digest_size=8).hexdigest()
    return f"{t.source.engine}:{t.source.path}:{t.source.fingerprint}:{roles}"


def engine_pair(ctx: PageContext) -> EnginePair | None:
    """Both tables on one connection when both are external on one engine, else None."""
    candidate, baseline = _tables(ctx)
    if candidate is None or baseline is None or candidate.source.engine != baseline.source.engine:
        return None
    key = f"{_table_key(candidate)}|{_table_key(baseline)}"
    try:
        return _pair(key, candidate, baseline)
    except MlqaError as e:
        _stop(ctx, f"the two tables cannot be opened together: {without_paths(e, ctx.workspace)}")


@st.cache_resource(max_entries=4, show_spinner="Opening both tables on one connection…")
def _pair(key: str, _candidate: ExternalTable, _baseline: ExternalTable) -> EnginePair:
    paths = (_candidate.source.path, _baseline.source.path)
    return pair_engines(_candidate.engine, _baseline.engine, paths)


def _stop(ctx: PageContext, problem: str) -> NoReturn:
    second = ctx.second.name if ctx.second is not None else ""
    st.error(md(f"{ctx.name!r} cannot be compared with {second!r}: {problem}"))
    stop_page()


# --------------------------------------------------------------------------- pairing


def paired_samples_or_stop(ctx: PageContext, pair: EnginePair | None) -> PairedPredictions:
    """The rows that the page's sampled sections compare.

    With ``pair``: the paired sample (the same ids from both tables). Without: the
    two datasets' rows as the page has them (an external one's sample) paired by id,
    if enough pair; else a message saying what to do, and the page stops.
    """
    candidate, baseline = _tables(ctx)
    assert ctx.second is not None  # paired_or_stop checked
    if pair is not None and candidate is not None and baseline is not None:
        n = sample_rows_from_env()
        key = f"{_table_key(candidate)}|{_table_key(baseline)}|{n}"
        try:
            return _paired_sample(key, n, (ctx.name, ctx.second.name), pair)
        except MlqaError as e:
            _stop(ctx, without_paths(e, ctx.workspace))
    try:
        paired = pair_predictions(ctx.predictions, ctx.second.predictions)
    except MlqaError as e:
        _stop(ctx, without_paths(e, ctx.workspace))
    smaller = min(ctx.predictions.n_samples, ctx.second.predictions.n_samples)
    if paired.n < max(MIN_PAIRS, MIN_PAIRED_SHARE * smaller):
        st.warning(md(_too_few(ctx, paired.n, candidate, baseline)), icon=":material/link_off:")
        stop_page()
    st.warning(md(_sampled_pairs(ctx, paired.n, candidate, baseline)), icon=":material/casino:")
    return paired


@st.cache_resource(max_entries=4, show_spinner="Drawing the same ids from both tables…")
def _paired_sample(
    key: str, n: int, names: tuple[str, str], _pair: EnginePair
) -> PairedPredictions:
    with _pair.locked() as (candidate, baseline):
        c, b = paired_sample(candidate, baseline, n, names=names)
    return pair_predictions(c, b)


def _where(c: ExternalTable | None, b: ExternalTable | None) -> str:
    """Which of the two is read where, in a sentence."""
    parts = [f"{role} is {'external, on ' + t.engine_title if t else 'loaded'}"
             for role, t in (("the candidate", c), ("the baseline", b))]  # fmt: skip
    return " and ".join(parts)


def _way_out(ctx: PageContext) -> str:
    second = ctx.second.name if ctx.second is not None else "BASELINE"
    return (
        "register both by reference on one engine (`mlqa-debug add DIR --name "
        f"{ctx.name} --external --engine duckdb --overwrite`, the same for {second}): "
        "then the headline and the flips are exact over every pair"
    )


def _too_few(ctx: PageContext, n: int, c: ExternalTable | None, b: ExternalTable | None) -> str:
    return (
        f"Only {n:,} rows pair up between the rows the app holds of {ctx.name!r} and of "
        f"{ctx.second.name if ctx.second else ''!r} ({_where(c, b)}; an external dataset is "
        "held as a random sample, and two random samples share few ids), too few to compare. "
        f"To compare them, {_way_out(ctx)}."
    )


def _sampled_pairs(
    ctx: PageContext, n: int, c: ExternalTable | None, b: ExternalTable | None
) -> str:
    return (
        f"Sampled comparison: {_where(c, b)}, so the page compares the {n:,} rows of the "
        "samples that pair up by id, and every number below is the sample's, not exact. "
        f"For exact numbers, {_way_out(ctx)}."
    )


# --------------------------------------------------------------------------- exact parts


def exact_or_stop(ctx: PageContext) -> tuple[EnginePair | None, EngineComparison | None]:
    """The pair and its exact comparison when both tables are external on one engine.

    ``(None, None)`` otherwise. A slice the engine cannot compute, or a failed join,
    stops the page with the message (and the view's link for a slice).
    """
    pair = engine_pair(ctx)
    if pair is None:
        return None, None
    assert ctx.external is not None  # a pair means both tables are external
    try:
        with st.spinner(
            f"Joining both tables by id on {ctx.external.engine_title}…", show_time=True
        ):
            return pair, exact_comparison(pair, ctx)
    except SliceError as e:
        st.info(md(f"{e}: choose another slice."))
        copy_link(ctx.link())
        stop_page()
    except MlqaError as e:
        st.error(md(without_paths(e, ctx.workspace)))
        stop_page()
    raise AssertionError("stop_page() returned")  # pragma: no cover - it raises


def exact_comparison(pair: EnginePair, ctx: PageContext) -> EngineComparison:
    """``compare_on`` over every pair inside the slice (cached per pair, slice and alpha)."""
    candidate, baseline = _tables(ctx)
    assert candidate is not None and baseline is not None
    key = f"{_table_key(candidate)}|{_table_key(baseline)}"
    names = (ctx.name, ctx.second.name if ctx.second else None)
    alpha = float(ctx.options["alpha"])
    return _exact(key, ctx.slice.text, alpha, names, pair, ctx.slice)


@st.cache_resource(max_entries=32, show_spinner=False)
def _exact(
    key: str,
    slice_text: str,
    alpha: float,
    names: tuple[str | None, str | None],
    _pair: EnginePair,
    _where: Slice,
) -> EngineComparison:
    with _pair.locked() as (candidate, baseline):
        return compare_on(candidate, baseline, where=_where, alpha=alpha, names=names)


def exact_flip_page(
    pair: EnginePair, ctx: PageContext, kind: str, page: int, page_size: int
) -> FlipPage:
    """One page of the flips of ``kind`` inside the slice, over every pair."""
    candidate, baseline = _tables(ctx)
    assert candidate is not None and baseline is not None
    key = f"{_table_key(candidate)}|{_table_key(baseline)}"
    return _flip_page(key, ctx.slice.text, kind, page, page_size, pair, ctx.slice)


@st.cache_resource(max_entries=64, show_spinner=False)
def _flip_page(
    key: str, slice_text: str, kind: str, page: int, page_size: int, _pair: EnginePair,
    _where: Slice,
) -> FlipPage:  # fmt: skip
    with _pair.locked() as (candidate, baseline):
        return flip_page_on(candidate, baseline, kind, where=_where, page=page, page_size=page_size)


# --------------------------------------------------------------------------- words


def exact_pairs_note(table: ExternalTable, exact: EngineComparison) -> str:
    """A caption for the headline and flips ``compare_on`` computed."""
    return (
        f"Exact: computed by {table.engine_title} over all {exact.paired.n:,} pairs "
        f"(both tables joined by id; {exact.headline.n:,} in this slice)."
    )


def paired_note(table: ExternalTable, paired: PairedPredictions, what: str) -> str:
    """A caption for ``what`` computed on the paired sample (the same ids of both tables)."""
    if paired.n >= table.n_rows:
        return f"{what} uses every pair (the paired sample is the whole table)."
    return (
        f"{what} is sampled: computed on {paired.n:,} pairs of the {table.n_rows:,} rows "
        f"(the same ids from both tables, drawn by {table.engine_title} by a seeded hash "
        "of the id), so its counts are the sample's."
    )
