"""A table on an engine: its schema resolved from the file schema and a few aggregates.

:func:`resolve_table` finds the roles with the loader's own rules
(:func:`mlqa_debug.data.schema.find_roles`, ``prob_<class>`` columns, the ``score``
column, the positive class, ``infer_task``'s thresholds) from the column names and
Arrow types, then asks the engine for what only the rows know, in two passes: row
count, missing labels and predictions, probability ranges and whether float
targets are integral; then the distinct label and prediction values (classes),
unless the task is already settled as regression. It checks what the loader's
checks would refuse (missing targets, probabilities outside [0, 1] or not summing
to 1) and says so with the counts the engine found (no row numbers: the engine
does not number rows).

Feature types come from the Arrow types (strings and dictionaries are categorical,
numbers numeric, booleans boolean, timestamps and dates datetime); lists, structs
and maps are left out. Unlike the loader, string columns are never read to decide
"text" or "datetime".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mlqa_debug.data.checks.values import PROBA_SUM_TOLERANCE, PROBA_TOLERANCE, natural_key
from mlqa_debug.data.predictions import schema_column_kinds
from mlqa_debug.data.schema import (
    FeatureType,
    Roles,
    Schema,
    find_roles,
    proba_columns,
)
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.plan import ColumnType, column_type
from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing.terms import ColumnKind
from mlqa_debug.types import Task

__all__ = ["EngineTable", "resolve_table"]

_REGRESSION_MIN_UNIQUE = 20
_MAX_CLASSES = 1000
_KIND_OF_CLASS: dict[str, FeatureType] = {
    "bool": "boolean",
    "number": "numeric",
    "datetime": "datetime",
    "string": "categorical",
}


@dataclass(frozen=True)
class EngineTable:
    """What an engine knows of its table: schema, size, column types and label mean."""

    schema: Schema
    n_rows: int
    source: str
    fingerprint: str
    types: dict[str, ColumnType]
    label_mean: float = 0.0  # regression: the overall mean of the labels (for R²)
    numeric_targets: bool = True
    columns: tuple[str, ...] = field(default=())

    @property
    def task(self) -> Task:
        return self.schema.task

    @property
    def has_probabilities(self) -> bool:
        return bool(self.schema.score or self.schema.proba)

    @property
    def column_kinds(self) -> dict[str, ColumnKind]:
        """Kinds of every column a slice may name (as ``Predictions.column_kinds``)."""
        return schema_column_kinds(self.schema, self.derived_names)

    @property
    def derived_names(self) -> list[str]:
        """The derived columns slices may use here (those the table does not have)."""
        names = ["error"]
        if self.has_probabilities:
            names.append("confidence")
        if not self.schema.is_classification:
            names.append("abs_error")
        return [n for n in names if n not in self.columns]

    def info(self) -> dict[str, Any]:
        """What a check report says about the table (as ``predictions_info``)."""
        model = self.schema.model
        return {
            "file": self.source,
            "rows": self.n_rows,
            "task": self.task,
            "fingerprint": self.fingerprint,
            "model": None if model is None else model.name,
            "model_version": None if model is None else model.version,
        }


def resolve_table(
    backend: Backend,
    arrow_schema: pa.Schema,
    roles: Roles,
    *,
    source: str,
    fingerprint: str,
) -> EngineTable:
    """The schema of the backend's table, from its Arrow schema and two aggregate passes."""
    columns = list(arrow_schema.names)
    found = find_roles(columns, roles, file=source)
    label = found["label"]
    prediction = found["prediction"]
    if prediction is None:
        raise SchemaError(
            "no prediction column: an engine needs one named prediction / y_pred / pred "
            "(or say which with --prediction); deriving it from probabilities needs the rows",
            file=source,
            received=columns,
        )
    types = {f.name: t for f in arrow_schema if (t := column_type(f.type)) is not None}
    for role in (label, prediction):
        if role not in types:
            raise SchemaError(
                f"column {role!r} has type {arrow_schema.field(role).type}; expected numbers, "
                "strings or booleans",
                file=source,
                column=role,
            )
    by_suffix = proba_columns(columns)
    score = found["score"]
    first = _first_pass(backend, types, label, prediction, [*by_suffix.values(), score], source)
    task = roles.task or _task_from_floats(types, label, prediction, first)
    numeric = types[label].cls == "number" and types[prediction].cls == "number"
    common = _common(found, columns, roles, types, label, prediction, by_suffix, score)

    def table(schema: Schema, label_mean: float = 0.0) -> EngineTable:
        n = int(first["n"])
        return EngineTable(
            schema, n, source, fingerprint, types, label_mean, numeric, tuple(columns)
        )

    labels: list[Any] = []
    if task != "regression":
        labels = _distinct(backend, label)
        floats = types[label].nan or types[prediction].nan
        if roles.task is None and numeric and floats and len(labels) > _REGRESSION_MIN_UNIQUE:
            task = "regression"
    if task == "regression":
        if not numeric:
            raise SchemaError("regression needs numeric label and prediction", file=source)
        schema = Schema(
            **common,
            prediction=prediction,
            task="regression",
            error_threshold=roles.error_threshold,
        )
        return table(schema, float(first["label_mean"]))
    predicted = _distinct(backend, prediction)
    for column, values in ((label, labels), (prediction, predicted)):
        if len(values) > _MAX_CLASSES:
            raise SchemaError(
                f"column {column!r} holds more than {_MAX_CLASSES:,} classes; is this "
                "regression? (say so with --task regression)",
                file=source,
                column=column,
            )
    schema = _classification_schema(
        common, prediction, roles, labels, predicted, numeric, by_suffix, score, source
    )
    _check_probabilities(backend, schema, first, source)
    return table(schema)


