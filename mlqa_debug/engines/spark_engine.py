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
