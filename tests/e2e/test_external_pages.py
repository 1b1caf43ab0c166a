"""External datasets in a real browser: exact counts from DuckDB as slices are typed, compare.

The server's sample is 1,500 of the 6,000 rows, so a count from the sample would
show a different number than the ones asserted here (the whole table's).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from mlqa_debug.data.external import ENV_SAMPLE_ROWS
from mlqa_debug.data.workspace import Workspace
from tests.e2e.harness import StreamlitServer, wait_for_run
from tests.e2e.test_slices_page import slice_box
from tests.external_data import N_ROWS, REGION, SAMPLE_ROWS, logs_frame, write_logs

NORTH = f"`{REGION}` == 'north'"


@pytest.fixture(scope="module")
def external_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """A server on a workspace holding ``logs`` and its baseline ``logs_old`` by reference."""
    root = tmp_path_factory.mktemp("external")
    ws = Workspace(root / "workspace")
    ws.add_external(write_logs(root / "old", model=1, noise=0.05), name="logs_old")
    ws.add_external(write_logs(root / "new"), name="logs", baseline="logs_old")
    before = os.environ.get(ENV_SAMPLE_ROWS)
    os.environ[ENV_SAMPLE_ROWS] = str(SAMPLE_ROWS)  # the server inherits it
    server = StreamlitServer(ws.root, log_dir=root)
    yield server
    server.stop()
    if before is None:
        del os.environ[ENV_SAMPLE_ROWS]
    else:
        os.environ[ENV_SAMPLE_ROWS] = before


def test_typed_slices_show_the_whole_tables_counts(
    external_server: StreamlitServer, page: Page
) -> None:
    frame = logs_frame()
    page.goto(f"{external_server.url}/slices?ds=logs")
    wait_for_run(page)
    expect(page.get_by_text("is an external dataset", exact=False)).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text(f"{N_ROWS:,}")
    for text, rows in (
        (NORTH, int((frame[REGION] == "north").sum())),
        ("age >= 50", int((frame["age"] >= 50).sum())),
        (f"{NORTH} and age >= 50", int(((frame[REGION] == "north") & (frame["age"] >= 50)).sum())),
    ):
        slice_box(page).fill(text)
        slice_box(page).press("Enter")
        wait_for_run(page, expect_rerun=True)
        expect(page.locator('[data-testid="stMetric"]').first).to_contain_text(
            f"{rows:,}", timeout=15_000
        )
    expect(page.get_by_text(f"Exact: computed by DuckDB over all {N_ROWS:,} rows.")).to_be_visible()
    expect(page.get_by_text("This breakdown is sampled", exact=False)).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_compare_joins_both_tables_in_the_engine(
    external_server: StreamlitServer, page: Page
) -> None:
    query = urllib.parse.urlencode({"ds": "logs", "slice": NORTH})
    page.goto(f"{external_server.url}/compare?{query}")
    wait_for_run(page)
    north = int((logs_frame()[REGION] == "north").sum())
    exact = page.get_by_text(f"Exact: computed by DuckDB over all {N_ROWS:,} pairs", exact=False)
    expect(exact).to_be_visible(timeout=60_000)
    rows = page.locator('[data-testid="stMetric"]').filter(has_text="Rows compared").first
    expect(rows).to_contain_text(f"{north:,}")
    assert page.locator('[data-testid="stException"]').count() == 0
