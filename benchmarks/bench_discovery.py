"""Slice discovery: ``mlqa_debug.analyses.discovery.find_slices`` against the ``sliceline`` package.

Every run happens in its own subprocess (one at a time), which times only the
search (after a small warm-up call, so numba's compilation in the package is
not counted) and reports its own peak RSS (``ru_maxrss`` of the worker, which
includes the interpreter, the imports and the generated data). The parent
prints a markdown table and checks that both return the same top-k slices with
the same scores (tie-aware: equal ``{slice: score}`` maps).

Data (seeded): categorical features with values drawn uniformly (cases a-c) or
Zipf-like (case d, so that a high-cardinality column still has frequent
values), 0/1 errors at a 4% base rate times random per-value factors, and a
planted slice ``f0 == 3 and
f1 == 7`` erring 90% of the time. alpha 0.95, k 10, minimum support 1%.

    python benchmarks/bench_discovery.py                 # cases a, b, c, d
    python benchmarks/bench_discovery.py --quick         # small smoke run
    python benchmarks/bench_discovery.py --cases a,c
    python benchmarks/bench_discovery.py --with-reference-big   # package on case c too (~OOM)

The table is also written to ``benchmarks/out/bench_discovery.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"
ALPHA = 0.95
K = 10
MIN_SUPPORT = 0.01


@dataclass(frozen=True)
class Case:
    """One benchmark input and search setting."""

    name: str
    rows: int
    features: int
    values: int
    max_level: int
    reference: bool
    zipf: bool = False
    planted: tuple[int, int] = (3, 7)


CASES = {
    "a": Case("a", 1_000_000, 10, 10, 2, reference=True),
    "b": Case("b", 200_000, 10, 10, 3, reference=True),
    "c": Case("c", 1_000_000, 10, 10, 3, reference=False),
    "d": Case("d", 10_000, 5, 1_000, 3, reference=True, zipf=True, planted=(0, 1)),
}
QUICK = {
    "a": Case("a", 50_000, 10, 10, 2, reference=True),
    "b": Case("b", 20_000, 10, 10, 3, reference=True),
    "c": Case("c", 100_000, 10, 10, 3, reference=True),
    "d": Case("d", 2_000, 5, 1_000, 3, reference=True, zipf=True, planted=(0, 1)),
}


def make_data(case: Case, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Integer-coded features ``(rows, features)`` and 0/1 errors with a planted slice.

    The error rate is 4% times a random factor per value of the first five
    features (log-normal, sigma 0.4), so several slices score above zero, and 90%
    inside the planted slice.
    """
    rng = np.random.default_rng(seed)
    if case.zipf:
        weights = 1.0 / np.arange(1, case.values + 1) ** 1.1
        x = rng.choice(case.values, size=(case.rows, case.features), p=weights / weights.sum())
    else:
        x = rng.integers(0, case.values, size=(case.rows, case.features))
    rate = np.full(case.rows, 0.04)
    for f in range(min(5, case.features)):
        rate *= rng.lognormal(0.0, 0.4, case.values)[x[:, f]]
    planted = (x[:, 0] == case.planted[0]) & (x[:, 1] == case.planted[1])
    rate = np.where(planted, 0.9, np.minimum(rate, 1.0))
    errors = (rng.random(case.rows) < rate).astype(np.float64)
    return x, errors


def run_ours(x: np.ndarray, errors: np.ndarray, max_level: int) -> list[tuple[Any, float]]:
    """Top slices from mlqa_debug as ``[(items, score)]``."""
    from mlqa_debug.analyses.discovery.sliceline import find_slices

    found = find_slices(x, errors, alpha=ALPHA, k=K, max_level=max_level, min_support=MIN_SUPPORT)
    return [([list(item) for item in s.items], s.score) for s in found]


