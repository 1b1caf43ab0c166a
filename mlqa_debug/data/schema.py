"""What a predictions table is: column roles, feature types, task and classes.

The roles follow the input contract in DESIGN.md. They are found by convention
(:data:`LABEL_NAMES`, ``prob_<class>`` ...) and can always be overridden through
:class:`Roles`, which comes from function arguments, a sidecar TOML file or the
Data page. :func:`find_roles`, :func:`infer_task` and :func:`feature_types` resolve the
parts of a :class:`Schema`. This module validates no values: the checks in
:mod:`mlqa_debug.data.checks` do.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd

from mlqa_debug.errors import SchemaError
from mlqa_debug.types import Task

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
_SAMPLE_SIZE = 2000


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
        """Build roles from a plain mapping (sidecar tables, workspace JSON).

        Every malformed value raises :class:`SchemaError` naming ``source``.
        """
        if not isinstance(data, Mapping):
            raise SchemaError(
                f"role settings must be a table of key = value, got {type(data).__name__}",
                file=source,
                expected="a table",
                received=data,
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError(
                f"unknown role setting(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(sorted(known))}",
                file=source,
                expected=sorted(known),
                received=unknown,
            )
        kw: dict[str, Any] = dict(data)
        if kw.get("task") is not None and kw["task"] not in TASKS:
            raise SchemaError(
                f"task {kw['task']!r} is not one of {', '.join(TASKS)}",
                file=source,
                expected=TASKS,
                received=kw["task"],
            )
        for key in ("id", "label", "prediction", "score"):
            if kw.get(key) is not None and not isinstance(kw[key], str):
                raise _setting_error(key, "a column name (a string)", kw[key], source)
        for key, parse in _PARSERS.items():
            if kw.get(key) is not None:
                kw[key] = parse(kw[key], source)
        return cls(**kw)


def _setting_error(key: str, expected: str, received: Any, source: str) -> SchemaError:
    return SchemaError(
        f"role setting {key!r} must be {expected}, got {received!r}",
        file=source,
        expected=expected,
        received=received,
    )


def _parse_names(key: str) -> Callable[[Any, str], tuple[str, ...]]:
    def parse(value: Any, source: str) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise _setting_error(key, "a column name or a list of column names", value, source)

    return parse


def _parse_types(value: Any, source: str) -> dict[str, FeatureType]:
    if not isinstance(value, Mapping):
        raise _setting_error("types", "a table of column = type", value, source)
    for col, kind in value.items():
        if kind not in FEATURE_TYPES:
            raise SchemaError(
                f"type {kind!r} for column {col!r} is not one of {', '.join(FEATURE_TYPES)}",
                file=source,
                column=col,
                expected=FEATURE_TYPES,
                received=kind,
            )
    return dict(value)


def _parse_image(value: Any, source: str) -> ImageSpec:
    if isinstance(value, ImageSpec):
        return value
    expected = "a table with columns (glob or list of names) and shape = [height, width]"
    if not isinstance(value, Mapping) or set(value) != {"columns", "shape"}:
        raise _setting_error("image", expected, value, source)
    columns, shape = value["columns"], value["shape"]
    if isinstance(columns, str):
        columns = [columns]
    valid_shape = isinstance(shape, list | tuple) and len(shape) == 2
    if not (
        isinstance(columns, list | tuple)
        and all(isinstance(c, str) for c in columns)
        and valid_shape
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise _setting_error("image", expected, value, source)
    return ImageSpec(tuple(columns), (shape[0], shape[1]))


def _parse_model(value: Any, source: str) -> ModelSpec:
    if isinstance(value, ModelSpec):
        return value
    expected = "a table with file (and optional name, version)"
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("file"), str)
        or not set(value) <= {"file", "name", "version"}
    ):
        raise _setting_error("model", expected, value, source)
    optional = {k: None if value.get(k) is None else str(value[k]) for k in ("name", "version")}
    return ModelSpec(value["file"], **optional)


def _parse_threshold(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _setting_error("error_threshold", "a number", value, source)
    try:
        threshold = float(value)
    except ValueError:
        raise _setting_error("error_threshold", "a number", value, source) from None
    if not np.isfinite(threshold) or threshold < 0:
        raise _setting_error("error_threshold", "a number >= 0", value, source)
    return threshold


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "types": _parse_types,
    "embedding": _parse_names("embedding"),
    "ignore": _parse_names("ignore"),
    "image": _parse_image,
    "model": _parse_model,
    "error_threshold": _parse_threshold,
}


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
    left_out: Mapping[str, str] = field(default_factory=dict)
    """Columns of lists, structs or maps left out of the features: ``{column: kind}``."""

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
        for col, nested in self.left_out.items():
            add(col, "left out (nested values)", nested)
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


def missing_label_error(columns: Sequence[str], *, file: str | None = None) -> SchemaError:
    """The error of a table without a label column (none named, none by convention)."""
    return SchemaError(
        f"no label column: expected one named {' / '.join(LABEL_NAMES)} "
        f"(or say which with --label); the table has {_list_columns(columns)}",
        file=file,
        expected=LABEL_NAMES,
        received=list(columns),
    )


def find_roles(
    columns: Sequence[str], roles: Roles, *, file: str | None = None, require_label: bool = True
) -> dict[str, Any]:
    """Resolve id, label, prediction, score, embedding and SHAP columns.

    A column the roles name must exist; without ``require_label`` a table with no
    label column gives ``found["label"] is None`` instead of an error.
    """
    found: dict[str, Any] = {}
    for role, names in (("id", ID_NAMES), ("label", LABEL_NAMES), ("prediction", PREDICTION_NAMES)):
        chosen = getattr(roles, role)
        found[role] = (
            _require_column(columns, chosen, role, file) if chosen else _find(columns, names)
        )
    if found["label"] is None and require_label:
        raise missing_label_error(columns, file=file)
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
    return _type_of_dtype(series.dtype) or _infer_object_type(series)


def _type_of_dtype(dtype: Any) -> FeatureType | None:
    """The type a dtype alone decides (``None`` for strings and objects: look at values)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return None


