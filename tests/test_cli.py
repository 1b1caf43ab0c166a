"""The ``mlqa-debug`` command: validate, add, list, help, version, exit codes, closed pipes."""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlqa_debug
from mlqa_debug.cli import data as cli_data
from mlqa_debug.cli.common import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_OK
from mlqa_debug.cli.data import app_dir
from mlqa_debug.cli.main import COMMAND_GROUPS, build_parser, main
from mlqa_debug.data.workspace import Workspace
from tests.conftest import FEATURE_TYPES, NUMERIC_NAME, WriteTable

REPO = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).parent / "mlqa-debug"


def subcommands() -> list[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- validate -------------------------------------------------------------------------


def test_validate_prints_a_summary(
    capsys: pytest.CaptureFixture[str], binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(binary_frame)
    code, out, err = run(capsys, "validate", str(path))
    assert (code, err) == (EXIT_OK, "")
    errors = int((binary_frame["label"] != binary_frame["prediction"]).sum())
    lines = out.splitlines()
    assert lines[0] == f"preds.csv: {len(binary_frame)} rows, {binary_frame.shape[1]} columns"
    assert "task: binary" in lines
    assert "classes: 0, 1" in lines
    assert f"error rate: {errors / len(binary_frame):.2%} ({errors} errors)" in lines
    assert any(line.startswith("fingerprint: ") and len(line) == 21 for line in lines)
    assert any(line.split() == ["label", "label"] for line in lines)
    assert any(
        line.strip().startswith(NUMERIC_NAME) and "feature (numeric)" in line for line in lines
    )


def test_validate_json(
    capsys: pytest.CaptureFixture[str], multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(multiclass_frame, "multi.parquet")
    code, out, _ = run(capsys, "validate", str(path), "--json")
    assert code == EXIT_OK
    summary = json.loads(out)
    assert summary["rows"] == len(multiclass_frame)
    assert summary["task"] == "multiclass"
    assert summary["classes"] == ["cat", "dog", "émeu"]
    errors = int((multiclass_frame["label"] != multiclass_frame["prediction"]).sum())
    assert summary["errors"] == errors
    assert summary["error_rate"] == pytest.approx(errors / len(multiclass_frame))
    assert {r["column"] for r in summary["roles"]} == set(multiclass_frame.columns)
    assert sum(summary["feature_types"].values()) == len(FEATURE_TYPES)
    assert summary["warnings"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="label"), "error: preds.csv: no label column"),
        (
            lambda f: f.assign(label=[np.nan, *f["label"].iloc[1:]]),
            "error: preds.csv: label column 'label' has 1 missing value (row 1)",
        ),
        (
            lambda f: f.assign(id="same"),
            "error: preds.csv: id column 'id' has 119 duplicate values (rows 2, 3, 4, 5, 6, ...",
        ),
    ],
    ids=["no label", "missing label", "duplicate ids"],
)
def test_validate_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    change: object,
    message: str,
) -> None:
    path = write_table(change(binary_frame))  # type: ignore[operator]
    code, out, err = run(capsys, "validate", str(path))
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith(message)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [["validate", "does-not-exist.csv"], ["validate", "README.md"], ["validate", "."]],
    ids=["missing", "markdown", "directory"],
)
def test_validate_unusable_paths_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(REPO)
    code, _, err = run(capsys, *argv)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: ")


