"""``mlqa-debug compare BASELINE CANDIDATE``: is the new model worse anywhere, and is it real?

Pairs the rows of two predictions tables by id (each argument a workspace dataset
or a file) and prints the verdict, the headline metrics with paired tests, the
flips and the slices where the candidate is significantly worse after adjusting
for the number of slices compared; ``--json`` prints everything as JSON,
``--markdown`` a review summary for a pull request, ``--junit`` also writes JUnit
XML (one test case per slice checked plus ``overall``).

Engines: ``compare --engine duckdb|spark|auto BASELINE CANDIDATE`` joins the two
tables by id where they lie (Parquet files, directories or globs; see
:mod:`mlqa_debug.engines.compare`) and prints the same pairing, headline and flips;
the per-slice deltas, ``--discover``, ``--markdown`` and ``--junit`` need the rows
in memory (``--engine numpy``).

Exit codes: 0 no significant regression (or one without ``--fail-on-regression``),
1 a significant regression with ``--fail-on-regression``, 2 bad input (a missing
file, tables that cannot be paired, a bad slice or option).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlqa_debug.analyses.compare.report import (
    Comparison,
    _check_options,
    compare,
    write_comparison_junit,
)
from mlqa_debug.analyses.compare.summary import compare_link, review_markdown
from mlqa_debug.analyses.compare.view import (
    deltas_frame,
    flip_rows,
    headline_frame,
    verdict_sentence,
)
from mlqa_debug.cache import DiskCache
from mlqa_debug.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    SubParsers,
    add_engine_options,
    add_role_options,
    is_file_target,
    load_dataset_or_file,
    print_json,
    roles_from_args,
    uses_loader,
    workspace_from_args,
)
from mlqa_debug.data.predictions import SUPPORTED_SUFFIXES, Predictions
from mlqa_debug.engines import NumpyEngine, choose_engine, open_engine, resolve_source
from mlqa_debug.engines.compare import EngineComparison, compare_on, open_pair
from mlqa_debug.errors import CompareError, ParameterError
from mlqa_debug.slicing import Slice, parse_slice
from mlqa_debug.stats.corrections import CORRECTIONS
from mlqa_debug.stats.format import count, percent

SHOWN_SLICES = 10
"""Significantly worse slices the text output lists (``--json`` has them all)."""


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``compare`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser(
        "compare",
        help="compare a new model's predictions with a baseline's (paired tests, per slice)",
        description="Compare CANDIDATE (the new model) with BASELINE (the old one) on the "
        "same examples, paired by id. Exit 0 without a significant regression, 1 with one "
        "when --fail-on-regression is given, 2 on bad input.",
    )
    p.add_argument("baseline", help="the old model's predictions: a dataset name or a file")
    p.add_argument("candidate", help="the new model's predictions: a dataset name or a file")
    p.add_argument("--where", default="", help="compare inside this slice ('' = all rows)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print a review summary")
    p.add_argument("--junit", metavar="OUT.xml", help="also write JUnit XML (Jenkins, GitLab)")
    p.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 on a significant regression"
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0, 1)")
    p.add_argument("--min-size", type=int, default=30, help="hide slices with fewer rows")
    p.add_argument(
        "--correction",
        choices=tuple(CORRECTIONS),
        default="holm",
        help="adjustment of the slices' p-values: holm (default) or bh (Benjamini-Hochberg)",
    )
    p.add_argument(
        "--discover",
        action="store_true",
        help="also search slices where the candidate newly fails (SliceLine; slower)",
    )
    p.add_argument(
        "--link-base",
        metavar="URL",
        help="the app's URL: --markdown links each slice to its Compare page",
    )
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    add_engine_options(p)
    p.set_defaults(handler=cmd_compare)


def _load(target: str, args: argparse.Namespace, role: str) -> Predictions:
    """A workspace dataset by name, or a predictions file (a missing file says so).

    A directory or glob of Parquet files is read in process too (numpy engine).
    """
    if not uses_loader(target, "numpy"):
        engine = open_engine(target, "numpy", roles=roles_from_args(args))
        assert isinstance(engine, NumpyEngine)
        return engine.predictions
    path = Path(target)
    looks_like_file = path.suffix.lower() in SUPPORTED_SUFFIXES or len(path.parts) > 1
    if looks_like_file and not path.is_file():
        raise CompareError(f"{role} predictions file {target!r} not found")
    return load_dataset_or_file(target, args)


def _name(target: str) -> str | None:
    """The dataset name of an argument; None for a file (reports then use the file name)."""
    return None if is_file_target(target) else target


def _engine(args: argparse.Namespace) -> str:
    """Where the comparison runs: numpy for dataset names and ``--engine numpy``."""
    targets = (args.candidate, args.baseline)
    if args.engine == "numpy" or any(uses_loader(t, args.engine) for t in targets):
        return "numpy"
    if args.engine == "auto":
        chosen = {choose_engine(resolve_source(t)) for t in targets}
        return "duckdb" if "duckdb" in chosen else "numpy"
    return str(args.engine)


def cmd_compare(args: argparse.Namespace) -> int:
    where = parse_slice(args.where)
    engine = _engine(args)
    if engine != "numpy":
        return _compare_on_engine(args, where, engine)
    link = _link(args)
    with ThreadPoolExecutor(max_workers=1) as pool:  # reading and hashing let go of the GIL
        later = pool.submit(_load, args.candidate, args, "candidate")
        baseline = _load(args.baseline, args, "baseline")  # its error, if any, comes first
        candidate = later.result()
    cache = DiskCache(workspace_from_args(args).cache_dir("compare")) if args.discover else None
    comparison = compare(
        candidate,
        baseline,
        where=where,
        alpha=args.alpha,
        min_size=args.min_size,
        correction=args.correction,
        discover=args.discover,
        cache=cache,
        names=(_name(args.candidate), _name(args.baseline)),
    )
    if args.junit:
        path = write_comparison_junit(args.junit, comparison)
        print(f"JUnit report: {path}", file=sys.stderr)
    if args.json:
        print_json(comparison.to_dict())
    elif args.markdown:
        print(review_markdown(comparison, link=link), end="")
    else:
        print(format_comparison(comparison))
    return EXIT_FAILED if args.fail_on_regression and comparison.regression else EXIT_OK


def _compare_on_engine(args: argparse.Namespace, where: Slice, engine: str) -> int:
    """``compare --engine duckdb|spark``: the count-reducible comparison, joined in the engine."""
    for flag, given in (("--markdown", args.markdown), ("--junit", args.junit)):
        if given:
            raise ParameterError(
                f"{flag} reports the per-slice deltas, which need the rows in memory: "
                f"use --engine numpy (the {engine} engine gives the headline and flips)",
                name=flag,
                value=given,
            )
    _check_options(args.alpha, args.min_size, args.correction)
    candidate, baseline = open_pair(
        args.candidate,
        args.baseline,
        "duckdb" if engine == "duckdb" else "spark",
        roles=roles_from_args(args),
        spark_master=args.spark_master,
    )
    comparison = compare_on(
        candidate,
        baseline,
        where=where,
        alpha=args.alpha,
        names=(_name(args.candidate), _name(args.baseline)),
    )
    if args.discover:
        note = "--discover (SliceLine on the broken rows) needs the rows: use --engine numpy"
        comparison = dataclasses.replace(comparison, notes=(*comparison.notes, note))
    if args.json:
        print_json(comparison.to_dict())
    else:
        print(format_engine_comparison(comparison))
    return EXIT_FAILED if args.fail_on_regression and comparison.regression else EXIT_OK


def format_engine_comparison(comparison: EngineComparison) -> str:
    """:func:`format_comparison`'s summary for what an engine computes, then its notes."""
    c = comparison
    cand, base = c.candidate, c.baseline
    flips = [(label.lower(), n, rate) for label, n, rate in flip_rows(c.flips)]
    lines = [
        f"{c.verdict}: candidate {cand.name} ({cand.short_fingerprint}) vs baseline "
        f"{base.name} ({base.short_fingerprint})",
        f"slice: {c.where.text or 'all rows'}",
        c.paired.summary(),
        "",
        headline_frame(c.headline).to_string(index=False),
        "",
        "flips: " + ", ".join(f"{label} {n} ({rate})" for label, n, rate in flips),
        "",
        verdict_sentence(c.verdict, c.headline, None),
        "",
        f"engine: {c.engine}",
    ]
    return "\n".join(lines + [f"note: {note}" for note in c.notes])


