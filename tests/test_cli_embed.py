"""Tests of the ``mlqa-debug embed`` command (mlqa_debug.cli.embed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.cache import DiskCache
from mlqa_debug.cli.embed import add_commands
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import MlqaError, WorkspaceError
from tests.analyses.embeddings.helpers import install_fake_umap


@pytest.fixture
def fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a fast stand-in; the list records each call's number of rows."""
    return install_fake_umap(monkeypatch)


def run_cli(*argv: str) -> tuple[int, argparse.Namespace]:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"), ws_help="workspace")
    args = parser.parse_args(list(argv))
    return args.handler(args), args


def test_embed_command_computes_then_finds_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_umap: list[int]
) -> None:
    code, _ = run_cli("embed", "diabetes", "--workspace", str(tmp_path), "--json")
    first = json.loads(capsys.readouterr().out)
    assert code == 0 and first["cached"] is False and first["method"] == "umap"
    assert first["mapped_rows"] == 221 and fake_umap == [221]
    code, _ = run_cli("embed", "diabetes", "--workspace", str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0 and "already cached" in out and fake_umap == [221]
    ws_predictions = Workspace(tmp_path).load("diabetes")
    cache = DiskCache(Workspace(tmp_path).cache_dir("embeddings"))
    assert emb.load_projection(ws_predictions, method="umap", cache=cache) is not None


def test_embed_command_takes_a_file_and_pca(
    tmp_path: Path, binary_frame: pd.DataFrame, write_table, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table(binary_frame, "preds.csv")
    code, _ = run_cli("embed", str(path), "--method", "pca", "--workspace", str(tmp_path / "ws"))
    assert code == 0 and "PCA" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "error"), [("../../etc/passwd", WorkspaceError), ("nope", WorkspaceError)]
)
def test_embed_command_refuses_unknown_datasets(
    tmp_path: Path, target: str, error: type[MlqaError]
) -> None:
    with pytest.raises(error):
        run_cli("embed", target, "--workspace", str(tmp_path))
