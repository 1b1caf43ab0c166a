"""Wide tables: validating 1,000 / 10,000 / 50,000 columns of 5 rows, and opening the pages.

Generates (seeded, once, into ``benchmarks/out/``) a binary predictions table of
``--rows`` rows (default 5): ``id``, ``label``, ``prediction``, ``score`` and
features ``f0 ...`` (8 in 10 numbers, 1 in 10 integers, 1 in 10 strings of 3
values), as CSV and Parquet. Each measurement runs in a fresh subprocess (one at a
time, ``--repeat`` times round-robin, the best and the median are shown), which
times only the work (imports excluded):

- ``pyarrow.csv.read_csv`` / ``pyarrow.parquet.read_table``: the reference, the
  file read into an Arrow table and nothing else;
- ``load_predictions(path)`` plus ``.error``: read, fingerprint, roles, every
  check, feature typing and conversion, the error indicator.

With ``--pages``: the Data, Slices and Discover pages of the Parquet table under
``streamlit.testing.v1.AppTest`` (a workspace in ``benchmarks/out/``), against the
bare page of ``benchmarks/bare_page.py`` on the same file (the least a page does);
the first open in a fresh process (it validates the table) and a second run.

    python benchmarks/bench_wide.py                        # 1k, 10k, 50k columns: validate
    python benchmarks/bench_wide.py --columns 10000 --pages
    python benchmarks/bench_wide.py --profile 10000        # cProfile of load_predictions
    python benchmarks/bench_wide.py --baseline DIR         # also another copy (before/after)

The tables are also written to ``benchmarks/out/bench_wide.md``.
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

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "benchmarks" / "out"
PAGES = ("data", "slices", "discover")
PAGE_BUDGET_S = 10.0


@dataclass(frozen=True)
class Step:
    """One measurement: a worker kind on a file (a page name for page workers)."""

    label: str
    kind: str
    path: Path
    page: str = ""
    pythonpath: str | None = None  # another copy of the package (--baseline)


def make_frame(columns: int, rows: int, seed: int = 0) -> Any:
    """The seeded wide predictions table (a pandas DataFrame) with ``columns`` features."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"id": [f"E{i}" for i in range(rows)]}
    values = rng.normal(size=(rows, columns))
    for j in range(columns):
        if j % 10 == 9:
            data[f"f{j}"] = np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, rows)]
        elif j % 10 == 8:
            data[f"f{j}"] = np.round(values[:, j] * 10).astype(np.int64)
        else:
            data[f"f{j}"] = np.round(values[:, j], 4)
    score = 1.0 / (1.0 + np.exp(-values[:, 0]))
    data["label"] = np.arange(rows) % 2
    data["prediction"] = (score >= 0.5).astype(np.int64)
    data["score"] = np.round(score, 6)
    return pd.DataFrame(data)


