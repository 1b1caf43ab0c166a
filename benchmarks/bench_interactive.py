"""A million rows, several reviewers: every page against a bare page, in Chromium.

    .venv/bin/python benchmarks/bench_interactive.py [--rows N] [--changes K] [--sessions S]
        [--opens K] [--steps slices,confusion,compare,open,bytes,sessions]
        [--clients protocol|browser]

The table is bench_slices.py's (20 numeric, 8 categorical, a boolean and a date
feature; binary labels; ``--rows`` rows, 1,000,000 by default) and, for the
Compare page, bench_compare_page.py's candidate (the same rows, 4% of the
predictions flipped). One app server and one bare page (benchmarks/bare_page.py:
three metrics and a chart, the floor any page pays per rerun) serve them; the
bare page's figures are measured in the same run, and every target is a ratio
to them, because absolute times on a shared machine are noisy.

Steps:
  slices, confusion, compare   Enter in the slice box to the new row count painted,
                               and to the rerun finished (medians and p90 over K changes).
                               Targets: painted within 2x, finished within 2.5x.
  open                         every page from a link in a fresh browser context,
                               server warm (the page opened once before and its
                               background work, Discover's search and tree, finished):
                               to the run finished. Target: within 1.3x the bare page.
  bytes                        websocket bytes the server sends for each page's first
                               view and for one slice change. Target: at most 5 MB; the
                               Embeddings page's first view under 3 MB.
  sessions                     S sessions changing slices at once on the Slices page.
                               By default one is Chromium (timed: painted and finished
                               against the same harness alone, target within 1.5x) and
                               S-1 are websocket clients (benchmarks/ws_client.py: the
                               messages a browser sends, everything the server sends
                               read back; 0.5-1.5 s between changes, as a reviewer
                               reading the page), also timed against one client alone:
                               S Chromiums on the server's own 2 cores measure the
                               browsers' redraws competing with each other
                               (``--clients browser`` still does that). Every typed
                               slice must take effect (each change waits for its own
                               slice's row count, so a session that saw another's state
                               would fail), and the server's peak resident memory
                               (target under 3 GB).
  long                         a websocket client's slice changes while a Chromium
                               sits on Discover (a search and the error tree started
                               afresh) and then on Embeddings (a UMAP fit): against
                               the client alone, target within 1.5x.

Prints one table (step, median, p90, bare-page median, ratio, target, pass/fail)
and the bytes and memory figures. Data and workspaces go to benchmarks/out/ (ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_compare_page import candidate_path  # noqa: E402
from bench_slices import OUT, SLICES, BareServer, expected_rows, table_path, time_page  # noqa: E402

STEPS = ("slices", "confusion", "compare", "open", "bytes", "sessions", "long")
PAGES = ("data", "slices", "confusion", "discover", "embeddings", "explanations", "cases")
BARE_TEXTS = [f"f0 >= {x}" for x in (0.5, -0.5, 1.0, 0.0, 1.5, -1.0)]
PAINTED_BUDGET, FINISHED_BUDGET, OPEN_BUDGET, SESSIONS_BUDGET = 2.0, 2.5, 1.3, 1.5
MAX_VIEW_BYTES, MAX_EMBEDDINGS_BYTES, MAX_RSS_BYTES = 5 * 2**20, 3 * 2**20, 3 * 2**30
LOAD_TIMEOUT_MS = 900_000


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    step: str
    values: list[float]
    reference: list[float] | None
    budget: float | None

    def cells(self) -> list[str]:
        median, p90 = statistics.median(self.values), _p90(self.values)
        if self.reference is None or self.budget is None:
            return [self.step, f"{median:.0f}", f"{p90:.0f}", "", "", "", ""]
        ref = statistics.median(self.reference)
        ratio = median / ref
        verdict = "pass" if ratio <= self.budget else "FAIL"
        return [
            self.step, f"{median:.0f}", f"{p90:.0f}", f"{ref:.0f}", f"{ratio:.2f}",
            f"{self.budget:g}x", verdict,
        ]  # fmt: skip


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]


def _bare_rows(path: Path) -> list[str]:
    import pandas as pd

    f0 = pd.read_parquet(path, columns=["f0"])["f0"]
    return [f"{int((f0 >= float(t.split('>=')[1])).sum()):,}" for t in BARE_TEXTS]


# --------------------------------------------------------------------------- servers


class Servers:
    """The app (datasets ``bench``, and ``cand`` with baseline ``bench``) and the bare page."""

    def __init__(self, n_rows: int) -> None:
        from mlqa_debug.data.workspace import Workspace
        from tests.e2e.harness import StreamlitServer

        self.table, self.candidate = table_path(n_rows), candidate_path(n_rows)
        workspace = self.workspace = OUT / "workspace_interactive"
        shutil.rmtree(workspace, ignore_errors=True)
        ws = Workspace(workspace)
        ws.add(self.table, name="bench")
        ws.add(self.candidate, name="cand", baseline="bench")
        self.rows = expected_rows(self.table)
        self.candidate_rows = expected_rows(self.candidate)
        self.bare_rows = _bare_rows(self.table)
        self.app = StreamlitServer(workspace, log_dir=OUT)
        os.environ["BENCH_FILE"] = str(self.table)
        self.bare = BareServer(workspace)

    def page(self, page: str) -> tuple[str, list[str]]:
        """The URL of ``page`` on the app, and the row counts its slices (``SLICES``) give."""
        if page == "compare":
            return f"{self.app.url}/compare?ds=cand&vs=bench", self.candidate_rows
        return f"{self.app.url}/{page}?ds=bench", self.rows

    def stop(self) -> None:
        self.app.stop()
        self.bare.stop()
        raised = self.app.log_path.read_text().count("Uncaught app execution")
        if raised:  # a timed view that showed a traceback is not a measurement of the page
            print(f"\nWARNING: the app raised {raised} times: see {self.app.log_path}",
                  file=sys.stderr)  # fmt: skip


class PeakRss:
    """Samples a process's resident memory every 50 ms in a thread; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        try:
            text = self._path.read_text()
        except OSError:  # the process has ended
            return 0
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


