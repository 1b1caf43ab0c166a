"""The Embeddings page in a real browser: a box selection on the WebGL map and its summary."""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import Page, expect

from tests.e2e.harness import wait_for_run

CHART = '[data-testid="stPlotlyChart"]'
SELECTED_IN_BROWSER = """() => {
    const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    let rows = [];
    gd.data.forEach((trace, k) => {
        const customdata = gd._fullData[k].customdata;  // decoded from plotly's typed array
        for (const i of trace.selectedpoints || []) {
            const c = customdata[i];  // the row position, or a row whose first value it is
            rows.push(Number(Array.isArray(c) || ArrayBuffer.isView(c) ? c[0] : c));
        }
    });
    return rows;
}"""


def metric_value(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def box_select(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Choose Box Select in the plotly toolbar, then drag between two relative positions."""
    chart = page.locator(CHART).first
    chart.hover()
    chart.locator('.modebar-btn[data-title="Box Select"]').first.click()
    area = chart.locator(".nsewdrag").first.bounding_box()
    assert area is not None
    x0, y0 = area["x"] + area["width"] * start[0], area["y"] + area["height"] * start[1]
    x1, y1 = area["x"] + area["width"] * end[0], area["y"] + area["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


def test_box_select_shows_the_selection_summary(start_server, browser) -> None:
    server = start_server()
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.goto(f"{server.url}/embeddings?ds=digits&proj=pca&color=label")  # first request
    wait_for_run(page)
    expect(page.locator(f"{CHART} .nsewdrag").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Select points on the map")).to_be_visible()

    box_select(page, (0.05, 0.05), (0.55, 0.6))
    wait_for_run(page, expect_rerun=True)
    heading = page.get_by_role("heading", name=re.compile(r"^Selection: [\d,]+ points"))
    expect(heading).to_be_visible(timeout=30_000)
    n_points = int(heading.inner_text().split(": ")[1].split(" ")[0].replace(",", ""))
    in_browser = page.evaluate(SELECTED_IN_BROWSER)
    assert n_points == len(set(in_browser)) > 0  # the rows plotly selected, via customdata
    assert metric_value(page, "Rows") == f"{n_points:,}"
    assert metric_value(page, "Error rate").endswith("%")
    expect(page.get_by_text("What sets the selected points apart")).to_be_visible()

    rule = page.locator('[data-testid="stCode"]').first.inner_text().strip()
    matched = page.get_by_text(re.compile(r"[\d,]+ rows of the table match it")).inner_text()
    n_rows = re.search(r"([\d,]+) rows of the table match it", matched).group(1)  # type: ignore[union-attr]
    link = page.get_by_role("link", name="Open this slice on the Slices page")
    href = link.get_attribute("href") or ""
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)["slice"] == [rule]
    link.click()
    wait_for_run(page, expect_rerun=True)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text(n_rows, timeout=30_000)
    assert metric_value(page, "Rows in slice") == n_rows
    context.close()