def _sample_present(series: pd.Series) -> pd.Series:
    """Up to :data:`_SAMPLE_SIZE` non-missing values, a seeded sample in row order."""
    present = np.flatnonzero(series.notna().to_numpy())
    if len(present) > _SAMPLE_SIZE:  # O(sample), not a shuffle or copy of the column
        chosen = np.random.default_rng(0).choice(present, _SAMPLE_SIZE, replace=False)
        present = np.sort(chosen)
    return series.iloc[present]


def _infer_object_type(series: pd.Series) -> FeatureType:
    return _type_of_values(
        _sample_present(series).to_numpy(dtype=object),
        n_present=lambda: int(series.notna().sum()),
        n_unique=lambda: int(series.nunique(dropna=True)),
    )


def _type_of_values(
    sample: np.ndarray, *, n_present: Callable[[], int], n_unique: Callable[[], int]
) -> FeatureType:
    """The type of a string or object column from a sample of its present values.

    Plain Python over the sample (no pandas call per column); the column's counts
    are asked for only when they decide (more than :data:`_TEXT_MIN_UNIQUE` values).
    """
    if len(sample) == 0:
        return "categorical"
    first = sample[0]
    if hasattr(first, "year") and hasattr(first, "month"):  # datetime.date from the CSV reader
        return "datetime"
    if all(isinstance(v, bool | np.bool_) for v in sample):  # booleans with missing values
        return "boolean"
    if not all(isinstance(v, str) for v in sample):
        return "categorical"
    if all(_ISO_DATE.match(v) for v in sample):
        return "datetime"
    if sum(len(v) for v in sample) / len(sample) > _TEXT_MEAN_LENGTH:
        return "text"
    present = n_present()
    if present <= _TEXT_MIN_UNIQUE:  # then there are at most as many distinct values
        return "categorical"
    unique = n_unique()
    if unique > _TEXT_MIN_UNIQUE and unique > 0.5 * present:
        return "text"
    return "categorical"


def _object_types(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, FeatureType]:
    """Types of string or object columns; a short table's are read as one 2-D array.

    A wide table of few rows (up to :data:`_SAMPLE_SIZE`, all of them the sample)
    costs one conversion for all its string columns, not several pandas calls each.
    """
    if len(frame) > _SAMPLE_SIZE or len(columns) < 2:
        return {c: _infer_object_type(frame[c]) for c in columns}
    values = frame[list(columns)].to_numpy(dtype=object)
    present = ~pd.isna(values)
    out: dict[str, FeatureType] = {}
    for j, column in enumerate(columns):
        sample: np.ndarray = values[present[:, j], j]
        out[column] = _type_of_values(
            sample, n_present=partial(len, sample), n_unique=partial(_n_distinct, sample)
        )
    return out


def _n_distinct(values: np.ndarray) -> int:
    return len(set(values.tolist()))


def feature_types(
    frame: pd.DataFrame, columns: Iterable[str], overrides: Mapping[str, FeatureType]
) -> dict[str, FeatureType]:
    """Types of the feature columns, overrides first.

    The dtypes are read once for the whole frame and only a column of strings or
    objects is looked at (all of them together), so a table of 50,000 columns costs
    no pandas call per column.
    """
    chosen = list(columns)
    dtypes = frame.dtypes
    decided = {d: _type_of_dtype(d) for d in set(dtypes.tolist())}  # few distinct dtypes
    by_dtype = {str(c): decided[d] for c, d in zip(dtypes.index, dtypes.tolist(), strict=True)}
    looked_at = _object_types(frame, [c for c in chosen if not (overrides.get(c) or by_dtype[c])])
    return {c: cast(FeatureType, overrides.get(c) or by_dtype[c] or looked_at[c]) for c in chosen}
