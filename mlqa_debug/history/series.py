"""The history as series: runs in order, each case's values over them, and its trend.

A *run* is every record sharing a ``run_id``; runs are ordered by their earliest
record's time (oldest first). When a run holds a case twice (a job re-run under the
same id) the later record counts. :func:`tidy` does that once; the other functions
read its result: :func:`runs_frame` (one row per run), :func:`trends` (each case's
:class:`~mlqa_debug.history.trend.TrendResult` over its last runs with a value),
:func:`case_frame` (one row per case) and :func:`case_histories` (what
``mlqa-debug history --json`` prints).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.history.store import STATUSES, HistoryError
from mlqa_debug.history.trend import ALPHA, TREND_RUNS, TrendResult, trend_of

RUN_COLUMN = "run"
"""The column :func:`tidy` adds: the run's position, 0 = the oldest."""


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Records deduplicated per (run, case), with the run's position, sorted by case then run."""
    if frame.empty:
        return frame.assign(**{RUN_COLUMN: pd.Series(dtype=np.int64)})
    kept = frame.drop_duplicates(["run_id", "case_id"], keep="last")
    starts = kept.groupby("run_id", sort=False)["time"].min()
    order = starts.reset_index().sort_values(["time", "run_id"], kind="stable")["run_id"]
    position = pd.Series(np.arange(len(order)), index=order.to_numpy())
    out = kept.assign(**{RUN_COLUMN: kept["run_id"].map(position).to_numpy()})
    return out.sort_values(["case_id", RUN_COLUMN], kind="stable").reset_index(drop=True)


def restrict(
    tidied: pd.DataFrame,
    *,
    names: Mapping[str, str] | None = None,
    case: str | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """Only the cases of ``names`` (id -> current name, which replaces the recorded one),
    only ``case`` (an id or a name), only the last ``last`` runs.

    An unknown ``case`` or a ``last`` under 1 raises :class:`HistoryError`.
    """
    out = tidied
    if names is not None:
        out = out[out["case_id"].isin(list(names))]
        out = out.assign(case_name=out["case_id"].map(dict(names)))
    if case is not None:
        chosen = out[(out["case_id"] == case) | (out["case_name"] == case)]
        if chosen.empty:
            raise HistoryError(f"no case {case!r} in the history (give a case id or name)")
        out = chosen
    if last is not None:
        if last < 1:
            raise HistoryError(f"--last must be 1 or more, got {last}")
        runs = np.sort(out[RUN_COLUMN].unique())[-last:]
        out = out[out[RUN_COLUMN].isin(runs)]
    return out


def trends(
    tidied: pd.DataFrame, *, runs: int = TREND_RUNS, alpha: float = ALPHA
) -> dict[str, TrendResult]:
    """Each case's trend over its last ``runs`` values (runs without a value left out)."""
    out: dict[str, TrendResult] = {}
    valued = tidied[tidied["value"].notna()]
    ops = tidied.groupby("case_id", sort=False)["op"].last()
    values = valued.groupby("case_id", sort=False)["value"].apply(lambda s: s.to_numpy()[-runs:])
    for case_id, op in ops.items():
        series = values.get(case_id, np.empty(0))
        out[str(case_id)] = trend_of(list(series), op=str(op), runs=runs, alpha=alpha)
    return out


def runs_frame(tidied: pd.DataFrame) -> pd.DataFrame:
    """One row per run, oldest first: time, run id, model, data, build, counts per status."""
    columns = [
        "run",
        "time",
        "run_id",
        "model",
        "model_version",
        "dataset",
        "file",
        "fingerprint",
        "build_system",
        "build_id",
        "build_url",
        "commit",
    ]
    if tidied.empty:
        return pd.DataFrame(columns=[*columns, "cases", *STATUSES])
    first = tidied.sort_values("time", kind="stable").groupby(RUN_COLUMN).first()
    first = first.reset_index()[columns]
    counts = pd.crosstab(tidied[RUN_COLUMN], tidied["status"])
    counts = counts.reindex(columns=list(STATUSES), fill_value=0)
    out = first.join(counts, on=RUN_COLUMN)
    out.insert(len(columns), "cases", counts.sum(axis=1).to_numpy())
    return out.sort_values(RUN_COLUMN).reset_index(drop=True)


def case_frame(tidied: pd.DataFrame, found: Mapping[str, TrendResult]) -> pd.DataFrame:
    """One row per case: latest name, metric, condition, last status and value, trend, runs."""
    columns = [
        "case_id",
        "case_name",
        "metric",
        "op",
        "threshold",
        "status",
        "value",
        "where",
        "runs",
        "trend",
        "p_value",
        "slope",
        "trend_runs",
    ]
    if tidied.empty:
        return pd.DataFrame(columns=columns)
    last = tidied.groupby("case_id", sort=False).last().reset_index()
    last["runs"] = tidied.groupby("case_id", sort=False).size().to_numpy()
    last["value"] = tidied.groupby("case_id", sort=False)["value"].last().to_numpy()
    last["status"] = tidied.groupby("case_id", sort=False)["status"].last().to_numpy()
    last["where"] = tidied.groupby("case_id", sort=False)["where"].last().to_numpy()
    result = [found[str(i)] for i in last["case_id"]]
    last["trend"] = [r.trend for r in result]
    last["p_value"] = [r.test.p_value if r.runs >= 3 else np.nan for r in result]
    last["slope"] = [r.test.slope for r in result]
    last["trend_runs"] = [r.runs for r in result]
    return last[columns]


@dataclass(frozen=True)
class CaseHistory:
    """One case over the runs it was checked in: what ``history --json`` prints."""

    id: str
    name: str
    metric: str
    op: str
    trend: TrendResult
    runs: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "metric": self.metric,
            "op": self.op,
            "trend": self.trend.trend,
            "trend_p_value": self.trend.test.p_value if self.trend.runs >= 3 else None,
            "trend_slope": _finite(self.trend.test.slope),
            "trend_runs": self.trend.runs,
            "runs": list(self.runs),
        }


_RUN_FIELDS = (
    "time",
    "run_id",
    "model",
    "model_version",
    "value",
    "threshold",
    "status",
    "dataset",
    "fingerprint",
)


def case_histories(shown: pd.DataFrame, found: Mapping[str, TrendResult]) -> list[CaseHistory]:
    """A :class:`CaseHistory` per case of ``shown`` (a :func:`restrict` result), by latest name."""
    out = []
    for case_id, rows in shown.groupby("case_id", sort=False):
        runs = []
        for row in rows.sort_values(RUN_COLUMN).itertuples(index=False):
            run = {k: _plain(getattr(row, k)) for k in _RUN_FIELDS}
            low, high = _plain(row.low), _plain(row.high)
            run["interval"] = None if low is None else [low, high]
            run["build"] = _plain(row.build_id) or _plain(row.commit)
            runs.append(run)
        latest = rows.iloc[-1]
        out.append(
            CaseHistory(
                str(case_id),
                str(latest["case_name"]),
                str(latest["metric"]),
                str(latest["op"]),
                found[str(case_id)],
                tuple(runs),
            )
        )
    return sorted(out, key=lambda h: (h.name, h.id))


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy numbers as Python ones, missing values as ``None``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
