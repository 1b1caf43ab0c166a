"""The Labels page's parts: the review queue, one example, the actions, reliability, export.

The library computes (:mod:`mlqa_debug.analyses.labels`); this module draws and
records. The queue is the current slice's suspected label errors (or every ranked
row), ranked once per table; the queue position ``i`` (1-based) is a view option,
so ``labels?ds=NAME&slice=...&i=N`` opens the exact example for a colleague.

Decisions go to the workspace's review log (``<workspace>/reviews/<dataset>.jsonl``),
read again whenever the file changed (its modification time and size), so two
reviewers see each other's decisions on their next rerun. Every action has one key
(Streamlit's ``st.button(shortcut=...)``); Streamlit keeps ``R`` (rerun) and ``C``
for itself, so relabel is ``L``. A read-only server draws no writer.
:func:`label_noise_note` is the Slices page's "confirmed label noise" line.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from mlqa_debug.analyses import labels as lib
from mlqa_debug.analyses.labels import figures, view
from mlqa_debug.cases import MAX_NAME_LENGTH
from mlqa_debug.data import images
from mlqa_debug.data.ids import id_key, id_keys
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.data.workspace import validate_name
from mlqa_debug.errors import MlqaError
from mlqa_debug.stats import count
from mlqa_debug.ui import serving
from mlqa_debug.ui.cases import case_link, cases_store
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.links import DS_PARAM, page_link
from mlqa_debug.ui.options import ViewOption, choice, number, write_option, write_param
from mlqa_debug.ui.text import md, without_paths

I_PARAM, BY_PARAM, QUEUE_PARAM = "i", "by", "queue"
QUEUES = {"issues": "Flagged label issues", "ranked": "Every row, most suspect first"}
RANK_NAMES = {"self_confidence": "self-confidence", "normalized_margin": "normalized margin"}
MAX_POSITION = 100_000_000
NEEDS = (
    "Label review ranks the labels of a classification table by the model's class "
    "probabilities: one prob_<class> column per class (or a score column for a binary task), "
    "ideally out-of-sample (predictions on an evaluation set)."
)
#: One key per action (Streamlit reserves R and C, so relabel is L).
KEYS = {"keep": "K", "relabel": "L", "ambiguous": "A", "skip": "S", "next": "N", "previous": "P"}
RELIABILITY_SEED = 0
NEIGHBOURS_SHOWN = lib.DEFAULT_K

_FORM = "labels"  # the author key shared with the case forms (serving.remember_author)
REVIEWER_KEY = f"{_FORM}__author"
NOTE_KEY = "labels_note"
_ERROR_KEY, _DONE_KEY = "_labels_error", "_labels_done"
_RELIABILITY_KEY, _EXPORT_KEY = "_labels_reliability", "_labels_export"


def label_options(ctx: PageContext) -> list[ViewOption[Any]]:
    """The ranking, the queue and the position in it (1-based; checked against the queue)."""
    return [
        choice(BY_PARAM, list(lib.RANK_BY), what="the ranking"),
        choice(QUEUE_PARAM, list(QUEUES), what="the queue"),
        number(
            I_PARAM,
            1,
            low=1,
            high=MAX_POSITION,
            integer=True,
            what="the queue position",
            keep_default=True,
        ),
    ]


# --------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class Queue:
    """The examples to review: ``length`` of them, ``rows`` the first ones of the suspects table.

    ``rows`` reaches the position asked for (the whole queue is never drawn, and at a
    million rows building its table would cost every rerun).
    """

    suspects: lib.LabelSuspects
    rows: pd.DataFrame
    length: int

    def __len__(self) -> int:
        return self.length


def _in_slice(ctx: PageContext) -> np.ndarray | None:
    return ctx.mask if ctx.slice.predicates else None


def _rank(ctx: PageContext, limit: int | None) -> lib.LabelSuspects:
    by = ctx.options[BY_PARAM]
    return lib.rank_suspects(ctx.predictions, mask=_in_slice(ctx), rank_by=by, limit=limit)


def queue_or_stop(ctx: PageContext) -> Queue:
    """The slice's queue; a table that cannot be ranked stops the page with what it needs."""
    try:
        head = _rank(ctx, 0)  # the ranking is memoised on the table: this costs a filter
        length = head.n_issues if ctx.options[QUEUE_PARAM] == "issues" else head.n_ranked
        suspects = _rank(ctx, min(int(ctx.options[I_PARAM]), length))
    except MlqaError as e:
        st.warning(md(without_paths(e, ctx.workspace)), icon=":material/rule:")
        st.caption(NEEDS)
        st.stop()
    return Queue(suspects, suspects.table, length)


