"""The load cache: a CLI command on a workspace dataset, first run against second run.

Generates (seeded, once, into ``benchmarks/out/``) the 1,000,000-row binary table of
``bench_load.py`` (``id``, ``label``, ``prediction``, ``score``, 30 features), as
Parquet or, with ``--csv``, CSV, registers it in a workspace under ``benchmarks/out/``
and then, every measurement a fresh process, one at a time:

- whole commands, ``python -m mlqa_debug.cli slice NAME --where ...`` and ``discover
  NAME``: the first run with an empty load cache (a miss: read, validate, store the
  entry) against the second (a hit); both must print the same thing;
- the load step alone, ``Workspace.load``: a fresh load (no cache), a miss that
  stores the entry, and a hit (imports excluded).

``--repeat`` times each (the median is shown). A CI run sharing the machine slows
every figure; the ratios suffer least.

    python benchmarks/bench_cli_cache.py                 # 1,000,000 rows, Parquet
    python benchmarks/bench_cli_cache.py --csv           # the same table as CSV
    python benchmarks/bench_cli_cache.py --rows 100000   # smaller

The table is also written to ``benchmarks/out/bench_cli_cache.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_load import make_frame  # noqa: E402

from mlqa_debug.data import load_cache  # noqa: E402
from mlqa_debug.data.workspace import Workspace  # noqa: E402

NAME = "bench"
COMMANDS = {
    "slice": ["slice", NAME, "--where", "num_1 > 0 and `cat 0` == 'c0_value_2'"],
    "discover": ["discover", NAME],
}


def prepare(rows: int, suffix: str) -> Workspace:
    """The workspace holding the benchmark table as ``bench`` (made once per size)."""
    workspace = Workspace(OUT_DIR / f"cli_cache_ws_{rows}{suffix.replace('.', '_')}")
    if NAME not in workspace.names():
        source = OUT_DIR / f"cli_cache_{rows}{suffix}"
        if not source.is_file():
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            frame = make_frame(rows)
            if suffix == ".csv":
                frame.to_csv(source, index=False)
            else:
                frame.to_parquet(source, index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workspace.add(source, name=NAME)
    path = workspace.entry(NAME).path
    wait = load_cache.RACY_SECONDS - (time.time() - path.stat().st_mtime)
    if wait > 0:  # a file changed this recently would not be stored
        time.sleep(wait)
    return workspace


def clear_cache(workspace: Workspace) -> None:
    shutil.rmtree(workspace.root / "cache" / "loads", ignore_errors=True)


def run_command(workspace: Workspace, argv: list[str]) -> tuple[float, str]:
    """Seconds of one whole ``mlqa-debug`` process, and what it printed."""
    cmd = [sys.executable, "-m", "mlqa_debug.cli", *argv, "--workspace", str(workspace.root)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-800:]}")
    return seconds, proc.stdout


def worker(root: str, cache: bool) -> None:
    """Time one ``Workspace.load`` in this process (imports done) and print JSON."""
    workspace = Workspace(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        predictions = workspace.load(NAME, cache=cache)
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": predictions.n_samples}))


def run_load(workspace: Workspace, *, cache: bool) -> float:
    cmd = [sys.executable, __file__, "--worker", str(workspace.root)]
    cmd += ["--cache"] if cache else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"load worker failed ({proc.returncode}): {proc.stderr[-800:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["seconds"])


def measure(workspace: Workspace, repeat: int) -> list[tuple[str, float, float]]:
    """``(what, miss seconds, hit seconds)`` per measurement, medians of ``repeat`` runs."""
    rows: list[tuple[str, float, float]] = []
    for label, argv in COMMANDS.items():
        misses, hits = [], []
        for _ in range(repeat):
            clear_cache(workspace)
            miss, first = run_command(workspace, argv)
            hit, second = run_command(workspace, argv)
            if first != second:
                raise RuntimeError(f"{label}: the second run printed something else")
            misses.append(miss)
            hits.append(hit)
        rows.append((f"`mlqa-debug {label}` (whole process)", *_medians(misses, hits)))
    fresh, misses, hits = [], [], []
    for _ in range(repeat):
        fresh.append(run_load(workspace, cache=False))
        clear_cache(workspace)
        misses.append(run_load(workspace, cache=True))
        hits.append(run_load(workspace, cache=True))
    rows.append(("load step: fresh load (no cache) vs hit", *_medians(fresh, hits)))
    rows.append(("load step: miss + store vs hit", *_medians(misses, hits)))
    return rows


def _medians(a: list[float], b: list[float]) -> tuple[float, float]:
    return statistics.median(a), statistics.median(b)


def table(rows: list[tuple[str, float, float]], header: str) -> str:
    lines = [
        header,
        "",
        "| what | first / fresh s | second (hit) s | ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {what} | {a:.2f} | {b:.2f} | {a / b:.1f}x |" for what, a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv", action="store_true", help="register the table as CSV")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.cache)
        return
    suffix = ".csv" if args.csv else ".parquet"
    workspace = prepare(args.rows, suffix)
    path = workspace.entry(NAME).path
    rows = measure(workspace, args.repeat)
    entry_bytes = sum(p.stat().st_size for p in (workspace.root / "cache" / "loads").iterdir())
    header = (
        f"{args.rows:,} rows, {suffix[1:]} file of {path.stat().st_size / 2**20:.0f} MB, "
        f"cache entry {entry_bytes / 2**20:.0f} MB; median of {args.repeat} run(s)"
    )
    text = table(rows, header)
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "bench_cli_cache.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
