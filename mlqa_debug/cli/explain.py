"""``mlqa-debug explain`` and ``mlqa-debug attach-model``.

``explain`` prints which features matter more inside a slice than in the rest
and which push the slice's errors toward the wrong class; it also fills the
SHAP cache, so the Explanations page opens instantly on those rows.
``attach-model`` lists the model files in ``$MLQA_DEBUG_TRUSTED_MODELS`` or
copies one into a registered dataset.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses import explain as ex
from mlqa_debug.cli.common import EXIT_OK, is_file_target, load_dataset_or_file, print_json
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace
from mlqa_debug.errors import SchemaError


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], *, ws_help: str) -> None:
    """Add ``explain`` and ``attach-model`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser("explain", help="SHAP: what drives a slice's errors (fills the cache)")
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--where", default="", help="the slice, e.g. \"region == 'north'\" (all rows)")
    p.add_argument(
        "--rows", type=int, default=ex.DEFAULT_MAX_ROWS, help="rows to explain: slice + rest sample"
    )
    p.add_argument("--target", help="class to explain (default: positive, or each row's predicted)")
    p.add_argument("--source", choices=["model", "precomputed"], help="default: what exists")
    p.add_argument("--model", help="model file for a predictions file given by path")
    p.add_argument("--time-budget", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument("--top", type=int, default=10, help="features to print (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser(
        "attach-model", help=f"list or attach a model file from ${ENV_TRUSTED_MODELS}"
    )
    p.add_argument("dataset", help="a registered dataset")
    p.add_argument("filename", nargs="?", help="a file name in the trusted folder (omit to list)")
    p.add_argument("--name", help="model name (default: the file's stem)")
    p.add_argument("--version", help="model version")
    p.add_argument("--workspace", help=ws_help)
    p.set_defaults(handler=cmd_attach_model)


def _model(args: argparse.Namespace, ws: Workspace) -> ex.LoadedModel | None:
    """``--model`` (a path the user typed: trusted by them), else the dataset's own model."""
    if args.model:
        path = Path(args.model).expanduser()
        return ex.load_model(path, roots=[path.resolve().parent])
    return None if is_file_target(args.dataset) else ex.dataset_model(ws, args.dataset)


def _progress(what: str, share: float | None) -> None:
    print(f"\r{what}", end="", file=sys.stderr, flush=True)


def cmd_explain(args: argparse.Namespace) -> int:
    from mlqa_debug.slicing import parse_slice, slice_mask

    ws = Workspace(args.workspace)
    predictions = load_dataset_or_file(args.dataset, args)
    model = _model(args, ws)
    sources = ex.available_sources(predictions, has_model=model is not None)
    source = args.source or (sources[0] if sources else "model")
    mask = slice_mask(predictions, parse_slice(args.where))
    budget = predictions.n_samples if source == "precomputed" else max(1, args.rows)
    plan = ex.plan_rows(predictions, mask, max_rows=budget)
    result = ex.explain(
        predictions,
        plan.rows,
        model=model,
        source=source,
        cache_dir=ws.cache_dir("shap"),
        time_budget=args.time_budget,
        progress=None if args.json else _progress,
    )
    if result.computed and not args.json:
        print(file=sys.stderr)
    report = _report(predictions, result, plan, mask, args)
    if args.json:
        print_json(report)
    else:
        print(_text(report))
    return EXIT_OK


def _report(
    predictions: Predictions,
    result: ex.ExplainResult,
    plan: ex.RowPlan,
    mask: np.ndarray,
    args: argparse.Namespace,
) -> dict[str, Any]:
    expl, info = result.explanation, result.explanation.info
    target = args.target or ex.target_options(predictions, info.source)[0]
    if target not in ex.target_options(predictions, info.source):
        raise SchemaError(
            f"--target {target!r} is not one of {ex.target_options(predictions, info.source)}",
            expected=ex.target_options(predictions, info.source),
            received=target,
        )
    att = ex.toward(expl, predictions, target)
    inside = mask[att.rows]
    importance = ex.importance_table(att, inside)
    push = ex.push_table(ex.toward_error(expl, predictions), predictions.error[att.rows], inside)
    return {
        "slice": args.where,
        "target": att.target,
        "method": info.method,
        "explainer": info.explainer,
        "explainer_reason": info.explainer_reason,
        "model": info.model,
        "output_space": info.output_space,
        "approximate": info.approximate,
        "additive": info.additive,
        "additivity_error": info.additivity_error,
        "agreement": info.agreement,
        "rows": {
            "slice": int(inside.sum()),
            "slice_total": plan.n_slice,
            "rest": int((~inside).sum()),
            "rest_total": plan.n_rest,
            "computed": result.computed,
            "not_explained": len(result.remaining),
        },
        "seconds": round(result.seconds, 3),
        "importance": _records(importance.head(args.top)),
        "push": _records(push.head(args.top)),
        "notes": list(info.notes),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _text(report: dict[str, Any]) -> str:
    rows = report["rows"]
    check = {True: "✓", False: "✗", None: "not checkable"}[report["additive"]]
    lines = [
        f"slice: {report['slice'] or '(all rows)'}  ({rows['slice']:,} of {rows['slice_total']:,} "
        f"slice rows and {rows['rest']:,} of {rows['rest_total']:,} other rows explained)",
        f"{report['method']}{' · model ' + report['model'] if report['model'] else ''} · "
        f"output space: {report['output_space']} · additivity {check} · "
        f"{rows['computed']:,} rows computed in {report['seconds']:.1f} s",
    ]
    if report["explainer_reason"]:
        lines.append(f"explainer: {report['explainer_reason']}")
    if report["approximate"]:
        lines.append("approximate: exact TreeSHAP would not fit the time budget (Saabas values)")
    if rows["not_explained"]:
        lines.append(f"{rows['not_explained']:,} rows not explained within --time-budget")
    lines += [f"note: {n}" for n in report["notes"]]
    lines += ["", f"What matters more in the slice (mean |SHAP| toward {report['target']}):"]
    lines.append(_table(report["importance"]))
    lines += ["", "What pushes the slice's errors toward the mistake (mean SHAP):"]
    lines.append(_table(report["push"]))
    return "\n".join(lines)


def _table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "  (none)"
    frame = pd.DataFrame(records).dropna(axis=1, how="all")
    return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def cmd_attach_model(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if not args.filename:
        files = ex.trusted_model_files()
        folder = ex.trusted_models_dir()
        if folder is None:
            print(f"no trusted model folder: set {ENV_TRUSTED_MODELS} to a folder of model files")
        for name in files:
            print(name)
        return EXIT_OK
    entry = ex.register_model(ws, args.dataset, args.filename, name=args.name, version=args.version)
    print(f"attached {args.filename!r} to {entry.name!r} as {entry.roles.model.file}")  # type: ignore[union-attr]
    return EXIT_OK