# --------------------------------------------------------------------------- steps


def slice_changes(servers: Servers, page: str, changes: int) -> tuple[list[float], list[float]]:
    """Painted and finished ms per slice change on ``page``."""
    url, rows = servers.page(page)
    return time_page(url, SLICES, rows, changes, load_timeout=LOAD_TIMEOUT_MS)


def bare_changes(servers: Servers, changes: int) -> tuple[list[float], list[float]]:
    return time_page(servers.bare.url, BARE_TEXTS, servers.bare_rows, changes)


def _browser() -> tuple[Any, Any]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.harness import CHROMIUM_ARGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def _wait_for_view(page: Any) -> None:
    """Until the page has drawn (a metric or its title) and its run is over.

    Right after connecting, the app reads "not running" before the first run
    starts, so the run's end alone could be the state before it.
    """
    from tests.e2e.harness import wait_for_run

    page.wait_for_selector('[data-testid="stMetricValue"], h1', timeout=LOAD_TIMEOUT_MS)
    wait_for_run(page, timeout=LOAD_TIMEOUT_MS)


def _wait_for_long_work(page: Any) -> None:
    """Until the page shows no progress bar: the warm-up open's background work is done.

    Discover's first open starts a search and an error tree in background jobs
    and leaves them running; a "warm" server has their results.
    """
    from tests.e2e.harness import wait_for_run

    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        wait_for_run(page, timeout=LOAD_TIMEOUT_MS)
        if page.locator('[data-testid="stProgress"]').count() == 0:
            return
        page.wait_for_timeout(500)
    raise TimeoutError("the page's background work did not finish")


def fresh_opens(url: str, times: int) -> list[float]:
    """Ms from ``goto`` to the run finished, each in a new browser context.

    One warm-up open first, which also waits for the page's background work to end.
    """

    playwright, browser = _browser()
    out = []
    try:
        for i in range(times + 1):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(url)
            _wait_for_view(page)
            if i:  # the first open warms the server's caches up
                out.append((time.perf_counter() - t0) * 1000 - 150)  # wait_for_run's settle
            else:
                _wait_for_long_work(page)
            context.close()
    finally:
        browser.close()
        playwright.stop()
    return out


