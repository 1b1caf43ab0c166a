"""Long work in a real browser: discovery shows its progress, Cancel stops it, others go on.

A generated 400,000-row table (20 numeric and 8 categorical features) and a wide
search (α 1, so the size term prunes nothing; 3 predicates, k 100, 0.01% support)
keep discovery busy for far longer than the tests take to cancel it (about 40 s
here if left alone). The server runs one expensive job at a time, so the error
tree waits for the search's worker and starts only once the search is gone.
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect

from mlqa_debug.data.workspace import Workspace
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.harness import REPO, StreamlitServer, wait_for_run

pytestmark = pytest.mark.e2e

ROWS = 400_000
SEARCH = {"ds": "big", "alpha": "1", "level": "3", "k": "100", "support": "0.01"}
SLICE = "c0 == 'v3'"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_slices import make_table

    path = tmp_path_factory.mktemp("big") / "big.parquet"
    make_table(ROWS).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def server(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    root = tmp_path_factory.mktemp("workspace")
    Workspace(root).add(table, name="big")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLQA_DEBUG_MAX_JOBS", "1")
        server = StreamlitServer(root, log_dir=ARTIFACTS)
    yield server
    server.stop()


def discover(page: Page, server: StreamlitServer, bins: str) -> None:
    """Open a search no earlier test ran (``bins`` differs), and wait for its progress bar."""
    query = urllib.parse.urlencode({**SEARCH, "bins": bins})
    page.goto(f"{server.url}/discover?{query}")
    search = page.locator('[class*="st-key-discover_job_cancel"]')
    expect(search.get_by_role("button", name="Cancel")).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stProgress"]').first).to_contain_text(
        "Level", timeout=30_000
    )


def cancel(page: Page, job: str) -> None:
    page.locator(f'[class*="st-key-{job}_cancel"]').get_by_role("button", name="Cancel").click()


def test_discovery_shows_progress_and_cancel_stops_it(server: StreamlitServer, page: Page) -> None:
    discover(page, server, bins="10")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Waiting for a free worker")  # the tree, behind the search
    expect(main).to_contain_text("candidate slices scored")
    cancel(page, "discover_job")
    expect(page.get_by_role("button", name="Start the search again")).to_be_visible(timeout=30_000)
    expect(main).to_contain_text("Cancelled.")
    # the search's worker is free: the tree, which waited for it, now runs
    expect(main).to_contain_text("Error tree: splitting nodes", timeout=30_000)
    expect(main).not_to_contain_text("Waiting for a free worker")
    cancel(page, "tree_job")
    expect(page.get_by_role("button", name="Start the error tree again")).to_be_visible(
        timeout=30_000
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_slice_change_completes_while_discovery_runs(
    server: StreamlitServer, browser: Browser, page: Page, table: Path
) -> None:
    frame = pd.read_parquet(table, columns=["c0"])
    expected = f"{int((frame['c0'] == 'v3').sum()):,}"
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        other.goto(f"{server.url}/slices?ds=big")
        wait_for_run(other)
        metric = other.locator('[data-testid="stMetric"]').first
        expect(metric).to_contain_text(f"{ROWS:,}", timeout=60_000)
        discover(page, server, bins="12")  # one browser searches...
        box = other.get_by_label("Slice", exact=True)
        box.fill(SLICE)
        box.press("Enter")  # ...while the other changes its slice
        expect(metric).to_contain_text(expected, timeout=30_000)
        assert other.locator('[data-testid="stException"]').count() == 0
        # the search was still running: the slice change did not wait for it to end
        expect(page.locator('[data-testid="stProgress"]').first).to_contain_text("Level")
    finally:
        other.context.close()
    cancel(page, "discover_job")
    expect(page.get_by_role("button", name="Start the search again")).to_be_visible(timeout=30_000)
