"""``mlqa-debug quality FILE [--reference FILE]``: can this table be trusted for an evaluation?

Runs every registered data-quality check (:func:`mlqa_debug.analyses.quality.run_quality`)
on FILE (a workspace dataset or a predictions file) and prints the findings, worst
first: check, column, severity, rows, a sentence with the error rate there against
the rest, and the slice that opens them. With ``--reference`` (the training or a
reference table) it adds leakage between the two, per-feature drift and the
drift of the error rate per slice. ``--json`` prints ``{"findings": [...],
"leakage": {...}, "drift": [...], "slice_drift": [...]}`` (``leakage``, ``drift``
and ``slice_drift`` are ``null`` without a reference; ``slice_drift`` also when
the reference has no predictions, said on stderr).

A reference table may hold labels and no predictions (a training set): the loader
refuses such a table ("no prediction column"), so the command loads it again
with its label column standing in for the prediction, which leakage and drift of
features and labels do not read.

Exit codes: 0 without a finding at or above ``--fail-on``'s severity (or without
``--fail-on``), 1 with one, 2 on bad input. Quality and leakage findings count
(exact copies of reference rows and shared ids are errors); drift is reported,
not judged (at large n every test flags something: see ``docs/quality.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlqa_debug.analyses.quality import QualityReport, at_least, run_quality
from mlqa_debug.analyses.quality.leakage import LeakageReport, find_leakage, leakage_json
from mlqa_debug.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    SubParsers,
    add_role_options,
    print_json,
    roles_from_args,
    workspace_from_args,
)
from mlqa_debug.data.checks import SEVERITIES, Severity
from mlqa_debug.data.predictions import SUPPORTED_SUFFIXES, Predictions, load_predictions
from mlqa_debug.data.reference import load_labelled
from mlqa_debug.data.schema import Roles
from mlqa_debug.stats.format import count, number, p_value, percent, points

FAIL_LEVELS: tuple[Severity, ...] = ("warning", "error")
"""The severities ``--fail-on`` accepts."""
TOP_SLICES = 10
"""Drifted slices the text output lists."""


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``quality`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser(
        "quality",
        help="data-quality checks of a predictions table (and leakage, drift against another)",
        description="Check FILE for missing values, constant and id-like features, outliers, "
        "duplicates, class imbalance and calibration; with --reference also leakage and "
        "drift against that table. Exit 1 when --fail-on is given and a finding at or above "
        "that severity exists, 2 on bad input.",
    )
    p.add_argument("file", help="the predictions table: a dataset name or a file")
    p.add_argument("--reference", help="training or reference table: a dataset name or a file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--fail-on", choices=FAIL_LEVELS, help="exit 1 on a finding at or above this severity"
    )
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_quality)


def cmd_quality(args: argparse.Namespace) -> int:
    current = _load(args.file, args, roles_from_args(args))
    report = run_quality(current)
    compared: dict[str, Any] = {"leakage": None, "drift": None, "slice_drift": None}
    skipped = None
    findings = list(report.findings)
    if args.reference:
        reference = load_reference(args.reference, args)
        leakage = find_leakage(current, reference)
        compared, skipped = against_reference(current, reference, leakage=leakage)
        findings += leakage.findings
    if args.json:
        if skipped is not None:
            print(f"note: error rate per slice not compared: {skipped}", file=sys.stderr)
        print_json({"findings": report.to_json(), **compared})
    else:
        print(format_report(report, current.source))
        if args.reference:
            print(format_reference(compared, skipped))
    failing = bool(args.fail_on) and any(at_least(f.severity, args.fail_on) for f in findings)
    return EXIT_FAILED if failing else EXIT_OK


def against_reference(
    current: Predictions, reference: Predictions, *, leakage: LeakageReport | None = None
) -> tuple[dict[str, Any], str | None]:
    """Leakage, drift and error-rate drift per slice as JSON, and why the last was skipped.

    ``leakage`` is the leakage report when the caller has found it already.
    """
    from mlqa_debug.analyses.quality.drift import (
        drift_json,
        feature_drift,
        slice_drift_json,
        slice_drift_skipped,
        slice_error_drift,
    )

    skipped = slice_drift_skipped(current, reference)
    slices = None if skipped else slice_drift_json(slice_error_drift(current, reference))
    compared = {
        "leakage": leakage_json(leakage or find_leakage(current, reference)),
        "drift": drift_json(feature_drift(current, reference)),
        "slice_drift": slices,
    }
    return compared, skipped


def _load(target: str, args: argparse.Namespace, roles: Roles) -> Predictions:
    """A predictions file by path (a missing one is named), else a workspace dataset."""
    path = Path(target)
    if path.suffix.lower() in SUPPORTED_SUFFIXES or len(path.parts) > 1 or path.exists():
        return load_predictions(path, roles=roles)
    return workspace_from_args(args).load(target, roles=roles, cache=True)


def load_reference(target: str, args: argparse.Namespace) -> Predictions:
    """The reference table; one with labels and no predictions gets its labels as predictions."""
    return load_labelled(lambda roles: _load(target, args, roles), roles_from_args(args))


def format_report(report: QualityReport, source: str) -> str:
    """The human form: counts by severity, then one block per finding, worst first."""
    counts = report.counts()
    summary = ", ".join(f"{count(counts[s])} {s}" for s in reversed(SEVERITIES))
    lines = [f"{source}: {count(report.n_samples)} rows; findings: {summary}"]
    for f in report.findings:
        where = f" {f.column!r}" if f.column else ""
        lines.append(f"[{f.severity}] {f.check}{where}: {count(f.n_rows)} rows: {f.sentence()}")
        if f.slice:
            lines.append(f"    slice: {f.slice}")
    skipped = [
        f"{name} ({why})" for name, (_, status, why) in report.checks.items() if status == "skipped"
    ]
    if skipped:
        lines.append("skipped: " + "; ".join(skipped))
    return "\n".join(lines)


def format_reference(compared: dict[str, Any], skipped: str | None = None) -> str:
    """Leakage, the drifted features and the most drifted slices, from their JSON."""
    leakage, drift = compared["leakage"], compared["drift"]
    lines = ["", "leakage against the reference:"]
    for key in ("exact_duplicates", "near_duplicates", "shared_ids"):
        item = leakage[key]
        rows = "not checked" if item["rows"] is None else f"{count(item['rows'])} rows"
        lines.append(f"  {key}: {rows}: {item['message']}")
        if item["slice"]:
            lines.append(f"    slice: {item['slice']}")
    leaky = leakage["leaky_features"]
    lines.append(f"  leaky_features: {count(len(leaky))}")
    lines += [
        f"    {f['column']!r}: {f['measure']} {number(f['score'])} "
        f"(threshold {number(f['threshold'])})"
        for f in leaky
    ]
    drifted = [d for d in drift if d.get("drifted")]
    lines.append(f"drift: {count(len(drifted))} of {count(len(drift))} features drifted")
    lines += [
        f"  {d['column']}: PSI {number(d.get('psi'))}, {d.get('test')} statistic "
        f"{number(d.get('statistic'))}, p {p_value(d.get('p_value'))}"
        for d in drifted
    ]
    return "\n".join(lines + _slice_lines(compared.get("slice_drift"), skipped))


def _slice_lines(slices: list[dict[str, Any]] | None, skipped: str | None) -> list[str]:
    """The error rate per slice: the significant changes, most drifted first."""
    if slices is None:
        return [f"error rate per slice: not compared: {skipped or 'no reference'}"]
    moved = [d for d in slices if d["significant"]]
    lines = [
        f"error rate per slice: {count(len(moved))} of the {count(len(slices))} most drifted "
        "slices changed significantly (Holm)"
    ]
    for d in moved[:TOP_SLICES]:
        ref, cur, diff = d["error_reference"], d["error_current"], d["difference"]
        lines.append(
            f"  {d['slice']}: {percent(ref['value'])} -> {percent(cur['value'])} "
            f"({points(diff['value'])}, 95% CI [{points(diff['low'])}, {points(diff['high'])}], "
            f"Holm p {p_value(d['adjusted_p'])}; {count(d['rows_current'])} rows)"
        )
    return lines
