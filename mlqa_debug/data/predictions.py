"""A validated predictions table (:class:`Predictions`) and the one way to load it.

:func:`load_predictions` reads the file (:mod:`mlqa_debug.data.read`), resolves the
column roles (arguments > sidecar file > conventions) and runs the registry of
data checks (:mod:`mlqa_debug.data.checks`). It returns a :class:`Predictions`:
the frame, its :class:`~mlqa_debug.data.schema.Schema`, a content fingerprint,
the check results (``check_results``, the validation report) and the derived
arrays every analysis needs (integer-coded labels and predictions, the error
indicator, probabilities), computed lazily once and read-only.

A failed check refuses the table with the :class:`~mlqa_debug.errors.SchemaError`
built from its result: it names the file, the column, the rows (numbered from 1,
the first data row) and what was expected. Odd but valid input (predictions of a
class no label has) gives a ``UserWarning`` and is listed in ``Predictions.warnings``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pandas as pd

from mlqa_debug.data.checks import CheckResult, first_blocking, report_json, run_checks
from mlqa_debug.data.checks.nested import embedding_list_matrix
from mlqa_debug.data.checks.registry import rows_text
from mlqa_debug.data.memo import BoundedMemo, freeze
from mlqa_debug.data.read import (
    SIDECAR_SUFFIX,
    SUPPORTED_SUFFIXES,
    SidecarChoice,
    max_file_bytes,
    read_sidecar,
    read_table,
    sidecar_path,
)
from mlqa_debug.data.schema import Roles, Schema
from mlqa_debug.types import FileSource, Task

if TYPE_CHECKING:
    from mlqa_debug.slicing import ColumnKind
    from mlqa_debug.stats import ClassificationData, RegressionData

__all__ = [
    "SIDECAR_SUFFIX",
    "SUPPORTED_SUFFIXES",
    "Predictions",
    "build_schema",
    "load_predictions",
    "max_file_bytes",
    "read_sidecar",
    "rows_text",
    "schema_column_kinds",
    "sidecar_path",
]

T = TypeVar("T")


@dataclass(eq=False)
class Predictions:
    """A validated predictions table: frame, schema, fingerprint, checks and derived arrays.

    Treat it as read-only; it is shared between pages and sessions. Its derived
    arrays (``y_true_codes``, ``error`` ...) and the arrays :meth:`memo` keeps are
    not writable: copy one before changing it.
    """

    frame: pd.DataFrame
    schema: Schema
    fingerprint: str
    source: str
    warnings: tuple[str, ...] = field(default=())
    check_results: tuple[CheckResult, ...] = field(default=())
    _memo: BoundedMemo = field(default_factory=BoundedMemo, init=False, repr=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A structure derived from this table, built once and kept with it.

        Keys read ``kind:parameters``; each kind keeps its few most recently used
        entries (see :mod:`mlqa_debug.data.memo`), and arrays in the value are made
        read-only. Thread-safe per key: concurrent callers of one key wait for a
        single build, other keys proceed, and a build may call ``memo`` for others.
        """
        return self._memo.get(key, build)

    def memo_sizes(self) -> dict[str, int]:
        """How many memoised entries each key kind holds."""
        return self._memo.sizes()

    @property
    def n_samples(self) -> int:
        return len(self.frame)

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:8]

    @property
    def task(self) -> Task:
        return self.schema.task

    @cached_property
    def y_true_codes(self) -> np.ndarray:
        """Labels as integer codes into ``schema.classes`` (classification only)."""
        return self._codes(self.schema.label)

    @cached_property
    def y_pred_codes(self) -> np.ndarray:
        return self._codes(self.schema.prediction)

    def _codes(self, column: str) -> np.ndarray:
        values = self.frame[column]
        codes = pd.Categorical(values, categories=list(self.schema.classes)).codes
        return freeze(np.array(codes, dtype=np.int32))

    @cached_property
    def proba_matrix(self) -> np.ndarray | None:
        """``(n_samples, n_classes)`` probabilities in class order, or ``None``."""
        s = self.schema
        if s.score is not None:
            p = self.frame[s.score].to_numpy(dtype=np.float64)
            pos = list(s.classes).index(s.positive)
            out = np.empty((len(p), 2))
            out[:, pos] = p
            out[:, 1 - pos] = 1.0 - p
            return freeze(out)
        if s.proba:
            columns = [s.proba[c] for c in s.classes]
            return freeze(self.frame[columns].to_numpy(dtype=np.float64))
        return None

    @cached_property
    def confidence(self) -> np.ndarray | None:
        """Probability of the predicted class, where probabilities exist."""
        proba = self.proba_matrix
        if proba is None:
            return None
        return freeze(proba[np.arange(len(proba)), np.maximum(self.y_pred_codes, 0)])

    @cached_property
    def residual(self) -> np.ndarray:
        """``prediction - label`` (regression only)."""
        s = self.schema
        y_pred = self.frame[s.prediction].to_numpy(np.float64)
        return freeze(y_pred - self.frame[s.label].to_numpy(np.float64))

    @cached_property
    def error(self) -> np.ndarray:
        """True where the model errs: a wrong class, or ``|residual| > error_threshold``."""
        if self.schema.is_classification:
            return freeze(self.y_true_codes != self.y_pred_codes)
        return freeze(np.abs(self.residual) > cast(float, self.schema.error_threshold))

    @cached_property
    def metric_data(self) -> ClassificationData | RegressionData:
        """Precomputed inputs of :func:`mlqa_debug.stats.evaluate`."""
        from mlqa_debug.stats import prepare_classification, prepare_regression

        if self.schema.is_classification:
            return prepare_classification(
                self.y_true_codes,
                self.y_pred_codes,
                classes=[str(c) for c in self.schema.classes],
                pred_probs=self.proba_matrix,
            )
        return prepare_regression(
            self.frame[self.schema.label].to_numpy(np.float64),
            self.frame[self.schema.prediction].to_numpy(np.float64),
            threshold=self.schema.error_threshold,
        )

    @cached_property
    def derived(self) -> dict[str, np.ndarray]:
        """The derived columns slices may use (``error``, ``confidence``, ``abs_error``)."""
        out: dict[str, np.ndarray] = {"error": self.error}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if not self.schema.is_classification:
            out["abs_error"] = freeze(np.abs(self.residual))
        return {k: v for k, v in out.items() if k not in self.frame.columns}

    @cached_property
    def slice_frame(self) -> pd.DataFrame:
        """The frame plus derived columns, for ``Slice.mask`` (no copy of the data)."""
        return self.frame.assign(**self.derived) if self.derived else self.frame

    @cached_property
    def column_kinds(self) -> dict[str, ColumnKind]:
        """Kind of every column a slice may name, for ``Slice.check``."""
        return schema_column_kinds(self.schema, self.derived)

    def summary(self) -> dict[str, Any]:
        """JSON-safe overview: size, task, classes, error rate, roles, warnings, checks."""
        s = self.schema
        kinds = pd.Series(list(s.features.values()), dtype=object).value_counts()
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "rows": self.n_samples,
            "columns": self.frame.shape[1],
            "task": s.task,
            "classes": [_plain(c) for c in s.classes],
            "positive": _plain(s.positive),
            "error_rate": float(self.error.mean()),
            "errors": int(self.error.sum()),
            "error_threshold": s.error_threshold,
            "roles": s.roles_table(),
            "feature_types": {str(k): int(v) for k, v in kinds.items()},
            "warnings": list(self.warnings),
            "checks": report_json(self.check_results),
        }

    def checks(self) -> list[CheckResult]:
        """The validation report: one result per registered check, as the loader ran it."""
        return list(self.check_results)

    @cached_property
    def embedding_matrix(self) -> np.ndarray | None:
        """``(n_samples, dim)`` embedding from ``emb_*`` columns or a list column.

        A missing row of a list column is a row of NaN (validation has checked the
        lists are of one length).
        """
        cols = self.schema.embedding
        if not cols:
            return None
        if len(cols) == 1 and not pd.api.types.is_numeric_dtype(self.frame[cols[0]].dtype):
            matrix = embedding_list_matrix(self.frame[cols[0]], column=cols[0])
            return freeze(matrix.astype(np.float32))
        return freeze(self.frame[list(cols)].to_numpy(np.float32))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_predictions(
    source: FileSource,
    *,
    label: str | None = None,
    prediction: str | None = None,
    id: str | None = None,  # noqa: A002 - the role's name in the input contract
    task: Task | None = None,
    positive: Any = None,
    roles: Roles | None = None,
    sidecar: SidecarChoice = True,
    max_bytes: int | None = None,
    name: str | None = None,
) -> Predictions:
    """Read and validate a predictions table.

    ``source`` is a path or a binary file-like object (with a ``name`` ending in
    ``.csv`` or ``.parquet``). Roles come from, in order of precedence, the
    keyword arguments, ``roles``, the sidecar file ``<stem>.mlqa.toml`` beside the
    data (``sidecar=False`` skips it; a path names another), and conventions.
    Files over ``max_bytes`` (default :func:`max_file_bytes`) are refused.
    """
    table = read_table(source, name=name, max_bytes=max_bytes, sidecar=sidecar)
    merged = table.sidecar.merged(roles or Roles())
    merged = merged.merged(
        Roles(id=id, label=label, prediction=prediction, task=task, positive=positive)
    )
    schema, results = build_schema(table.frame, merged, file=table.source)
    notes = tuple(_prefixed(r.message, table.source) for r in results if r.status == "warn")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Predictions(table.frame, schema, table.fingerprint, table.source, notes, results)


