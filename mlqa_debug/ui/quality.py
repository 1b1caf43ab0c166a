"""The Data quality page's parts: cached runs, the reference picker, the tables and sections.

One-table results (the quality report, calibration, label distribution) are
memoised on the shared :class:`~mlqa_debug.data.predictions.Predictions` (one
object per dataset version, so its fingerprint is the key); results over two
tables (leakage, drift) live in a process-wide cache keyed by both fingerprints.
A rerun recomputes nothing. The library computes
(:mod:`mlqa_debug.analyses.quality`), the tables here are plain text (every
number through :mod:`mlqa_debug.stats.format`, so no "nan" reaches the screen),
and the page draws.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from mlqa_debug.analyses.quality import (
    DEFAULT_THRESHOLDS,
    Calibration,
    ErrorComparison,
    Finding,
    QualityReport,
    compute_calibration,
    label_distribution,
    run_quality,
)
from mlqa_debug.analyses.quality.drift import (
    MIN_SLICE_ROWS,
    PSI_MAJOR,
    PSI_MODERATE,
    FeatureDrift,
    SliceErrorDrift,
    feature_drift,
    slice_drift_skipped,
    slice_error_drift,
)
from mlqa_debug.analyses.quality.leakage import LEAKAGE_CHECKS, LeakageReport, find_leakage
from mlqa_debug.data.checks import SEVERITIES, Severity
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import parse_slice
from mlqa_debug.stats.format import MISSING, count, interval, number, p_value, percent, points
from mlqa_debug.ui import serving
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.links import DS_PARAM, SLICE_PARAM, VS_PARAM, page_link, page_url
from mlqa_debug.ui.options import ViewOption, text, write_param
from mlqa_debug.ui.options import number as number_option
from mlqa_debug.ui.quality_case import save_finding_form
from mlqa_debug.ui.text import md, without_paths
from mlqa_debug.ui.widgets import open_slice_link

PAGE = "quality"
REFERENCE_KEY = "quality_reference"
FINDING_PARAM, LEAK_PARAM, COLUMN_PARAM = "finding", "leak", "col"
LINK_COLUMN = st.column_config.LinkColumn("open", display_text="Slices ↗", width=80)
TOP_SLICES = 20
"""Slices shown in the error-rate drift table."""
LABEL_LENGTH = 90
"""Characters of a slice a link's label shows (an ``id in (...)`` slice can be long)."""


# --------------------------------------------------------------------------- options


def quality_options(ctx: PageContext) -> Iterator[ViewOption[Any]]:
    """The finding shown in detail, the leakage finding shown, the column whose drift is drawn."""
    report = report_for(ctx.predictions)
    yield number_option(
        FINDING_PARAM,
        1,
        low=1,
        high=max(1, len(report.findings)),
        integer=True,
        key="quality_finding",
        what="the finding",
    )
    yield number_option(
        LEAK_PARAM,
        1,
        low=1,
        high=1_000,
        integer=True,
        key="quality_leak",
        what="the leakage finding",
    )
    yield text(COLUMN_PARAM, key="quality_col", what="the column whose drift is drawn")


# --------------------------------------------------------------------------- cached runs


def report_for(predictions: Predictions) -> QualityReport:
    """Every registered quality check on the whole table (once per dataset version)."""
    return predictions.memo("quality:report", lambda: run_quality(predictions))


def calibration_for(predictions: Predictions) -> Calibration | None:
    """Reliability diagrams of the whole table; ``None`` without probabilities."""
    bins = int(DEFAULT_THRESHOLDS.calibration_bins)
    return predictions.memo(
        "quality:calibration", lambda: compute_calibration(predictions, n_bins=bins)
    )


def labels_for(predictions: Predictions) -> pd.DataFrame:
    """The label distribution table (classification only)."""
    return predictions.memo("quality:labels", lambda: label_distribution(predictions))


def _pair_key(current: Predictions, reference: Predictions) -> str:
    return f"{current.fingerprint}|{reference.fingerprint}"


# Keyed by both fingerprints; the tables themselves are not hashed (``_`` arguments).
@st.cache_resource(max_entries=8, show_spinner=False)
def _leakage(key: str, _current: Predictions, _reference: Predictions) -> LeakageReport:
    with serving.expensive_job("the leakage search"):
        return find_leakage(_current, _reference)


