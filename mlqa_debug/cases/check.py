"""Checking cases on new predictions: one :class:`CaseResult` per case, a :class:`CheckReport`.

:func:`evaluate_case` measures a case on new predictions (slices re-evaluated on
the new rows, example sets matched by id: see :mod:`mlqa_debug.cases.measurement`).
The status is ``pass``, ``fail``, ``empty`` (no row of the new data is in the
slice: a failure, never a silent pass) or ``not_applicable`` (the data is of
another task, or lacks a column of the slice, the metric, the class, the id column
or every id of an example set; reported, and a failure only for ``check --strict``).

A quality case (:mod:`mlqa_debug.cases.quality`) runs its one quality check on the
new table: ``pass`` or ``fail`` on the share (or number) of rows it flags, or
``error`` when it cannot be measured (the check does not apply to the table, the
column is missing, the reference cannot be loaded): bad input, like an unreadable
case file, so the check exits 2. Its result's ``flagged`` counts the flagged rows.

A relative case (``error_rate <= baseline + 0.01``, see :mod:`mlqa_debug.cases.relative`)
is measured on the new predictions and, when :func:`check_cases` is given a
``baseline`` table, on the baseline too: it passes while the new value is no worse
than the baseline's by more than the margin. Without a baseline table it compares
with the baseline value stored at save, and the result's reason says so. The
result carries the baseline value it used (``baseline_value``, ``baseline_from``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import pandas as pd

from mlqa_debug.cases.conditions import N_WRONG, format_value, metric_choices, passes
from mlqa_debug.cases.measurement import Measurement, example_mask, measure
from mlqa_debug.cases.model import Case, ExampleSet, relative_threshold
from mlqa_debug.cases.quality import QualitySession
from mlqa_debug.cases.quality_spec import QualitySpec
from mlqa_debug.cases.relative import measure_reference, reference_label
from mlqa_debug.cases.store import CaseListing, CaseProblem
from mlqa_debug.data.ids import ExampleId
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError, MlqaError, SliceError
from mlqa_debug.slicing import Slice

Status = Literal["pass", "fail", "empty", "not_applicable", "error"]
STATUSES: tuple[Status, ...] = get_args(Status)
BaselineFrom = Literal["table", "stored"]
"""Where a relative case's baseline value came from: the baseline table, or the case file."""


