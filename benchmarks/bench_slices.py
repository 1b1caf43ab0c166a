"""Slice changes on a 1,000,000-row table: library time and time to paint in Chromium.

    .venv/bin/python benchmarks/bench_slices.py [--rows N] [--changes K] [--no-browser]

1. Library: parse + check + mask, metrics (slice vs rest vs overall), the
   per-feature breakdown and the first page of examples, per slice change.
2. Browser: the Slices page served by Streamlit, opened in Debian's Chromium;
   each change types a slice and presses Enter; the clock stops when the new
   row count is painted. Side by side: a bare Streamlit page with three metrics
   and one chart on the same table (benchmarks/bare_page.py), the floor any
   page pays per rerun.
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
OUT = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO))

SLICES = [
    "c0 == 'v3'",
    "f0 >= 0.5",
    "c1 in ('v1', 'v2', 'v7') and f3 < 0",
    "f1 >= -1 and f2 < 1",
    "c4 != 'v0'",
    "f5 between -0.5 and 0.5",
    "c2 == 'v4' and c3 == 'v5'",
    "error == true",
    "f7 < 0",
    "c5 not in ('v1', 'v2')",
]


def make_table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """20 numeric, 8 categorical (10 values), 1 boolean and 1 date feature; binary labels."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {"id": np.arange(n_rows)}
    for j in range(20):
        data[f"f{j}"] = rng.normal(size=n_rows)
    for j in range(8):
        data[f"c{j}"] = pd.Categorical.from_codes(
            rng.integers(0, 10, n_rows), [f"v{k}" for k in range(10)]
        )
    data["flag"] = rng.random(n_rows) < 0.3
    data["day"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n_rows), "D")
    frame = pd.DataFrame(data)
    logit = frame["f0"] + 0.5 * frame["f1"] - 0.8 * (frame["c0"] == "v3")
    frame["label"] = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    score = np.clip(1 / (1 + np.exp(-(logit + rng.normal(scale=1.0, size=n_rows)))), 0, 1)
    frame["score"] = score
    frame["prediction"] = (score >= 0.5).astype(np.int64)
    return frame


def table_path(n_rows: int) -> Path:
    path = OUT / f"slices_{n_rows}.parquet"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        make_table(n_rows).to_parquet(path)
    return path


