"""``mlqa-debug embed``: precompute and cache the 2-D map of a dataset.

The Embeddings page shows a cached UMAP at once; without one it shows PCA and
computes UMAP in the background. Running this command beforehand (say, right
after registering a dataset, or in the job that produces the predictions) puts
UMAP in the workspace cache, where the page finds it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlqa_debug.analyses.embeddings import (
    Method,
    ProjectionParams,
    get_projection,
    load_projection,
)
from mlqa_debug.cache import DiskCache
from mlqa_debug.cli.common import EXIT_OK, load_dataset_or_file, print_json
from mlqa_debug.data.workspace import Workspace


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], *, ws_help: str) -> None:
    """Add ``embed`` to the ``mlqa-debug`` sub-commands."""
    p = sub.add_parser(
        "embed",
        help="precompute and cache the 2-D map (UMAP or PCA) the Embeddings page shows",
        description=(
            "Compute the 2-D map of a dataset over its embedding columns (or its features) "
            "and store it in the workspace cache, keyed by the data's fingerprint and the "
            "parameters. A cached map is reused; --force recomputes it."
        ),
    )
    p.add_argument("dataset", help="a dataset name in the workspace, or a predictions file")
    p.add_argument("--method", choices=("umap", "pca"), default="umap", help="default: umap")
    p.add_argument("--force", action="store_true", help="recompute even if the map is cached")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--workspace", help=ws_help)
    p.set_defaults(handler=cmd_embed)


def _progress(phase: str, fraction: float | None) -> None:
    share = f" {fraction:.0%}" if fraction is not None else ""
    print(f"\r{phase}{share}".ljust(80), end="", file=sys.stderr, flush=True)


def cmd_embed(args: argparse.Namespace) -> int:
    """Compute (or find) the map and print where it came from."""
    predictions = load_dataset_or_file(args.dataset, args)
    cache = DiskCache(Workspace(args.workspace).cache_dir("embeddings"))
    method: Method = args.method
    params = ProjectionParams()
    found = (
        None
        if args.force
        else load_projection(predictions, method=method, cache=cache, params=params)
    )
    projection = found or get_projection(
        predictions,
        method=method,
        cache=cache,
        params=params,
        progress=_progress if sys.stderr.isatty() else None,
        force=args.force,
    )
    if sys.stderr.isatty() and found is None:
        print(file=sys.stderr)
    result: dict[str, Any] = {
        "dataset": args.dataset,
        "fingerprint": predictions.fingerprint,
        "method": projection.method,
        "map": projection.description,
        "rows": predictions.n_samples,
        "mapped_rows": projection.n_mapped,
        "cached": found is not None,
        "seconds": round(projection.seconds, 2),
        "key": projection.key,
        "cache_dir": str(cache.directory),
    }
    if args.json:
        print_json(result)
        return EXIT_OK
    how = "already cached" if found is not None else f"computed in {projection.seconds:.1f} s"
    print(f"{projection.description}: {projection.n_mapped:,} of {predictions.n_samples:,} rows")
    print(f"{how}; cache key {projection.key} in {cache.directory}")
    return EXIT_OK
