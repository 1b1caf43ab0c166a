"""Relative rule cases: "no worse than the baseline model by more than ``margin``" on a slice.

:func:`build_relative_case` measures a slice on a candidate's predictions and on
a baseline's (two models' predictions on the same examples) and saves a case whose
condition is ``error_rate <= baseline + 0.01`` (``recall[1] >= baseline - 0.02``
for higher-is-better metrics; the margin is in the metric's units, so 0.01 is one
point of a rate). The case records both tables: ``source`` is the candidate,
``reference`` the baseline, ``reference_value`` the baseline's value at save.

:func:`mlqa_debug.cases.check.check_cases` checks such a case on new predictions
against a baseline table (``--baseline``), measuring the slice on both; without
one it compares with the stored ``reference_value`` and says so.
:func:`threshold_for_margin` is what an edit of the margin stores as the threshold
(``CaseStore.update(threshold=...)``: the margin follows it).
"""

from __future__ import annotations

import math
from pathlib import Path

from mlqa_debug.cases.build import provenance
from mlqa_debug.cases.conditions import (
    format_value,
    metric_choices,
    metric_direction,
    resolve_metric,
)
from mlqa_debug.cases.measurement import Measurement, measure
from mlqa_debug.cases.model import (
    Case,
    default_author,
    finite_number,
    new_case_id,
    now_text,
    relative_threshold,
)
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import Slice


def check_pair(candidate: Predictions, baseline: Predictions, metric: str) -> str:
    """``metric`` resolved on the candidate and available on the baseline; else CaseError."""
    if candidate.task != baseline.task:
        raise CaseError(
            f"the candidate {_label(candidate)} is {candidate.task} and the baseline "
            f"{_label(baseline)} is {baseline.task}; a relative case compares two models "
            "of one task"
        )
    metric = resolve_metric(metric, candidate)
    if metric not in metric_choices(baseline):
        raise CaseError(f"{metric} is not available on the baseline {_label(baseline)}")
    return metric


def _label(predictions: Predictions) -> str:
    return repr(Path(predictions.source).name) if predictions.source else "table"


def measure_reference(
    table: Predictions,
    *,
    metric: str,
    where: Slice,
    error_threshold: float | None,
    role: str = "baseline",
) -> Measurement:
    """The metric on the slice of one table; CaseError (naming ``role``) if empty or undefined."""
    measured = measure(table, metric=metric, where=where, error_threshold=error_threshold)
    if measured.rows == 0:
        raise CaseError(f"the slice is empty on the {role} {_label(table)}")
    if not math.isfinite(measured.value):
        raise CaseError(
            f"{metric} is undefined on the {measured.rows:,} rows of the {role} {_label(table)}"
        )
    return measured


def check_margin(margin: object) -> float:
    """A margin: a finite number, 0 or more (in the metric's units)."""
    value = finite_number(margin, "the margin")
    if value < 0:
        raise CaseError(f"the margin must be 0 or more, got {value:g}")
    return value


def build_relative_case(
    candidate: Predictions,
    baseline: Predictions,
    *,
    where: Slice,
    metric: str,
    margin: float,
    name: str,
    note: str = "",
    candidate_name: str | None = None,
    baseline_name: str | None = None,
    author: str | None = None,
    page: str | None = None,
) -> Case:
    """A slice case passing while the candidate's ``metric`` is no worse than the baseline's
    by more than ``margin``; measured on both tables now. Not saved: ``CaseStore.save`` it.

    ``candidate_name`` / ``baseline_name`` are the workspace dataset names (if any).
    A regression case keeps one error threshold for both tables: the baseline's
    (as the Compare page pairs them), else the candidate's.
    """
    metric = check_pair(candidate, baseline, metric)
    margin = check_margin(margin)
    error_threshold = baseline.schema.error_threshold
    if error_threshold is None:
        error_threshold = candidate.schema.error_threshold
    now = measure_reference(
        candidate, metric=metric, where=where, error_threshold=error_threshold, role="candidate"
    )
    reference = measure_reference(
        baseline, metric=metric, where=where, error_threshold=error_threshold
    )
    op = metric_direction(metric)
    reference_value = _round(reference.value)
    stamp = now_text()
    return Case(
        id=new_case_id(),
        name=name,
        metric=metric,
        op=op,
        threshold=relative_threshold(reference_value, op, margin),
        baseline=_round(now.value),
        baseline_rows=now.rows,
        task=candidate.task,
        where=where.text,
        error_threshold=error_threshold,
        note=note,
        author=default_author() if author is None else author,
        source=provenance(candidate, dataset=candidate_name, page=page),
        reference=provenance(baseline, dataset=baseline_name),
        reference_value=reference_value,
        margin=margin,
        created=stamp,
        updated=stamp,
    )


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def threshold_for_margin(case: Case, margin: float) -> float:
    """The threshold that gives a relative case this margin (what an edit stores)."""
    if case.reference_value is None:
        raise CaseError(f"case {case.name!r} is not relative to a baseline; it has no margin")
    return relative_threshold(case.reference_value, case.op, check_margin(margin))


def reference_label(case: Case) -> str:
    """The baseline a relative case was saved against, in words: ``loans (model v1, 1a2b3c4d)``."""
    ref = case.reference
    if ref is None:
        return ""
    model = f"model {ref.model} {ref.model_version or ''}".strip() + ", " if ref.model else ""
    return f"{ref.dataset or ref.file or 'a table'} ({model}fingerprint {ref.fingerprint[:8]})"


def describe_relative(case: Case) -> str:
    """``no worse than the baseline by more than 0.01 (baseline 0.1666 at save on loans ...)``."""
    if case.margin is None or case.reference_value is None:
        return ""
    return (
        f"no worse than the baseline by more than {format_value(case.margin, case.metric)} "
        f"(baseline {format_value(case.reference_value, case.metric, digits=6)} at save on "
        f"{reference_label(case)})"
    )
