"""Reading and validating a predictions table (CSV or Parquet).

:func:`load_predictions` is the one way in. It reads the file once, resolves the
column roles (arguments > sidecar file > conventions), validates the values and
returns a :class:`Predictions`: the frame, its :class:`~mlqa_debug.data.schema.Schema`,
a content fingerprint and the derived arrays every analysis needs (integer-coded
labels and predictions, the error indicator, probabilities), computed lazily once.

Every problem with the input raises :class:`~mlqa_debug.errors.SchemaError`
naming the file, the column, the rows (numbered from 1, the first data row) and
what was expected. Odd but valid input (predictions of a class no label has)
gives a ``UserWarning`` and is listed in ``Predictions.warnings``.
"""

from __future__ import annotations

import contextvars
import fnmatch
import hashlib
import io
import os
import re
import threading
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from mlqa_debug.data.schema import (
    FeatureType,
    ImageSpec,
    Roles,
    Schema,
    Task,
    feature_types,
    find_roles,
    infer_task,
    proba_columns,
)
from mlqa_debug.errors import SchemaError, format_rows

if TYPE_CHECKING:
    from mlqa_debug.slicing.slices import ColumnKind
    from mlqa_debug.stats.metrics import ClassificationData, RegressionData

Source = str | os.PathLike[str] | IO[bytes]
T = TypeVar("T")

SUPPORTED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
SIDECAR_SUFFIX = ".mlqa.toml"
DEFAULT_MAX_MB = 2048
MAX_MB_ENV = "MLQA_DEBUG_MAX_FILE_MB"
PROBA_TOLERANCE = 1e-6
PROBA_SUM_TOLERANCE = 1e-3
DEFAULT_ERROR_QUANTILE = 0.9


#: Notes about odd but valid input, collected per load (a context variable, so
#: concurrent loads in Streamlit's session threads never mix them up).
_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "mlqa_debug_notes", default=None
)


def _note(message: str) -> None:
    """Record odd but valid input: listed in ``Predictions.warnings`` and warned."""
    collected = _NOTES.get()
    if collected is None:
        warnings.warn(message, UserWarning, stacklevel=3)
    else:
        collected.append(message)


