"""What the quality checks return: findings, their error-rate comparison, and the report.

A :class:`Finding` is one problem a check found: the check, the column, the
severity, how many rows it concerns, a sentence, and the text of a slice that
selects exactly those rows (``income is missing``), so it opens on the Slices
page. Where the table has errors to compare, it carries an
:class:`ErrorComparison`: the error rate on those rows against the rest, with
Wilson and Newcombe intervals and a p-value adjusted (Holm) over every finding of
the report that compares one. A :class:`QualityReport` holds the findings and,
like the data-check registry, one :class:`~mlqa_debug.data.checks.CheckResult`
per check (``results()``), so a check that did not run shows ``skipped``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlqa_debug.data.checks import MAX_ROWS, SEVERITIES, CheckResult, Severity, Status
from mlqa_debug.stats.format import p_value, percent, points
from mlqa_debug.stats.results import Estimate, jsonable

__all__ = [
    "SEVERITY_RANK",
    "ErrorComparison",
    "Finding",
    "QualityReport",
    "at_least",
]

SEVERITY_RANK: dict[Severity, int] = {s: i for i, s in enumerate(SEVERITIES)}
"""``info`` < ``warning`` < ``error``."""


_STATUS: dict[Severity, Status] = {"error": "fail", "warning": "warn", "info": "pass"}
"""The data-check status a finding of each severity shows as."""


def at_least(severity: Severity, floor: Severity) -> bool:
    """Whether ``severity`` is ``floor`` or worse (``warning`` is at least ``info``)."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[floor]


@dataclass(frozen=True)
class ErrorComparison:
    """The error rate on a finding's rows (``inside``) against the other rows (``outside``).

    ``difference`` is inside minus outside with Newcombe's interval; ``p_value`` the
    two-sided test of the Slices page (Fisher exact on small counts, else the
    two-proportion z-test); ``adjusted_p`` is Holm-adjusted over every comparison
    of the report; ``significant`` is ``adjusted_p < alpha``.
    """

    inside: Estimate
    outside: Estimate
    difference: Estimate
    p_value: float
    adjusted_p: float
    significant: bool

    def sentence(self) -> str:
        """``error rate 31.0% here vs 12.0% elsewhere (+19.0 pts, Holm p < 0.001)``."""
        rates = f"error rate {percent(self.inside.value)} here vs {percent(self.outside.value)}"
        if not self.significant:
            adjusted = p_value(self.adjusted_p)
            return f"{rates} elsewhere: no significant difference (Holm p = {adjusted})"
        d = self.difference
        return (
            f"{rates} elsewhere ({points(d.value)}, 95% CI [{points(d.low)}, {points(d.high)}], "
            f"Holm p {_p_text(self.adjusted_p)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (None for nan)."""
        return jsonable(self)


def _p_text(p: float) -> str:
    text = p_value(p)
    return text if text.startswith("<") else f"= {text}"


@dataclass(frozen=True)
class Finding:
    """One problem found by a quality check.

    ``n_rows`` counts the rows it concerns, ``rows`` keeps the first
    :data:`~mlqa_debug.data.checks.MAX_ROWS` of their 0-based positions and
    :meth:`mask` gives them all. ``slice`` selects exactly those rows where the
    slice syntax can say so (``None`` for duplicates without an id column, say).
    ``value`` is what the check measured (a share missing, an ECE ...) and
    ``threshold`` what it was compared with. ``comparison`` is ``None`` when the
    rows or the rest are empty.
    """

    check: str
    title: str
    severity: Severity
    column: str | None
    n_rows: int
    message: str
    slice: str | None
    rows: tuple[int, ...] = ()
    value: float | None = None
    threshold: float | None = None
    comparison: ErrorComparison | None = None
    bits: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.uint8), repr=False, compare=False
    )
    n_samples: int = field(default=0, repr=False, compare=False)

    def mask(self) -> np.ndarray:
        """The rows this finding concerns, as a boolean array over the table."""
        return np.unpackbits(self.bits, count=self.n_samples).astype(bool)

    def sentence(self) -> str:
        """The message followed by the error-rate comparison, where there is one."""
        if self.comparison is None:
            return self.message
        return f"{self.message}; {self.comparison.sentence()}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``mlqa-debug quality``: check, column, severity, rows, message, slice.

        ``rows`` is the number of rows; ``error_rate`` (added) is the comparison or None.
        """
        return {
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "rows": self.n_rows,
            "message": self.sentence(),
            "slice": self.slice,
            "error_rate": None if self.comparison is None else self.comparison.to_dict(),
        }

    def to_check_result(self) -> CheckResult:
        """This finding as a data-check result (``fail`` for errors, ``warn`` for warnings)."""
        status = _STATUS[self.severity]
        return CheckResult(
            self.check,
            self.title,
            status,
            self.severity,
            self.sentence(),
            column=self.column,
            rows=self.rows[:MAX_ROWS],
            n_rows=self.n_rows,
            slice=self.slice,
        )


@dataclass(frozen=True)
class QualityReport:
    """Every finding of a run, worst first, and one result per check that ran or was skipped.

    ``checks`` maps each check's name to ``(title, status, reason)``: status ``ran`` or
    ``skipped``, with the reason a check was skipped (no probabilities, regression ...).
    """

    findings: tuple[Finding, ...]
    checks: dict[str, tuple[str, str, str]]
    n_samples: int

    def counts(self) -> dict[Severity, int]:
        """Findings per severity, every severity present (the page's summary)."""
        found = Counter(f.severity for f in self.findings)
        return {s: found.get(s, 0) for s in SEVERITIES}

    def worst(self) -> Severity | None:
        """The worst severity among the findings, or ``None`` without findings."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)

    def at_least(self, floor: Severity) -> list[Finding]:
        """The findings at severity ``floor`` or worse."""
        return [f for f in self.findings if at_least(f.severity, floor)]

    def by_check(self, check: str) -> list[Finding]:
        """The findings of one check, in report order."""
        return [f for f in self.findings if f.check == check]

    def results(self) -> list[CheckResult]:
        """One result per finding, and one ``pass`` or ``skipped`` per check without any."""
        out: list[CheckResult] = []
        for name, (title, status, reason) in self.checks.items():
            mine = self.by_check(name)
            if status == "skipped":
                out.append(CheckResult(name, title, "skipped", "info", reason))
            elif not mine:
                out.append(CheckResult(name, title, "pass", "info", reason))
            out += [f.to_check_result() for f in mine]
        return out

    def to_json(self) -> list[dict[str, Any]]:
        """The findings as JSON-safe dicts, worst first."""
        return [f.to_dict() for f in self.findings]