def table_paths(columns: int, rows: int) -> dict[str, Path]:
    """The CSV and Parquet files of one size, generated in a subprocess when missing."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    paths = {kind: OUT_DIR / f"wide_{columns}x{rows}.{kind}" for kind in ("csv", "parquet")}
    if any(not p.is_file() for p in paths.values()):
        print(f"generating {columns:,} columns x {rows} rows ...", file=sys.stderr, flush=True)
        command = [sys.executable, __file__, "--generate", str(columns), str(rows)]
        subprocess.run(command, check=True)  # so no worker inherits the generator's peak RSS
    return paths


def generate(columns: int, rows: int) -> None:
    frame = make_frame(columns, rows)
    stem = OUT_DIR / f"wide_{columns}x{rows}"
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    frame.to_parquet(stem.with_suffix(".parquet"), index=False)


# --- workers (run in a fresh interpreter each) ----------------------------------------


def _work_arrow_csv(path: str, page: str) -> None:
    import pyarrow.csv as pacsv

    pacsv.read_csv(path)


def _work_read_table(path: str, page: str) -> None:
    import pyarrow.parquet as pq

    pq.read_table(path)


def _work_load(path: str, page: str) -> None:
    from mlqa_debug import load_predictions

    load_predictions(path).error  # noqa: B018 - the error indicator is part of the first view


def _work_page(path: str, page: str) -> list[float]:
    """Seconds of the first AppTest run of ``page`` and of a second one."""
    from streamlit.testing.v1 import AppTest

    if page == "bare":
        os.environ["BENCH_FILE"] = path
        at = AppTest.from_file(str(REPO / "benchmarks" / "bare_page.py"), default_timeout=900)
    else:
        at = AppTest.from_file(str(REPO / "pages" / f"{page}.py"), default_timeout=900)
        at.query_params["ds"] = Path(path).stem.replace("x", "_")
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - start)
        if at.exception:
            raise SystemExit(f"{page}: {at.exception[0].message}")
    return seconds


WORKERS = {
    "arrow_csv": _work_arrow_csv,
    "read_table": _work_read_table,
    "load": _work_load,
    "page": _work_page,
}
#: Imported before the clock starts.
IMPORTS = {
    "arrow_csv": "import pyarrow.csv",
    "read_table": "import pyarrow.parquet, pyarrow.dataset",
    "load": "import mlqa_debug, pandas, pyarrow.parquet, pyarrow.dataset, pyarrow.csv",
    "page": "import mlqa_debug, pandas, plotly, streamlit.testing.v1, pyarrow.parquet",
}


def worker(kind: str, path: str, page: str) -> None:
    exec(IMPORTS[kind])  # warm the imports so that only the work is timed
    start = time.perf_counter()
    timed = WORKERS[kind](path, page)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runs = timed if isinstance(timed, list) else [seconds]
    print(json.dumps({"seconds": runs, "peak_mb": peak}))


def run_worker(step: Step, workspace: Path) -> dict[str, Any]:
    env = {**os.environ, "MLQA_DEBUG_WORKSPACE": str(workspace)}
    if step.pythonpath:
        env["PYTHONPATH"] = step.pythonpath
    command = [sys.executable, __file__, "--worker", step.kind, str(step.path), step.page]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{step.label} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(steps: list[Step], repeat: int, workspace: Path) -> list[dict[str, float]]:
    """Every step ``repeat`` times, round-robin (so load on the machine hits all alike)."""
    runs: list[list[dict[str, Any]]] = [[] for _ in steps]
    for _ in range(repeat):
        for i, step in enumerate(steps):
            runs[i].append(run_worker(step, workspace))
    out = []
    for rs in runs:
        first = [r["seconds"][0] for r in rs]
        again = [r["seconds"][-1] for r in rs]
        out.append(
            {
                "best": min(first),
                "median": statistics.median(first),
                "again": min(again),
                "peak_mb": max(r["peak_mb"] for r in rs),
            }
        )
    return out


# --- tables ---------------------------------------------------------------------------


def validate_table(sizes: list[int], rows: int, repeat: int, baseline: str | None) -> str:
    lines = [
        f"## Validate: {rows} rows; {repeat} fresh processes per step, round-robin",
        "",
        "| columns | file | reference s | load_predictions + .error s | median s "
        "| ratio | peak RSS MB |" + (" baseline s | baseline ratio |" if baseline else ""),
        "|---:|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if baseline else ""),
    ]
    for columns in sizes:
        paths = table_paths(columns, rows)
        for kind, reference in (("csv", "arrow_csv"), ("parquet", "read_table")):
            steps = [
                Step(f"{reference} {columns}", reference, paths[kind]),
                Step(f"load {kind} {columns}", "load", paths[kind]),
            ]
            if baseline:
                steps.append(Step("baseline", "load", paths[kind], pythonpath=baseline))
            ref, ours, *before = measure(steps, repeat, OUT_DIR)
            lines.append(
                f"| {columns:,} | {kind} ({paths[kind].stat().st_size / 2**20:.1f} MB) "
                f"| {ref['best']:.3f} | {ours['best']:.3f} | {ours['median']:.3f} "
                f"| {ours['best'] / ref['best']:.1f}x | {ours['peak_mb']:.0f} |"
                + "".join(f" {b['best']:.3f} | {b['best'] / ref['best']:.1f}x |" for b in before)
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def pages_table(sizes: list[int], rows: int, repeat: int) -> str:
    from mlqa_debug.data.workspace import Workspace

    lines = [
        f"## Pages under AppTest: {rows} rows, Parquet; first open in a fresh process "
        f"(validates the table), then a second run; budget {PAGE_BUDGET_S:.0f} s",
        "",
        "| columns | page | first open s | median s | second run s | first / bare | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    workspace = OUT_DIR / "wide_workspace"
    for columns in sizes:
        path = table_paths(columns, rows)["parquet"]
        name = path.stem.replace("x", "_")
        ws = Workspace(workspace)
        if name not in ws.names():
            ws.add(path, name=name)
        steps = [Step("bare page", "page", path, "bare")]
        steps += [Step(page, "page", path, page) for page in PAGES]
        results = measure(steps, repeat, workspace)
        bare = results[0]["best"]
        for step, result in zip(steps, results, strict=True):
            over = " (over budget)" if result["best"] > PAGE_BUDGET_S else ""
            lines.append(
                f"| {columns:,} | {step.label}{over} | {result['best']:.2f} "
                f"| {result['median']:.2f} | {result['again']:.2f} "
                f"| {result['best'] / bare:.1f}x | {result['peak_mb']:.0f} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def profile(columns: int, rows: int) -> None:
    from bench_load import profile as profile_load  # the same profile of one load

    for kind, path in table_paths(columns, rows).items():
        print(f"--- {kind}: {path.name}")
        profile_load(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--pages", action="store_true", help="also open the pages (AppTest)")
    parser.add_argument("--no-validate", action="store_true", help="only the pages")
    parser.add_argument("--profile", type=int, metavar="COLUMNS", help="cProfile one size")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also validate with another copy of the package (PYTHONPATH=DIR): before/after",
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if args.generate:
        generate(*args.generate)
        return
    if args.profile:
        profile(args.profile, args.rows)
        return
    parts = []
    if not args.no_validate:
        parts.append(validate_table(args.columns, args.rows, args.repeat, args.baseline))
    if args.pages:
        parts.append(pages_table(args.columns, args.rows, args.repeat))
    text = "\n\n".join(parts)
    print(text)
    (OUT_DIR / "bench_wide.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