def websocket_bytes(url: str, slice_text: str | None) -> tuple[int, int]:
    """Bytes the server sends for the first view of ``url`` and for one slice change."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from tests.e2e.harness import wait_for_run

    playwright, browser = _browser()
    received = [0]

    def watch(ws: Any) -> None:
        ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

    try:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.on("websocket", watch)
        page.goto(url)
        _wait_for_view(page)
        first, change = received[0], 0
        if slice_text is not None:
            box = page.get_by_label("Slice", exact=True)
            try:
                box.wait_for(timeout=10_000)
            except PlaywrightTimeout:  # a page without a slice box (Data, Cases)
                return first, 0
            box.fill(slice_text)
            box.press("Enter")
            deadline = time.monotonic() + 10
            while received[0] == first and time.monotonic() < deadline:
                page.wait_for_timeout(50)  # the rerun's first message
            wait_for_run(page, timeout=LOAD_TIMEOUT_MS)
            change = received[0] - first
    finally:
        browser.close()
        playwright.stop()
    return first, change


def _session(args: tuple[str, list[str], list[str], int]) -> tuple[list[float], list[float]]:
    url, texts, rows, changes = args
    return time_page(url, texts, rows, changes, load_timeout=LOAD_TIMEOUT_MS)


def concurrent_sessions(
    servers: Servers, sessions: int, changes: int
) -> tuple[list[tuple[list[float], list[float]]], int]:
    """Each session's (painted, finished) with ``sessions`` browsers at once, and the peak RSS."""
    url = f"{servers.app.url}/slices?ds=bench"
    jobs = []
    for k in range(sessions):  # each session its own order of slices
        texts, rows = _shifted(servers, k)
        jobs.append((url, texts, rows, changes))
    rss = PeakRss(servers.app.process.pid)
    with multiprocessing.get_context("spawn").Pool(sessions) as pool:
        results = pool.map(_session, jobs)
    return results, rss.stop()


def _shifted(servers: Servers, k: int) -> tuple[list[str], list[str]]:
    shift = (2 * k) % len(SLICES)
    return SLICES[shift:] + SLICES[:shift], servers.rows[shift:] + servers.rows[:shift]


def _port(servers: Servers) -> int:
    return int(servers.app.url.rsplit(":", 1)[1])


def protocol_alone(servers: Servers, changes: int) -> list[float]:
    """One websocket client alone: ms per slice change to its run finished."""
    from ws_client import drive

    texts, rows = _shifted(servers, 1)
    timings = asyncio.run(drive(_port(servers), "slices", "ds=bench", texts, rows, changes=changes))
    return timings.finished


