"""The Slices page in a real browser: links, typing, tampering."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.harness import wait_for_run


def metric_value(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def slice_box(page: Page):
    return page.get_by_label("Slice", exact=True)


def test_link_is_first_request_to_fresh_server(start_server, browser) -> None:
    server = start_server()
    query = urllib.parse.urlencode({"ds": "loans", "slice": "employment == 'gig' and age < 40"})
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server.url}/slices?{query}")  # nothing else has touched this server
    wait_for_run(page)
    expect(page.locator('[data-testid="stMetric"]').first).to_be_visible(timeout=30_000)
    reviewer_rows = metric_value(page, "Rows in slice")
    reviewer_rate = metric_value(page, "Slice error rate")
    expect(slice_box(page)).to_have_value("age < 40 and employment == 'gig'")
    context.close()

    # the author builds the same slice by typing, then opens the link the page offers
    author = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    author.goto(f"{server.url}/slices?ds=loans")
    wait_for_run(author)
    slice_box(author).fill("age < 40 and employment == 'gig'")
    slice_box(author).press("Enter")
    wait_for_run(author, expect_rerun=True)
    expect(author.locator('[data-testid="stMetric"]').first).to_contain_text(reviewer_rows)
    assert metric_value(author, "Slice error rate") == reviewer_rate
    link = author.locator('[data-testid="stCode"]').first.inner_text().strip()
    assert "slice=" in link and "ds=loans" in link
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    fresh.goto(link)
    wait_for_run(fresh)
    expect(fresh.locator('[data-testid="stMetric"]').first).to_contain_text(reviewer_rows)
    assert metric_value(fresh, "Slice error rate") == reviewer_rate


def test_typing_several_slices_in_a_row(server, page: Page) -> None:
    page.goto(f"{server.url}/slices?ds=loans")
    wait_for_run(page)
    steps = [
        ("employment == 'gig'", "1,002"),
        ("income >= 150000", "1,166"),
        ("region == 'coastal' and age < 25", "298"),
        ("", "20,000"),
        ("employment == 'gig'", "1,002"),
    ]
    for text, rows in steps:
        slice_box(page).fill(text)
        slice_box(page).press("Enter")
        wait_for_run(page, expect_rerun=True)
        expect(page.locator('[data-testid="stMetric"]').first).to_contain_text(rows, timeout=15_000)
        if text:
            assert "slice=" in page.url


def test_tampered_url_shows_a_message(server, page: Page) -> None:
    for query in (
        "ds=loans&slice=" + urllib.parse.quote("<img src=x onerror=alert(1)>"),
        "ds=loans&slice=" + "a" * 50_000,
        "ds=..%2F..%2Fetc%2Fpasswd",
        "ds=loans&slice=" + urllib.parse.quote("`nope` == 1"),
    ):
        page.goto(f"{server.url}/slices?{query}")
        wait_for_run(page)
        expect(page.locator('[data-testid="stAlertContentError"]').first).to_be_visible(
            timeout=15_000
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("img[src=x]").count() == 0


def test_csv_downloads_are_written_on_click(server, page: Page) -> None:
    """The breakdown and examples CSVs are built when clicked (deferred), for the slice shown."""
    where = urllib.parse.quote("employment == 'gig'")
    page.goto(f"{server.url}/slices?ds=loans&slice={where}")
    wait_for_run(page)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text("1,002")
    buttons = page.locator('[data-testid="stDownloadButton"]').filter(has_text="Download as CSV")
    expect(buttons).to_have_count(2)
    files = []
    for i in range(2):
        with page.expect_download(timeout=15_000) as download:
            buttons.nth(i).click()
        files.append(Path(download.value.path()).read_text())
    breakdown, examples = files
    assert breakdown.splitlines()[0].startswith("feature,") and "error rate" in breakdown
    examples_rows = examples.splitlines()
    assert len(examples_rows) == 51  # the header and the first page of 50 rows
    assert all(",gig," in row for row in examples_rows[1:])  # the slice's rows only
