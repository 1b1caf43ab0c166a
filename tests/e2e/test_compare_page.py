"""The Compare page in a real browser: its link reopens the same numbers in a fresh context."""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import Page, expect

from tests.e2e.harness import wait_for_run

METRICS = ("Rows compared", "Baseline error rate", "Candidate error rate", "Verdict", "Broken",
           "Fixed")  # fmt: skip
SLICE = "employment == 'unemployed'"


def metric_value(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def numbers(page: Page) -> dict[str, str]:
    return {label: metric_value(page, label) for label in METRICS}


SUMMARY_AND_LINK_DRAWN = """() => {
    const blocks = [...document.querySelectorAll('[data-testid="stCode"]')];
    return blocks.length >= 2 && blocks.at(-2).innerText.includes("Model comparison")
        && blocks.at(-1).innerText.includes("ds=");
}"""


def code_blocks(page: Page) -> list[str]:
    """Every code block, once the last two (the review summary, the link) are drawn.

    The browser can draw code blocks a moment after the run has ended (a fresh
    context loads their highlighter first), so wait for them rather than count.
    """
    page.wait_for_function(SUMMARY_AND_LINK_DRAWN, timeout=30_000)
    return [c.inner_text().strip() for c in page.locator('[data-testid="stCode"]').all()]


def open_compare(page: Page, url: str) -> None:
    """Open ``url`` and wait until the whole page is drawn (its last element, the link)."""
    page.goto(url)
    wait_for_run(page)
    expect(page.get_by_text("Link to this view")).to_be_visible(timeout=120_000)
    wait_for_run(page)


def rerun_done(page: Page) -> None:
    wait_for_run(page, expect_rerun=True)
    expect(page.get_by_text("Link to this view")).to_be_visible(timeout=120_000)


def assert_clean(page: Page) -> None:
    """No traceback, no 'nan', and every chart drawn."""
    assert page.locator('[data-testid="stException"]').count() == 0
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE), text[:2000]
    charts = page.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() >= 1  # the forest chart of the headline
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_visible(timeout=30_000)


def test_the_link_reopens_the_same_view(server, browser) -> None:
    author = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_compare(author, f"{server.url}/compare?ds=loans_v2&vs=loans")
    assert metric_value(author, "Verdict") == "Regression"
    assert metric_value(author, "Broken") == "766"
    box = author.get_by_label("Slice", exact=True)
    box.fill(SLICE)
    box.press("Enter")
    rerun_done(author)
    expect(author.locator('[data-testid="stMetric"]').first).to_contain_text("1,343")
    author.get_by_role("radio", name=re.compile(r"^Fixed \(52\)")).click()
    rerun_done(author)
    expect(author.get_by_text(re.compile(r"Rows 1–50 of 52"))).to_be_visible()
    seen = numbers(author)
    assert seen["Rows compared"] == "1,343" and seen["Broken"] == "96"
    assert_clean(author)
    *_, summary, link = code_blocks(author)
    assert "slice=" in link and "vs=loans" in link and "flip=fixed" in link
    assert "Regression" in summary
    author.context.close()

    reviewer = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_compare(reviewer, link)
    assert numbers(reviewer) == seen
    expect(reviewer.get_by_label("Slice", exact=True)).to_have_value(SLICE)
    expect(reviewer.get_by_text(re.compile(r"Rows 1–50 of 52"))).to_be_visible()
    *_, reviewer_summary, reviewer_link = code_blocks(reviewer)
    assert reviewer_summary == summary
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(reviewer_link).query) == (
        urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    )
    reviewer.context.close()


def test_a_deep_link_is_the_first_request_to_a_fresh_server(start_server, browser) -> None:
    server = start_server()
    query = urllib.parse.urlencode({"ds": "loans_v2", "vs": "loans", "slice": SLICE,
                                    "adjust": "bh", "min": "100"})  # fmt: skip
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_compare(page, f"{server.url}/compare?{query}")
    assert metric_value(page, "Rows compared") == "1,343"
    assert metric_value(page, "Fixed") == "52"
    assert "Benjamini-Hochberg" in page.locator('[data-testid="stMain"]').inner_text()
    assert_clean(page)
    page.context.close()


def test_a_bad_baseline_shows_a_message(server, page: Page) -> None:
    for vs in ("nope", "diabetes", "loans_v2", urllib.parse.quote("<img src=x onerror=alert(1)>")):
        page.goto(f"{server.url}/compare?ds=loans_v2&vs={vs}")
        wait_for_run(page)
        expect(page.locator('[data-testid="stAlertContentError"]').first).to_be_visible(
            timeout=30_000
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("img[src=x]").count() == 0


WATCH_VERDICT = """() => {
    const alerts = '[data-testid="stMain"] [data-testid="stAlert"]';
    const shown = () => [...document.querySelectorAll(alerts)]
        .some(a => a.innerText.includes("paired rows"));
    window.__verdictGone = false;
    new MutationObserver(() => { if (!shown()) window.__verdictGone = true; })
        .observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_the_verdict_stays_on_screen_while_a_slice_change_reruns(server, page: Page) -> None:
    """The verdict is drawn late (after the numbers); until then the last one stays.

    An empty placeholder in its place would drop the banner at the start of every
    rerun and shift the numbers under it up and back down.
    """
    open_compare(page, f"{server.url}/compare?ds=loans_v2&vs=loans")
    page.evaluate(WATCH_VERDICT)
    box = page.get_by_label("Slice", exact=True)
    box.fill(SLICE)
    box.press("Enter")
    rerun_done(page)
    expect(page.locator('[data-testid="stMetric"]').first).to_contain_text("1,343")
    assert page.evaluate("() => window.__verdictGone") is False
