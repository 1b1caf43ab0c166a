"""The engine seam: :class:`Engine`, what ``slice`` and ``check`` ask of wherever the rows are.

:class:`AggregateEngine` runs on a :class:`~mlqa_debug.engines.backend.Backend`
(DuckDB, Spark): slices become terms (:mod:`.plan`), terms become the backend's
expressions, and every slice of one call is summed in one pass
(:mod:`.aggregates`). :class:`NumpyEngine` wraps a loaded
:class:`~mlqa_debug.data.predictions.Predictions` and the in-process path as it is
(:func:`~mlqa_debug.slicing.slice_mask`, :func:`~mlqa_debug.stats.slice_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from mlqa_debug.data.predictions import Predictions, build_schema
from mlqa_debug.data.schema import Roles, Schema
from mlqa_debug.engines.aggregates import (
    SliceSums,
    TableExpressions,
    classification_sums,
    regression_sums,
    report_from_sums,
)
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.plan import ColumnType, Term, plan_slice
from mlqa_debug.engines.table import EngineTable
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import Slice, slice_mask
from mlqa_debug.slicing.terms import ColumnKind
from mlqa_debug.stats import RegressionData, slice_report
from mlqa_debug.stats.classification import _class_sums
from mlqa_debug.stats.regression import _regression_sums
from mlqa_debug.stats.results import SliceReport
from mlqa_debug.types import Task

__all__ = ["AggregateEngine", "Engine", "NumpyEngine"]


class Engine(Protocol):
    """Where a table's slice aggregates run: ``numpy`` in process, ``duckdb``, ``spark``."""

    name: str

    @property
    def schema(self) -> Schema: ...

    @property
    def task(self) -> Task: ...

    @property
    def n_rows(self) -> int: ...

    @property
    def has_probabilities(self) -> bool: ...

    @property
    def column_kinds(self) -> dict[str, ColumnKind]: ...

    def info(self) -> dict[str, Any]:
        """File, rows, task, fingerprint, model: the header of a check report."""
        ...

    def check_slice(self, s: Slice) -> None:
        """Raise :class:`~mlqa_debug.errors.SliceError` if ``s`` does not fit the table."""
        ...

    def slice_sums(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceSums]:
        """Slice / rest / overall sums of every slice (one pass where the engine can)."""
        ...

    def slice_reports(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceReport[Any]]:
        """The metrics of every slice vs its rest vs all rows, with intervals."""
        ...


_DERIVED_TYPES = {
    "error": ColumnType("bool", label="bool"),
    "confidence": ColumnType("number", nan=True, label="double"),
    "abs_error": ColumnType("number", nan=True, label="double"),
}