def _common(
    found: dict[str, Any],
    columns: Sequence[str],
    roles: Roles,
    types: dict[str, ColumnType],
    label: str,
    prediction: str,
    by_suffix: dict[str, str],
    score: str | None,
) -> dict[str, Any]:
    taken = {label, prediction, found["id"], score, found["shap_base"]}
    taken |= set(found["embedding"]) | set(found["shap"].values()) | set(by_suffix.values())
    taken |= set(found["projection"] or ()) | set(roles.ignore)
    features: dict[str, FeatureType] = {}
    left_out: dict[str, str] = {}
    for c in columns:
        if c in taken:
            continue
        if c in types:
            features[c] = roles.types.get(c, _KIND_OF_CLASS[types[c].cls])
        else:
            left_out[c] = "nested"
    return dict(
        label=label,
        features=features,
        id=found["id"],
        embedding=found["embedding"],
        shap=found["shap"],
        shap_base=found["shap_base"],
        projection=found["projection"],
        model=roles.model,
        ignored=tuple(c for c in roles.ignore if c in columns),
        left_out=left_out,
    )


def _first_pass(
    backend: Backend,
    types: dict[str, ColumnType],
    label: str,
    prediction: str,
    probas: Sequence[str | None],
    source: str,
) -> dict[str, Any]:
    """Rows, missing targets, float targets' integrality, label mean, probability ranges."""
    aggs: list[Expr] = [backend.agg("count")]
    names = ["n"]
    for column in (label, prediction):
        aggs.append(backend.agg("count", where=~backend.present(column, types[column].nan)))
        names.append(f"missing:{column}")
    if types[label].nan:
        c = backend.col(label)
        aggs.append(backend.agg("count", where=c != backend.call("floor", c)))
        names.append(f"fractional:{label}")
    if types[label].cls == "number":
        aggs.append(backend.agg("sum", backend.to_double(backend.col(label))))
        names.append("label_sum")
    for proba in probas:
        if proba is not None and proba in types:
            c = backend.to_double(backend.col(proba))
            bad = ~backend.present(proba, True) | (c < backend.lit(-PROBA_TOLERANCE))
            bad = bad | (c > backend.lit(1 + PROBA_TOLERANCE))
            aggs.append(backend.agg("count", where=bad))
            names.append(f"outside:{proba}")
    row = backend.run(aggs)[0]
    out: dict[str, Any] = {k: (0 if v is None else v) for k, v in zip(names, row, strict=True)}
    for column, role in ((label, "label"), (prediction, "prediction")):
        if out[f"missing:{column}"]:
            raise SchemaError(
                f"{role} column {column!r} has {out[f'missing:{column}']:,} missing values "
                "(counted by the engine); fill or drop them",
                file=source,
                column=column,
            )
    n = int(out["n"])
    if n == 0:
        raise SchemaError("the table has no rows", file=source)
    out["label_mean"] = float(out.get("label_sum", 0.0)) / n
    return out


