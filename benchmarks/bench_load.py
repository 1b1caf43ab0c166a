"""Loading a 1,000,000-row predictions table: ``load_predictions`` against a bare read.

Generates (seeded, once, into ``benchmarks/out/``) a binary predictions table:
``id``, ``label``, ``prediction``, ``score`` and 30 features (20 numeric, 8 string
categoricals of 3 to 2,000 values, 1 boolean, 1 ISO date string), as Parquet and,
with ``--csv``, as CSV. Then each measurement runs in a fresh subprocess (one at a
time, ``--repeat`` times, the median is shown), which times only the load (imports
excluded) and reports its own peak RSS (``ru_maxrss``, so it includes the
interpreter and the imports; the RSS after imports is shown apart):

- ``pyarrow.parquet.read_table(path)``: the floor, an Arrow table and nothing else;
- ``pandas.read_parquet(path)``: the same as a DataFrame (what any pandas tool pays);
- ``mlqa_debug.load_predictions(path)`` plus ``.error``: read, fingerprint, roles,
  validation, feature typing and conversion, the error indicator;
- with ``--csv``: ``pyarrow.csv.read_csv`` and ``load_predictions`` on the CSV.

    python benchmarks/bench_load.py                 # 1,000,000 rows, Parquet
    python benchmarks/bench_load.py --csv           # also CSV
    python benchmarks/bench_load.py --rows 100000   # smaller
    python benchmarks/bench_load.py --profile       # cProfile of load_predictions, top 25

``--baseline DIR`` adds load_predictions from another copy of the package (before/after).
The table is also written to ``benchmarks/out/bench_load.md``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass(frozen=True)
class Step:
    label: str
    kind: str
    path: Path
    pythonpath: str | None = None


CATEGORY_SIZES = (3, 5, 8, 12, 30, 100, 500, 2000)


def make_frame(rows: int, seed: int = 0) -> Any:
    """The seeded predictions table (a pandas DataFrame)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"id": np.char.add("E", np.arange(rows).astype("U7"))}
    numeric = rng.normal(size=(rows, 20))
    for j in range(20):
        column = numeric[:, j] * (10**j % 997 + 1)
        data[f"num_{j}"] = np.round(column).astype(np.int64) if j % 4 == 0 else np.round(column, 4)
    for j, size in enumerate(CATEGORY_SIZES):
        values = np.array([f"c{j}_value_{v}" for v in range(size)], dtype=object)
        weights = 1.0 / np.arange(1, size + 1)
        data[f"cat {j}"] = values[rng.choice(size, rows, p=weights / weights.sum())]
    data["flag"] = rng.random(rows) < 0.3
    days = rng.integers(0, 730, rows)
    data["applied_on"] = (np.datetime64("2024-01-01") + days).astype("datetime64[D]").astype(str)
    logit = numeric[:, 0] - 0.5 * numeric[:, 1] + (data["cat 0"] == "c0_value_2") - 1.0
    score = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0, 0.8, rows))))
    data["label"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    data["prediction"] = (score >= 0.5).astype(np.int64)
    data["score"] = np.round(score, 6)
    return pd.DataFrame(data)


def ensure_files(rows: int, csv: bool) -> dict[str, Path]:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": OUT_DIR / f"load_{rows}.parquet"}
    if csv:
        paths["csv"] = OUT_DIR / f"load_{rows}.csv"
    if any(not p.is_file() for p in paths.values()):
        print(f"generating {rows:,} rows ...", file=sys.stderr, flush=True)
        # in a subprocess: ru_maxrss survives fork and exec, so a parent that held the
        # generated frame would pass its peak on to every worker it starts
        command = [
            sys.executable,
            __file__,
            "--generate",
            str(rows),
            *[str(p) for p in paths.values()],
        ]
        subprocess.run(command, check=True)
    return paths


def generate(rows: int, targets: list[str]) -> None:
    frame = make_frame(rows)
    for target in map(Path, targets):
        if target.is_file():
            continue
        if target.suffix == ".parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_csv(target, index=False)


# --- workers (run in a fresh interpreter each) ----------------------------------------


def _work_read_table(path: str) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_table(path).num_rows)


def _work_read_parquet(path: str) -> int:
    import pandas as pd

    return len(pd.read_parquet(path))


def _work_arrow_csv(path: str) -> int:
    import pyarrow.csv as pacsv

    return int(pacsv.read_csv(path).num_rows)


