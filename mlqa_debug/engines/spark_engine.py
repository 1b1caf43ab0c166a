"""The Spark backend: the same aggregates on a Spark cluster, or in local mode.

Expressions are ``pyspark.sql.Column`` objects: names are quoted in backticks
(``F.col`` would read a dot as a struct field), values are ``F.lit`` literals.
The table is ``spark.read.parquet`` over the source's files (Hive partitions as
columns: Spark's own type inference is off and they are cast to the types pyarrow
infers, see :mod:`.source`). Spark reads Parquet only.

The session: :func:`spark_session` builds (or reuses) one whose master is
``--spark-master``, else ``$MLQA_SPARK_MASTER``, else ``local[2]``; its UI is off,
its time zone UTC and its JVM logs at ERROR (``log4j2.properties`` beside this
module). Against a cluster, the only changes are the master URL and a path every
executor can read.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mlqa_debug.data.schema import Roles
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.engines.source import TableSource
from mlqa_debug.engines.table import resolve_table
from mlqa_debug.errors import ParameterError, SchemaError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["MASTER_ENV", "SparkBackend", "open_spark", "spark_session"]

MASTER_ENV = "MLQA_SPARK_MASTER"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
DEFAULT_MASTER = "local[2]"

_SPARK_TYPES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "double": "double",
    "float": "float",
    "bool": "boolean",
    "string": "string",
}


def spark_session(master: str | None = None) -> SparkSession:
    """The Spark session: ``master``, else ``$MLQA_SPARK_MASTER``, else ``local[2]``; quiet."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # an optional dependency: pip install 'mlqa-debug[spark]'
        raise ParameterError(
            "--engine spark needs pyspark, which is not installed: "
            "pip install 'mlqa-debug[spark]' (and a Java runtime)"
        ) from e

    url = master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    builder = (
        SparkSession.builder.master(url)
        .appName("mlqa-debug")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    )
    with warnings.catch_warnings():  # pyspark 4.3 warns about pandas 3 when it starts
        warnings.simplefilter("ignore", FutureWarning)
        session = builder.getOrCreate()
    return session


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SparkBackend(Backend):
    """A Spark DataFrame and the Column expressions over it."""

    name = "spark"

    def __init__(self, frame: DataFrame) -> None:
        from pyspark.sql import functions

        self.frame, self.F = frame, functions
        self._functions: dict[str, Callable[..., Any]] = {
            "isnan": functions.isnan,
            "ln": functions.log,
            "abs": functions.abs,
            "floor": functions.floor,
            "greatest": functions.greatest,
            "least": functions.least,
        }

    def col(self, name: str) -> Expr:
        return self.F.col(_quoted(name))

    def lit(self, value: Any) -> Expr:
        return self.F.lit(value)

    def case(self, pairs: Sequence[tuple[Expr, Expr]], otherwise: Expr) -> Expr:
        (first_if, first_then), *rest = pairs
        out = self.F.when(first_if, first_then)
        for condition, value in rest:
            out = out.when(condition, value)
        return out.otherwise(otherwise)

    def call(self, function: str, *args: Expr) -> Expr:
        return self._functions[function](*args)

    def is_null(self, e: Expr) -> Expr:
        return e.isNull()

    def is_in(self, e: Expr, values: Sequence[Any]) -> Expr:
        return e.isin([self.F.lit(v) for v in values])

    def to_double(self, e: Expr) -> Expr:
        return e.cast("double")

    def agg(self, function: str, e: Expr | None = None, *, where: Expr | None = None) -> Expr:
        F = self.F
        if function == "count":
            return F.count(F.lit(1) if where is None else F.when(where, F.lit(1)))
        value = e if where is None else F.when(where, e)
        return {"sum": F.sum, "min": F.min, "max": F.max, "bool_and": F.bool_and}[function](value)

    def quantile(self, e: Expr, q: float) -> Expr:
        return self.F.percentile(e, self.F.lit(q))

    def run_columns(self, aggregates: Sequence[Expr], *, group: Expr) -> list[np.ndarray]:
        items = [a.alias(f"a{i}") for i, a in enumerate(aggregates)]
        table = self.frame.groupBy(group.alias("key")).agg(*items).toArrow()
        return [table.column(i).to_numpy() for i in range(table.num_columns)]

    def run(
        self, aggregates: Sequence[Expr], *, group: Expr | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        items = [a.alias(f"a{i}") for i, a in enumerate(aggregates)]
        if group is None:
            frame = self.frame.agg(*items)
        else:
            frame = self.frame.groupBy(group.alias("key")).agg(*items)
        if limit is not None:
            frame = frame.limit(limit)
        return [tuple(row) for row in frame.collect()]

    def regroup(
        self, keys: Sequence[Expr], inner: Sequence[Expr], *, where: Expr | None = None
    ) -> list[tuple[Any, ...]]:
        frame = self.frame if where is None else self.frame.filter(where)
        names = [f"a{i}" for i in range(len(inner))]
        grouped = frame.groupBy(*(k.alias(f"k{i}") for i, k in enumerate(keys)))
        groups = grouped.agg(*(a.alias(n) for a, n in zip(inner, names, strict=True)))
        counted = groups.groupBy(*names).agg(self.F.count(self.F.lit(1)).alias("groups"))
        return [tuple(row) for row in counted.collect()]

    def sample(self, n: int, *, seed: int) -> pa.Table:
        rows = self.frame.count()
        if rows <= n:
            return self.frame.toArrow()
        fraction = min(1.0, 1.2 * n / rows)  # a little over n, then the first n of them
        return self.frame.sample(fraction=fraction, seed=seed).limit(n).toArrow()

    def select(self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None) -> Backend:
        frame = self.frame if where is None else self.frame.filter(where)
        return SparkBackend(frame.select(*(e.alias(name) for name, e in items)))

    def join(self, other: Backend, left: str, right: str) -> Backend:
        assert isinstance(other, SparkBackend)
        condition = self.frame[_quoted(left)] == other.frame[_quoted(right)]
        return SparkBackend(self.frame.join(other.frame, condition, "full_outer"))

    def grouped(
        self, keys: Sequence[tuple[str, Expr]], aggregates: Sequence[tuple[str, Expr]]
    ) -> Backend:
        grouping = self.frame.groupBy(*(e.alias(name) for name, e in keys))
        return SparkBackend(grouping.agg(*(e.alias(name) for name, e in aggregates)))

    def head(
        self,
        columns: Sequence[Expr],
        *,
        order: Sequence[Expr],
        limit: int,
        where: Expr | None = None,
    ) -> list[tuple[Any, ...]]:
        frame = self.frame if where is None else self.frame.filter(where)
        if order:
            frame = frame.orderBy(*order)
        rows = frame.select(*columns).limit(limit)
        return [tuple(row) for row in rows.collect()]

    def seeded_hash(self, e: Expr, seed: int) -> Expr:
        return self.F.xxhash64(e, self.F.lit(seed))

    def to_text(self, e: Expr) -> Expr:
        return e.cast("string")

    def cast(self, e: Expr, type_name: str) -> Expr:
        return e.cast(_SPARK_TYPES[type_name])

    def quantile_values(self, e: Expr, qs: Sequence[float]) -> list[float] | None:
        """Exact, in three jobs: approximate brackets, the rows below each, the values inside.

        Spark's exact ``percentile`` holds every distinct value in memory; here only the
        values inside the brackets around the wanted ranks (about ``6 n / 10_000``) reach
        the driver. Where a bracket misses its rank, it is widened and tried again.
        """
        F = self.F
        frame = self.frame.select(e.alias("v")).filter(F.col("v").isNotNull())
        spread = 3.0 / _QUANTILE_ACCURACY
        while True:
            probes = sorted({q + d for q in qs for d in (-spread, spread) if 0.0 < q + d < 1.0})
            (n, approx), *_ = frame.agg(
                F.count(F.lit(1)),
                F.percentile_approx("v", probes or [0.5], _QUANTILE_ACCURACY),
            ).collect()
            if not n:
                return None
            approx_at = dict(zip(probes, approx[: len(probes)], strict=True))
            found = _bracketed(frame, F, int(n), qs, spread, approx_at)
            if found is not None:
                return found
            spread *= 4

    def epoch_ns(self, e: Expr) -> Expr:
        return self.F.unix_micros(e.cast("timestamp")) * self.F.lit(1000)

    def first_rows(self, n: int) -> Backend:
        return SparkBackend(self.frame.limit(n))

    def materialize(
        self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None
    ) -> Backend:
        from pyspark import StorageLevel

        frame = self.frame if where is None else self.frame.filter(where)
        frame = frame.select(*(e.alias(name) for name, e in items))
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        frame.count()  # computed now, once
        return SparkBackend(frame)

    def run_grouped(
        self, aggregates: Sequence[Expr], keys: Sequence[Expr]
    ) -> list[list[np.ndarray]]:
        """One job for all keys: each row exploded into ``(key index, key)`` pairs."""
        F = self.F
        structs = [F.struct(F.lit(i).alias("i"), k.alias("k")) for i, k in enumerate(keys)]
        pairs = F.array(*structs)
        frame = self.frame.select("*", F.explode(pairs).alias("_mlqa_key"))
        items = [a.alias(f"a{i}") for i, a in enumerate(aggregates)]
        grouped = frame.groupBy(F.col("_mlqa_key.i").alias("i"), F.col("_mlqa_key.k").alias("k"))
        table = grouped.agg(*items).toArrow()
        which = table.column(0).to_numpy()
        columns = [table.column(j).to_numpy() for j in range(1, table.num_columns)]
        return [[c[which == i] for c in columns] for i in range(len(keys))]


_QUANTILE_ACCURACY = 10_000  # percentile_approx's: rank error at most n / accuracy


def _bracketed(
    frame: DataFrame, F: Any, n: int, qs: Sequence[float], spread: float, approx: dict[float, Any]
) -> list[float] | None:
    """The exact quantiles from the values inside the brackets; None if a bracket missed.

    One job counts the values below each bracket, one collects the values inside any.
    """
    v = F.col("v")
    brackets, below, inside = [], [], F.lit(False)
    for q in qs:  # a bracket touching 0 or 1 runs from the smallest / to the largest value
        low = approx[q - spread] if q - spread > 0.0 else None
        high = approx[q + spread] if q + spread < 1.0 else None
        brackets.append((low, high))
        below.append(F.count(F.when(v < F.lit(low), 1)) if low is not None else F.sum(F.lit(0)))
        within = F.lit(True)
        if low is not None:
            within = within & (v >= F.lit(low))
        if high is not None:
            within = within & (v <= F.lit(high))
        inside = inside | within
    counts = frame.agg(*below).collect()[0]
    values = np.sort(np.array([r[0] for r in frame.filter(inside).collect()], dtype=np.float64))
    out = []
    for q, (low, high), before in zip(qs, brackets, counts, strict=True):
        keep = np.ones(values.size, dtype=bool)
        if low is not None:
            keep &= values >= low
        if high is not None:
            keep &= values <= high
        mine = values[keep]
        h = (n - 1) * q
        j = int(np.floor(h)) - int(before or 0)
        if j < 0 or j + int(h > np.floor(h)) >= mine.size:
            return None
        out.append(float(np.quantile(mine[j : j + 2], h - np.floor(h))))
    return out


def _frame(session: SparkSession, source: TableSource) -> DataFrame:
    if source.format != "parquet":
        raise SchemaError(
            "the Spark engine reads Parquet; use --engine duckdb for CSV", file=source.display
        )
    reader = session.read
    if source.hive and source.base is not None:
        reader = reader.option("basePath", source.base)
    frame = reader.parquet(*source.files)
    partitions = set(source.partition_columns)
    from pyspark.sql import functions as F

    columns = []
    for field in source.schema:
        c = F.col(_quoted(field.name))
        if field.name in partitions:
            c = c.cast(_SPARK_TYPES.get(str(field.type), "string"))
        columns.append(c.alias(field.name))
    return frame.select(*columns)


def open_spark(
    source: TableSource, roles: Roles, *, session: SparkSession | None = None
) -> AggregateEngine:
    """A Spark engine over the source's Parquet files, its schema resolved."""
    backend = SparkBackend(_frame(session or spark_session(), source))
    table = resolve_table(
        backend, source.schema, roles, source=source.display, fingerprint=source.fingerprint
    )
    return AggregateEngine(backend, table)
