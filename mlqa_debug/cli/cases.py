"""Sub-commands for regression cases: ``case add|list|edit|rm``, ``check`` and ``export``.

They read and write the same files as the Cases page. The case directory is
``--cases DIR``, else ``$MLQA_DEBUG_CASES``, else ``<workspace>/cases``.

``check`` exits 0 when every case passes, 1 when one fails (or its slice is empty
in the new data; with ``--strict`` also when one does not apply) and 2 on bad
input: an unreadable predictions or baseline file, a missing or empty case
directory, a case file that cannot be read, or a quality case that cannot be
checked (its column or reference table is missing; the other cases are still
checked and reported).

Quality cases: ``case add DATASET --quality CHECK [--column C] [--reference R]``
saves a data-quality finding ("no more than 1% missing in income": ``--quality
missing_values --column income``; "no exact duplicates with the training set":
``--quality exact_duplicates --reference train.parquet``); the reference file is
stored relative to the case directory, a dataset name as it is.

Relative cases: ``case add CANDIDATE --where W --relative-to BASELINE --margin X``
saves "no worse than the baseline by more than X" (``error_rate <= baseline +
0.01``); ``check PREDICTIONS --baseline OTHER`` measures such cases on both tables,
and without ``--baseline`` compares with the baseline value stored at save.

History: ``check ... --record [--model-version V] [--run-id ID] [--history DIR]``
appends one record per case to the history (:mod:`mlqa_debug.history`); when a
history exists, the output, ``--json`` and JUnit carry each case's trend
("degrading" even while it passes).

Engines: ``check --engine duckdb|spark|auto PREDICTIONS`` measures every slice case
where the table lies (a Parquet file, directory or glob; see :mod:`mlqa_debug.engines`),
all slices in one pass, with the same output. Example sets are matched by id in the
engine; quality cases are counted there where they reduce to counts, else run on a
seeded sample the engine draws (the result then says "sampled");
``--baseline`` is read on the same engine (relative cases measured on both tables);
``--record`` needs ``--engine numpy`` for now.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlqa_debug.cases import (
    N_WRONG,
    QUALITY_METRICS,
    Case,
    CaseResult,
    CaseStore,
    CheckReport,
    Direction,
    QualitySession,
    build_case,
    build_quality_case,
    check_cases,
    default_metric,
    format_delta,
    format_value,
    metric_direction,
    resolve_cases_dir,
    resolve_metric,
)
from mlqa_debug.cases.build import measurement_of
from mlqa_debug.cases.export import export_cases, write_junit
from mlqa_debug.cases.relative import build_relative_case, threshold_for_margin
from mlqa_debug.cli.common import (
    EXIT_OK,
    add_engine_options,
    add_role_options,
    is_file_target,
    load_dataset_or_file,
    open_engine_from_args,
    roles_from_args,
    uses_loader,
)
from mlqa_debug.data.external import ExternalTable
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.engines import Engine, NumpyEngine, check_cases_on, open_engine
from mlqa_debug.errors import CaseError, MlqaError
from mlqa_debug.history import record_check, resolve_history_dir
from mlqa_debug.slicing import Slice, parse_slice

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

CASES_HELP = "cases directory (default: $MLQA_DEBUG_CASES, else <workspace>/cases)"
HISTORY_HELP = "history folder (default: $MLQA_DEBUG_HISTORY, else <workspace>/history)"
_STATUS_WORDS = {
    "pass": "PASS",
    "fail": "FAIL",
    "empty": "EMPTY",
    "not_applicable": "N/A",
    "error": "ERROR",
}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], *, ws_help: str) -> None:
    """Add ``case``, ``check`` and ``export`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser("case", help="manage regression cases: add, list, edit, rm")
    case_sub = p.add_subparsers(dest="case_command", required=True, metavar="{add,list,edit,rm}")
    _add_case_add(case_sub, ws_help)
    q = case_sub.add_parser("list", help="list the cases of a case directory")
    q.add_argument("--json", action="store_true", help="print JSON")
    _store_options(q, ws_help)
    q.set_defaults(handler=cmd_case_list)
    _add_case_edit(case_sub, ws_help)
    q = case_sub.add_parser("rm", help="delete a case (by name or id)")
    q.add_argument("case", metavar="NAME", help="the case's name or id")
    _store_options(q, ws_help)
    q.set_defaults(handler=cmd_case_rm)
    _add_check(sub, ws_help)
    p = sub.add_parser("export", help="write the cases as a pytest module plus fixture files")
    p.add_argument("--out", required=True, help="folder to write (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite files export did not write")
    _store_options(p, ws_help)
    p.set_defaults(handler=cmd_export)


def _store_options(parser: argparse.ArgumentParser, ws_help: str) -> None:
    parser.add_argument("--cases", metavar="DIR", help=CASES_HELP)
    parser.add_argument("--workspace", help=ws_help)


def _add_case_add(
    case_sub: argparse._SubParsersAction[argparse.ArgumentParser], ws_help: str
) -> None:
    p = case_sub.add_parser(
        "add",
        help="save a slice or an example set as a case",
        description="Measure the baseline on DATASET and save a case. Without --max/--min "
        "the threshold is the baseline plus the default tolerance "
        "(see mlqa_debug.cases.tolerance).",
    )
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--name", required=True, help="the case's name (unique in the directory)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--where", help="the slice, e.g. \"employment == 'gig'\" ('' = all rows)")
    target.add_argument("--ids", help="comma-separated example ids: an example-set case")
    target.add_argument(
        "--quality",
        metavar="CHECK",
        help="a data-quality check (missing_values, duplicate_rows, exact_duplicates ...): "
        "a quality case on the rows it flags (metric rows_share or rows)",
    )
    quality = p.add_argument_group("a quality case (--quality)")
    quality.add_argument("--column", help="the column the check looks at (e.g. income)")
    quality.add_argument(
        "--reference",
        metavar="R",
        help="the training or reference table of a leakage check: a dataset name or a file",
    )
    p.add_argument(
        "--metric",
        help="error_rate (default; mae for regression), accuracy, macro_f1, recall[CLASS], "
        "precision[CLASS], f1[CLASS], log_loss, brier, ece, rmse, r2; "
        "recall[positive] names the positive class; a quality case: rows_share or rows",
    )
    _bounds(p, "the condition (default: the baseline with the default tolerance)")
    relative = p.add_argument_group("a condition relative to a baseline model (slices only)")
    relative.add_argument(
        "--relative-to",
        metavar="OTHER",
        help="the baseline model's predictions (dataset name or file): the case passes while "
        "the metric is no worse than the baseline's by more than --margin",
    )
    relative.add_argument(
        "--margin",
        type=float,
        metavar="X",
        help="how much worse than the baseline is allowed, in the metric's units "
        "(0.01 = one point of a rate)",
    )
    p.add_argument("--note", default="", help="free text kept with the case")
    _store_options(p, ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_case_add)


def _bounds(parser: argparse.ArgumentParser, title: str) -> None:
    group = parser.add_argument_group(title).add_mutually_exclusive_group()
    group.add_argument("--max", type=float, metavar="X", help="pass when metric <= X")
    group.add_argument("--min", type=float, metavar="X", help="pass when metric >= X")


def _add_case_edit(
    case_sub: argparse._SubParsersAction[argparse.ArgumentParser], ws_help: str
) -> None:
    p = case_sub.add_parser("edit", help="rename a case, change its threshold or note")
    p.add_argument("case", metavar="NAME", help="the case's name or id")
    p.add_argument("--name", dest="new_name", help="new name (the id stays)")
    p.add_argument("--note", help="new note")
    _bounds(p, "new threshold")
    p.add_argument("--margin", type=float, metavar="X", help="new margin of a relative case")
    _store_options(p, ws_help)
    p.set_defaults(handler=cmd_case_edit)


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser], ws_help: str) -> None:
    p = sub.add_parser(
        "check",
        help="check every case against new predictions (exit 1 on a regression)",
        description="Evaluate every case of the case directory on PREDICTIONS. Exit 0 when "
        "all pass, 1 on any failure or empty slice, 2 on bad input.",
    )
    p.add_argument("predictions", help="predictions file (CSV or Parquet) or a dataset name")
    p.add_argument("--junit", metavar="OUT.xml", help="also write JUnit XML (Jenkins, GitLab)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--strict", action="store_true", help="cases that do not apply fail too")
    p.add_argument(
        "--baseline",
        metavar="OTHER",
        help="the baseline model's predictions (file or dataset name): relative cases are "
        "measured on it too (default: the baseline value stored in each case)",
    )
    record = p.add_argument_group("history (see 'mlqa-debug history')")
    record.add_argument(
        "--record", action="store_true", help="append this run's results to the history"
    )
    record.add_argument("--model-version", metavar="V", help="the model version to record")
    record.add_argument(
        "--run-id", metavar="ID", help="the run's id (default: the CI build, else the time)"
    )
    record.add_argument("--history", metavar="DIR", help=HISTORY_HELP)
    _store_options(p, ws_help)
    add_role_options(p)
    add_engine_options(p)
    p.set_defaults(handler=cmd_check)


# --------------------------------------------------------------------------- handlers


def _store(args: argparse.Namespace, *, create: bool = True) -> CaseStore:
    directory = resolve_cases_dir(args.cases, workspace=Workspace(args.workspace))
    return CaseStore(directory, create=create)


def _load(target: str, args: argparse.Namespace) -> Predictions:
    """A workspace dataset by name, or a predictions file (a missing file says so)."""
    from mlqa_debug.data.predictions import SUPPORTED_SUFFIXES

    path = Path(target)
    looks_like_file = path.suffix.lower() in SUPPORTED_SUFFIXES or len(path.parts) > 1
    if looks_like_file and not path.is_file():
        raise CaseError(f"predictions file {target!r} not found")
    return load_dataset_or_file(target, args)


def _external_table(target: str, args: argparse.Namespace) -> ExternalTable | None:
    """The external dataset ``target`` names (engine and sample), or None for any other."""
    if is_file_target(target) or Path(target).exists():
        return None
    ws = Workspace(args.workspace)
    try:
        entry = ws.entry(target)
    except MlqaError:
        return None  # not a dataset name: _load says what it is
    return None if entry.external is None else ws.open_external(target)


def _load_baseline(target: str, args: argparse.Namespace, flag: str) -> Predictions:
    """The baseline table of ``flag``; an error says it is the baseline that failed."""
    try:
        return _load(target, args)
    except MlqaError as e:
        raise CaseError(f"{flag} {target!r} cannot be loaded: {e}") from e


def _threshold(args: argparse.Namespace, metric: str) -> float | None:
    """``--max``/``--min`` as a threshold, checked against the metric's direction."""
    given: Direction | None = (
        "<=" if args.max is not None else ">=" if args.min is not None else None
    )
    if given is None:
        return None
    value = float(args.max if given == "<=" else args.min)
    if not math.isfinite(value):
        raise CaseError(f"the threshold must be a finite number, got {value}")
    if given != metric_direction(metric):
        better = "lower" if given == ">=" else "higher"
        flag = "--max" if given == ">=" else "--min"
        raise CaseError(f"{metric} is {better} is better, so its threshold is given with {flag}")
    return value


def cmd_case_add(args: argparse.Namespace) -> int:
    if args.quality is not None:
        return _add_quality(args)
    if args.column is not None or args.reference is not None:
        raise CaseError("--column and --reference belong to a quality case (--quality CHECK)")
    if args.relative_to is not None or args.margin is not None:
        return _add_relative(args)
    external = _external_table(args.dataset, args)
    predictions = _load(args.dataset, args) if external is None else external.sample
    ids = None if args.ids is None else [v.strip() for v in args.ids.split(",") if v.strip()]
    if ids is not None and args.metric not in (None, N_WRONG):
        raise CaseError(f"an example set (--ids) is checked by {N_WRONG}; drop --metric")
    metric = N_WRONG if ids is not None else args.metric or default_metric(predictions)
    if ids is None:
        metric = resolve_metric(metric, predictions)
    where = None if args.where is None else parse_slice(args.where)
    baseline = None
    if external is not None and ids is None:  # measured by the engine over every row
        report = external.slice_report(where or Slice())
        baseline = measurement_of(report.slice, metric)
    new = build_case(
        predictions,
        name=args.name,
        where=where,
        ids=ids,
        baseline=baseline,
        metric=metric,
        threshold=_threshold(args, metric),
        note=args.note,
        dataset=None if is_file_target(args.dataset) else args.dataset,
        page="cli",
    )
    store = _store(args)
    case = store.save(new.case, rows=new.rows)
    print(
        f"saved case {case.name!r} (id {case.id}) in {store.directory}: {case.condition} "
        f"(baseline {format_value(case.baseline, case.metric)} on {case.baseline_rows:,} rows)"
    )
    if not case.baseline_passes:
        print("note: the baseline already fails this threshold; the case fails until fixed")
    return EXIT_OK


def _add_quality(args: argparse.Namespace) -> int:
    """``case add DATASET --quality CHECK [--column C] [--reference R]``: a quality case."""
    if args.relative_to is not None or args.margin is not None:
        raise CaseError("a quality case is not relative to a baseline; drop --relative-to/--margin")
    if args.min is not None:
        raise CaseError("a quality case passes while at most so many rows are flagged: use --max")
    if args.metric is not None and args.metric not in QUALITY_METRICS:
        raise CaseError(f"a quality case uses --metric {' or '.join(QUALITY_METRICS)}")
    predictions = _load(args.dataset, args)
    store = _store(args)
    workspace = Workspace(args.workspace)
    case = build_quality_case(
        predictions,
        name=args.name,
        check=args.quality,
        column=args.column,
        reference=args.reference,  # a file: relative to where the command runs
        cases_dir=store.directory,
        metric=args.metric,
        threshold=args.max,
        note=args.note,
        dataset=None if is_file_target(args.dataset) else args.dataset,
        page="cli",
        workspace=workspace,
    )
    store.save(case)
    print(
        f"saved case {case.name!r} (id {case.id}) in {store.directory}: {case.target}: "
        f"{case.condition} (now {format_value(case.baseline, case.metric)} on "
        f"{case.baseline_rows:,} rows)"
    )
    if not case.baseline_passes:
        print("note: the table already fails this threshold; the case fails until fixed")
    return EXIT_OK


def _add_relative(args: argparse.Namespace) -> int:
    """``case add ... --relative-to OTHER --margin X``: a relative slice case."""
    if args.relative_to is None or args.margin is None:
        raise CaseError("a relative case needs both --relative-to OTHER and --margin X")
    if args.where is None:
        raise CaseError("--relative-to saves a slice (--where); example sets are not relative")
    if args.max is not None or args.min is not None:
        raise CaseError("a relative case's threshold is the baseline +- --margin; drop --max/--min")
    candidate = _load(args.dataset, args)
    baseline = _load_baseline(args.relative_to, args, "--relative-to")
    case = build_relative_case(
        candidate,
        baseline,
        where=parse_slice(args.where),
        metric=args.metric or default_metric(candidate),
        margin=args.margin,
        name=args.name,
        note=args.note,
        candidate_name=None if is_file_target(args.dataset) else args.dataset,
        baseline_name=None if is_file_target(args.relative_to) else args.relative_to,
        page="cli",
    )
    store = _store(args)
    store.save(case)
    reference = format_value(case.reference_value, case.metric)
    now = format_value(case.baseline, case.metric)
    print(
        f"saved case {case.name!r} (id {case.id}) in {store.directory}: {case.condition} "
        f"(baseline {reference} on {args.relative_to}; {now} on {case.baseline_rows:,} rows "
        f"of {args.dataset})"
    )
    if not case.baseline_passes:
        print(
            "note: this model is already worse than the baseline by more than the margin; "
            "the case fails until fixed"
        )
    return EXIT_OK


def cmd_case_list(args: argparse.Namespace) -> int:
    store = _store(args)
    listing = store.load()
    if args.json:
        data = {
            "directory": str(store.directory),
            "cases": [c.to_dict() for c in listing.cases],
            "problems": [{"file": p.file, "message": p.message} for p in listing.problems],
        }
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [_case_row(c) for c in listing.cases]
    header = ["ID", "NAME", "SLICE / EXAMPLES", "CONDITION", "BASELINE", "ROWS", "SAVED ON"]
    print(format_table(header, rows) if rows else f"no cases in {store.directory}")
    for problem in listing.problems:
        print(f"unreadable: {problem}", file=sys.stderr)
    return EXIT_OK


def _case_row(c: Case) -> list[str]:
    return [
        c.id,
        c.name,
        c.target,
        f"{c.op} {c.bound} ({c.metric})",
        format_value(c.baseline if c.reference_value is None else c.reference_value, c.metric),
        f"{c.baseline_rows:,}",
        c.source.dataset or c.source.file or "",
    ]


def cmd_case_edit(args: argparse.Namespace) -> int:
    store = _store(args, create=False)
    case = store.find(args.case)
    threshold = _edited_threshold(args, case)
    if args.new_name is None and args.note is None and threshold is None:
        raise CaseError("nothing to change: give --name, --note, --max, --min or --margin")
    updated = store.update(case.id, name=args.new_name, note=args.note, threshold=threshold)
    print(f"updated case {updated.name!r} (id {updated.id}): {updated.condition}")
    return EXIT_OK


def _edited_threshold(args: argparse.Namespace, case: Case) -> float | None:
    """The new threshold: ``--max``/``--min``, or for a relative case ``--margin``."""
    if not case.relative:
        if args.margin is not None:
            raise CaseError(f"case {case.name!r} is not relative to a baseline: use --max or --min")
        return _threshold(args, case.metric)
    if args.max is not None or args.min is not None:
        raise CaseError(
            f"case {case.name!r} is relative ({case.condition}): change it with --margin"
        )
    return None if args.margin is None else threshold_for_margin(case, args.margin)


def cmd_case_rm(args: argparse.Namespace) -> int:
    store = _store(args, create=False)
    removed = store.delete(store.find(args.case).id)
    print(f"removed case {removed.name!r} (id {removed.id}) from {store.directory}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    store = _store(args, create=False)
    listing = store.load()
    if not listing.cases and not listing.problems:
        raise CaseError(f"no cases in {store.directory}: nothing to check")
    engine = None if uses_loader(args.predictions, args.engine) else _open_engine(args)
    quality = QualitySession(store.directory, workspace=Workspace(args.workspace))
    if engine is not None and not isinstance(engine, NumpyEngine):
        on_baseline = None if args.baseline is None else _baseline_engine(args, engine)
        report = check_cases_on(engine, listing, baseline=on_baseline, quality=quality)
        return _report_check(args, store, report, {})
    predictions = _load(args.predictions, args) if engine is None else engine.predictions
    baseline = None if args.baseline is None else _load_baseline(args.baseline, args, "--baseline")
    report = check_cases(predictions, listing, baseline=baseline, quality=quality)
    return _report_check(args, store, report, _history(args, report, predictions))


def _open_engine(args: argparse.Namespace) -> Engine:
    """The predictions on ``--engine``; ``--record`` needs numpy for now."""
    engine = open_engine_from_args(args.predictions, args)
    if not isinstance(engine, NumpyEngine) and args.record:
        raise CaseError(
            f"--record needs --engine numpy (the {engine.name} engine does not record history yet)"
        )
    return engine


def _baseline_engine(args: argparse.Namespace, engine: Engine) -> Engine:
    """The ``--baseline`` table on the predictions' engine (``auto`` picks the same one)."""
    try:
        baseline = open_engine(
            args.baseline,
            "duckdb" if engine.name == "duckdb" else "spark",
            roles=roles_from_args(args),
            spark_master=args.spark_master,
        )
    except MlqaError as e:
        raise CaseError(f"--baseline {args.baseline!r} cannot be loaded: {e}") from e
    return baseline


def _report_check(
    args: argparse.Namespace,
    store: CaseStore,
    report: CheckReport,
    trends: dict[str, tuple[str, str]],
) -> int:
    """Write the JUnit file, print the table or JSON; the exit code."""
    if args.junit:
        path = write_junit(
            args.junit, report, properties={"cases": str(store.directory)}, trends=trends
        )
        print(f"JUnit report: {path}", file=sys.stderr)
    if args.json:
        data = report.to_dict() | {"exit_code": report.exit_code(strict=args.strict)}
        for result in data["results"]:
            result["trend"], result["trend_note"] = trends.get(result["id"], (None, None))
        print(json.dumps(data))
    else:
        print(format_report(report, cases_dir=str(store.directory), trends=trends))
    return report.exit_code(strict=args.strict)


def _history(
    args: argparse.Namespace, report: CheckReport, predictions: Predictions
) -> dict[str, tuple[str, str]]:
    """Record the run (``--record``); each case's (trend, note) over the history, if any."""
    directory = resolve_history_dir(args.history, workspace_root=Workspace(args.workspace).root)
    checked = record_check(
        report,
        predictions,
        directory=directory,
        record=args.record,
        run_id=args.run_id,
        model_version=args.model_version,
        dataset=None if is_file_target(args.predictions) else args.predictions,
    )
    for problem in checked.problems:
        print(f"warning: {problem}; line skipped", file=sys.stderr)
    if checked.recorded:
        print(
            f"recorded {checked.recorded} result(s) of run {checked.run_id} in {checked.path}",
            file=sys.stderr,
        )
    return checked.notes


def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args, create=False)
    result = export_cases(store, args.out, force=args.force)
    print(f"exported {result.n_cases} case(s) to {result.out}:")
    for path in result.files:
        print(f"  {path.relative_to(result.out)}")
    print(f"run: MLQA_PREDICTIONS=<predictions file> pytest {result.out}")
    return EXIT_OK


# --------------------------------------------------------------------------- text output


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, limit: int = 48) -> str:
    """A plain-text table; cells longer than ``limit`` are shortened with ``...``."""
    cells = [[_clip(str(c), limit) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _result_row(r: CaseResult) -> list[str]:
    c = r.case
    delta = format_delta(r.delta, c.metric, baseline=r.compared_with)
    threshold = f"{c.op} {format_value(r.limit, c.metric, digits=6)}"
    if c.relative:
        threshold += f" ({c.bound})"
    stored = "*" if c.relative and r.baseline_from != "table" else ""
    return [
        _STATUS_WORDS[r.status],
        c.name,
        c.target,
        c.metric,
        threshold,
        format_value(r.compared_with, c.metric) + stored,
        format_value(r.value, c.metric),
        delta,
        _rows_cell(r),
    ]


def _rows_cell(r: CaseResult) -> str:
    """Rows measured now; a quality case's ``12 of 20,000`` flagged; blank when not measured."""
    if r.status in ("not_applicable", "error"):
        return ""
    return f"{r.flagged:,} of {r.rows:,}" if r.flagged is not None else f"{r.rows:,}"


def format_report(
    report: CheckReport,
    *,
    cases_dir: str = "",
    trends: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The human summary of a check: header, table, details of what did not pass, totals.

    With ``trends`` (case id -> trend, note: see :func:`mlqa_debug.history.record_check`)
    the table has a TREND column and a degrading case is named below it, even passing.
    """
    info: dict[str, Any] = dict(report.predictions)
    model = (
        f", model {info['model']} {info.get('model_version') or ''}" if info.get("model") else ""
    )
    lines = [
        f"{len(report.results) + len(report.problems)} case(s) from {cases_dir or 'the library'} "
        f"against {info.get('file', '?')} ({info.get('rows', 0):,} rows, fingerprint "
        f"{str(info.get('fingerprint', ''))[:8]}{model.rstrip()})",
        *_baseline_lines(report),
        "",
    ]
    header = ["STATUS", "CASE", "SLICE / EXAMPLES", "METRIC", "THRESHOLD", "BASELINE", "VALUE"]
    rows = [_result_row(r) for r in report.results]
    trend_column = ["TREND"] if trends else []
    if trends:
        marks = [trends.get(r.case.id, ("", ""))[0] for r in report.results]
        rows = [[*row, mark] for row, mark in zip(rows, marks, strict=True)]
    if rows:
        lines.append(format_table([*header, "DELTA", "ROWS", *trend_column], rows))
    details = [f"{_STATUS_WORDS[r.status]}  {r.message}" for r in report.results if not r.passed]
    details += [
        f"DEGRADING  {r.case.name!r} ({_STATUS_WORDS[r.status]}): {trends[r.case.id][1]}"
        for r in report.results
        if trends and trends.get(r.case.id, ("",))[0] == "degrading"
    ]
    details += [f"UNREADABLE  {p}" for p in report.problems]
    if details:
        lines += ["", *details]
    lines += ["", report.summary()]
    return "\n".join(lines)


def _baseline_lines(report: CheckReport) -> list[str]:
    """The header line naming the baseline table, or saying relative cases use stored values."""
    if report.baseline is not None:
        b = report.baseline
        model = f", model {b['model']} {b.get('model_version') or ''}" if b.get("model") else ""
        return [
            f"relative cases against the baseline {b.get('file', '?')} ({b.get('rows', 0):,} "
            f"rows, fingerprint {str(b.get('fingerprint', ''))[:8]}{model.rstrip()})"
        ]
    if any(r.case.relative for r in report.results):
        return ["relative cases: no --baseline given; * = baseline value stored at save"]
    return []
