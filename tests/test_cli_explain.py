"""``mlqa-debug explain`` and ``mlqa-debug attach-model``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mlqa_debug.errors import ModelError
from tests.analyses.explain.helpers import make_trusted_dir, toy_workspace


@pytest.fixture
def trusted_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_trusted_dir(tmp_path, monkeypatch)


def run_cli(argv: list[str]) -> int:
    from mlqa_debug.cli import explain as cli_explain

    parser = argparse.ArgumentParser()
    cli_explain.add_commands(parser.add_subparsers(dest="command"), ws_help="workspace")
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_explain_prints_the_slice_importance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["explain", "diabetes", "--where", "bmi >= 30", "--workspace", str(tmp_path), "--json"]
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["slice"] == "bmi >= 30" and out["method"] == "TreeExplainer (exact)"
    assert out["explainer"] == "tree"
    assert out["explainer_reason"] == "Pipeline(GradientBoostingRegressor) is a tree model"
    assert out["additive"] is True and out["rows"]["slice"] == 56
    assert {row["feature"] for row in out["importance"]} >= {"bmi", "s5"}
    assert run_cli(argv[:-1]) == 0
    assert "What matters more in the slice" in capsys.readouterr().out


def test_cli_attach_model_lists_and_registers(
    trusted_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = toy_workspace(tmp_path, trusted_dir)
    assert run_cli(["attach-model", "toy", "--workspace", str(ws.root)]) == 0
    assert "logreg.joblib" in capsys.readouterr().out
    assert run_cli(["attach-model", "toy", "logreg.joblib", "--workspace", str(ws.root)]) == 0
    assert ws.entry("toy").roles.model is not None
    with pytest.raises(ModelError, match="not a model file"):
        run_cli(["attach-model", "toy", "../x.joblib", "--workspace", str(ws.root)])
