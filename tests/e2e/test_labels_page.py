"""The Labels page in a real browser: one key per action, logged, and the position moves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mlqa_debug.analyses.labels import rank_suspects, review_log_path
from mlqa_debug.data.workspace import Workspace
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.harness import StreamlitServer, wait_for_run


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labels-workspace")


@pytest.fixture(scope="module")
def labels_server(workspace: Path) -> Iterator[StreamlitServer]:
    """A server of this module only: the review log it writes stays out of other tests."""
    server = StreamlitServer(workspace, log_dir=ARTIFACTS)
    yield server
    server.stop()


def log_lines(workspace: Path) -> list[dict[str, object]]:
    path = review_log_path(Workspace(workspace), "loans")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def press(page: Page, key: str) -> None:
    page.keyboard.press(key)
    wait_for_run(page, expect_rerun=True)


def expect_position(page: Page, i: int, ids: list[str]) -> None:
    expect(page).to_have_url(re.compile(rf"[?&]i={i}(&|$)"), timeout=15_000)
    heading = page.get_by_role("heading", name=re.compile(rf"^Example {i} of "))
    expect(heading).to_contain_text(f"id {ids[i - 1]}", timeout=15_000)


def test_keyboard_review(labels_server: StreamlitServer, workspace: Path, page: Page) -> None:
    suspects = rank_suspects(Workspace(workspace).load("loans")).suspects
    ids = [str(v) for v in suspects["id"]]
    page.goto(f"{labels_server.url}/labels?ds=loans")  # the server's first request
    wait_for_run(page)
    expect_position(page, 1, ids)
    for key in ("K", "L", "A", "S", "N", "P"):  # each key is shown on its button
        expect(page.locator("button").filter(has_text=re.compile(rf"{key}$")).first).to_be_visible()
    reviewer = page.get_by_label("Reviewer")
    reviewer.fill("ana")
    reviewer.press("Enter")
    wait_for_run(page, expect_rerun=True)
    page.get_by_role("heading", name="Review labels").click()  # keys go to the page, not the box

    press(page, "k")
    expect_position(page, 2, ids)
    press(page, "l")  # relabel to the suggested class
    expect_position(page, 3, ids)
    press(page, "p")
    expect_position(page, 2, ids)
    press(page, "n")
    expect_position(page, 3, ids)
    press(page, "a")
    expect_position(page, 4, ids)
    press(page, "s")
    expect_position(page, 5, ids)

    lines = log_lines(workspace)
    assert [(d["example_id"], d["verdict"]) for d in lines] == [
        (ids[0], "keep"),
        (ids[1], "relabel"),
        (ids[2], "ambiguous"),
        (ids[3], "skip"),
    ]
    assert lines[1]["new_label"] == suspects["suggested"].iloc[1]
    assert {d["reviewer"] for d in lines} == {"ana"}
    expect(page.get_by_text("Reviewed 4 of", exact=False)).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
