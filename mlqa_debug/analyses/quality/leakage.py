"""Leakage between an evaluation table and a training (or reference) table.

:func:`find_leakage` compares the current table with the reference on the
features both have and returns a :class:`LeakageReport` of findings, each a
:class:`~mlqa_debug.analyses.quality.findings.Finding` with the error rate on
its rows against the rest (Holm over the leakage findings, stamped by the
quality registry's :func:`~mlqa_debug.analyses.quality.registry.stamp_findings`):

- ``exact_duplicates`` (``error``): current rows whose features equal a reference
  row's. Rows are hashed as the duplicate checks hash them
  (:func:`~mlqa_debug.analyses.quality.rows.column_hash`: normalised values, one
  uint64 per row) and looked up as ``np.isin`` would (by a hash table). A current row matches a
  reference row by chance with probability ``m / 2⁶⁴`` for ``m`` reference rows,
  so 1,000,000 rows against 200,000 expect 1e-8 false matches: not checked further.
- ``near_duplicates`` (``warning``): the others within ``near_distance`` of a
  reference row (:mod:`.nearest`: equal categorical values, root-mean-square
  difference of the numeric ones in reference IQRs), on a seeded sample of
  ``near_max_reference`` reference rows when it has more (the message says so).
  A control search with each numeric feature shuffled across the rows counts
  the rows that come as near by chance; the finding is ``info`` unless its
  rows exceed that count (one-sided Poisson test at ``alpha``, mean the
  control's count plus one).
- ``shared_ids`` (``error``): current rows whose id is also a reference id (both
  tables need an id column; numbers compare as numbers, anything else as text).
- ``leaky_feature`` (``warning``): a feature whose single-feature AUC on the
  current table's label (:mod:`.separation`) is at least ``leaky_auc``, on a
  seeded sample of ``leaky_max_rows`` rows. The finding is the column: no slice,
  no error-rate comparison.

The reference may be a training set loaded with its label standing in for the
prediction: only its features and ids are read. A feature whose type differs
between the tables (numeric here, text there) is left out and named in
:attr:`LeakageReport.notes`, as are the features only one table has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality.findings import Finding
from mlqa_debug.analyses.quality.nearest import near_copies
from mlqa_debug.analyses.quality.registry import Draft, QualityContext, stamp_findings
from mlqa_debug.analyses.quality.rows import column_hash, combine_hashes, ids_slice, value_hash
from mlqa_debug.analyses.quality.separation import Separation, feature_separation
from mlqa_debug.analyses.quality.thresholds import DEFAULT_THRESHOLDS, _doc
from mlqa_debug.data.checks import Severity
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import FeatureType
from mlqa_debug.stats.format import count, number, percent

__all__ = [
    "DEFAULT_LEAKAGE_THRESHOLDS",
    "LEAKAGE_CHECKS",
    "LeakageCheck",
    "LeakageReport",
    "LeakageThresholds",
    "find_leakage",
    "leakage_json",
    "leakage_threshold_table",
]


@dataclass(frozen=True)
class LeakageThresholds:
    """The thresholds of the leakage checks; each field's ``meaning`` says what it bounds."""

    near_distance: float = _doc(
        0.01,
        "root-mean-square difference of the numeric features, in reference IQRs, at or "
        "under which a row with equal other features is a near duplicate",
    )
    near_max_reference: float = _doc(
        250_000, "reference rows the near-duplicate search reads; more are sampled (seeded)"
    )
    leaky_auc: float = _doc(
        0.95, "single-feature ROC AUC on the label at or above which a feature is leaky"
    )
    leaky_max_rows: float = _doc(
        100_000, "current rows the single-feature AUC reads; more are sampled (seeded)"
    )
    alpha: float = _doc(
        DEFAULT_THRESHOLDS.alpha, "significance level of the error-rate tests, after Holm"
    )
    max_slice_values: float = _doc(
        DEFAULT_THRESHOLDS.max_slice_values, "most ids an 'id in (...)' slice lists"
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"threshold {f.name} must be a number >= 0, got {value!r}")
        if not 0.5 < self.leaky_auc <= 1:
            raise ValueError(f"leaky_auc must be in (0.5, 1], got {self.leaky_auc}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be strictly between 0 and 1, got {self.alpha}")
        if self.near_max_reference < 1 or self.leaky_max_rows < 1:
            raise ValueError("near_max_reference and leaky_max_rows must be at least 1")


DEFAULT_LEAKAGE_THRESHOLDS = LeakageThresholds()
"""The thresholds :func:`find_leakage` uses unless told otherwise."""