def queue_controls(ctx: PageContext) -> None:
    """The queue and ranking pickers; changing either starts the new queue at its top."""
    left, right = st.columns(2)
    left.segmented_control(
        "Queue",
        list(QUEUES),
        format_func=lambda k: QUEUES[k],
        required=True,
        **_restart(ctx, QUEUE_PARAM),
    )
    right.segmented_control(
        "Ranked by",
        list(lib.RANK_BY),
        format_func=lambda k: RANK_NAMES[k],
        required=True,
        **_restart(ctx, BY_PARAM),
    )


def _restart(ctx: PageContext, param: str) -> dict[str, Any]:
    return ctx.bind(param, on_change=_restart_queue, args=(ctx.option(param), ctx.option(I_PARAM)))


def _restart_queue(option: ViewOption[Any], position: ViewOption[int]) -> None:
    write_option(option)
    go_to(position, 1)


def go_to(option: ViewOption[int], value: int) -> None:
    """Callback: make ``value`` the queue position (session and URL)."""
    st.session_state[option.session_key] = value
    write_param(option.param, option.url_value(value))


def current_index(ctx: PageContext, queue: Queue) -> int:
    """The 0-based index of ``?i=`` in the queue; a position past its end is corrected."""
    i = int(ctx.options[I_PARAM])
    if i > len(queue):
        ctx.correct(I_PARAM, len(queue), reason=f"the queue has {len(queue):,} examples")
        i = len(queue)
    return i - 1


def queue_summary(ctx: PageContext, queue: Queue, state: LogState) -> None:
    """How many suspects the slice has, the method and its reference, and the progress."""
    s = queue.suspects
    where = "in this slice" if ctx.slice.predicates else "in the table"
    st.markdown(
        f"**{count(s.n_issues)}** suspected label errors among {count(s.n_ranked)} ranked rows "
        f"{where}"
        + (f" ({count(len(s.skipped))} rows without probabilities)" if len(s.skipped) else "")
    )
    done = int(queue_keys(ctx, queue).isin(list(state.log.latest())).sum())
    total = len(queue)
    st.progress(done / total if total else 0.0, text=f"Reviewed {done:,} of {total:,}")


def queue_keys(ctx: PageContext, queue: Queue) -> pd.Index:
    """The id keys of the queue's examples, memoised per queue (progress matches them per run).

    A table without ids keys its rows by position, as the review log does.
    """
    p, column = ctx.predictions, ctx.predictions.schema.id
    name = f"labels-queue-keys:{ctx.options[BY_PARAM]}:{ctx.options[QUEUE_PARAM]}:{ctx.slice.id}"

    def build() -> pd.Index:
        positions = _rank(ctx, len(queue)).order
        if column is None:
            return pd.Index([str(int(x)) for x in positions], dtype=object)
        return id_keys(p.frame[column].iloc[positions])

    return p.memo(name, build)


# --------------------------------------------------------------------------- review log


@dataclass(frozen=True)
class LogState:
    """The review log as read this run, its stamp (changes on every append), a read problem."""

    path: Path
    log: lib.ReviewLog
    stamp: tuple[int, int] | None
    problem: str | None = None


_EMPTY_LOG = lib.ReviewLog((), ())


@st.cache_resource(max_entries=16, show_spinner=False)
def _read_log(path: str, stamp: tuple[int, int]) -> lib.ReviewLog:
    with warnings.catch_warnings():  # its unreadable lines are shown on the page instead
        warnings.simplefilter("ignore", UserWarning)
        return lib.read_log(path)


