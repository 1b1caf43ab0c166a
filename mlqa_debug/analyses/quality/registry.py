"""The quality-check registry and its runner, :func:`run_quality`.

A sibling of the data-check registry (:mod:`mlqa_debug.data.checks`), not a part
of it, for three reasons: the loader runs that registry and a failure at
severity ``error`` refuses the table, while a quality finding never refuses one
(a half-missing feature is a fact to report, not unusable input); a loader check
returns one result, a quality check one finding per column or class; and a
quality check needs the loaded table (its errors, probabilities and feature
types), which only exists once the loader's checks have passed. The two share
:data:`~mlqa_debug.data.checks.Severity` and
:class:`~mlqa_debug.data.checks.CheckResult` (:meth:`QualityReport.results`),
so one report renders both.

A check is a function of a :class:`QualityContext` returning :class:`Draft`
findings, registered with :func:`register_quality` under a stable name, a
title, a default severity and ``when`` (a function giving the reason the check
does not apply, or ``None``). The runner stamps each draft with its check,
compares the error rate on its rows with the rest (the test of the Slices page,
:func:`mlqa_debug.stats.slice_report`), adjusts the p-values of all comparisons
together (Holm) and raises a finding whose rows err significantly more often than
the rest to at least ``warning``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeAlias, TypeVar, cast

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality.findings import (
    SEVERITY_RANK,
    ErrorComparison,
    Finding,
    QualityReport,
)
from mlqa_debug.analyses.quality.thresholds import DEFAULT_THRESHOLDS, Thresholds
from mlqa_debug.data.checks import MAX_ROWS, SEVERITIES, Severity, slice_text
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import FeatureType
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import Op, parse_slice
from mlqa_debug.stats import adjust_p_values, slice_report

T = TypeVar("T")

__all__ = [
    "QUALITY_CHECKS",
    "CheckInfo",
    "Draft",
    "QualityCheck",
    "QualityContext",
    "quality_check",
    "register_quality",
    "run_quality",
    "stamp_findings",
]


@dataclass(frozen=True, eq=False)
class Draft:
    """A finding before the runner stamps it: its rows as a mask, a sentence, a slice.

    ``severity`` ``None`` takes the check's; ``compare=False`` skips the error-rate
    comparison (when the rows are the whole table, say).
    """

    column: str | None
    mask: np.ndarray
    message: str
    slice: str | None
    severity: Severity | None = None
    value: float | None = None
    threshold: float | None = None
    compare: bool = True


@dataclass(eq=False)
class QualityContext:
    """What every quality check sees: the loaded table, the thresholds, shared columns."""

    predictions: Predictions
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def frame(self) -> pd.DataFrame:
        return self.predictions.frame

    @property
    def n_samples(self) -> int:
        return self.predictions.n_samples

    @cached_property
    def features(self) -> dict[str, FeatureType]:
        """Feature columns and their types, as the loader resolved them."""
        return dict(self.predictions.schema.features)

    def of_kind(self, *kinds: FeatureType) -> list[str]:
        """Feature columns of the given types, in table order."""
        return [c for c, kind in self.features.items() if kind in kinds]

    def shared(self, key: str, build: Callable[[], T]) -> T:
        """A value several checks use (a column's median, the row hashes), built once per run."""
        if key not in self._shared:
            self._shared[key] = build()
        return cast(T, self._shared[key])

    def slice_of(self, column: str, op: Op, values: Sequence[Any] = ()) -> str | None:
        """The text of a one-predicate slice that fits this table, else ``None``.

        "Fits" is what the Slices page checks (:meth:`Slice.check`): a numeric id
        column is ``text`` there, so ``id in (3, 17)`` does not fit and gives ``None``.
        """
        text = slice_text(column, op, values)
        if text is None:
            return None
        try:
            parse_slice(text).check(self.predictions.column_kinds)
        except SliceError:
            return None
        return text

    @cached_property
    def missing(self) -> dict[str, np.ndarray]:
        """``isna`` of every feature column (computed once, shared by the checks)."""
        return {c: self.frame[c].isna().to_numpy() for c in self.features}


CheckFunction: TypeAlias = Callable[[QualityContext], list[Draft]]
Applies: TypeAlias = Callable[[QualityContext], str | None]


@dataclass(frozen=True)
class QualityCheck:
    """A registered quality check: name, title, function, default severity, when it applies.

    ``clean`` is what the report says when the check finds nothing.
    """

    name: str
    title: str
    function: CheckFunction
    severity: Severity
    clean: str
    when: Applies | None = None


class CheckInfo(Protocol):
    """What stamping a draft reads of its check (a :class:`QualityCheck`, a leakage check)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def severity(self) -> Severity: ...


QUALITY_CHECKS: list[QualityCheck] = []
"""The registry, in run order. Add to it with :func:`register_quality` only."""


def register_quality(
    name: str, title: str, *, severity: Severity, clean: str, when: Applies | None = None
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a quality check (decorator); it runs after those registered before it."""
    if any(c.name == name for c in QUALITY_CHECKS):
        raise ValueError(f"a quality check named {name!r} is already registered")
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")

    def add(function: CheckFunction) -> CheckFunction:
        QUALITY_CHECKS.append(QualityCheck(name, title, function, severity, clean, when))
        return function

    return add


def quality_check(name: str) -> QualityCheck:
    """The registered check called ``name`` (to run one: ``run_quality(p, checks=[...])``)."""
    for check in QUALITY_CHECKS:
        if check.name == name:
            return check
    known = ", ".join(c.name for c in QUALITY_CHECKS)
    raise ValueError(f"no quality check named {name!r}; registered: {known}")


def run_quality(
    predictions: Predictions,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    checks: Sequence[QualityCheck] | None = None,
) -> QualityReport:
    """Run the quality checks (all registered ones, or ``checks``) on a loaded table.

    Findings come worst first (then in check order); each comparison's p-value is
    Holm-adjusted over all comparisons of the run.
    """
    context = QualityContext(predictions, thresholds)
    stamped: list[tuple[QualityCheck, Draft]] = []
    status: dict[str, tuple[str, str, str]] = {}
    for check in QUALITY_CHECKS if checks is None else checks:
        reason = check.when(context) if check.when is not None else None
        if reason is not None:
            status[check.name] = (check.title, "skipped", reason)
            continue
        status[check.name] = (check.title, "ran", check.clean)
        stamped += [(check, draft) for draft in check.function(context)]
    findings = stamp_findings(context, stamped)
    order = {name: i for i, name in enumerate(status)}
    findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], order[f.check]))
    return QualityReport(tuple(findings), status, predictions.n_samples)