def build_schema(
    frame: pd.DataFrame, roles: Roles, *, file: str | None = None
) -> tuple[Schema, tuple[CheckResult, ...]]:
    """Run every registered check on ``frame`` (converting columns in place).

    Returns the resolved schema and the results; the first failure at severity
    ``error`` raises the :class:`~mlqa_debug.errors.SchemaError` built from it.
    """
    results, context = run_checks(frame, roles, file=file)
    blocking = first_blocking(results)
    if blocking is not None:
        raise blocking.to_error(file)
    return context.schema(), tuple(results)


def schema_column_kinds(schema: Schema, derived: Iterable[str]) -> dict[str, ColumnKind]:
    """Kind of every column a slice may name: features, roles and the ``derived`` columns.

    The loaded table's :attr:`Predictions.column_kinds` and an engine's table
    (:mod:`mlqa_debug.engines`) both answer with this.
    """
    target: ColumnKind = "categorical" if schema.is_classification else "numeric"
    kinds: dict[str, ColumnKind] = dict(schema.features)
    kinds[schema.label] = target
    kinds[schema.prediction] = target
    if schema.id is not None:
        kinds[schema.id] = "text"
    for column in (schema.score, *schema.proba.values()):
        if column is not None:
            kinds[column] = "numeric"
    for name in derived:
        kinds[name] = "boolean" if name == "error" else "numeric"
    return kinds


def _prefixed(message: str, file: str | None) -> str:
    return f"{file}: {message}" if file else message
