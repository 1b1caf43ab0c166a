"""The page context: one call at the top of every page, everything the page needs.

    ctx = open_page("confusion", options=confusion_options)
    ctx.predictions, ctx.slice, ctx.mask, ctx.options["norm"], ctx.link()

:func:`open_page` must not rely on anything ``app.py`` did: a deep link opened as
the first request to a fresh server runs the page file directly (DESIGN.md,
Links). It sets the page config, reads the dataset (``?ds=``) and, on pages over
two tables, the second one (``?vs=``), both validated the same way; draws the
sidebar (dataset picker and links that carry what belongs in a link); loads the
data through a process-wide cache; parses and checks the slice once and computes
its mask once; resolves the page's view options (:mod:`mlqa_debug.ui.options`).
Pages never read ``st.query_params`` themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import numpy as np
import streamlit as st

from mlqa_debug.data.external import ExternalTable
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import DatasetEntry, Workspace
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import EMPTY, Slice
from mlqa_debug.ui import serving, slice_state, state
from mlqa_debug.ui.external import external_banner
from mlqa_debug.ui.links import (
    CARRIED,
    DS_PARAM,
    FP_PARAM,
    RESERVED,
    SLICE_PARAM,
    VS_PARAM,
    page_link,
    page_url,
)
from mlqa_debug.ui.options import (
    ResolvedOptions,
    ViewOption,
    correct,
    raw_param,
    resolve_one,
    write_option,
    write_param,
)
from mlqa_debug.ui.text import md, without_paths

OptionSpec = Iterable[ViewOption[Any]] | Callable[["PageContext"], Iterable[ViewOption[Any]]]
Need = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class Dataset:
    """A dataset the page shows: its id, its workspace entry and its loaded predictions.

    For an external dataset, ``predictions`` is the engine's seeded sample and
    ``external`` the table over every row (exact aggregates on its engine).
    """

    name: str
    entry: DatasetEntry
    predictions: Predictions
    external: ExternalTable | None = None


@dataclass
class PageContext:
    """What a page works with this run; built by :func:`open_page`."""

    page: str
    workspace: Workspace
    dataset: Dataset | None
    second: Dataset | None = None
    slice: Slice = EMPTY
    mask: np.ndarray = field(default_factory=lambda: np.ones(0, dtype=bool))
    options: ResolvedOptions = field(default_factory=ResolvedOptions)
    declared: tuple[ViewOption[Any], ...] = ()
    #: The server is read-only (``mlqa-debug app --read-only``): pages draw no writers.
    read_only: bool = False

    @property
    def name(self) -> str:
        """The dataset's id (pages with a dataset only)."""
        return self._dataset.name

    @property
    def entry(self) -> DatasetEntry:
        return self._dataset.entry

    @property
    def predictions(self) -> Predictions:
        return self._dataset.predictions

    @property
    def external(self) -> ExternalTable | None:
        """The external dataset's table over every row, or None for a loaded dataset."""
        return self._dataset.external

    @property
    def _dataset(self) -> Dataset:
        if self.dataset is None:  # open_page stops pages that need one
            raise RuntimeError("this page has no dataset")
        return self.dataset

    def option(self, param: str) -> ViewOption[Any]:
        """The declared option for ``param`` (for a widget's ``key`` and ``on_change``)."""
        return next(o for o in self.declared if o.param == param)

    def link_params(self, **overrides: str | None) -> dict[str, str | None]:
        """The parameters of this view's link: datasets, fingerprint, slice, view options."""
        params: dict[str, str | None] = {}
        if self.dataset is not None:
            params[DS_PARAM] = self.dataset.name
            params[FP_PARAM] = self.dataset.predictions.short_fingerprint
        if self.second is not None:
            params[VS_PARAM] = self.second.name
        params[SLICE_PARAM] = self.slice.text
        for option in self.declared:
            if option.in_link:
                params[option.param] = option.url_value(
                    st.session_state.get(option.session_key, self.options.values.get(option.param))
                )
        params.update(overrides)
        return params

    def link(
        self, page: str | None = None, *, absolute: bool = True, **overrides: str | None
    ) -> str:
        """The URL that reopens this view (or ``page`` with this dataset and slice)."""
        if page is not None and page != self.page:
            carried = {k: v for k, v in self.link_params().items() if k in CARRIED}
            return page_url(page, carried | overrides, absolute=absolute)
        return page_url(self.page, self.link_params(**overrides), absolute=absolute)

    def set(self, param: str, value: Any) -> None:
        """Make ``value`` the option's value, in the session and in the URL."""
        option = self.option(param)
        st.session_state[option.session_key] = value
        self.options.values[param] = value
        write_param(param, option.url_value(value))

    def correct(self, param: str, value: Any, *, reason: str) -> None:
        """An option's value turned out unusable once computed: show ``value``, and say so."""
        correct(self.option(param), value, self.options, reason=reason)
        st.warning(md(self.options.problems[-1]))

    def bind(self, param: str, **extra: Any) -> dict[str, Any]:
        """Keyword arguments that tie a widget to the option ``param`` (key and on_change)."""
        option = self.option(param)
        return {"key": option.session_key, "on_change": write_option, "args": (option,), **extra}