@st.cache_resource(max_entries=8, show_spinner=False)
def _drift(key: str, _current: Predictions, _reference: Predictions) -> list[FeatureDrift]:
    return feature_drift(_current, _reference)


@st.cache_resource(max_entries=8, show_spinner=False)
def _slice_drift(key: str, _current: Predictions, _reference: Predictions) -> list[SliceErrorDrift]:
    return slice_error_drift(_current, _reference)


def leakage_for(current: Predictions, reference: Predictions) -> LeakageReport:
    return _leakage(_pair_key(current, reference), current, reference)


def drift_for(current: Predictions, reference: Predictions) -> list[FeatureDrift]:
    return _drift(_pair_key(current, reference), current, reference)


def slice_drift_for(current: Predictions, reference: Predictions) -> list[SliceErrorDrift]:
    return _slice_drift(_pair_key(current, reference), current, reference)


# --------------------------------------------------------------------------- summary


def severity_text(counts: Mapping[Severity, int]) -> str:
    """``0 errors, 3 warnings, 2 info`` (worst first)."""
    parts = []
    for severity in reversed(SEVERITIES):
        n = counts.get(severity, 0)
        name = severity if severity == "info" or n == 1 else f"{severity}s"
        parts.append(f"{count(n)} {name}")
    return ", ".join(parts)


def summary(report: QualityReport) -> None:
    """Counts by severity, rows, and the checks that ran or were skipped (and why)."""
    counts = report.counts()
    cols = st.columns(5)
    cols[0].metric("Errors", count(counts["error"]))
    cols[1].metric("Warnings", count(counts["warning"]))
    cols[2].metric("Info", count(counts["info"]))
    cols[3].metric("Rows", count(report.n_samples))
    skipped = {n: (t, why) for n, (t, status, why) in report.checks.items() if status == "skipped"}
    ran = len(report.checks) - len(skipped)
    cols[4].metric("Checks run", f"{ran} of {len(report.checks)}")
    if skipped:
        st.caption(
            "Skipped: " + "; ".join(f"{md(title)} ({md(why)})" for title, why in skipped.values())
        )


def quality_link(dataset: str, counts: Mapping[Severity, int]) -> None:
    """The Data page's line: findings by severity and a link to the Data quality page."""
    st.caption(f"Data quality checks: {severity_text(counts)}.")
    page_link(
        PAGE, {DS_PARAM: dataset}, label="Open the Data quality page", icon=":material/fact_check:"
    )


# --------------------------------------------------------------------------- findings


def _slice_link(dataset: str, finding: Finding) -> str:
    """The Slices page on the finding's rows; ``""`` when no slice says them (or all rows)."""
    if not finding.slice:
        return ""
    return page_url("slices", {DS_PARAM: dataset, SLICE_PARAM: finding.slice})


def verdict(comparison: ErrorComparison | None) -> str:
    """``more errors`` / ``fewer errors`` (here than elsewhere) / ``not significant`` (Holm)."""
    if comparison is None:
        return MISSING
    if not comparison.significant:
        return "not significant"
    return "more errors" if comparison.difference.value > 0 else "fewer errors"


def rows_text(n_rows: int, n_samples: int) -> str:
    """``500 (10.0%)``; a share that rounds to nothing reads ``476 (< 0.1%)``."""
    share = n_rows / n_samples if n_samples else None
    if share is not None and 0 < share < 0.0005:
        return f"{count(n_rows)} (< 0.1%)"
    return f"{count(n_rows)} ({percent(share)})"


def finding_row(finding: Finding, dataset: str, n_samples: int) -> dict[str, Any]:
    """A finding as a table row: column, rows, error rate here vs elsewhere, verdict, link."""
    c = finding.comparison
    return {
        "column": finding.column or MISSING,
        "rows": rows_text(finding.n_rows, n_samples),
        "error here vs rest": (
            MISSING if c is None else f"{percent(c.inside.value)} vs {percent(c.outside.value)}"
        ),
        "difference": MISSING if c is None else points(c.difference.value),
        "Holm p": MISSING if c is None else p_value(c.adjusted_p),
        "verdict": verdict(c),
        "open": _slice_link(dataset, finding),
    }


