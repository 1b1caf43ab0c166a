"""``mlqa-debug check`` (20 cases) and ``discover`` on numpy, DuckDB and Spark, as processes.

    .venv/bin/python benchmarks/bench_engines.py [--rows N] [--engines numpy,duckdb,spark]
        [--steps check,discover]

Writes a binary predictions table of N rows (default 10,000,000; the issue's scale
is ``--rows 100000000``) as Hive-partitioned Parquet (``batch=<k>/part.parquet``,
2,000,000 rows a file): 10 categorical features (``c0 … c9``, 10 values each), 2
numeric (``f0``, ``f1``), ``label``, ``prediction`` and ``score``. Saves 20 slice
cases measured on the first file, then times ``mlqa-debug check DIR --engine E
--json`` and ``mlqa-debug discover DIR --engine E --max-level 2 --alpha 0.99 --json`` per
engine: wall time, peak resident memory of the command's process (for Spark the
Python driver's: its JVM is not waited for, so not counted), the ratio against the
first engine listed, and whether every engine gave the same results (check: statuses,
values and row counts; discover: slices, sizes and error sums, scores to a relative
1e-9). The numpy engine refuses a table too large for memory; that is reported as
its result. Spark runs by default only up to 10,000,000 rows.
Data goes to benchmarks/out/ (ignored by git) and is reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO))

CHUNK = 2_000_000
DISCOVER = ["--max-level", "2", "--alpha", "0.99"]
"""``discover``'s options: level 2; alpha 0.99, where this table has more than one slice."""
CASES = [
    ("c0 == 'v3'", "error_rate"),
    ("c1 in ('v1', 'v2', 'v7')", "accuracy"),
    ("f0 >= 0.5", "error_rate"),
    ("f1 between -0.5 and 0.5", "log_loss"),
    ("c2 == 'v4' and c3 == 'v5'", "error_rate"),
    ("c4 != 'v0'", "brier"),
    ("c5 not in ('v1', 'v2')", "recall[1]"),
    ("c6 == 'v9' and f0 < 0", "precision[1]"),
    ("c7 == 'v2'", "macro_f1"),
    ("c8 in ('v0', 'v5') and f1 > 1", "error_rate"),
    ("c9 == 'v1'", "ece"),
    ("f0 < -1", "error_rate"),
    ("confidence > 0.8", "error_rate"),
    ("error == true and c0 == 'v1'", "accuracy"),
    ("c1 == 'v0' and c2 == 'v0'", "f1[0]"),
    ("c3 is not missing and f0 > 2", "error_rate"),
    ("f1 is not missing and c4 == 'v4'", "recall[0]"),
    ("", "error_rate"),
    ("f0 > 1 and f1 < 0", "macro_recall"),
    ("c5 == 'v5' and c6 != 'v6' and f0 > 0", "error_rate"),
]


def write_table(n_rows: int) -> Path:
    """The partitioned table (written once per size)."""
    root = OUT / f"engines-{n_rows}"
    done = root / "_done"
    if done.exists():
        return root / "data"
    values = np.array([f"v{k}" for k in range(10)])
    for k, start in enumerate(range(0, n_rows, CHUNK)):
        n = min(CHUNK, n_rows - start)
        rng = np.random.default_rng(k)
        codes = rng.integers(0, 10, (10, n), dtype=np.int8)
        columns: dict[str, pa.Array] = {
            f"c{j}": pa.DictionaryArray.from_arrays(pa.array(codes[j]), pa.array(values))
            for j in range(10)
        }
        f0, f1 = rng.normal(size=n), rng.normal(size=n)
        logit = f0 + 0.5 * f1 - 0.8 * (codes[0] == 3)
        label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
        score = np.clip(1 / (1 + np.exp(-(logit + rng.normal(0, 1, n)))), 0, 1)
        columns |= {
            "f0": pa.array(f0),
            "f1": pa.array(f1),
            "label": pa.array(label),
            "prediction": pa.array((score >= 0.5).astype(np.int64)),
            "score": pa.array(score),
        }
        folder = root / "data" / f"batch={k}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), folder / "part.parquet")
        print(f"  wrote {start + n:,} of {n_rows:,} rows", flush=True)
    done.touch()
    return root / "data"


