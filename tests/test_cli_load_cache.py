"""The CLI loads a workspace dataset once: a second command reads it from the load cache."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.cli.main import main
from mlqa_debug.data import load_cache, predictions
from mlqa_debug.data.workspace import Workspace
from tests.conftest import NUMERIC_NAME, WriteTable


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of parser and validator calls, in order (``read_table``, ``build_schema``)."""
    seen: list[str] = []
    monkeypatch.setattr(load_cache, "RACY_SECONDS", 0.0)  # the test's file is brand new
    for name in ("read_table", "build_schema"):
        original = getattr(predictions, name)

        def counting(*args: object, _f: object = original, _n: str = name, **kw: object) -> object:
            seen.append(_n)
            return _f(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(predictions, name, counting)
    return seen


@pytest.fixture
def dataset(workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame) -> Path:
    """``preds`` registered in the workspace; the path of the file it was added from."""
    path = write_table(binary_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace.add(path, name="preds")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ("discover", "preds", "--min-support", "5"),
        ("discover", "preds", "--json"),
        ("slice", "preds", "--where", f"`{NUMERIC_NAME}` > 8000"),
        ("slice", "preds", "--where", "score > 0.5", "--positive", "0", "--json"),
    ],
)
def test_a_second_command_skips_parsing_and_validation(
    capsys: pytest.CaptureFixture[str],
    workspace: Workspace,
    dataset: Path,
    calls: list[str],
    argv: tuple[str, ...],
) -> None:
    calls.clear()
    first = run(capsys, *argv)
    assert calls == ["read_table", "build_schema"]
    second = run(capsys, *argv)
    assert calls == ["read_table", "build_schema"]  # nothing more
    assert second == first
    assert list((workspace.root / "cache" / "loads").glob("preds.*.arrow"))


def test_check_reads_the_cached_table(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, dataset: Path, calls: list[str]
) -> None:
    run(capsys, "case", "add", "preds", "--where", "score > 0.5", "--name", "high scores")
    calls.clear()
    first = run(capsys, "check", "preds")
    second = run(capsys, "check", "preds")
    assert calls == []  # ``case add`` loaded the dataset and stored it already
    assert second == first and "high scores" in first


def test_a_file_given_by_path_is_not_cached(
    capsys: pytest.CaptureFixture[str], workspace: Workspace, dataset: Path, calls: list[str]
) -> None:
    calls.clear()
    first = run(capsys, "discover", str(dataset))
    second = run(capsys, "discover", str(dataset))
    assert calls == ["read_table", "build_schema"] * 2
    assert second == first
    assert not (workspace.root / "cache" / "loads").exists()


def test_a_changed_dataset_is_read_again(
    capsys: pytest.CaptureFixture[str],
    workspace: Workspace,
    write_table: WriteTable,
    binary_frame: pd.DataFrame,
    dataset: Path,
    calls: list[str],
) -> None:
    argv = ("slice", "preds", "--where", "score > 0.5", "--json")
    before = run(capsys, *argv)
    binary_frame["prediction"] = 1 - binary_frame["prediction"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace.add(write_table(binary_frame, "v2.csv"), name="preds", overwrite=True)
    calls.clear()
    after = run(capsys, *argv)
    assert calls == ["read_table", "build_schema"]
    assert after != before