def read_review_log(ctx: PageContext) -> LogState:
    """The dataset's review log: one ``stat`` when there is none, a re-read when it changed."""
    path = lib.review_log_path(ctx.workspace, ctx.name)
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        return LogState(path, _read_log(str(path), stamp), stamp)
    except FileNotFoundError:
        return LogState(path, _EMPTY_LOG, None)
    except OSError as e:
        return LogState(path, _EMPTY_LOG, None, f"the review log cannot be read ({e.strerror})")


def log_problems(state: LogState) -> None:
    """A warning per unreadable log line (never fatal: the line is skipped)."""
    if state.problem:
        st.warning(md(state.problem))
    for problem in state.log.problems[:5]:
        st.warning(md(f"Review log {problem}."), icon=":material/warning:")
    if len(state.log.problems) > 5:
        st.caption(f"… and {len(state.log.problems) - 5:,} more unreadable lines.")


def reviewed_rows(ctx: PageContext, state: LogState) -> lib.ReviewedRows:
    """Per row of the table, its latest verdict; memoised on the table per log version."""
    key = f"labels-reviewed:{ctx.name}:{state.stamp}"
    return ctx.predictions.memo(key, lambda: lib.reviewed_rows(ctx.predictions, state.log.latest()))


# --------------------------------------------------------------------------- one example


def example_heading(ctx: PageContext, queue: Queue, index: int) -> None:
    """The heading "Example i of n: id X"."""
    name = lib.example_id(ctx.predictions, int(queue.rows["position"].iloc[index]))
    st.subheader(md(f"Example {index + 1:,} of {len(queue):,}: id {name}"))


def example_panel(ctx: PageContext, queue: Queue, index: int, state: LogState) -> None:
    """The example at ``index``: features (or image), labels, probabilities, neighbours."""
    p, row = ctx.predictions, queue.rows.iloc[index]
    position = int(row["position"])
    name = lib.example_id(p, position)
    left, right = st.columns([2, 3])
    with left:
        if images.has_images(p):
            st.image(images.row_images(p, [position], size=168)[0], width=168)
        features = view.feature_frame(p, position)
        if len(features):
            st.dataframe(
                features,
                hide_index=True,
                width="stretch",
                height=min(390, 35 * len(features) + 38),
                key="labels_features",
            )
    with right:
        _labels_line(ctx, row, position)
        s = p.schema
        given, predicted = int(p.y_true_codes[position]), int(p.y_pred_codes[position])
        probs = p.proba_matrix[position] if p.proba_matrix is not None else np.zeros(len(s.classes))
        figure = figures.probability_bars(s.classes, probs, given=given, predicted=predicted)
        st.plotly_chart(figure, key="labels_probs", config={"displayModeBar": False})
    _neighbours(ctx, position)
    _history(state, name)
    st.caption(md(f"Method: {queue.suspects.method.citation}"))


def _labels_line(ctx: PageContext, row: pd.Series, position: int) -> None:
    p = ctx.predictions
    cols = st.columns(4)
    cols[0].metric("Given label", str(row["given"]))
    cols[1].metric("Predicted", str(p.frame[p.schema.prediction].iloc[position]))
    cols[2].metric("Suggested", str(row["suggested"]), help="The most probable other class.")
    what = RANK_NAMES[ctx.options[BY_PARAM]]
    cols[3].metric(
        "Label quality",
        f"{row['score']:.3g}",
        help=f"{what} of the given label, 0 to 1: lower means more likely wrong",
    )
    if not row["is_issue"]:
        st.caption("Not flagged by confident learning: listed by its score only.")