def leakage_threshold_table(
    thresholds: LeakageThresholds = DEFAULT_LEAKAGE_THRESHOLDS,
) -> list[dict[str, Any]]:
    """One row per threshold: ``{"name", "value", "meaning"}``, in field order."""
    return [
        {"name": f.name, "value": getattr(thresholds, f.name), "meaning": f.metadata["meaning"]}
        for f in dataclasses.fields(thresholds)
    ]


@dataclass(frozen=True)
class LeakageCheck:
    """One leakage check: name, title, default severity, what a clean result says."""

    name: str
    title: str
    severity: Severity
    clean: str


LEAKAGE_CHECKS: dict[str, LeakageCheck] = {
    c.name: c
    for c in (
        LeakageCheck(
            "exact_duplicates", "Rows also in the reference", "error", "no row has an exact copy"
        ),
        LeakageCheck(
            "near_duplicates", "Rows near a reference row", "warning", "no row has a near copy"
        ),
        LeakageCheck("shared_ids", "Ids also in the reference", "error", "no id is shared"),
        LeakageCheck(
            "leaky_feature",
            "Features that predict the label on their own",
            "warning",
            "no feature predicts the label on its own",
        ),
    )
}
"""The leakage checks, in report order."""


@dataclass(frozen=True)
class LeakageReport:
    """The leakage findings (report order), the tables' sizes and how the search ran.

    ``columns`` are the features compared; ``near_sampled`` the reference rows the
    near-duplicate search read when it sampled them; ``status`` maps each check to
    ``(ran|skipped, what it found or why it did not run)``; ``separations`` holds
    every feature's single-feature score, flagged or not.
    """

    findings: tuple[Finding, ...]
    n_current: int
    n_reference: int
    near_threshold: float
    near_sampled: int | None
    columns: tuple[str, ...]
    notes: tuple[str, ...] = ()
    status: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    separations: tuple[Separation, ...] = ()

    def by_check(self, check: str) -> list[Finding]:
        """The findings of one check, in report order."""
        return [f for f in self.findings if f.check == check]

    def to_json(self) -> dict[str, Any]:
        """:func:`leakage_json` of this report."""
        return leakage_json(self)


def find_leakage(
    current: Predictions,
    reference: Predictions,
    *,
    thresholds: LeakageThresholds = DEFAULT_LEAKAGE_THRESHOLDS,
    random_state: int = 0,
) -> LeakageReport:
    """Exact and near duplicates, shared ids and leaky features (the module docstring)."""
    columns, notes = compared_columns(current, reference)
    quality = dataclasses.replace(
        DEFAULT_THRESHOLDS, alpha=thresholds.alpha, max_slice_values=thresholds.max_slice_values
    )
    context = QualityContext(current, quality)
    status: dict[str, tuple[str, str]] = {}
    drafts: list[tuple[LeakageCheck, Draft]] = []

    def add(name: str, found: list[Draft] | str) -> None:
        check = LEAKAGE_CHECKS[name]
        if isinstance(found, str):
            status[name] = ("skipped", found)
            return
        status[name] = ("ran", check.clean)
        drafts.extend((check, d) for d in found)

    pair = _Pair(current, reference, columns)
    exact = pair.exact_mask() if columns else None
    add("exact_duplicates", _exact(context, pair, exact) if exact is not None else _NO_COLUMNS)
    sampled, near = _near(context, pair, exact, thresholds, random_state)
    add("near_duplicates", near)
    add("shared_ids", _shared_ids(context, reference))
    separations = _separations(current, columns, thresholds, random_state)
    add("leaky_feature", _leaky(current, separations, thresholds) if columns else _NO_COLUMNS)
    return LeakageReport(
        findings=tuple(stamp_findings(context, drafts)),
        n_current=current.n_samples,
        n_reference=reference.n_samples,
        near_threshold=float(thresholds.near_distance),
        near_sampled=sampled,
        columns=tuple(columns),
        notes=tuple(notes),
        status=status,
        separations=tuple(separations),
    )


_NO_COLUMNS = "the two tables share no feature"


def _type_group(kind: FeatureType) -> str:
    """Categorical and text are both strings (uniqueness alone tells them apart)."""
    return "text" if kind == "categorical" else kind


