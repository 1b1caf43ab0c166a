"""Where aggregates run: numpy in process (the default), DuckDB out of core, Spark on a cluster.

Every slice statistic that ``slice`` and ``check`` report reduces to counts and sums
over the rows inside a slice, outside it and overall. An :class:`Engine` computes
those sums (:class:`SliceSums`, the very records :mod:`mlqa_debug.stats` reduces its
arrays to) and turns them into :class:`~mlqa_debug.stats.SliceReport` objects through
the same metric functions as the numpy path, so numbers agree across engines: counts
exactly, sums to rounding (relative 1e-12).

- :mod:`.source`: a file, directory or glob as a :class:`TableSource` (schema and
  sizes from the Parquet footers, no row read) and ``--engine auto``;
- :mod:`.plan`: a slice as engine-neutral terms, under the masks' rules;
- :mod:`.backend`: the small expression vocabulary a backend implements;
- :mod:`.table`: roles, task and classes resolved on an engine;
- :mod:`.aggregates`: the one-pass slice / rest / overall sums and their metrics;
- :mod:`.engine`: :class:`Engine`, :class:`AggregateEngine`, :class:`NumpyEngine`;
- :mod:`.duckdb_engine`, :mod:`.spark_engine`: the two backends;
- :mod:`.registry`: :func:`open_engine` by name;
- :mod:`.check`: every case kind on an engine (:func:`check_cases_on`), with
  :mod:`.quality` for data-quality cases (counted exactly, or on a seeded sample);
- :mod:`.discover`: SliceLine's level-wise counts from engine group-bys (``discover_on``);
- :mod:`.compare`: two model versions joined by id in the engine (:func:`compare_on`).

External datasets (:mod:`mlqa_debug.data.external`) are tables registered in a
workspace by reference: the app and the commands open them on their engine and
draw a seeded sample (:meth:`AggregateEngine.sample_predictions`) for what needs
the rows.

Why two thin hand-written backends and not Ibis
-----------------------------------------------
Ibis 12 (``ibis-framework``) would let the aggregates be written once for DuckDB and
PySpark (it supports PySpark 3.5 to 4.x). It was weighed and not taken:

- *no SQL text*: Ibis compiles every expression, DuckDB's and PySpark's alike, to SQL
  text through sqlglot and runs that text (``spark.sql``); values are escaped by its
  generator rather than bound as literals. Here the slices reach DuckDB as expression
  objects (``ColumnExpression`` quotes the name, ``ConstantExpression`` holds the value)
  and Spark as ``Column`` objects (backtick-quoted names, ``F.lit`` values); nothing in
  this package writes query text;
- *install weight*: Ibis brings sqlglot, parsy, atpublic, rich, toolz and more on top
  of the two engines it would drive; the backends here need only ``duckdb`` and
  ``pyspark``;
- *exactness*: the per-row terms must match :mod:`mlqa_debug.stats.classification` to
  the last rounding (eps clipping, Brier of class 1, searchsorted bins, first argmax);
  that is a dozen expressions either way, and writing them against :class:`Backend`'s
  small vocabulary (``col``, ``lit``, ``case``, ``call``, ``agg``, operators) keeps them
  in one place, :mod:`.aggregates`, for both engines, which is what Ibis would give;
- *speed*: all slices of a call share one scan: each row gets one integer of slice
  membership bits and one of ``(label, prediction, bin, argmax)`` codes, and a group-by
  on them with four aggregates replaces seven filtered aggregates per slice (20 cases
  on 10^8 rows: about 20 s on DuckDB here, ``benchmarks/bench_engines.py``). Ibis could
  express that too; hand-written, it is one less layer to read when a plan is slow.

The cost is one ~100-line backend per engine (:mod:`.duckdb_engine`, :mod:`.spark_engine`).

Spark: the master is ``--spark-master``, else ``$MLQA_SPARK_MASTER``, else ``local[2]``.
"""

from mlqa_debug.engines.aggregates import SliceSums, report_from_sums
from mlqa_debug.engines.check import check_cases_on, engine_metric_choices
from mlqa_debug.engines.compare import EngineComparison, compare_on, open_pair
from mlqa_debug.engines.engine import AggregateEngine, Engine, NumpyEngine
from mlqa_debug.engines.registry import ENGINE_CHOICES, EngineName, open_engine, read_numpy
from mlqa_debug.engines.source import TableSource, choose_engine, resolve_source

__all__ = [
    "ENGINE_CHOICES",
    "AggregateEngine",
    "Engine",
    "EngineComparison",
    "EngineName",
    "NumpyEngine",
    "SliceSums",
    "TableSource",
    "check_cases_on",
    "choose_engine",
    "compare_on",
    "engine_metric_choices",
    "open_engine",
    "open_pair",
    "read_numpy",
    "report_from_sums",
    "resolve_source",
]
