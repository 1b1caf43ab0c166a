"""What ``mlqa-debug history`` prints: a plain table, or a short Markdown report.

The Markdown report is meant for a pull request or a weekly summary: one line of
totals, a table of the cases (the degrading and failing first), and one sentence
per case that degrades or fails saying what moved and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mlqa_debug.cases.conditions import format_value
from mlqa_debug.history.series import CaseHistory
from mlqa_debug.history.trend import ALPHA, TREND_RUNS

_STATUS = {
    "pass": "PASS",
    "fail": "FAIL",
    "empty": "EMPTY",
    "not_applicable": "N/A",
    "error": "ERROR",
}
_ICON = {"pass": "✅", "fail": "❌", "empty": "❌", "not_applicable": "➖", "error": "⚠️"}
_TREND_ICON = {"degrading": "📉 degrading", "improving": "📈 improving", "stable": "stable"}
SHOWN_VALUES = 8
"""How many of the latest values the text table lists per case."""


def _priority(h: CaseHistory) -> tuple[int, str]:
    """Degrading first, then failing, then the rest; by name within each group."""
    last = h.runs[-1]["status"] if h.runs else "pass"
    rank = 0 if h.trend.trend == "degrading" else 1 if last in ("fail", "empty") else 2
    return rank, h.name


def _values(h: CaseHistory) -> str:
    shown = [format_value(r["value"], h.metric) for r in h.runs[-SHOWN_VALUES:]]
    more = "... " if len(h.runs) > SHOWN_VALUES else ""
    return more + " ".join(shown)


def text_report(histories: Sequence[CaseHistory], runs: pd.DataFrame) -> str:
    """Header (runs, span), one row per case, then a line per degrading case."""
    if not histories:
        return "no records for these cases in the history"
    header = ["LAST", "CASE", "METRIC", "THRESHOLD", "TREND", "RUNS", "VALUES (oldest first)"]
    rows = [
        [
            _STATUS.get(str(h.runs[-1]["status"]), "?"),
            h.name,
            h.metric,
            f"{h.op} {format_value(h.runs[-1]['threshold'], h.metric, digits=6)}",
            h.trend.trend,
            str(len(h.runs)),
            _values(h),
        ]
        for h in sorted(histories, key=_priority)
    ]
    lines = [_span(runs), "", _table(header, rows)]
    notes = [
        f"DEGRADING  {h.name!r}: {h.trend.describe(h.metric)}"
        for h in histories
        if h.trend.trend == "degrading"
    ]
    return "\n".join([*lines, *(["", *notes] if notes else [])])


def _span(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "0 runs"
    first, last = runs.iloc[0], runs.iloc[-1]
    return (
        f"{len(runs):,} run(s) from {first['time'][:19]}Z ({first['run_id']}) "
        f"to {last['time'][:19]}Z ({last['run_id']})"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def markdown_report(histories: Sequence[CaseHistory], runs: pd.DataFrame) -> str:
    """A short Markdown summary of the cases over the runs shown."""
    ordered = sorted(histories, key=_priority)
    degrading = [h for h in ordered if h.trend.trend == "degrading"]
    failing = [h for h in ordered if h.runs and h.runs[-1]["status"] in ("fail", "empty")]
    lines = [
        "## Regression cases over time",
        "",
        f"{len(histories)} case(s) over {_span(runs)}: **{len(failing)} failing**, "
        f"**{len(degrading)} degrading** (Mann-Kendall over each case's last "
        f"{TREND_RUNS} runs with a value, alpha {ALPHA}).",
        "",
        "| | Case | Metric | Threshold | Last value | Trend | Runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in ordered:
        last = h.runs[-1]
        lines.append(
            f"| {_ICON.get(str(last['status']), '')} | {_cell(h.name)} | {_cell(h.metric)} | "
            f"{h.op} {format_value(last['threshold'], h.metric, digits=6)} | "
            f"{format_value(last['value'], h.metric)} | {_TREND_ICON[h.trend.trend]} | "
            f"{len(h.runs)} |"
        )
    details = [
        f"- **{_cell(h.name)}**: {h.trend.describe(h.metric)}, still passing"
        if h.runs[-1]["status"] == "pass"
        else f"- **{_cell(h.name)}**: {h.trend.describe(h.metric)}"
        for h in degrading
    ]
    if details:
        lines += ["", "### Degrading", "", *details]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: pipes escaped, no line breaks, no markup."""
    clean = " ".join(str(text).split())
    for ch in "\\|*_`[]<>#":
        clean = clean.replace(ch, "\\" + ch)
    return clean
