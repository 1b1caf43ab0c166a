"""Regression cases in the app: the "Save as regression case" widget and the Cases page parts.

:func:`save_case_form` is the one widget every page with a slice or a selection
calls. It is a button opening a dialog that computes nothing until it is opened; it shows
the baseline of the chosen metric on what is on screen, the default threshold
(editable), a name and a note, and saves into the case store
(``$MLQA_DEBUG_CASES``, else ``<workspace>/cases``). The library computes, this
module draws: see :mod:`mlqa_debug.cases`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from mlqa_debug import cases as lib
from mlqa_debug.cases.build import measurement_of
from mlqa_debug.cases.measurement import Measurement, match_examples
from mlqa_debug.cases.relative import describe_relative, reference_label, threshold_for_margin
from mlqa_debug.data.external import ExternalTable
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError, MlqaError
from mlqa_debug.slicing import Slice
from mlqa_debug.ui import serving, state
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.external import exact_note, sampled_note
from mlqa_debug.ui.links import DS_PARAM, SLICE_PARAM, page_link, page_url
from mlqa_debug.ui.options import ViewOption, choice, write_param
from mlqa_debug.ui.text import md, without_paths

CASE_PARAM = "case"
STATUS_PARAM = "status"
STATUS_LABELS = {
    "pass": "pass",
    "fail": "fail",
    "empty": "empty",
    "not_applicable": "n/a",
    "error": "error",
    "not run": "not run",
}
STATUS_STYLES = {  # background and text colour of the status cell
    "pass": "background-color: #dcf5e3; color: #14632b",
    "fail": "background-color: #fde2e1; color: #9b1c1c",
    "empty": "background-color: #fdecc8; color: #8a4b00",
    "n/a": "background-color: #eceef1; color: #4b5563",
    "error": "background-color: #9b1c1c; color: #ffffff",
}
FILTERS = {
    "all": "All",
    "fail": "Fail",
    "empty": "Empty",
    "not_applicable": "N/A",
    "error": "Error",
    "pass": "Pass",
}
AUTO_RUN_ROWS = 50_000_000  # cases x rows checked on opening (about 7 ms per case at 1M rows)
_REPORT_KEY = "_cases_report"


def cases_store() -> lib.CaseStore:
    """The case store the app uses: ``$MLQA_DEBUG_CASES``, else the workspace's ``cases/``."""
    return lib.CaseStore(lib.resolve_cases_dir(None, workspace=state.get_workspace()))


