"""``mlqa-debug labels FILE``: suspected label errors, and applying a review log.

``mlqa-debug labels FILE [--where SLICE] [--top N] [--json]`` ranks the examples of
FILE (a workspace dataset or a predictions file) by how likely their label is wrong
(:func:`mlqa_debug.analyses.labels.rank_suspects`: confident learning, via cleanlab)
and prints the top N flagged suspects: id, given label, suggested label, score
(label quality, lower = more suspect) and, where the table has embeddings, the share
of the nearest neighbours whose label differs. ``--json`` prints
``{"method": ..., "rows": ..., "issues": ..., "suspects": [...]}``.

``mlqa-debug labels FILE --apply REVIEWLOG --out FILE`` applies a review log (the
latest decision per example) and writes the corrected table (``.csv`` or
``.parquet``); ``--corrections FILE.csv`` also writes the corrected labels.

Exit codes: 0 on success, 2 on bad input (no probabilities, an unknown slice, a
missing review log, ``--apply`` without ``--out``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import pandas as pd

from mlqa_debug.analyses.labels import (
    RANK_BY,
    SCOPES,
    LabelSuspects,
    apply_reviews,
    corrections_csv,
    label_neighbours,
    rank_suspects,
    read_log,
    write_table,
)
from mlqa_debug.cli.common import (
    EXIT_OK,
    SubParsers,
    add_role_options,
    load_dataset_or_file,
    print_json,
)
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError, SchemaError
from mlqa_debug.files import write_atomic
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.stats.format import count, number

DEFAULT_TOP = 20


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``labels`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser(
        "labels",
        help="suspected label errors (confident learning); apply a review log",
        description="Rank FILE's examples by how likely their label is wrong, or with "
        "--apply write the table corrected by a review log. Exit 2 on bad input.",
    )
    p.add_argument("file", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--where", help="rank the examples of this slice only")
    p.add_argument("--top", type=_positive, default=DEFAULT_TOP, help="suspects to print")
    p.add_argument("--rank-by", choices=RANK_BY, default=RANK_BY[0], help="label quality score")
    p.add_argument(
        "--scope",
        choices=SCOPES,
        default=SCOPES[0],
        help="estimate the class thresholds on the whole table (default) or the slice only",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--apply", metavar="REVIEWLOG", help="a review log (.jsonl) to apply")
    p.add_argument("--out", help="with --apply: the corrected table (.csv or .parquet)")
    p.add_argument("--corrections", help="with --apply: also write the corrected labels (CSV)")
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    p.set_defaults(handler=cmd_labels)


def cmd_labels(args: argparse.Namespace) -> int:
    if args.apply:
        return _cmd_apply(args)
    if args.out or args.corrections:
        raise ParameterError("--out and --corrections go with --apply REVIEWLOG", name="--out")
    predictions = load_dataset_or_file(args.file, args)
    mask = slice_mask(predictions, parse_slice(args.where)) if args.where else None
    result = rank_suspects(
        predictions, mask=mask, rank_by=args.rank_by, scope=args.scope, limit=args.top
    )
    top = suspect_rows(predictions, result, args.top)
    if args.json:
        print_json(
            {
                "method": result.method.citation,
                "rows": result.n_rows,
                "ranked": result.n_ranked,
                "issues": result.n_issues,
                "skipped": len(result.skipped),
                "suspects": top.astype(object).where(top.notna(), None).to_dict(orient="records"),
            }
        )
        return EXIT_OK
    print(
        f"{predictions.source}: {count(result.n_issues)} suspected label errors among "
        f"{count(result.n_ranked)} ranked rows{f' (slice: {args.where})' if args.where else ''}"
    )
    print(f"method: {result.method.citation}")
    print(format_suspects(top))
    return EXIT_OK


def suspect_rows(predictions: Predictions, result: LabelSuspects, top: int) -> pd.DataFrame:
    """The first ``top`` suspects as plain values, with the neighbour share where embedded."""
    rows = result.suspects.head(top).reset_index(drop=True)
    out = pd.DataFrame(
        {
            "rank": range(1, len(rows) + 1),
            "position": rows["position"].astype(int),
            "id": rows["id"].map(_plain),
            "given": rows["given"].map(_plain),
            "suggested": rows["suggested"].map(_plain),
            "score": rows["score"].astype(float),
        }
    )
    neighbours = label_neighbours(predictions, out["position"].to_numpy())
    if neighbours is not None:
        out["neighbours_differ"] = neighbours.disagreement
    return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def format_suspects(rows: pd.DataFrame) -> str:
    """The suspects as a fixed-width table (no 'nan': missing values print as '-')."""
    if rows.empty:
        return "no suspected label errors"
    header = f"{'#':>4}  {'id':<14} {'given':<12} {'suggested':<12} {'score':>8}"
    embedded = "neighbours_differ" in rows
    lines = [header + ("  neighbours differ" if embedded else "")]
    for r in rows.to_dict(orient="records"):
        shown = "-" if r["id"] is None else str(r["id"])
        given, suggested = str(r["given"]), str(r["suggested"])
        line = f"{r['rank']:>4}  {shown:<14} {given:<12} {suggested:<12} {number(r['score']):>8}"
        if embedded:
            share = float(r["neighbours_differ"])
            line += f"  {'-' if math.isnan(share) else f'{share:.0%}':>17}"
        lines.append(line)
    return "\n".join(lines)


def _cmd_apply(args: argparse.Namespace) -> int:
    if not args.out:
        raise ParameterError("--apply needs --out FILE for the corrected table", name="--out")
    log_path = Path(args.apply)
    if not log_path.is_file():
        raise SchemaError("review log not found", file=str(log_path))
    predictions = load_dataset_or_file(args.file, args)
    log = read_log(log_path)
    applied = apply_reviews(predictions, log.latest())
    out = write_table(applied.frame, args.out)
    if args.corrections:
        write_atomic(Path(args.corrections), corrections_csv(applied))
    if args.json:
        print_json(
            {
                "out": str(out),
                "decisions": len(log.decisions),
                "reviewed": len(applied.reviewed),
                "relabelled": applied.n_relabelled,
                "problems": [*map(str, log.problems), *applied.problems],
            }
        )
        return EXIT_OK
    print(
        f"{count(len(applied.reviewed))} reviewed examples, {count(applied.n_relabelled)} "
        f"relabelled; corrected table written to {out}"
    )
    for problem in [*map(str, log.problems), *applied.problems]:
        print(f"note: {problem}")
    return EXIT_OK