_pending = threading.local()
"""The navigation a page has not drawn yet (``open_page(navigation="late")``), per script thread."""


def stop_page() -> NoReturn:
    """``st.stop()``, with the page's navigation drawn first if it was left for later.

    Pages opened with ``navigation="late"`` (and the helpers they call) stop through
    this, so a page that stops before its numbers still has its sidebar links.
    """
    draw_navigation()
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - it raises


def draw_navigation() -> None:
    """Draw the sidebar's page links if ``open_page`` left them for later (else nothing)."""
    draw = getattr(_pending, "draw", None)
    _pending.draw = None
    if draw is not None:
        draw()


def _load(ws: Workspace, name: str, *, role: str) -> Dataset:
    try:
        entry = ws.entry(name)
        table = None if entry.external is None else state.external_table(ws, name)
        predictions = state.load_dataset(ws, name) if table is None else table.sample
    except MlqaError as e:
        st.error(md(f"{role} {name!r} cannot be loaded: {without_paths(e, ws)}"))
        stop_page()
    return Dataset(name, entry, predictions, table)


REFERENCE_PAGES = ("data",)
"""The pages that open a reference table (labels, no predictions) as their dataset."""


def _reference_table(ctx: PageContext) -> None:
    """Say what a reference table is for; pages about a model's predictions stop here."""
    name = ctx.name
    about = (
        f"**{md(name)}** is a reference table: it has labels and no predictions (a training "
        "set), so it is the reference that the Data quality page checks an evaluation table "
        f"against for leakage and drift (open that page on your evaluation table and choose "
        f"{md(name)} as the reference)."
    )
    if ctx.page in REFERENCE_PAGES:
        st.info(about, icon=":material/info:")
        return
    st.info(f"{about} This page needs a model's predictions.", icon=":material/info:")
    page_link("quality", {}, label="Open the Data quality page", icon=":material/fact_check:")
    stop_page()


def _second_dataset(ws: Workspace, need: Need, *, default: str | None = None) -> Dataset | None:
    """The dataset ``?vs=`` names; without one, ``default`` (the dataset's default baseline)."""
    if need == "none":
        return None
    name, problem = state.requested_dataset(ws, VS_PARAM)
    if problem is not None:
        st.error(md(f"The link names a second dataset that cannot be opened: {problem}"))
    elif name is None and default is not None:
        name = _default_second(ws, default)
    if name is None:
        if need == "required":
            st.info("Choose the dataset to compare with (the link's `vs` parameter).")
            stop_page()
        return None
    return _load(ws, name, role="The second dataset")


