"""Pages served to a team, under Streamlit's AppTest: read-only mode and who saves a case."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.schema import Roles
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice
from mlqa_debug.ui import serving
from mlqa_debug.ui.slice_state import TEXT_KEY
from mlqa_debug.ui.text import md
from tests.conftest import WriteTable

REPO = Path(__file__).resolve().parents[2]
FORM = "slices_case"
NOTE = "Read-only server:"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path))
    for name in (lib.ENV_CASES, lib.ENV_AUTHOR, serving.ENV_READ_ONLY, serving.ENV_USER_HEADER):
        monkeypatch.delenv(name, raising=False)
    return Workspace(tmp_path)


@pytest.fixture
def read_only(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    return workspace


def open_page(stem: str, *, state: dict[str, object] | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / f"{stem}.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    return at.run()


def notes(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith(NOTE)]


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def text_inputs(at: AppTest) -> list[str | None]:
    return [t.key for t in at.text_input]


def saved(workspace: Workspace) -> tuple[lib.Case, ...]:
    return lib.CaseStore(workspace.cases_dir).load().cases


# --------------------------------------------------------------------------- read-only


def test_the_sidebar_says_the_server_is_read_only(read_only: Workspace) -> None:
    at = open_page("slices", ds="loans")
    assert not at.exception
    assert any(c.value == serving.READ_ONLY_BANNER for c in at.sidebar.caption)


def test_a_writable_server_says_nothing(workspace: Workspace) -> None:
    at = open_page("slices", ds="loans")
    assert not any(c.value == serving.READ_ONLY_BANNER for c in at.sidebar.caption)


@pytest.mark.parametrize("ro", [False, True], ids=["writable", "read-only"])
def test_the_data_page_offers_no_upload(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, ro: bool
) -> None:
    if ro:
        monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = open_page("data", ds="loans")
    assert not at.exception
    uploaders = at.get("file_uploader")
    assert ("Register" in buttons(at), len(uploaders)) == ((False, 0) if ro else (True, 1))
    assert any("datasets cannot be uploaded" in n for n in notes(at)) is ro


def test_the_data_page_previews_roles_without_saving_them(
    read_only: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    path = write_table(binary_frame)
    read_only.add(path, name="mine")
    override = Roles(label="label", prediction="prediction")
    at = open_page("data", ds="mine", state={"roles_override_mine": override})
    assert not at.exception
    assert at.success  # the preview is shown
    assert "Save these roles for the dataset" not in buttons(at)
    assert "Attach to this dataset" not in buttons(at)
    assert any("roles are previewed here, not saved" in n for n in notes(at))
    assert any("models cannot be attached here" in n for n in notes(at))


def test_the_slices_page_offers_no_case_form(read_only: Workspace) -> None:
    at = open_page("slices", ds="loans", slice="age < 25", state={f"{FORM}__open": True})
    assert not at.exception
    assert f"{FORM}__name" not in text_inputs(at)
    assert f"{FORM}__save" not in [b.key for b in at.button]
    assert any("cases cannot be saved here" in n for n in notes(at))
    assert saved(read_only) == ()


@pytest.fixture
def one_case(workspace: Workspace) -> lib.Case:
    new = lib.build_case(workspace.load("loans"), name="gig", where=parse_slice("age < 25"))
    return lib.CaseStore(workspace.cases_dir).save(new.case)


@pytest.mark.parametrize("ro", [False, True], ids=["writable", "read-only"])
def test_the_cases_page_has_no_edit_or_delete(
    one_case: lib.Case, monkeypatch: pytest.MonkeyPatch, ro: bool
) -> None:
    if ro:
        monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = open_page("cases", ds="loans", case=one_case.id)
    assert not at.exception
    keys = [b.key for b in at.button]
    assert ("Save changes" in buttons(at), f"delete_{one_case.id}" in keys) == (not ro, not ro)
    assert "run_all" in keys  # checking cases only reads: allowed
    assert any("not edited or deleted" in n for n in notes(at)) is ro


# --------------------------------------------------------------------------- the author


def open_form(at: AppTest) -> AppTest:
    at.session_state[f"{FORM}__open"] = True  # what clicking the popover's button does
    return at.run()


def save(at: AppTest, name: str) -> AppTest:
    at.text_input(key=f"{FORM}__name").input(name).run()
    return at.button(key=f"{FORM}__save").click().run()


def test_the_author_is_asked_once_per_session(workspace: Workspace) -> None:
    at = open_form(open_page("slices", ds="loans", slice="age < 25"))
    at.text_input(key=f"{FORM}__author").input("Alice Reviewer").run()
    save(at, "young")
    assert not at.exception and not at.error
    assert [c.author for c in saved(workspace)] == ["Alice Reviewer"]
    at.text_input(key=TEXT_KEY).input("age >= 60").run()  # another slice, same session
    open_form(at)
    assert at.text_input(key=f"{FORM}__author").value == "Alice Reviewer"  # remembered
    save(at, "old")
    assert sorted(c.author for c in saved(workspace)) == ["Alice Reviewer", "Alice Reviewer"]


def test_without_a_name_the_author_is_not_the_servers_login(workspace: Workspace) -> None:
    at = save(open_form(open_page("slices", ds="loans", slice="age < 25")), "young")
    assert not at.exception and not at.error
    assert [c.author for c in saved(workspace)] == [""]


def test_the_proxys_header_names_the_author(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(serving.ENV_USER_HEADER, "X-Forwarded-User")
    user = "[dana](http://evil.example)"  # shown as text, saved as sent
    monkeypatch.setattr(serving, "request_headers", lambda: {"x-forwarded-user": user})
    at = open_form(open_page("slices", ds="loans", slice="age < 25"))
    assert f"{FORM}__author" not in text_inputs(at)  # not asked: the proxy says who it is
    assert any(c.value == f"Saved as {md(user)} (signed in)." for c in at.caption)
    save(at, "young")
    assert [c.author for c in saved(workspace)] == [user]