class AggregateEngine:
    """An engine that runs aggregates on a backend's table (DuckDB, Spark)."""

    def __init__(self, backend: Backend, table: EngineTable) -> None:
        self.backend, self.table = backend, table
        self.name = backend.name

    @property
    def schema(self) -> Schema:
        return self.table.schema

    @property
    def task(self) -> Task:
        return self.table.task

    @property
    def n_rows(self) -> int:
        return self.table.n_rows

    @property
    def has_probabilities(self) -> bool:
        return self.table.has_probabilities

    @property
    def column_kinds(self) -> dict[str, ColumnKind]:
        return self.table.column_kinds

    def info(self) -> dict[str, Any]:
        return self.table.info()

    @cached_property
    def default_threshold(self) -> float:
        """The regression error threshold: the roles', else the 90th percentile of |residual|."""
        given = self.table.schema.error_threshold
        if given is not None:
            return float(given)
        b = self.backend
        residual = TableExpressions(b, self.table, 0.0).residual()
        (row,) = b.run([b.quantile(b.call("abs", residual), 0.9)])
        return float(row[0])

    def _table_for_threshold(self) -> EngineTable:
        if self.table.schema.is_classification or self.table.schema.error_threshold is not None:
            return self.table
        import dataclasses

        schema = dataclasses.replace(self.table.schema, error_threshold=self.default_threshold)
        return dataclasses.replace(self.table, schema=schema)

    def plan(self, s: Slice) -> tuple[Term, ...]:
        """The terms of ``s`` on this table; SliceError where it does not fit."""
        types = dict(self.table.types)
        types.update({name: _DERIVED_TYPES[name] for name in self.table.derived_names})
        return plan_slice(s, self.column_kinds, types)

    def check_slice(self, s: Slice) -> None:
        self.plan(s)

    def where(self, s: Slice) -> Expr:
        """The backend expression that is true exactly on the rows of ``s`` (never NULL)."""
        return TableExpressions(self.backend, self._table_for_threshold(), None).where(self.plan(s))

    def slice_sums(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceSums]:
        plans = [self.plan(s) for s in slices]
        table = self._table_for_threshold()
        if table.schema.is_classification:
            return classification_sums(self.backend, table, plans)
        threshold = table.schema.error_threshold if error_threshold is None else error_threshold
        return regression_sums(self.backend, table, plans, float(threshold or 0.0))

    def confusion_counts(
        self, s: Slice, *, threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``(K, K)`` confusion counts of the slice and of all rows, from one group-by.

        Rows are true classes, columns predicted ones, both in ``schema.classes`` order
        (as :func:`mlqa_debug.analyses.confusion.confusion_counts`). The key of a row is
        its true and predicted codes (shifted by one, so a value outside the classes
        cannot alias another cell and is left out) and one bit for the slice. With
        ``threshold`` (binary, with a score) the predicted class is the positive one
        where ``P[positive] >= threshold``, as ``binary_predictions`` decides it: a
        missing or NaN score predicts the other class (engines order NaN above all).
        """
        schema = self.schema
        if not schema.is_classification:
            raise ParameterError(
                "confusion counts need a classification task; this table is a regression"
            )
        b, k = self.backend, len(schema.classes)
        x = TableExpressions(b, self._table_for_threshold(), None)
        y, p = x.code(x.label), x.code(x.prediction)
        if threshold is not None:
            if schema.task != "binary" or schema.positive is None or not self.has_probabilities:
                raise ParameterError(
                    f"a threshold needs a binary task with a score or probability columns; "
                    f"this table is {schema.task} without them"
                )
            pos = list(schema.classes).index(schema.positive)
            score = x.probs()[pos]
            at = ~b.is_null(score) & ~b.call("isnan", score) & (score >= b.lit(float(threshold)))
            p = b.case([(at, b.lit(pos))], b.lit(1 - pos))
        inside = b.case([(self.where(s), b.lit(1))], b.lit(0))
        key = ((y + b.lit(1)) * b.lit(k + 1) + (p + b.lit(1))) * b.lit(2) + inside
        keys, counts = b.run_columns([b.agg("count")], group=key)
        cells, bit = np.divmod(keys.astype(np.int64), 2)
        true_, pred = np.divmod(cells, k + 1)
        true_, pred, counts = true_ - 1, pred - 1, counts.astype(np.int64)
        known = (true_ >= 0) & (pred >= 0)
        flat = true_ * k + pred
        both = []
        for rows in (known & (bit == 1), known):
            total = np.bincount(flat[rows], weights=counts[rows], minlength=k * k)
            both.append(total.round().astype(np.int64).reshape(k, k))
        return both[0], both[1]

    def sample(self, n: int, seed: int = 0) -> pa.Table:
        """At most ``n`` rows (every column) drawn by the engine with ``seed``.

        The same seed on the same files draws the same rows; a table of ``n`` rows or
        fewer comes back whole.
        """
        return self.backend.sample(max(int(n), 0), seed=int(seed))

    def sample_predictions(self, n: int, seed: int = 0, *, name: str | None = None) -> Predictions:
        """The engine's seeded sample of at most ``n`` rows, validated as a loaded table.

        Its roles are the engine's (label, prediction, id, task, positive class, score,
        ignored columns, feature types and, for regression, the error threshold of all
        rows), so a slice means the same on the sample and on the engine. ``name`` is
        what its messages call it (default: the files' path, with the sample's size);
        its fingerprint is the files' with the sample's size and seed. A sample that
        does not load raises the loader's :class:`~mlqa_debug.errors.MlqaError`.
        """
        import hashlib

        schema = self.schema
        roles = Roles(
            id=schema.id,
            label=schema.label,
            prediction=schema.prediction,
            task=schema.task,
            positive=schema.positive,
            score=schema.score,
            ignore=tuple(schema.ignored),
            types=dict(schema.features),
            error_threshold=None if schema.is_classification else self.default_threshold,
            model=schema.model,
        )
        frame = self.sample(n, seed).to_pandas()
        frame.columns = [str(c) for c in frame.columns]
        if len(frame) < self.n_rows:
            display = (
                f"{name or self.table.source} (sample of {len(frame):,} of {self.n_rows:,} rows)"
            )
        else:
            display = name or self.table.source or "table"
        built, results = build_schema(frame, roles, file=display)
        fingerprint = self.table.fingerprint
        if len(frame) < self.n_rows:
            digest = hashlib.blake2b(f"{fingerprint}\0{n}\0{seed}".encode(), digest_size=16)
            fingerprint = digest.hexdigest()
        notes = tuple(f"{display}: {r.message}" for r in results if r.status == "warn")
        return Predictions(frame, built, fingerprint, display, notes, results)

    def slice_reports(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceReport[Any]]:
        table = self._table_for_threshold()
        threshold = table.schema.error_threshold if error_threshold is None else error_threshold
        return [
            report_from_sums(sums, table, threshold=threshold)
            for sums in self.slice_sums(slices, error_threshold=error_threshold)
        ]


class NumpyEngine:
    """The in-process path on a loaded table: masks and the prepared metric arrays."""

    name = "numpy"

    def __init__(self, predictions: Predictions) -> None:
        self.predictions = predictions

    @property
    def schema(self) -> Schema:
        return self.predictions.schema

    @property
    def task(self) -> Task:
        return self.predictions.task

    @property
    def n_rows(self) -> int:
        return self.predictions.n_samples

    @property
    def has_probabilities(self) -> bool:
        return self.predictions.proba_matrix is not None

    @property
    def column_kinds(self) -> dict[str, ColumnKind]:
        return self.predictions.column_kinds

    def info(self) -> dict[str, Any]:
        from mlqa_debug.cases.check import predictions_info

        return predictions_info(self.predictions)

    def check_slice(self, s: Slice) -> None:
        slice_mask(self.predictions, s)

    def _data(self, error_threshold: float | None) -> Any:
        from mlqa_debug.cases.measurement import _metric_data

        return _metric_data(self.predictions, error_threshold)

    def slice_sums(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceSums]:
        data = self._data(error_threshold)
        out = []
        for s in slices:
            mask = slice_mask(self.predictions, s)
            sides = (np.flatnonzero(mask), np.flatnonzero(~mask))
            if isinstance(data, RegressionData):
                inside, outside = (_regression_sums(data._columns, data.is_error, i) for i in sides)
                out.append(SliceSums(inside, outside, data._totals))
            else:
                inside_c, outside_c = (_class_sums(data._codes, i) for i in sides)
                out.append(SliceSums(inside_c, outside_c, data._totals))
        return out

    def slice_reports(
        self, slices: Sequence[Slice], *, error_threshold: float | None = None
    ) -> list[SliceReport[Any]]:
        data = self._data(error_threshold)
        return [slice_report(data, slice_mask(self.predictions, s)) for s in slices]