def _neighbours(ctx: PageContext, position: int) -> None:
    """The nearest neighbours in embedding space and their labels, when the table has embeddings."""
    p = ctx.predictions
    found = lib.label_neighbours(p, [position], k=NEIGHBOURS_SHOWN)
    if found is None or found.k == 0 or not np.isfinite(found.disagreement[0]):
        return
    near = found.neighbours[0]
    labels = p.frame[p.schema.label].iloc[near].tolist()
    differ = round(float(found.disagreement[0]) * found.k)
    st.markdown(
        f"**Nearest neighbours**: {differ} of the {found.k} nearest (embeddings) carry another "
        "label than this example's" + (" (marked ≠)." if images.has_images(p) else ".")
    )
    if images.has_images(p):
        with st.container(horizontal=True, gap="small", key="labels_neighbours"):
            own = p.y_true_codes[position]
            for png, label, code in zip(
                images.row_images(p, near), labels, p.y_true_codes[near], strict=True
            ):
                mark = " ≠" if code != own else ""
                st.image(png, caption=md(f"label {label}{mark}"), width=56)
        return
    ids = [lib.example_id(p, int(n)) for n in near]
    table = pd.DataFrame({"id": ids, "label": labels, "distance": found.distances[0]})
    st.dataframe(
        table,
        hide_index=True,
        key="labels_neighbour_table",
        column_config={"distance": st.column_config.NumberColumn(format="%.3g")},
    )


def _history(state: LogState, name: Any) -> None:
    """Every decision the log holds on this example (the latest one counts)."""
    key = id_key(name)
    mine = [d for d in state.log.decisions if d.key == key]
    if not mine:
        st.caption("Not reviewed yet.")
        return
    latest = lib.latest_decisions(mine)[key]
    st.markdown(f"**Latest decision**: {md(_decision_text(latest))}")
    if len(mine) > 1:
        with st.expander(f"All {len(mine)} decisions on this example"):
            st.dataframe(
                pd.DataFrame([_decision_row(d) for d in mine]), hide_index=True, width="stretch"
            )


def _decision_text(d: lib.Decision) -> str:
    verdict = f"relabel to {d.new_label}" if d.verdict == "relabel" else d.verdict
    note = f" ({d.note})" if d.note else ""
    return f"{verdict}, by {d.reviewer} at {d.time[:19].replace('T', ' ')} UTC{note}"


def _decision_row(d: lib.Decision) -> dict[str, str]:
    new = "" if d.new_label is None else str(d.new_label)
    return {
        "time": d.time,
        "reviewer": d.reviewer,
        "verdict": d.verdict,
        "new label": new,
        "note": d.note,
    }


# --------------------------------------------------------------------------- actions


def reviewer_input() -> None:
    """The reviewer's name: the signed-in name, else asked once per session (shared with cases)."""
    named = serving.session_author()
    if named is not None:
        st.caption(f"Reviewing as {md(named)} (signed in).")
        return
    if REVIEWER_KEY not in st.session_state:
        st.session_state[REVIEWER_KEY] = st.session_state.get(serving.AUTHOR_KEY, "")
    st.text_input(
        "Reviewer",
        key=REVIEWER_KEY,
        max_chars=MAX_NAME_LENGTH,
        placeholder="your name, recorded with each decision",
        on_change=serving.remember_author,
        args=(_FORM,),
    )


def actions(ctx: PageContext, queue: Queue, index: int, state: LogState) -> None:
    """Keep, relabel, ambiguous, skip (each records and moves on), previous and next."""
    row = queue.rows.iloc[index]
    position, classes = int(row["position"]), list(ctx.predictions.schema.classes)
    if ctx.read_only:
        serving.read_only_note("review decisions are not recorded here; share the link instead")
    else:
        left, right = st.columns([1, 2])
        with left:
            reviewer_input()
        right.text_input(
            "Note (optional)",
            key=NOTE_KEY,
            max_chars=500,
            placeholder="recorded with the next decision",
        )
        others = [c for c in classes if id_key(c) != id_key(row["given"])]
        relabel_key = f"labels_new_{position}"
        suggested = next((j for j, c in enumerate(others) if c == row["suggested"]), 0)
        record = (
            ctx.predictions,
            ctx.name,
            state.path,
            position,
            relabel_key,
            ctx.option(I_PARAM),
            index + 1,
            len(queue),
        )
        with st.container(horizontal=True, vertical_alignment="bottom", key="labels_actions"):
            _action("Keep label", "keep", record, icon=":material/check:", type="primary")
            st.selectbox("Relabel to", others, index=suggested, key=relabel_key, width=160)
            _action("Relabel", "relabel", record, icon=":material/edit:")
            _action("Ambiguous", "ambiguous", record, icon=":material/help:")
            _action("Skip", "skip", record, icon=":material/skip_next:")
    with st.container(horizontal=True, vertical_alignment="bottom", key="labels_nav"):
        option = ctx.option(I_PARAM)
        st.button(
            "Previous",
            key="labels_previous",
            icon=":material/arrow_back:",
            shortcut=KEYS["previous"],
            disabled=index == 0,
            on_click=go_to,
            args=(option, index),
        )
        st.button(
            "Next",
            key="labels_next",
            icon=":material/arrow_forward:",
            shortcut=KEYS["next"],
            disabled=index + 1 >= len(queue),
            on_click=go_to,
            args=(option, index + 2),
        )
        st.number_input(
            "Go to position",
            min_value=1,
            max_value=len(queue),
            step=1,
            width=160,
            **ctx.bind(I_PARAM),
        )
    st.caption(_keys_text(ctx.read_only))
    _messages(ctx)


