"""Fixtures for browser tests: servers, Chromium, pages with a screenshot on failure."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CHROMIUM_ARGS, REPO, StreamlitServer, find_chromium

ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("MLQA_REQUIRE_BROWSER"):
            pytest.fail("no Chromium found; `make test` installs Debian's chromium")
        pytest.skip("no Chromium found (install Debian's chromium, or run `make test`)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], StreamlitServer]]:
    """Start a fresh server (its own empty workspace) for tests that need one."""
    servers: list[StreamlitServer] = []

    def start(workspace: Path | None = None) -> StreamlitServer:
        ws = workspace or tmp_path_factory.mktemp("workspace")
        server = StreamlitServer(ws, log_dir=ARTIFACTS)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """A server on an empty workspace of its own, for a fixture to ``yield from``."""
    server = StreamlitServer(tmp_path_factory.mktemp("workspace"), log_dir=ARTIFACTS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    """One server shared by the tests that don't need a fresh one."""
    yield from serve(tmp_path_factory)


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page in a fresh browser context; a screenshot lands in test-artifacts/ on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
