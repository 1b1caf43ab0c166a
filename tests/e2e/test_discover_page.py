"""The Discover page in a real browser: ranked slices lead to the Slices page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.harness import wait_for_run


def test_found_slice_opens_on_slices_page(server, page: Page) -> None:
    page.goto(f"{server.url}/discover?ds=loans&alpha=0.98&k=5")
    wait_for_run(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("Top 5 slices", timeout=60_000)
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
    # click the point of rank 1 in the size / error-rate chart: its slice becomes a link
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    point = chart.locator(".scatterlayer .point").first
    expect(point).to_be_visible()
    point.click(force=True)
    wait_for_run(page, expect_rerun=True)
    link = page.get_by_role("link", name="Open #1 on Slices")
    expect(link).to_be_visible(timeout=30_000)
    expect(link).to_contain_text("employment == 'gig'")
    link.click()
    wait_for_run(page, expect_rerun=True)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text("1,002", timeout=30_000)
    assert "/slices" in page.url and "slice=employment" in page.url


def test_sidebar_links_carry_dataset_and_slice(server, page: Page) -> None:
    page.goto(f"{server.url}/slices?ds=digits&slice=label%20%3D%3D%208")
    wait_for_run(page)
    nav = page.locator(".st-key-mlqa_nav")
    nav.get_by_text("Discover").click()
    wait_for_run(page, expect_rerun=True)
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("inside", timeout=60_000)
    assert "ds=digits" in page.url and "slice=label" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0
