"""``mlqa-debug compare BASELINE CANDIDATE`` on numpy, DuckDB and Spark, as processes.

    .venv/bin/python benchmarks/bench_engine_compare.py [--rows N] [--engines numpy,duckdb,spark]

Writes two binary predictions tables of N rows each (default 10,000,000) as
Hive-partitioned Parquet (``batch=<k>/part.parquet``, 2,000,000 rows a file): an
``id``, 3 categorical features (10 values each), 1 numeric, ``label``,
``prediction`` and ``score``; the same rows and labels in both, the candidate's
scores noisier. The baseline lacks the last 1,000 ids, the candidate the first
1,000 (ids in one table only on each side). Then
times ``mlqa-debug compare BASE CAND --engine E --json`` per engine: wall time,
peak resident memory of the command's process (for Spark the Python driver's), the
ratio against the first engine listed, and whether the engines agree (pairing
counts and flips equal, every headline number to a relative 1e-9). The numpy run
also computes the per-slice deltas the engines leave out (they need the rows in
memory), so its time is for more work. Data goes to benchmarks/out/ (ignored by git)
and is reused. Spark runs only when listed in ``--engines``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
CHUNK = 2_000_000
SHIFT = 1_000


def write_tables(n_rows: int) -> tuple[Path, Path]:
    """The baseline's and the candidate's partitioned tables (written once per size)."""
    root = OUT / f"engine-compare-{n_rows}"
    done = root / "_done"
    if not done.exists():
        values = pa.array([f"v{k}" for k in range(10)])
        for k, start in enumerate(range(0, n_rows, CHUNK)):
            n = min(CHUNK, n_rows - start)
            rng = np.random.default_rng(k)
            codes = rng.integers(0, 10, (3, n), dtype=np.int8)
            f0 = rng.normal(size=n)
            logit = f0 - 0.8 * (codes[0] == 3)
            label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
            scores = [
                np.clip(1 / (1 + np.exp(-(logit + rng.normal(0, s, n)))), 0, 1) for s in (1, 1.2)
            ]
            ids = np.arange(start, start + n, dtype=np.int64)
            keep = {"baseline": ids < n_rows - SHIFT, "candidate": ids >= SHIFT}
            for side, score in (("baseline", scores[0]), ("candidate", scores[1])):
                columns = {
                    "id": pa.array(ids),
                    **{
                        f"c{j}": pa.DictionaryArray.from_arrays(pa.array(codes[j]), values)
                        for j in range(3)
                    },
                    "f0": pa.array(f0),
                    "label": pa.array(label),
                    "prediction": pa.array((score >= 0.5).astype(np.int64)),
                    "score": pa.array(score),
                }
                folder = root / side / f"batch={k}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(
                    pa.table(columns).filter(pa.array(keep[side])), folder / "part.parquet"
                )
            print(f"  wrote {start + n:,} of {n_rows:,} rows per table", flush=True)
        done.touch()
    return root / "baseline", root / "candidate"


_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def timed(engine: str, baseline: Path, candidate: Path) -> dict[str, Any]:
    """One ``compare`` process: wall time, peak RSS (of the command, via a wrapper), JSON."""
    command = [sys.executable, "-m", "mlqa_debug.cli", "compare", str(baseline), str(candidate)]
    command += ["--engine", engine, "--json"]
    out_path, err_path = OUT / f"compare-{engine}.json", OUT / f"compare-{engine}.err"
    rss_path = OUT / f"compare-{engine}.rss"
    start = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code = subprocess.call(
            [sys.executable, "-c", _WRAPPER, str(rss_path), *command],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
    seconds = time.perf_counter() - start
    text = out_path.read_text()
    data = json.loads(text) if text.strip().startswith("{") else {}
    error = "" if data else (err_path.read_text().strip().splitlines() or [""])[-1]
    return {
        "engine": engine,
        "seconds": seconds,
        "rss_mb": int(rss_path.read_text()) / 1024,
        "code": code,
        "error": error,
        "data": data,
    }


def agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same pairing counts and flips; every headline number to a relative 1e-9."""
    keys = ("rows", "only_in_baseline", "only_in_candidate", "label_mismatches", "flips")
    if any(a[k] != b[k] for k in keys) or a["overall"].keys() != b["overall"].keys():
        return False
    for metric, row in a["overall"].items():
        for field, value in row.items():
            other = b["overall"][metric][field]
            if isinstance(value, float) and isinstance(other, float):
                if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-15):
                    return False
            elif value != other:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="numpy,duckdb")
    args = parser.parse_args()
    print(f"writing / reusing 2 x {args.rows:,} rows of partitioned Parquet ...", flush=True)
    baseline, candidate = write_tables(args.rows)
    size = sum(f.stat().st_size for f in baseline.parent.rglob("*.parquet"))
    print(f"tables: {baseline}, {candidate} ({size / 2**20:,.0f} MB on disk)")
    runs = [timed(engine, baseline, candidate) for engine in args.engines.split(",")]
    reference = runs[0]
    print(f"\n{'engine':<8} {'wall s':>8} {'ratio':>7} {'peak RSS MB':>12} {'exit':>5}  result")
    for run in runs:
        ratio = run["seconds"] / reference["seconds"]
        if run["data"]:
            same = reference["data"] and agree(run["data"], reference["data"])
            note = f"{run['data']['rows']:,} pairs, " + (
                f"same as {reference['engine']}" if same else "DIFFERENT results"
            )
        else:
            note = f"refused: {run['error']}"
        print(
            f"{run['engine']:<8} {run['seconds']:>8.1f} {ratio:>6.2f}x {run['rss_mb']:>12,.0f} "
            f"{run['code']:>5}  {note}",
            flush=True,
        )


if __name__ == "__main__":
    main()
