"""The ``mlqa-debug`` command.

Every sub-command prints a readable result (or ``--json``) and exits 0; bad
input prints the error's message and exits 2; a failed regression check exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.schema import TASKS, Roles
from mlqa_debug.data.workspace import ENV_WORKSPACE, Workspace
from mlqa_debug.errors import MlqaError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


def app_dir() -> Path:
    """The folder holding ``app.py``: the checkout, or the copy packaged in the wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent, package / "_app"):
        if (candidate / "app.py").is_file() and (candidate / "pages").is_dir():
            return candidate
    raise MlqaError("the packaged app.py was not found; reinstall mlqa-debug")


def add_role_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("column roles (default: by convention, then sidecar)")
    group.add_argument("--label", help="label column (default: label / y_true / target)")
    group.add_argument("--prediction", help="prediction column (default: prediction / y_pred)")
    group.add_argument("--id", dest="id_column", help="id column (default: id / example_id)")
    group.add_argument("--task", choices=TASKS, help="task (default: inferred)")
    group.add_argument("--positive", help="positive class of a binary task")


def _roles(args: argparse.Namespace) -> Roles:
    return Roles(
        id=args.id_column,
        label=args.label,
        prediction=args.prediction,
        task=args.task,
        positive=args.positive,
    )


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace(getattr(args, "workspace", None))


def load_dataset_or_file(target: str, args: argparse.Namespace) -> Predictions:
    """A registered dataset's name, or a path to a predictions file."""
    path = Path(target)
    if path.suffix and path.exists():
        return load_predictions(path, roles=_roles(args) if hasattr(args, "label") else None)
    return _workspace(args).load(target, roles=_roles(args) if hasattr(args, "label") else None)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_app(args: argparse.Namespace) -> int:
    folder = app_dir()
    env = dict(os.environ)
    if args.workspace:
        env[ENV_WORKSPACE] = str(Path(args.workspace).expanduser().resolve())
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
    print(f"mlqa-debug: serving on http://{args.address}:{args.port}", flush=True)
    return subprocess.call(command, cwd=folder, env=env)


def cmd_add(args: argparse.Namespace) -> int:
    entry = _workspace(args).add(
        args.file, name=args.name, roles=_roles(args), model=args.model, overwrite=args.overwrite
    )
    print(f"registered {entry.name!r} in {entry.path.parent}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    for entry in _workspace(args).entries():
        kind = "built-in" if entry.builtin else "registered"
        print(f"{entry.name:<24} {kind:<10} {entry.description or entry.source or ''}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    predictions = load_predictions(args.file, roles=_roles(args))
    summary = predictions.summary()
    if args.json:
        _print_json(summary)
        return EXIT_OK
    print(format_summary(summary))
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


def cmd_slice(args: argparse.Namespace) -> int:
    from mlqa_debug.slicing.slices import parse_slice
    from mlqa_debug.stats.report import difference_text, evaluate_slice, report_frame

    predictions = load_dataset_or_file(args.dataset, args)
    evaluation = evaluate_slice(predictions, parse_slice(args.where))
    if args.json:
        _print_json(evaluation.to_dict())
        return EXIT_OK
    print(f"slice: {evaluation.slice.text or '(all rows)'}  [id {evaluation.slice.id}]")
    print(report_frame(evaluation.report).to_string())
    print(difference_text(evaluation.report))
    return EXIT_OK


def cmd_discover(args: argparse.Namespace) -> int:
    from mlqa_debug.analyses.discovery.service import DiscoveryParams, discover_slices

    predictions = load_dataset_or_file(args.dataset, args)
    params = DiscoveryParams(
        alpha=args.alpha,
        k=args.k,
        max_level=args.max_level,
        min_support=args.min_support,
        n_bins=args.bins,
        features=tuple(args.features) if args.features else None,
        within=args.within or "",
        measure=args.measure,
    )
    result = discover_slices(predictions, params)
    if args.json:
        _print_json(
            {
                "rows_searched": result.n_rows,
                "mean_error": result.mean_error,
                "features": list(result.features),
                "slices": [d.to_dict() for d in result.slices],
            }
        )
        return EXIT_OK
    print(f"{result.n_rows:,} rows searched, mean error {result.mean_error:.4g}")
    print(f"{'#':>3} {'rows':>9} {'error':>8} {'lift':>6} {'score':>7}  slice")
    for rank, d in enumerate(result.slices, start=1):
        print(
            f"{rank:>3} {d.size:>9,} {d.error_rate:>8.3g} {d.lift:>6.2f} {d.score:>7.3f}  "
            f"{d.slice.text}"
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlqa-debug", description="Error analysis for ML models: slices to regression tests."
    )
    parser.add_argument("--version", action="version", version="mlqa-debug 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True)
    ws_help = f"workspace directory (default: ${ENV_WORKSPACE} or ~/.mlqa-debug)"

    p = sub.add_parser("app", help="launch the dashboard")
    p.add_argument("--workspace", help=ws_help)
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost", help="address to bind (default: localhost)")
    p.set_defaults(handler=cmd_app)

    p = sub.add_parser("add", help="register a predictions file in the workspace (copies it)")
    p.add_argument("file", help="CSV or Parquet predictions file")
    p.add_argument("--name", required=True, help="dataset id: lowercase letters, digits, _ or -")
    p.add_argument("--model", help="model file (joblib) to register with it; trusted code")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset of that name")
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

    p = sub.add_parser("slice", help="metrics of a slice vs the rest vs all rows")
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--where", required=True, help="the slice, e.g. \"region == 'north'\"")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_slice)

    p = sub.add_parser("discover", help="find the worst slices automatically (SliceLine)")
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--alpha", type=float, default=0.95, help="error vs size weight (0, 1]")
    p.add_argument("--k", type=int, default=10, help="number of slices (default 10)")
    p.add_argument("--max-level", type=int, default=2, help="most predicates per slice")
    p.add_argument(
        "--min-support",
        type=float,
        default=0.01,
        help="minimum slice size: a fraction of rows (< 1) or a row count (default 0.01)",
    )
    p.add_argument("--bins", type=int, default=5, help="quantile bins per numeric feature")
    p.add_argument("--features", nargs="+", help="features to use (default: all)")
    p.add_argument("--within", help="search inside this slice")
    p.add_argument("--measure", choices=["error", "abs_error", "log_loss"], default="error")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_discover)

    from mlqa_debug.cli import embed as cli_embed

    cli_embed.add_commands(sub, ws_help=ws_help)

    from mlqa_debug.cli import cases as cli_cases

    cli_cases.add_commands(sub, ws_help=ws_help)

    from mlqa_debug.cli import explain as cli_explain

    cli_explain.add_commands(sub, ws_help=ws_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MlqaError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