def _keys_text(read_only: bool) -> str:
    moves = f"{KEYS['next']} next · {KEYS['previous']} previous"
    if read_only:
        return f"Keys: {moves}."
    return (
        f"Keys: {KEYS['keep']} keep · {KEYS['relabel']} relabel to the class chosen (the "
        f"suggested one unless changed) · {KEYS['ambiguous']} ambiguous · {KEYS['skip']} skip · "
        f"{moves}. Each decision is recorded and opens the next example; R stays Streamlit's "
        "rerun key."
    )


def _action(label: str, verdict: lib.Verdict, record: tuple[Any, ...], **style: Any) -> None:
    st.button(
        f"{label}",
        key=f"labels_{verdict}",
        shortcut=KEYS[verdict],
        on_click=_record,
        args=(verdict, *record),
        **style,
    )


def _record(
    verdict: lib.Verdict,
    predictions: Any,
    dataset: str,
    path: Path,
    position: int,
    relabel_key: str,
    option: ViewOption[int],
    at: int,
    total: int,
) -> None:
    """on_click of an action: append the decision to the log, then open the next example."""
    reviewer = serving.case_author(_FORM).strip()
    if not reviewer:
        st.session_state[_ERROR_KEY] = "Type your name under Reviewer first: decisions record it."
        return
    new_label = st.session_state.get(relabel_key) if verdict == "relabel" else None
    note = str(st.session_state.get(NOTE_KEY, "") or "")
    try:
        decision = lib.new_decision(
            predictions,
            position,
            verdict=verdict,
            reviewer=reviewer,
            dataset=dataset,
            new_label=new_label,
            note=note,
        )
        lib.append_decision(path, decision)
    except (MlqaError, OSError) as e:
        st.session_state[_ERROR_KEY] = f"The decision was not recorded: {e}"
        return
    st.session_state[_ERROR_KEY] = None
    st.session_state[NOTE_KEY] = ""
    st.session_state[_DONE_KEY] = f"Recorded on example {at:,} (id {decision.example_id}): " + (
        _decision_text(decision)
    )
    go_to(option, min(at + 1, total))


def _messages(ctx: PageContext) -> None:
    error = st.session_state.get(_ERROR_KEY)
    if error:
        st.error(md(without_paths(error, ctx.workspace)))
    done = st.session_state.pop(_DONE_KEY, None)
    if done:
        st.toast(md(done), icon=":material/task_alt:")


# --------------------------------------------------------------------------- reliability


