"""Nested Parquet values (lists, structs, maps) and the embedding list column.

A nested role column is a :class:`SchemaError` naming the file, column and rows; a
nested feature is left out with a warning; a ragged ``embedding`` column is refused
with its rows and lengths, a missing embedding row is a missing embedding. Every
entry point says so: ``load_predictions``, the workspace (the Data page's upload),
``validate``, ``check --junit`` (exit 2) and ``embed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlqa_debug import Roles, SchemaError, load_predictions
from mlqa_debug.analyses.embeddings import projection_input
from mlqa_debug.cli.main import main
from mlqa_debug.data.workspace import Workspace

N = 120  # rows of the conftest frames


def nested_array(kind: str, n: int = N) -> pa.Array:
    """``n`` nested values of ``kind``: lists, structs or maps."""
    if kind == "list":
        return pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int64()))
    if kind == "struct":
        return pa.array([{"a": i, "b": str(i)} for i in range(n)])
    return pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64()))


def write_parquet(path: Path, frame: pd.DataFrame, **columns: pa.Array) -> Path:
    """``frame`` as Parquet, with ``columns`` replaced or added as Arrow arrays."""
    table = pa.Table.from_pandas(frame.drop(columns=list(columns), errors="ignore"),
                                 preserve_index=False)  # fmt: skip
    for name, array in columns.items():
        table = table.append_column(name, array)
    pq.write_table(table, path)
    return path


# --- item 3: nested columns ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list", "struct", "map"])
def test_a_nested_feature_is_left_out_with_a_warning(
    binary_frame: pd.DataFrame, tmp_path: Path, kind: str
) -> None:
    path = write_parquet(tmp_path / "preds.parquet", binary_frame, tags=nested_array(kind))
    with pytest.warns(UserWarning, match=rf"left out of the features: 'tags' \({kind}\)"):
        p = load_predictions(path)
    assert p.schema.left_out == {"tags": kind}
    assert "tags" not in p.schema.features and len(p.schema.features) > 3
    assert {"column": "tags", "role": "left out (nested values)", "type": kind} in (
        p.schema.roles_table()
    )
    assert next(r for r in p.checks() if r.name == "nested_columns").status == "warn"
    assert p.error.shape == (N,)


def test_a_list_label_is_a_schema_error_naming_file_column_and_rows(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_parquet(tmp_path / "preds.parquet", binary_frame, label=nested_array("list"))
    with pytest.raises(SchemaError, match=r"^preds\.parquet: label column 'label' holds lists, "
                       r"not one value per row \(120 rows: rows 1, 2, 3, 4, 5, \.\.\.: \[0, 1\]"
                       ) as info:  # fmt: skip
        load_predictions(path)
    e = info.value
    assert (e.file, e.column, e.rows[:3]) == ("preds.parquet", "label", [0, 1, 2])
    assert e.expected == "one number or name per row" and e.received.startswith("list values")


@pytest.mark.parametrize(
    ("column", "roles", "role"),
    [
        ("id", Roles(), "id"),
        ("prediction", Roles(), "prediction"),
        ("score", Roles(), "score"),
        ("tags", Roles(types={"tags": "categorical"}), "feature (typed categorical)"),
    ],
)
def test_other_nested_role_columns_are_refused(
    binary_frame: pd.DataFrame, tmp_path: Path, column: str, roles: Roles, role: str
) -> None:
    path = write_parquet(
        tmp_path / "preds.parquet", binary_frame, **{column: nested_array("struct")}
    )
    with pytest.raises(SchemaError, match=rf"{re_escape(role)} column '{column}' holds structs"):
        load_predictions(path, roles=roles)


def re_escape(text: str) -> str:
    return text.replace("(", r"\(").replace(")", r"\)")


def test_the_upload_path_refuses_a_nested_label_and_keeps_nothing(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """The Data page's upload calls Workspace.add and shows its MlqaError (no traceback)."""
    path = write_parquet(tmp_path / "up.parquet", binary_frame, label=nested_array("struct"))
    ws = Workspace(tmp_path / "ws")
    with path.open("rb") as upload, pytest.raises(SchemaError, match="holds structs"):
        ws.add(upload, name="nested", filename="up.parquet")
    assert "nested" not in ws.names()
    ok = write_parquet(tmp_path / "ok.parquet", binary_frame, tags=nested_array("list"))
    with pytest.warns(UserWarning, match="left out"):
        assert ws.add(ok, name="ok").name == "ok"


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    cases = tmp_path / "cases"
    assert (
        main(["case", "add", "loans", "--cases", str(cases), "--name", "all", "--where", ""]) == 0
    )
    return cases


