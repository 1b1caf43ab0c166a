"""A slice change on the Slices page with and without a discovery running in the background.

Long work runs off the script thread (:class:`mlqa_debug.jobs.JobRegistry`), but in
the same process as every session's script: this measures what a running search
costs another visitor's slice change. The Slices page runs under
``streamlit.testing.v1.AppTest`` (server-side script time, no browser) on a
generated table (``bench_slices.make_table``: 20 numeric and 8 categorical
features, binary), changing the slice through the page's slice box:

1. ``alone``: slice changes with nothing else running;
2. ``discovery``: the same changes while a discovery on the same dataset runs as
   a background job, started the way the Discover page starts it (alpha 1, three
   predicates, k 100, 0.01% support, 20 bins: a search that outlasts the changes;
   it is cancelled afterwards, and the script checks it was still running);
3. ``alone`` again, so drift over the run shows.

Prints per condition the median and p90 of the script time per change and the
ratio of the medians to the first ``alone`` block.

    python benchmarks/bench_background.py                 # 1,000,000 rows, 9 changes each
    python benchmarks/bench_background.py --rows 200000 --changes 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_slices import OUT, SLICES, table_path  # noqa: E402

SEARCH = {"alpha": 1.0, "max_level": 3, "k": 100, "min_support": 0.0001, "n_bins": 20}


def workspace(rows: int) -> str:
    """A workspace in benchmarks/out/ holding the generated table as dataset ``big``."""
    from mlqa_debug.data.workspace import Workspace

    root = OUT / f"background_ws_{rows}"
    ws = Workspace(root)
    if "big" not in ws.names():
        ws.add(table_path(rows), name="big")
    return str(root)


def slice_changes(at: object, texts: list[str]) -> list[float]:
    """Milliseconds of the page's script run for each slice change."""
    times = []
    for text in texts:
        box = at.text_input(key="slice")  # type: ignore[attr-defined]
        start = time.perf_counter()
        box.input(text).run()
        times.append((time.perf_counter() - start) * 1000)
        if at.exception:  # type: ignore[attr-defined]
            raise SystemExit(f"the Slices page failed: {at.exception[0].message}")  # type: ignore[attr-defined]
    return times


def start_discovery() -> object:
    """A discovery on the page's copy of ``big``, as a background job like the Discover page's."""
    from mlqa_debug.analyses.discovery.service import (
        DiscoveryParams,
        discover_slices,
        discovery_key,
    )
    from mlqa_debug.jobs import background_jobs
    from mlqa_debug.ui.state import get_workspace, load_dataset

    predictions = load_dataset(get_workspace(), "big")  # the page's cached copy: shared
    params = DiscoveryParams(**SEARCH)  # type: ignore[arg-type]
    key = f"bench:{discovery_key(predictions, params)}:{time.time_ns()}"  # never a cache hit
    job = background_jobs().start(
        key,
        lambda job: discover_slices(
            predictions, params, cache=None, progress=job.report, cancelled=job.cancelled
        ),
        what="the search",
    )
    while job.running and not job.phase.startswith("level 2"):  # past the shared encoding
        time.sleep(0.05)
    return job


def summary(name: str, times: list[float], reference: float) -> str:
    median = statistics.median(times)
    p90 = sorted(times)[max(0, round(0.9 * len(times)) - 1)]
    return f"| {name} | {len(times)} | {median:,.0f} | {p90:,.0f} | {median / reference:.2f}x |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=9, help="slice changes per condition")
    args = parser.parse_args()
    os.environ["MLQA_DEBUG_WORKSPACE"] = workspace(args.rows)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "pages" / "slices.py"), default_timeout=900)
    at.query_params["ds"] = "big"
    at.run()
    texts = [SLICES[i % len(SLICES)] for i in range(args.changes + 2)]
    slice_changes(at, texts[:2])  # warm-up: option lists, breakdowns
    alone = slice_changes(at, texts)
    job = start_discovery()
    busy = slice_changes(at, texts)
    still_running = job.running  # type: ignore[attr-defined]
    job.cancel()  # type: ignore[attr-defined]
    job.wait(60)  # type: ignore[attr-defined]
    after = slice_changes(at, texts)
    if not still_running:
        raise SystemExit("the discovery ended before the changes did: use more --rows")
    reference = statistics.median(alone)
    print(f"Slices page, {args.rows:,} rows: script time per slice change (AppTest, ms)\n")
    print("| condition | changes | median | p90 | ratio |")
    print("|---|---:|---:|---:|---:|")
    print(summary("alone", alone, reference))
    print(summary("discovery running in the background", busy, reference))
    print(summary("alone, after", after, reference))


if __name__ == "__main__":
    main()
