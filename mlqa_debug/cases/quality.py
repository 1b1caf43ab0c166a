"""Quality cases: a data-quality finding kept as a regression case.

"No more than 1% missing in ``income``", "no exact duplicates with the training
set": a quality case (:class:`~mlqa_debug.cases.model.QualitySpec`) names one
registered quality check (:data:`~mlqa_debug.analyses.quality.QUALITY_CHECKS`) or
one leakage check against a reference table (:data:`LEAKAGE_CHECKS`, computed by
``mlqa_debug.analyses.quality.leakage.find_leakage``), and a column or ``None``.
Measuring it on a table (:meth:`QualitySession.measure`) runs only that check and
counts the rows of its findings on that column (the union of their rows: the
outliers check reports each side of a column apart), 0 when it finds nothing.
The metric is ``rows_share`` (those rows over the table's) or ``rows`` (their
number), always ``<=``.

A check that does not apply to the table (skipped: calibration without
probabilities), a column the table lacks, or a reference that cannot be loaded
raise :class:`~mlqa_debug.errors.CaseError` naming the check, the column or the
reference; :func:`~mlqa_debug.cases.check.evaluate_case` reports it as status
``error``. A :class:`QualitySession` loads each reference once (files relative to
the case directory, dataset names from the workspace: see
:func:`mlqa_debug.data.reference.load_reference`) and runs each check once per table.

New cases: :func:`draft_quality_case` (what the save form shows: the default
metric, ``rows`` for duplicate and leakage checks, else ``rows_share``, and the
default threshold, 0 for duplicates and leakage, else the value now rounded up to
1, 2 or 5 times a power of ten) and :func:`build_quality_case`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlqa_debug.analyses.quality.findings import Finding
from mlqa_debug.analyses.quality.registry import quality_check, run_quality
from mlqa_debug.cases.build import provenance
from mlqa_debug.cases.conditions import QUALITY_METRICS, ROWS, ROWS_SHARE, format_value
from mlqa_debug.cases.model import Case, default_author, finite_number, new_case_id, now_text
from mlqa_debug.cases.quality_spec import LEAKAGE_CHECKS, QualitySpec
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.reference import is_dataset_name, load_reference
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError, MlqaError

__all__ = [
    "COUNTED_CHECKS",
    "LEAKAGE_CHECKS",
    "QualityDraft",
    "QualityMeasurement",
    "QualitySession",
    "build_quality_case",
    "default_quality_metric",
    "default_quality_threshold",
    "draft_quality_case",
    "finding_spec",
    "quality_case_name",
    "rebase_reference",
    "stored_reference",
]

COUNTED_CHECKS = frozenset(
    {"duplicate_rows", "conflicting_labels", "duplicate_ids", *LEAKAGE_CHECKS}
)
"""Checks whose cases count rows (``rows``) and allow none by default: no duplicates."""


@dataclass(frozen=True)
class QualityMeasurement:
    """The rows a quality check flags (``flagged``) out of the table's ``rows``."""

    flagged: int
    rows: int

    def value(self, metric: str) -> float:
        """``rows_share`` (flagged / rows) or ``rows`` (flagged)."""
        if metric == ROWS:
            return float(self.flagged)
        if metric == ROWS_SHARE:
            return self.flagged / self.rows if self.rows else math.nan
        raise CaseError(f"a quality case measures {' or '.join(QUALITY_METRICS)}, not {metric!r}")


