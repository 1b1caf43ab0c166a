"""External datasets: registered by reference, refused when their files change, run on their engine.

``mlqa-debug add DIR --external`` copies nothing and stores the files' state; the
engine commands take the dataset's name; the workspace gives its engine and a
seeded sample; a table whose files are gone or changed is refused naming what
changed and how to register it again.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.cli import main
from mlqa_debug.data.external import ENV_SAMPLE_ROWS, ExternalChangedError
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import MlqaError, WorkspaceError
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.stats import slice_report
from tests.external_data import N_ROWS, REGION, logs_frame, write_logs

NORTH = f"`{REGION}` == 'north'"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return write_logs(tmp_path / "logs")


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_external_copies_nothing_and_lists_it(
    files: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(["add", str(files), "--name", "logs", "--external"], capsys)
    assert code == 0
    assert f"by reference (external, duckdb): {N_ROWS:,} rows in 3 file(s)" in out
    folder = workspace.root / "datasets" / "logs"
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.json"]  # nothing copied
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["kind"] == "external" and meta["path"] == str(files) and meta["rows"] == N_ROWS
    assert meta["files"] == 3 and meta["bytes"] == sum(
        p.stat().st_size for p in files.glob("*/*.parquet")
    )
    code, out, _ = _cli(["list"], capsys)
    line = next(x for x in out.splitlines() if x.startswith("logs "))
    assert "external" in line and f"duckdb, {N_ROWS:,} rows: {files}" in line


@pytest.mark.parametrize("form", ["glob", "file"])
def test_a_glob_or_one_file_by_reference(
    form: str, files: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(files / "day=*" / "*.parquet") if form == "glob" else str(files / "day=1")
    code, out, _ = _cli(["add", target, "--name", "part", "--external"], capsys)
    assert code == 0, out
    rows = N_ROWS if form == "glob" else N_ROWS // 3
    assert f"{rows:,} rows" in out


def test_bad_targets_and_flags_say_what_was_expected(
    tmp_path: Path, files: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(["add", str(tmp_path / "nope"), "--name", "x", "--external"], capsys)
    assert code == 2 and "nope" in err
    code, _, err = _cli(["add", str(files), "--name", "x", "--engine", "duckdb"], capsys)
    assert code == 2 and "--external" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(bad / "part.parquet")
    code, _, err = _cli(["add", str(bad), "--name", "bad", "--external"], capsys)
    assert code == 2 and "label" in err
    assert not (workspace.root / "datasets" / "bad").exists()  # nothing half-registered


def test_engine_commands_take_the_name_and_give_the_whole_tables_numbers(
    files: Path, workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.add_external(files, name="logs")
    whole = tmp_path / "whole.parquet"
    pd.concat(pd.read_parquet(p) for p in sorted(files.glob("*/*.parquet"))).to_parquet(whole)
    predictions = load_predictions(whole)
    expected = slice_report(predictions.metric_data, slice_mask(predictions, parse_slice(NORTH)))
    code, out, _ = _cli(["slice", "logs", "--where", NORTH, "--json"], capsys)
    assert code == 0
    got = json.loads(out)
    assert got["slice"]["n"] == expected.slice.n and got["rest"]["n"] == expected.rest.n
    assert got["slice"]["error_rate"]["value"] == pytest.approx(expected.slice.error_rate.value)
    code, out, _ = _cli(["discover", "logs", "--max-level", "1", "--json"], capsys)
    found = json.loads(out)
    assert code == 0 and found["engine"] == "duckdb" and found["rows_searched"] == N_ROWS
    assert parse_slice(found["slices"][0]["slice"]) == parse_slice(NORTH)


def test_a_changed_table_is_refused_by_commands_and_the_workspace(
    files: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.add_external(files, name="logs")
    part = files / "day=0" / "part.parquet"
    os.utime(part, (1, 1))  # same bytes, new modification time: may be new data
    code, _, err = _cli(["slice", "logs", "--where", NORTH], capsys)
    assert code == 2
    assert "changed since it was registered (file names or modification times differ)" in err
    assert "--overwrite" in err and "--external" in err
    with pytest.raises(ExternalChangedError, match="changed since it was registered"):
        workspace.open_external("logs")
    (files / "day=2" / "part.parquet").unlink()
    with pytest.raises(ExternalChangedError, match="3 -> 2 files"):
        workspace.open_external("logs")
    code, _, err = _cli(["add", str(files), "--name", "logs", "--external", "--overwrite"], capsys)
    assert code == 0
    assert workspace.open_external("logs").n_rows == N_ROWS * 2 // 3


def test_the_sample_is_seeded_bounded_and_loads_with_a_warning(
    files: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.add_external(files, name="logs")
    monkeypatch.setenv(ENV_SAMPLE_ROWS, "1000")
    first, again = workspace.open_external("logs"), workspace.open_external("logs")
    assert first.sampled and first.sample.n_samples == 1000 and first.n_rows == N_ROWS
    assert first.sample.frame["id"].tolist() == again.sample.frame["id"].tolist()
    assert first.sample.frame["id"].is_unique
    frame = logs_frame().set_index("id")
    rows = first.sample.frame.set_index("id")
    assert (rows["prediction"] == frame.loc[rows.index, "prediction"]).all()  # real rows
    assert first.sample.schema.task == "binary"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = workspace.load("logs")
    assert loaded.n_samples == 1000
    assert any("seeded sample of 1,000" in str(w.message) for w in caught)
    monkeypatch.setenv(ENV_SAMPLE_ROWS, "lots")
    with pytest.raises(WorkspaceError, match=f"{ENV_SAMPLE_ROWS}='lots'"):
        workspace.open_external("logs")


def test_roles_are_stored_and_checked_on_the_files(
    files: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlqa_debug.data.schema import Roles

    workspace.add_external(files, name="logs", roles=Roles(positive="1"))
    entry = workspace.save_roles("logs", Roles(positive="0"))
    assert entry.roles.positive == "0"
    assert workspace.open_external("logs").engine.schema.positive in (0, "0")
    with pytest.raises(MlqaError, match="label column 'no such column' not found"):
        workspace.save_roles("logs", Roles(label="no such column"))


@pytest.mark.spark
def test_registered_on_spark(files: Path, workspace: Workspace) -> None:
    entry = workspace.add_external(files, name="logs", engine="spark")
    assert entry.external is not None and entry.external.engine == "spark"
    assert entry.external.rows == N_ROWS


def test_case_add_and_check_on_an_external_name_measure_every_row(
    files: Path,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workspace.add_external(files, name="logs")
    monkeypatch.setenv(ENV_SAMPLE_ROWS, "1000")  # the sample's count would differ
    north = int((logs_frame()[REGION] == "north").sum())
    code, out, _ = _cli(["case", "add", "logs", "--name", "north", "--where", NORTH], capsys)
    assert code == 0 and f"on {north:,} rows" in out
    code, out, _ = _cli(["check", "logs", "--json"], capsys)
    (result,) = json.loads(out)["results"]
    assert code == 0 and result["status"] == "pass" and result["rows"] == north