def compared_columns(current: Predictions, reference: Predictions) -> tuple[list[str], list[str]]:
    """The features both tables have with one type, and notes on those left out."""
    ours, theirs = current.schema.features, reference.schema.features
    columns = [
        c for c, k in ours.items() if c in theirs and _type_group(k) == _type_group(theirs[c])
    ]
    notes = [
        f"feature {c!r} is {k} here and {theirs[c]} in the reference: left out of the comparison"
        for c, k in ours.items()
        if c in theirs and c not in columns
    ]
    only_here = [c for c in ours if c not in theirs]
    only_there = [c for c in theirs if c not in ours]
    for where, names in (("this table", only_here), ("the reference", only_there)):
        if names:
            shown = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
            notes.append(f"{count(len(names))} features only in {where} ({shown}): not compared")
    return columns, notes


@dataclass(eq=False)
class _Pair:
    """The two tables and their compared columns' hashes, each computed once."""

    current: Predictions
    reference: Predictions
    columns: list[str]
    _hashes: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    def hash(self, side: int, column: str) -> np.ndarray:
        key = (side, column)
        if key not in self._hashes:
            table = (self.current, self.reference)[side]
            self._hashes[key] = column_hash(table.frame, column)
        return self._hashes[key]

    def rows(self, side: int, columns: Sequence[str], missing: Sequence[str] = ()) -> np.ndarray:
        """One hash per row of ``columns``' values and of ``missing``'s missing pattern."""
        frame = (self.current, self.reference)[side].frame
        parts = [self.hash(side, c) for c in columns]
        parts += [frame[c].isna().to_numpy().astype(np.uint64) for c in missing]
        return combine_hashes(parts)

    def exact_mask(self) -> np.ndarray:
        return _isin(self.rows(0, self.columns), self.rows(1, self.columns))


def _isin(values: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``np.isin`` by a hash table (pandas): 5x faster on a million uint64 hashes."""
    return pd.Series(values).isin(others).to_numpy()


def _exact(context: QualityContext, pair: _Pair, mask: np.ndarray) -> list[Draft]:
    k = int(np.count_nonzero(mask))
    if not k:
        return []
    return [
        Draft(
            None,
            mask,
            f"{count(k)} rows ({percent(k / context.n_samples)}) have an exact copy in the "
            f"reference: equal values of the {count(len(pair.columns))} features both tables have",
            ids_slice(context, mask),
            value=k / context.n_samples,
        )
    ]


def _near(
    context: QualityContext,
    pair: _Pair,
    exact: np.ndarray | None,
    thresholds: LeakageThresholds,
    random_state: int,
) -> tuple[int | None, list[Draft] | str]:
    """The sampled reference rows (or None) and the near-duplicate draft (or why not)."""
    if exact is None:
        return None, _NO_COLUMNS
    kinds = context.features
    numeric = [c for c in pair.columns if kinds[c] in ("numeric", "datetime")]
    others = [c for c in pair.columns if c not in numeric]
    if not numeric:
        return None, "no numeric feature in both tables: near copies would be exact ones"
    radius = float(thresholds.near_distance)
    found = near_copies(
        _matrix(pair.current.frame, numeric),
        _matrix(pair.reference.frame, numeric),
        pair.rows(0, others, numeric),
        pair.rows(1, others, numeric),
        radius=radius,
        skip=exact,
        max_reference=int(thresholds.near_max_reference),
        random_state=random_state,
    )
    k = int(np.count_nonzero(found.mask))
    if not k:
        return found.sampled, []
    rule = (
        f"root-mean-square difference at most {number(radius)} reference IQRs over the "
        f"{count(len(numeric))} numeric features"
        + (f", equal values of the other {count(len(others))}" if others else "")
    )
    searched = ""
    if found.sampled is not None:
        n_ref = pair.reference.n_samples
        searched = (
            f"; sampled {count(found.sampled)} of {count(n_ref)} reference rows "
            "(seeded), so near copies of the others are missed"
        )
    excess = _beyond_chance(k, found.chance, thresholds.alpha)
    verdict = "" if excess else ": no more than chance gives, so they need not be copies"
    message = (
        f"{count(k)} rows ({percent(k / context.n_samples)}) are near copies of a reference "
        f"row, not exact ones: {rule}{searched}; with each numeric feature shuffled across "
        f"the rows, {count(found.chance)} come as near by chance{verdict}"
    )
    draft = Draft(
        None,
        found.mask,
        message,
        ids_slice(context, found.mask),
        severity=None if excess else "info",
        value=radius,
    )
    return found.sampled, [draft]


def _beyond_chance(k: int, chance: int, alpha: float) -> bool:
    """Whether ``k`` near rows exceed the control's count: one-sided Poisson, mean chance + 1."""
    from scipy import stats

    return bool(stats.poisson.sf(k - 1, chance + 1.0) < alpha)


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as floats (datetimes as nanoseconds), nan for missing."""
    out = np.empty((len(frame), len(columns)), order="F")  # filled column by column
    for j, column in enumerate(columns):
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            if getattr(series.dt, "tz", None) is not None:
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            ns = series.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
            ns[series.isna().to_numpy()] = np.nan
            out[:, j] = ns
        else:
            out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _shared_ids(context: QualityContext, reference: Predictions) -> list[Draft] | str:
    mine, theirs = context.predictions.schema.id, reference.schema.id
    if mine is None or theirs is None:
        where = "this table" if mine is None else "the reference"
        return f"{where} has no id column"
    ids, other = context.frame[mine], reference.frame[theirs]
    numeric = pd.api.types.is_numeric_dtype(ids.dtype) and pd.api.types.is_numeric_dtype(
        other.dtype
    )
    if not numeric:  # text on either side: compare as text ("17" is 17)
        ids, other = ids.astype(str), other.astype(str)
    mask = _isin(value_hash(ids), value_hash(other)) & context.frame[mine].notna().to_numpy()
    k = int(np.count_nonzero(mask))
    if not k:
        return []
    named = f"{mine!r}" if mine == theirs else f"{mine!r} (the reference's {theirs!r})"
    return [
        Draft(
            mine,
            mask,
            f"{count(k)} rows ({percent(k / context.n_samples)}) have an id {named} that the "
            "reference has too",
            ids_slice(context, mask),
            value=k / context.n_samples,
        )
    ]


def _separations(
    current: Predictions, columns: list[str], thresholds: LeakageThresholds, random_state: int
) -> list[Separation]:
    """Each compared feature's single-feature AUC on a seeded sample of the current rows."""
    n = current.n_samples
    limit = int(thresholds.leaky_max_rows)
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, limit, replace=False)) if n > limit else np.arange(n)
    return [feature_separation(current, c, rows, random_state=random_state) for c in columns]


