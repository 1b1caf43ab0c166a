"""Slice commands: ``slice`` (one slice's metrics) and ``discover`` (the worst slices).

``slice --engine numpy|duckdb|spark|auto`` chooses where the aggregates run
(:mod:`mlqa_debug.engines`): the default numpy loads the table in process; DuckDB and
Spark read a Parquet file, a directory of them (Hive partitions as columns) or a
glob where it lies, and DuckDB a CSV file too; ``auto`` takes DuckDB when the table
would not fit in memory. Spark's master is ``--spark-master``, else
``$MLQA_SPARK_MASTER``, else ``local[2]``. The output is the same on every engine.

``discover`` takes its defaults from
:data:`mlqa_debug.analyses.discovery.service.DEFAULT_PARAMS`, the same the
Discovery page starts from, and the same ``--engine`` flags: on DuckDB and Spark the
features are coded and SliceLine's counts taken by the engine
(:mod:`mlqa_debug.engines.discover`), with the same slices and numbers as numpy; the
JSON says which engine ran. Datetime features need ``--engine numpy``.
"""

from __future__ import annotations

import argparse

from mlqa_debug.analyses.discovery.service import (
    DEFAULT_PARAMS,
    ERROR_MEASURES,
    MAX_DEFAULT_FEATURES,
    DiscoveryParams,
)
from mlqa_debug.cli.common import (
    EXIT_OK,
    SubParsers,
    add_engine_options,
    add_role_options,
    open_engine_from_args,
    print_json,
)
from mlqa_debug.engines import NumpyEngine
from mlqa_debug.engines.discover import discover_on
from mlqa_debug.slicing import parse_slice
from mlqa_debug.stats import difference_text, evaluate_slice, report_frame


def add_commands(sub: SubParsers, *, ws_help: str) -> None:
    """Add ``slice`` and ``discover`` to the ``mlqa-debug`` parser."""
    p = sub.add_parser("slice", help="metrics of a slice vs the rest vs all rows")
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--where", required=True, help="the slice, e.g. \"region == 'north'\"")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    add_engine_options(p)
    p.set_defaults(handler=cmd_slice)
    _add_discover(sub, ws_help)


def _add_discover(sub: SubParsers, ws_help: str) -> None:
    d = DEFAULT_PARAMS
    p = sub.add_parser("discover", help="find the worst slices automatically (SliceLine)")
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--alpha", type=float, default=d.alpha, help="error vs size weight (0, 1]")
    p.add_argument("--k", type=int, default=d.k, help="number of slices (default %(default)s)")
    p.add_argument("--max-level", type=int, default=d.max_level, help="most predicates per slice")
    p.add_argument(
        "--min-support",
        type=float,
        default=d.min_support,
        help="minimum slice size: a fraction of rows (< 1) or a row count (default %(default)s)",
    )
    p.add_argument("--bins", type=int, default=d.n_bins, help="quantile bins per numeric feature")
    p.add_argument(
        "--features",
        nargs="+",
        help=f"features to use (default: the first {MAX_DEFAULT_FEATURES} usable ones)",
    )
    p.add_argument("--within", help="search inside this slice")
    p.add_argument("--measure", choices=ERROR_MEASURES, default=d.measure)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    add_role_options(p)
    add_engine_options(p)
    p.set_defaults(handler=cmd_discover)


def cmd_slice(args: argparse.Namespace) -> int:
    s = parse_slice(args.where)
    engine = open_engine_from_args(args.dataset, args)
    if isinstance(engine, NumpyEngine):
        evaluation = evaluate_slice(engine.predictions, s)
        data, report = evaluation.to_dict(), evaluation.report
    else:
        (report,) = engine.slice_reports([s])
        data = {"where": s.text, "slice_id": s.id, **report.to_dict()}
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"slice: {s.text or '(all rows)'}  [id {s.id}]")
    print(report_frame(report).to_string())
    print(difference_text(report))
    return EXIT_OK


def discovery_params(args: argparse.Namespace) -> DiscoveryParams:
    """The ``discover`` flags as discovery parameters (checked by the dataclass)."""
    return DiscoveryParams(
        alpha=args.alpha,
        k=args.k,
        max_level=args.max_level,
        min_support=args.min_support,
        n_bins=args.bins,
        features=tuple(args.features) if args.features else DEFAULT_PARAMS.features,
        within=args.within or DEFAULT_PARAMS.within,
        measure=args.measure,
    )


def cmd_discover(args: argparse.Namespace) -> int:
    engine = open_engine_from_args(args.dataset, args)
    result = discover_on(engine, discovery_params(args))
    if args.json:
        print_json(
            {
                "engine": engine.name,
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
