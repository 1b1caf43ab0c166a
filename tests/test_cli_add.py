"""``mlqa-debug add`` when it must refuse: a taken name, the quota, two adds at once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlqa_debug.cli.common import EXIT_BAD_INPUT, EXIT_OK
from mlqa_debug.data.workspace import Workspace
from tests.conftest import WriteTable
from tests.test_cli import run


def test_add_existing_names_the_flag(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    workspace: Workspace,
) -> None:
    path = str(write_table(binary_frame))
    assert run(capsys, "add", path, "--name", "twice")[0] == EXIT_OK
    code, out, err = run(capsys, "add", path, "--name", "twice")
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert err == (
        "error: a dataset named 'twice' exists; "
        "choose another --name, or pass --overwrite to replace it\n"
    )
    assert run(capsys, "add", path, "--name", "twice", "--overwrite")[0] == EXIT_OK


def test_add_over_the_quota_exits_2_with_the_figures(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_table(binary_frame)
    monkeypatch.setenv("MLQA_DEBUG_QUOTA_BYTES", "100")
    code, out, err = run(capsys, "add", str(path), "--name", "big")
    assert (code, out) == (EXIT_BAD_INPUT, "")
    size = f"{path.stat().st_size / 2**10:.1f} KB"
    assert err == (
        f"error: the file ({size}) does not fit in the workspace quota: its datasets use "
        "0 bytes of 100 bytes (100 bytes free); set MLQA_DEBUG_QUOTA_BYTES to raise the quota\n"
    )
    assert not workspace.root.exists()


#: ``mlqa-debug add FILE --name NAME`` for each NAME, each once the parent says go (imports
#: are done by then, so two of these start each add at the same moment); prints, as JSON,
#: each add's exit code, stdout and stderr.
RACER = """
import contextlib, io, json, sys, time, traceback
from pathlib import Path
from mlqa_debug.cli.main import main
flags, me, file, root, *names = sys.argv[1:]
flags = Path(flags)
results = []
for name in names:
    (flags / f"ready-{name}-{me}").touch()
    deadline = time.monotonic() + 120
    while not (flags / f"go-{name}").exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["add", file, "--name", name, "--workspace", root])
        except Exception:  # what the console script would print before exiting 1
            traceback.print_exc()
            code = 1
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def race_adds(flags: Path, files: list[Path], *, names: list[str], root: Path) -> list[Any]:
    """Two processes running ``mlqa-debug add FILE --name NAME`` at the same moment, per name.

    Returns, per name, each process's (exit code, stdout, stderr).
    """
    flags.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(flags), str(i), str(file), str(root), *names],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, file in enumerate(files)
    ]
    try:
        for name in names:
            deadline = time.monotonic() + 120
            while len(list(flags.glob(f"ready-{name}-*"))) < len(files):
                assert time.monotonic() < deadline, "the racing processes did not start"
                time.sleep(0.005)
            (flags / f"go-{name}").touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    per_process = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    return [list(results) for results in zip(*per_process, strict=True)]


@pytest.mark.slow
def test_two_adds_of_one_name_at_once(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    write_table: WriteTable,
) -> None:
    files = [write_table(binary_frame, "a.csv"), write_table(regression_frame, "b.csv")]
    tasks = ["binary", "regression"]
    root = tmp_path / "ws"
    taken = (
        r"(a dataset named '{0}' exists|another add registered a dataset named '{0}' while "
        r"this one was running; that one is kept and this file was not registered)"
    )
    names = [f"same-{attempt}" for attempt in range(3)]
    raced = race_adds(tmp_path / "flags", files, names=names, root=root)
    for name, results in zip(names, raced, strict=True):
        codes = [code for code, _, _ in results]
        assert sorted(codes) == [EXIT_OK, EXIT_BAD_INPUT], results
        winner, loser = (0, 1) if codes[0] == EXIT_OK else (1, 0)
        err = results[loser][2]
        assert "Traceback" not in err and "Errno" not in err, err
        assert re.fullmatch(
            "error: "
            + taken.format(name)
            + "; choose another --name, or pass --overwrite to replace it",
            err.splitlines()[-1],
        ), err
        assert results[winner][1].startswith(f"registered '{name}'")
        ws = Workspace(root)
        assert ws.load(name).task == tasks[winner]  # the winner's copy, intact and loadable
        assert sorted(p.name for p in (ws.datasets_dir / name).iterdir()) == [
            "data.csv",
            "dataset.json",
        ]
        assert not [p for p in ws.datasets_dir.iterdir() if p.name.startswith(".")]


def test_a_table_with_labels_and_no_predictions_is_registered_as_a_reference(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    workspace: Workspace,
) -> None:
    training = binary_frame.drop(columns=["prediction"]).filter(regex="^(?!prob_|score)")
    code, out, _ = run(capsys, "add", str(write_table(training)), "--name", "train")
    assert code == EXIT_OK
    assert "registered as a reference table" in out
    assert workspace.entry("train").reference_only
    loaded = workspace.load("train")  # the labels stand in for the predictions
    assert loaded.schema.prediction == loaded.schema.label
    listing = run(capsys, "list")[1]
    assert re.search(r"^train\s+reference\b", listing, re.M)
    no_labels = training.drop(columns=["label"])
    code, _, err = run(capsys, "add", str(write_table(no_labels, "x.csv")), "--name", "neither")
    assert code == EXIT_BAD_INPUT and "no label column" in err  # neither role: refused