@dataclass(frozen=True)
class CaseResult:
    """A case checked on new predictions.

    ``rows`` counts the rows measured now (slice rows, matched examples, or for a
    quality case the table's rows, of which ``flagged`` are flagged by its check);
    ``reason`` explains ``empty``, ``not_applicable`` and ``error`` and notes partial
    matches.
    A relative case's result also holds the baseline value it was compared with
    (``baseline_value``: measured on the baseline table, ``baseline_from="table"``,
    on ``baseline_rows`` rows; or the one stored at save, ``"stored"``).
    """

    case: Case
    status: Status
    value: float | None = None
    rows: int = 0
    reason: str = ""
    seconds: float = 0.0
    baseline_value: float | None = None
    baseline_from: BaselineFrom | None = None
    baseline_rows: int = 0
    flagged: int | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        """A regression: the condition fails, or the slice is empty in the new data."""
        return self.status in ("fail", "empty")

    @property
    def compared_with(self) -> float:
        """The baseline of the delta: a relative case's baseline value, else the value at save."""
        c = self.case
        if c.reference_value is None:
            return c.baseline
        return c.reference_value if self.baseline_value is None else self.baseline_value

    @property
    def limit(self) -> float:
        """The threshold the value was held to (a relative case: baseline value +- margin)."""
        c = self.case
        if c.margin is None or self.baseline_value is None:
            return c.threshold
        return relative_threshold(self.baseline_value, c.op, c.margin)

    @property
    def delta(self) -> float | None:
        return None if self.value is None else self.value - self.compared_with

    @property
    def message(self) -> str:
        """One line: which case, what value against which threshold, baseline, slice."""
        c = self.case
        what = (
            f"examples: {_ids_preview(c.examples.ids)}"
            if c.examples is not None
            else f"slice: {c.where or 'all rows'}"
        )
        if c.quality is not None:
            what = f"quality: {c.target} ({_spec_text(c.quality)})"
        saved = f"baseline {format_value(c.baseline, c.metric)} on {c.baseline_rows:,} rows"
        if c.source.dataset or c.source.file:
            saved += f" of {c.source.dataset or c.source.file}"
        if self.status == "error":
            return f"{c.name!r} cannot be checked: {self.reason} — {what}"
        if self.status == "not_applicable":
            return f"{c.name!r} does not apply to these predictions: {self.reason} — {what}"
        if self.status == "empty":
            return f"{c.name!r} failed: {self.reason} ({saved}) — {what}"
        verdict = "passed" if self.passed else "failed"
        if c.margin is not None:
            measured = self._relative_measured()
        elif c.examples is not None:
            measured = (
                f"{format_value(self.value, c.metric)} of {self.rows:,} examples predicted wrong, "
                f"at most {format_value(c.threshold, c.metric)} allowed (baseline "
                f"{format_value(c.baseline, c.metric)} wrong of {c.baseline_rows:,}"
            )
        else:
            relation = c.op if self.passed else (">" if c.op == "<=" else "<")
            now = f"now {self.rows:,} rows"
            if self.flagged is not None:
                now = f"now {self.flagged:,} of {self.rows:,} rows flagged"
            measured = (
                f"{c.metric} = {format_value(self.value, c.metric)} {relation} threshold "
                f"{format_value(c.threshold, c.metric, digits=6)} ({saved}; {now}"
            )
        measured += f"; {self.reason})" if self.reason else ")"
        return f"{c.name!r} {verdict}: {measured} — {what}"

    def _relative_measured(self) -> str:
        """``error_rate = 0.1729 <= 0.1766 = baseline 0.1666 + margin 0.01 (... rows``."""
        c = self.case
        relation = c.op if self.passed else (">" if c.op == "<=" else "<")
        sign = "+" if c.op == "<=" else "-"
        baseline = format_value(self.compared_with, c.metric, digits=6)
        return (
            f"{c.metric} = {format_value(self.value, c.metric)} {relation} "
            f"{format_value(self.limit, c.metric, digits=6)} = baseline {baseline} {sign} margin "
            f"{format_value(c.margin, c.metric, digits=6)} (now {self.rows:,} rows"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for ``check --json``."""
        return {
            "id": self.case.id,
            "name": self.case.name,
            "kind": self.case.kind,
            "where": self.case.where,
            "examples": None if self.case.examples is None else len(self.case.examples.ids),
            "quality": None if self.case.quality is None else self.case.quality.to_dict(),
            "metric": self.case.metric,
            "op": self.case.op,
            "threshold": self.limit,
            "baseline": self.case.baseline,
            "baseline_rows": self.case.baseline_rows,
            "relative": self.case.relative,
            "margin": self.case.margin,
            "reference_value": self.case.reference_value,
            "baseline_value": self.baseline_value,
            "baseline_from": self.baseline_from,
            "baseline_table_rows": self.baseline_rows if self.baseline_from == "table" else None,
            "status": self.status,
            "value": self.value,
            "delta": self.delta,
            "rows": self.rows,
            "flagged": self.flagged,
            "reason": self.reason,
            "message": self.message,
        }


def _spec_text(spec: QualitySpec) -> str:
    """``check missing_values, column 'income'``, plus the reference of a leakage check."""
    parts = [f"check {spec.check}"]
    if spec.column is not None:
        parts.append(f"column {spec.column!r}")
    if spec.reference is not None:
        parts.append(f"reference {spec.reference!r}")
    return ", ".join(parts)


def _ids_preview(ids: Sequence[ExampleId], limit: int = 5) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return f"{shown}, ... ({len(ids):,} ids)" if len(ids) > limit else shown


def evaluate_case(
    predictions: Predictions,
    case: Case,
    *,
    baseline: Predictions | None = None,
    quality: QualitySession | None = None,
) -> CaseResult:
    """Check one case on ``predictions``; never raises for data that does not fit.

    ``baseline`` is the baseline model's table for relative cases (others ignore it);
    ``quality`` the session quality cases load their references in (default: files
    relative to the working directory, dataset names in the default workspace).
    """
    start = time.perf_counter()
    try:
        if case.quality is not None:
            result = _evaluate_quality(predictions, case, case.quality, quality)
        else:
            result = _evaluate(predictions, case, baseline)
    except (SliceError, CaseError) as e:
        result = CaseResult(case, "not_applicable", reason=str(e))
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


def _evaluate_quality(
    predictions: Predictions, case: Case, spec: QualitySpec, session: QualitySession | None
) -> CaseResult:
    """The rows the case's check flags now against its threshold; ``error`` if unmeasurable."""
    try:
        measured = (session or QualitySession()).measure(predictions, spec)
    except MlqaError as e:
        return CaseResult(case, "error", rows=predictions.n_samples, reason=str(e))
    value = measured.value(case.metric)
    status: Status = "pass" if passes(value, case.op, case.threshold) else "fail"
    return CaseResult(case, status, value, measured.rows, flagged=measured.flagged)


def _evaluate(predictions: Predictions, case: Case, baseline: Predictions | None) -> CaseResult:
    if case.examples is not None:
        return _evaluate_examples(predictions, case, case.examples)
    if case.task != predictions.task:
        raise CaseError(
            f"it was saved on {case.task} data; these predictions are {predictions.task}"
        )
    if case.metric not in metric_choices(predictions):
        raise CaseError(f"{case.metric} is not available on these {predictions.task} predictions")
    measured = measure(
        predictions, metric=case.metric, where=case.slice, error_threshold=case.error_threshold
    )
    if measured.rows == 0:
        reason = f"the slice is empty in the new data (0 rows; {case.baseline_rows:,} at save)"
        return CaseResult(case, "empty", None, 0, reason)
    if case.reference_value is not None:
        return _relative_verdict(case, measured, baseline)
    return _verdict(case, measured)


def _relative_verdict(
    case: Case, measured: Measurement, baseline: Predictions | None
) -> CaseResult:
    """The new value against the baseline's (measured on ``baseline``, else stored) +- margin."""
    if not math.isfinite(measured.value):
        return _verdict(case, measured)
    if baseline is None:
        value, source, rows = case.reference_value, "stored", 0
        reason = (
            "no baseline table given: compared with the baseline value stored at save "
            f"({format_value(value, case.metric, digits=6)} on {reference_label(case)})"
        )
    else:
        try:
            if case.metric not in metric_choices(baseline):
                raise CaseError(f"{case.metric} is not available on these predictions")
            on_baseline = measure_reference(
                baseline,
                metric=case.metric,
                where=case.slice or Slice(),
                error_threshold=case.error_threshold,
            )
        except (SliceError, CaseError) as e:
            raise CaseError(f"on the baseline table: {e}") from None
        value, source, rows = on_baseline.value, "table", on_baseline.rows
        reason = f"baseline measured on {_file_name(baseline)}, {rows:,} rows"
    assert value is not None  # a relative case
    return against_baseline(
        case, measured, Measurement(value, rows), cast(BaselineFrom, source), reason
    )


def against_baseline(
    case: Case, measured: Measurement, baseline: Measurement, source: BaselineFrom, reason: str
) -> CaseResult:
    """A relative case's verdict: the new value against ``baseline``'s +- the case's margin.

    ``source`` says where the baseline value came from (the baseline table, or the
    value stored at save); the engines (:mod:`mlqa_debug.engines.check`) use it too.
    """
    assert case.margin is not None  # a relative case
    limit = relative_threshold(baseline.value, case.op, case.margin)
    status: Status = "pass" if passes(measured.value, case.op, limit) else "fail"
    return CaseResult(
        case,
        status,
        measured.value,
        measured.rows,
        reason,
        baseline_value=baseline.value,
        baseline_from=source,
        baseline_rows=baseline.rows,
    )


def _evaluate_examples(predictions: Predictions, case: Case, examples: ExampleSet) -> CaseResult:
    ids = examples.ids
    _, found = example_mask(predictions, ids)
    if found == 0:
        reason = f"none of its {len(ids):,} example ids are in these predictions"
        return CaseResult(case, "not_applicable", None, 0, reason)
    note = f"{len(ids) - found:,} of {len(ids):,} ids not in the data" if found < len(ids) else ""
    measured = measure(predictions, metric=N_WRONG, ids=ids, error_threshold=case.error_threshold)
    return _verdict(case, measured, note)


def _verdict(case: Case, measured: Measurement, note: str = "") -> CaseResult:
    if not math.isfinite(measured.value):
        reason = f"{case.metric} is undefined on these {measured.rows:,} rows"
        return CaseResult(case, "not_applicable", None, measured.rows, reason)
    status: Status = "pass" if passes(measured.value, case.op, case.threshold) else "fail"
    return CaseResult(case, status, measured.value, measured.rows, note)


@dataclass(frozen=True)
class CheckReport:
    """Every case of a store checked on one predictions table."""

    results: tuple[CaseResult, ...]
    problems: tuple[CaseProblem, ...] = ()
    predictions: Mapping[str, Any] = field(default_factory=dict)
    baseline: Mapping[str, Any] | None = None

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def n_failed(self) -> int:
        return sum(r.failed for r in self.results)

    def exit_code(self, *, strict: bool = False) -> int:
        """2 if a case file is unreadable or a case cannot be checked (``error``), 1 on any
        failure (or n/a with ``strict``), else 0."""
        if self.problems or self.count("error"):
            return 2
        if self.n_failed or (strict and self.count("not_applicable")):
            return 1
        return 0

    def summary(self) -> str:
        """``3 passed, 2 failed, 1 empty, 0 not applicable``, plus errors and unreadable files."""
        parts = [
            f"{self.count('pass')} passed",
            f"{self.count('fail')} failed",
            f"{self.count('empty')} empty",
            f"{self.count('not_applicable')} not applicable",
        ]
        if self.count("error"):
            parts.append(f"{self.count('error')} cannot be checked")
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; the summary counts ``error`` only when a case has that status."""
        counts = {s: self.count(s) for s in STATUSES if s != "error" or self.count(s)}
        return {
            "predictions": dict(self.predictions),
            "baseline": None if self.baseline is None else dict(self.baseline),
            "summary": counts | {"unreadable": len(self.problems)},
            "results": [r.to_dict() for r in self.results],
            "problems": [{"file": p.file, "message": p.message} for p in self.problems],
        }


def predictions_info(predictions: Predictions) -> dict[str, Any]:
    """What a report says about the checked predictions: file, rows, fingerprint, model."""
    model = predictions.schema.model
    return {
        "file": predictions.source,
        "rows": predictions.n_samples,
        "task": predictions.task,
        "fingerprint": predictions.fingerprint,
        "model": None if model is None else model.name,
        "model_version": None if model is None else model.version,
    }


def check_cases(
    predictions: Predictions,
    listing: CaseListing,
    *,
    baseline: Predictions | None = None,
    progress: Callable[[int, int, Case], None] | None = None,
    quality: QualitySession | None = None,
) -> CheckReport:
    """Check every case of ``listing``; ``progress(done, total, case)`` after each one.

    ``baseline`` is the baseline model's table that relative cases are measured on
    too (without it they use the baseline value stored at save). A baseline of
    another task than ``predictions`` raises :class:`CaseError`. Quality cases share
    ``quality`` (default: references relative to the listing's directory, dataset
    names in the default workspace).
    """
    if quality is None:
        quality = QualitySession(listing.directory)
    if baseline is not None and baseline.task != predictions.task:
        raise CaseError(
            f"the baseline {_file_name(baseline)} is {baseline.task} and the predictions "
            f"{_file_name(predictions)} are {predictions.task}; give a baseline of the same task"
        )
    results = []
    for i, case in enumerate(listing.cases):
        results.append(evaluate_case(predictions, case, baseline=baseline, quality=quality))
        if progress is not None:
            progress(i + 1, len(listing.cases), case)
    return CheckReport(
        tuple(results),
        listing.problems,
        predictions_info(predictions),
        None if baseline is None else predictions_info(baseline),
    )


def _file_name(predictions: Predictions) -> str:
    return repr(Path(predictions.source).name) if predictions.source else "table"


def results_frame(results: Sequence[CaseResult]) -> pd.DataFrame:
    """One row per result: status, name, slice, condition, baseline, value, delta, rows ..."""
    records = []
    for r in results:
        c = r.case
        records.append(
            {
                "status": r.status,
                "name": c.name,
                "slice / examples": c.target,
                "metric": c.metric,
                "condition": f"{c.op} {_bound(c)}",
                "threshold": r.limit,
                "baseline": r.compared_with,
                "baseline from": _baseline_from(r),
                "value": r.value,
                "delta": r.delta,
                "rows": r.rows,
                "rows at save": c.baseline_rows,
                "saved on": c.source.dataset or c.source.file or "",
                "author": c.author,
                "created": c.created,
                "id": c.id,
                "reason": r.reason,
            }
        )
    return pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)


def _bound(c: Case) -> str:
    return c.bound if c.relative else format_value(c.threshold, c.metric)


def _baseline_from(r: CaseResult) -> str:
    """``baseline table``, ``stored at save`` (relative cases), or ``at save``."""
    if not r.case.relative:
        return "at save"
    return "baseline table" if r.baseline_from == "table" else "stored at save"


RESULT_COLUMNS = [
    "status",
    "name",
    "slice / examples",
    "metric",
    "condition",
    "threshold",
    "baseline",
    "baseline from",
    "value",
    "delta",
    "rows",
    "rows at save",
    "saved on",
    "author",
    "created",
    "id",
    "reason",
]
