"""Comparing two model versions on 1,000,000 rows: the whole command, and each slice change.

    .venv/bin/python benchmarks/bench_compare.py [--rows N] [--repeat K] [--changes K]

Data (seeded, written once to ``benchmarks/out/``, which git ignores): two binary
predictions tables of the same rows and ids (string ids), 30 features (10
categorical of 10 values, 20 numeric), probabilities in ``score``. The candidate's
rows are shuffled; it flips 2% of the baseline's answers each way at random and
breaks 30% of the rows the baseline got right in the planted slice
``c0 == 'v3' and f0 >= 0``, so ``c0 == 'v3'`` is the worst single-feature slice.

1. Whole process: ``mlqa-debug compare BASELINE CANDIDATE --json`` against a
   reference process that only reads both files with ``pandas.read_parquet``.
   Each run is its own process, started by a small launcher that times it and
   reads its CPU time and peak RSS (``getrusage(RUSAGE_CHILDREN)``); medians of
   ``--repeat`` runs (CPU time is the steadier figure on a shared machine).
   The JSON is checked: a regression, the planted slice on top.
2. Library, in process, after a warm-up (pairing, the per-feature index): per
   slice change, the median over ``--changes`` slices of ``slice_deltas`` (30
   features), ``headline`` and ``flip_counts`` inside the slice.

Targets (DESIGN.md, issue 12): the whole process under 5 s; the per-feature
deltas for 30 features under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO))

N_CATEGORICAL, N_NUMERIC = 10, 20
PLANTED = "c0 == 'v3'"
SLICES = [
    "c0 == 'v3'",
    "f0 >= 0.5",
    "c1 in ('v1', 'v2', 'v7') and f3 < 0",
    "f1 >= -1 and f2 < 1",
    "c4 != 'v0'",
    "f5 between -0.5 and 0.5",
    "c2 == 'v4' and c3 == 'v5'",
    "f7 < 0",
    "c5 not in ('v1', 'v2')",
]
TARGET_PROCESS_S = 5.0
TARGET_DELTAS_MS = 200.0


# --------------------------------------------------------------------------- data


def make_tables(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(baseline, candidate): same ids, features and labels; the candidate shuffled and worse."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"id": [f"r{i:07d}" for i in range(n_rows)]}
    values = [f"v{k}" for k in range(10)]
    for j in range(N_CATEGORICAL):
        data[f"c{j}"] = pd.Categorical.from_codes(rng.integers(0, 10, n_rows), values)
    for j in range(N_NUMERIC):
        data[f"f{j}"] = rng.normal(size=n_rows)
    baseline = pd.DataFrame(data)
    logit = baseline["f0"] + 0.5 * baseline["f1"] - 0.8 * (baseline["c0"] == "v3")
    label = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    score = 1 / (1 + np.exp(-(logit + rng.normal(size=n_rows)).to_numpy()))
    baseline["label"] = label
    baseline["score"] = np.round(score, 6)
    baseline["prediction"] = (baseline["score"] >= 0.5).astype(np.int64)
    right = baseline["prediction"].to_numpy() == label
    planted = ((baseline["c0"] == "v3") & (baseline["f0"] >= 0)).to_numpy()
    flip = rng.random(n_rows) < 0.02  # noise both ways
    flip |= planted & right & (rng.random(n_rows) < 0.3)  # the planted regression
    candidate = baseline.copy()
    candidate["score"] = np.where(flip, np.round(1 - baseline["score"], 6), baseline["score"])
    candidate.loc[flip & (candidate["score"] == 0.5), "score"] = 0.4999  # keep the flip
    candidate["prediction"] = (candidate["score"] >= 0.5).astype(np.int64)
    order = rng.permutation(n_rows)
    return baseline, candidate.iloc[order].reset_index(drop=True)


def table_paths(n_rows: int) -> tuple[Path, Path]:
    base, cand = OUT / f"compare_base_{n_rows}.parquet", OUT / f"compare_cand_{n_rows}.parquet"
    if not (base.exists() and cand.exists()):
        OUT.mkdir(parents=True, exist_ok=True)
        baseline, candidate = make_tables(n_rows)
        baseline.to_parquet(base, index=False)
        candidate.to_parquet(cand, index=False)
    return base, cand


# --------------------------------------------------------------------------- whole process


def launch(command: list[str], stdout: str) -> None:
    """Child mode: run ``command``, print its seconds, peak RSS and exit code as JSON."""
    with open(stdout, "wb") as out:
        t0 = time.perf_counter()
        code = subprocess.run(command, stdout=out, check=False).returncode
        seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    result = {"seconds": seconds, "cpu": cpu, "peak_mb": usage.ru_maxrss / 1024, "code": code}
    print(json.dumps(result))


def measure(command: list[str], stdout: Path) -> dict[str, Any]:
    launcher = [sys.executable, __file__, "--launch", str(stdout), "--", *command]
    env = os.environ | {"MLQA_DEBUG_WORKSPACE": str(OUT / "workspace")}
    done = subprocess.run(launcher, capture_output=True, text=True, check=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_run(command: list[str], stdout: Path, repeat: int) -> dict[str, float]:
    runs = [measure(command, stdout) for _ in range(repeat)]
    if any(r["code"] not in (0, 1) for r in runs):
        raise SystemExit(f"{' '.join(command)} failed: exit {[r['code'] for r in runs]}")
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
    }


def bench_process(base: Path, cand: Path, repeat: int) -> dict[str, dict[str, float]]:
    read_both = (
        f"import pandas as pd; pd.read_parquet({str(base)!r}); pd.read_parquet({str(cand)!r})"
    )
    ours_out = OUT / "bench_compare.json"
    results = {
        "reference: python, pandas.read_parquet of both": median_run(
            [sys.executable, "-c", read_both], OUT / "bench_compare_ref.txt", repeat
        ),
        "mlqa-debug compare BASELINE CANDIDATE --json": median_run(
            [sys.executable, "-m", "mlqa_debug.cli", "compare", str(base), str(cand), "--json"],
            ours_out,
            repeat,
        ),
    }
    data = json.loads(ours_out.read_text())
    top = data["slices"][0]["slice"]
    print(f"\ncompare: {data['verdict']}, {data['rows']:,} rows, top slice {top!r}")
    if not data["regression"] or top != PLANTED:
        raise SystemExit(f"expected a regression with {PLANTED!r} on top")
    return results


# --------------------------------------------------------------------------- library


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def bench_library(base: Path, cand: Path, changes: int) -> dict[str, float]:
    from mlqa_debug import load_predictions
    from mlqa_debug.analyses.compare.deltas import slice_deltas
    from mlqa_debug.analyses.compare.flips import flip_counts
    from mlqa_debug.analyses.compare.headline import headline
    from mlqa_debug.analyses.compare.pairing import pair_predictions
    from mlqa_debug.slicing import parse_slice, slice_mask

    t0 = time.perf_counter()
    baseline, candidate = load_predictions(base), load_predictions(cand)
    once = {"load both tables (once)": _ms(t0)}
    t0 = time.perf_counter()
    paired = pair_predictions(candidate, baseline)
    once["pair by id (once)"] = _ms(t0)
    t0 = time.perf_counter()
    slice_deltas(paired)
    once["slice_deltas, all rows (first: builds the index)"] = _ms(t0)
    headline(paired)
    flip_counts(paired)  # warm-up
    timings: dict[str, list[float]] = {"mask": [], "slice_deltas": [], "headline": [], "flips": []}
    for text in (SLICES * (changes // len(SLICES) + 1))[:changes]:
        s = parse_slice(text)
        t0 = time.perf_counter()
        mask = paired.pair_mask(slice_mask(candidate, s))
        timings["mask"].append(_ms(t0))
        t0 = time.perf_counter()
        slice_deltas(paired, mask, within=s)
        timings["slice_deltas"].append(_ms(t0))
        t0 = time.perf_counter()
        headline(paired, mask)
        timings["headline"].append(_ms(t0))
        t0 = time.perf_counter()
        flip_counts(paired, mask)
        timings["flips"].append(_ms(t0))
    medians = {f"{k} (median per slice change)": statistics.median(v) for k, v in timings.items()}
    medians["total per slice change"] = sum(statistics.median(v) for v in timings.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return once | medians | {"peak RSS of this process, MB": peak}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per process (median)")
    parser.add_argument("--changes", type=int, default=9, help="slice changes (median)")
    parser.add_argument("--no-process", action="store_true", help="library part only")
    parser.add_argument("--launch", metavar="STDOUT", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.launch:
        launch(rest[1:] if rest[:1] == ["--"] else rest, args.launch)
        return
    base, cand = table_paths(args.rows)
    size = (base.stat().st_size + cand.stat().st_size) / 2**20
    print(f"tables: 2 x {args.rows:,} rows x 30 features ({size:.0f} MB Parquet in {OUT})")
    if not args.no_process:
        process = bench_process(base, cand, args.repeat)
        print("\n| whole process (median) | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|")
        for name, r in process.items():
            print(f"| {name} | {r['seconds']:.2f} | {r['cpu']:.2f} | {r['peak_mb']:.0f} |")
        reference, ours = process.values()
        print(f"\nratio compare / reference: {ours['seconds'] / reference['seconds']:.2f}; "
              f"target: compare under {TARGET_PROCESS_S:.0f} s")  # fmt: skip
    lib = bench_library(base, cand, args.changes)
    print("\n| library step | ms |\n|---|---:|")
    for name, value in lib.items():
        print(f"| {name} | {value:.1f} |" if "MB" not in name else f"| {name} | {value:.0f} |")
    deltas = lib["slice_deltas (median per slice change)"]
    print(
        f"\nslice_deltas for 30 features: {deltas:.0f} ms (target under {TARGET_DELTAS_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
