"""A check turned into history records, and the trends a check reports.

:func:`records_for` makes one :class:`~mlqa_debug.history.store.Record` per case of
a :class:`~mlqa_debug.cases.CheckReport`: the value with its 95% interval (Wilson
for rates, as the Slices page shows; none for example sets), the threshold it was
held to, the baseline, the status, the data and model, the CI build.
:func:`check_trends` gives each case's trend over the history plus this run, so
``check`` reports the same trend whether or not it records the run.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlqa_debug.cases import CaseResult, CheckReport
from mlqa_debug.cases.conditions import RATE_METRICS, metric_base
from mlqa_debug.cases.measurement import measure
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError
from mlqa_debug.history.ci import build_from_env, default_run_id
from mlqa_debug.history.series import tidy, trends
from mlqa_debug.history.store import (
    Build,
    HistoryError,
    HistoryListing,
    HistoryStore,
    HistoryWarning,
    LineProblem,
    Record,
    record_row,
    records_frame,
)
from mlqa_debug.history.trend import ALPHA, TREND_RUNS, TrendResult


def now_utc() -> str:
    """The current time as the history writes it: ``2026-12-02T21:15:30.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def records_for(
    report: CheckReport,
    predictions: Predictions,
    *,
    run_id: str,
    time: str,
    dataset: str | None = None,
    model_version: str | None = None,
    build: Build | None = None,
) -> list[Record]:
    """One record per checked case (unreadable case files have none)."""
    model = predictions.schema.model
    common: dict[str, Any] = {
        "time": time,
        "run_id": run_id,
        "dataset": dataset,
        "file": Path(predictions.source).name if predictions.source else None,
        "fingerprint": predictions.fingerprint,
        "model": None if model is None else model.name,
        "model_version": model_version or (None if model is None else model.version),
        "build": build,
    }
    return [_record(r, predictions, common) for r in report.results]


def _record(result: CaseResult, predictions: Predictions, common: dict[str, Any]) -> Record:
    c = result.case
    low, high = _interval(result, predictions)
    return Record(
        case_id=c.id,
        case_name=c.name,
        metric=c.metric,
        op=c.op,
        status=result.status,
        threshold=result.limit,
        value=result.value,
        low=low,
        high=high,
        baseline=result.compared_with,
        rows=result.rows,
        where=c.where,
        **common,
    )


def _interval(result: CaseResult, predictions: Predictions) -> tuple[float | None, float | None]:
    """The value's 95% interval (``value +- half-width``; rates kept in [0, 1]), if it has one."""
    c = result.case
    if result.value is None or c.examples is not None:
        return None, None
    try:
        half = measure(
            predictions, metric=c.metric, where=c.slice, error_threshold=c.error_threshold
        ).half_width
    except MlqaError:
        return None, None
    if not math.isfinite(half):
        return None, None
    low, high = result.value - half, result.value + half
    if metric_base(c.metric) in RATE_METRICS or metric_base(c.metric) == "error_rate":
        low, high = max(low, 0.0), min(high, 1.0)
    return low, high


def check_trends(
    history: HistoryListing,
    current: Sequence[Record],
    *,
    recorded: bool,
    runs: int = TREND_RUNS,
    alpha: float = ALPHA,
) -> dict[str, TrendResult]:
    """Each checked case's trend over ``history`` plus this run's records.

    ``recorded`` says the history already holds ``current`` (``check --record``).
    """
    frame = history.frame
    if not recorded and current:
        rows = [record_row(json.loads(r.to_json())) for r in current]
        frame = pd.concat([frame, records_frame(rows)], ignore_index=True)
    ids = {r.case_id for r in current}
    found = trends(tidy(frame[frame["case_id"].isin(ids)]), runs=runs, alpha=alpha)
    return {k: v for k, v in found.items() if k in ids}


@dataclass(frozen=True)
class CheckedHistory:
    """What ``check`` did with the history: records written, trends, skipped lines."""

    path: Path
    run_id: str
    recorded: int
    trends: dict[str, TrendResult]
    problems: tuple[LineProblem, ...] = ()
    metrics: dict[str, str] | None = None

    @property
    def notes(self) -> dict[str, tuple[str, str]]:
        """Case id -> (trend, a sentence saying why), as the check output and JUnit show them."""
        metrics = self.metrics or {}
        return {
            k: (t.trend, t.describe(metrics.get(k, "the value"))) for k, t in self.trends.items()
        }


MAX_RUN_ID_LENGTH = 200


def record_check(
    report: CheckReport,
    predictions: Predictions,
    *,
    directory: Path,
    record: bool,
    run_id: str | None = None,
    model_version: str | None = None,
    dataset: str | None = None,
    build: Build | None = None,
) -> CheckedHistory:
    """Append the run to the history in ``directory`` (with ``record``) and compute trends.

    Without ``record`` and without a history file nothing is read or written and no
    trend is given. ``build`` defaults to :func:`~mlqa_debug.history.ci.build_from_env`.
    """
    store = HistoryStore(directory)
    if not record and not store.path.is_file():
        return CheckedHistory(store.path, run_id or "", 0, {})
    time = now_utc()
    build = build_from_env() if build is None else build
    run_id = _check_run_id(run_id) if run_id is not None else default_run_id(build, time=time)
    current = records_for(
        report,
        predictions,
        run_id=run_id,
        time=time,
        dataset=dataset,
        model_version=model_version,
        build=build,
    )
    written = store.append(current) if record else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HistoryWarning)  # returned: the caller reports them
        history = store.read()
    found = check_trends(history, current, recorded=record)
    metrics = {r.case_id: r.metric for r in current}
    return CheckedHistory(store.path, run_id, written, found, history.problems, metrics)


def _check_run_id(run_id: str) -> str:
    text = run_id.strip()
    if not text or len(text) > MAX_RUN_ID_LENGTH or not text.isprintable():
        raise HistoryError(
            f"--run-id must be 1 to {MAX_RUN_ID_LENGTH} printable characters, got {run_id!r}"
        )
    return text