class QualitySession:
    """What the quality cases of one check share: references loaded once, checks run once.

    ``base`` is the case directory (reference files are relative to it; default the
    working directory), ``workspace`` where reference dataset names are looked up
    (default ``$MLQA_DEBUG_WORKSPACE``, else ``~/.mlqa-debug``).
    """

    def __init__(self, base: Path | None = None, *, workspace: Workspace | None = None) -> None:
        self.base = base
        self.workspace = workspace
        self._references: dict[str, Predictions | CaseError] = {}
        self._results: dict[tuple[str, str, str], Any] = {}

    def reference(self, reference: str) -> Predictions:
        """The reference table; :class:`CaseError` naming it when it cannot be loaded."""
        if reference not in self._references:
            try:
                table: Predictions | CaseError = load_reference(
                    reference, workspace=self.workspace, base=self.base
                )
            except MlqaError as e:
                table = CaseError(
                    f"the reference {self._describe(reference)} cannot be loaded: {e}"
                )
            self._references[reference] = table
        found = self._references[reference]
        if isinstance(found, CaseError):
            raise found
        return found

    def _describe(self, reference: str) -> str:
        if is_dataset_name(reference):
            return f"dataset {reference!r}"
        path = Path(reference).expanduser()
        if not path.is_absolute() and self.base is not None:
            return f"file {reference!r} (in {self.base})"
        return f"file {reference!r}"

    def _once(self, key: tuple[str, str, str], build: Any) -> Any:
        if key not in self._results:
            self._results[key] = build()
        return self._results[key]

    def findings(self, predictions: Predictions, spec: QualitySpec) -> list[Finding]:
        """The findings of the spec's check on ``predictions`` (all columns)."""
        if spec.reference is not None:
            return self._leakage(predictions, spec.check, spec.reference)
        try:
            check = quality_check(spec.check)
        except ValueError as e:
            raise CaseError(str(e)) from None
        key = (predictions.fingerprint, spec.check, "")
        report = self._once(key, lambda: run_quality(predictions, checks=[check]))
        _, status, reason = report.checks[spec.check]
        if status == "skipped":
            raise CaseError(f"the check {spec.check!r} does not apply to this table: {reason}")
        return list(report.by_check(spec.check))

    def _leakage(self, predictions: Predictions, check: str, reference: str) -> list[Finding]:
        from mlqa_debug.analyses.quality.leakage import LeakageReport, find_leakage

        table = self.reference(reference)
        key = (predictions.fingerprint, "leakage", reference)
        report: LeakageReport = self._once(key, lambda: find_leakage(predictions, table))
        status, reason = report.status.get(check, ("ran", ""))
        if status == "skipped":
            raise CaseError(
                f"the check {check!r} does not apply to this table and the reference "
                f"{self._describe(reference)}: {reason}"
            )
        return report.by_check(check)

    def measure(self, predictions: Predictions, spec: QualitySpec) -> QualityMeasurement:
        """The rows the spec's check flags on its column (0 when it finds nothing)."""
        if spec.column is not None and spec.column not in predictions.frame.columns:
            where = Path(predictions.source).name if predictions.source else "this table"
            raise CaseError(f"column {spec.column!r} is not in {where}")
        found = [f for f in self.findings(predictions, spec) if f.column == spec.column]
        n = predictions.n_samples
        mask = np.zeros(n, dtype=bool)
        for finding in found:
            rows = finding.mask()
            if len(rows) != n:
                raise CaseError(
                    f"the {spec.check} finding covers {len(rows):,} rows; the table has {n:,}"
                )
            mask |= rows
        return QualityMeasurement(int(np.count_nonzero(mask)), n)


# --------------------------------------------------------------------------- new cases


def default_quality_metric(check: str) -> str:
    """``rows`` for duplicate and leakage checks ("no exact duplicates"), else ``rows_share``."""
    return ROWS if check in COUNTED_CHECKS else ROWS_SHARE


def default_quality_threshold(check: str, metric: str, value: float) -> float:
    """0 for duplicate and leakage checks, else ``value`` rounded up to 1, 2 or 5 x 10^k."""
    if check in COUNTED_CHECKS or value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    step = next(s for s in (1, 2, 5, 10) if s * power >= value * (1 - 1e-12))
    nice = float(f"{step * power:.12g}")
    if metric == ROWS:
        return float(math.ceil(nice))
    return min(nice, 1.0)


@dataclass(frozen=True)
class QualityDraft:
    """What a new quality case would record: its spec, metric, the rows now, default threshold."""

    spec: QualitySpec
    metric: str
    measured: QualityMeasurement
    threshold: float

    @property
    def value(self) -> float:
        return self.measured.value(self.metric)

    @property
    def condition(self) -> str:
        return f"{self.metric} <= {format_value(self.threshold, self.metric, digits=6)}"


def finding_spec(finding: Finding, *, reference: str | None = None) -> QualitySpec:
    """The spec of a case kept from ``finding`` (``reference`` for a leakage finding)."""
    leakage = finding.check in LEAKAGE_CHECKS
    if leakage and reference is None:
        raise CaseError(f"the {finding.check} finding needs the reference it was found against")
    return QualitySpec(finding.check, finding.column, reference if leakage else None)


