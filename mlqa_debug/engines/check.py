"""Checking a case library on an engine: every case kind measured from aggregates where it lies.

:func:`check_cases_on` gives the same :class:`~mlqa_debug.cases.CheckReport` as
:func:`mlqa_debug.cases.check_cases`: statuses, values, reasons and verdicts come
from the same functions (``_verdict``, ``_relative_verdict`` of
:mod:`mlqa_debug.cases.check`). On the numpy engine it *is*
:func:`~mlqa_debug.cases.check_cases`. On DuckDB and Spark:

- *slice cases*: their slices are summed together, one pass per regression error
  threshold (:meth:`Engine.slice_reports`);
- *relative cases* compare with the baseline table when one is given (its slices
  summed the same way on the same engine), else with the value stored at save;
- *example-set cases*: every case's ids become one ``id IN (...)`` term (values as
  literals of the id column's type, matched as :func:`~mlqa_debug.data.ids.id_key`
  text matches them), and one group-by by id counts the rows and wrong predictions
  of all of them. An id on several rows is refused, as the loader refuses a table
  whose ids repeat (an engine has no row order to pick the first);
- *quality cases* (:mod:`.quality`): the checks that reduce to counts (missing
  values, constant columns, cardinality, identifier-like columns, duplicated rows,
  conflicting labels, repeated ids) are counted exactly by group-bys; the others
  run the loader's own check on a bounded, seeded sample the engine draws
  (:data:`SAMPLE_ROWS`), and the result's message says "sampled" when the sample is
  not the whole table.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlqa_debug.cases.check import (
    CaseResult,
    CheckReport,
    Status,
    _relative_verdict,
    _verdict,
    against_baseline,
    check_cases,
)
from mlqa_debug.cases.conditions import passes
from mlqa_debug.cases.measurement import Measurement
from mlqa_debug.cases.model import Case, ExampleSet
from mlqa_debug.cases.quality import QualitySession
from mlqa_debug.cases.store import CaseListing
from mlqa_debug.data.ids import id_key
from mlqa_debug.engines.aggregates import TableExpressions
from mlqa_debug.engines.engine import AggregateEngine, Engine, NumpyEngine
from mlqa_debug.engines.quality import SAMPLE_ROWS, SAMPLE_SEED, EngineQuality
from mlqa_debug.errors import CaseError, MlqaError, ParameterError, SliceError
from mlqa_debug.slicing import Slice

__all__ = ["SAMPLE_ROWS", "SAMPLE_SEED", "check_cases_on", "engine_metric_choices"]


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
    """Why the slice case cannot be measured on this engine, or None."""
    if case.task != engine.task:
        return f"it was saved on {case.task} data; these predictions are {engine.task}"
    if case.metric not in engine_metric_choices(engine):
        return f"{case.metric} is not available on these {engine.task} predictions"
    try:
        engine.check_slice(case.slice or Slice())
    except SliceError as e:
        return str(e)
    return None


def _file_name(engine: Engine) -> str:
    """The table as ``check`` names it in messages: ``'file.parquet'``, as for a loaded table."""
    source = engine.info().get("file")
    return repr(Path(source).name) if source else "table"


def _threshold(engine: Engine, case: Case) -> float | None:
    return None if engine.schema.is_classification else case.error_threshold


def _reports(engine: Engine, cases: dict[int, Case]) -> dict[int, Any]:
    """The slice report of every case, the slices of one error threshold summed together."""
    batches: dict[float | None, list[int]] = {}
    for i, case in cases.items():
        batches.setdefault(_threshold(engine, case), []).append(i)
    out: dict[int, Any] = {}
    for threshold, members in batches.items():
        slices = [cases[i].slice or Slice() for i in members]
        reports = engine.slice_reports(slices, error_threshold=threshold)
        out.update(zip(members, reports, strict=True))
    return out


def _on_baseline(case: Case, baseline: Engine, report: Any) -> Measurement:
    """The case's metric on the baseline's slice, refused as ``measure_reference`` refuses it."""
    label = _file_name(baseline)
    m = report.slice
    if m.n == 0:
        raise CaseError(f"on the baseline table: the slice is empty on the baseline {label}")
    try:
        value = m.value(case.metric)
    except ValueError as e:
        raise CaseError(f"on the baseline table: {e}") from None
    if not math.isfinite(value):
        raise CaseError(
            f"on the baseline table: {case.metric} is undefined on the {m.n:,} rows of the "
            f"baseline {label}"
        )
    return Measurement(value, m.n)


def _baseline_reports(baseline: Engine, cases: dict[int, Case]) -> dict[int, Any]:
    """The baseline report of every relative case that fits it, else the CaseError why not."""
    fits: dict[int, Case] = {}
    out: dict[int, Any] = {}
    for i, case in cases.items():
        if case.metric not in engine_metric_choices(baseline):
            out[i] = CaseError(
                f"on the baseline table: {case.metric} is not available on these predictions"
            )
            continue
        try:
            baseline.check_slice(case.slice or Slice())
        except SliceError as e:
            out[i] = CaseError(f"on the baseline table: {e}")
            continue
        fits[i] = case
    return out | _reports(baseline, fits)


def _measured(case: Case, report: Any, baseline: Engine | None, on_baseline: Any) -> CaseResult:
    m = report.slice
    if m.n == 0:
        reason = f"the slice is empty in the new data (0 rows; {case.baseline_rows:,} at save)"
        return CaseResult(case, "empty", None, 0, reason)
    measured = Measurement(m.value(case.metric), m.n)
    if case.reference_value is None:
        return _verdict(case, measured)
    if baseline is None or not math.isfinite(measured.value):
        return _relative_verdict(case, measured, None)
    if isinstance(on_baseline, CaseError):
        raise on_baseline
    on_table = _on_baseline(case, baseline, on_baseline)
    reason = f"baseline measured on {_file_name(baseline)}, {on_table.rows:,} rows"
    return against_baseline(case, measured, on_table, "table", reason)


# --------------------------------------------------------------------------- example sets


def _id_literal(key: str, cls: str, nan: bool) -> Any:
    """The value of the id column whose :func:`id_key` is ``key``, or None if none can be."""
    if cls == "string":
        return key
    if cls != "number":
        return None
    if not nan:
        try:
            value = int(key)
        except ValueError:
            return None
        return value if str(value) == key else None
    try:
        number = float(key)
    except ValueError:
        return None
    return number if math.isfinite(number) and id_key(number) == key else None


def _example_results(engine: AggregateEngine, cases: dict[int, Case]) -> dict[int, CaseResult]:
    """Every example-set case from one group-by by id over the union of their ids."""
    column = engine.schema.id
    if column is None:
        reason = "these predictions have no id column; example sets are matched by id"
        return {i: CaseResult(c, "not_applicable", reason=reason) for i, c in cases.items()}
    t = engine.table.types[column]
    if t.cls not in ("string", "number") or t.label.startswith("decimal"):
        reason = (
            f"the id column {column!r} is of type {t.label}; example sets on an engine need "
            "integer or text ids (check them with --engine numpy)"
        )
        return {i: CaseResult(c, "not_applicable", reason=reason) for i, c in cases.items()}
    literals: dict[str, Any] = {}
    for case in cases.values():
        assert case.examples is not None
        for value in case.examples.ids:
            key = id_key(value)
            if key not in literals:
                literals[key] = _id_literal(key, t.cls, t.nan)
    values = [v for v in literals.values() if v is not None]
    thresholds = list(dict.fromkeys(_threshold(engine, c) for c in cases.values()))
    rows: dict[tuple[str, float | None], tuple[int, int]] = {}
    if values:
        b = engine.backend
        where = b.is_in(b.col(column), values)
        aggs = [b.agg("count", where=where)]
        aggs += [b.agg("count", where=where & _error(engine, t)) for t in thresholds]
        for key, n, *wrong in b.run(aggs, group=b.col(column)):
            if key is not None and n:
                rows |= {
                    (id_key(key), t): (int(n), int(w))
                    for t, w in zip(thresholds, wrong, strict=True)
                }
    return {
        i: _example_result(c, c.examples, rows, _threshold(engine, c))
        for i, c in cases.items()
        if c.examples is not None
    }


def _error(engine: AggregateEngine, threshold: float | None) -> Any:
    """Per row: the prediction is wrong (regression: ``|residual|`` over the threshold, by
    default the table's)."""
    b, table = engine.backend, engine.table
    x = TableExpressions(b, table, None)
    if table.schema.is_classification:
        return x.code(x.label) != x.code(x.prediction)
    limit = engine.default_threshold if threshold is None else threshold
    return b.call("abs", x.residual()) > b.lit(float(limit))


def _example_result(
    case: Case,
    examples: ExampleSet,
    rows: dict[tuple[str, float | None], tuple[int, int]],
    threshold: float | None,
) -> CaseResult:
    """The case from the rows and wrong predictions per (id, threshold), as numpy checks it."""
    ids = examples.ids
    keys = list(dict.fromkeys(id_key(v) for v in ids))  # each id once, as match_ids pairs them
    hits = [rows[k, threshold] for k in keys if (k, threshold) in rows]
    if not hits:
        reason = f"none of its {len(ids):,} example ids are in these predictions"
        return CaseResult(case, "not_applicable", None, 0, reason)
    repeated = [k for k in keys if rows.get((k, threshold), (0, 0))[0] > 1]
    if repeated:
        shown = ", ".join(repr(k) for k in repeated[:3])
        reason = (
            f"{len(repeated):,} of its ids are on several rows of these predictions (e.g. "
            f"{shown}); example sets need unique ids (the loader refuses repeated ids)"
        )
        return CaseResult(case, "not_applicable", None, 0, reason)
    found = len(hits)
    note = f"{len(ids) - found:,} of {len(ids):,} ids not in the data" if found < len(ids) else ""
    wrong = sum(w for _, w in hits)
    return _verdict(case, Measurement(float(wrong), found), note)


# --------------------------------------------------------------------------- quality cases


def _quality_result(case: Case, quality: EngineQuality) -> CaseResult:
    """The rows the case's check flags, exactly or on the sample; ``error`` if unmeasurable."""
    assert case.quality is not None
    try:
        measured = quality.measure(case.quality)
    except MlqaError as e:
        return CaseResult(case, "error", rows=quality.n_rows, reason=str(e))
    value = measured.value(case.metric)
    status: Status = "pass" if passes(value, case.op, case.threshold) else "fail"
    return CaseResult(
        case, status, value, measured.rows, measured.note(case.metric), flagged=measured.flagged
    )


# --------------------------------------------------------------------------- the check


def check_cases_on(
    engine: Engine,
    listing: CaseListing,
    *,
    baseline: Engine | None = None,
    quality: QualitySession | None = None,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = SAMPLE_SEED,
) -> CheckReport:
    """Check every case of ``listing`` on ``engine`` (slices summed together).

    ``baseline`` is the baseline model's table on the same engine (relative cases are
    measured on it too); ``quality`` the session quality cases load their references
    in; ``sample_rows`` and ``seed`` bound and seed the sample the checks that need
    the rows run on.
    """
    if isinstance(engine, NumpyEngine):
        if baseline is not None and not isinstance(baseline, NumpyEngine):
            raise ParameterError("the baseline must be on the same engine as the predictions")
        return check_cases(
            engine.predictions,
            listing,
            baseline=None if baseline is None else baseline.predictions,
            quality=quality,
        )
    if not isinstance(engine, AggregateEngine):
        raise ParameterError(f"cannot check cases on the {engine.name} engine")
    if baseline is not None and baseline.task != engine.task:
        raise CaseError(
            f"the baseline {_file_name(baseline)} is {baseline.task} and the predictions "
            f"{_file_name(engine)} are {engine.task}; give a baseline of the same task"
        )
    start = time.perf_counter()
    cases: Sequence[Case] = listing.cases
    results: dict[int, CaseResult] = {}
    slices: dict[int, Case] = {}
    examples: dict[int, Case] = {}
    session = quality or QualitySession(listing.directory)
    engine_quality = EngineQuality(engine, session, sample_rows=sample_rows, seed=seed)
    for i, case in enumerate(cases):
        if case.quality is not None:
            results[i] = _quality_result(case, engine_quality)
        elif case.examples is not None:
            examples[i] = case
        elif (reason := _not_applicable(case, engine)) is not None:
            results[i] = CaseResult(case, "not_applicable", reason=reason)
        else:
            slices[i] = case
    if examples:
        results |= _example_results(engine, examples)
    reports = _reports(engine, slices)
    relative = {i: c for i, c in slices.items() if c.reference_value is not None}
    on_baseline = {} if baseline is None else _baseline_reports(baseline, relative)
    for i, case in slices.items():
        try:
            results[i] = _measured(case, reports[i], baseline, on_baseline.get(i))
        except CaseError as e:
            results[i] = CaseResult(case, "not_applicable", reason=str(e))
    share = (time.perf_counter() - start) / max(len(cases), 1)
    ordered = tuple(dataclasses.replace(results[i], seconds=share) for i in range(len(cases)))
    return CheckReport(
        ordered, listing.problems, engine.info(), None if baseline is None else baseline.info()
    )
