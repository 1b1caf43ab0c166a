"""The Explanations page in a real browser: deep links, charts, picking an error, screenshots.

Each test starts its own server and opens the page as that server's first
request (until ``app.py`` routes the page, only such a server runs it).
Screenshots land in ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.harness import wait_for_run

CHART = '[data-testid="stPlotlyChart"]'


def open_page(browser, server, **params: str) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 3600})
    page = context.new_page()
    page.goto(f"{server.url}/explanations?{urllib.parse.urlencode(params)}")
    wait_for_run(page)
    return page


def test_loans_link_draws_every_view_and_picking_an_error_explains_it(
    start_server, browser
) -> None:
    server = start_server()
    page = open_page(browser, server, ds="loans", slice="employment == 'gig'")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("TreeExplainer (exact)", timeout=60_000)
    expect(main).to_contain_text("additivity (base + attributions = output) ✓")
    expect(page.locator(CHART)).to_have_count(4, timeout=30_000)
    expect(page.locator(f"{CHART} .main-svg").first).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "target=1" in page.url and "rows=2000" in page.url

    table = page.locator(".st-key-error_table")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 18)  # first row's selection cell
    wait_for_run(page, expect_rerun=True)
    expect(page).to_have_url(re.compile(r"example=L\d+"), timeout=30_000)
    example = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["example"][0]
    expect(main).to_contain_text(f"{example}: label", timeout=30_000)
    expect(page.locator(CHART)).to_have_count(5, timeout=30_000)  # + the waterfall
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explanations-loans.png"), full_page=True)

    last_code = page.locator('[data-testid="stCode"]').last
    expect(last_code).to_contain_text("example=", timeout=30_000)  # drawn after the run ends
    shared = last_code.inner_text().strip()
    assert "example=" in shared and "slice=" in shared
    reviewer = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    reviewer.goto(shared)
    wait_for_run(reviewer)
    expect(reviewer.locator('[data-testid="stMain"]')).to_contain_text(
        f"{example}: label", timeout=60_000
    )


def test_digits_example_link_shows_image_attributions(start_server, browser) -> None:
    server = start_server()
    page = open_page(browser, server, ds="digits", example="D0037")
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("D0037: label 9, prediction 5", timeout=60_000)
    expect(page.locator(CHART)).to_have_count(7, timeout=30_000)
    expect(main).to_contain_text("D0073")  # the nearest correct 9
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explanations-digits.png"), full_page=True)


def test_tampered_link_gives_messages_not_tracebacks(start_server, browser) -> None:
    server = start_server()
    page = open_page(
        browser, server, ds="diabetes", example="<img src=x onerror=alert(1)>", target="zzz"
    )
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("No example with id", timeout=60_000)
    expect(main).to_contain_text("output space: prediction")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "target=prediction" in page.url