def draft_quality_case(
    predictions: Predictions,
    spec: QualitySpec,
    *,
    metric: str | None = None,
    flagged: int | None = None,
    session: QualitySession | None = None,
) -> QualityDraft:
    """The default metric and threshold of a would-be case, on the rows flagged now.

    ``flagged`` is the number of rows flagged now when the caller knows it (a finding
    on screen), which skips running the check again.
    """
    metric = metric or default_quality_metric(spec.check)
    if metric not in QUALITY_METRICS:
        raise CaseError(f"a quality case measures {' or '.join(QUALITY_METRICS)}, not {metric!r}")
    if flagged is None:
        measured = (session or QualitySession()).measure(predictions, spec)
    else:
        measured = QualityMeasurement(int(flagged), predictions.n_samples)
    value = measured.value(metric)
    return QualityDraft(
        spec, metric, measured, default_quality_threshold(spec.check, metric, value)
    )


def stored_reference(reference: str, cases_dir: Path | None) -> str:
    """How a case stores its reference: a dataset name as is, a file relative to ``cases_dir``.

    Without ``cases_dir`` (or across drives) a file is stored as an absolute path.
    """
    if is_dataset_name(reference):
        return reference
    path = Path(reference).expanduser().resolve()
    if cases_dir is None:
        return path.as_posix()
    try:
        return Path(os.path.relpath(path, cases_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def rebase_reference(case: Case, old_dir: Path, new_dir: Path) -> Case:
    """``case`` with its relative reference file rewritten for a copy of it in ``new_dir``."""
    spec = case.quality
    if spec is None or spec.reference is None or is_dataset_name(spec.reference):
        return case
    if Path(spec.reference).expanduser().is_absolute():
        return case
    moved = stored_reference(str(old_dir / spec.reference), new_dir)
    return dataclasses.replace(case, quality=dataclasses.replace(spec, reference=moved))


def quality_case_name(
    taken: Iterable[str], spec: QualitySpec, metric: str, threshold: float
) -> str:
    """An unused name: ``no more than 1% missing values in income``, ``no exact duplicates ...``."""
    what = spec.describe()
    if threshold <= 0:
        base = f"no {what}"
    else:
        base = f"no more than {format_value(threshold, metric, digits=6)} {what}"
    base = base if len(base) <= 100 else base[:97].rstrip() + "..."
    used = {t.casefold() for t in taken}
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base} ({n})", n + 1
    return name


def build_quality_case(
    predictions: Predictions,
    *,
    name: str,
    check: str,
    column: str | None = None,
    reference: str | None = None,
    cases_dir: Path | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    flagged: int | None = None,
    note: str = "",
    dataset: str | None = None,
    page: str | None = None,
    author: str | None = None,
    workspace: Workspace | None = None,
) -> Case:
    """A new quality case on ``predictions``: rows flagged now, threshold default or given.

    ``reference`` (leakage checks) is a dataset name in ``workspace`` or a file path
    as the caller knows it; the case stores a file relative to ``cases_dir``
    (:func:`stored_reference`). ``flagged`` as in :func:`draft_quality_case`.
    """
    stored = None if reference is None else stored_reference(reference, cases_dir)
    spec = QualitySpec(check, column, stored)
    session = QualitySession(cases_dir, workspace=workspace)
    draft = draft_quality_case(predictions, spec, metric=metric, flagged=flagged, session=session)
    if threshold is not None:
        threshold = finite_number(threshold, "threshold")
        if threshold < 0 or (draft.metric == ROWS_SHARE and threshold > 1):
            bound = "between 0 and 1" if draft.metric == ROWS_SHARE else "0 or more"
            raise CaseError(f"the threshold of {draft.metric} must be {bound}, got {threshold!r}")
    stamp = now_text()
    return Case(
        id=new_case_id(),
        name=name,
        metric=draft.metric,
        op="<=",
        threshold=draft.threshold if threshold is None else threshold,
        baseline=float(f"{draft.value:.6g}"),
        baseline_rows=predictions.n_samples,
        task=predictions.task,
        quality=spec,
        note=note,
        author=default_author() if author is None else author,
        source=provenance(predictions, dataset=dataset, page=page),
        created=stamp,
        updated=stamp,
    )
