"""The load cache: a hit is the table a fresh load gives; any change to the file misses."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlqa_debug import Roles, SchemaError
from mlqa_debug.data import load_cache, predictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import ImageSpec, ModelSpec
from mlqa_debug.data.workspace import Workspace
from tests.conftest import WriteTable


class Spy:
    """Counts the calls of the parser (``read_table``) and the validator (``build_schema``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        self.validations = 0
        read, build = predictions.read_table, predictions.build_schema

        def counting_read(*args: object, **kwargs: object) -> object:
            self.reads += 1
            return read(*args, **kwargs)  # type: ignore[arg-type]

        def counting_build(*args: object, **kwargs: object) -> object:
            self.validations += 1
            return build(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(predictions, "read_table", counting_read)
        monkeypatch.setattr(predictions, "build_schema", counting_build)

    def reset(self) -> None:
        """Forget the calls so far (those of registering the dataset)."""
        self.reads = self.validations = 0


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are seconds old at most: store them all the same."""
    monkeypatch.setattr(load_cache, "RACY_SECONDS", 0.0)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


def add(workspace: Workspace, path: Path, name: str = "preds") -> Path:
    """Register ``path`` as ``name``; the registered copy's path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return workspace.add(path, name=name).path


def load(workspace: Workspace, name: str = "preds", **kwargs: object) -> Predictions:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return workspace.load(name, **kwargs)  # type: ignore[arg-type]


def entries(workspace: Workspace) -> list[str]:
    folder = workspace.root / "cache" / "loads"
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


def assert_same(got: Predictions, want: Predictions) -> None:
    """Everything a caller can see of a table is the same."""
    assert got.frame.equals(want.frame)
    assert got.frame.dtypes.to_dict() == want.frame.dtypes.to_dict()
    assert got.frame.index.equals(want.frame.index)
    assert list(got.frame.columns) == list(want.frame.columns)
    assert got.schema == want.schema
    assert list(got.schema.features) == list(want.schema.features)
    assert got.fingerprint == want.fingerprint
    assert got.source == want.source
    assert got.warnings == want.warnings
    assert got.check_results == want.check_results
    assert got.summary() == want.summary()
    np.testing.assert_array_equal(got.error, want.error)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("kind", ["binary_frame", "multiclass_frame", "regression_frame"])
def test_a_hit_is_the_table_a_fresh_load_gives(
    workspace: Workspace,
    write_table: WriteTable,
    spy: Spy,
    request: pytest.FixtureRequest,
    kind: str,
    suffix: str,
) -> None:
    add(workspace, write_table(request.getfixturevalue(kind), f"t{suffix}"))
    spy.reset()
    fresh = load(workspace)
    first = load(workspace, cache=True)
    reads = spy.reads
    hit = load(workspace, cache=True)
    assert (spy.reads, spy.validations) == (reads, reads)  # neither parsed nor validated
    assert_same(first, fresh)
    assert_same(hit, fresh)
    assert any(isinstance(d, pd.CategoricalDtype) for d in hit.frame.dtypes)
    assert any(str(d) == "str" for d in hit.frame.dtypes)  # Arrow-backed strings stay so


def test_nested_and_nullable_columns_come_back_as_they_were(
    workspace: Workspace, write_table: WriteTable, multiclass_frame: pd.DataFrame, spy: Spy
) -> None:
    n = len(multiclass_frame)
    multiclass_frame["embedding"] = np.random.default_rng(0).normal(size=(n, 3)).tolist()
    multiclass_frame["maybe"] = pd.array([True, None, False] * (n // 3), dtype="boolean")
    multiclass_frame["count"] = pd.array([1, None, 3] * (n // 3), dtype="Int64")
    multiclass_frame["struct"] = [{"a": i} for i in range(n)]
    add(workspace, write_table(multiclass_frame, "nested.parquet"))
    spy.reset()
    fresh = load(workspace)
    load(workspace, cache=True)
    hit = load(workspace, cache=True)
    assert spy.reads == 2
    assert_same(hit, fresh)
    np.testing.assert_array_equal(hit.embedding_matrix, fresh.embedding_matrix)


def _direct_entry(tmp_path: Path, frame: pd.DataFrame) -> tuple[Predictions, Any]:
    """A table validated in memory and the cache entry of a stand-in file."""
    schema, results = predictions.build_schema(frame, Roles())
    table = Predictions(frame, schema, "f" * 32, "t.parquet", (), results)
    path = tmp_path / "t.parquet"
    path.write_bytes(b"stands for the file")
    return table, load_cache._Entry(tmp_path, "t", load_cache.FileIdentity.of(path), Roles())


def test_arrow_dtype_columns_come_back_as_arrow_dtypes(
    tmp_path: Path, multiclass_frame: pd.DataFrame
) -> None:
    """Stored and read directly: ``read_table`` itself cannot read such a Parquet file yet."""
    n = len(multiclass_frame)
    vectors = np.random.default_rng(0).normal(size=(n, 3)).tolist()
    multiclass_frame["embedding"] = pd.array(vectors, dtype=pd.ArrowDtype(pa.list_(pa.float64())))
    multiclass_frame["x"] = pd.array(np.arange(n) / 2, dtype=pd.ArrowDtype(pa.float32()))
    table, entry = _direct_entry(tmp_path, multiclass_frame)
    entry.write(table)
    back = entry.read()
    assert back is not None
    assert isinstance(back.frame["embedding"].dtype, pd.ArrowDtype)
    assert_same(back, table)


def test_what_arrow_would_change_is_not_stored(
    tmp_path: Path, multiclass_frame: pd.DataFrame
) -> None:
    """Categories of ``pd.ArrowDtype`` strings would come back as ``str``: no entry."""
    tags = pd.array(["x", None] * (len(multiclass_frame) // 2), dtype=pd.ArrowDtype(pa.string()))
    multiclass_frame["tag"] = pd.Series(tags).astype("category")
    table, entry = _direct_entry(tmp_path, multiclass_frame)
    entry.write(table)
    assert entry.read() is None
    assert list(tmp_path.glob("t.*.arrow")) == list(tmp_path.glob("t.*.json")) == []


def test_a_hit_issues_the_warnings_of_a_fresh_load(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame, spy: Spy
) -> None:
    binary_frame.loc[:4, "prediction"] = 7  # a class no label has: a warning
    add(workspace, write_table(binary_frame))
    spy.reset()
    with pytest.warns(UserWarning) as fresh:
        workspace.load("preds", cache=True)
    with pytest.warns(UserWarning) as hit:
        workspace.load("preds", cache=True)
    assert spy.reads == 1
    assert [str(w.message) for w in hit] == [str(w.message) for w in fresh]
    assert any("no label has" in str(w.message) for w in hit)


def test_touching_the_file_misses_and_drops_the_old_entry(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame, spy: Spy
) -> None:
    path = add(workspace, write_table(binary_frame))
    spy.reset()
    load(workspace, cache=True)
    before = entries(workspace)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))  # same size, new mtime
    load(workspace, cache=True)
    assert spy.reads == 2
    after = entries(workspace)
    assert len(before) == len(after) == 1 and before != after
    load(workspace, cache=True)
    assert spy.reads == 2


def test_rewriting_in_place_misses_even_with_the_old_mtime(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame, spy: Spy
) -> None:
    path = add(workspace, write_table(binary_frame))
    spy.reset()
    old = load(workspace, cache=True)
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    label = binary_frame.columns.get_loc("label")
    lines = text.splitlines(keepends=True)
    cells = lines[1].split(",")
    cells[label] = "1" if cells[label] == "0" else "0"  # same length, another label
    lines[1] = ",".join(cells)
    with path.open("r+", encoding="utf-8") as handle:  # same inode, same size
        handle.write("".join(lines))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the mtime put back
    assert path.stat().st_size == st.st_size and path.stat().st_ino == st.st_ino
    new = load(workspace, cache=True)
    assert spy.reads == 2
    assert new.fingerprint != old.fingerprint
    assert new.frame["label"].iloc[0] != old.frame["label"].iloc[0]
    assert_same(new, load(workspace))


def test_other_roles_miss_and_each_is_kept(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame, spy: Spy
) -> None:
    add(workspace, write_table(binary_frame))
    spy.reset()
    default = load(workspace, cache=True)
    other = load(workspace, cache=True, roles=Roles(positive=0))
    assert spy.reads == 2
    assert (default.schema.positive, other.schema.positive) == (1, 0)
    assert_same(load(workspace, cache=True), default)
    assert_same(load(workspace, cache=True, roles=Roles(positive=0)), other)
    assert spy.reads == 2  # both hit
    assert len(entries(workspace)) == 2


def test_entries_per_dataset_are_bounded(
    workspace: Workspace, write_table: WriteTable, regression_frame: pd.DataFrame
) -> None:
    add(workspace, write_table(regression_frame))
    add(workspace, write_table(regression_frame, "other.csv"), name="other")
    load(workspace, "other", cache=True)
    for threshold in range(1, load_cache.KEEP_PER_DATASET + 3):
        load(workspace, cache=True, roles=Roles(error_threshold=float(threshold)))
    mine = [e for e in entries(workspace) if e.startswith("preds.")]
    assert len(mine) == load_cache.KEEP_PER_DATASET
    assert len([e for e in entries(workspace) if e.startswith("other.")]) == 1
    tables = sorted(p.stem for p in (workspace.root / "cache" / "loads").glob("*.arrow"))
    assert tables == [e.removesuffix(".json") for e in entries(workspace)]  # no orphans


def test_old_leftovers_of_dead_writers_are_removed(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    add(workspace, write_table(binary_frame))
    folder = workspace.root / "cache" / "loads"
    folder.mkdir(parents=True)
    old_orphan, old_tmp, young_tmp = (
        folder / n for n in ("preds.a.b.arrow", ".preds.c.tmp", ".preds.d.tmp")
    )
    for path in (old_orphan, old_tmp, young_tmp):
        path.write_bytes(b"left over")
    for path in (old_orphan, old_tmp):
        os.utime(path, (time.time() - 2 * load_cache._STALE_SECONDS,) * 2)
    load(workspace, cache=True)
    assert not old_orphan.exists() and not old_tmp.exists()
    assert young_tmp.exists()  # perhaps a write under way


def test_removing_a_dataset_removes_its_entries(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    add(workspace, write_table(binary_frame))
    add(workspace, write_table(binary_frame, "other.csv"), name="preds2")
    load(workspace, cache=True)
    load(workspace, "preds2", cache=True)
    workspace.remove("preds")
    folder = workspace.root / "cache" / "loads"
    assert sorted(p.name.split(".")[0] for p in folder.iterdir()) == ["preds2", "preds2"]


def _truncate_table(entry: Path) -> None:
    table = entry.with_suffix(".arrow")
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])


def _bad_json(entry: Path) -> None:
    entry.write_text('{"key": ', encoding="utf-8")


def _wrong_schema(entry: Path) -> None:
    meta = json.loads(entry.read_text(encoding="utf-8"))
    meta["schema"] = {"dc": "Schema", "v": {"label": {"x": 1}}}
    entry.write_text(json.dumps(meta), encoding="utf-8")


def _table_missing(entry: Path) -> None:
    entry.with_suffix(".arrow").unlink()


def _other_table(entry: Path) -> None:
    """The table of another entry under this entry's name: its key does not match."""
    meta = json.loads(entry.read_text(encoding="utf-8"))
    meta["key"] = "0" * 24
    entry.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(
    "damage", [_truncate_table, _bad_json, _wrong_schema, _table_missing, _other_table]
)
def test_a_damaged_entry_is_reloaded_and_rewritten(
    workspace: Workspace,
    write_table: WriteTable,
    multiclass_frame: pd.DataFrame,
    spy: Spy,
    damage: object,
) -> None:
    add(workspace, write_table(multiclass_frame))
    spy.reset()
    load(workspace, cache=True)
    (entry,) = (workspace.root / "cache" / "loads").glob("*.json")
    damage(entry)  # type: ignore[operator]
    reloaded = load(workspace, cache=True)
    assert spy.reads == 2
    assert_same(reloaded, load(workspace))
    assert_same(load(workspace, cache=True), reloaded)
    assert spy.reads == 3  # the rewritten entry hits (the fresh reference load read once)


def test_a_file_changed_just_now_is_not_stored(
    workspace: Workspace,
    write_table: WriteTable,
    binary_frame: pd.DataFrame,
    spy: Spy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(load_cache, "RACY_SECONDS", 3600.0)
    add(workspace, write_table(binary_frame))
    spy.reset()
    load(workspace, cache=True)
    load(workspace, cache=True)
    assert spy.reads == 2
    assert entries(workspace) == []


def test_a_hit_still_obeys_the_size_cap(
    workspace: Workspace,
    write_table: WriteTable,
    binary_frame: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add(workspace, write_table(binary_frame))
    load(workspace, cache=True)
    monkeypatch.setenv("MLQA_DEBUG_MAX_FILE_MB", "0.001")
    with pytest.raises(SchemaError, match="over the"):
        load(workspace, cache=True)


def test_builtin_samples_and_plain_loads_are_not_cached(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    load(workspace, "loans", cache=True)
    add(workspace, write_table(binary_frame))
    load(workspace)
    assert not (workspace.root / "cache" / "loads").exists()


def test_a_cache_folder_that_cannot_be_made_is_not_fatal(
    workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame, spy: Spy
) -> None:
    add(workspace, write_table(binary_frame))
    spy.reset()
    (workspace.root / "cache").mkdir()
    (workspace.root / "cache" / "loads").write_text("not a folder", encoding="utf-8")
    assert_same(load(workspace, cache=True), load(workspace))


@pytest.mark.parametrize(
    "value",
    [
        1,
        1.0,
        True,
        "1",
        None,
        float("nan"),
        (1, "a", (2.5, False)),
        [1, [2]],
        {1: "prob_1", "1": "x", (1, 2): None},
        ImageSpec(("a", "b"), (1, 2)),
        ModelSpec("m.joblib", version="3"),
        Roles(positive=1, types={"a": "text"}, embedding=("e",)),
    ],
)
def test_the_codec_keeps_values_and_their_types(value: object) -> None:
    back = load_cache._decode(json.loads(json.dumps(load_cache._encode(value))))
    if isinstance(value, float) and np.isnan(value):
        assert isinstance(back, float) and np.isnan(back)
        return
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, tuple | list | dict):
        assert repr(back) == repr(value)


def test_the_codec_refuses_what_it_cannot_keep() -> None:
    with pytest.raises(TypeError):
        load_cache._encode(pd.Timestamp("2024-01-01"))
