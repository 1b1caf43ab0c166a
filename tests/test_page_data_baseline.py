"""The Data page's "Default baseline": set and cleared for a registered dataset, fixed for the
built-ins, hidden on a read-only server. Runs pages/data.py under AppTest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.data.workspace import Workspace
from mlqa_debug.ui import serving
from tests.conftest import WriteTable, shown

LABEL = "Default baseline"
BUILTINS = ["loans", "loans_v2", "digits", "diabetes"]

Run = Callable[..., AppTest]


@pytest.fixture
def data_page(page_runner: Callable[[str], Run], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.delenv(serving.ENV_READ_ONLY, raising=False)
    return page_runner("data")


@pytest.fixture
def two(workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable) -> Workspace:
    path = write_table(binary_frame)
    workspace.add(path, name="old")
    workspace.add(path, name="new")
    return workspace


def baseline_box(at: AppTest) -> Any:
    boxes = [s for s in at.selectbox if s.label == LABEL]
    assert len(boxes) == 1
    return boxes[0]


def save(at: AppTest, name: str) -> AppTest:
    return at.button(key=f"FormSubmitter:baseline_{name}-Save default baseline").click().run()


def test_set_the_default_baseline(data_page: Run, two: Workspace) -> None:
    at = data_page(ds="new")
    assert not at.exception
    box = baseline_box(at)
    assert box.value == "(none)" and not box.disabled
    assert box.options == ["(none)", *BUILTINS, "old"]  # every other dataset, not itself
    box.set_value("old")
    at = save(at, "new")
    assert not at.exception and not at.error
    assert Workspace(two.root).entry("new").baseline == "old"
    assert baseline_box(at).value == "old"  # the page shows what is stored
    again = data_page(ds="new")  # a fresh session reads it back
    assert baseline_box(again).value == "old"


def test_clear_the_default_baseline(data_page: Run, two: Workspace) -> None:
    two.set_baseline("new", "loans")
    at = data_page(ds="new")
    assert baseline_box(at).value == "loans"
    baseline_box(at).set_value("(none)")
    at = save(at, "new")
    assert not at.exception
    assert two.entry("new").baseline is None
    assert baseline_box(at).value == "(none)"


def test_builtins_show_theirs_read_only(data_page: Run) -> None:
    at = data_page(ds="loans_v2")
    assert not at.exception
    box = baseline_box(at)
    assert box.disabled and box.value == "loans"
    assert any("Built-in samples keep their baseline" in c.value for c in at.caption)
    assert not [b for b in at.button if "Save default baseline" in str(b.label)]
    loans = data_page(ds="loans")
    assert baseline_box(loans).value == "(none)" and baseline_box(loans).disabled


def test_read_only_server_hides_the_control(
    data_page: Run, two: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    two.set_baseline("new", "old")
    monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = data_page(ds="new")
    assert not at.exception
    assert not [s for s in at.selectbox if s.label == LABEL]
    assert any(shown(m.value) == "Compared by default with: **old**" for m in at.markdown)
    assert any("the default baseline is shown here, not changed" in c.value for c in at.caption)


def test_a_removed_baseline_is_said(data_page: Run, two: Workspace) -> None:
    two.set_baseline("new", "old")
    two.remove("old")
    at = data_page(ds="new")
    assert not at.exception
    assert any("'old' is no longer in the workspace" in shown(w.value) for w in at.warning)
    assert baseline_box(at).value == "(none)"