def save_cases(data: Path) -> Path:
    """The 20 cases, measured on the first file (so any table size can be checked)."""
    from mlqa_debug.cases import CaseStore, build_case
    from mlqa_debug.engines import open_engine
    from mlqa_debug.slicing import parse_slice

    directory = data.parent / "cases"
    if directory.exists() and len(list(directory.glob("*.json"))) == len(CASES):
        return directory
    first = sorted(data.glob("batch=0/*.parquet"))[0]
    predictions = open_engine(str(first), "numpy").predictions  # type: ignore[attr-defined]
    store = CaseStore(directory)
    for i, (where, metric) in enumerate(CASES):
        new = build_case(predictions, name=f"case {i:02d}", where=parse_slice(where), metric=metric)
        store.save(new.case)
    return directory


_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def timed(step: str, engine: str, data: Path, cases: Path) -> dict[str, object]:
    """One ``check`` or ``discover`` process: wall time, peak RSS, exit code, results.

    The command runs under a small wrapper process that reports its children's peak
    RSS (``wait4`` on the command itself would count the memory of this script,
    which a forked child starts from).
    """
    options = ["--cases", str(cases)] if step == "check" else DISCOVER
    command = [sys.executable, "-m", "mlqa_debug.cli", step, str(data), *options]
    command += ["--engine", engine, "--json"]
    out_path, err_path = OUT / f"{step}-{engine}.json", OUT / f"{step}-{engine}.err"
    rss_path = OUT / f"{step}-{engine}.rss"
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
    data_out = json.loads(text) if text.strip().startswith("{") else {}
    if step == "check":
        results = [
            (r["name"], r["status"], r["value"], r["rows"]) for r in data_out.get("results", [])
        ]
    else:
        found = data_out.get("slices", [])
        results = [(d["slice"], d["size"], d["score"], d["error_sum"]) for d in found]
    return {
        "step": step,
        "engine": engine,
        "seconds": seconds,
        "rss_mb": int(rss_path.read_text()) / 1024,
        "code": code,
        "error": "" if data_out else (err_path.read_text().strip().splitlines() or [""])[-1],
        "results": results,
    }


def same(a: list[tuple[object, ...]], b: list[tuple[object, ...]]) -> bool:
    """Same results: fields 0, 1 and 3 equal, field 2 (value, score) to a relative 1e-9.

    Check: name, status, value, rows; discover: slice, size, score, error sum.
    """
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[0] != y[0] or x[1] != y[1] or x[3] != y[3]:
            return False
        if (x[2] is None) != (y[2] is None):
            return False
        if x[2] is not None and not np.isclose(x[2], y[2], rtol=1e-9, atol=0):  # type: ignore[call-overload]
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="")
    parser.add_argument("--steps", default="check,discover")
    args = parser.parse_args()
    engines = (
        args.engines.split(",")
        if args.engines
        else (["duckdb", "numpy", "spark"] if args.rows <= 10_000_000 else ["duckdb", "numpy"])
    )
    print(f"writing / reusing {args.rows:,} rows of partitioned Parquet ...", flush=True)
    data = write_table(args.rows)
    cases = save_cases(data)
    size = sum(f.stat().st_size for f in data.rglob("*.parquet"))
    print(f"table: {data} ({size / 2**20:,.0f} MB on disk); {len(CASES)} cases in {cases}")
    for step in args.steps.split(","):
        report(step, [timed(step, engine, data, cases) for engine in engines])


def report(step: str, runs: list[dict[str, object]]) -> None:
    """One step's table: time, ratio to the first engine, peak RSS, agreement."""
    reference = runs[0]
    what = "cases" if step == "check" else "slices"
    print(f"\n{step}")
    print(f"{'engine':<8} {'wall s':>8} {'ratio':>7} {'peak RSS MB':>12} {'exit':>5}  result")
    for run in runs:
        ratio = float(run["seconds"]) / float(reference["seconds"])  # type: ignore[arg-type]
        if run["results"]:
            agrees = same(run["results"], reference["results"])  # type: ignore[arg-type]
            note = f"{len(run['results'])} {what}, " + (  # type: ignore[arg-type]
                "same as " + str(reference["engine"]) if agrees else "DIFFERENT results"
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