def test_check_junit_on_a_nested_label_exits_2_like_any_unreadable_predictions_file(
    binary_frame: pd.DataFrame,
    tmp_path: Path,
    library: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2 (bad input), not 1 (a regression); like a missing or garbled predictions
    file, no JUnit report is written: no case was checked."""
    path = write_parquet(tmp_path / "new.parquet", binary_frame, label=nested_array("list"))
    junit = tmp_path / "junit.xml"
    capsys.readouterr()
    assert main(["check", str(path), "--cases", str(library), "--junit", str(junit)]) == 2
    assert "new.parquet: label column 'label' holds lists" in capsys.readouterr().err
    assert not junit.exists()
    garbled = tmp_path / "garbled.parquet"
    garbled.write_bytes(b"not parquet")
    assert main(["check", str(garbled), "--cases", str(library), "--junit", str(junit)]) == 2
    assert not junit.exists()
    assert main(["validate", str(path)]) == 2


# --- item 4: the embedding list column -------------------------------------------------


def with_embedding(frame: pd.DataFrame, rows: list[Any]) -> pd.DataFrame:
    return frame.assign(embedding=pd.Series(rows, dtype=object))


def vectors(rng: np.random.Generator, dim: int = 5) -> list[Any]:
    return [list(v) for v in rng.normal(size=(N, dim))]


def test_a_ragged_embedding_is_a_schema_error_naming_rows_and_lengths(
    binary_frame: pd.DataFrame, write_table: Any, rng: np.random.Generator
) -> None:
    rows = vectors(rng)
    rows[3], rows[7] = rows[3][:3], rows[7][:3]
    path = write_table(with_embedding(binary_frame, rows), "preds.parquet")
    with pytest.raises(SchemaError, match=r"preds\.parquet: embedding column 'embedding' holds "
                       r"lists of different lengths \(3 on 2 rows, 5 on 118 rows\); rows 4, 8 "
                       r"differ from the usual 5: \[3, 3\]") as info:  # fmt: skip
        load_predictions(path)
    e = info.value
    assert (e.column, e.rows, e.expected, e.received) == ("embedding", [3, 7], 5, [3, 5])


def test_missing_embedding_rows_are_missing_embeddings(
    binary_frame: pd.DataFrame, write_table: Any, rng: np.random.Generator
) -> None:
    rows = vectors(rng)
    rows[2] = rows[9] = None
    path = write_table(with_embedding(binary_frame, rows), "preds.parquet")
    with pytest.warns(UserWarning, match=r"embedding column 'embedding' is missing on 2 rows "
                      r"\(rows 3, 10\)"):  # fmt: skip
        p = load_predictions(path)
    matrix = p.embedding_matrix
    assert matrix is not None and matrix.shape == (N, 5)
    assert np.isnan(matrix[[2, 9]]).all() and np.isfinite(np.delete(matrix, [2, 9], 0)).all()
    drawn = projection_input(p).matrix
    np.testing.assert_allclose(drawn[2], np.delete(matrix, [2, 9], 0).mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["[0.1, 0.2]"] * N, r"embedding column 'embedding' is not a list of numbers on 120 rows"),
        ([["a", "b"]] * N, r"holds values that are not numbers on 120 rows"),
        ([None] * N, r"embedding column 'embedding' has no values"),
    ],
)
def test_an_embedding_column_that_is_not_lists_of_numbers(
    binary_frame: pd.DataFrame, write_table: Any, rows: list[Any], message: str
) -> None:
    name = "preds.csv" if isinstance(rows[0], str) else "preds.parquet"
    path = write_table(with_embedding(binary_frame, rows), name)
    with pytest.raises(SchemaError, match=message):
        load_predictions(path)


def test_embed_command_on_a_ragged_and_on_a_gappy_embedding(
    binary_frame: pd.DataFrame,
    write_table: Any,
    rng: np.random.Generator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = vectors(rng)
    rows[5] = rows[5][:2]
    ragged = write_table(with_embedding(binary_frame, rows), "ragged.parquet")
    ws = str(tmp_path / "ws")
    assert main(["embed", str(ragged), "--method", "pca", "--workspace", ws]) == 2
    assert "embedding column 'embedding' holds lists of different lengths" in (
        capsys.readouterr().err
    )
    rows[5] = None
    gappy = write_table(with_embedding(binary_frame, rows), "gappy.parquet")
    with pytest.warns(UserWarning, match="is missing on 1 row"):
        assert main(["embed", str(gappy), "--method", "pca", "--workspace", ws]) == 0
    assert f"{N:,} of {N:,} rows" in capsys.readouterr().out