def test_validate_role_flags(
    capsys: pytest.CaptureFixture[str], binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.rename(columns={"label": "truth", "prediction": "guess", "id": "key"})
    path = write_table(frame)
    code, _, err = run(capsys, "validate", str(path))
    assert code == EXIT_BAD_INPUT and "no label column" in err
    code, out, _ = run(
        capsys,
        "validate",
        str(path),
        "--json",
        "--label",
        "truth",
        "--prediction",
        "guess",
        "--id",
        "key",
        "--task",
        "multiclass",
        "--positive",
        "0",
    )
    assert code == EXIT_OK
    summary = json.loads(out)
    roles = {r["column"]: r["role"] for r in summary["roles"]}
    assert (roles["truth"], roles["guess"], roles["key"]) == ("label", "prediction", "id")
    assert summary["task"] == "multiclass"
    code, out, _ = run(
        capsys, "validate", str(path), "--json", "--label", "truth", "--positive", "0"
    )
    assert json.loads(out)["positive"] == 0


def test_validate_bad_task_flag_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", str(write_table(binary_frame)), "--task", "ternary"])
    assert info.value.code == 2
    assert "invalid choice: 'ternary'" in capsys.readouterr().err


def test_validate_prints_warnings(
    capsys: pytest.CaptureFixture[str], write_table: WriteTable
) -> None:
    frame = pd.DataFrame({"label": ["a", "b", "a"], "prediction": ["a", "b", "z"]})
    with pytest.warns(UserWarning, match="class 'z' that no label has"):
        code, out, _ = run(capsys, "validate", str(write_table(frame)))
    assert code == EXIT_OK
    assert "warning: preds.csv: prediction column 'prediction' has class 'z'" in out


def test_validate_uses_the_sidecar(
    capsys: pytest.CaptureFixture[str], binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(binary_frame.rename(columns={"label": "outcome"}))
    path.with_name("preds.mlqa.toml").write_text('[roles]\nlabel = "outcome"\n')
    code, out, _ = run(capsys, "validate", str(path), "--json")
    assert code == EXIT_OK
    assert {"column": "outcome", "role": "label", "type": ""} in json.loads(out)["roles"]


# --- add and list ---------------------------------------------------------------------


def test_add_then_list(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    path = write_table(binary_frame, "first run.csv")
    code, out, err = run(capsys, "add", str(path), "--name", "run-1", "--workspace", str(root))
    assert (code, err) == (EXIT_OK, "")
    assert out.strip() == f"registered 'run-1' in {root.resolve() / 'datasets' / 'run-1'}"
    code, out, _ = run(capsys, "list", "--workspace", str(root))
    assert code == EXIT_OK
    rows = [line.split() for line in out.splitlines()]
    assert [r[0] for r in rows] == ["loans", "loans_v2", "digits", "diabetes", "run-1"]
    assert rows[0][1] == "built-in" and rows[-1][1] == "registered"
    assert out.splitlines()[-1].endswith("first run.csv")
    assert "Synthetic loan defaults" in out


def test_add_with_role_flags_stores_them(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    workspace: Workspace,
) -> None:
    frame = binary_frame.rename(columns={"label": "truth"})
    code, _, _ = run(
        capsys,
        "add",
        str(write_table(frame)),
        "--name",
        "flags",
        "--label",
        "truth",
        "--positive",
        "0",
    )
    assert code == EXIT_OK  # the workspace comes from $MLQA_DEBUG_WORKSPACE
    roles = workspace.entry("flags").roles
    assert (roles.label, roles.positive) == ("truth", "0")
    assert workspace.load("flags").schema.positive == 0


@pytest.mark.parametrize(
    ("drop", "name", "message"),
    [
        pytest.param([], "loans", "error: 'loans' is the name of a built-in sample", id="sample"),
        pytest.param([], "../up", "error: '../up' is not a valid dataset name", id="path"),
        pytest.param([], "Upper", "error: 'Upper' is not a valid dataset name", id="upper"),
        pytest.param(["label"], "bad", "error: preds.csv: no label column", id="bad file"),
    ],
)
def test_add_refused_exits_2_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    workspace: Workspace,
    drop: list[str],
    name: str,
    message: str,
) -> None:
    path = write_table(binary_frame.drop(columns=drop))
    code, out, err = run(capsys, "add", str(path), "--name", name)
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert err.startswith(message)
    assert not workspace.root.exists()


def test_list_empty_workspace(capsys: pytest.CaptureFixture[str], workspace: Workspace) -> None:
    code, out, _ = run(capsys, "list")
    assert code == EXIT_OK
    assert [line.split()[0] for line in out.splitlines()] == [
        "loans",
        "loans_v2",
        "digits",
        "diabetes",
    ]


# --- help and usage -------------------------------------------------------------------


def test_known_subcommands_exist() -> None:
    assert {"app", "add", "list", "validate"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_help_of_every_subcommand(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlqa-debug {command}")


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in subcommands())
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlqa-debug {mlqa_debug.__version__}"


def test_the_version_has_one_source() -> None:
    """pyproject reads it from ``mlqa_debug/__init__.py``; the installed metadata agrees."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "mlqa_debug/__init__.py"
    assert importlib.metadata.version("mlqa-debug") == mlqa_debug.__version__


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: mlqa-debug" in capsys.readouterr().err


def test_app_dir_is_the_checkout() -> None:
    assert app_dir() == REPO


def test_console_script_help() -> None:
    assert CONSOLE_SCRIPT.is_file(), "install the package: pip install -e ."
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mlqa-debug")
    assert "validate" in result.stdout


def test_console_script_bad_input_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert (
        result.stderr.strip()
        == "error: empty.csv: the file is empty; expected a header row and data rows"
    )


def test_console_script_version() -> None:
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == f"mlqa-debug {mlqa_debug.__version__}"


# --- the package: one module per command group, no import loop -------------------------

CLI_DIR = REPO / "mlqa_debug" / "cli"


def cli_imports() -> dict[str, set[str]]:
    """Each ``mlqa_debug.cli`` module and the cli modules it imports, at the top or in a body."""
    edges: dict[str, set[str]] = {}
    for path in sorted(CLI_DIR.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "mlqa_debug.cli":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        prefix = "mlqa_debug.cli."
        edges[path.stem] = {m.removeprefix(prefix) for m in found if m.startswith(prefix)} | {
            m for m in found if "." not in m and (CLI_DIR / f"{m}.py").is_file()
        }
    return edges


def test_cli_modules_import_each_other_without_a_loop() -> None:
    """common imports no cli module; each group only common; main the groups; nothing main."""
    edges = cli_imports()
    groups = {group.__name__.rsplit(".", 1)[1] for group in COMMAND_GROUPS}
    assert {"data", "slices", "cases", "compare", "embed", "explain"} <= groups
    assert groups | {"common", "main", "__init__", "__main__"} == set(edges)
    assert edges["common"] == set()
    assert {name: edges[name] for name in groups} == {name: {"common"} for name in groups}
    assert edges["main"] == groups | {"common"}
    assert {name for name, targets in edges.items() if "main" in targets} == {
        "__init__",
        "__main__",
    }


def test_every_command_group_is_in_the_parser() -> None:
    assert set(subcommands()) == {
        "app", "add", "list", "validate", "slice", "discover", "embed",
        "case", "check", "history", "compare", "export", "explain", "attach-model",
        "quality", "labels",
    }  # fmt: skip


# --- a reader that goes away (mlqa-debug ... | head) ------------------------------------


def test_a_broken_pipe_exits_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workspace: Workspace
) -> None:
    """A handler whose reader went away: exit 141 (128 + SIGPIPE), nothing on stderr."""

    def closed(args: argparse.Namespace) -> int:
        raise BrokenPipeError

    monkeypatch.setattr(cli_data, "cmd_list", closed)
    assert run(capsys, "list") == (EXIT_BROKEN_PIPE, "", "")


@pytest.fixture
def one_case(tmp_path: Path, workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> Path:
    cases = tmp_path / "cases"
    argv = ["case", "add", "loans", "--cases", str(cases), "--name", "gig"]
    assert run(capsys, *argv, "--where", "employment == 'gig'")[0] == EXIT_OK
    return cases


@pytest.mark.parametrize(
    "argv",
    [
        ["slice", "loans", "--where", "employment == 'gig'", "--json"],
        ["slice", "loans", "--where", ""],
        ["list"],
        ["discover", "loans", "--json", "--k", "50"],
        ["check", "loans_v2", "--cases", "{cases}"],
        ["--help"],
    ],
    ids=["slice --json", "slice", "list", "discover --json", "check", "help"],
)
def test_a_closed_stdout_ends_without_a_traceback(one_case: Path, argv: list[str]) -> None:
    """The reader closes before the command writes, so every write fails with EPIPE.

    Block-buffered stdout, as users get it: a short output fails only at the last flush.
    """
    command = [sys.executable, "-m", "mlqa_debug.cli", *(a.format(cases=one_case) for a in argv)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert err == ""


def test_a_shell_pipe_into_head_is_quiet(tmp_path: Path) -> None:
    """``validate --json`` of a wide table prints more than a pipe holds; ``head`` leaves early."""
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(20, 2000)), columns=[f"f{i}" for i in range(2000)])
    path = tmp_path / "wide.csv"
    wide.assign(label=[0, 1] * 10, prediction=[1, 1] * 10).to_csv(path, index=False)
    result = subprocess.run(
        f"set -o pipefail; '{CONSOLE_SCRIPT}' validate '{path}' --json | head -c 10",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (141, '{\n  "sourc', "")
