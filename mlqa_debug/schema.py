"""What a predictions table is: column roles, feature types, task and classes.

The roles follow the input contract in DESIGN.md. They are found by convention
(:data:`LABEL_NAMES`, ``prob_<class>`` ...) and can always be overridden through
:class:`Roles`, which comes from function arguments, a sidecar TOML file or the
Data page. :func:`infer_schema` turns a frame plus overrides into a
:class:`Schema`; it validates nothing about values, :mod:`mlqa_debug.loading` does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd

from mlqa_debug.errors import SchemaError

Task = Literal["binary", "multiclass", "regression"]
FeatureType = Literal["categorical", "numeric", "boolean", "datetime", "text"]

TASKS: tuple[Task, ...] = get_args(Task)
FEATURE_TYPES: tuple[FeatureType, ...] = get_args(FeatureType)

ID_NAMES = ("id", "example_id")
LABEL_NAMES = ("label", "y_true", "target")
PREDICTION_NAMES = ("prediction", "y_pred", "pred")
SCORE_NAME = "score"
PROBA_PREFIXES = ("prob_", "proba_")
EMBEDDING_PATTERN = re.compile(r"^emb_(\d+)$")
EMBEDDING_LIST_NAME = "embedding"
SHAP_PREFIX = "shap_"
SHAP_BASE_NAMES = ("shap_base_value", "shap_base")
PROJECTION_NAMES = ("proj_x", "proj_y")

#: Derived columns a slice may use besides the table's own (see Predictions.slice_frame).
DERIVED_COLUMNS = ("error", "confidence", "abs_error")

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_TEXT_MIN_UNIQUE = 200
_TEXT_MEAN_LENGTH = 40
_REGRESSION_MIN_UNIQUE = 20


@dataclass(frozen=True)
class ImageSpec:
    """Feature columns that together form a small grey image (e.g. 8x8 digits)."""

    columns: tuple[str, ...]
    shape: tuple[int, int]


@dataclass(frozen=True)
class ModelSpec:
    """A model file registered with a dataset (loaded only from trusted places)."""

    file: str
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Roles:
    """Overrides of the conventional column roles; ``None`` means "by convention".

    Every field can be given as a ``load_predictions`` argument, in the sidecar
    file (``[roles]`` table and friends, see README) or on the Data page.
    """

    id: str | None = None
    label: str | None = None
    prediction: str | None = None
    task: Task | None = None
    positive: Any = None
    score: str | None = None
    embedding: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    types: Mapping[str, FeatureType] = field(default_factory=dict)
    image: ImageSpec | None = None
    error_threshold: float | None = None
    model: ModelSpec | None = None

    def merged(self, other: Roles) -> Roles:
        """These roles with every field that ``other`` sets taken from ``other``."""
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(other, f.name)
            if value is not None and value != () and value != {}:
                changes[f.name] = value
        if other.types:
            changes["types"] = {**self.types, **other.types}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what the workspace stores), omitting defaults."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or value == {}:
                continue
            if isinstance(value, ImageSpec | ModelSpec):
                value = {k: v for k, v in dataclasses.asdict(value).items() if v is not None}
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, np.generic):
                value = value.item()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "roles") -> Roles:
        """Build roles from a plain mapping (sidecar tables, workspace JSON)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError(
                f"unknown role setting(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(sorted(known))}",
                file=source,
            )
        kw: dict[str, Any] = dict(data)
        if kw.get("task") is not None and kw["task"] not in TASKS:
            raise SchemaError(
                f"task {kw['task']!r} is not one of {', '.join(TASKS)}",
                file=source,
                expected=TASKS,
                received=kw["task"],
            )
        for col, kind in dict(kw.get("types") or {}).items():
            if kind not in FEATURE_TYPES:
                raise SchemaError(
                    f"type {kind!r} for column {col!r} is not one of {', '.join(FEATURE_TYPES)}",
                    file=source,
                    column=col,
                    expected=FEATURE_TYPES,
                    received=kind,
                )
        for key in ("embedding", "ignore"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        if isinstance(kw.get("image"), Mapping):
            image = kw["image"]
            kw["image"] = ImageSpec(tuple(image["columns"]), tuple(image["shape"]))
        if isinstance(kw.get("model"), Mapping):
            kw["model"] = ModelSpec(**kw["model"])
        if kw.get("error_threshold") is not None:
            kw["error_threshold"] = float(kw["error_threshold"])
        return cls(**kw)


@dataclass(frozen=True)
class Schema:
    """The roles of every column of a validated predictions table."""

    label: str
    prediction: str
    task: Task
    features: Mapping[str, FeatureType]
    id: str | None = None
    classes: tuple[Any, ...] = ()
    positive: Any = None
    proba: Mapping[Any, str] = field(default_factory=dict)
    score: str | None = None
    embedding: tuple[str, ...] = ()
    shap: Mapping[str, str] = field(default_factory=dict)
    shap_base: str | None = None
    projection: tuple[str, str] | None = None
    image: ImageSpec | None = None
    error_threshold: float | None = None
    model: ModelSpec | None = None
    ignored: tuple[str, ...] = ()

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def roles_table(self) -> list[dict[str, str]]:
        """One row per column: its role and (for features) its type."""
        rows: list[dict[str, str]] = []

        def add(column: str | None, role: str, kind: str = "") -> None:
            if column is not None:
                rows.append({"column": column, "role": role, "type": kind})

        add(self.id, "id")
        add(self.label, "label")
        add(self.prediction, "prediction")
        add(self.score, f"score (P[{self.positive}])")
        for cls, col in self.proba.items():
            add(col, f"probability of {cls}")
        for col in self.embedding:
            add(col, "embedding")
        for feature, col in self.shap.items():
            add(col, f"SHAP of {feature}")
        add(self.shap_base, "SHAP base value")
        for col in self.projection or ():
            add(col, "2-D projection")
        for col, kind in self.features.items():
            add(col, "feature", kind)
        for col in self.ignored:
            add(col, "ignored")
        return rows


def _find(columns: Sequence[str], names: Iterable[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _require_column(columns: Sequence[str], name: str, role: str, file: str | None) -> str:
    if name not in columns:
        raise SchemaError(
            f"{role} column {name!r} not found; the table has {_list_columns(columns)}",
            file=file,
            column=name,
            expected=f"a column named {name!r}",
            received=list(columns),
        )
    return name


def _list_columns(columns: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def find_roles(columns: Sequence[str], roles: Roles, *, file: str | None = None) -> dict[str, Any]:
    """Resolve id, label, prediction, score, embedding and SHAP columns."""
    found: dict[str, Any] = {}
    for role, names in (("id", ID_NAMES), ("label", LABEL_NAMES), ("prediction", PREDICTION_NAMES)):
        chosen = getattr(roles, role)
        found[role] = (
            _require_column(columns, chosen, role, file) if chosen else _find(columns, names)
        )
    if found["label"] is None:
        raise SchemaError(
            f"no label column: expected one named {' / '.join(LABEL_NAMES)} "
            f"(or say which with --label); the table has {_list_columns(columns)}",
            file=file,
            expected=LABEL_NAMES,
            received=list(columns),
        )
    found["score"] = (
        _require_column(columns, roles.score, "score", file)
        if roles.score
        else (SCORE_NAME if SCORE_NAME in columns else None)
    )
    found["embedding"] = (
        tuple(_require_column(columns, c, "embedding", file) for c in roles.embedding)
        if roles.embedding
        else _embedding_columns(columns)
    )
    found["shap_base"] = _find(columns, SHAP_BASE_NAMES)
    found["shap"] = {
        c[len(SHAP_PREFIX) :]: c
        for c in columns
        if c.startswith(SHAP_PREFIX) and c != found["shap_base"]
    }
    found["projection"] = PROJECTION_NAMES if all(c in columns for c in PROJECTION_NAMES) else None
    return found


def _embedding_columns(columns: Sequence[str]) -> tuple[str, ...]:
    numbered = [(int(m.group(1)), c) for c in columns if (m := EMBEDDING_PATTERN.match(c))]
    if numbered:
        return tuple(c for _, c in sorted(numbered))
    return (EMBEDDING_LIST_NAME,) if EMBEDDING_LIST_NAME in columns else ()


def proba_columns(columns: Sequence[str]) -> dict[str, str]:
    """``{class suffix: column}`` for every ``prob_<class>`` / ``proba_<class>`` column."""
    out: dict[str, str] = {}
    for c in columns:
        for prefix in PROBA_PREFIXES:
            if c.startswith(prefix) and len(c) > len(prefix):
                out.setdefault(c[len(prefix) :], c)
    return out


def infer_task(label: pd.Series, prediction: pd.Series | None) -> Task:
    """Regression for non-integer numeric labels with many values, else binary/multiclass."""
    values = label.dropna()
    if pd.api.types.is_float_dtype(values.dtype):
        non_integer = not np.all(np.mod(values.to_numpy(), 1) == 0)
        if non_integer or values.nunique() > _REGRESSION_MIN_UNIQUE:
            return "regression"
    elif pd.api.types.is_integer_dtype(values.dtype) and values.nunique() > _REGRESSION_MIN_UNIQUE:
        if prediction is not None and pd.api.types.is_float_dtype(prediction.dtype):
            return "regression"
    n_classes = values.nunique()
    return "binary" if n_classes <= 2 else "multiclass"


def infer_feature_type(series: pd.Series) -> FeatureType:
    """Type of one feature column from its dtype and (for strings) its values."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return _infer_object_type(series)


def _infer_object_type(series: pd.Series) -> FeatureType:
    sample = series.dropna()
    if len(sample) > 2000:
        sample = sample.sample(2000, random_state=0)
    if len(sample) == 0:
        return "categorical"
    first = sample.iloc[0]
    if hasattr(first, "year") and hasattr(first, "month"):  # datetime.date from the CSV reader
        return "datetime"
    if not all(isinstance(v, str) for v in sample):
        return "categorical"
    text = sample.astype(str)
    if text.map(lambda v: bool(_ISO_DATE.match(v))).all():
        return "datetime"
    n_unique = series.nunique(dropna=True)
    if text.str.len().mean() > _TEXT_MEAN_LENGTH or (
        n_unique > _TEXT_MIN_UNIQUE and n_unique > 0.5 * series.notna().sum()
    ):
        return "text"
    return "categorical"


def feature_types(
    frame: pd.DataFrame, columns: Iterable[str], overrides: Mapping[str, FeatureType]
) -> dict[str, FeatureType]:
    """Types of the feature columns, overrides first."""
    return {c: cast(FeatureType, overrides.get(c) or infer_feature_type(frame[c])) for c in columns}
