"""Hostile links in a real browser: markup in any URL parameter is shown, never rendered.

Every page is opened with Markdown and HTML payloads in every parameter it reads
(``ds``, ``vs``, ``slice`` and each of its view options), once with the payload
as the dataset and once with a real dataset and the payload everywhere else (in
a slice that parses, as a value; on the Slices page also as an unknown column).
Then no link or image points at evil.example, no element came from the payload's
HTML, no script ran, the browser asked evil.example for nothing, and the payload
is there to read as text.

Internal links (the sidebar's, "Open on Slices") carry the slice in their query
string, so links are judged by the host they lead to, not by their whole href.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import serve
from tests.e2e.harness import StreamlitServer, wait_for_run

EVIL = "evil.example"
PAYLOADS = {
    "link": "[click me](http://evil.example/phish)",
    "image": "![x](http://evil.example/t.png)",
    "html image": "<img src=http://evil.example/x>",
    "html": "<b>bold</b><script>window.__pwned = 1</script>",
}
#: The part of each payload a page quotes whole (a message quotes at most 40 characters).
SHOWN = {payload: payload.split("<script>")[0] for payload in PAYLOADS.values()}
#: The view options each page declares (mlqa_debug/ui/*.py, pages/*.py), besides ds, vs, slice.
OPTIONS = {
    "data": [],
    "slices": [],
    "discover": ["alpha", "k", "level", "support", "bins", "measure", "inside"],
    "confusion": ["norm", "compare", "pair", "top", "thr"],
    "embeddings": ["color", "clusters"],
    "explanations": ["source", "target", "rows", "colour", "feature", "example"],
    "cases": ["status", "case"],
}
#: Fixed values the page needs to draw what it draws for everyone.
FIXED = {"embeddings": {"proj": "pca"}}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    yield from serve(tmp_path_factory)


def links(payload: str, page: str) -> dict[str, dict[str, str]]:
    """The URLs to try on ``page``: payload as the dataset, and as everything else.

    A slice naming the payload as a column gives the slice-error message, which
    the page context draws the same way on every page: the Slices page tries it.
    """
    everywhere = {option: payload for option in OPTIONS[page]} | FIXED.get(page, {})
    tries = {
        "as the dataset": {"ds": payload, "vs": payload, "slice": payload, **everywhere},
        "as a value": {"ds": "loans", "vs": payload, "slice": f"region != '{payload}'",
                       **everywhere},
    }  # fmt: skip
    if page == "slices":
        tries["as a column"] = {"ds": "loans", "vs": payload, "slice": f"`{payload}` == 1"}
    return tries


#: The hosts every URL in the page's elements leads to (href, src, SVG's xlink:href ...).
HOSTS_JS = """() => Array.from(document.querySelectorAll('*')).flatMap(e =>
    ['href', 'src', 'xlink:href', 'srcset', 'poster', 'data', 'action']
        .map(a => e.getAttribute(a)).filter(Boolean)
        .map(v => { try { return new URL(v, document.baseURI).hostname } catch { return '' } }))"""


def host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or ""


def check_no_markup(page: Page, requests: list[str], what: str) -> None:
    """No link, image or element from the payload; nothing asked of evil.example."""
    for selector, attribute in (("a[href]", "href"), ("img[src]", "src")):
        urls = page.eval_on_selector_all(selector, f"els => els.map(e => e.{attribute})")
        assert not [u for u in urls if EVIL in host(u)], (what, selector)
    assert not [h for h in page.evaluate(HOSTS_JS) if EVIL in h], what
    assert page.locator("b", has_text="bold").count() == 0, what
    assert page.locator("script", has_text="__pwned").count() == 0, what
    assert page.evaluate("window.__pwned") is None, what
    assert requests == [], what


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize("page_name", OPTIONS)
def test_no_markup_from_the_link(
    hostile_server: StreamlitServer, browser, page_name: str, payload: str
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if EVIL in host(r.url) else None)
    texts = []
    try:
        for how, params in links(payload, page_name).items():
            what = f"{page_name}, payload {how}"
            page.goto(f"{hostile_server.url}/{page_name}?{urllib.parse.urlencode(params)}")
            wait_for_run(page)
            check_no_markup(page, requests, what)
            texts.append(page.locator('[data-testid="stApp"]').inner_text())
    finally:
        context.close()
    assert any(SHOWN[payload] in t.replace("\u2060", "") for t in texts)  # there, as text
