"""The Data page in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.harness import wait_for_run


def test_deep_link_to_data_page_on_fresh_server(start_server, page) -> None:
    server = start_server()
    page.goto(f"{server.url}/data?ds=loans")  # the very first request this server sees
    wait_for_run(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main).to_contain_text("20,000", timeout=30_000)
    expect(main).to_contain_text("Validation report")
    assert "ds=loans" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0


def test_unknown_dataset_shows_message(server, page) -> None:
    page.goto(f"{server.url}/data?ds=nope")
    wait_for_run(page)
    expect(page.get_by_text("cannot be opened").first).to_be_visible(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_deep_link_after_navigation_was_set_up(start_server, page) -> None:
    server = start_server()
    page.goto(server.url)  # app.py runs and calls st.navigation
    wait_for_run(page)
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("20,000", timeout=30_000)
    page.goto(f"{server.url}/slices?ds=digits&slice=label%20%3D%3D%208")
    wait_for_run(page)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text("87", timeout=30_000)
    assert page.get_by_text("Page not found").count() == 0
    nav = page.locator(".st-key-mlqa_nav")
    expect(nav).to_contain_text("Data")
    expect(nav).to_contain_text("Slices")