def bench_library(path: Path, changes: int) -> dict[str, float]:
    from mlqa_debug import load_predictions
    from mlqa_debug.analyses.breakdown import feature_breakdown
    from mlqa_debug.analyses.examples import examples_page
    from mlqa_debug.slicing import parse_slice, slice_mask
    from mlqa_debug.stats import slice_report

    predictions = load_predictions(path)
    feature_breakdown(
        predictions, np.ones(predictions.n_samples, bool)
    )  # build once, as the app does
    slice_report(predictions.metric_data, np.ones(predictions.n_samples, bool))
    timings: dict[str, list[float]] = {"mask": [], "metrics": [], "breakdown": [], "examples": []}
    for text in (SLICES * (changes // len(SLICES) + 1))[:changes]:
        t0 = time.perf_counter()
        mask = slice_mask(predictions, parse_slice(text))
        t1 = time.perf_counter()
        slice_report(predictions.metric_data, mask)
        t2 = time.perf_counter()
        feature_breakdown(predictions, mask)
        t3 = time.perf_counter()
        examples_page(predictions, mask)
        t4 = time.perf_counter()
        for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            value_ms = value * 1000
            timings[key].append(value_ms)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    medians["total"] = sum(medians.values())
    return medians


def expected_rows(path: Path) -> list[str]:
    from mlqa_debug import load_predictions
    from mlqa_debug.slicing import parse_slice, slice_mask

    predictions = load_predictions(path)
    return [f"{int(slice_mask(predictions, parse_slice(t)).sum()):,}" for t in SLICES]


def time_page(
    url: str, texts: list[str], rows: list[str], changes: int, *, load_timeout: int = 300_000
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
        wait_for_run(page, timeout=load_timeout)
        metric = page.locator('[data-testid="stMetricValue"]').first
        metric.wait_for(timeout=load_timeout)
        wait_for_run(page, timeout=load_timeout)
        box = page.get_by_label("Slice", exact=True)
        for i in range(changes + 2):
            text, want = texts[i % len(texts)], rows[i % len(rows)]
            if i % len(texts) == 0 and i:  # make sure the value changes before timing
                box.fill("")
                box.press("Enter")
                wait_for_run(page, expect_rerun=True, timeout=load_timeout)
            box.fill(text)
            t0 = time.perf_counter()
            box.press("Enter")
            page.wait_for_function(  # the first metric, looked up each frame (it may be redrawn)
                "want => document.querySelector('[data-testid=\"stMetricValue\"]')"
                "?.innerText.trim() === want",
                arg=want,
                timeout=120_000,
                polling="raf",
            )
            t1 = time.perf_counter()
            page.wait_for_selector(
                '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000
            )
            if i >= 2:  # the first changes warm caches up
                painted.append((t1 - t0) * 1000)
                finished.append((time.perf_counter() - t0) * 1000)
            wait_for_run(page, timeout=120_000)
        browser.close()
    return painted, finished


def time_bare_page(path: Path, workspace: Path, changes: int) -> tuple[list[float], list[float]]:
    """The reference: the bare page over the same table, ``f0 >= x`` slices typed in turn."""
    bare_texts = [f"f0 >= {x}" for x in (0.5, -0.5, 1.0, 0.0, 1.5, -1.0)]
    frame = pd.read_parquet(path, columns=["f0"])
    bare_rows = [f"{int((frame['f0'] >= float(t.split('>=')[1])).sum()):,}" for t in bare_texts]
    os.environ["BENCH_FILE"] = str(path)
    bare = BareServer(workspace)
    try:
        return time_page(bare.url, bare_texts, bare_rows, changes)
    finally:
        bare.stop()


def bench_browser(path: Path, changes: int) -> tuple[list[float], list[float]]:
    from mlqa_debug.data.workspace import Workspace
    from tests.e2e.harness import StreamlitServer

    workspace = OUT / "workspace"
    shutil.rmtree(workspace, ignore_errors=True)
    Workspace(workspace).add(path, name="bench")
    rows = expected_rows(path)
    server = StreamlitServer(workspace, log_dir=OUT)
    try:
        ours, _ = time_page(f"{server.url}/slices?ds=bench", SLICES, rows, changes)
    finally:
        server.stop()
    reference, _ = time_bare_page(path, workspace, changes)
    return ours, reference


class BareServer:
    """The reference page, served like the app."""

    def __init__(self, workspace: Path) -> None:
        import subprocess

        from tests.e2e.harness import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "streamlit", "run", str(REPO / "benchmarks" / "bare_page.py"),
            "--server.port", str(self.port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
        time.sleep(4)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    path = table_path(args.rows)
    print(f"table: {args.rows:,} rows x 30 features ({path.stat().st_size / 2**20:.0f} MB parquet)")
    lib = bench_library(path, args.changes)
    print("\n| library step (median ms per change) | ms |\n|---|---:|")
    for key, value in lib.items():
        print(f"| {key} | {value:.1f} |")
    if args.no_browser:
        return
    ours, reference = bench_browser(path, args.changes)
    m_ours, m_ref = statistics.median(ours), statistics.median(reference)
    print("\n| page (Enter to painted, Chromium) | median ms | p90 ms |\n|---|---:|---:|")
    for name, values in (("Slices page", ours), ("bare page: 3 metrics + 1 chart", reference)):
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
        print(f"| {name} | {statistics.median(values):.0f} | {p90:.0f} |")
    print(f"\nratio Slices page / bare page: {m_ours / m_ref:.2f}")


if __name__ == "__main__":
    main()