def stamp_findings(
    context: QualityContext, stamped: Sequence[tuple[CheckInfo, Draft]]
) -> list[Finding]:
    """Compare error rates, adjust the p-values together (Holm), build the findings.

    The drafts keep their order; ``run_quality`` and the leakage checks both stamp here.
    """
    data = context.predictions.metric_data
    n = context.n_samples
    reports: list[Any] = []
    for _, draft in stamped:
        k = int(np.count_nonzero(draft.mask))
        reports.append(slice_report(data, draft.mask) if draft.compare and 0 < k < n else None)
    raw = np.array([np.nan if r is None else r.difference.p_value for r in reports])
    adjusted = adjust_p_values(raw, method="holm") if len(raw) else raw
    alpha = context.thresholds.alpha
    out: list[Finding] = []
    for (check, draft), report, adj in zip(stamped, reports, adjusted, strict=True):
        comparison = None
        if report is not None and not np.isnan(report.difference.p_value):
            comparison = ErrorComparison(
                report.slice.error_rate,
                report.rest.error_rate,
                report.difference.error_rate_diff,
                float(report.difference.p_value),
                float(adj),
                bool(adj < alpha),
            )
        out.append(_finding(check, draft, comparison, n))
    return out


def _finding(check: CheckInfo, draft: Draft, comparison: ErrorComparison | None, n: int) -> Finding:
    severity = draft.severity or check.severity
    worse = comparison is not None and comparison.significant and comparison.difference.value > 0
    if worse and SEVERITY_RANK[severity] < SEVERITY_RANK["warning"]:
        severity = "warning"
    positions = np.flatnonzero(draft.mask)
    return Finding(
        check=check.name,
        title=check.title,
        severity=severity,
        column=draft.column,
        n_rows=len(positions),
        message=draft.message,
        slice=draft.slice,
        rows=tuple(int(p) for p in positions[:MAX_ROWS]),
        value=None if draft.value is None else float(draft.value),
        threshold=None if draft.threshold is None else float(draft.threshold),
        comparison=comparison,
        bits=np.packbits(draft.mask),
        n_samples=n,
    )