def run_reference(x: np.ndarray, errors: np.ndarray, max_level: int) -> list[tuple[Any, float]]:
    """Top slices from the ``sliceline`` package as ``[(items, score)]``."""
    from sliceline import Slicefinder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = Slicefinder(alpha=ALPHA, k=K, max_l=max_level, min_sup=MIN_SUPPORT, verbose=False)
        finder.fit(x, errors)
    out = []
    for row, stats in zip(finder.top_slices_, finder.top_slices_statistics_, strict=True):
        items = [[j, int(v)] for j, v in enumerate(row) if v is not None]
        out.append((items, stats["slice_score"]))
    return out


def worker(which: str, case: Case) -> None:
    """Run one search in this process and print its measurements as JSON."""
    run = run_ours if which == "ours" else run_reference
    warm_x, warm_e = make_data(Case("warm", 2_000, 3, 4, 2, reference=False), seed=1)
    run(warm_x, warm_e, 2)
    x, errors = make_data(case)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    top = run(x, errors, case.max_level)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": seconds, "peak_mb": peak / 1024, "data_mb": before / 1024, "top": top}
        )
    )


def measure(which: str, case: Case) -> dict[str, Any] | None:
    """Run a worker subprocess; ``None`` if it failed (e.g. out of memory)."""
    cmd = [sys.executable, __file__, "--worker", which, "--case-json", json.dumps(asdict(case))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"{which} on case {case.name} failed ({proc.returncode}): {proc.stderr[-500:]}")
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def agree(ours: list[tuple[Any, float]], reference: list[tuple[Any, float]]) -> bool:
    """Same slices with the same scores (ties at the k-th score included)."""
    a = {tuple(map(tuple, items)): score for items, score in ours}
    b = {tuple(map(tuple, items)): score for items, score in reference}
    return a.keys() == b.keys() and all(np.isclose(a[s], b[s], rtol=1e-9) for s in a)


def row(case: Case, ours: dict[str, Any] | None, ref: dict[str, Any] | None) -> str:
    """One markdown table row."""
    shape = f"{case.features} x {case.values}" + (" (zipf)" if case.zipf else "")
    ours_s = f"{ours['seconds']:.3f}" if ours else "failed"
    ref_s = f"{ref['seconds']:.2f}" if ref else "-"
    ratio = f"{ref['seconds'] / ours['seconds']:.0f}x" if ours and ref else "-"
    ours_mb = f"{ours['peak_mb']:.0f}" if ours else "-"
    ref_mb = f"{ref['peak_mb']:.0f}" if ref else "-"
    same = ("yes" if agree(ours["top"], ref["top"]) else "NO") if ours and ref else "-"
    found = len(ours["top"]) if ours else "-"
    top1 = " and ".join(f"f{f}=={v}" for f, v in ours["top"][0][0]) if ours and ours["top"] else "-"
    return (
        f"| {case.name} | {case.rows:,} | {shape} | {case.max_level} | {ref_s} | {ours_s} | "
        f"{ratio} | {ref_mb} | {ours_mb} | {same} | {found} | {top1} |"
    )


HEADER = (
    "| case | rows | features x values | max level | reference s | ours s | speed-up "
    "| reference peak RSS MB | ours peak RSS MB | same top-10 | slices | top-1 |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|"
)


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run the chosen cases one at a time, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="a,b,c,d", help="comma-separated subset of a,b,c,d")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--with-reference-big", action="store_true", help="run the package on c")
    parser.add_argument("--no-reference", action="store_true", help="only time mlqa_debug")
    parser.add_argument("--worker", choices=["ours", "ref"], help=argparse.SUPPRESS)
    parser.add_argument("--case-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, Case(**json.loads(args.case_json)))
        return
    table = QUICK if args.quick else CASES
    lines = [HEADER]
    print(HEADER, flush=True)
    for name in args.cases.split(","):
        case = table[name.strip()]
        ours = measure("ours", case)
        use_ref = (case.reference or args.with_reference_big) and not args.no_reference
        ref = measure("ref", case) if use_ref else None
        lines.append(row(case, ours, ref))
        print(lines[-1], flush=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "bench_discovery.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
