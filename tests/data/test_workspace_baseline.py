"""A dataset's default baseline: stored in dataset.json, validated, kept across workspaces."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.data.workspace import SAMPLE_BASELINES, Workspace
from mlqa_debug.errors import WorkspaceError
from tests.conftest import WriteTable


def meta(workspace: Workspace, name: str) -> dict[str, object]:
    return json.loads((workspace.datasets_dir / name / "dataset.json").read_text())


@pytest.fixture
def two(workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable) -> Workspace:
    """``old`` and ``new``: two registered tables, no baselines yet."""
    path = write_table(binary_frame)
    workspace.add(path, name="old")
    workspace.add(path, name="new")
    return workspace


def test_builtin_loans_v2_has_loans() -> None:
    ws = Workspace("/nonexistent-workspace-for-samples")
    assert ws.entry("loans_v2").baseline == "loans"
    assert ws.entry("loans").baseline is None
    assert {e.name: e.baseline for e in ws.entries()} == {
        "loans": None,
        "loans_v2": "loans",
        "digits": None,
        "diabetes": None,
    }
    assert SAMPLE_BASELINES == {"loans_v2": "loans"}


def test_add_with_a_baseline_persists_across_workspace_instances(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(binary_frame)
    workspace.add(path, name="old")
    entry = workspace.add(path, name="new", baseline="old")
    assert entry.baseline == "old"
    assert meta(workspace, "new")["baseline"] == "old"
    assert "baseline" not in meta(workspace, "old")  # none set: the file is as before
    again = Workspace(workspace.root)
    assert again.entry("new").baseline == "old"
    assert {e.name: e.baseline for e in again.entries() if not e.builtin} == {
        "new": "old",
        "old": None,
    }


def test_a_builtin_can_be_the_baseline(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    entry = workspace.add(write_table(binary_frame), name="mine", baseline="loans")
    assert Workspace(workspace.root).entry("mine").baseline == "loans"
    assert entry.baseline == "loans"


def test_set_and_clear(two: Workspace) -> None:
    assert two.set_baseline("new", "old").baseline == "old"
    assert Workspace(two.root).entry("new").baseline == "old"
    rows_before = meta(two, "new")["rows"]
    assert two.set_baseline("new", None).baseline is None
    data = meta(two, "new")
    assert "baseline" not in data and data["rows"] == rows_before  # the rest is kept
    assert Workspace(two.root).entry("new").baseline is None


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ("new", "'new' cannot be its own baseline"),
        ("nope", "no dataset named 'nope'"),
        ("../old", "not a valid baseline dataset name"),
        (7, "not a valid baseline dataset name"),
    ],
)
def test_set_baseline_refuses(two: Workspace, baseline: object, message: str) -> None:
    with pytest.raises(WorkspaceError, match=message):
        two.set_baseline("new", baseline)  # type: ignore[arg-type]
    assert "baseline" not in meta(two, "new")


def test_builtins_keep_their_baseline(workspace: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="built-in sample"):
        workspace.set_baseline("loans_v2", None)
    with pytest.raises(WorkspaceError, match="no dataset named 'ghost'"):
        workspace.set_baseline("ghost", "loans")


@pytest.mark.parametrize(
    ("baseline", "message"),
    [("same", "'same' cannot be its own baseline"), ("nope", "no dataset named 'nope'")],
)
def test_add_refuses_a_bad_baseline_and_registers_nothing(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    baseline: str,
    message: str,
) -> None:
    with pytest.raises(WorkspaceError, match=message):
        workspace.add(write_table(binary_frame), name="same", baseline=baseline)
    assert "same" not in workspace.names()
    assert not (workspace.datasets_dir / "same").exists()


def test_a_removed_baseline_is_still_reported(two: Workspace) -> None:
    """The name stays (the Data page says it is gone); the dataset keeps loading."""
    two.set_baseline("new", "old")
    two.remove("old")
    assert two.entry("new").baseline == "old"
    assert two.load("new").n_samples > 0


def test_hand_edited_bad_baseline_is_an_unreadable_dataset_json(two: Workspace) -> None:
    path: Path = two.datasets_dir / "new" / "dataset.json"
    path.write_text(json.dumps(meta(two, "new") | {"baseline": "../../etc"}))
    with pytest.raises(WorkspaceError, match=r"unreadable dataset\.json.*baseline"):
        two.entry("new")
    assert "new" not in two.names() and "old" in two.names()
