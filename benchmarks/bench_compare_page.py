"""Slice changes on the Compare page at 1,000,000 rows: library time and time to paint in Chromium.

    .venv/bin/python benchmarks/bench_compare_page.py [--rows N] [--changes K] [--no-browser]

The baseline is bench_slices.py's table (30 features, binary labels); the
candidate is the same rows with about 4% of the predictions flipped and the
scores moved, so every id pairs up and "Rows compared" equals the slice's rows.

1. Library: per slice change, what the page computes (pair mask, headline with
   its bootstrap, flip counts, a page of flips, the per-feature deltas).
2. Browser: the Compare page (``compare?ds=candidate&vs=baseline``) served by
   Streamlit in Debian's Chromium; each change types a slice and presses Enter.
   "painted" stops when the new row count shows, "finished" when the rerun is
   over. Side by side: the bare page of bench_slices.py (three metrics, one
   chart), the floor any page pays per rerun. DESIGN.md's budget: painted within
   2x the bare page, finished within 2.5x.
Medians over K changes. Data and workspace go to benchmarks/out/ (ignored).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_slices import (  # noqa: E402
    OUT,
    SLICES,
    expected_rows,
    table_path,
    time_bare_page,
    time_page,
)

FLIP_SHARE = 0.04


def candidate_path(n_rows: int, seed: int = 1) -> Path:
    """The baseline table with ~4% of predictions flipped (and their scores moved)."""
    path = OUT / f"compare_candidate_{n_rows}.parquet"
    if not path.exists():
        frame = pd.read_parquet(table_path(n_rows))
        rng = np.random.default_rng(seed)
        flip = rng.random(len(frame)) < FLIP_SHARE
        score = frame["score"].to_numpy().copy()
        score[flip] = 1.0 - score[flip]
        frame["score"] = score
        frame["prediction"] = (score >= 0.5).astype(np.int64)
        frame.to_parquet(path)
    return path


def bench_library(candidate: Path, baseline: Path, changes: int) -> dict[str, float]:
    from mlqa_debug import load_predictions
    from mlqa_debug.analyses.compare import (
        flip_counts,
        flip_table,
        headline,
        pair_predictions,
        slice_deltas,
    )
    from mlqa_debug.slicing import parse_slice, slice_mask

    t0 = time.perf_counter()
    paired = pair_predictions(load_predictions(candidate), load_predictions(baseline))
    slice_deltas(paired)  # builds the feature index once, as the page's first view does
    first = (time.perf_counter() - t0) * 1000
    steps = ("mask", "headline", "flips", "flip page", "deltas")
    timings: dict[str, list[float]] = {k: [] for k in steps}
    for text in (SLICES * (changes // len(SLICES) + 1))[:changes]:
        s = parse_slice(text)
        marks = [time.perf_counter()]
        mask = paired.pair_mask(slice_mask(paired.candidate, s))
        marks.append(time.perf_counter())
        headline(paired, mask)
        marks.append(time.perf_counter())
        flip_counts(paired, mask)
        marks.append(time.perf_counter())
        flip_table(paired, "broken", mask)
        marks.append(time.perf_counter())
        slice_deltas(paired, mask, within=s)
        marks.append(time.perf_counter())
        for key, a, b in zip(steps, marks, marks[1:], strict=False):
            timings[key].append((b - a) * 1000)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    medians["total per change"] = sum(medians.values())
    medians["load + pair + index (once)"] = first
    return medians


def bench_browser(
    candidate: Path, baseline: Path, changes: int
) -> dict[str, tuple[list[float], list[float]]]:
    from mlqa_debug.data.workspace import Workspace
    from tests.e2e.harness import StreamlitServer

    workspace = OUT / "workspace_compare"
    shutil.rmtree(workspace, ignore_errors=True)
    ws = Workspace(workspace)
    ws.add(baseline, name="base")
    ws.add(candidate, name="cand")
    rows = expected_rows(candidate)
    server = StreamlitServer(workspace, log_dir=OUT)
    url = f"{server.url}/compare?ds=cand&vs=base"
    try:
        ours = time_page(url, SLICES, rows, changes, load_timeout=600_000)
    finally:
        server.stop()
    reference = time_bare_page(candidate, workspace, changes)
    return {"Compare page": ours, "bare page: 3 metrics + 1 chart": reference}


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    baseline, candidate = table_path(args.rows), candidate_path(args.rows)
    print(f"tables: {args.rows:,} rows x 30 features, candidate = baseline with "
          f"{FLIP_SHARE:.0%} of predictions flipped")  # fmt: skip
    lib = bench_library(candidate, baseline, args.changes)
    print("\n| library step (median ms per change) | ms |\n|---|---:|")
    for key, value in lib.items():
        print(f"| {key} | {value:.1f} |")
    if args.no_browser:
        return
    results = bench_browser(candidate, baseline, args.changes)
    print(
        "\n| page (Enter to ..., Chromium) | painted median ms | p90 | finished median ms | p90 |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, (painted, finished) in results.items():
        print(f"| {name} | {statistics.median(painted):.0f} | {_p90(painted):.0f} | "
              f"{statistics.median(finished):.0f} | {_p90(finished):.0f} |")  # fmt: skip
    (ours_p, ours_f), (bare_p, bare_f) = results.values()
    painted = statistics.median(ours_p) / statistics.median(bare_p)
    print(f"\nratio Compare / bare page: painted {painted:.2f}"
          f" (budget 2), finished {statistics.median(ours_f) / statistics.median(bare_f):.2f}"
          " (budget 2.5)")  # fmt: skip


if __name__ == "__main__":
    main()