def _work_load(path: str) -> int:
    from mlqa_debug import load_predictions

    predictions = load_predictions(path)
    predictions.error  # noqa: B018 - the error indicator is part of the first view
    return predictions.n_samples


WORKERS = {
    "read_table": _work_read_table,
    "read_parquet": _work_read_parquet,
    "arrow_csv": _work_arrow_csv,
    "load": _work_load,
}
#: Imported before the clock starts (read_table imports pyarrow.dataset lazily: ~0.25 s).
IMPORTS = {
    "read_table": "import pyarrow.parquet, pyarrow.dataset",
    "read_parquet": "import pandas, pyarrow.parquet, pyarrow.dataset",
    "arrow_csv": "import pyarrow.csv",
    "load": "import mlqa_debug, pandas, pyarrow.parquet, pyarrow.dataset, pyarrow.csv",
}


def worker(kind: str, path: str) -> None:
    exec(IMPORTS[kind])  # warm the imports so that only the load is timed
    rss_after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    rows = WORKERS[kind](path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    module = sys.modules["mlqa_debug"].__file__ if "mlqa_debug" in sys.modules else None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "imports_mb": rss_after_imports,
                "rows": rows,
                "module": module,
            }
        )
    )


def run_worker(kind: str, path: Path, pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    result = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    out = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    if pythonpath:  # the baseline copy, not the installed package, was timed
        assert str(out["module"]).startswith(str(Path(pythonpath).resolve())), out["module"]
    return out


def measure(steps: list[Step], repeat: int) -> list[dict[str, float]]:
    """Run every step ``repeat`` times, round-robin (so load on the machine hits all alike)."""
    runs: list[list[dict[str, Any]]] = [[] for _ in steps]
    for _ in range(repeat):
        for i, step in enumerate(steps):
            runs[i].append(run_worker(step.kind, step.path, step.pythonpath))
    return [
        {
            "best": min(r["seconds"] for r in rs),
            "median": statistics.median(r["seconds"] for r in rs),
            "peak_mb": max(r["peak_mb"] for r in rs),
            "imports_mb": max(r["imports_mb"] for r in rs),
            "rows": rs[0]["rows"],
        }
        for rs in runs
    ]


def profile(path: Path) -> None:
    import cProfile
    import pstats

    from mlqa_debug import load_predictions

    profiler = cProfile.Profile()
    profiler.enable()
    load_predictions(path).error  # noqa: B018
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--csv", action="store_true", help="also measure loading the CSV")
    parser.add_argument("--profile", action="store_true", help="cProfile load_predictions")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time load_predictions from another copy of the package (PYTHONPATH=DIR)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if args.generate:
        generate(int(args.generate[0]), args.generate[1:])
        return
    paths = ensure_files(args.rows, args.csv)
    if args.profile:
        profile(paths["parquet"])
        return
    parquet, csv = paths["parquet"], paths.get("csv")
    steps = [
        Step("pyarrow.parquet.read_table (reference)", "read_table", parquet),
        Step("pandas.read_parquet", "read_parquet", parquet),
        Step("load_predictions(parquet) + .error", "load", parquet),
    ]
    if args.baseline:
        steps.append(Step("load_predictions(parquet) [baseline]", "load", parquet, args.baseline))
    if csv is not None:
        steps += [
            Step("pyarrow.csv.read_csv", "arrow_csv", csv),
            Step("load_predictions(csv) + .error", "load", csv),
        ]
        if args.baseline:
            steps.append(Step("load_predictions(csv) [baseline]", "load", csv, args.baseline))
    sizes = {k: p.stat().st_size / 2**20 for k, p in paths.items()}
    lines = [
        f"{args.rows:,} rows x 34 columns (30 features); "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items())
        + f"; {args.repeat} fresh processes per step, round-robin",
        "",
        "| step | best s | median s | best / read_table | peak RSS MB | RSS after imports MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    results = measure(steps, args.repeat)
    reference = results[0]["best"]
    for step, result in zip(steps, results, strict=True):
        assert result["rows"] == args.rows, result
        lines.append(
            f"| {step.label} | {result['best']:.3f} | {result['median']:.3f} "
            f"| {result['best'] / reference:.1f}x | {result['peak_mb']:.0f} "
            f"| {result['imports_mb']:.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    (OUT_DIR / "bench_load.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
