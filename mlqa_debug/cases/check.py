"""Checking cases on new predictions: one :class:`CaseResult` per case, a :class:`CheckReport`.

:func:`evaluate_case` measures a case on new predictions (slices re-evaluated on
the new rows, example sets matched by id: see :mod:`mlqa_debug.cases.measurement`).
The status is ``pass``, ``fail``, ``empty`` (no row of the new data is in the
slice: a failure, never a silent pass) or ``not_applicable`` (the data is of
another task, or lacks a column of the slice, the metric, the class, the id column
or every id of an example set; reported, and a failure only for ``check --strict``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pandas as pd

from mlqa_debug.cases.conditions import N_WRONG, format_value, metric_choices, passes
from mlqa_debug.cases.measurement import Measurement, example_mask, measure
from mlqa_debug.cases.model import Case, ExampleSet
from mlqa_debug.cases.store import CaseListing, CaseProblem
from mlqa_debug.data.ids import ExampleId
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError, SliceError

Status = Literal["pass", "fail", "empty", "not_applicable"]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class CaseResult:
    """A case checked on new predictions.

    ``rows`` counts the rows measured now (slice rows, or matched examples);
    ``reason`` explains ``empty`` and ``not_applicable`` and notes partial matches.
    """

    case: Case
    status: Status
    value: float | None = None
    rows: int = 0
    reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        """A regression: the condition fails, or the slice is empty in the new data."""
        return self.status in ("fail", "empty")

    @property
    def delta(self) -> float | None:
        return None if self.value is None else self.value - self.case.baseline

    @property
    def message(self) -> str:
        """One line: which case, what value against which threshold, baseline, slice."""
        c = self.case
        what = (
            f"examples: {_ids_preview(c.examples.ids)}"
            if c.examples is not None
            else f"slice: {c.where or 'all rows'}"
        )
        saved = f"baseline {format_value(c.baseline, c.metric)} on {c.baseline_rows:,} rows"
        if c.source.dataset or c.source.file:
            saved += f" of {c.source.dataset or c.source.file}"
        if self.status == "not_applicable":
            return f"{c.name!r} does not apply to these predictions: {self.reason} — {what}"
        if self.status == "empty":
            return f"{c.name!r} failed: {self.reason} ({saved}) — {what}"
        verdict = "passed" if self.passed else "failed"
        if c.examples is not None:
            measured = (
                f"{format_value(self.value, c.metric)} of {self.rows:,} examples predicted wrong, "
                f"at most {format_value(c.threshold, c.metric)} allowed (baseline "
                f"{format_value(c.baseline, c.metric)} wrong of {c.baseline_rows:,}"
            )
        else:
            relation = c.op if self.passed else (">" if c.op == "<=" else "<")
            measured = (
                f"{c.metric} = {format_value(self.value, c.metric)} {relation} threshold "
                f"{format_value(c.threshold, c.metric, digits=6)} ({saved}; now {self.rows:,} rows"
            )
        measured += f"; {self.reason})" if self.reason else ")"
        return f"{c.name!r} {verdict}: {measured} — {what}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for ``check --json``."""
        return {
            "id": self.case.id,
            "name": self.case.name,
            "kind": self.case.kind,
            "where": self.case.where,
            "examples": None if self.case.examples is None else len(self.case.examples.ids),
            "metric": self.case.metric,
            "op": self.case.op,
            "threshold": self.case.threshold,
            "baseline": self.case.baseline,
            "baseline_rows": self.case.baseline_rows,
            "status": self.status,
            "value": self.value,
            "delta": self.delta,
            "rows": self.rows,
            "reason": self.reason,
            "message": self.message,
        }


def _ids_preview(ids: Sequence[ExampleId], limit: int = 5) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return f"{shown}, ... ({len(ids):,} ids)" if len(ids) > limit else shown


def evaluate_case(predictions: Predictions, case: Case) -> CaseResult:
    """Check one case on ``predictions``; never raises for data that does not fit."""
    start = time.perf_counter()
    try:
        result = _evaluate(predictions, case)
    except (SliceError, CaseError) as e:
        result = CaseResult(case, "not_applicable", reason=str(e))
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


def _evaluate(predictions: Predictions, case: Case) -> CaseResult:
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
    return _verdict(case, measured)


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

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def n_failed(self) -> int:
        return sum(r.failed for r in self.results)

    def exit_code(self, *, strict: bool = False) -> int:
        """2 if a case file is unreadable, 1 on any failure (or n/a with ``strict``), else 0."""
        if self.problems:
            return 2
        if self.n_failed or (strict and self.count("not_applicable")):
            return 1
        return 0

    def summary(self) -> str:
        """``3 passed, 2 failed, 1 empty, 0 not applicable``, plus unreadable files."""
        parts = [
            f"{self.count('pass')} passed",
            f"{self.count('fail')} failed",
            f"{self.count('empty')} empty",
            f"{self.count('not_applicable')} not applicable",
        ]
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "predictions": dict(self.predictions),
            "summary": {s: self.count(s) for s in STATUSES} | {"unreadable": len(self.problems)},
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
    progress: Callable[[int, int, Case], None] | None = None,
) -> CheckReport:
    """Check every case of ``listing``; ``progress(done, total, case)`` after each one."""
    results = []
    for i, case in enumerate(listing.cases):
        results.append(evaluate_case(predictions, case))
        if progress is not None:
            progress(i + 1, len(listing.cases), case)
    return CheckReport(tuple(results), listing.problems, predictions_info(predictions))


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
                "condition": f"{c.op} {format_value(c.threshold, c.metric)}",
                "threshold": c.threshold,
                "baseline": c.baseline,
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


RESULT_COLUMNS = [
    "status",
    "name",
    "slice / examples",
    "metric",
    "condition",
    "threshold",
    "baseline",
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
