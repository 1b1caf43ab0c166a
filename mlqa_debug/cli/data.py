"""Dataset commands: ``app``, ``add``, ``list`` and ``validate``.

``app`` serves the dashboard on a workspace; ``add`` registers a predictions
file in it (a copy, or with ``--external`` a Parquet file, directory or glob by
reference, its aggregates on ``--engine duckdb|spark``); ``list`` shows what it
serves; ``validate`` reads a file and prints its summary (or ``--json``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from mlqa_debug.cli.common import (
    EXIT_OK,
    SubParsers,
    add_role_options,
    print_json,
    roles_from_args,
    workspace_from_args,
)
from mlqa_debug.data import checks
from mlqa_debug.data.external import EXTERNAL_ENGINES
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.data.workspace import ENV_WORKSPACE, DatasetEntry, DatasetExistsError
from mlqa_debug.errors import MlqaError, ParameterError, WorkspaceError

#: Environment variables the app's pages read (mlqa_debug/ui/serving.py names them too).
ENV_READ_ONLY = "MLQA_DEBUG_READ_ONLY"
ENV_USER_HEADER = "MLQA_DEBUG_USER_HEADER"
LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``app``, ``add``, ``list`` and ``validate`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser("app", help="launch the dashboard")
    p.add_argument("--workspace", help=ws_help)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost", help="address to bind (default: localhost)")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="visitors browse and run analyses; no uploads, role, case or model changes",
    )
    p.add_argument(
        "--user-header",
        metavar="NAME",
        help="request header naming the visitor (e.g. X-Forwarded-User), set by a trusted "
        "authenticating proxy; it becomes the author of saved cases",
    )
    p.set_defaults(handler=cmd_app)

    p = sub.add_parser("add", help="register a predictions file in the workspace (copies it)")
    p.add_argument(
        "file",
        help="CSV or Parquet predictions file; with --external also a directory of Parquet "
        "files (Hive key=value folders read as columns) or a glob",
    )
    p.add_argument("--name", required=True, help="dataset id: lowercase letters, digits, _ or -")
    p.add_argument("--model", help="model file (joblib) to register with it; trusted code")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset of that name")
    p.add_argument(
        "--baseline",
        metavar="OTHER",
        help="a dataset of the workspace holding an older model's predictions on the same "
        "examples: what this one is compared with by default (Compare page, relative cases)",
    )
    p.add_argument(
        "--external",
        action="store_true",
        help="register by reference: nothing is copied; the app shows a seeded sample and "
        "exact slice counts and metrics from --engine over every row",
    )
    p.add_argument(
        "--engine",
        choices=EXTERNAL_ENGINES,
        help="where an external dataset's aggregates run (with --external; default duckdb)",
    )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark master used to validate it (default: $MLQA_SPARK_MASTER, else local[2])",
    )
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("list", help="list the datasets the workspace serves")
    p.add_argument("--workspace", help=ws_help)
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("validate", help="check a predictions file and print its summary")
    p.add_argument("file", help="CSV or Parquet predictions file")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_role_options(p)
    p.set_defaults(handler=cmd_validate)


def app_dir() -> Path:
    """The folder holding ``app.py``: the checkout, or the copy packaged in the wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent, package / "_app"):
        if (candidate / "app.py").is_file() and (candidate / "pages").is_dir():
            return candidate
    raise MlqaError("the packaged app.py was not found; reinstall mlqa-debug")


def cmd_app(args: argparse.Namespace) -> int:
    """Become the Streamlit server (``exec``): its PID is this command's, so signals reach it."""
    folder = app_dir()
    env = app_environment(args)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(folder / "app.py"),
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    print(
        f"mlqa-debug: serving on http://{args.address}:{args.port} (pid {os.getpid()})",
        flush=True,
    )
    if args.address not in LOCAL_ADDRESSES:
        print(
            f"mlqa-debug: {args.address} is reachable from other machines; anyone who reaches "
            "the port can use the app: put an authenticating proxy in front "
            "(README, Serving a team)",
            file=sys.stderr,
            flush=True,
        )
    os.chdir(folder)
    os.execve(sys.executable, command, env)  # returns only by raising OSError


