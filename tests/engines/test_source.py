"""Inputs of the engines: Parquet directories with Hive partitions, globs, CSV, ``auto``.

The schema and sizes come from the files' metadata; partition folders become
columns typed as pyarrow infers them, on every engine alike; ``auto`` picks DuckDB
only when the table would not fit in memory, and the numpy engine refuses such a
table before reading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlqa_debug.engines import choose_engine, open_engine, registry, resolve_source, source
from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing import parse_slice
from tests.engines.conftest import ENGINES, binary_frame
from tests.engines.test_aggregates import assert_reports_equal


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The binary table in ``region=<text>/month=<int>`` folders (4 of them), two files each."""
    root = tmp_path_factory.mktemp("hive") / "logs"
    frame = binary_frame(seed=5, n=400)
    frame["region"] = ["north", "south"] * 200
    frame["month"] = [1, 2, 3, 4] * 100
    for (region, month), part in frame.groupby(["region", "month"]):
        folder = root / f"region={region}" / f"month={month}"
        folder.mkdir(parents=True)
        half = len(part) // 2
        part.iloc[:half].drop(columns=["region", "month"]).to_parquet(folder / "a.parquet")
        part.iloc[half:].drop(columns=["region", "month"]).to_parquet(folder / "b.parquet")
    return root


SLICES = ["region == 'north'", "month >= 3", "month in (1, 4) and region != 'south'", ""]


def test_a_hive_directory_reads_partitions_as_columns(partitioned: Path) -> None:
    src = resolve_source(partitioned)
    assert src.hive and len(src.files) == 8 and src.n_rows == 400
    assert src.partition_columns == ["region", "month"]
    assert str(src.schema.field("month").type) == "int32"
    numpy_engine = open_engine(str(partitioned), "numpy")
    assert numpy_engine.column_kinds["month"] == "numeric"
    assert numpy_engine.column_kinds["region"] == "categorical"


@pytest.mark.parametrize("engine_name", ENGINES)
def test_partitions_and_globs_give_the_numpy_numbers(
    engine_name: str, partitioned: Path, open_on: Any
) -> None:
    slices = [parse_slice(t) for t in SLICES]
    reference = open_engine(str(partitioned), "numpy").slice_reports(slices)
    for target in (partitioned, f"{partitioned}/region=*/month=*/*.parquet"):
        engine = open_on(target, engine_name)
        for got, expected in zip(engine.slice_reports(slices), reference, strict=True):
            assert_reports_equal(got, expected)
        assert reference[0].slice.n == 200


def test_a_glob_of_some_partitions(partitioned: Path, open_on: Any) -> None:
    engine = open_on(f"{partitioned}/region=north/*/*.parquet", "duckdb")
    assert engine.n_rows == 200
    (report,) = engine.slice_reports([parse_slice("region == 'north'")])
    assert report.slice.n == 200 and report.rest.n == 0


def test_csv_on_duckdb_matches_numpy(tmp_path: Path, open_on: Any) -> None:
    frame = binary_frame(seed=6, n=200).drop(columns=["seen at", "it's flagged"])
    path = tmp_path / "preds.csv"
    frame.to_csv(path, index=False)
    slices = [parse_slice("`âge (years)` > 35"), parse_slice("error == true")]
    reference = open_engine(str(path), "numpy").slice_reports(slices)
    for got, expected in zip(open_on(path, "duckdb").slice_reports(slices), reference, strict=True):
        assert_reports_equal(got, expected)


def test_auto_takes_duckdb_only_when_the_table_does_not_fit(tables: dict[str, Path]) -> None:
    src = resolve_source(tables["binary"])
    assert choose_engine(src, memory=10 * 2**30) == "numpy"
    assert choose_engine(src, memory=src.memory_bytes) == "duckdb"


def test_numpy_refuses_a_table_too_large_before_reading_it(
    tables: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "available_memory", lambda: 1000)
    monkeypatch.setattr(registry, "available_memory", lambda: 1000)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rows were read")

    monkeypatch.setattr(registry, "load_predictions", never)
    with pytest.raises(
        SchemaError,
        match=r"binary.parquet: the table \(300 rows\) would take .* GB .*: use --engine duckdb",
    ):
        open_engine(str(tables["binary"]), "numpy")
    assert open_engine(str(tables["binary"]), "auto").name == "duckdb"


def test_bad_targets_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        resolve_source(tmp_path / "nope.parquet")
    with pytest.raises(SchemaError, match="no file matches"):
        resolve_source(f"{tmp_path}/*.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SchemaError, match=r"no \.parquet or \.csv file"):
        resolve_source(tmp_path / "empty")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match="cannot read the Parquet metadata"):
        resolve_source(tmp_path / "bad.parquet")