def findings_frame(findings: Sequence[Finding], dataset: str, n_samples: int) -> pd.DataFrame:
    """One row per finding: severity, check, column, rows (count, %), error rate, link."""
    rows = [
        {"severity": f.severity, "check": f.title, **finding_row(f, dataset, n_samples)}
        for f in findings
    ]
    return pd.DataFrame(rows)


TABLE_COLUMNS = {
    "open": LINK_COLUMN,
    "severity": st.column_config.TextColumn("severity", width=70),
    "rows": st.column_config.TextColumn("rows", width=100),
    "error here vs rest": st.column_config.TextColumn(
        "error here vs rest", width=130, help="Error rate on these rows and on the other rows"
    ),
    "difference": st.column_config.TextColumn(
        "difference", width=80, help="Here minus the rest; its 95% interval is in the detail"
    ),
    "Holm p": st.column_config.TextColumn("Holm p", width=65),
    "verdict": st.column_config.TextColumn(
        "verdict",
        width=115,
        help=f"Whether the error rates differ, Holm-adjusted (α = {DEFAULT_THRESHOLDS.alpha:g})",
    ),
}
"""Column widths of the findings and leakage tables, so that every column fits a laptop screen."""


def findings_table(findings: Sequence[Finding], dataset: str, n_samples: int, *, key: str) -> None:
    st.dataframe(
        findings_frame(findings, dataset, n_samples),
        hide_index=True,
        width="stretch",
        height=min(35 * (len(findings) + 1) + 3, 400),
        key=key,
        column_config=TABLE_COLUMNS,
    )


def comparison_frame(comparison: ErrorComparison) -> pd.DataFrame:
    """The error rate on the rows, elsewhere and their difference, with 95% intervals."""
    return pd.DataFrame(
        {
            "": ["these rows", "elsewhere", "difference"],
            "error rate": [
                interval(comparison.inside),
                interval(comparison.outside),
                interval(comparison.difference, points),
            ],
            "p (raw)": ["", "", p_value(comparison.p_value)],
            "p (Holm)": ["", "", p_value(comparison.adjusted_p)],
        }
    )


def shorten(text_: str, limit: int = LABEL_LENGTH) -> str:
    """``text_`` cut to ``limit`` characters (with "…"), for a one-line label."""
    return text_ if len(text_) <= limit else text_[: limit - 1] + "…"


def finding_label(i: int, finding: Finding) -> str:
    where = f" · {finding.column}" if finding.column else ""
    return f"{i}. [{finding.severity}] {finding.title}{where} ({count(finding.n_rows)} rows)"


def finding_detail(ctx: PageContext, finding: Finding, *, reference: str | None, key: str) -> None:
    """A finding's sentence, its error comparison, a link to its rows and "Save as case"."""
    st.markdown(f"**{md(finding.title)}**: {md(finding.sentence())}")
    if finding.comparison is not None:
        st.dataframe(comparison_frame(finding.comparison), hide_index=True, key=f"{key}_cmp")
        st.caption(
            "95% intervals (Wilson for the rates, Newcombe for the difference); the p-value is "
            "Holm-adjusted over every comparison of the report."
        )
    if finding.slice:
        label = f"Open these rows: {shorten(finding.slice)}"
        open_slice_link(ctx.name, parse_slice(finding.slice), label=label)
    elif finding.n_rows == finding.n_samples:
        st.caption("This finding is about a whole column or the whole table, not some rows.")
    else:
        st.caption(
            "No slice selects exactly these rows: they are listed by id only when the table "
            "has a text id column and there are few of them."
        )
    save_finding_form(ctx.predictions, finding, dataset=ctx.name, reference=reference, key=key)


def pick_finding(
    ctx: PageContext, findings: Sequence[Finding], param: str, *, label: str
) -> Finding:
    """A selectbox of the findings (bound to the option ``param``); the one chosen."""
    if ctx.options[param] > len(findings):
        ctx.correct(param, 1, reason=f"there are {len(findings)} findings")
    st.selectbox(
        label,
        list(range(1, len(findings) + 1)),
        format_func=lambda i: finding_label(i, findings[i - 1]),
        **ctx.bind(param),
    )
    return findings[int(ctx.options[param]) - 1]


