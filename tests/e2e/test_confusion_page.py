"""The Confusion page in a real browser: a deep link to a pair, a click on a cell, the way back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import serve
from tests.e2e.harness import StreamlitServer, wait_for_run

IMAGES = ".st-key-example_images img"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """A server of this module only, so the first test's link is its first request."""
    yield from serve(tmp_path_factory)


@pytest.fixture
def tall_page(browser: object) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 2400})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def open_view(page: Page, server: StreamlitServer, query: str) -> None:
    page.goto(f"{server.url}/confusion?{query}")
    wait_for_run(page)
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=30_000)


def click_cell(page: Page, *, row: int, column: int, n_classes: int) -> None:
    """Click the centre of a cell of the first heatmap (rows: true class, columns: predicted)."""
    plot_area = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    expect(plot_area).to_be_visible(timeout=15_000)
    box = plot_area.bounding_box()
    assert box is not None
    x = box["x"] + (column + 0.5) * box["width"] / n_classes
    y = box["y"] + (row + 0.5) * box["height"] / n_classes
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_for_run(page, expect_rerun=True)


def test_link_to_a_pair_shows_its_digits(fresh_server: StreamlitServer, tall_page: Page) -> None:
    open_view(tall_page, fresh_server, "ds=digits&pair=8~1")  # the server's first request
    expect(tall_page.get_by_text("true 8 → predicted 1", exact=False).first).to_be_visible()
    pictures = tall_page.locator(IMAGES)
    expect(pictures).to_have_count(5, timeout=15_000)
    for i in range(5):  # real images, loaded: 8x8 digits drawn at 56 px
        assert pictures.nth(i).evaluate("img => img.complete && img.naturalWidth") == 56
    caption = tall_page.locator('[data-testid="stCaptionContainer"]').filter(has_text="448 · 90%")
    expect(caption).to_be_visible()
    assert tall_page.locator('[data-testid="stException"]').count() == 0


def test_click_a_cell_then_open_its_slice(fresh_server: StreamlitServer, tall_page: Page) -> None:
    open_view(tall_page, fresh_server, "ds=digits")
    expect(tall_page.locator(IMAGES)).to_have_count(0)
    click_cell(tall_page, row=3, column=8, n_classes=10)
    expect(tall_page.get_by_text("true 3 → predicted 8", exact=False).first).to_be_visible(
        timeout=15_000
    )
    assert "pair=3~8" in tall_page.url
    expect(tall_page.locator(IMAGES)).to_have_count(3, timeout=15_000)
    link = tall_page.get_by_role("link", name="Open on Slices: label == 3 and prediction == 8")
    link.click()
    tall_page.wait_for_url("**/slices?**", timeout=15_000)
    wait_for_run(tall_page)
    expect(tall_page.get_by_label("Slice", exact=True)).to_have_value(
        "label == 3 and prediction == 8", timeout=15_000
    )
    rows = tall_page.locator('[data-testid="stMetric"]').filter(has_text="Rows in slice")
    expect(rows.locator('[data-testid="stMetricValue"]')).to_have_text("3")


def test_loans_link_with_a_threshold(fresh_server: StreamlitServer, tall_page: Page) -> None:
    open_view(tall_page, fresh_server, "ds=loans&slice=employment+%3D%3D+%27gig%27&thr=0.3")
    expect(tall_page.get_by_text("Precision and recall at 0.30").first).to_be_visible()
    expect(tall_page.locator('[data-testid="stSliderThumbValue"]').first).to_have_text("0.30")
    charts = tall_page.locator('[data-testid="stPlotlyChart"]')
    expect(charts).to_have_count(3)  # slice, overall, precision-recall
    assert tall_page.locator('[data-testid="stException"]').count() == 0
