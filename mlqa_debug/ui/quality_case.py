"""The "Save as regression case" control of a data-quality finding (the Data quality page).

:func:`save_finding_form` draws a button that opens a dialog (a popover would
overflow a small window) prefilled from the finding: the metric (``rows_share``,
or ``rows`` for duplicate and leakage checks), the default threshold (the share
now rounded up, or 0: "no exact duplicates"), a name ("no more than 1% missing
values in income") and a note. It saves a quality case
(:func:`mlqa_debug.cases.build_quality_case`) into the app's case store as
:func:`mlqa_debug.ui.cases.save_case_form` does, and the Cases page then checks
it with the others.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from mlqa_debug import cases as lib
from mlqa_debug.analyses.quality.findings import Finding
from mlqa_debug.cases.quality import default_quality_metric
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError
from mlqa_debug.ui import serving, state
from mlqa_debug.ui.cases import (
    cases_store,
    dialog_dismissed,
    dialog_opened,
    form_error,
    name_author_note,
    save_button,
    saved_message,
)
from mlqa_debug.ui.text import md

METRIC_LABELS = {lib.ROWS_SHARE: "share of the rows (%)", lib.ROWS: "number of rows"}


def save_finding_form(
    predictions: Predictions,
    finding: Finding,
    *,
    dataset: str,
    reference: str | None,
    key: str,
) -> None:
    """A "Save as regression case" button for ``finding`` and its dialog.

    ``reference`` is the workspace dataset a leakage finding was found against
    (ignored for the other checks). Read-only servers get a note instead.
    """
    if serving.read_only():
        serving.read_only_note("cases cannot be saved here; share the view's link instead")
        return
    try:
        spec = lib.finding_spec(finding, reference=reference)
    except MlqaError as e:
        st.caption(md(f"This finding cannot be saved as a case: {e}"))
        return
    if save_button(key, help="every future table must pass"):
        _dialog(predictions, finding, spec, dataset, key)
    saved_message(key, _identity(predictions, spec))


def _identity(predictions: Predictions, spec: lib.QualitySpec, metric: str = "") -> str:
    """Changes when what would be saved changes: the table, check, column, reference, metric."""
    text = f"{predictions.fingerprint}|{spec.to_dict()}|{metric}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@st.dialog("Save as regression case", width="medium", on_dismiss=dialog_dismissed)
def _dialog(
    predictions: Predictions, finding: Finding, spec: lib.QualitySpec, dataset: str, key: str
) -> None:
    """The form in a modal dialog; once "Save case" closed it, the page reruns for the message."""
    dialog_opened(key)
    _form(predictions, finding, spec, dataset, key)


def _flagged(predictions: Predictions, finding: Finding, spec: lib.QualitySpec, key: str) -> int:
    """The rows the case would count now, measured once per finding and table.

    A leakage finding's own rows (its check is not run again); a table check is run
    once more, since a case counts every finding of its column (both outlier sides).
    """
    if spec.leakage:
        return finding.n_rows
    memo = f"{key}__flagged"
    identity = _identity(predictions, spec)
    saved = st.session_state.get(memo)
    if saved is None or saved[0] != identity:
        measured = lib.QualitySession(workspace=state.get_workspace()).measure(predictions, spec)
        saved = (identity, measured.flagged)
        st.session_state[memo] = saved
    return int(saved[1])


def _form(
    predictions: Predictions, finding: Finding, spec: lib.QualitySpec, dataset: str, key: str
) -> None:
    what = spec.describe()
    st.markdown(f"**{md(what[:1].upper() + what[1:])}**")
    try:
        flagged = _flagged(predictions, finding, spec, key)
    except MlqaError as e:
        st.warning(md(f"This cannot be saved as a case: {e}"))
        return
    n = predictions.n_samples
    st.markdown(
        f"Now **{flagged:,}** of {n:,} rows ({lib.format_value(flagged / n, lib.ROWS_SHARE)}) "
        f"are flagged by the check `{spec.check}`."
    )
    identity = _identity(predictions, spec)
    if st.session_state.get(f"{key}__spec") != identity:  # another finding: its defaults
        st.session_state[f"{key}__spec"] = identity
        st.session_state[f"{key}__metric"] = default_quality_metric(spec.check)
        st.session_state[f"{key}__name"] = ""
    st.radio(
        "Count the flagged rows as",
        list(METRIC_LABELS),
        format_func=METRIC_LABELS.__getitem__,
        horizontal=True,
        key=f"{key}__metric",
    )
    metric = st.session_state[f"{key}__metric"]
    draft = lib.draft_quality_case(predictions, spec, metric=metric, flagged=flagged)
    _seed(predictions, draft, key)
    _threshold_input(draft, n, key)
    name_author_note(key)
    st.button(
        "Save case",
        type="primary",
        key=f"{key}__save",
        on_click=_save,
        args=(predictions, draft, dataset, key),
    )
    form_error(key)


def _seed(predictions: Predictions, draft: lib.QualityDraft, key: str) -> None:
    """Reset the threshold (and a default name) whenever the finding or the metric changes."""
    identity = _identity(predictions, draft.spec, draft.metric)
    if st.session_state.get(f"{key}__draft") == identity:
        return
    previous = st.session_state.get(f"{key}__suggested")
    st.session_state[f"{key}__draft"] = identity
    st.session_state[f"{key}__threshold"] = _shown(draft.threshold, draft.metric)
    st.session_state[f"{key}__error"] = None
    if not st.session_state.get(f"{key}__name") or st.session_state[f"{key}__name"] == previous:
        taken = [c.name for c in cases_store().load().cases]
        name = lib.quality_case_name(taken, draft.spec, draft.metric, draft.threshold)
        st.session_state[f"{key}__name"] = name
        st.session_state[f"{key}__suggested"] = name


def _shown(threshold: float, metric: str) -> float | int:
    """A threshold as the input shows it: a share in percent, a count as an integer."""
    return round(threshold * 100, 6) if metric == lib.ROWS_SHARE else int(threshold)


def _threshold_input(draft: lib.QualityDraft, n_rows: int, key: str) -> None:
    if draft.metric == lib.ROWS:
        st.number_input(
            "Pass when at most this many rows are flagged",
            min_value=0,
            max_value=max(n_rows, int(st.session_state[f"{key}__threshold"])),
            step=1,
            key=f"{key}__threshold",
        )
    else:
        st.number_input(
            "Pass when at most this share of the rows is flagged (%)",
            min_value=0.0,
            max_value=100.0,
            step=0.1,
            format="%.4g",
            key=f"{key}__threshold",
        )
    default = lib.format_value(draft.threshold, draft.metric, digits=6)
    why = (
        "none allowed"
        if draft.threshold == 0
        else "the value now, rounded up to 1, 2 or 5 times a power of ten"
    )
    st.caption(
        f"Default {md(draft.metric)} <= {md(default)}: {why}. Checked on every new table by "
        "the Cases page, `mlqa-debug check` and the exported pytest module."
    )


def _save(predictions: Predictions, draft: lib.QualityDraft, dataset: str, key: str) -> None:
    """on_click of "Save case": build, save, close the dialog; keep the message on error."""
    shown = float(st.session_state[f"{key}__threshold"])
    threshold = shown / 100 if draft.metric == lib.ROWS_SHARE else shown
    spec = draft.spec
    try:
        store = cases_store()
        case = lib.build_quality_case(
            predictions,
            name=st.session_state.get(f"{key}__name", ""),
            check=spec.check,
            column=spec.column,
            reference=spec.reference,
            cases_dir=store.directory,
            metric=draft.metric,
            threshold=threshold,
            flagged=draft.measured.flagged,
            note=st.session_state.get(f"{key}__note", "") or "",
            dataset=dataset,
            page="quality",
            author=serving.case_author(key),
            workspace=state.get_workspace(),
        )
        store.save(case)
    except MlqaError as e:
        st.session_state[f"{key}__error"] = str(e)
        return
    saved = (_identity(predictions, spec), case.id, case.name, case.condition, dataset)
    st.session_state[f"{key}__saved"] = saved
    st.session_state[f"{key}__open"] = False
    st.session_state[f"{key}__draft"] = None
    st.session_state[f"{key}__suggested"] = None
    st.session_state[f"{key}__name"] = ""
    st.session_state[f"{key}__note"] = ""
    st.session_state[f"{key}__error"] = None