def _default_second(ws: Workspace, default: str) -> str | None:
    """The default baseline, put in the URL so the link names it; ``None`` if it is gone."""
    try:
        ws.entry(default)
    except MlqaError as e:
        st.warning(md(f"The default baseline cannot be opened: {without_paths(e, ws)}"))
        return None
    st.query_params[VS_PARAM] = default
    return default


def _drop_foreign_params(declared: Sequence[ViewOption[Any]]) -> None:
    """Parameters no one on this page reads leave the URL, so its link stays canonical."""
    known = set(RESERVED) | {o.param for o in declared}
    for key in [k for k in st.query_params if k not in known]:
        del st.query_params[key]


def open_page(
    page: str,
    *,
    options: OptionSpec = (),
    dataset: Need = "required",
    second: Need = "none",
    second_default: bool = True,
    slice_box: bool = True,
    heading: str | None = None,
    navigation: Literal["first", "late"] = "first",
) -> PageContext:
    """Set a page up from its URL; stops the page with a message when it cannot be shown.

    ``page`` is the page's URL path (``"slices"``); ``options`` its view options,
    or a function of the context so far (dataset, slice) that returns or yields
    them (each yielded option is resolved before the next is asked for, so a later
    option's choices may depend on an earlier one's value); ``dataset`` and ``second``
    say whether the page needs a dataset and a second one (``?vs=``); without
    ``second_default`` a link without ``vs`` opens with no second dataset rather than
    the dataset's default baseline. With ``slice_box`` the slice text box is drawn
    under the title; ``heading`` replaces the title (the page's name in the navigation).

    ``navigation="late"``: the sidebar's page links (their place is kept, at the top
    of the sidebar) are drawn when the page calls :func:`draw_navigation`, after its
    headline numbers. Every page link changes with the slice, and the browser paints
    a rerun's first numbers only after it has applied the messages before them, so
    the pages timed on a slice change send their numbers first (or when the page
    stops, whichever comes first).
    """
    title = state.page_title(page)
    st.set_page_config(page_title=f"{title} · mlqa-debug", page_icon="🔎", layout="wide")
    ws = state.get_workspace()
    nav_slot = st.sidebar.container()
    st.title(heading or title)  # first, so a message about the link reads under it
    name = state.dataset_picker(ws)

    def draw() -> None:
        with nav_slot:
            state.navigation({k: raw_param(k) for k in CARRIED} | {DS_PARAM: name})

    _pending.draw = draw  # drawn below, or by the page (late), or when it stops
    ctx = PageContext(page=page, workspace=ws, dataset=None, read_only=serving.read_only())
    if ctx.read_only:
        st.sidebar.caption(serving.READ_ONLY_BANNER)
    if name is not None:
        ctx.dataset = _load(ws, name, role="Dataset")
        state.check_fingerprint(name, ctx.dataset.predictions)
    if navigation == "first":
        draw_navigation()
    if ctx.dataset is None:
        if dataset == "required":
            st.info("Choose a dataset in the sidebar to begin.")
            stop_page()
        return ctx
    if ctx.dataset.entry.reference_only:
        _reference_table(ctx)
    if ctx.dataset.external is not None:
        external_banner(ctx.name, ctx.dataset.external)
    baseline = ctx.dataset.entry.baseline if second_default else None
    ctx.second = _second_dataset(ws, second, default=baseline)
    ctx.slice, ctx.mask = slice_state.current_slice_and_mask(ctx.dataset.predictions)
    declared: list[ViewOption[Any]] = []
    for option in options(ctx) if callable(options) else options:  # in turn: a later option
        resolve_one(option, ctx.options)  # may depend on an earlier one's value
        declared.append(option)
    ctx.declared = tuple(declared)
    _drop_foreign_params(ctx.declared)
    for problem in ctx.options.problems:
        st.warning(md(problem))
    if slice_box:
        slice_state.slice_text_box()
    return ctx


def link_to(page: str, params: Mapping[str, str | None]) -> str:
    """A relative link to ``page`` with ``params`` (for tables of links)."""
    return page_url(page, params)
