"""Opening a table on an engine by name: ``numpy``, ``duckdb``, ``spark`` or ``auto``.

:func:`open_engine` is what ``slice --engine`` and ``check --engine`` call. The
target is a Parquet file, a directory of Parquet files (Hive ``key=value``
folders read as columns), a glob, or a CSV file (numpy and DuckDB). ``auto``
takes numpy when the table fits in memory and DuckDB when it does not
(:func:`~mlqa_debug.engines.source.choose_engine`); the numpy engine refuses a table
too large for memory before reading a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from mlqa_debug.data.predictions import Predictions, build_schema, load_predictions
from mlqa_debug.data.read import read_sidecar, sidecar_path
from mlqa_debug.data.schema import Roles
from mlqa_debug.engines.engine import Engine, NumpyEngine
from mlqa_debug.engines.source import (
    MEMORY_FACTOR,
    TableSource,
    available_memory,
    choose_engine,
    fits_in_memory,
    resolve_source,
)
from mlqa_debug.errors import SchemaError

__all__ = ["ENGINE_CHOICES", "EngineName", "open_engine", "read_numpy"]

EngineName = Literal["numpy", "duckdb", "spark", "auto"]
ENGINE_CHOICES: tuple[str, ...] = get_args(EngineName)


def _roles(source: TableSource, roles: Roles | None) -> Roles:
    """The sidecar's roles beside a single file, overridden by ``roles``."""
    base = Roles()
    if len(source.files) == 1:
        candidate = sidecar_path(Path(source.files[0]))
        if candidate.is_file():
            base = read_sidecar(candidate)
    return base.merged(roles or Roles())


def read_numpy(source: TableSource, roles: Roles | None = None) -> Predictions:
    """The table loaded in process; SchemaError before reading if it would not fit in memory."""
    if not fits_in_memory(source):
        need = source.memory_bytes * MEMORY_FACTOR
        raise SchemaError(
            f"the table ({source.n_rows or 0:,} rows) would take about {need / 2**30:.1f} GB "
            f"in memory to load, over the {available_memory() / 2**30:.1f} GB available: "
            "use --engine duckdb (or auto)",
            file=source.display,
            expected=f"at most {available_memory():,} bytes",
            received=int(need),
        )
    if len(source.files) == 1 and not source.hive:
        return load_predictions(Path(source.files[0]), roles=roles)
    import pyarrow.dataset as ds

    dataset = ds.dataset(
        list(source.files),
        format="parquet",
        partitioning="hive" if source.hive else None,
        partition_base_dir=source.base,
    )
    table = dataset.to_table().cast(source.schema)
    frame = table.to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    schema, results = build_schema(frame, _roles(source, roles), file=source.display)
    notes = tuple(f"{source.display}: {r.message}" for r in results if r.status == "warn")
    return Predictions(frame, schema, source.fingerprint, source.display, notes, results)


def open_engine(
    target: str,
    engine: EngineName = "numpy",
    *,
    roles: Roles | None = None,
    spark_master: str | None = None,
) -> Engine:
    """The table at ``target`` on ``engine``; SchemaError naming the file if it is unusable."""
    if engine not in ENGINE_CHOICES:
        raise SchemaError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINE_CHOICES)}")
    source = resolve_source(target)
    chosen = choose_engine(source) if engine == "auto" else engine
    if chosen == "numpy":
        return NumpyEngine(read_numpy(source, roles))
    merged = _roles(source, roles)
    if chosen == "duckdb":
        from mlqa_debug.engines.duckdb_engine import open_duckdb

        return open_duckdb(source, merged)
    from mlqa_debug.engines.spark_engine import open_spark, spark_session

    return open_spark(source, merged, session=spark_session(spark_master))
