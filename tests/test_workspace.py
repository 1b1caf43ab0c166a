"""The workspace: safe dataset names, registering copies, built-ins, roles, models.

Adding under contention, refused uploads and the quota: tests/data/test_workspace_add.py.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug import Roles, SchemaError, WorkspaceError
from mlqa_debug.data.schema import ModelSpec
from mlqa_debug.data.workspace import SAMPLES, DatasetEntry, Workspace, samples_dir, validate_name
from tests.conftest import DOTTED_NAME, WriteTable

BUILTINS = ["loans", "loans_v2", "digits", "diabetes"]


def tree(root: Path) -> list[str]:
    """Every file and folder under root (hidden ones included), relative."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "0", "loans-2024", "my_data", "9lives", "a-b_c-9", "x" * 48, "dataset"]
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "a/b",
        "a\\b",
        "/etc/passwd",
        "../etc",
        "",
        "A",
        "Loans",
        "x" * 49,
        "%2e%2e",
        "%2F",
        "my data",
        " a",
        "a ",
        "données",
        "ü",
        "名前",
        "a\x00b",
        "\x00",
        "a\n",
        "-lead",
        "_lead",
        ".hidden",
        "a.b",
        "<script>",
        None,
        3,
        b"abc",
    ],
)
def test_invalid_names(workspace: Workspace, name: object) -> None:
    with pytest.raises(WorkspaceError, match="is not a valid dataset name; expected 1-48"):
        validate_name(name)
    with pytest.raises(WorkspaceError):
        workspace.entry(name)