def _leaky(
    current: Predictions, separations: list[Separation], thresholds: LeakageThresholds
) -> list[Draft]:
    n = current.n_samples
    everything = np.ones(n, dtype=bool)
    drafts = []
    for s in separations:
        if not s.score >= thresholds.leaky_auc:  # nan (one class only) is not leaky
            continue
        sampled = f" on {count(s.n_rows)} sampled rows" if s.n_rows < n else ""
        drafts.append(
            Draft(
                s.column,
                everything,
                f"feature {s.column!r} alone separates the label: {s.measure} {number(s.score)}"
                f"{sampled} (threshold {number(thresholds.leaky_auc)}); a feature this "
                "predictive is often computed from the label or recorded after it",
                None,
                value=s.score,
                threshold=float(thresholds.leaky_auc),
                compare=False,
            )
        )
    return drafts


def leakage_json(report: LeakageReport) -> dict[str, Any]:
    """``{"exact_duplicates", "near_duplicates", "shared_ids", "leaky_features"}``.

    The first three are ``{"rows", "slice", "error_rate", "message"}`` (``rows`` is
    ``None`` when the check did not run: its message says why; the exact check's
    message ends with the report's notes); ``leaky_features``
    lists the flagged features as ``{"column", "score", "measure", "threshold"}``.
    """
    out: dict[str, Any] = {}
    for name in ("exact_duplicates", "near_duplicates", "shared_ids"):
        found = report.by_check(name)
        state, text = report.status.get(name, ("skipped", "not checked"))
        if found:
            f = found[0]
            error_rate = None if f.comparison is None else f.comparison.to_dict()
            out[name] = {
                "rows": f.n_rows,
                "slice": f.slice,
                "error_rate": error_rate,
                "message": f.sentence(),
            }
        else:
            rows = 0 if state == "ran" else None
            message = text if state == "ran" else f"not checked: {text}"
            out[name] = {"rows": rows, "slice": None, "error_rate": None, "message": message}
    if report.notes:  # the features compared are the exact check's: say which were not
        out["exact_duplicates"]["message"] += "; " + "; ".join(report.notes)
    measures = {s.column: s.measure for s in report.separations}
    out["leaky_features"] = [
        {
            "column": f.column,
            "score": f.value,
            "measure": measures.get(f.column or ""),
            "threshold": f.threshold,
        }
        for f in report.by_check("leaky_feature")
    ]
    return out