def mixed_sessions(
    servers: Servers, sessions: int, changes: int
) -> tuple[tuple[list[float], list[float]], list[list[float]], int]:
    """One Chromium session timed while ``sessions - 1`` websocket clients change slices.

    The clients (benchmarks/ws_client.py) pause 0.5-1.5 s between changes, as a
    reviewer reading the page would, and keep going until the browser is done.
    Returns the browser's (painted, finished), each client's finished times and
    the server's peak RSS.
    """
    from ws_client import drive

    url = f"{servers.app.url}/slices?ds=bench"
    rss = PeakRss(servers.app.process.pid)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    clients: list[Any] = []

    async def start() -> None:
        for k in range(1, sessions):
            texts, rows = _shifted(servers, k)
            clients.append(asyncio.ensure_future(drive(
                _port(servers), "slices", "ds=bench", texts, rows, changes=None, stop=stop,
                think=(0.5, 1.5), seed=k,
            )))  # fmt: skip

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result()
    time.sleep(5)  # every client connected and changing
    try:
        texts, rows = _shifted(servers, 0)
        browser = time_page(url, texts, rows, changes, load_timeout=LOAD_TIMEOUT_MS)
    finally:
        loop.call_soon_threadsafe(stop.set)
        gathered = asyncio.run_coroutine_threadsafe(_gather(clients), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
    return browser, [t.finished for t in gathered], rss.stop()


def during_long_work(servers: Servers, page: str, changes: int) -> list[float]:
    """A websocket client's slice changes while ``page``'s long work runs (its cache cleared).

    A Chromium opens ``page`` (Discover starts a search and the error tree,
    Embeddings a UMAP fit) and stays on it while the client changes slices on
    the Slices page, 0.5-1.0 s apart: ms per change to its run finished.
    """
    from playwright.sync_api import sync_playwright
    from ws_client import drive

    from tests.e2e.harness import CHROMIUM_ARGS, find_chromium

    for kind in ("discovery", "trees", "embeddings"):
        shutil.rmtree(servers.workspace / "cache" / kind, ignore_errors=True)
    texts, rows = _shifted(servers, 3)
    timings: list[Any] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        view = browser.new_page(viewport={"width": 1400, "height": 1000})
        view.goto(f"{servers.app.url}/{page}?ds=bench")
        view.wait_for_selector("h1", timeout=LOAD_TIMEOUT_MS)
        session = drive(
            _port(servers), "slices", "ds=bench", texts, rows, changes=changes,
            think=(0.5, 1.0), seed=3,
        )  # fmt: skip
        client = threading.Thread(target=lambda: timings.append(asyncio.run(session)))
        client.start()
        while client.is_alive():
            view.wait_for_timeout(200)  # the page keeps polling its job meanwhile
        browser.close()
    return list(timings[0].finished)


async def _gather(clients: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*clients))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=9)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument(
        "--clients",
        choices=("protocol", "browser"),
        default="protocol",
        help="sessions step: one Chromium and websocket clients (default), or all Chromium",
    )
    args = parser.parse_args()
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    servers = Servers(args.rows)
    print(f"table: {args.rows:,} rows x 30 features; app {servers.app.url}")
    rows: list[Row] = []
    notes: list[str] = []
    try:
        rss = PeakRss(servers.app.process.pid)
        bare_painted, bare_finished = bare_changes(servers, args.changes)
        for page in ("slices", "confusion", "compare"):
            if page in steps:
                painted, finished = slice_changes(servers, page, args.changes)
                rows.append(Row(f"{page}: slice change, painted", painted, bare_painted,
                                PAINTED_BUDGET))  # fmt: skip
                rows.append(Row(f"{page}: slice change, finished", finished, bare_finished,
                                FINISHED_BUDGET))  # fmt: skip
        if "open" in steps:
            bare_open = fresh_opens(servers.bare.url, args.opens)
            rows.append(Row("bare page: open a link, fresh context", bare_open, None, None))
            for page in (*PAGES, "compare"):
                query = "ds=cand&vs=bench" if page == "compare" else "ds=bench"
                opened = fresh_opens(f"{servers.app.url}/{page}?{query}", args.opens)
                rows.append(Row(f"{page}: open a link, fresh context", opened, bare_open,
                                OPEN_BUDGET))  # fmt: skip
        if "bytes" in steps:
            notes.append("\n| page | first view, bytes sent | one slice change | budget | |")
            notes.append("|---|---:|---:|---:|---|")
            for page in (*PAGES, "compare"):
                query = "ds=cand&vs=bench" if page == "compare" else "ds=bench"
                first, change = websocket_bytes(f"{servers.app.url}/{page}?{query}", SLICES[0])
                budget = MAX_EMBEDDINGS_BYTES if page == "embeddings" else MAX_VIEW_BYTES
                ok = "pass" if max(first, change) <= budget else "FAIL"
                notes.append(f"| {page} | {first:,} | {change:,} | {budget / 2**20:g} MB | {ok} |")
        alone_rss = rss.stop()
        notes.append(f"\nserver peak RSS, one session at a time: {alone_rss / 2**20:,.0f} MB")
        if "sessions" in steps and args.clients == "browser":
            alone_p, alone_f = slice_changes(servers, "slices", args.changes)
            results, peak = concurrent_sessions(servers, args.sessions, args.changes)
            for k, (painted, finished) in enumerate(results):
                rows.append(Row(f"session {k + 1} of {args.sessions}: painted", painted, alone_p,
                                SESSIONS_BUDGET))  # fmt: skip
                rows.append(Row(f"session {k + 1} of {args.sessions}: finished", finished,
                                alone_f, SESSIONS_BUDGET))  # fmt: skip
        elif "sessions" in steps:
            alone_p, alone_f = slice_changes(servers, "slices", args.changes)
            alone_client = protocol_alone(servers, args.changes)
            (painted, finished), clients, peak = mixed_sessions(
                servers, args.sessions, args.changes
            )
            name = f"Chromium session, {args.sessions - 1} others changing slices"
            rows.append(Row(f"{name}: painted", painted, alone_p, SESSIONS_BUDGET))
            rows.append(Row(f"{name}: finished", finished, alone_f, SESSIONS_BUDGET))
            for k, times in enumerate(clients):
                rows.append(Row(f"websocket session {k + 2} of {args.sessions}: finished",
                                times, alone_client, SESSIONS_BUDGET))  # fmt: skip
            ok = "pass" if peak <= MAX_RSS_BYTES else "FAIL"
            notes.append(
                f"server peak RSS with {args.sessions} sessions: {peak / 2**20:,.0f} MB "
                f"(budget {MAX_RSS_BYTES / 2**30:g} GB: {ok}); every typed slice took effect "
                "in every session (each change waited for its own row count)"
            )
        if "long" in steps:
            alone_client = protocol_alone(servers, args.changes)
            for page in ("discover", "embeddings"):
                busy = during_long_work(servers, page, 3 * args.changes)
                rows.append(Row(f"websocket session while {page}'s long work runs: finished",
                                busy, alone_client, SESSIONS_BUDGET))  # fmt: skip
    finally:
        servers.stop()
    print("\nms; ratios against the bare page (sessions: against one session alone)\n")
    print("| step | median | p90 | reference median | ratio | target | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| bare page: slice change, painted | {statistics.median(bare_painted):.0f} | "
        f"{_p90(bare_painted):.0f} | | | | |"
    )
    print(
        f"| bare page: slice change, finished | {statistics.median(bare_finished):.0f} | "
        f"{_p90(bare_finished):.0f} | | | | |"
    )
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
