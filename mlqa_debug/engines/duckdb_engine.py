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
import uuid
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from duckdb import CaseExpression, ColumnExpression, ConstantExpression, FunctionExpression

from mlqa_debug.data.schema import Roles
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.engines.source import TableSource
from mlqa_debug.engines.table import resolve_table
from mlqa_debug.errors import SchemaError

__all__ = ["DuckDBBackend", "duckdb_connection", "open_duckdb"]

MEMORY_ENV = "MLQA_DUCKDB_MEMORY"
THREADS_ENV = "MLQA_DUCKDB_THREADS"


class DuckDBBackend(Backend):
    """A DuckDB relation and the expressions over it."""

    name = "duckdb"

    def __init__(
        self,
        relation: duckdb.DuckDBPyRelation,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.relation = relation
        self.connection = connection  # where :meth:`materialize` creates its tables

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

    def regroup(
        self, keys: Sequence[Expr], inner: Sequence[Expr], *, where: Expr | None = None
    ) -> list[tuple[Any, ...]]:
        relation = self.relation if where is None else self.relation.filter(where)
        names = [f"a{i}" for i in range(len(inner))]
        keyed = [k.alias(f"k{i}") for i, k in enumerate(keys)]
        aggregates = (a.alias(n) for a, n in zip(inner, names, strict=True))
        groups = relation.group_by(*keyed).agg(*aggregates)
        outer = [ColumnExpression(n) for n in names]
        return groups.group_by(*outer).agg(FunctionExpression("count").alias("groups")).fetchall()

    def sample(self, n: int, *, seed: int) -> pa.Table:
        ((rows,),) = self.relation.aggregate([FunctionExpression("count").alias("n")]).fetchall()
        relation = self.relation if rows <= n else self.relation.sample(n, seed=seed)
        return relation.to_arrow_table()

    def select(self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None) -> Backend:
        relation = self.relation if where is None else self.relation.filter(where)
        return DuckDBBackend(relation.select(*(e.alias(name) for name, e in items)))

    def join(self, other: Backend, left: str, right: str) -> Backend:
        assert isinstance(other, DuckDBBackend)
        condition = ColumnExpression(left) == ColumnExpression(right)
        return DuckDBBackend(self.relation.join(other.relation, condition, how="outer"))

    def grouped(
        self, keys: Sequence[tuple[str, Expr]], aggregates: Sequence[tuple[str, Expr]]
    ) -> Backend:
        grouping = self.relation.group_by(*(e.alias(name) for name, e in keys))
        return DuckDBBackend(grouping.agg(*(e.alias(name) for name, e in aggregates)))

    def head(
        self,
        columns: Sequence[Expr],
        *,
        order: Sequence[Expr],
        limit: int,
        where: Expr | None = None,
    ) -> list[tuple[Any, ...]]:
        relation = self.relation if where is None else self.relation.filter(where)
        if order:
            relation = relation.sort(*order)
        return relation.limit(limit).select(*columns).fetchall()

    def seeded_hash(self, e: Expr, seed: int) -> Expr:
        return FunctionExpression("hash", e, ConstantExpression(seed))

    def to_text(self, e: Expr) -> Expr:
        return e.cast(duckdb.sqltype("VARCHAR"))

    def cast(self, e: Expr, type_name: str) -> Expr:
        return e.cast(duckdb.sqltype(_DUCK_TYPES[type_name]))

    def quantile_values(self, e: Expr, qs: Sequence[float]) -> list[float] | None:
        listed = ConstantExpression([float(q) for q in qs])
        aggregate = FunctionExpression("quantile_cont", e, listed)
        ((values,),) = self.relation.aggregate([aggregate]).fetchall()
        return None if values is None else [float(v) for v in values]

    def epoch_ns(self, e: Expr) -> Expr:
        return FunctionExpression("epoch_ns", e)

    def first_rows(self, n: int) -> Backend:
        return DuckDBBackend(self.relation.limit(n), self.connection)

    def materialize(
        self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None
    ) -> Backend:
        relation = self.relation if where is None else self.relation.filter(where)
        relation = relation.select(*(e.alias(name) for name, e in items))
        if self.connection is None:
            return DuckDBBackend(relation.materialize())
        name = f"mlqa_{uuid.uuid4().hex}"  # a table of the connection's in-memory database
        relation.create(name)
        return DuckDBBackend(self.connection.table(name), self.connection)


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """A new connection with the memory cap and threads the environment asks for."""
    return _connection()


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


def open_duckdb(
    source: TableSource, roles: Roles, *, connection: duckdb.DuckDBPyConnection | None = None
) -> AggregateEngine:
    """A DuckDB engine over the source's files, its schema resolved (two aggregate passes).

    ``connection``: open it on this connection (two tables joined must share one).
    """
    con = connection or _connection()
    try:
        relation = _relation(con, source)
    except duckdb.Error as e:
        raise SchemaError(f"DuckDB cannot read it: {e}", file=source.display) from e
    backend = DuckDBBackend(relation, con)
    arrow_schema = source.schema if source.format == "parquet" else relation.limit(0).arrow().schema
    table = resolve_table(
        backend, arrow_schema, roles, source=source.display, fingerprint=source.fingerprint
    )
    return AggregateEngine(backend, table)