# --------------------------------------------------------------------------- calibration


def ece_frame(found: Calibration) -> pd.DataFrame:
    """ECE of the top label and of each class, with what the thresholds make of it."""
    t = DEFAULT_THRESHOLDS

    def level(ece: float) -> str:
        if ece >= t.ece_error:
            return "error"
        return "warning" if ece >= t.ece_warning else "calibrated"

    curves = (found.top_label, *found.per_class)
    return pd.DataFrame(
        {
            "curve": [c.name if c is found.top_label else f"class {c.name}" for c in curves],
            "ECE": [number(c.ece) for c in curves],
            "verdict": [level(c.ece) for c in curves],
        }
    )


# --------------------------------------------------------------------------- the reference


def _pick_reference() -> None:
    write_param(VS_PARAM, st.session_state.get(REFERENCE_KEY))


def reference_picker(ctx: PageContext) -> None:
    """Every other dataset of the workspace; a choice puts it in the link (``vs``)."""
    names = [n for n in ctx.workspace.names() if n != ctx.name]
    current = ctx.second.name if ctx.second is not None else None
    if current is not None and current not in names:
        names.append(current)
    st.session_state[REFERENCE_KEY] = current
    st.selectbox(
        "Reference table",
        names,
        index=None,
        key=REFERENCE_KEY,
        on_change=_pick_reference,
        placeholder="Choose a training or reference table",
        help="The training set, or the same kind of table from an earlier period: leakage "
        "looks for its rows in this table, drift compares the two distributions.",
    )


def reference_problem(ctx: PageContext) -> str | None:
    """Why the chosen reference cannot be compared with this table, or ``None``."""
    if ctx.second is None:
        return None
    if ctx.second.name == ctx.name:
        return f"The reference is {ctx.name!r} itself: choose another dataset."
    current, reference = ctx.predictions, ctx.second.predictions
    shared = [c for c in current.schema.features if c in reference.frame.columns]
    if not shared:
        return (
            f"{ctx.second.name!r} has none of the feature columns of {ctx.name!r} "
            f"(expected some of: {', '.join(map(repr, list(current.schema.features)[:8]))}; "
            f"it has: {', '.join(map(repr, list(reference.frame.columns)[:8]))}): "
            "choose a reference with the same columns."
        )
    return None


def missing_columns(ctx: PageContext) -> list[str]:
    """Features of this table the reference lacks (left out of leakage and drift)."""
    if ctx.second is None:
        return []
    return [
        c for c in ctx.predictions.schema.features if c not in ctx.second.predictions.frame.columns
    ]


def run_or_say(what: str, build: Any, ctx: PageContext) -> Any:
    """``build()``, or an error naming both tables (and ``None``) when the input is unusable."""
    try:
        return build()
    except MlqaError as e:
        name = ctx.second.name if ctx.second is not None else ""
        st.error(
            md(f"{what} of {ctx.name!r} against {name!r} failed: {without_paths(e, ctx.workspace)}")
        )
        return None


# --------------------------------------------------------------------------- leakage


def leakage_frame(report: LeakageReport, dataset: str, n_samples: int) -> pd.DataFrame:
    """One row per leakage finding, and one per check that found nothing or did not run."""
    rows: list[dict[str, Any]] = []
    for name, check in LEAKAGE_CHECKS.items():
        found = report.by_check(name)
        rows += [{"check": f.title, **finding_row(f, dataset, n_samples)} for f in found]
        if not found:
            ran = report.status.get(name, ("skipped", ""))[0] == "ran"
            rows.append({"check": check.title, "column": MISSING,
                         "rows": rows_text(0, n_samples) if ran else MISSING,
                         "error here vs rest": MISSING, "difference": MISSING,
                         "Holm p": MISSING, "verdict": "none found" if ran else "not checked",
                         "open": ""})  # fmt: skip
    return pd.DataFrame(rows)


