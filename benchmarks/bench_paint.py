"""Slice changes timed inside the page: Enter to the row count painted, and to the run's end.

    .venv/bin/python benchmarks/bench_paint.py [--rows N] [--changes K]
        [--pages slices,confusion,compare]

bench_interactive.py times from Playwright, whose polling adds its own delay on a
busy page. Here a script in the page keeps the clock (``performance.now()``): from
the Enter keydown in the slice box, to the first frame (``requestAnimationFrame``)
whose first metric shows the expected row count, and to the moment the app's
``data-test-script-state`` attribute turns ``notRunning`` (a ``MutationObserver``, or the
first frame after the paint that finds it so).
Same table, servers and slices as bench_interactive.py; the bare page
(benchmarks/bare_page.py) is measured in the same run, before and after the pages,
and the ratios are against the two together. So is the floor
(benchmarks/floor_page.py): the app's own page frame (sidebar, dataset picker, title,
slice box, page links) with the Slices page's four numbers and nothing below them,
which shows how much of each ratio the frame alone takes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_interactive import (
    BARE_TEXTS,
    FINISHED_BUDGET,
    OUT,
    PAINTED_BUDGET,
    REPO,
    SLICES,
    Servers,
    _browser,
    _p90,
    _wait_for_view,
)

from tests.e2e.harness import StreamlitServer

FLOOR = "floor (the app's frame and the headline only)"

CLOCK = """
(() => {
  const t = window.__mlqaBench = {enter: 0, paint: 0, end: 0, want: null};
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter') Object.assign(t, {enter: performance.now(), paint: 0, end: 0});
  }, true);
  const frame = () => {
    const metric = document.querySelector('[data-testid="stMetricValue"]');
    const shown = metric && metric.innerText.trim() === t.want;
    if (t.enter && !t.paint && shown) t.paint = performance.now();
    // A run that starts and ends between two commits never changes the attribute.
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
    if (t.paint && !t.end && idle) t.end = performance.now();
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new MutationObserver(changes => {
    for (const c of changes)
      if (t.enter && !t.end && c.target.getAttribute('data-test-script-state') === 'notRunning')
        t.end = performance.now();
  }).observe(document, {
    attributes: true, subtree: true, attributeFilter: ['data-test-script-state'],
  });
})();
"""


def time_changes(
    url: str, texts: list[str], rows: list[str], changes: int
) -> tuple[list[float], list[float]]:
    """Painted and finished ms (in-page clock) of ``changes`` slice changes after two warm-ups."""
    playwright, browser = _browser()
    painted: list[float] = []
    finished: list[float] = []
    try:
        page: Any = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.add_init_script(CLOCK)
        page.goto(url)
        _wait_for_view(page)
        box = page.get_by_label("Slice", exact=True)
        for i in range(changes + 2):
            text, want = texts[i % len(texts)], rows[i % len(rows)]
            if i and text == texts[(i - 1) % len(texts)]:
                raise ValueError("two equal slices in a row would not rerun")
            page.evaluate("want => { window.__mlqaBench.want = want; }", want)
            box.fill(text)
            box.press("Enter")
            page.wait_for_function(
                "() => window.__mlqaBench.paint > 0 && window.__mlqaBench.end > 0",
                timeout=120_000,
            )
            t = page.evaluate("() => window.__mlqaBench")
            if i >= 2:  # the first changes warm caches up
                painted.append(t["paint"] - t["enter"])
                finished.append(t["end"] - t["enter"])
            page.wait_for_timeout(300)  # a reader between two changes
    finally:
        browser.close()
        playwright.stop()
    return painted, finished


def floor_server(servers: Servers) -> StreamlitServer:
    """benchmarks/floor_page.py as the main script of a folder holding the app's pages."""
    folder = OUT / "floor_app"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(REPO / "benchmarks" / "floor_page.py", folder / "floor_page.py")
    (folder / "pages").symlink_to(REPO / "pages", target_is_directory=True)
    return StreamlitServer(servers.workspace, log_dir=OUT, script=folder / "floor_page.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=12)
    parser.add_argument("--pages", default="slices,confusion,compare")
    args = parser.parse_args()
    servers = Servers(args.rows)
    floor = floor_server(servers)
    results: list[tuple[str, list[float], list[float]]] = []
    try:
        bare = time_changes(servers.bare.url, BARE_TEXTS, servers.bare_rows, args.changes)
        results.append(
            (FLOOR, *time_changes(f"{floor.url}/?ds=bench", SLICES, servers.rows, args.changes))
        )
        for page in [p for p in args.pages.split(",") if p]:
            url, rows = servers.page(page)
            results.append((page, *time_changes(url, SLICES, rows, args.changes)))
        after = time_changes(servers.bare.url, BARE_TEXTS, servers.bare_rows, args.changes)
    finally:
        floor.stop()
        servers.stop()
    bare_painted, bare_finished = bare[0] + after[0], bare[1] + after[1]
    print(
        f"\n{args.rows:,} rows; ms, in-page clock; ratios against the bare page "
        "(measured before and after the pages)\n"
    )
    print("| step | median | p90 | bare median | ratio | target | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, values in (("painted", bare_painted), ("finished", bare_finished)):
        print(f"| bare page: {name} | {statistics.median(values):.0f} | {_p90(values):.0f} "
              "| | | | |")  # fmt: skip
    for page, painted, finished in results:
        for name, values, reference, budget in (
            ("painted", painted, bare_painted, PAINTED_BUDGET),
            ("finished", finished, bare_finished, FINISHED_BUDGET),
        ):
            ratio = statistics.median(values) / statistics.median(reference)
            verdict = "pass" if ratio <= budget else "FAIL"
            target = f"{budget:g}x | {verdict}" if page != FLOOR else " | "  # a reference
            print(
                f"| {page}: {name} | {statistics.median(values):.0f} | {_p90(values):.0f} | "
                f"{statistics.median(reference):.0f} | {ratio:.2f} | {target} |"
            )


if __name__ == "__main__":
    main()
