"""Checking a case library on an engine: every slice case measured from one aggregate pass.

:func:`check_cases_on` gives the same :class:`~mlqa_debug.cases.CheckReport` as
:func:`mlqa_debug.cases.check_cases`: statuses, values, reasons and verdicts come
from the same functions (``_verdict``, ``_relative_verdict`` of
:mod:`mlqa_debug.cases.check`). The cases' slices are summed together, one pass per
regression error threshold (:meth:`Engine.slice_reports`). On the numpy engine it
*is* :func:`~mlqa_debug.cases.check_cases`.

Example-set and data-quality cases need the rows themselves (ids matched in memory,
values counted by the loader's checks): on DuckDB and Spark they are reported as
not applicable, naming ``--engine numpy``, and ``check --strict`` fails on them.
Relative cases compare with the baseline value stored at save (a baseline table is
not joined on an engine yet).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from mlqa_debug.cases.check import CaseResult, CheckReport, _relative_verdict, _verdict, check_cases
from mlqa_debug.cases.measurement import Measurement
from mlqa_debug.cases.model import Case
from mlqa_debug.cases.store import CaseListing
from mlqa_debug.engines.engine import Engine, NumpyEngine
from mlqa_debug.errors import CaseError, SliceError
from mlqa_debug.slicing import Slice

__all__ = ["check_cases_on", "engine_metric_choices"]


def engine_metric_choices(engine: Engine) -> list[str]:
    """The metrics a slice case can use on the engine's table (as ``metric_choices``)."""
    s = engine.schema
    if not s.is_classification:
        return ["mae", "rmse", "error_rate", "r2"]
    names = ["error_rate", "accuracy", "macro_f1", "macro_precision", "macro_recall"]
    if engine.has_probabilities:
        names += ["log_loss", "brier", "ece"]
    classes = [str(c) for c in s.classes]
    if s.positive is not None:
        classes.sort(key=lambda c: c != str(s.positive))
    return names + [f"{base}[{c}]" for base in ("recall", "precision", "f1") for c in classes]


def _not_applicable(case: Case, engine: Engine) -> str | None:
    """Why the case cannot be measured on this engine, or None."""
    if case.kind != "slice":
        what = "example-set" if case.kind == "examples" else "data-quality"
        return f"{what} cases need the rows in memory: check them with --engine numpy"
    if case.task != engine.task:
        return f"it was saved on {case.task} data; these predictions are {engine.task}"
    if case.metric not in engine_metric_choices(engine):
        return f"{case.metric} is not available on these {engine.task} predictions"
    try:
        engine.check_slice(case.slice or Slice())
    except SliceError as e:
        return str(e)
    return None


def _measured(case: Case, report: Any) -> CaseResult:
    m = report.slice
    if m.n == 0:
        reason = f"the slice is empty in the new data (0 rows; {case.baseline_rows:,} at save)"
        return CaseResult(case, "empty", None, 0, reason)
    measured = Measurement(m.value(case.metric), m.n)
    if case.reference_value is not None:
        return _relative_verdict(case, measured, None)
    return _verdict(case, measured)


def check_cases_on(engine: Engine, listing: CaseListing) -> CheckReport:
    """Check every case of ``listing`` on ``engine`` (slices summed together)."""
    if isinstance(engine, NumpyEngine):
        return check_cases(engine.predictions, listing)
    start = time.perf_counter()
    results: dict[int, CaseResult] = {}
    batches: dict[float | None, list[int]] = {}
    cases: Sequence[Case] = listing.cases
    for i, case in enumerate(cases):
        reason = _not_applicable(case, engine)
        if reason is not None:
            results[i] = CaseResult(case, "not_applicable", reason=reason)
        else:
            threshold = None if engine.schema.is_classification else case.error_threshold
            batches.setdefault(threshold, []).append(i)
    for threshold, members in batches.items():
        slices = [cases[i].slice or Slice() for i in members]
        reports = engine.slice_reports(slices, error_threshold=threshold)
        for i, report in zip(members, reports, strict=True):
            try:
                results[i] = _measured(cases[i], report)
            except CaseError as e:
                results[i] = CaseResult(cases[i], "not_applicable", reason=str(e))
    share = (time.perf_counter() - start) / max(len(cases), 1)
    ordered = tuple(dataclasses.replace(results[i], seconds=share) for i in range(len(cases)))
    return CheckReport(ordered, listing.problems, engine.info(), None)
