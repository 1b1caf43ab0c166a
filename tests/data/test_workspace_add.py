"""Adding to the workspace when things go wrong: races, failed renames, junk, the quota.

Issue 11: two adds of one name at once (the loser is told, the winner kept), an
overwrite whose rename fails (the old dataset restored), an upload staged on disk
and let go when refused, the workspace quota, and the Data page's words for each.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import SchemaError, WorkspaceError
from mlqa_debug.data import workspace as workspace_module
from mlqa_debug.data.read import RawTable
from mlqa_debug.data.workspace import (
    DEFAULT_QUOTA_BYTES,
    ENV_QUOTA,
    DatasetExistsError,
    QuotaExceededError,
    Workspace,
    format_bytes,
)
from mlqa_debug.ui.widgets import upload_error_text
from tests.conftest import WriteTable
from tests.test_workspace import BUILTINS, tree

REPO = Path(__file__).resolve().parents[2]


# --- two adds at once, and a failed overwrite (issue 11, items 6 and 13) -----------------


def register_meanwhile(
    monkeypatch: pytest.MonkeyPatch, ws: Workspace, source: Path, *, name: str
) -> list[str]:
    """While ``ws.add`` validates its file, another add registers ``source`` as ``name``.

    Returns the fingerprints the competing add registered (one, once it ran).
    """
    validate = workspace_module.load_predictions
    registered: list[str] = []

    def validate_while_another_adds(*args: Any, **kwargs: Any) -> Any:
        if not registered:
            registered.append("pending")  # the competitor's own validation runs undisturbed
            other = Workspace(ws.root)
            other.add(source, name=name)
            registered[0] = other.load(name).fingerprint
        return validate(*args, **kwargs)

    monkeypatch.setattr(workspace_module, "load_predictions", validate_while_another_adds)
    return registered


def test_add_that_loses_a_race_says_so_and_keeps_the_winner(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    write_table: WriteTable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = register_meanwhile(
        monkeypatch, workspace, write_table(regression_frame, "winner.csv"), name="same"
    )
    upload = io.BytesIO(binary_frame.to_csv(index=False).encode())  # the Data page's path
    upload.name = "loser.csv"
    with pytest.raises(DatasetExistsError) as raised:
        workspace.add(upload, name="same", filename=upload.name)
    assert isinstance(raised.value, WorkspaceError)  # the Data page shows it, no traceback
    assert raised.value.raced and raised.value.name == "same"
    assert str(raised.value) == (
        "another add registered a dataset named 'same' while this one was running; "
        "that one is kept and this file was not registered; "
        "choose another name, or pass overwrite=True to replace it"
    )
    assert workspace.load("same").fingerprint == winner[0]
    assert workspace.load("same").task == "regression"
    assert tree(workspace.datasets_dir) == ["same", "same/data.csv", "same/dataset.json"]


def test_existing_name_message_names_the_python_argument(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="taken")
    with pytest.raises(DatasetExistsError) as raised:
        workspace.add(write_table(binary_frame), name="taken")
    assert not raised.value.raced
    assert raised.value.fact == "a dataset named 'taken' exists"
    assert str(raised.value) == (
        "a dataset named 'taken' exists; choose another name, or pass overwrite=True to replace it"
    )


@pytest.mark.parametrize("fails", ["new into place", "old back too"])
def test_overwrite_whose_rename_fails_keeps_the_old_dataset(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    write_table: WriteTable,
    monkeypatch: pytest.MonkeyPatch,
    fails: str,
) -> None:
    workspace.add(write_table(binary_frame), name="keep")
    before = tree(workspace.root)
    old = workspace.load("keep").fingerprint
    rename = Path.rename

    def failing_rename(self: Path, target: str | os.PathLike[str]) -> Path:
        staged = self.name.startswith(".keep-") and not self.name.startswith(".keep-old-")
        moving_back = self.parent.name.startswith(".keep-old-")
        if staged or (fails == "old back too" and moving_back):
            raise OSError(errno.EIO, "Input/output error")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError, match="Input/output error") as raised:
        workspace.add(write_table(regression_frame, "new.csv"), name="keep", overwrite=True)
    monkeypatch.undo()
    if fails == "new into place":  # the registered dataset is back where it was
        assert tree(workspace.root) == before
        assert workspace.load("keep").fingerprint == old
    else:  # it cannot go back: kept aside, and the error says where
        aside = [p for p in workspace.datasets_dir.iterdir() if p.name.startswith(".keep-old-")]
        assert len(aside) == 1
        assert Workspace(workspace.root).names() == BUILTINS  # not served half-replaced
        assert f"of 'keep' could not be moved back and are in {str(aside[0] / 'keep')!r}" in str(
            raised.value
        )
        assert tree(aside[0] / "keep") == ["data.csv", "dataset.json"]


def test_overwrite_that_another_overwrite_beats_keeps_the_winner(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    multiclass_frame: pd.DataFrame,
    write_table: WriteTable,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    workspace.add(write_table(binary_frame), name="both")
    elsewhere = Workspace(tmp_path / "elsewhere")
    elsewhere.add(write_table(multiclass_frame, "winner.csv"), name="both")
    rename = Path.rename

    def another_overwrite_first(self: Path, target: str | os.PathLike[str]) -> Path:
        if self.name.startswith(".both-") and not self.name.startswith(".both-old-"):
            shutil.copytree(elsewhere.datasets_dir / "both", workspace.datasets_dir / "both")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", another_overwrite_first)
    with pytest.raises(DatasetExistsError, match="another add registered a dataset named 'both'"):
        workspace.add(write_table(regression_frame, "late.csv"), name="both", overwrite=True)
    monkeypatch.undo()
    assert workspace.load("both").task == "multiclass"  # the winner's, whole
    assert tree(workspace.datasets_dir) == ["both", "both/data.csv", "both/dataset.json"]


# --- uploads are staged on disk; a refused one is let go (issue 11, item 10) ---------------


def random_text(n_bytes: int, seed: int = 0) -> bytes:
    """Printable junk with spaces and line breaks: what a wrong file looks like."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789 \n", dtype=np.uint8)
    return rng.choice(alphabet, n_bytes).tobytes()