def app_environment(args: argparse.Namespace) -> dict[str, str]:
    """The server's environment: this one plus the workspace and serving options given."""
    env = dict(os.environ)
    if args.workspace:
        env[ENV_WORKSPACE] = str(Path(args.workspace).expanduser().resolve())
    if args.read_only:
        env[ENV_READ_ONLY] = "1"
    if args.user_header is not None:
        if not _HEADER_NAME.fullmatch(args.user_header):
            raise MlqaError(
                f"--user-header {args.user_header!r} is not a header name "
                "(letters, digits and -, e.g. X-Forwarded-User)"
            )
        env[ENV_USER_HEADER] = args.user_header
    return env


def cmd_add(args: argparse.Namespace) -> int:
    if not args.external and (args.engine or args.spark_master):
        raise ParameterError(
            "--engine and --spark-master apply to --external datasets only; add --external "
            "to register the table by reference, or drop them to copy the file"
        )
    try:
        entry = _add(args)
    except DatasetExistsError as e:  # the advice in the flags of this command
        advice = "choose another --name, or pass --overwrite to replace it"
        raise WorkspaceError(f"{e.fact}; {advice}") from e
    if entry.external is not None:
        ext = entry.external
        print(
            f"registered {entry.name!r} by reference (external, {ext.engine}): "
            f"{ext.rows:,} rows in {ext.files:,} file(s) at {ext.path}; nothing copied"
        )
    else:
        print(f"registered {entry.name!r} in {entry.path.parent}")
    if entry.reference_only:
        print(
            f"{entry.name!r} has labels and no predictions: registered as a reference table "
            "(the training set of leakage and drift checks: quality --reference, and the "
            "Data quality page's reference)"
        )
    if entry.baseline is not None:
        print(f"default baseline: {entry.baseline!r}")
    return EXIT_OK


def _add(args: argparse.Namespace) -> DatasetEntry:
    ws = workspace_from_args(args)
    common: dict[str, Any] = {
        "name": args.name,
        "roles": roles_from_args(args),
        "model": args.model,
        "overwrite": args.overwrite,
        "baseline": args.baseline,
    }
    if args.external:
        engine = args.engine or "duckdb"
        return ws.add_external(args.file, engine=engine, spark_master=args.spark_master, **common)
    return ws.add(args.file, **common)


def _kind(entry: DatasetEntry) -> str:
    if entry.builtin:
        return "built-in"
    if entry.external is not None:
        return "external"
    return "reference" if entry.reference_only else "registered"


def cmd_list(args: argparse.Namespace) -> int:
    for entry in workspace_from_args(args).entries():
        kind = _kind(entry)
        about = entry.description or entry.source or ""
        if entry.external is not None:
            ext = entry.external
            about = f"{ext.engine}, {ext.rows:,} rows: {ext.path}"
        if entry.baseline is not None:
            about += f" (baseline: {entry.baseline})"
        print(f"{entry.name:<24} {kind:<10} {about}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    predictions = load_predictions(args.file, roles=roles_from_args(args))
    summary = predictions.summary()
    if args.json:
        print_json(summary)
        return EXIT_OK
    print(format_summary(summary))
    print(checks.report_text(predictions.checks()))
    return EXIT_OK


def format_summary(summary: dict[str, Any]) -> str:
    """The human form of :meth:`Predictions.summary`."""
    lines = [
        f"{summary['source']}: {summary['rows']:,} rows, {summary['columns']} columns",
        f"task: {summary['task']}",
    ]
    if summary["classes"]:
        lines.append(f"classes: {', '.join(map(str, summary['classes']))}")
    lines.append(f"error rate: {summary['error_rate']:.2%} ({summary['errors']:,} errors)")
    lines.append(f"fingerprint: {summary['fingerprint'][:8]}")
    lines.append("columns:")
    for row in summary["roles"]:
        kind = f" ({row['type']})" if row["type"] else ""
        lines.append(f"  {row['column']:<28} {row['role']}{kind}")
    lines += [f"warning: {w}" for w in summary["warnings"]]
    return "\n".join(lines)
