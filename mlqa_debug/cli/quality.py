"""``mlqa-debug quality FILE [--reference FILE]``: can this table be trusted for an evaluation?

Runs every registered data-quality check (:func:`mlqa_debug.analyses.quality.run_quality`)
on FILE (a workspace dataset or a predictions file) and prints the findings, worst
first: check, column, severity, rows, a sentence with the error rate there against
the rest, and the slice that opens them. With ``--reference`` (the training or a
reference table) it adds leakage between the two and per-feature drift.
``--json`` prints ``{"findings": [...], "leakage": {...}, "drift": [...]}``
(``leakage`` and ``drift`` are ``null`` without a reference).

A reference table may hold labels and no predictions (a training set): the loader
refuses such a table ("no prediction column"), so the command loads it again
with its label column standing in for the prediction, which leakage and drift of
features and labels do not read.

Exit codes: 0 without a finding at or above ``--fail-on``'s severity (or without
``--fail-on``), 1 with one, 2 on bad input. Only the quality findings count;
leakage and drift are reported, not judged.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from mlqa_debug.analyses.quality import QualityReport, run_quality
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
from mlqa_debug.data.schema import PREDICTION_NAMES, Roles, find_roles
from mlqa_debug.errors import SchemaError
from mlqa_debug.stats.format import count, number, p_value

FAIL_LEVELS: tuple[Severity, ...] = ("warning", "error")
"""The severities ``--fail-on`` accepts."""


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
    leakage: dict[str, Any] | None = None
    drift: list[dict[str, Any]] | None = None
    if args.reference:
        reference = load_reference(args.reference, args)
        from mlqa_debug.analyses.quality.drift import drift_json, feature_drift

        leakage = _leakage(current, reference)
        drift = drift_json(feature_drift(current, reference))
    if args.json:
        print_json({"findings": report.to_json(), "leakage": leakage, "drift": drift})
    else:
        print(format_report(report, current.source))
        if drift is not None:
            print(format_reference(leakage, drift))
    failing = bool(args.fail_on) and bool(report.at_least(args.fail_on))
    return EXIT_FAILED if failing else EXIT_OK


def _leakage(current: Predictions, reference: Predictions) -> dict[str, Any] | None:
    """Leakage against the reference, or ``None`` (said on stderr) in a build without it."""
    try:
        from mlqa_debug.analyses.quality.leakage import find_leakage, leakage_json
    except ImportError:
        print("note: leakage checks are not in this version; drift only", file=sys.stderr)
        return None
    return leakage_json(find_leakage(current, reference))


def _load(target: str, args: argparse.Namespace, roles: Roles) -> Predictions:
    """A predictions file by path (a missing one is named), else a workspace dataset."""
    path = Path(target)
    if path.suffix.lower() in SUPPORTED_SUFFIXES or len(path.parts) > 1 or path.exists():
        return load_predictions(path, roles=roles)
    return workspace_from_args(args).load(target, roles=roles, cache=True)


def load_reference(target: str, args: argparse.Namespace) -> Predictions:
    """The reference table; one with labels and no predictions gets its labels as predictions."""
    roles = roles_from_args(args)
    try:
        return _load(target, args, roles)
    except SchemaError as e:
        if e.expected != PREDICTION_NAMES or not isinstance(e.received, list):
            raise
        label = find_roles(e.received, roles, require_label=False)["label"]
        if label is None:
            raise
        return _load(target, args, dataclasses.replace(roles, prediction=label))


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


def format_reference(leakage: dict[str, Any] | None, drift: list[dict[str, Any]]) -> str:
    """Leakage counts (when checked) and the drifted features, from their JSON."""
    lines = [""]
    if leakage is not None:
        lines.append("leakage against the reference:")
        lines += [f"  {key}: {_short(value)}" for key, value in leakage.items()]
    drifted = [d for d in drift if d.get("drifted")]
    lines.append(f"drift: {count(len(drifted))} of {count(len(drift))} features drifted")
    lines += [
        f"  {d['column']}: PSI {number(d.get('psi'))}, {d.get('test')} statistic "
        f"{number(d.get('statistic'))}, p {p_value(d.get('p_value'))}"
        for d in drifted
    ]
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return (
            f"{len(value)}: " + ", ".join(map(str, value[:5])) + (", ..." if len(value) > 5 else "")
        )
    return str(value)
