"""The DuckDB backend: out of core on one machine, over Parquet files, directories, globs and CSV.

Expressions are DuckDB's own objects (``ColumnExpression`` quotes any name,
``ConstantExpression`` holds any value); the table is a relation over
``read_parquet`` (Hive partitions as columns, typed as pyarrow infers them, see
:mod:`.source`) or ``read_csv``. DuckDB spills to disk beyond its memory limit;
``MLQA_DUCKDB_MEMORY`` (e.g. ``2GB``) caps it and ``MLQA_DUCKDB_THREADS`` sets its
threads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
from duckdb import CaseExpression, ColumnExpression, ConstantExpression, FunctionExpression

from mlqa_debug.data.schema import Roles
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.engines.source import TableSource
from mlqa_debug.engines.table import resolve_table
from mlqa_debug.errors import SchemaError

__all__ = ["DuckDBBackend", "open_duckdb"]

MEMORY_ENV = "MLQA_DUCKDB_MEMORY"
THREADS_ENV = "MLQA_DUCKDB_THREADS"


class DuckDBBackend(Backend):
    """A DuckDB relation and the expressions over it."""

    name = "duckdb"

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self.relation = relation

    def col(self, name: str) -> Expr:
        return ColumnExpression(name)

    def lit(self, value: Any) -> Expr:
        return ConstantExpression(value)

    def case(self, pairs: Sequence[tuple[Expr, Expr]], otherwise: Expr) -> Expr:
        (first_if, first_then), *rest = pairs
        out = CaseExpression(first_if, first_then)
        for condition, value in rest:
            out = out.when(condition, value)
        return out.otherwise(otherwise)

    def call(self, function: str, *args: Expr) -> Expr:
        return FunctionExpression(function, *args)

    def is_null(self, e: Expr) -> Expr:
        return e.isnull()

    def is_in(self, e: Expr, values: Sequence[Any]) -> Expr:
        return e.isin(*(ConstantExpression(v) for v in values))

    def to_double(self, e: Expr) -> Expr:
        return e.cast(duckdb.sqltype("DOUBLE"))

    def agg(self, function: str, e: Expr | None = None, *, where: Expr | None = None) -> Expr:
        if function == "count":
            out = FunctionExpression("count")
        elif function == "sum":
            out = FunctionExpression("sum", e)
        else:
            out = FunctionExpression(function, e)
        return out if where is None else out.where(where)

    def quantile(self, e: Expr, q: float) -> Expr:
        return FunctionExpression("quantile_cont", e, ConstantExpression(q))

    def run_columns(self, aggregates: Sequence[Expr], *, group: Expr) -> list[np.ndarray]:
        items = [group.alias("key"), *(a.alias(f"a{i}") for i, a in enumerate(aggregates))]
        arrays = self.relation.aggregate(items, group).fetchnumpy()
        return [
            np.asarray(arrays[name]) for name in ("key", *(f"a{i}" for i in range(len(aggregates))))
        ]

    def run(
        self, aggregates: Sequence[Expr], *, group: Expr | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        items = [a.alias(f"a{i}") for i, a in enumerate(aggregates)]
        if group is None:
            relation = self.relation.aggregate(items)
        else:
            relation = self.relation.aggregate([group.alias("key"), *items], group)
        if limit is not None:
            relation = relation.limit(limit)
        return relation.fetchall()


def _connection() -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {}
    if os.environ.get(MEMORY_ENV):
        config["memory_limit"] = os.environ[MEMORY_ENV]
    if os.environ.get(THREADS_ENV):
        config["threads"] = int(os.environ[THREADS_ENV])
    return duckdb.connect(config=config)


def _relation(con: duckdb.DuckDBPyConnection, source: TableSource) -> duckdb.DuckDBPyRelation:
    if source.format == "csv":
        return con.read_csv(source.files[0])
    files = list(source.files)
    if not source.hive:
        return con.read_parquet(files)
    relation = con.read_parquet(files, hive_partitioning=True)
    partitions = set(source.partition_columns)
    exprs = []
    for field in source.schema:
        e = ColumnExpression(field.name)
        if field.name in partitions:  # folder names are text: type them as pyarrow does
            e = e.cast(duckdb.sqltype(_DUCK_TYPES.get(str(field.type), "VARCHAR")))
        exprs.append(e.alias(field.name))
    return relation.select(*exprs)


_DUCK_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
}


def open_duckdb(source: TableSource, roles: Roles) -> AggregateEngine:
    """A DuckDB engine over the source's files, its schema resolved (two aggregate passes)."""
    con = _connection()
    try:
        relation = _relation(con, source)
    except duckdb.Error as e:
        raise SchemaError(f"DuckDB cannot read it: {e}", file=source.display) from e
    backend = DuckDBBackend(relation)
    arrow_schema = source.schema if source.format == "parquet" else relation.limit(0).arrow().schema
    table = resolve_table(
        backend, arrow_schema, roles, source=source.display, fingerprint=source.fingerprint
    )
    return AggregateEngine(backend, table)