def _task_from_floats(
    types: dict[str, ColumnType], label: str, prediction: str, first: dict[str, Any]
) -> Task | None:
    """Regression for float labels with a fractional value (the rest needs the classes)."""
    if types[label].nan and first.get(f"fractional:{label}", 0):
        return "regression"
    return None


def _distinct(backend: Backend, column: str) -> list[Any]:
    """The column's distinct values, at most one more than :data:`_MAX_CLASSES`."""
    rows = backend.run([backend.agg("count")], group=backend.col(column), limit=_MAX_CLASSES + 1)
    return [_plain(r[0]) for r in rows]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _aligned(values: Sequence[Any], numeric: bool) -> list[Any]:
    """Label/prediction values as the loader compares them: integers, or text."""
    if numeric:
        return [int(v) if float(v).is_integer() else v for v in values]
    return [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values]


def _classification_schema(
    common: dict[str, Any],
    prediction: str,
    roles: Roles,
    labels: list[Any],
    predicted: list[Any],
    numeric: bool,
    by_suffix: dict[str, str],
    score: str | None,
    source: str,
) -> Schema:
    from mlqa_debug.data.checks.values import _suffix_value, positive_class

    seen = _aligned(labels, numeric)
    extra = [v for v in _aligned(predicted, numeric) if v not in seen]
    for suffix in by_suffix:
        value = _suffix_value(suffix, numeric)
        if value not in seen and value not in extra:
            extra.append(value)
    classes = sorted(set(seen) | set(extra), key=natural_key)
    task: Task = roles.task or ("binary" if len(set(seen)) <= 2 else "multiclass")
    if task == "binary" and len(classes) > 2:
        if roles.task is not None:
            raise SchemaError(
                f"task is binary but label and prediction hold {len(classes)} classes",
                file=source,
            )
        task = "multiclass"
    positive = positive_class(classes, roles.positive) if len(classes) == 2 else None
    proba = {c: by_suffix[str(c)] for c in classes if str(c) in by_suffix}
    score = score if task == "binary" and len(classes) == 2 else None
    if len(classes) == 2 and score is None and len(proba) == 1 and positive in proba:
        score, proba = str(proba[positive]), {}
    if proba and len(proba) < len(classes):
        absent = [c for c in classes if c not in proba]
        raise SchemaError(
            f"probability columns cover {len(proba)} of {len(classes)} classes; "
            f"no prob_<class> column for {', '.join(map(repr, absent[:5]))}",
            file=source,
        )
    return Schema(
        **common,
        prediction=prediction,
        task=task,
        classes=tuple(classes),
        positive=positive,
        proba=proba,
        score=score,
    )


def _check_probabilities(
    backend: Backend, schema: Schema, first: dict[str, Any], source: str
) -> None:
    columns = [schema.score] if schema.score else list(schema.proba.values())
    for column in columns:
        bad = first.get(f"outside:{column}", 0)
        if bad:
            raise SchemaError(
                f"probability column {column!r} has {bad:,} values that are not numbers in "
                "[0, 1] (counted by the engine)",
                file=source,
                column=column,
            )
    if len(columns) > 1:
        total = backend.lit(0.0)
        for column in columns:
            total = total + backend.to_double(backend.col(column))
        off = backend.call("abs", total - backend.lit(1.0)) > backend.lit(PROBA_SUM_TOLERANCE)
        (bad,) = backend.run([backend.agg("count", where=off)])[0]
        if bad:
            raise SchemaError(
                f"probability columns do not sum to 1 (± {PROBA_SUM_TOLERANCE}) on {bad:,} rows",
                file=source,
                column=", ".join(columns),
            )