def reliability_section(ctx: PageContext, queue: Queue) -> None:
    """The "how reliable is this ranking here?" check: seeded flips in a copy, ranked again."""
    st.subheader("How reliable is this ranking here?")
    share, by = lib.DEFAULT_SHARE, ctx.options[BY_PARAM]
    st.caption(
        f"On a copy of the labels, {share:.0%} of the slice's confidently correct rows (the "
        "model's top class, at least as confident as that class's confident-learning threshold) "
        f"are flipped to their second most probable class, chosen with seed {RELIABILITY_SEED}; "
        "the copy is ranked the same way and the table says how many planted flips land in the "
        "top k. Real label errors rank high too, so precision is a lower bound."
    )
    identity = (ctx.predictions.fingerprint, ctx.slice.id, by)
    if st.button(
        "Measure it (reranks a copy)", key="labels_reliability", icon=":material/science:"
    ):
        with serving.expensive_job("the reliability check"), st.spinner("Ranking a copy…"):
            try:
                result: Any = lib.ranking_reliability(
                    ctx.predictions,
                    mask=_in_slice(ctx),
                    share=share,
                    rank_by=by,
                    random_state=RELIABILITY_SEED,
                )
            except MlqaError as e:
                result = str(e)
        st.session_state[_RELIABILITY_KEY] = (identity, result)
    saved = st.session_state.get(_RELIABILITY_KEY)
    if not saved or saved[0] != identity:
        return
    result = saved[1]
    if isinstance(result, str):
        st.warning(md(result))
        return
    st.markdown(md(view.reliability_sentence(result)))
    deepest = view.worth_reading(result)
    if deepest is not None and deepest > len(queue) and ctx.options[QUEUE_PARAM] == "issues":
        st.caption(
            f"The queue of flagged issues holds {len(queue):,}: choose “{QUEUES['ranked']}” "
            "above to read further down the ranking."
        )
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        result.table,
        hide_index=True,
        key="labels_reliability_table",
        column_config={
            "precision": percent,
            "recall": percent,
            "best_precision": st.column_config.NumberColumn("best possible", format="percent"),
        },
    )


# --------------------------------------------------------------------------- export


def export_section(ctx: PageContext, state: LogState) -> None:
    """Corrected labels as CSV, a corrected copy as a dataset, the reviewed rows as a case.

    The log is applied to the table only when one of them is asked for (a click):
    at a million rows applying it copies the table, which no rerun should pay for.
    """
    st.subheader("Export the reviews")
    latest = state.log.latest()
    if not latest:
        st.caption("No decisions yet: the corrected labels and the case appear once you review.")
        return
    verdicts = pd.Series([d.verdict for d in latest.values()]).value_counts()
    told = ", ".join(f"{int(verdicts.get(v, 0)):,} {v}" for v in lib.VERDICTS)
    st.markdown(f"{len(latest):,} example{'s' if len(latest) != 1 else ''} reviewed: {told}.")
    relabelled = int(verdicts.get("relabel", 0))
    st.download_button(
        "Corrected labels (CSV)",
        partial(_corrections, ctx.predictions, latest),
        f"{ctx.name}-corrected-labels.csv",
        "text/csv",
        key="labels_csv",
        icon=":material/download:",
        on_click="ignore",
        disabled=relabelled == 0,
        help="id, old label, new label, reviewer, time, note",
    )
    if ctx.read_only:
        serving.read_only_note("corrected copies and cases cannot be saved here")
        return
    left, right = st.columns(2)
    with left:
        _register_form(ctx, latest, enabled=relabelled > 0)
    with right:
        _case_form(ctx, latest)


def _corrections(predictions: Any, latest: dict[str, lib.Decision]) -> str:
    """The corrected labels CSV, built when the download is clicked (formulas made inert)."""
    return lib.corrections_csv(lib.apply_reviews(predictions, latest))


def _applied_note(applied: lib.AppliedReview) -> str:
    n = len(applied.problems)
    return f" {n:,} decisions did not apply to this table ({applied.problems[0]} …)." if n else ""


def _register_form(ctx: PageContext, latest: dict[str, lib.Decision], *, enabled: bool) -> None:
    key = "labels_register_name"
    if key not in st.session_state:
        st.session_state[key] = f"{ctx.name}-reviewed"[:64]
    st.text_input("Name of the corrected copy", key=key)
    clicked = st.button(
        "Register corrected copy",
        key="labels_register",
        icon=":material/library_add:",
        disabled=not enabled,
        help="A new dataset: this table with the relabelled labels.",
    )
    if clicked:
        try:
            applied = lib.apply_reviews(ctx.predictions, latest)
            entry = lib.register_corrected(
                ctx.workspace,
                applied,
                name=validate_name(st.session_state[key].strip()),
                roles=ctx.entry.roles,
            )
            st.session_state[f"{_EXPORT_KEY}_dataset"] = (
                "dataset",
                True,
                (entry.name, _applied_note(applied)),
            )
        except MlqaError as e:
            st.session_state[f"{_EXPORT_KEY}_dataset"] = ("dataset", False, str(e))
    _export_message(ctx, "dataset")


