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
import os
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

from bench_slices import OUT, SLICES, BareServer, expected_rows, table_path  # noqa: E402

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


def time_changes(
    url: str, texts: list[str], rows: list[str], changes: int
) -> tuple[list[float], list[float]]:
    """Per change: ms from Enter until the new row count is painted, and until the run ended."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.harness import CHROMIUM_ARGS, find_chromium, wait_for_run

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    painted: list[float] = []
    finished: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        wait_for_run(page, timeout=600_000)
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=600_000)
        wait_for_run(page, timeout=600_000)
        box = page.get_by_label("Slice", exact=True)
        metric = page.locator('[data-testid="stMetricValue"]').first
        for i in range(changes + 2):
            text, want = texts[i % len(texts)], rows[i % len(rows)]
            if i % len(texts) == 0 and i:  # make sure the value changes before timing
                box.fill("")
                box.press("Enter")
                wait_for_run(page, expect_rerun=True, timeout=600_000)
            box.fill(text)
            t0 = time.perf_counter()
            box.press("Enter")
            page.wait_for_function(
                "([el, want]) => el.innerText.trim() === want",
                arg=[metric.element_handle(), want],
                timeout=120_000,
                polling="raf",
            )
            t1 = time.perf_counter()
            page.wait_for_selector(
                '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000
            )
            t2 = time.perf_counter()
            if i >= 2:  # the first changes warm caches up
                painted.append((t1 - t0) * 1000)
                finished.append((t2 - t0) * 1000)
            wait_for_run(page, timeout=120_000)
        browser.close()
    return painted, finished


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
    try:
        ours = time_changes(f"{server.url}/compare?ds=cand&vs=base", SLICES, rows, changes)
    finally:
        server.stop()
    bare_texts = [f"f0 >= {x}" for x in (0.5, -0.5, 1.0, 0.0, 1.5, -1.0)]
    frame = pd.read_parquet(candidate, columns=["f0"])
    bare_rows = [f"{int((frame['f0'] >= float(t.split('>=')[1])).sum()):,}" for t in bare_texts]
    os.environ["BENCH_FILE"] = str(candidate)
    bare = BareServer(workspace)
    try:
        reference = time_changes(bare.url, bare_texts, bare_rows, changes)
    finally:
        bare.stop()
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
