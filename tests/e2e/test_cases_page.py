"""Regression cases in a real browser: save from the Slices page, see it in the library."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from playwright.sync_api import Page, expect

from mlqa_debug import cases as lib
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice
from tests.e2e.harness import wait_for_run


def main(page: Page):
    return page.locator('[data-testid="stMain"]')


def test_save_then_see_it_in_the_library(start_server, page: Page, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    server = start_server(workspace)
    query = urllib.parse.urlencode({"ds": "loans", "slice": "`credit.score` < 600"})
    page.goto(f"{server.url}/slices?{query}")
    wait_for_run(page)
    # The form opens in a dialog, which scrolls inside the test's 1000 px window.
    page.get_by_role("button", name="Save as regression case").click()
    wait_for_run(page, expect_rerun=True)
    expect(page.get_by_text("Baseline now:")).to_contain_text("0.2918", timeout=30_000)
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_value("`credit.score` < 600")
    name.fill("low credit <score> & more")
    page.get_by_label("Note").fill("close to p = 0.5")
    page.get_by_role("button", name="Save case").click()
    wait_for_run(page, expect_rerun=True)
    expect(main(page)).to_contain_text("Saved regression case", timeout=30_000)
    (saved,) = lib.CaseStore(workspace / "cases").load().cases
    assert (saved.name, saved.where, saved.note) == (
        "low credit <score> & more", "`credit.score` < 600", "close to p = 0.5")  # fmt: skip

    page.get_by_text("Open it in the case library").click()
    wait_for_run(page, expect_rerun=True)
    expect(page).to_have_url(re.compile(rf"/cases\?ds=loans&case={saved.id}"), timeout=30_000)
    expect(page.locator("h3")).to_contain_text("low credit <score> & more", timeout=30_000)
    expect(main(page)).to_contain_text("passed: error_rate = 0.2918")
    assert page.locator('[data-testid="stException"]').count() == 0

    # the same case against the second model, from a link (v2 is worse on this slice)
    page.goto(f"{server.url}/cases?ds=loans_v2&case={saved.id}")
    wait_for_run(page)
    alert = page.locator('[data-testid="stAlertContentError"]').first
    expect(alert).to_contain_text("failed: error_rate = 0.3034 > threshold 0.2992", timeout=30_000)
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Fail")).to_contain_text("1")


def test_case_link_is_first_request_to_fresh_server(
    start_server, page: Page, tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path / "ws")
    built = lib.build_case(
        workspace.load("loans"), name="gig workers", where=parse_slice("employment == 'gig'")
    )
    case = lib.CaseStore(workspace.cases_dir).save(built.case)
    server = start_server(workspace.root)
    page.goto(f"{server.url}/cases?ds=loans_v2&case={case.id}")  # nothing else touched it
    wait_for_run(page)
    expect(page.locator("h3")).to_contain_text("gig workers", timeout=30_000)
    expect(main(page)).to_contain_text("passed: error_rate = 0.2824")
    page.get_by_text("Open this slice on the Slices page").click()
    wait_for_run(page, expect_rerun=True)
    expect(page.get_by_label("Slice", exact=True)).to_have_value(
        "employment == 'gig'", timeout=30_000
    )
    assert "ds=loans_v2" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0


def test_delete_asks_for_confirmation(start_server, page: Page, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    built = lib.build_case(workspace.load("loans"), name="overall", where=parse_slice(""))
    case = lib.CaseStore(workspace.cases_dir).save(built.case)
    server = start_server(workspace.root)
    page.goto(f"{server.url}/cases?ds=loans&case={case.id}")
    wait_for_run(page)
    page.get_by_text("Delete this case").click()
    delete = page.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_be_disabled(timeout=30_000)
    page.get_by_text("Yes, delete").click()
    wait_for_run(page, expect_rerun=True)
    expect(delete).to_be_enabled()
    delete.click()
    wait_for_run(page, expect_rerun=True)
    expect(main(page)).to_contain_text("No cases yet", timeout=30_000)
    assert lib.CaseStore(workspace.cases_dir).load().cases == ()


def test_the_save_dialog_closes_with_escape_and_opens_again(server, page: Page) -> None:
    query = urllib.parse.urlencode({"ds": "loans", "slice": "age < 30"})
    page.goto(f"{server.url}/slices?{query}")
    wait_for_run(page)
    dialog = page.get_by_role("dialog")
    for _ in range(2):
        page.get_by_role("button", name="Save as regression case").click()
        expect(dialog.get_by_text("Baseline now:")).to_be_visible(timeout=30_000)
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0, timeout=30_000)
        wait_for_run(page)
    assert page.locator('[data-testid="stException"]').count() == 0