def test_an_upload_is_validated_from_a_staged_copy(
    workspace: Workspace, binary_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate = workspace_module.load_predictions
    read_from: list[object] = []

    def recording(source: object, **kwargs: Any) -> Any:
        read_from.append(source)
        return validate(source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace_module, "load_predictions", recording)
    upload = io.BytesIO(binary_frame.to_csv(index=False).encode())
    upload.name = "up.csv"
    entry = workspace.add(upload, name="staged", filename=upload.name)
    [source] = read_from
    assert isinstance(source, Path) and source.name == "data.csv"
    assert source.parent.parent == workspace.datasets_dir
    assert source.parent.name.startswith(".staged-")  # the staging folder, renamed since
    assert entry.path.read_bytes() == upload.getvalue()


def refuse(ws: Workspace, upload: io.BytesIO) -> SchemaError:
    """The error ``ws.add`` raises for ``upload`` (caught here, so no test frame holds it)."""
    try:
        ws.add(upload, name="junk", filename=upload.name)
    except SchemaError as e:
        return e
    raise AssertionError("the upload was registered")


def frames_of(error: BaseException) -> list[Any]:
    """Every frame in the tracebacks of ``error`` and of the errors it chains."""
    frames, stack, seen = [], [error], set()
    while stack:
        e = stack.pop()
        if id(e) not in seen:
            seen.add(id(e))
            tb = e.__traceback__
            while tb is not None:
                frames.append(tb.tb_frame)
                tb = tb.tb_next
            stack += [c for c in (e.__cause__, e.__context__) if c is not None]
    return frames


def test_a_refused_upload_leaves_no_file_and_keeps_no_bytes(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="already")
    before = tree(workspace.root)
    upload = io.BytesIO(random_text(300_000))
    upload.name = "junk.csv"
    error = refuse(workspace, upload)
    assert "junk.csv: " in str(error)
    assert tree(workspace.root) == before  # no staging folder, no temporary file
    assert workspace.names() == [*BUILTINS, "already"]
    held = [  # the file's bytes, or a table parsed from them, kept alive by the error
        type(value).__name__
        for frame in frames_of(error)
        for value in frame.f_locals.values()
        if isinstance(value, bytes | pd.DataFrame | RawTable)
    ]
    assert held == []


# --- quota (issue 11, serving a team) -------------------------------------------------------


class Stream(io.RawIOBase):
    """A binary stream that cannot seek: its length is unknown until it is read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.name = "stream.csv"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


def test_default_quota_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_QUOTA, raising=False)
    assert DEFAULT_QUOTA_BYTES == 10 * 2**30
    assert Workspace(tmp_path).quota_bytes == DEFAULT_QUOTA_BYTES
    monkeypatch.setenv(ENV_QUOTA, "5e6")
    assert Workspace(tmp_path).quota_bytes == 5_000_000
    assert Workspace(tmp_path, quota_bytes=123).quota_bytes == 123  # the constructor wins
    with pytest.raises(WorkspaceError, match="quota_bytes=-1 is negative"):
        Workspace(tmp_path, quota_bytes=-1)


@pytest.mark.parametrize("raw", ["lots", "-5", "nan", "inf"])
def test_an_unusable_quota_setting_is_named(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    monkeypatch: pytest.MonkeyPatch,
    raw: str,
) -> None:
    monkeypatch.setenv(ENV_QUOTA, raw)
    assert workspace.names() == BUILTINS  # only adding reads it
    with pytest.raises(WorkspaceError, match=rf"MLQA_DEBUG_QUOTA_BYTES='{raw}' is not a number"):
        workspace.add(write_table(binary_frame), name="q")
    assert tree(workspace.root) == []


def test_an_upload_over_the_quota_is_refused_with_the_figures(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="first")
    used = workspace.used_bytes()
    assert used == sum(p.stat().st_size for p in (workspace.datasets_dir / "first").iterdir())
    content = binary_frame.to_csv(index=False).encode()
    tight = Workspace(workspace.root, quota_bytes=used + len(content) - 1)
    before = tree(workspace.root)
    upload = io.BytesIO(content)
    upload.name = "second.csv"
    with pytest.raises(QuotaExceededError) as raised:
        tight.add(upload, name="second", filename=upload.name)
    e = raised.value
    assert (e.used, e.quota, e.size) == (used, used + len(content) - 1, len(content))
    assert str(e) == (
        f"the file ({format_bytes(len(content))}) does not fit in the workspace quota: "
        f"its datasets use {format_bytes(used)} of {format_bytes(used + len(content) - 1)} "
        f"({format_bytes(len(content) - 1)} free); set MLQA_DEBUG_QUOTA_BYTES to raise the quota"
    )
    assert tree(workspace.root) == before
    roomy = Workspace(workspace.root, quota_bytes=used + len(content))  # exactly full is fine
    upload.seek(0)
    assert roomy.add(upload, name="second", filename=upload.name).name == "second"


def test_a_stream_over_the_quota_is_read_only_until_it_goes_over(
    workspace: Workspace, binary_frame: pd.DataFrame
) -> None:
    content = binary_frame.to_csv(index=False).encode()
    stream = Stream(content)
    tight = Workspace(workspace.root, quota_bytes=1000)
    with pytest.raises(QuotaExceededError, match=r"the file \(over 1000 bytes\) does not fit") as e:
        tight.add(stream, name="streamed", filename=stream.name)  # type: ignore[arg-type]
    assert e.value.size is None
    assert stream._data.tell() == 1001  # read one byte past the limit, no more
    assert tree(workspace.root) == []
    entry = Workspace(workspace.root).add(Stream(content), name="streamed")  # type: ignore[arg-type]
    assert entry.path.read_bytes() == content


def test_an_overwrite_counts_the_size_it_replaces(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    source = write_table(binary_frame)
    workspace.add(source, name="again")
    full = Workspace(workspace.root, quota_bytes=workspace.used_bytes())
    assert full.add(source, name="again", overwrite=True).name == "again"
    with pytest.raises(QuotaExceededError):
        full.add(source, name="other")


# --- the Data page's words for the same refusals (issue 11, item 13) -------------------------


def test_upload_messages_fit_the_data_page() -> None:
    exists = upload_error_text(DatasetExistsError("mine"))
    assert exists == "a dataset named 'mine' exists; type another name under Dataset name"
    raced = upload_error_text(DatasetExistsError("mine", raced=True))
    assert raced.startswith("another add registered a dataset named 'mine' while")
    full = upload_error_text(QuotaExceededError(used=9 * 2**30, quota=10 * 2**30, size=2**31))
    assert full == (
        "the file (2.0 GB) does not fit in the workspace quota: its datasets use 9.0 GB of "
        "10.0 GB (1.0 GB free); ask whoever runs this server to remove datasets or raise the quota"
    )
    for text in (exists, raced, full):
        assert "overwrite" not in text and "MLQA_DEBUG" not in text
    assert upload_error_text(SchemaError("no label column", file="x.csv")) == (
        "x.csv: no label column"
    )


def test_data_page_upload_with_a_taken_name(
    workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="taken")
    at = AppTest.from_file(str(REPO / "pages" / "data.py"), default_timeout=60).run()
    content = binary_frame.to_csv(index=False).encode()
    at.file_uploader(key="upload_file").set_value(("taken.csv", content, "text/csv")).run()
    at.button(key="upload_register").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "a dataset named 'taken' exists; type another name under Dataset name"
    ]
    assert at.file_uploader(key="upload_file") is not None  # the file stays for another name


def test_data_page_lets_a_refused_upload_go(workspace: Workspace) -> None:
    at = AppTest.from_file(str(REPO / "pages" / "data.py"), default_timeout=60).run()
    junk = random_text(50_000)
    at.file_uploader(key="upload_file").set_value(("junk.csv", junk, "text/csv")).run()
    at.button(key="upload_register").click().run()
    assert not at.exception
    [message] = [e.value for e in at.error]
    assert "junk" in message and "no label column" in message
    with pytest.raises(KeyError):  # the uploader holding the refused file is gone ...
        at.file_uploader(key="upload_file")
    assert at.file_uploader(key="upload_file_1").value is None  # ... for an empty one
    assert not workspace.datasets_dir.exists() or list(workspace.datasets_dir.iterdir()) == []
