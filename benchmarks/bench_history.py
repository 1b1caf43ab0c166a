"""A history of 200 cases x 500 runs: loaded and drawn (the History page's figures).

    .venv/bin/python benchmarks/bench_history.py [--cases N] [--runs N] [--repeat K]

Data (seeded, written once to ``benchmarks/out/``, which git ignores): one record per
case per run, as ``check --record`` writes them, values drifting slowly in a tenth
of the cases. Timed, median of ``--repeat``: reading the file (``HistoryStore.read``,
every line validated), tidying and the trends of every case (what the page computes),
and building the page's figures (the status grid of every case and run, the line of
the first 6 cases, the runs table). The reference is plain ``pandas.read_json(lines=True)``
of the same file, printed as a ratio. Target (issue 16): load and draw under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlqa_debug.history import HistoryStore, Record, case_frame, runs_frame, tidy, trends
from mlqa_debug.history.figures import case_figure, status_grid_figure

OUT = Path(__file__).resolve().parent / "out" / "history"


def write_history(directory: Path, n_cases: int, n_runs: int) -> Path:
    store = HistoryStore(directory)
    if store.path.is_file():
        store.path.unlink()
    rng = np.random.default_rng(16)
    drift = rng.random(n_cases) < 0.1
    for run in range(n_runs):
        values = 0.1 + rng.normal(0, 0.005, n_cases) + np.where(drift, 0.0001 * run, 0)
        store.append(
            [
                Record(
                    time=f"2026-01-01T{run // 60:02d}:{run % 60:02d}:00.000000Z",
                    run_id=f"run-{run:04d}",
                    case_id=f"case{c:03d}",
                    case_name=f"case {c}",
                    metric="error_rate",
                    op="<=",
                    status="pass" if v <= 0.12 else "fail",
                    threshold=0.12,
                    value=float(v),
                    low=float(v) - 0.01,
                    high=float(v) + 0.01,
                    baseline=0.1,
                    rows=1000,
                    where=f"c0 == 'v{c}'",
                    dataset="loans",
                    fingerprint="f" * 32,
                    model="m",
                    model_version=f"{run}",
                )
                for c, v in enumerate(values)
            ]
        )
    return store.path


def load_and_draw(directory: Path) -> float:
    start = time.perf_counter()
    listing = HistoryStore(directory).read()
    tidied = tidy(listing.frame)
    cases = case_frame(tidied, trends(tidied))
    labels = dict(zip(cases["case_id"], cases["case_name"], strict=True))
    status_grid_figure(tidied, labels).to_dict()
    for case_id in list(labels)[:6]:
        rows = tidied[tidied["case_id"] == case_id]
        case_figure(rows, name=case_id, metric="error_rate").to_dict()
    runs_frame(tidied)
    return time.perf_counter() - start


def reference(path: Path) -> float:
    start = time.perf_counter()
    pd.read_json(path, lines=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = write_history(OUT, args.cases, args.runs)
    size = path.stat().st_size
    ours = statistics.median(load_and_draw(OUT) for _ in range(args.repeat))
    theirs = statistics.median(reference(path) for _ in range(args.repeat))
    print(f"history: {args.cases} cases x {args.runs} runs, {size / 2**20:.1f} MB")
    print(f"load + trends + figures: {ours:.2f} s (target < 2 s)")
    print(f"pandas.read_json(lines=True): {theirs:.2f} s; ratio {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