def _case_form(ctx: PageContext, latest: dict[str, lib.Decision]) -> None:
    key = "labels_case_name"
    if key not in st.session_state:
        st.session_state[key] = f"reviewed labels of {ctx.name}"[:MAX_NAME_LENGTH]
    st.text_input("Case name", key=key, max_chars=MAX_NAME_LENGTH)
    if st.button(
        "Save reviewed examples as a regression case",
        key="labels_case",
        icon=":material/bookmark_add:",
        help="An example set of the kept and relabelled rows, with corrected labels: "
        "every future model must predict them right.",
    ):
        try:
            applied = lib.apply_reviews(ctx.predictions, latest)
            case = _save_case(ctx, applied, st.session_state[key])
            st.session_state[f"{_EXPORT_KEY}_case"] = (
                "case",
                True,
                (*case, _applied_note(applied)),
            )
        except MlqaError as e:
            st.session_state[f"{_EXPORT_KEY}_case"] = ("case", False, str(e))
    _export_message(ctx, "case")


def _save_case(ctx: PageContext, applied: lib.AppliedReview, name: str) -> tuple[str, str]:
    """Build the case on the corrected table (read back from Parquet, same roles) and save it."""
    buffer = io.BytesIO()
    applied.frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    corrected = load_predictions(
        buffer, roles=ctx.entry.roles, sidecar=False, name=f"{ctx.name}-reviewed.parquet"
    )
    new = lib.review_case(
        corrected, applied, name=name, dataset=ctx.name, author=serving.case_author(_FORM) or None
    )
    saved = cases_store().save(new.case, rows=new.rows)
    return saved.id, saved.name


def _export_message(ctx: PageContext, kind: str) -> None:
    saved = st.session_state.get(f"{_EXPORT_KEY}_{kind}")
    if not saved:
        return
    _, ok, value = saved
    if not ok:
        st.error(md(without_paths(value, ctx.workspace)))
    elif kind == "dataset":
        name, note = value
        st.success(f"Registered the dataset {md(name)}.{md(note)}", icon=":material/task_alt:")
        page_link(
            "slices",
            {DS_PARAM: name},
            label=f"Open {name} on the Slices page",
            icon=":material/filter_alt:",
        )
    else:
        case_id, name, note = value
        st.success(
            f"Saved regression case “{md(name)}”.{md(note)}", icon=":material/bookmark_added:"
        )
        case_link(ctx.name, case_id, label="Open it in the case library")


# --------------------------------------------------------------------------- Slices page


def label_noise_note(ctx: PageContext, *, who: str = "") -> None:
    """How much of the slice's errors reviewers confirmed as label noise (Slices, Compare).

    ``who`` names whose errors they are where the page shows two models ("The
    candidate's errors: ...").

    Draws nothing unless the dataset has a review log with decisions; costs one
    ``stat`` of the log's path when it has none. The counts are memoised per log
    version and slice, so a rerun that changes neither costs a lookup.
    """
    p = ctx.predictions
    if not p.schema.is_classification:
        return
    state = read_review_log(ctx)
    if not state.log.decisions:
        return
    key = f"labels-noise:{ctx.name}:{state.stamp}:{ctx.slice.id}"
    try:
        reviewed = reviewed_rows(ctx, state)
        noise = p.memo(key, lambda: lib.label_noise(p, ctx.mask, {}, reviewed=reviewed))
    except MlqaError as e:
        st.caption(md(f"Label reviews cannot be applied to this table: {e}"))
        return
    text = md(view.noise_text(noise, in_slice=bool(ctx.slice.predicates)))
    st.caption(f"{who}: {text}" if who else text)