def leakage_notes(report: LeakageReport) -> list[str]:
    """Why a check did not run, and the columns left out of the comparison."""
    skipped = [
        f"{LEAKAGE_CHECKS[name].title}: not checked ({why})"
        for name, (state, why) in report.status.items()
        if state == "skipped" and name in LEAKAGE_CHECKS
    ]
    return skipped + list(report.notes)


def leakage_caption(report: LeakageReport) -> str:
    """The near-duplicate threshold, and the reference rows searched when sampled."""
    said = (
        f"Near duplicates: rows within distance {number(report.near_threshold)} of a reference "
        "row (root-mean-square difference of the numeric features in units of the reference's "
        "interquartile range; the other features equal)"
    )
    sampled = report.near_sampled
    if sampled is not None and sampled < report.n_reference:
        said += (
            f"; approximate: searched a seeded sample of {count(sampled)} of "
            f"{count(report.n_reference)} reference rows"
        )
    return said + "."


# --------------------------------------------------------------------------- drift


def drift_frame(drifts: Sequence[FeatureDrift]) -> pd.DataFrame:
    """The ranked drift table: column, role, PSI, level, test, statistic, p-value."""
    return pd.DataFrame(
        {
            "column": [d.column for d in drifts],
            "role": [d.role for d in drifts],
            "PSI": [number(d.psi) for d in drifts],
            "level": [d.level for d in drifts],
            "test": [{"ks": "Kolmogorov-Smirnov", "chi2": "chi-squared"}[d.test] for d in drifts],
            "statistic": [number(d.statistic) for d in drifts],
            "p-value": [p_value(d.p_value) for d in drifts],
        }
    )


DRIFT_NOTE = (
    f"Ranked by PSI (population stability index): under {PSI_MODERATE} stable, up to "
    f"{PSI_MAJOR} moderate, above major. The test's p-value is reported, not used to rank: "
    "at large n any test flags a negligible shift."
)


def pick_drift_column(ctx: PageContext, drifts: Sequence[FeatureDrift]) -> FeatureDrift:
    """A selectbox of the compared columns (bound to ``col``; the top-ranked by default)."""
    columns = [d.column for d in drifts]
    asked = ctx.options[COLUMN_PARAM]
    if asked and asked not in columns:
        ctx.correct(COLUMN_PARAM, columns[0], reason="no such column in both tables")
    option = ctx.option(COLUMN_PARAM)
    if st.session_state.get(option.session_key) not in columns:
        st.session_state[option.session_key] = columns[0]
    st.selectbox("Column to draw", columns, **ctx.bind(COLUMN_PARAM))
    return drifts[columns.index(st.session_state[option.session_key])]


def slice_drift_frame(
    drifts: Sequence[SliceErrorDrift], dataset: str, *, limit: int = TOP_SLICES
) -> pd.DataFrame:
    """The slices whose error rate moved most: both rates, difference with interval, Holm p."""
    rows = [
        {
            "slice": d.slice,
            "rows": f"{count(d.n_reference)} → {count(d.n_current)}",
            "error rate": f"{percent(d.reference.value)} → {percent(d.current.value)}",
            "difference (95% CI)": interval(d.difference, points),
            "Holm p": p_value(d.adjusted_p),
            "verdict": (
                ("worse" if d.difference.value > 0 else "better")
                if d.significant
                else "not significant"
            ),
            "open": page_url("slices", {DS_PARAM: dataset, SLICE_PARAM: d.slice}),
        }
        for d in list(drifts)[:limit]
    ]
    return pd.DataFrame(rows)


SLICE_DRIFT_COLUMNS = {
    "open": LINK_COLUMN,
    "rows": st.column_config.TextColumn("rows", width=120, help="In the reference → current"),
    "error rate": st.column_config.TextColumn(
        "error rate", width=130, help="In the reference → current"
    ),
    "Holm p": st.column_config.TextColumn("Holm p", width=65),
    "verdict": st.column_config.TextColumn("verdict", width=110),
}


def no_slice_drift(current: Predictions, reference: Predictions) -> str:
    """Why no slice's error rate is compared."""
    reason = slice_drift_skipped(current, reference)
    return reason or f"no slice has {MIN_SLICE_ROWS} rows or more in both tables"