def max_file_bytes() -> int:
    """The file size cap: ``MLQA_DEBUG_MAX_FILE_MB`` (default 2048 MB)."""
    raw = os.environ.get(MAX_MB_ENV, str(DEFAULT_MAX_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = float("nan")
    if not megabytes >= 0:  # also refuses NaN
        raise SchemaError(
            f"{MAX_MB_ENV}={raw!r} is not a size in megabytes; expected a number such as 2048",
            expected="a number >= 0",
            received=raw,
        )
    return int(megabytes * 2**20)


def sidecar_path(path: Path) -> Path:
    """Where the sidecar of a data file lives: ``<stem>.mlqa.toml`` beside it."""
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def rows_text(positions: Sequence[int] | np.ndarray) -> str:
    """``rows 4, 17, 90, ...`` from 0-based positions (printed from 1)."""
    return format_rows([int(p) + 1 for p in positions])


@dataclass(eq=False)
class Predictions:
    """A validated predictions table: frame, schema, fingerprint and derived arrays.

    Treat it as read-only; it is shared between pages and sessions.
    """

    frame: pd.DataFrame
    schema: Schema
    fingerprint: str
    source: str
    warnings: tuple[str, ...] = field(default=())
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    _memo_guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A structure derived from this table, built once and kept with it.

        Thread-safe per key: concurrent callers of one key wait for a single build,
        other keys proceed, and a build may itself call ``memo`` for other keys.
        """
        if key in self._memo:
            return cast(T, self._memo[key])
        with self._memo_guard:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = build()
            return cast(T, self._memo[key])

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
        return np.asarray(codes, dtype=np.int32)

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
            return out
        if s.proba:
            return self.frame[[s.proba[c] for c in s.classes]].to_numpy(dtype=np.float64)
        return None

    @cached_property
    def confidence(self) -> np.ndarray | None:
        """Probability of the predicted class, where probabilities exist."""
        proba = self.proba_matrix
        if proba is None:
            return None
        return proba[np.arange(len(proba)), np.maximum(self.y_pred_codes, 0)]

    @cached_property
    def residual(self) -> np.ndarray:
        """``prediction - label`` (regression only)."""
        s = self.schema
        return self.frame[s.prediction].to_numpy(np.float64) - self.frame[s.label].to_numpy(
            np.float64
        )

    @cached_property
    def error(self) -> np.ndarray:
        """True where the model errs: a wrong class, or ``|residual| > error_threshold``."""
        if self.schema.is_classification:
            return self.y_true_codes != self.y_pred_codes
        return np.abs(self.residual) > cast(float, self.schema.error_threshold)

    @cached_property
    def metric_data(self) -> ClassificationData | RegressionData:
        """Precomputed inputs of :func:`mlqa_debug.stats.metrics.evaluate`."""
        from mlqa_debug.stats import metrics as metrics

        if self.schema.is_classification:
            return metrics.prepare_classification(
                self.y_true_codes,
                self.y_pred_codes,
                classes=[str(c) for c in self.schema.classes],
                pred_probs=self.proba_matrix,
            )
        return metrics.prepare_regression(
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
            out["abs_error"] = np.abs(self.residual)
        return {k: v for k, v in out.items() if k not in self.frame.columns}

    @cached_property
    def slice_frame(self) -> pd.DataFrame:
        """The frame plus derived columns, for ``Slice.mask`` (no copy of the data)."""
        return self.frame.assign(**self.derived) if self.derived else self.frame

    @cached_property
    def column_kinds(self) -> dict[str, ColumnKind]:
        """Kind of every column a slice may name, for ``Slice.check``."""
        s = self.schema
        target: ColumnKind = "categorical" if s.is_classification else "numeric"
        kinds: dict[str, ColumnKind] = dict(s.features)
        kinds[s.label] = target
        kinds[s.prediction] = target
        if s.id is not None:
            kinds[s.id] = "text"
        for column in (s.score, *s.proba.values()):
            if column is not None:
                kinds[column] = "numeric"
        for name in self.derived:
            kinds[name] = "boolean" if name == "error" else "numeric"
        return kinds

    def summary(self) -> dict[str, Any]:
        """JSON-safe overview: size, task, classes, error rate, roles, warnings."""
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
        }

    def checks(self) -> list[str]:
        """The validations this table passed, in words (the Data page's report)."""
        s = self.schema
        done = [
            f"label column {s.label!r}: no missing values",
            f"prediction column {s.prediction!r}: no missing values",
        ]
        if s.id is not None:
            done.append(f"id column {s.id!r}: present on every row and unique")
        if s.is_classification:
            done.append(f"{len(s.classes)} classes; label and prediction compared as one type")
        else:
            done.append(
                f"label and prediction are numbers; an error is |residual| > "
                f"{s.error_threshold:.4g}"
            )
        if s.score is not None:
            done.append(f"score column {s.score!r}: numbers in [0, 1] (P[{s.positive}])")
        if s.proba:
            done.append(f"{len(s.proba)} probability columns: numbers in [0, 1], rows sum to 1")
        if s.embedding:
            done.append(f"embedding: {len(s.embedding)} column(s)")
        if s.image is not None:
            done.append(
                f"image: {len(s.image.columns)} columns as {s.image.shape[0]}x{s.image.shape[1]}"
            )
        return done

    @cached_property
    def embedding_matrix(self) -> np.ndarray | None:
        """``(n_samples, dim)`` embedding from ``emb_*`` columns or a list column."""
        cols = self.schema.embedding
        if not cols:
            return None
        if len(cols) == 1 and self.frame[cols[0]].dtype == object:
            return np.vstack(list(self.frame[cols[0]])).astype(np.float32)
        return self.frame[list(cols)].to_numpy(np.float32)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_predictions(
    source: Source,
    *,
    label: str | None = None,
    prediction: str | None = None,
    id: str | None = None,  # noqa: A002 - the role's name in the input contract
    task: Task | None = None,
    positive: Any = None,
    roles: Roles | None = None,
    sidecar: str | os.PathLike[str] | bool = True,
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
    raw, display, path = _read_bytes(source, name=name, max_bytes=max_bytes)
    frame = _parse(raw, display)
    fingerprint = hashlib.blake2b(raw, digest_size=16).hexdigest()
    del raw
    merged = _sidecar_roles(path, sidecar).merged(roles or Roles())
    merged = merged.merged(
        Roles(id=id, label=label, prediction=prediction, task=task, positive=positive)
    )
    collected: list[str] = []
    token = _NOTES.set(collected)
    try:
        schema = build_schema(frame, merged, file=display)
    finally:
        _NOTES.reset(token)
    for note in collected:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Predictions(frame, schema, fingerprint, display, tuple(collected))


def _read_bytes(
    source: Source, *, name: str | None, max_bytes: int | None
) -> tuple[bytes, str, Path | None]:
    cap = max_file_bytes() if max_bytes is None else max_bytes
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        display = name or path.name
        if not path.is_file():
            raise SchemaError("file not found or not a regular file", file=str(path))
        _check_size(path.stat().st_size, cap, display)
        _check_suffix(display)
        return path.read_bytes(), display, path
    display = name or Path(str(getattr(source, "name", "upload"))).name
    _check_suffix(display)
    raw = source.read(cap + 1)
    _check_size(len(raw), cap, display)
    return raw, display, None


def _check_suffix(display: str) -> None:
    if Path(display).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise SchemaError(
            f"unsupported file type {Path(display).suffix or '(none)'!r}; "
            "expected a .csv or .parquet file",
            file=display,
            expected=sorted(SUPPORTED_SUFFIXES),
            received=Path(display).suffix,
        )


def _check_size(size: int, cap: int, display: str) -> None:
    if size == 0:
        raise SchemaError("the file is empty; expected a header row and data rows", file=display)
    if size > cap:
        raise SchemaError(
            f"the file is {size / 2**20:.1f} MB, over the {cap / 2**20:.0f} MB limit "
            "(set MLQA_DEBUG_MAX_FILE_MB to raise it)",
            file=display,
            expected=cap,
            received=size,
        )


def _parse(raw: bytes, display: str) -> pd.DataFrame:
    kind = SUPPORTED_SUFFIXES[Path(display).suffix.lower()]
    try:
        if kind == "parquet":
            frame = pd.read_parquet(pa.BufferReader(raw))  # zero-copy, unlike io.BytesIO
        else:
            frame = _read_csv(raw)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise SchemaError(f"cannot read the file as {kind.upper()}: {e}", file=display) from e
    if frame.shape[1] == 0 or len(frame) == 0:
        raise SchemaError(
            f"the table has no {'columns' if frame.shape[1] == 0 else 'rows'}; "
            "expected a header row and at least one data row",
            file=display,
        )
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_csv(raw: bytes) -> pd.DataFrame:
    try:
        return pd.read_csv(pa.BufferReader(raw), engine="pyarrow")
    except (ValueError, TypeError):  # the C engine is slower but more forgiving
        return pd.read_csv(io.BytesIO(raw))


def _sidecar_roles(path: Path | None, sidecar: str | os.PathLike[str] | bool) -> Roles:
    if sidecar is False:
        return Roles()
    if sidecar is True:
        if path is None:
            return Roles()
        candidate = sidecar_path(path)
        if not candidate.is_file():
            return Roles()
    else:
        candidate = Path(sidecar)
    return read_sidecar(candidate)


def read_sidecar(path: Path) -> Roles:
    """Roles from a sidecar TOML: tables ``[roles]``, ``[types]``, ``[image]``, ``[model]``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SchemaError(f"cannot read the sidecar file: {e}", file=str(path)) from e
    unknown = sorted(set(data) - {"roles", "types", "image", "model"})
    if unknown:
        raise SchemaError(
            f"unknown table(s) {', '.join(map(repr, unknown))}; "
            "expected roles, types, image, model",
            file=str(path),
        )
    not_tables = sorted(k for k, v in data.items() if not isinstance(v, dict))
    if not_tables:
        raise SchemaError(
            f"{', '.join(map(repr, not_tables))} must be a table ([{not_tables[0]}])",
            file=str(path),
            expected="tables roles, types, image, model",
            received=not_tables,
        )
    spec: dict[str, Any] = dict(data.get("roles", {}))
    for key in ("types", "image", "model"):
        if key in data:
            spec[key] = data[key]
    if isinstance(spec.get("image"), dict) and isinstance(spec["image"].get("columns"), str):
        spec["image"] = {**spec["image"], "columns": [spec["image"]["columns"]]}  # one glob
    return Roles.from_dict(spec, source=str(path))


def build_schema(frame: pd.DataFrame, roles: Roles, *, file: str | None = None) -> Schema:
    """Resolve roles, validate values and type the features; may convert columns in place."""
    columns = list(frame.columns)
    found = find_roles(columns, roles, file=file)
    label = found["label"]
    _check_missing(frame, label, "label", file)
    probas = {k: v for k, v in proba_columns(columns).items() if v != label}
    prediction = found["prediction"]
    task = roles.task or infer_task(frame[label], frame[prediction] if prediction else None)
    if prediction is None:
        prediction = _derive_prediction(frame, task, probas, found, roles, file)
    _check_missing(frame, prediction, "prediction", file)
    if found["id"] is not None:
        _check_ids(frame, found["id"], file)
    role_columns = _role_columns(found, prediction, probas)
    ignored = tuple(c for c in roles.ignore if c in frame.columns)
    features = [c for c in columns if c not in role_columns and c not in ignored]
    kinds = feature_types(frame, features, roles.types)
    _convert_features(frame, kinds, roles.types, file)
    image = _resolve_image(roles.image, columns, file)
    common: dict[str, Any] = dict(
        label=label,
        prediction=prediction,
        task=task,
        features=kinds,
        id=found["id"],
        embedding=found["embedding"],
        shap=found["shap"],
        shap_base=found["shap_base"],
        projection=found["projection"],
        image=image,
        model=roles.model,
        ignored=ignored,
    )
    if task == "regression":
        return Schema(
            **common, error_threshold=_regression_threshold(frame, label, prediction, roles, file)
        )
    return _classification_schema(frame, common, probas, found, roles, file)


def _role_columns(found: dict[str, Any], prediction: str, probas: Mapping[str, str]) -> set[str]:
    cols = {found["label"], prediction, found["id"], found["score"], found["shap_base"]}
    cols |= set(found["embedding"]) | set(found["shap"].values()) | set(probas.values())
    cols |= set(found["projection"] or ())
    return {c for c in cols if c is not None}


def _check_missing(frame: pd.DataFrame, column: str, role: str, file: str | None) -> None:
    missing = np.flatnonzero(frame[column].isna().to_numpy())
    if len(missing):
        raise SchemaError(
            f"{role} column {column!r} has {len(missing)} missing value"
            f"{'s' if len(missing) > 1 else ''} ({rows_text(missing)}); fill or drop them",
            file=file,
            column=column,
            rows=missing[:100].tolist(),
            expected="no missing values",
            received=f"{len(missing)} missing",
        )


def _check_ids(frame: pd.DataFrame, column: str, file: str | None) -> None:
    ids = frame[column]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise SchemaError(
            f"id column {column!r} has {len(missing)} missing value"
            f"{'s' if len(missing) > 1 else ''} ({rows_text(missing)}); every row needs an id",
            file=file,
            column=column,
            rows=missing[:100].tolist(),
            expected="an id on every row",
        )
    dup = np.flatnonzero(ids.duplicated(keep="first").to_numpy())
    if len(dup):
        values = ", ".join(repr(v) for v in ids.iloc[dup[:3]].tolist())
        raise SchemaError(
            f"id column {column!r} has {len(dup)} duplicate value"
            f"{'s' if len(dup) > 1 else ''} ({rows_text(dup)}: {values}); ids must be unique",
            file=file,
            column=column,
            rows=dup[:100].tolist(),
            expected="unique ids",
            received=ids.iloc[dup[:10]].tolist(),
        )


def _derive_prediction(
    frame: pd.DataFrame,
    task: Task,
    probas: Mapping[str, str],
    found: dict[str, Any],
    roles: Roles,
    file: str | None,
) -> str:
    """Add a ``prediction`` column from probabilities, or fail naming what was expected."""
    if task == "regression" or not (probas or found["score"]):
        raise SchemaError(
            "no prediction column: expected one named prediction / y_pred / pred "
            "(or say which with --prediction), or probability columns prob_<class> to derive it",
            file=file,
            expected=("prediction", "y_pred", "pred"),
            received=list(frame.columns),
        )
    classes = _classes(frame, found["label"], None, probas.keys(), file)
    score = found["score"]
    if score is None and len(classes) == 2 and len(probas) == 1:  # prob_<positive> alone
        score = probas.get(str(_positive(classes, roles.positive, file)))
    if score is not None and len(classes) == 2:
        _check_probabilities(frame, [score], False, file)
        positive = _positive(classes, roles.positive, file)
        negative = next(c for c in classes if c != positive)
        derived = np.where(frame[score].to_numpy(np.float64) >= 0.5, positive, negative)
    elif probas:
        cols = [probas[str(c)] for c in classes if str(c) in probas]
        names = [c for c in classes if str(c) in probas]
        _check_probabilities(frame, cols, False, file)
        derived = np.asarray(names, dtype=object)[frame[cols].to_numpy(np.float64).argmax(axis=1)]
    else:
        raise SchemaError(
            f"no prediction column, and the score column {score!r} cannot give one: the labels "
            f"hold {len(classes)} class{'es' if len(classes) != 1 else ''}, a score needs 2",
            file=file,
            column=score,
            expected="2 classes",
            received=list(classes),
        )
    frame["prediction"] = pd.Series(derived, index=frame.index).astype(frame[found["label"]].dtype)
    return "prediction"


def _classification_schema(
    frame: pd.DataFrame,
    common: dict[str, Any],
    probas: Mapping[str, str],
    found: dict[str, Any],
    roles: Roles,
    file: str | None,
) -> Schema:
    label, prediction = common["label"], common["prediction"]
    _align_targets(frame, label, prediction, file)
    classes = _classes(frame, label, prediction, probas.keys(), file)
    if common["task"] == "binary" and len(classes) > 2 and roles.task is None:
        common["task"] = "multiclass"  # labels hold 2 classes, predictions more
    if common["task"] == "binary" and len(classes) > 2:
        raise SchemaError(
            f"task is binary but label and prediction hold {len(classes)} classes "
            f"({', '.join(map(repr, classes[:8]))})",
            file=file,
            column=label,
            expected="2 classes",
            received=list(classes),
        )
    positive = _positive(classes, roles.positive, file) if len(classes) == 2 else None
    proba = {c: probas[str(c)] for c in classes if str(c) in probas}
    score = found["score"] if common["task"] == "binary" else None
    if score is not None and len(classes) < 2:
        _note(
            f"{file + ': ' if file else ''}score column {score!r} is ignored: label and "
            f"prediction hold the single class {classes[0]!r}, so the score's class is unknown"
        )
        score = None
    if len(classes) == 2 and score is None and len(proba) == 1 and positive in proba:
        score, proba = proba[positive], {}
    if proba and len(proba) < len(classes):
        absent = [c for c in classes if c not in proba]
        raise SchemaError(
            f"probability columns cover {len(proba)} of {len(classes)} classes; "
            f"no prob_<class> column for {', '.join(map(repr, absent[:5]))}",
            file=file,
            expected=[f"prob_{c}" for c in classes],
            received=list(proba.values()),
        )
    _check_probabilities(frame, [score] if score else list(proba.values()), bool(proba), file)
    return Schema(**common, classes=tuple(classes), positive=positive, proba=proba, score=score)


def _align_targets(frame: pd.DataFrame, label: str, prediction: str, file: str | None) -> None:
    """Give label and prediction one comparable dtype (ints, or strings)."""
    y, p = frame[label], frame[prediction]
    if pd.api.types.is_numeric_dtype(y.dtype) and pd.api.types.is_numeric_dtype(p.dtype):
        if _integral(y) and _integral(p):
            frame[label], frame[prediction] = y.astype(np.int64), p.astype(np.int64)
        return
    frame[label] = _as_text(y)
    frame[prediction] = _as_text(p)


def _integral(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return False
    values = s.to_numpy(np.float64)
    return bool(np.all(np.mod(values, 1) == 0))


def _as_text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s.dtype) and _integral(s):
        s = s.astype(np.int64)
    return s.astype(str)


def _natural_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def _classes(
    frame: pd.DataFrame,
    label: str,
    prediction: str | None,
    proba_suffixes: Any,
    file: str | None,
) -> list[Any]:
    seen = list(pd.unique(frame[label]))
    numeric = pd.api.types.is_numeric_dtype(frame[label].dtype) and not pd.api.types.is_bool_dtype(
        frame[label].dtype
    )
    extra: list[Any] = []
    if prediction is not None:
        predicted = {_plain(v) for v in pd.unique(frame[prediction])}
        never = sorted(predicted - {_plain(v) for v in seen}, key=_natural_key)
        if never:
            rows = np.flatnonzero(frame[prediction].isin(never).to_numpy())
            _note(
                f"{file + ': ' if file else ''}prediction column {prediction!r} has class"
                f"{'es' if len(never) > 1 else ''} {', '.join(map(repr, never[:5]))} that no label "
                f"has ({rows_text(rows)}); they count as errors"
            )
            extra += never
    for suffix in proba_suffixes:
        value = _suffix_value(suffix, numeric, file)
        if value not in seen and value not in extra:
            extra.append(value)
    values = [v.item() if isinstance(v, np.generic) else v for v in [*seen, *extra]]
    return sorted(set(values), key=_natural_key)


def _suffix_value(suffix: str, numeric: bool, file: str | None) -> Any:
    if not numeric:
        return suffix
    try:
        return int(suffix) if re.fullmatch(r"-?\d+", suffix) else float(suffix)
    except ValueError:
        raise SchemaError(
            f"probability column for class {suffix!r} does not match the numeric labels; "
            "expected prob_<class> with the label's values",
            file=file,
            column=f"prob_{suffix}",
            expected="numeric class names",
            received=suffix,
        ) from None


def _positive(classes: Sequence[Any], positive: Any, file: str | None) -> Any:
    if positive is None:
        return classes[-1]
    for c in classes:
        if c == positive or str(c) == str(positive):
            return c
    raise SchemaError(
        f"positive class {positive!r} is not among the classes {list(classes)}",
        file=file,
        expected=list(classes),
        received=positive,
    )


def _check_probabilities(
    frame: pd.DataFrame, columns: Sequence[str], check_sum: bool, file: str | None
) -> None:
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(
            ~np.isfinite(values) | (values < -PROBA_TOLERANCE) | (values > 1 + PROBA_TOLERANCE)
        )
        if len(bad):
            shown = frame[col].iloc[bad[:3]].tolist()
            raise SchemaError(
                f"probability column {col!r} has {len(bad)} value{'s' if len(bad) > 1 else ''} "
                f"that are not numbers in [0, 1] ({rows_text(bad)}: {shown})",
                file=file,
                column=col,
                rows=bad[:100].tolist(),
                expected="numbers in [0, 1]",
                received=shown,
            )
    if check_sum and columns:
        sums = frame[list(columns)].to_numpy(np.float64).sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROBA_SUM_TOLERANCE)
        if len(bad):
            raise SchemaError(
                f"probability columns do not sum to 1 on {len(bad)} row"
                f"{'s' if len(bad) > 1 else ''} ({rows_text(bad)}: sums "
                f"{[round(float(s), 4) for s in sums[bad[:3]]]})",
                file=file,
                column=", ".join(columns),
                rows=bad[:100].tolist(),
                expected=f"1 ± {PROBA_SUM_TOLERANCE}",
                received=sums[bad[:10]].tolist(),
            )


def _regression_threshold(
    frame: pd.DataFrame, label: str, prediction: str, roles: Roles, file: str | None
) -> float:
    for col in (label, prediction):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((values.isna() & frame[col].notna()).to_numpy())
        if len(bad):
            raise SchemaError(
                f"regression column {col!r} has {len(bad)} non-numeric value"
                f"{'s' if len(bad) > 1 else ''} ({rows_text(bad)}: "
                f"{frame[col].iloc[bad[:3]].tolist()})",
                file=file,
                column=col,
                rows=bad[:100].tolist(),
                expected="numbers",
            )
        frame[col] = values.astype(np.float64)
    if roles.error_threshold is not None:
        return float(roles.error_threshold)
    residual = np.abs(frame[prediction].to_numpy() - frame[label].to_numpy())
    return float(np.quantile(residual, DEFAULT_ERROR_QUANTILE))


def _convert_features(
    frame: pd.DataFrame,
    kinds: dict[str, FeatureType],
    overrides: Mapping[str, FeatureType],
    file: str | None,
) -> None:
    """Store categoricals as ``category`` (integer codes), dates as datetimes, numbers as floats.

    A column typed by the user that does not convert raises :class:`SchemaError`; an
    inferred datetime column with a value that is not a date becomes categorical.
    """
    for col, kind in kinds.items():
        s = frame[col]
        if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
            converted = _to_datetime(s)
            if not _converted_all(s, converted, col, "ISO dates", col in overrides, file):
                kinds[col] = kind = "categorical"
            else:
                frame[col] = converted
        elif kind == "numeric" and not pd.api.types.is_numeric_dtype(s.dtype):
            converted = pd.to_numeric(s, errors="coerce")
            _converted_all(s, converted, col, "numbers", True, file)
            frame[col] = converted.astype(np.float64)
        elif kind == "boolean" and not pd.api.types.is_bool_dtype(s.dtype):
            frame[col] = _to_boolean(s, col, file)
        if kind == "categorical" and not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("category")


def _to_boolean(s: pd.Series, col: str, file: str | None) -> pd.Series:
    """Booleans with missing values (or 0/1 numbers) as the nullable ``boolean`` dtype."""
    values = s.dropna().unique()
    bad = [v for v in values if not isinstance(v, bool | np.bool_ | int | float | np.number)]
    if bad or not set(values.tolist()) <= {0, 1}:
        rows = np.flatnonzero((s.notna() & ~s.isin([True, False])).to_numpy())
        shown = s.iloc[rows[:3]].tolist()
        raise SchemaError(
            f"column {col!r} should hold booleans (True / False or 0 / 1), but "
            f"{len(rows)} of its values are not ({rows_text(rows)}: {shown})",
            file=file,
            column=col,
            rows=rows[:100].tolist(),
            expected="True / False",
            received=shown,
        )
    return s.astype("boolean")


def _to_datetime(s: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(s, errors="coerce", format="ISO8601")
    except ValueError:  # mixed UTC offsets: compare them as UTC, as the CSV reader does
        return pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)


def _converted_all(
    before: pd.Series, after: pd.Series, col: str, what: str, strict: bool, file: str | None
) -> bool:
    """Whether every value converted; if not and ``strict``, raise naming the rows."""
    bad = np.flatnonzero((after.isna() & before.notna()).to_numpy())
    if len(bad) and strict:
        shown = before.iloc[bad[:3]].tolist()
        raise SchemaError(
            f"column {col!r} should hold {what}, but {len(bad)} of its values "
            f"{'do' if len(bad) > 1 else 'does'} not convert ({rows_text(bad)}: {shown})",
            file=file,
            column=col,
            rows=bad[:100].tolist(),
            expected=what,
            received=shown,
        )
    return not len(bad)


def _resolve_image(
    spec: ImageSpec | None, columns: Sequence[str], file: str | None
) -> ImageSpec | None:
    if spec is None:
        return None
    resolved: list[str] = []
    for pattern in spec.columns:
        matched = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        resolved += sorted(
            matched, key=lambda c: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", c)]
        )
    height, width = spec.shape
    if len(resolved) != height * width:
        raise SchemaError(
            f"image columns {list(spec.columns)} match {len(resolved)} columns; "
            f"expected {height}x{width} = {height * width}",
            file=file,
            expected=height * width,
            received=len(resolved),
        )
    return ImageSpec(tuple(resolved), (height, width))