def test_long_invalid_name_is_shortened_in_the_message() -> None:
    with pytest.raises(WorkspaceError) as info:
        validate_name("A" * 100_000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", ["..", "a/b", "A", "x" * 49, "a\x00b"])
def test_add_refuses_invalid_names(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable, name: str
) -> None:
    with pytest.raises(WorkspaceError, match="not a valid dataset name"):
        workspace.add(write_table(binary_frame), name=name)
    assert tree(workspace.root) == []


# --- built-in samples -----------------------------------------------------------------


def test_builtins_always_present(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "does not exist yet")
    assert ws.names() == BUILTINS
    for entry in ws.entries():
        assert entry.builtin
        assert entry.path.parent == samples_dir()
        assert entry.path.name == SAMPLES[entry.name][0]
        assert entry.description == SAMPLES[entry.name][1]
    assert not ws.root.exists()  # listing creates nothing


def test_builtin_roles_come_from_their_sidecars(workspace: Workspace) -> None:
    assert workspace.entry("loans").roles.positive == 1
    digits = workspace.entry("digits").roles
    assert digits.image is not None and digits.image.shape == (8, 8)
    assert workspace.entry("diabetes").roles.model == ModelSpec(
        "diabetes_model.joblib", "diabetes-gbr"
    )


@pytest.mark.parametrize(
    ("name", "rows", "task"),
    [("loans", 20_000, "binary"), ("digits", 899, "multiclass"), ("diabetes", 221, "regression")],
)
def test_builtins_load(workspace: Workspace, name: str, rows: int, task: str) -> None:
    p = workspace.load(name)
    assert (p.n_samples, p.task) == (rows, task)


def test_builtin_model_paths(workspace: Workspace) -> None:
    for name in BUILTINS:
        path = workspace.entry(name).model_path
        assert path is not None and path.parent == samples_dir().resolve()
        assert path.name == f"{name}_model.joblib"


@pytest.mark.parametrize("name", BUILTINS)
def test_names_of_builtins_are_refused(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable, name: str
) -> None:
    with pytest.raises(WorkspaceError, match="is the name of a built-in sample"):
        workspace.add(write_table(binary_frame), name=name, overwrite=True)
    with pytest.raises(WorkspaceError, match="built-in sample and cannot be removed"):
        workspace.remove(name)
    with pytest.raises(WorkspaceError, match="built-in sample; register a copy"):
        workspace.save_roles(name, Roles(task="binary"))
    assert tree(workspace.root) == []


# --- add ------------------------------------------------------------------------------


def test_add_copies_the_file(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    source = write_table(binary_frame, "my preds.csv")
    entry = workspace.add(source, name="mine")
    assert entry.name == "mine" and not entry.builtin
    assert entry.path == workspace.datasets_dir / "mine" / "data.csv"
    assert entry.path.read_bytes() == source.read_bytes()
    assert entry.source == "my preds.csv"
    meta = json.loads((entry.path.parent / "dataset.json").read_text())
    assert meta["rows"] == len(binary_frame)
    assert meta["fingerprint"] == workspace.load("mine").fingerprint
    assert meta["file"] == "data.csv"
    source.unlink()  # the workspace is self-contained
    assert workspace.load("mine").n_samples == len(binary_frame)
    assert workspace.names() == [*BUILTINS, "mine"]
    assert tree(workspace.datasets_dir) == ["mine", "mine/data.csv", "mine/dataset.json"]


def test_add_parquet_keeps_its_suffix(
    workspace: Workspace, multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    entry = workspace.add(write_table(multiclass_frame, "p.parquet"), name="multi")
    assert entry.path.name == "data.parquet"
    assert workspace.load("multi").task == "multiclass"


def test_add_stores_roles_with_the_sidecar_folded_in(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.rename(columns={"label": "outcome"})
    source = write_table(frame)
    sidecar = source.with_name("preds.mlqa.toml")
    sidecar.write_text(
        '[roles]\nlabel = "outcome"\npositive = 0\n'
        f'[types]\n"{DOTTED_NAME}" = "categorical"\n'
        '[model]\nfile = "elsewhere.joblib"\n'
    )
    workspace.add(source, name="folded", roles=Roles(positive=1))
    sidecar.unlink()
    entry = workspace.entry("folded")
    assert entry.roles == Roles(label="outcome", positive=1, types={DOTTED_NAME: "categorical"})
    assert entry.roles.model is None  # a model is registered only by an explicit flag
    p = workspace.load("folded")
    assert (p.schema.label, p.schema.positive) == ("outcome", 1)
    assert p.schema.features[DOTTED_NAME] == "categorical"


def test_add_with_model(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable, tmp_path: Path
) -> None:
    model = tmp_path / "clf.joblib"
    model.write_bytes(b"not really a model")
    entry = workspace.add(write_table(binary_frame), name="with-model", model=model)
    assert entry.roles.model == ModelSpec("model.joblib", "clf")
    assert entry.model_path == (workspace.datasets_dir / "with-model" / "model.joblib").resolve()
    assert entry.model_path.read_bytes() == b"not really a model"


@pytest.mark.parametrize(
    ("model_name", "match"),
    [("absent.joblib", "not found"), ("model.h5", r"expected one of \.joblib, \.pkl, \.skops")],
)
def test_add_with_bad_model_leaves_nothing(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    tmp_path: Path,
    model_name: str,
    match: str,
) -> None:
    if model_name != "absent.joblib":
        (tmp_path / model_name).write_bytes(b"x")
    with pytest.raises(WorkspaceError, match=match):
        workspace.add(write_table(binary_frame), name="m", model=tmp_path / model_name)
    assert tree(workspace.root) == []


def invalid_sources(tmp_path: Path, frame: pd.DataFrame) -> dict[str, object]:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "garbled.parquet").write_bytes(b"\x00\xff" * 100)
    frame.drop(columns="label").to_csv(tmp_path / "nolabel.csv", index=False)
    upload = io.BytesIO(b"id,label,prediction\n1,1,1\n1,0,0\n")
    upload.name = "dupes.csv"
    return {
        "empty": tmp_path / "empty.csv",
        "garbled": tmp_path / "garbled.parquet",
        "no label": tmp_path / "nolabel.csv",
        "duplicate ids upload": upload,
        "missing": tmp_path / "missing.csv",
    }


@pytest.mark.parametrize(
    "which", ["empty", "garbled", "no label", "duplicate ids upload", "missing"]
)
def test_add_invalid_file_leaves_nothing(
    workspace: Workspace, binary_frame: pd.DataFrame, tmp_path: Path, which: str
) -> None:
    source = invalid_sources(tmp_path, binary_frame)[which]
    with pytest.raises(SchemaError):
        workspace.add(source, name="bad")  # type: ignore[arg-type]
    assert tree(workspace.root) == []
    assert workspace.names() == BUILTINS


def test_failed_overwrite_keeps_the_old_dataset(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable, tmp_path: Path
) -> None:
    workspace.add(write_table(binary_frame), name="keep")
    before = tree(workspace.root)
    old = workspace.load("keep").fingerprint
    bad = write_table(binary_frame.drop(columns="label"), "bad.csv")
    with pytest.raises(SchemaError, match="no label column"):
        workspace.add(bad, name="keep", overwrite=True)
    assert tree(workspace.root) == before
    assert workspace.load("keep").fingerprint == old


def test_existing_name_needs_overwrite(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    write_table: WriteTable,
) -> None:
    workspace.add(write_table(binary_frame), name="same")
    other = write_table(regression_frame, "other.parquet")
    with pytest.raises(WorkspaceError, match="a dataset named 'same' exists"):
        workspace.add(other, name="same")
    assert workspace.load("same").task == "binary"
    entry = workspace.add(other, name="same", overwrite=True)
    assert entry.path.name == "data.parquet"
    assert workspace.load("same").task == "regression"
    assert tree(workspace.datasets_dir) == ["same", "same/data.parquet", "same/dataset.json"]


def test_add_file_like_upload(workspace: Workspace, binary_frame: pd.DataFrame) -> None:
    upload = io.BytesIO(binary_frame.to_csv(index=False).encode())
    upload.name = "Uploaded File.csv"
    entry = workspace.add(upload, name="uploaded", filename=upload.name)
    assert entry.path.read_bytes() == upload.getvalue()
    assert entry.source == "Uploaded File.csv"
    assert workspace.load("uploaded").n_samples == len(binary_frame)


# --- remove, save_roles ---------------------------------------------------------------


def test_remove(workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    workspace.add(write_table(binary_frame), name="gone")
    workspace.add(write_table(binary_frame), name="stays")
    workspace.remove("gone")
    assert workspace.names() == [*BUILTINS, "stays"]
    assert not (workspace.datasets_dir / "gone").exists()
    with pytest.raises(WorkspaceError, match="no dataset named 'gone'"):
        workspace.entry("gone")
    with pytest.raises(WorkspaceError, match="no dataset named 'gone'"):
        workspace.remove("gone")


def test_save_roles(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.assign(truth=1 - binary_frame["label"])
    workspace.add(write_table(frame), name="remap")
    assert workspace.load("remap").schema.label == "label"
    entry = workspace.save_roles("remap", Roles(label="truth", task="binary"))
    assert entry.roles == Roles(label="truth", task="binary")
    assert workspace.load("remap").schema.label == "truth"
    meta = json.loads((entry.path.parent / "dataset.json").read_text())
    assert meta["roles"] == {"label": "truth", "task": "binary"}
    assert meta["rows"] == len(frame)  # the rest of dataset.json is kept


def test_save_invalid_roles_changes_nothing(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="strict")
    meta_path = workspace.datasets_dir / "strict" / "dataset.json"
    before = meta_path.read_bytes()
    with pytest.raises(SchemaError, match="label column 'nope' not found"):
        workspace.save_roles("strict", Roles(label="nope"))
    assert meta_path.read_bytes() == before
    assert tree(workspace.datasets_dir) == ["strict", "strict/data.csv", "strict/dataset.json"]


# --- model_path and broken metadata ---------------------------------------------------


def register_by_hand(ws: Workspace, name: str, meta: object, data: bytes = b"") -> Path:
    folder = ws.datasets_dir / name
    folder.mkdir(parents=True)
    if data:
        (folder / "data.csv").write_bytes(data)
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (folder / "dataset.json").write_text(text)
    return folder


@pytest.mark.parametrize(
    "model_file", ["../../etc/passwd", "/etc/passwd", "../other/model.joblib", "..", "link.joblib"]
)
def test_model_path_never_leaves_the_dataset_folder(
    workspace: Workspace, tmp_path: Path, model_file: str
) -> None:
    outside = tmp_path / "outside.joblib"
    outside.write_bytes(b"x")
    other = workspace.datasets_dir / "other"
    other.mkdir(parents=True)
    (other / "model.joblib").write_bytes(b"x")
    folder = register_by_hand(
        workspace, "evil", {"file": "data.csv", "roles": {"model": {"file": model_file}}}
    )
    os.symlink(outside, folder / "link.joblib")
    entry = workspace.entry("evil")
    assert entry.roles.model == ModelSpec(model_file)
    assert entry.model_path is None


def test_model_path_inside_the_folder(workspace: Workspace) -> None:
    folder = register_by_hand(
        workspace, "fine", {"file": "data.csv", "roles": {"model": {"file": "sub/m.joblib"}}}
    )
    (folder / "sub").mkdir()
    (folder / "sub" / "m.joblib").write_bytes(b"x")
    assert workspace.entry("fine").model_path == (folder / "sub" / "m.joblib").resolve()
    entry = DatasetEntry("x", folder / "data.csv", Roles(), builtin=False)
    assert entry.model_path is None


def test_file_in_metadata_cannot_escape(workspace: Workspace, tmp_path: Path) -> None:
    secret = workspace.datasets_dir / "secret.csv"
    secret.parent.mkdir(parents=True)
    secret.write_text("label,prediction\n1,1\n")
    register_by_hand(workspace, "sneaky", {"file": "../secret.csv", "roles": {}})
    entry = workspace.entry("sneaky")
    assert entry.path == workspace.datasets_dir / "sneaky" / "secret.csv"
    with pytest.raises(SchemaError, match="file not found"):
        workspace.load("sneaky")


@pytest.mark.parametrize(
    "meta",
    [
        "{not json",
        "[]",
        '"a string"',
        {"roles": {}},  # no file
        {"file": "data.csv", "roles": {"lable": "x"}},
        {"file": "data.csv", "roles": {"task": "ternary"}},
        {"file": "data.csv", "roles": {"image": "px_*"}},
        {"file": "data.csv", "roles": "label"},
    ],
    ids=[
        "bad json",
        "list",
        "string",
        "no file",
        "unknown role",
        "bad task",
        "bad image",
        "roles str",
    ],
)
def test_unreadable_dataset_json_does_not_break_listing(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    meta: object,
) -> None:
    workspace.add(write_table(binary_frame), name="good")
    register_by_hand(workspace, "broken", meta)
    assert workspace.names() == [*BUILTINS, "good"]
    with pytest.raises(WorkspaceError, match=r"'broken' has an unreadable dataset\.json"):
        workspace.entry("broken")


def test_invalid_binary_dataset_json(workspace: Workspace) -> None:
    folder = workspace.datasets_dir / "binary"
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_bytes(b"\xff\xfe\x00garbage")
    assert workspace.names() == BUILTINS


def test_stray_folders_are_ignored(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="real")
    for stray in (".real-staging", "UPPER", "no-meta"):
        (workspace.datasets_dir / stray).mkdir()
    (workspace.datasets_dir / "UPPER" / "dataset.json").write_text('{"file": "x.csv"}')
    (workspace.datasets_dir / "a-file").write_text("x")
    assert workspace.names() == [*BUILTINS, "real"]


# --- where the workspace is -----------------------------------------------------------


def test_environment_variable_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
) -> None:
    root = tmp_path / "from env"
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(root))
    ws = Workspace()
    assert ws.root == root.resolve()
    ws.add(write_table(binary_frame), name="envset")
    assert (root / "datasets" / "envset" / "dataset.json").is_file()
    assert "envset" in Workspace().names()
    assert Workspace(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()


def test_default_workspace_is_in_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLQA_DEBUG_WORKSPACE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Workspace().root == (tmp_path / ".mlqa-debug").resolve()


def test_cache_dir(workspace: Workspace) -> None:
    path = workspace.cache_dir("umap")
    assert path == workspace.root / "cache" / "umap" and path.is_dir()
    with pytest.raises(WorkspaceError):
        workspace.cache_dir("../escape")