def _draft_identity(s: Slice | None, ids: Sequence[Any] | None, metric: str) -> str:
    """Changes when what would be saved changes: the ids (which win) or the slice, the metric."""
    target = ",".join(map(lib.id_key, ids)) if ids else (s.id if s is not None else "")
    return hashlib.sha256(f"{target}|{metric}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- save widget


def save_case_form(
    predictions: Predictions,
    *,
    slice: Slice | None = None,  # noqa: A002 - what the caller has on screen
    ids: Sequence[Any] | None = None,
    source_page: str,
    key: str,
    external: ExternalTable | None = None,
) -> None:
    """A "Save as regression case" button and dialog prefilled from a slice or a selection of ids.

    Pass ``slice`` (the Slices, Discover, Confusion pages ...) and/or ``ids`` (the
    dataset's id values of a selection, e.g. a lasso on the Embeddings page): a
    non-empty ``ids`` wins and saves an example set, checked by id. Without either
    the button is disabled. ``key`` keeps several forms on one page apart.

    On an external dataset pass ``external`` (``ctx.external``; ``predictions`` is its
    sample): a slice case's baseline is then measured by the engine over every row,
    not on the sample, and an example set is saved only if every id is in the sample.
    """
    ids = list(ids) if ids else None
    if serving.read_only():
        serving.read_only_note("cases cannot be saved here; share the view's link instead")
        return
    if slice is None and ids is None:
        st.button(
            "Save as regression case",
            icon=":material/bookmark_add:",
            disabled=True,
            key=f"{key}__none",
            help="Select some examples first.",
        )
        return
    if save_button(key, help="every future model must pass"):
        _dialog(predictions, slice, ids, source_page, key, external)
    saved_message(key, _draft_identity(slice, ids, ""))


def save_button(key: str, *, help: str) -> bool:  # noqa: A002 - st.button's word
    """The "Save as regression case" button of form ``key``; whether its dialog is open."""
    st.button(
        "Save as regression case",
        icon=":material/bookmark_add:",
        key=f"{key}__button",
        on_click=_set_open,
        args=(key, True),
        help=f"Keep this as a check that {help} (in the app and in CI).",
    )
    return bool(st.session_state.get(f"{key}__open"))


def _set_open(key: str, value: bool) -> None:
    st.session_state[f"{key}__open"] = value


_OPEN_DIALOG = "_case_dialog_open"
"""The form key of the save dialog on screen, which Escape or its close button dismisses."""


def dialog_dismissed() -> None:
    """``on_dismiss`` of a save dialog: its form is closed."""
    key = st.session_state.pop(_OPEN_DIALOG, None)
    if key is not None:
        _set_open(key, False)


def dialog_opened(key: str) -> None:
    """First thing in a save dialog's body: once "Save case" has closed the form
    (``__open`` false) the whole page reruns, so the saved message shows under the
    button; else the dialog is the one on screen."""
    if not st.session_state.get(f"{key}__open"):
        st.session_state.pop(_OPEN_DIALOG, None)
        st.rerun()
    st.session_state[_OPEN_DIALOG] = key


@st.dialog("Save as regression case", width="medium", on_dismiss=dialog_dismissed)
def _dialog(
    predictions: Predictions,
    s: Slice | None,
    ids: Sequence[Any] | None,
    page: str,
    key: str,
    external: ExternalTable | None = None,
) -> None:
    """The form in a modal dialog, which scrolls inside a small window (a popover cannot)."""
    dialog_opened(key)
    _form(predictions, s, ids, page, key, external)


def exact_baseline(
    predictions: Predictions,
    s: Slice | None,
    ids: Sequence[Any] | None,
    metric: str,
    external: ExternalTable | None,
) -> Measurement | None:
    """The baseline to record on an external dataset; None to measure ``predictions``.

    A slice's metric comes from the engine's exact report over every row. An example
    set is measured on the sample (``predictions``) when all of its ids are in it;
    else :class:`~mlqa_debug.errors.CaseError`, since the sample cannot count them.
    """
    if external is None:
        return None
    if ids is not None:
        missing = match_examples(predictions, ids).only_left
        if len(missing):
            shown = ", ".join(map(repr, missing[:5].tolist()))
            raise CaseError(
                f"{len(missing):,} of the {len(ids):,} ids are not in the sample of "
                f"{external.sample.n_samples:,} rows this page shows (e.g. {shown}), so their "
                f"baseline cannot be measured here; select examples shown on this page, or "
                f"save the case with the command line on the whole table"
            )
        return None
    report = external.slice_report(s if s is not None else Slice())
    return measurement_of(report.slice, metric)


def _form(
    predictions: Predictions,
    s: Slice | None,
    ids: Sequence[Any] | None,
    page: str,
    key: str,
    external: ExternalTable | None = None,
) -> None:
    if ids is not None:
        metric = lib.N_WRONG
        st.markdown(f"**{len(ids):,} selected example{'s' if len(ids) != 1 else ''}**")
    else:
        st.markdown("**Slice**")
        st.code((s.text if s is not None else "") or "all rows", language=None, wrap_lines=True)
        choices = lib.metric_choices(predictions)
        st.selectbox(
            "Metric",
            choices,
            format_func=lambda m: f"{m} — {lib.describe_metric(m)}",
            key=f"{key}__metric",
        )
        metric = st.session_state[f"{key}__metric"]
    try:
        baseline = exact_baseline(predictions, s, ids, metric, external)
        draft = lib.draft_case(
            predictions, where=s if ids is None else None, ids=ids, metric=metric,
            baseline=baseline,
        )  # fmt: skip
    except MlqaError as e:
        st.warning(md(f"This cannot be saved as a case: {e}"))
        return
    _seed(draft, s, ids, page, key)
    _baseline_line(draft, ids)
    if external is not None:
        st.caption(exact_note(external) if baseline is not None else sampled_note(
            external, "The baseline of these examples"))  # fmt: skip
    _threshold_input(draft, ids, key)
    name_author_note(key)
    st.button(
        "Save case",
        type="primary",
        key=f"{key}__save",
        on_click=_save,
        args=(predictions, s, ids, metric, page, key, state.current_dataset(), baseline),
    )
    form_error(key)


def name_author_note(key: str) -> None:
    """The case's name and author side by side (a dialog short enough for a laptop), its note."""
    name, author = st.columns(2)
    with name:
        st.text_input("Name", key=f"{key}__name", max_chars=lib.MAX_NAME_LENGTH)
    with author:
        serving.author_input(key)
    st.text_area("Note", key=f"{key}__note", height=68, placeholder="Why this matters (optional)")


def _seed(
    draft: lib.Draft,
    s: Slice | None,
    ids: Sequence[Any] | None,
    page: str,
    key: str,
) -> None:
    """Reset name and threshold to the defaults whenever the slice or the metric changes."""
    identity = _draft_identity(s, ids, draft.metric)
    if st.session_state.get(f"{key}__draft") == identity:
        return
    target_changed = st.session_state.get(f"{key}__target") != _draft_identity(s, ids, "")
    st.session_state[f"{key}__draft"] = identity
    st.session_state[f"{key}__target"] = _draft_identity(s, ids, "")
    threshold = draft.threshold
    st.session_state[f"{key}__threshold"] = int(threshold) if ids is not None else threshold
    st.session_state[f"{key}__error"] = None
    if target_changed or not st.session_state.get(f"{key}__name"):
        taken = [c.name for c in cases_store().load().cases]
        n_examples = None if ids is None else len(ids)
        st.session_state[f"{key}__name"] = lib.suggest_name(
            taken, where=s, n_examples=n_examples, page=page
        )


def _baseline_line(draft: lib.Draft, ids: Sequence[Any] | None) -> None:
    b = draft.baseline
    if ids is not None:
        st.markdown(
            f"Now **{lib.format_value(b.value, lib.N_WRONG)}** of {b.rows:,} predicted wrong."
        )
        return
    interval = f" (95% CI ±{b.half_width:.3g})" if math.isfinite(b.half_width) else ""
    st.markdown(
        f"Baseline now: **{lib.format_value(b.value, draft.metric)}**{interval} on {b.rows:,} rows."
    )


def _threshold_input(draft: lib.Draft, ids: Sequence[Any] | None, key: str) -> None:
    default = lib.format_value(draft.threshold, draft.metric, digits=6)
    if ids is not None:
        st.number_input(
            "Pass when at most this many are wrong",
            min_value=0,
            max_value=len(ids),
            step=1,
            key=f"{key}__threshold",
        )
        st.caption(f"Default {default}: no example may turn wrong; 0 means every one right.")
        return
    rate = lib.metric_base(draft.metric) in lib.RATE_METRICS
    st.number_input(
        f"Pass when {md(draft.metric)} {md(draft.op)}",
        min_value=0.0 if rate else None,
        max_value=1.0 if rate else None,
        step=0.005 if rate else None,
        format="%.4f" if rate else "%.6g",
        key=f"{key}__threshold",
    )
    direction = "plus" if draft.op == "<=" else "minus"
    st.caption(
        f"Default {draft.op} {default}: the baseline {direction} a tolerance for noise, "
        f"{md(lib.tolerance_rule(draft.metric))}."
    )


def _save(
    predictions: Predictions,
    s: Slice | None,
    ids: Sequence[Any] | None,
    metric: str,
    page: str,
    key: str,
    dataset: str | None,
    baseline: Measurement | None = None,
) -> None:
    """on_click of "Save case": build, save, close the dialog; keep the message on error.

    ``baseline``: the value the form showed, when measured elsewhere (an engine).
    """
    try:
        new = lib.build_case(
            predictions,
            name=st.session_state.get(f"{key}__name", ""),
            where=s if ids is None else None,
            ids=ids,
            metric=metric,
            threshold=float(st.session_state[f"{key}__threshold"]),
            note=st.session_state.get(f"{key}__note", "") or "",
            dataset=dataset,
            page=page,
            author=serving.case_author(key),
            baseline=baseline,
        )
        case = cases_store().save(new.case, rows=new.rows)
    except MlqaError as e:
        st.session_state[f"{key}__error"] = str(e)
        return
    target = _draft_identity(s, ids, "")
    st.session_state[f"{key}__saved"] = (target, case.id, case.name, case.condition, dataset)
    st.session_state[f"{key}__open"] = False
    st.session_state[f"{key}__draft"] = None
    st.session_state[f"{key}__name"] = ""
    st.session_state[f"{key}__note"] = ""
    st.session_state[f"{key}__error"] = None


def form_error(key: str) -> None:
    """The last save's error of the form ``key``, with server paths named, not shown."""
    problem = st.session_state.get(f"{key}__error")
    if problem:
        st.error(md(without_paths(problem, state.get_workspace())))


def saved_message(key: str, target: str) -> None:
    """The saved message and a link to the case, while the slice or selection is unchanged."""
    saved = st.session_state.get(f"{key}__saved")
    if not saved or saved[0] != target:
        return
    _, case_id, name, condition, dataset = saved
    st.success(
        f"Saved regression case “{md(name)}”: {md(condition)}.", icon=":material/bookmark_added:"
    )
    case_link(dataset, case_id, label="Open it in the case library")


def case_link(dataset: str | None, case_id: str, *, label: str) -> None:
    """A link to one case on the Cases page."""
    params = {DS_PARAM: dataset or "", CASE_PARAM: case_id}
    page_link("cases", params, label=label, icon=":material/checklist:")


# --------------------------------------------------------------------------- Cases page


def current_report(
    predictions: Predictions, listing: lib.CaseListing, baseline: Predictions | None = None
) -> lib.CheckReport | None:
    """The last check of this library on this dataset (and baseline), if this session ran one."""
    saved = st.session_state.get(_REPORT_KEY)
    if saved and saved[0] == _report_key(predictions, listing, baseline):
        return saved[1]
    return None


def _report_key(
    predictions: Predictions, listing: lib.CaseListing, baseline: Predictions | None
) -> tuple[str, str, str]:
    return (predictions.fingerprint, listing.signature, baseline.fingerprint if baseline else "")


def default_baseline(ctx: PageContext, listing: lib.CaseListing) -> Predictions | None:
    """The dataset's default baseline (Data page), loaded only when a relative case needs it.

    A baseline that cannot be loaded is said once on the page; relative cases then
    use the value stored at save.
    """
    name = ctx.entry.baseline
    if name is None or not any(c.relative for c in listing.cases):
        return None
    try:
        return state.load_dataset(ctx.workspace, name)
    except MlqaError as e:
        problem = without_paths(e, ctx.workspace)
        st.warning(
            md(
                f"The default baseline {name!r} cannot be loaded ({problem}); "
                "relative cases use the baseline value stored at save."
            )
        )
        return None


def run_all(
    predictions: Predictions,
    listing: lib.CaseListing,
    *,
    slot: Any,
    baseline: Predictions | None = None,
) -> lib.CheckReport:
    """Check every case with a progress bar in ``slot`` (an ``st.empty``); kept per session.

    The bar lives in a placeholder that every run draws, so the page's elements keep
    their places whether or not this run checked the cases (expanders stay open).
    """
    bar = slot.progress(0.0, text=f"Checking {len(listing.cases):,} cases…")

    def progress(done: int, total: int, case: lib.Case) -> None:
        bar.progress(done / total, text=f"Checked {done:,} of {total:,}: {md(case.name)}")

    try:
        report = lib.check_cases(predictions, listing, baseline=baseline, progress=progress)
    except MlqaError as e:  # a baseline of another task: check against the stored values
        st.warning(md(f"Relative cases use the stored baseline values: {e}"))
        report = lib.check_cases(predictions, listing, progress=progress)
        baseline = None
    bar.empty()
    st.session_state[_REPORT_KEY] = (_report_key(predictions, listing, baseline), report)
    return report


def should_auto_run(
    predictions: Predictions, listing: lib.CaseListing, *, n_rows: int | None = None
) -> bool:
    """Small libraries on small data are checked as soon as the page opens.

    ``n_rows``: the rows a check reads when not ``predictions``'s (an external table's).
    """
    rows = predictions.n_samples if n_rows is None else n_rows
    return len(listing.cases) * rows <= AUTO_RUN_ROWS


def external_baseline(ctx: PageContext, listing: lib.CaseListing) -> ExternalTable | None:
    """The default baseline of an external dataset, when relative cases can use it.

    It must be an external dataset on the same engine (its slices are summed there
    too); else, and when it cannot be opened, the page says that relative cases use
    the baseline value stored at save.
    """
    table, name = ctx.external, ctx.entry.baseline
    if table is None or name is None or not any(c.relative for c in listing.cases):
        return None
    stored = "relative cases use the baseline value stored at save"
    try:
        source = ctx.workspace.entry(name).external
        if source is None or source.engine != table.source.engine:
            st.caption(
                f"The default baseline {md(name)} is not an external dataset on "
                f"{table.engine_title}, so {stored}."
            )
            return None
        return state.external_table(ctx.workspace, name)
    except MlqaError as e:
        problem = without_paths(e, ctx.workspace)
        st.warning(md(f"The default baseline {name!r} cannot be opened ({problem}); {stored}."))
        return None


def _check_external(
    table: ExternalTable, listing: lib.CaseListing, baseline: ExternalTable | None
) -> lib.CheckReport:
    """The check on the engine, holding both tables' locks (in one order: no deadlock)."""
    from mlqa_debug.engines import check_cases_on

    if baseline is None or baseline is table:
        return table.check_cases(listing)
    first, second = sorted((table, baseline), key=lambda t: (t.source.path, t.name))
    with first.locked(), second.locked():
        return check_cases_on(table.engine, listing, baseline=baseline.engine)


def run_external(
    table: ExternalTable,
    listing: lib.CaseListing,
    *,
    slot: Any,
    baseline: ExternalTable | None = None,
) -> lib.CheckReport:
    """Check every case on the external table's engine over every row; kept per session.

    Relative cases are measured on ``baseline`` too (an external table on the same
    engine), else compared with their stored baseline values.
    """
    title = table.engine_title
    with (
        slot.container(),
        st.spinner(f"Checking {len(listing.cases):,} cases over {table.n_rows:,} rows on {title}…"),
    ):
        try:
            report = _check_external(table, listing, baseline)
        except MlqaError as e:  # a baseline of another task: check against the stored values
            st.warning(md(f"Relative cases use the stored baseline values: {e}"))
            report, baseline = table.check_cases(listing), None
    slot.empty()
    reference = None if baseline is None else baseline.sample
    st.session_state[_REPORT_KEY] = (_report_key(table.sample, listing, reference), report)
    return report


def status_counts(report: lib.CheckReport | None, n_cases: int) -> None:
    """A row of st.metric: cases, passing, failing, not applicable (and errors, if any)."""
    errors = report.count("error") if report is not None else 0
    cols = st.columns(5 if errors else 4)
    cols[0].metric("Cases", f"{n_cases:,}")
    if report is None:
        cols[1].metric("Status", "not run")
        return
    cols[1].metric("Pass", f"{report.count('pass'):,}")
    cols[2].metric("Fail", f"{report.n_failed:,}", help="Failed, or the slice is empty now")
    cols[3].metric("Not applicable", f"{report.count('not_applicable'):,}")
    if errors:
        cols[4].metric("Error", f"{errors:,}", help="Quality cases that cannot be checked")


def library_frame(
    listing: lib.CaseListing, report: lib.CheckReport | None, *, dataset: str
) -> pd.DataFrame:
    """The table of the page: one row per case, status against this dataset, a slice link."""
    statuses: list[str]
    if report is not None:
        results, statuses = list(report.results), [r.status for r in report.results]
    else:  # not checked yet: no values, status "not run"
        results = [lib.CaseResult(c, "not_applicable") for c in listing.cases]
        statuses = ["not run"] * len(results)
    frame = lib.results_frame(results)
    frame["raw_status"] = statuses
    frame["status"] = [STATUS_LABELS[s] for s in statuses]
    frame["pass when"] = [r.case.condition for r in results]
    frame["Δ"] = [
        lib.format_delta(r.delta, r.case.metric, baseline=r.case.baseline) for r in results
    ]
    frame["rows"] = [_rows_text(r) for r in results]
    frame["open"] = [_slice_url(r.case, dataset) for r in results]
    return frame


def _rows_text(r: lib.CaseResult) -> str:
    """``1,200 / 1,150`` rows now / at save; a quality case's ``12 flagged / 1,200``."""
    if r.flagged is not None:
        return f"{r.flagged:,} flagged / {r.rows:,}"
    now = f"{r.rows:,}" if r.value is not None else "–"
    return f"{now} / {r.case.baseline_rows:,}"


def _slice_url(case: lib.Case, dataset: str) -> str | None:
    if case.where is None:
        return None
    return page_url("slices", {DS_PARAM: dataset, SLICE_PARAM: case.where}, absolute=True)


def filter_frame(frame: pd.DataFrame, status: str, search: str) -> pd.DataFrame:
    """Rows with this status (``all`` keeps every row) whose name or slice contains ``search``."""
    keep = pd.Series(True, index=frame.index)
    if status != "all":
        keep &= frame["raw_status"] == status
    text = search.strip().casefold()
    if text:
        haystack = (frame["name"] + " " + frame["slice / examples"]).str.casefold()
        keep &= haystack.str.contains(text, regex=False)
    return frame.loc[keep]


TABLE_COLUMNS = {
    "status": st.column_config.TextColumn("Status", width=55),
    "name": st.column_config.TextColumn("Name", width=150),
    "slice / examples": st.column_config.TextColumn("Slice / examples", width=170),
    "pass when": st.column_config.TextColumn("Pass when", width=140, help="metric and threshold"),
    "baseline": st.column_config.NumberColumn("Baseline", format="%.4g", width=65),
    "value": st.column_config.NumberColumn("Now", format="%.4g", width=65),
    "Δ": st.column_config.TextColumn("Δ", width=60, help="now − baseline"),
    "rows": st.column_config.TextColumn("Rows now/saved", width=105),
    "open": st.column_config.LinkColumn("Slice", display_text="Open slice", width=80),
}


def styled(frame: pd.DataFrame) -> Any:
    """The table with its status cells coloured (a pandas Styler)."""
    return frame.style.map(lambda v: STATUS_STYLES.get(v, ""), subset=["status"])


def case_options(ctx: PageContext) -> list[ViewOption[Any]]:
    """The Cases page's view: the status filter and the open case (checked on the library)."""
    return [
        choice(STATUS_PARAM, list(FILTERS), what="the status filter"),
        ViewOption(CASE_PARAM, str, None, what="the case"),  # the page checks it is in the library
    ]


def pick_case(key: str, ids: list[str]) -> None:
    """``on_select`` of the table: open the case of the chosen row (URL ``?case=``)."""
    rows = st.session_state[key].selection.rows
    if rows:
        st.session_state[CASE_PARAM] = ids[rows[0]]
        write_param(CASE_PARAM, ids[rows[0]])


def case_panel(
    store: lib.CaseStore, case: lib.Case, result: lib.CaseResult | None, *, dataset: str
) -> None:
    """One case: its status message, provenance, a link to its slice, edit and delete."""
    st.subheader(md(case.name))
    if result is not None:
        alert = {
            "pass": st.success,
            "fail": st.error,
            "empty": st.error,
            "error": st.warning,
        }.get(result.status, st.info)
        alert(md(result.message))
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{_covers_title(case)}**")
        st.code(_covers(case), language=None, wrap_lines=True)
        if case.where is not None:
            page_link(
                "slices",
                {DS_PARAM: dataset, SLICE_PARAM: case.where},
                label="Open this slice on the Slices page",
                icon=":material/filter_alt:",
            )
        if case.note:
            st.markdown("**Note**")
            st.text(case.note)
    with right:
        st.dataframe(provenance_frame(case), hide_index=True, width="stretch")
    if serving.read_only():
        serving.read_only_note("cases are checked here, not edited or deleted")
        return
    edit_form(store, case)
    delete_control(store, case)


def _covers_title(case: lib.Case) -> str:
    return {"slice": "Slice", "examples": "Examples", "quality": "Quality check"}[case.kind]


def _covers(case: lib.Case) -> str:
    if case.quality is not None:
        return case.target
    if case.examples is None:
        return case.where or "all rows"
    ids = case.examples.ids
    return ", ".join(map(str, ids[:50])) + (f" … ({len(ids):,} ids)" if len(ids) > 50 else "")


def provenance_frame(case: lib.Case) -> pd.DataFrame:
    """Key facts of a case as a two-column table."""
    s = case.source
    model = f"{s.model} {s.model_version or ''}".strip() if s.model else "–"
    facts = {
        "id": case.id,
        "condition": case.condition,
        "baseline": f"{lib.format_value(case.baseline, case.metric, digits=6)} on "
        f"{case.baseline_rows:,} rows",
        "saved on": f"{s.dataset or s.file or '–'} (fingerprint {s.fingerprint[:8]})",
        "model": model,
        **(
            {"relative to": describe_relative(case), "baseline model": reference_label(case)}
            if case.relative
            else {}
        ),
        **(_quality_facts(case.quality) if case.quality is not None else {}),
        "from page": s.page or "–",
        "author": case.author or "–",
        "created": case.created,
        "updated": case.updated,
    }
    return pd.DataFrame({"field": list(facts), "value": list(facts.values())})


def _quality_facts(spec: lib.QualitySpec) -> dict[str, str]:
    facts = {"check": spec.check, "column": spec.column or "–"}
    if spec.reference is not None:
        facts["reference"] = spec.reference
    return facts


def edit_form(store: lib.CaseStore, case: lib.Case) -> None:
    """Rename, change the threshold and the note; the id stays."""
    with st.form(f"edit_{case.id}"):
        st.markdown("**Edit**")
        name = st.text_input("Name", value=case.name, max_chars=lib.MAX_NAME_LENGTH)
        is_count = case.metric in (lib.N_WRONG, lib.ROWS)
        if case.margin is not None:  # relative: the margin is edited, the threshold follows
            sign = "+" if case.op == "<=" else "−"
            margin = st.number_input(
                f"Pass when {md(case.metric)} {md(case.op)} baseline {sign} margin",
                value=case.margin,
                min_value=0.0,
                format="%.6g",
                key=f"edit_margin_{case.id}",
            )
        else:
            threshold = st.number_input(
                f"Pass when {md(case.metric)} {md(case.op)}",
                value=int(case.threshold) if is_count else case.threshold,
                min_value=0 if is_count else None,
                step=1 if is_count else None,
                format="%d" if is_count else "%.6g",
            )
        note = st.text_area("Note", value=case.note, height=80)
        submitted = st.form_submit_button("Save changes")
    if submitted:
        try:
            if case.margin is not None:
                threshold = threshold_for_margin(case, float(margin))
            store.update(case.id, name=name, note=note, threshold=float(threshold))
        except MlqaError as e:
            st.error(md(without_paths(e, state.get_workspace())))
            return
        st.toast(f"Updated “{md(name.strip())}”", icon=":material/check:")
        st.rerun()


def delete_control(store: lib.CaseStore, case: lib.Case) -> None:
    """Delete, after ticking a confirmation box."""
    with st.expander("Delete this case", key=f"delete_box_{case.id}"):
        sure = st.checkbox(f"Yes, delete “{md(case.name)}” for good", key=f"confirm_{case.id}")
        if st.button("Delete", type="primary", disabled=not sure, key=f"delete_{case.id}"):
            try:
                store.delete(case.id)
            except MlqaError as e:
                st.error(md(without_paths(e, state.get_workspace())))
                return
            st.session_state.pop(CASE_PARAM, None)
            write_param(CASE_PARAM, None)
            st.toast(f"Deleted “{md(case.name)}”", icon=":material/delete:")
            st.rerun()