def _link(args: argparse.Namespace) -> Callable[[Slice], str] | None:
    if not args.link_base:
        return None
    link = compare_link(args.link_base, args.candidate, args.baseline)
    if _name(args.candidate) is None or _name(args.baseline) is None:
        print(
            "note: --link-base: links name the arguments as workspace datasets; "
            "a file opens only once added under that name (mlqa-debug add)",
            file=sys.stderr,
        )
    return link


def format_comparison(comparison: Comparison) -> str:
    """The human summary: verdict, tables, headline, flips, worst slices."""
    c = comparison
    cand, base = c.candidate, c.baseline
    lines = [
        f"{c.verdict}: candidate {cand.name} ({cand.short_fingerprint}) vs baseline "
        f"{base.name} ({base.short_fingerprint})",
        f"slice: {c.where.text or 'all rows'}",
        c.paired.summary(),
        "",
        headline_frame(c.headline).to_string(index=False),
        "",
        "flips: " + ", ".join(f"{label} {n} ({rate})" for label, n, rate in _flips(c)),
        "",
        verdict_sentence(c.verdict, c.headline, c.deltas),
    ]
    worse = c.worse_slices
    if len(worse):
        table = deltas_frame(c.deltas, here=str, on_slices=str)
        shown = table[table["significant"]].head(SHOWN_SLICES)
        columns = ["rows", "baseline", "candidate", "difference", "p", "adjusted p", "slice"]
        lines += ["", "where it got worse:", shown[columns].to_string(index=False)]
        if len(worse) > SHOWN_SLICES:
            lines.append(f"... and {count(len(worse) - SHOWN_SLICES)} more (see --json)")
    if c.newly is not None and c.newly.slices:
        lines += ["", "where it newly fails (broken rows, SliceLine):"]
        lines += [
            f"  {count(f.size):>9} rows  {count(f.broken):>7} broken "
            f"({percent(f.broken_rate)})  {f.slice.text}"
            for f in c.newly.slices
        ]
    return "\n".join(lines)


def _flips(c: Comparison) -> list[tuple[str, str, str]]:
    return [(label.lower(), n, rate) for label, n, rate in flip_rows(c.flips)]
