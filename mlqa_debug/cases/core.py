r"""Regression cases: failure slices and example sets that a new model must not make worse.

A :class:`Case` holds a slice (its text form) or an example set (ids plus the frozen
rows), a metric and a threshold (``error_rate <= 0.3972``, ``recall[1] >= 0.45``,
``mae <= 52.1``; for example sets ``n_wrong <= 0``, "every example predicted
correctly", or ``n_wrong <= 3``, "at most 3 wrong"), the baseline value and the
number of rows when it was saved, and its provenance: source dataset name, file
and fingerprint, model name and version when the dataset declares them, author
(``$MLQA_DEBUG_AUTHOR``, else the login name), time, page and a free-text note.

The store
---------
:class:`CaseStore` is a directory of small, git-friendly, human-readable files::

    <id>.json      one case (UTF-8, indented, keys in a fixed order, "schema_version": 1)
    <id>.parquet   the frozen rows of an example set: every column of the dataset

A case id is 12 hex digits from ``uuid4`` chosen at creation; renaming a case
never changes it (hand-written ids may use ``[a-z0-9_-]``, 1-48 characters).
Ids are validated wherever they arrive (a URL, a command line), so they never
name a path. Every write goes to a temporary file in the same directory and is
renamed into place; the JSON is written last, so a case appears whole or not at
all. Saves, renames and deletes hold an exclusive lock (``fcntl.flock`` on the
store's directory, so no lock file is left behind), so two sessions
saving at the same moment both keep their case, and names stay unique (compared
case-insensitively). Loading never stops at a bad file: :meth:`CaseStore.load`
returns the readable cases plus one :class:`CaseProblem` per file that is not
valid JSON, fails validation or has a newer schema version.

Where the store lives (:func:`resolve_cases_dir`): ``--cases DIR`` on the command
line, else ``$MLQA_DEBUG_CASES``, else ``<workspace>/cases``, so a team can point
it at a folder inside their model repository.

Default threshold
-----------------
A case records the direction of its metric: ``<=`` for lower-is-better metrics
(``error_rate``, ``log_loss``, ``brier``, ``ece``, ``mae``, ``rmse``, ``n_wrong``),
``>=`` for higher-is-better ones (``accuracy``, ``macro_f1``, ``macro_precision``,
``macro_recall``, ``precision[c]``, ``recall[c]``, ``f1[c]``, ``r2``). Without an
explicit threshold the case allows the baseline to move by a tolerance in the
worse direction:

- rates in [0, 1] (error rate, accuracy, precision, recall, F1 and their macro
  averages): half the half-width of the baseline's 95 % Wilson interval (rows of
  the slice; for ``recall[c]`` and ``f1[c]`` the rows labelled ``c``, for
  ``precision[c]`` the rows predicted ``c``), and at least 0.005 (half a point);
- ``mae`` and ``rmse``: half the half-width of their 95 % interval, at least 1 % of
  the baseline;
- ``log_loss``, ``brier``, ``ece`` and ``r2`` (no interval): 5 % of the baseline,
  at least 0.005;
- ``n_wrong`` of an example set: no tolerance, the count when saved (so a set
  saved with every example right must stay all right).

The threshold is rounded outwards to 4 significant digits (never below the
baseline's own value) and rates are clipped to [0, 1]. Half an interval
half-width is about the noise between two similar models on the same rows: on
the bundled ``loans`` data it lets the improved ``employment == 'gig'`` slice
(0.382 -> 0.282) and ``income >= 150000`` (0.433 -> 0.443, threshold 0.4474) pass
against ``loans_v2``, and fails the overall error rate (0.1666 -> 0.1729,
threshold 0.1716) and ``term_months == 60`` (0.208 -> 0.219, threshold 0.2131).

Checking
--------
:func:`evaluate_case` measures a case on new predictions. Slices are re-evaluated
on the new rows with :func:`mlqa_debug.stats.report.slice_mask` and
:func:`mlqa_debug.stats.metrics.evaluate`; example sets are matched by the dataset's id
column (ids compare as text, so ``7`` matches ``'7'``). Regression cases keep the
error threshold of the data they were saved on, so ``error_rate`` and ``n_wrong``
mean the same on every later file. The status is ``pass``, ``fail``, ``empty`` (no
row of the new data is in the slice: a failure, never a silent pass) or
``not_applicable`` (the data is of another task, or lacks a column of the slice,
the metric, the class, the id column or every id of an example set; reported, and
a failure only for ``check --strict``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import TASKS, Task
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError, SliceError
from mlqa_debug.files import write_atomic
from mlqa_debug.slicing.slices import Slice, parse_slice
from mlqa_debug.stats import metrics as metrics
from mlqa_debug.stats.report import slice_mask

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ENV_CASES = "MLQA_DEBUG_CASES"
ENV_AUTHOR = "MLQA_DEBUG_AUTHOR"
CASE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
MAX_NAME_LENGTH = 120
MAX_NOTE_LENGTH = 10_000
MAX_EXAMPLES = 10_000
MAX_CASE_FILE_BYTES = 5 * 2**20
N_WRONG = "n_wrong"

Op = Literal["<=", ">="]
Status = Literal["pass", "fail", "empty", "not_applicable"]
STATUSES: tuple[Status, ...] = get_args(Status)
ExampleId = str | int

RATE_FLOOR = 0.005
INTERVAL_SHARE = 0.5
RELATIVE_FLOOR = 0.01
RELATIVE_TOLERANCE = 0.05
THRESHOLD_DIGITS = 4

LOWER_IS_BETTER = frozenset({"error_rate", "log_loss", "brier", "ece", "mae", "rmse", N_WRONG})
HIGHER_IS_BETTER = frozenset({"accuracy", "macro_f1", "macro_precision", "macro_recall", "r2"})
PER_CLASS = ("precision", "recall", "f1")
RATE_METRICS = frozenset(
    {"error_rate", "accuracy", "macro_f1", "macro_precision", "macro_recall", *PER_CLASS}
)
_PER_CLASS_PATTERN = re.compile(r"^(precision|recall|f1)\[(.+)\]$", re.DOTALL)

METRIC_DESCRIPTIONS = {
    "error_rate": "error rate: share of rows predicted wrong",
    "accuracy": "accuracy: share of rows predicted right",
    "macro_f1": "macro F1 over the classes present",
    "macro_precision": "macro precision over the classes present",
    "macro_recall": "macro recall over the classes present",
    "log_loss": "log loss of the predicted probabilities",
    "brier": "Brier score of the predicted probabilities",
    "ece": "expected calibration error",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "r2": "R² (coefficient of determination)",
    N_WRONG: "number of examples predicted wrong",
}


# --------------------------------------------------------------------------- metrics


def metric_base(metric: str) -> str:
    """``recall[cat]`` -> ``recall``; other names unchanged."""
    match = _PER_CLASS_PATTERN.match(metric)
    return match.group(1) if match else metric


def metric_direction(metric: str) -> Op:
    """``<=`` for lower-is-better metrics, ``>=`` for higher-is-better ones."""
    if metric in LOWER_IS_BETTER:
        return "<="
    if metric in HIGHER_IS_BETTER or _PER_CLASS_PATTERN.match(metric):
        return ">="
    known = sorted(LOWER_IS_BETTER | HIGHER_IS_BETTER) + [f"{p}[<class>]" for p in PER_CLASS]
    raise CaseError(
        f"metric {metric!r} cannot be a regression case; expected one of {', '.join(known)}"
    )


def describe_metric(metric: str) -> str:
    """A short human description, e.g. ``recall of class '1'``."""
    match = _PER_CLASS_PATTERN.match(metric)
    if match:
        return f"{match.group(1)} of class {match.group(2)!r}"
    return METRIC_DESCRIPTIONS.get(metric, metric)


def metric_choices(predictions: Predictions) -> list[str]:
    """The metrics a slice case can use on this dataset, the default first."""
    s = predictions.schema
    if not s.is_classification:
        return ["mae", "rmse", "error_rate", "r2"]
    names = ["error_rate", "accuracy", "macro_f1", "macro_precision", "macro_recall"]
    if predictions.proba_matrix is not None:
        names += ["log_loss", "brier", "ece"]
    classes = [str(c) for c in s.classes]
    if s.positive is not None:  # the positive class first
        classes.sort(key=lambda c: c != str(s.positive))
    return names + [f"{base}[{c}]" for base in ("recall", "precision", "f1") for c in classes]


def default_metric(predictions: Predictions) -> str:
    return "error_rate" if predictions.schema.is_classification else "mae"


def resolve_metric(metric: str, predictions: Predictions) -> str:
    """Check ``metric`` for this dataset; ``recall[positive]`` names the positive class."""
    s = predictions.schema
    match = _PER_CLASS_PATTERN.match(metric)
    classes = [str(c) for c in s.classes]
    if match and match.group(2) == "positive" and "positive" not in classes:
        if s.positive is None:
            raise CaseError(f"{metric!r}: this dataset has no positive class (it is {s.task})")
        metric = f"{match.group(1)}[{s.positive}]"
    choices = metric_choices(predictions)
    if metric not in choices:
        metric_direction(metric)  # an unsupported metric gets that message first
        raise CaseError(
            f"metric {metric!r} is not available on this {s.task} dataset; "
            f"expected one of {', '.join(choices[:12])}{', ...' if len(choices) > 12 else ''}"
        )
    return metric


# --------------------------------------------------------------------------- the case


@dataclass(frozen=True)
class Provenance:
    """Where a case was saved: dataset name, file, fingerprint, model, page."""

    fingerprint: str
    dataset: str | None = None
    file: str | None = None
    model: str | None = None
    model_version: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class ExampleSet:
    """The examples of an example-set case, by id; the rows are frozen beside the case."""

    id_column: str
    ids: tuple[ExampleId, ...]
    label: str
    prediction: str
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        ids = tuple(self.ids)
        if not ids or len(ids) > MAX_EXAMPLES:
            raise CaseError(f"an example set holds 1 to {MAX_EXAMPLES:,} ids, got {len(ids):,}")
        if any(isinstance(v, bool) or not isinstance(v, str | int) for v in ids):
            raise CaseError("example ids must be strings or integers")
        keys = [id_key(v) for v in ids]
        if len(set(keys)) != len(keys):
            raise CaseError("example ids must be unique")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "features", tuple(self.features))


@dataclass(frozen=True)
class Case:
    """A regression case; build new ones with :func:`build_case`. Invalid values raise CaseError."""

    id: str
    name: str
    metric: str
    op: Op
    threshold: float
    baseline: float
    baseline_rows: int
    task: Task
    source: Provenance
    created: str
    updated: str
    where: str | None = None
    examples: ExampleSet | None = None
    error_threshold: float | None = None
    note: str = ""
    author: str = ""

    def __post_init__(self) -> None:
        validate_case_id(self.id)
        object.__setattr__(self, "name", validate_case_name(self.name))
        object.__setattr__(self, "note", _check_text(self.note, "note", MAX_NOTE_LENGTH))
        object.__setattr__(self, "author", _check_text(self.author, "author", MAX_NAME_LENGTH))
        if (self.where is None) == (self.examples is None):
            raise CaseError("a case holds either a slice (where) or an example set, not both")
        if self.where is not None:
            object.__setattr__(self, "where", _canonical_where(self.where))
        self._check_metric()
        self._check_numbers()
        for name in ("created", "updated"):
            _timestamp(getattr(self, name), name)

    def _check_numbers(self) -> None:
        for name in ("threshold", "baseline"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        if self.error_threshold is not None:
            object.__setattr__(
                self, "error_threshold", _finite(self.error_threshold, "error_threshold")
            )
        if not isinstance(self.baseline_rows, int) or self.baseline_rows < 1:
            raise CaseError(f"baseline_rows must be a positive integer, got {self.baseline_rows!r}")
        if self.task not in TASKS:
            raise CaseError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")

    def _check_metric(self) -> None:
        if not isinstance(self.metric, str):
            raise CaseError(f"the metric must be a name, got {self.metric!r}")
        if self.examples is not None and self.metric != N_WRONG:
            raise CaseError(f"an example-set case uses the metric {N_WRONG!r}, not {self.metric!r}")
        if self.examples is None and self.metric == N_WRONG:
            raise CaseError(f"{N_WRONG!r} is the metric of example sets; a slice uses a rate")
        if self.op != metric_direction(self.metric):
            raise CaseError(
                f"{self.metric} is {'lower' if self.op == '>=' else 'higher'} is better, "
                f"so its condition is {metric_direction(self.metric)!r}, not {self.op!r}"
            )

    @property
    def kind(self) -> Literal["slice", "examples"]:
        return "slice" if self.examples is None else "examples"

    @property
    def slice(self) -> Slice | None:
        return None if self.where is None else parse_slice(self.where)

    @property
    def target(self) -> str:
        """What the case covers, in words: the slice text or ``12 examples``."""
        if self.examples is not None:
            n = len(self.examples.ids)
            return f"{n:,} example{'s' if n != 1 else ''} (by {self.examples.id_column})"
        return self.where or "all rows"

    @property
    def condition(self) -> str:
        """``error_rate <= 0.3972``."""
        return f"{self.metric} {self.op} {format_value(self.threshold, self.metric, digits=6)}"

    @property
    def baseline_passes(self) -> bool:
        return passes(self.baseline, self.op, self.threshold)

    @property
    def rows_file(self) -> str | None:
        return f"{self.id}.parquet" if self.examples is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``<id>.json`` (keys in a fixed, readable order)."""
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "name": self.name,
            "note": self.note,
            "kind": self.kind,
        }
        if self.examples is None:
            out["where"] = self.where
        else:
            out["examples"] = {
                "id_column": self.examples.id_column,
                "ids": list(self.examples.ids),
                "rows_file": self.rows_file,
                "label": self.examples.label,
                "prediction": self.examples.prediction,
                "features": list(self.examples.features),
            }
        out |= {
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "baseline": {"value": self.baseline, "rows": self.baseline_rows},
            "task": self.task,
            "error_threshold": self.error_threshold,
            "source": dataclasses.asdict(self.source),
            "author": self.author,
            "created": self.created,
            "updated": self.updated,
        }
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Case:
        """Validate a case's JSON form; :class:`CaseError` names the field at fault."""
        return _case_from_dict(data)


def _canonical_where(text: object) -> str:
    if not isinstance(text, str):
        raise CaseError(f"the slice must be text, got {type(text).__name__}")
    try:
        return parse_slice(text).text
    except SliceError as e:
        raise CaseError(f"the slice {text[:60]!r} is not valid: {e}") from e


def validate_case_id(value: object) -> str:
    """Return ``value`` if it is a valid case id, else raise :class:`CaseError`."""
    if not isinstance(value, str) or not CASE_ID_PATTERN.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "...'"
        raise CaseError(
            f"{shown} is not a valid case id; expected 1-48 characters of lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit"
        )
    return value


def validate_case_name(value: object) -> str:
    """A case name without surrounding space: 1-120 printable characters."""
    if not isinstance(value, str):
        raise CaseError(f"a case name must be text, got {type(value).__name__}")
    name = _check_text(value, "name", MAX_NAME_LENGTH).strip()
    if not name:
        raise CaseError("a case needs a name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise CaseError(f"the case name {name[:40]!r} contains control characters")
    return name


def _check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise CaseError(f"the {what} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise CaseError(f"the {what} is {len(value):,} characters long; at most {limit:,}")
    if any(unicodedata.category(ch) == "Cs" for ch in value) or "\x00" in value:
        raise CaseError(f"the {what} contains characters that cannot be stored (NUL, surrogates)")
    return value


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise CaseError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise CaseError(f"{what} must be a finite number, got {value!r}")
    return number


def passes(value: float, op: Op, threshold: float) -> bool:
    """Whether ``value op threshold`` holds (False for nan)."""
    return bool(value <= threshold) if op == "<=" else bool(value >= threshold)


def format_value(value: float | None, metric: str = "", *, digits: int = 4) -> str:
    """A metric value for people: counts as integers, others to ``digits`` significant digits."""
    if value is None or not math.isfinite(value):
        return "–"
    if metric == N_WRONG:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def format_delta(delta: float | None, metric: str = "", *, baseline: float = 1.0) -> str:
    """A change of a metric: ``+0.0094`` for rates, ``+2`` for counts, ``±0`` for no change."""
    if delta is None or not math.isfinite(delta):
        return ""
    if abs(delta) <= 1e-6 * max(1.0, abs(baseline)):
        return "±0"
    if metric == N_WRONG:
        return f"{delta:+,.0f}"
    if metric_base(metric) in RATE_METRICS:
        return f"{delta:+.4f}"
    return f"{delta:+.4g}"


def now_text() -> str:
    """The current UTC time as ISO 8601 with a ``Z``, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_author() -> str:
    """``$MLQA_DEBUG_AUTHOR``, else the login name, else ``""``."""
    author = os.environ.get(ENV_AUTHOR)
    if author:
        return author.strip()[:MAX_NAME_LENGTH]
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def new_case_id() -> str:
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------- JSON reading


class _Fields:
    """Typed access to a JSON object's fields; errors name the field."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise CaseError(f"{where} must be a JSON object, got {type(data).__name__}")
        self.data, self.where = data, where

    def _name(self, key: str) -> str:
        return key if self.where == "the case" else f"{self.where}.{key}"

    def get(self, key: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise CaseError(f"field {self._name(key)!r} is missing")
        value = self.data[key]
        if value is None and optional:
            return None
        bad_bool = isinstance(value, bool) and bool not in _as_tuple(kinds)
        if bad_bool or not isinstance(value, kinds):
            expected = " or ".join(k.__name__ for k in _as_tuple(kinds))
            raise CaseError(f"field {self._name(key)!r} must be {expected}, got {value!r:.80}")
        return value

    def only(self, keys: Iterable[str]) -> None:
        unknown = sorted(set(self.data) - set(keys))
        if unknown:
            raise CaseError(
                f"unknown field(s) {', '.join(repr(self._name(k)) for k in unknown)}; "
                f"expected {', '.join(keys)}"
            )


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


_CASE_KEYS = (
    "schema_version id name note kind where examples metric op threshold baseline task "
    "error_threshold source author created updated"
).split()
_NUMBER = (int, float)


def _case_from_dict(data: Any) -> Case:
    f = _Fields(data, "the case")
    version = f.get("schema_version", int)
    if version > SCHEMA_VERSION:
        raise CaseError(
            f"schema_version {version} was written by a newer mlqa-debug "
            f"(this one reads version {SCHEMA_VERSION}); upgrade mlqa-debug"
        )
    if version < 1:
        raise CaseError(f"schema_version must be {SCHEMA_VERSION}, got {version}")
    f.only(_CASE_KEYS)
    kind = f.get("kind", str)
    if kind not in ("slice", "examples"):
        raise CaseError(f"field 'kind' must be 'slice' or 'examples', got {kind!r}")
    baseline = _Fields(f.get("baseline", dict), "baseline")
    baseline.only(("value", "rows"))
    return Case(
        id=f.get("id", str),
        name=f.get("name", str),
        note=f.get("note", str, optional=True) or "",
        where=f.get("where", str) if kind == "slice" else None,
        examples=_examples_from_dict(f.get("examples", dict)) if kind == "examples" else None,
        metric=f.get("metric", str),
        op=f.get("op", str),
        threshold=f.get("threshold", _NUMBER),
        baseline=baseline.get("value", _NUMBER),
        baseline_rows=baseline.get("rows", int),
        task=f.get("task", str),
        error_threshold=f.get("error_threshold", _NUMBER, optional=True),
        source=_source_from_dict(f.get("source", dict)),
        author=f.get("author", str, optional=True) or "",
        created=f.get("created", str),
        updated=f.get("updated", str),
    )


def _examples_from_dict(data: dict[str, Any]) -> ExampleSet:
    f = _Fields(data, "examples")
    f.only(("id_column", "ids", "rows_file", "label", "prediction", "features"))
    ids = f.get("ids", list)
    features = f.get("features", list)
    if not all(isinstance(c, str) for c in features):
        raise CaseError("field 'examples.features' must be a list of column names")
    return ExampleSet(
        id_column=f.get("id_column", str),
        ids=tuple(ids),
        label=f.get("label", str),
        prediction=f.get("prediction", str),
        features=tuple(features),
    )


def _source_from_dict(data: dict[str, Any]) -> Provenance:
    f = _Fields(data, "source")
    keys = [x.name for x in dataclasses.fields(Provenance)]
    f.only(keys)
    fingerprint = f.get("fingerprint", str)
    return Provenance(fingerprint, **{k: f.get(k, str, optional=True) for k in keys[1:]})


def _timestamp(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise CaseError(f"field {what!r} must be an ISO 8601 time, got {value!r:.60}")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise CaseError(f"field {what!r} must be an ISO 8601 time, got {value!r:.60}") from None
    return value


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class CaseProblem:
    """A case file that could not be read: its name and why."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class CaseListing:
    """The readable cases of a store (oldest first) and the files that could not be read."""

    cases: tuple[Case, ...]
    problems: tuple[CaseProblem, ...]

    @property
    def signature(self) -> str:
        """Changes whenever a case is added, edited or removed (for caches)."""
        parts = [f"{c.id}:{c.updated}:{c.threshold!r}:{c.name}:{c.note}" for c in self.cases]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class CaseStore:
    """A directory of case files (see the module docstring for the layout)."""

    def __init__(self, directory: str | os.PathLike[str], *, create: bool = True) -> None:
        self.directory = Path(directory).expanduser().resolve()
        if self.directory.exists() and not self.directory.is_dir():
            raise CaseError(f"the cases directory {str(self.directory)!r} is not a directory")
        if not self.directory.exists():
            if not create:
                raise CaseError(f"the cases directory {str(self.directory)!r} does not exist")
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CaseError(f"cannot create the cases directory: {e}") from e

    def __repr__(self) -> str:
        return f"CaseStore({str(self.directory)!r})"

    def load(self) -> CaseListing:
        """Every readable case, oldest first; every unreadable file as a problem."""
        cases: list[Case] = []
        problems: list[CaseProblem] = []
        for path in sorted(self.directory.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                cases.append(self._read(path))
            except CaseError as e:
                problems.append(CaseProblem(path.name, str(e)))
        cases.sort(key=lambda c: (c.created, c.name.casefold(), c.id))
        if problems:
            logger.debug("%d unreadable case file(s) in %s", len(problems), self.directory)
        return CaseListing(tuple(cases), tuple(problems))

    def _read(self, path: Path) -> Case:
        try:
            if path.stat().st_size > MAX_CASE_FILE_BYTES:
                raise CaseError(f"the file is over {MAX_CASE_FILE_BYTES // 2**20} MB")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise CaseError(f"cannot be read: {e}") from e
        except json.JSONDecodeError as e:
            raise CaseError(f"is not valid JSON: {e}") from e
        case = Case.from_dict(data)
        if case.id != path.stem:
            raise CaseError(f"holds the id {case.id!r}, but its file name says {path.stem!r}")
        if case.rows_file is not None and not (self.directory / case.rows_file).is_file():
            raise CaseError(f"its frozen rows file {case.rows_file!r} is missing")
        return case

    def get(self, case_id: str) -> Case:
        """The case with this id; :class:`CaseError` if the id is invalid, unknown or unreadable."""
        path = self.directory / f"{validate_case_id(case_id)}.json"
        if not path.is_file():
            raise CaseError(f"no case with id {case_id!r} in {self.directory}")
        try:
            return self._read(path)
        except CaseError as e:
            raise CaseError(f"{path.name}: {e}") from e

    def find(self, ref: str) -> Case:
        """A case by id or by name (names compare case-insensitively)."""
        listing = self.load()
        by_id = [c for c in listing.cases if c.id == ref]
        by_name = [c for c in listing.cases if c.name.casefold() == ref.strip().casefold()]
        found = by_id or by_name
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(c.id for c in found)
            raise CaseError(f"{len(found)} cases are named {ref!r} (ids {ids}); give the id")
        names = ", ".join(repr(c.name) for c in listing.cases[:10]) or "(none)"
        raise CaseError(f"no case named {ref!r} in {self.directory}; cases: {names}")

    def save(self, case: Case, *, rows: pd.DataFrame | None = None) -> Case:
        """Add a new case (and the frozen rows of an example set); names must be unique."""
        if case.examples is not None and rows is None:
            raise CaseError("an example-set case needs its frozen rows")
        with self._locked():
            if (self.directory / f"{case.id}.json").exists():
                raise CaseError(f"a case with id {case.id!r} exists already")
            self._check_unique_name(case.name, case.id)
            if rows is not None and case.rows_file is not None:
                buffer = _parquet_bytes(rows)
                write_atomic(self.directory / case.rows_file, buffer)
            write_atomic(self.directory / f"{case.id}.json", case_json(case).encode("utf-8"))
        logger.info("saved case %s (%s) in %s", case.id, case.name, self.directory)
        return case

    def update(
        self,
        case_id: str,
        *,
        name: str | None = None,
        note: str | None = None,
        threshold: float | None = None,
    ) -> Case:
        """Rename a case or change its note or threshold; the id never changes."""
        with self._locked():
            case = self.get(case_id)
            changes: dict[str, Any] = {"updated": now_text()}
            if name is not None and validate_case_name(name) != case.name:
                self._check_unique_name(name, case.id)
                changes["name"] = name
            if note is not None:
                changes["note"] = note
            if threshold is not None:
                changes["threshold"] = _finite(threshold, "threshold")
            updated = dataclasses.replace(case, **changes)
            write_atomic(self.directory / f"{case.id}.json", case_json(updated).encode("utf-8"))
        return updated

    def delete(self, case_id: str) -> Case:
        """Remove a case (its JSON first, then its frozen rows); returns what was removed."""
        with self._locked():
            case = self.get(case_id)
            (self.directory / f"{case.id}.json").unlink()
            if case.rows_file is not None:
                (self.directory / case.rows_file).unlink(missing_ok=True)
        return case

    def rows(self, case: Case) -> pd.DataFrame:
        """The frozen rows of an example-set case."""
        if case.rows_file is None:
            raise CaseError(f"case {case.name!r} is a slice; only example sets freeze rows")
        path = self.directory / case.rows_file
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as e:
            raise CaseError(f"{case.rows_file}: the frozen rows cannot be read: {e}") from e

    def _check_unique_name(self, name: str, case_id: str) -> None:
        wanted = validate_case_name(name).casefold()
        for other in self.load().cases:
            if other.id != case_id and other.name.casefold() == wanted:
                raise CaseError(
                    f"a case named {other.name!r} exists already (id {other.id}); "
                    "choose another name"
                )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive access across threads and processes; file-system errors as CaseError."""
        try:
            with self._exclusive():
                yield
        except OSError as e:
            where = str(self.directory)
            raise CaseError(f"the cases directory {where!r} cannot be written: {e}") from e

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """A lock per store: a thread lock, and ``fcntl.flock`` on the directory itself.

        Locking the directory leaves no lock file behind in a team's repository.
        Without ``fcntl`` (Windows) only threads of one process are serialised.
        """
        with _PROCESS_LOCKS_GUARD:
            thread_lock = _PROCESS_LOCKS.setdefault(str(self.directory), threading.Lock())
        with thread_lock:
            try:
                import fcntl
            except ImportError:
                yield
                return
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the lock


def case_json(case: Case) -> str:
    """The file text of a case: indented JSON, non-ASCII kept readable, a final newline."""
    return json.dumps(case.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def resolve_cases_dir(
    explicit: str | os.PathLike[str] | None = None, *, workspace: Workspace | None = None
) -> Path:
    """``explicit`` (``--cases``), else ``$MLQA_DEBUG_CASES``, else the workspace's ``cases/``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_CASES)
    if env:
        return Path(env).expanduser().resolve()
    return (workspace or Workspace()).cases_dir


# --------------------------------------------------------------------------- measuring


def id_key(value: object) -> str:
    """How example ids compare: as text, with integral numbers written as integers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _id_index(predictions: Predictions) -> pd.Index:
    """The dataset's ids as :func:`id_key` text, built once per dataset."""
    column = predictions.schema.id
    if column is None:
        raise CaseError("these predictions have no id column; example sets are matched by id")
    series = predictions.frame[column]

    def build() -> pd.Index:
        if pd.api.types.is_integer_dtype(series.dtype):
            return pd.Index(series.astype("int64").astype(str).to_numpy(object))
        if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
            series.dtype
        ):
            return pd.Index(series.to_numpy(object))
        return pd.Index([id_key(v) for v in series.tolist()])

    return predictions.memo("cases:id-index", build)


def _plain_id(value: object) -> ExampleId:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return str(value)
    return value


def example_mask(predictions: Predictions, ids: Sequence[object]) -> tuple[np.ndarray, int]:
    """Rows whose id is in ``ids`` and how many of the ids were found."""
    positions = _id_index(predictions).get_indexer(pd.Index([id_key(v) for v in ids]))
    found = positions[positions >= 0]
    mask = np.zeros(predictions.n_samples, dtype=bool)
    mask[found] = True
    return mask, int(found.size)


def _metric_data(
    predictions: Predictions, error_threshold: float | None
) -> metrics.ClassificationData | metrics.RegressionData:
    """The dataset's metric data; for regression with the case's own error threshold."""
    data = predictions.metric_data
    if not isinstance(data, metrics.RegressionData) or error_threshold is None:
        return data
    if error_threshold == data.threshold:
        return data
    source = data
    return predictions.memo(
        f"cases:regression:{error_threshold!r}",
        lambda: metrics.prepare_regression(source.y_true, source.y_pred, threshold=error_threshold),
    )


@dataclass(frozen=True)
class Measurement:
    """A metric's value on some rows, the rows, and its 95% interval half-width (or nan)."""

    value: float
    rows: int
    half_width: float = math.nan


def _half_width(m: metrics.ClassificationMetrics | metrics.RegressionMetrics, metric: str) -> float:
    """Half-width of the 95% interval of ``metric`` (Wilson for rates), nan if it has none."""
    base = metric_base(metric)
    estimates = {"error_rate": m.error_rate, "accuracy": m.error_rate}
    if isinstance(m, metrics.RegressionMetrics):
        estimates |= {"mae": m.mae, "rmse": m.rmse}
    if base in estimates:
        return (estimates[base].high - estimates[base].low) / 2
    if not isinstance(m, metrics.ClassificationMetrics) or base not in RATE_METRICS:
        return math.nan
    n = m.n
    match = _PER_CLASS_PATTERN.match(metric)
    if match:
        scores = next(c for c in m.per_class if c.name == match.group(2))
        n = scores.n_predicted if base == "precision" else scores.support
    return _rate_half_width(m.value(metric), n)


def _rate_half_width(value: float, n: int) -> float:
    if n <= 0 or not math.isfinite(value):
        return math.nan
    k = min(max(round(value * n), 0), n)
    low, high = metrics.wilson_interval(k, n)
    return (high - low) / 2


def measure(
    predictions: Predictions,
    *,
    metric: str,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    error_threshold: float | None = None,
) -> Measurement:
    """A metric on a slice (or ``n_wrong`` on an example set) of these predictions.

    Raises :class:`SliceError` if the slice does not fit the data and :class:`CaseError`
    for a metric the data lacks or a missing id column. Empty rows give ``rows == 0``.
    """
    data = _metric_data(predictions, error_threshold)
    if ids is not None:
        mask, _ = example_mask(predictions, ids)
        result = metrics.evaluate(data, mask)
        return Measurement(float(result.n_errors), result.n)
    mask = slice_mask(predictions, where if where is not None else Slice())
    result = metrics.evaluate(data, mask)
    try:
        value = result.value(metric)
    except ValueError as e:
        raise CaseError(str(e)) from None
    return Measurement(value, result.n, _half_width(result, metric) if result.n else math.nan)


def default_tolerance(metric: str, baseline: Measurement) -> float:
    """How far the metric may move in the worse direction (see the module docstring)."""
    base = metric_base(metric)
    b = abs(baseline.value)
    share = INTERVAL_SHARE * baseline.half_width
    if base == N_WRONG:
        return 0.0
    if base in RATE_METRICS:
        return max(RATE_FLOOR, share) if math.isfinite(share) else RATE_FLOOR
    if base in ("mae", "rmse"):
        floor = RELATIVE_FLOOR * b
        return max(floor, share) if math.isfinite(share) else RELATIVE_TOLERANCE * b
    return max(RATE_FLOOR, RELATIVE_TOLERANCE * b)


def tolerance_rule(metric: str) -> str:
    """The default tolerance of ``metric`` in words (what the save form explains)."""
    base = metric_base(metric)
    if base == N_WRONG:
        return "no tolerance: no example may turn wrong"
    if base in RATE_METRICS:
        return "half the half-width of its 95% interval, at least 0.005"
    if base in ("mae", "rmse"):
        return "half the half-width of its 95% interval, at least 1% of the baseline"
    return "5% of the baseline, at least 0.005"


def default_threshold(metric: str, baseline: Measurement) -> float:
    """The baseline moved by :func:`default_tolerance` in the worse direction, rounded out."""
    op = metric_direction(metric)
    tolerance = default_tolerance(metric, baseline)
    raw = baseline.value + tolerance if op == "<=" else baseline.value - tolerance
    if metric_base(metric) in RATE_METRICS:
        raw = min(max(raw, 0.0), 1.0)
    return round_outward(raw, op)


def round_outward(value: float, op: Op, *, digits: int = THRESHOLD_DIGITS) -> float:
    """``value`` to ``digits`` significant digits, up for ``<=`` and down for ``>=``.

    The result never makes ``value`` itself fail: ``passes(value, op, result)`` holds.
    """
    if value == 0 or not math.isfinite(value):
        return value
    factor = 10.0 ** (digits - 1 - math.floor(math.log10(abs(value))))
    scaled = value * factor
    step = math.ceil(scaled - 1e-9) if op == "<=" else math.floor(scaled + 1e-9)
    result = step / factor
    if not passes(value, op, result):  # the float division landed on the wrong side
        result = (step + 1 if op == "<=" else step - 1) / factor
    return result


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Draft:
    """What a new case would record on this data: metric, baseline and default threshold."""

    metric: str
    op: Op
    baseline: Measurement
    threshold: float

    @property
    def condition(self) -> str:
        return f"{self.metric} {self.op} {format_value(self.threshold, self.metric)}"


def draft_case(
    predictions: Predictions,
    *,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    metric: str | None = None,
) -> Draft:
    """Baseline and default threshold of a would-be case (what the save form shows)."""
    if (where is None) == (ids is None):
        raise CaseError("a case is built from a slice or from example ids (exactly one)")
    if ids is not None:
        if metric not in (None, N_WRONG):
            raise CaseError(f"an example-set case uses the metric {N_WRONG!r}, not {metric!r}")
        metric = N_WRONG
    else:
        metric = resolve_metric(metric or default_metric(predictions), predictions)
    error_threshold = predictions.schema.error_threshold
    baseline = measure(
        predictions, metric=metric, where=where, ids=ids, error_threshold=error_threshold
    )
    if baseline.rows == 0:
        raise CaseError("the slice is empty on this dataset; a case needs at least one row")
    if not math.isfinite(baseline.value):
        raise CaseError(f"{metric} is undefined on these {baseline.rows:,} rows")
    return Draft(metric, metric_direction(metric), baseline, default_threshold(metric, baseline))


@dataclass(frozen=True)
class NewCase:
    """A case built from a dataset and, for an example set, its frozen rows."""

    case: Case
    rows: pd.DataFrame | None = None


def build_case(
    predictions: Predictions,
    *,
    name: str,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    note: str = "",
    dataset: str | None = None,
    page: str | None = None,
    author: str | None = None,
) -> NewCase:
    """A new case on ``predictions``: baseline measured now, threshold default or given."""
    checked_ids = _check_ids(predictions, ids) if ids is not None else None
    draft = draft_case(predictions, where=where, ids=checked_ids, metric=metric)
    s = predictions.schema
    model = s.model
    stamp = now_text()
    case = Case(
        id=new_case_id(),
        name=name,
        metric=draft.metric,
        op=draft.op,
        threshold=draft.threshold if threshold is None else _finite(threshold, "threshold"),
        baseline=_round_baseline(draft.baseline.value),
        baseline_rows=draft.baseline.rows,
        task=s.task,
        where=None if where is None else where.text,
        examples=None if checked_ids is None else _example_set(predictions, checked_ids),
        error_threshold=s.error_threshold,
        note=note,
        author=default_author() if author is None else author,
        source=Provenance(
            fingerprint=predictions.fingerprint,
            dataset=dataset,
            file=Path(predictions.source).name if predictions.source else None,
            model=None if model is None else model.name,
            model_version=None if model is None else model.version,
            page=page,
        ),
        created=stamp,
        updated=stamp,
    )
    rows = None if checked_ids is None else frozen_rows(predictions, checked_ids)
    return NewCase(case, rows)


def _round_baseline(value: float) -> float:
    return float(f"{value:.6g}")


def _check_ids(predictions: Predictions, ids: Sequence[object]) -> list[ExampleId]:
    plain = list({id_key(v): _plain_id(v) for v in ids}.values())
    if not plain:
        raise CaseError("the example set is empty; select at least one example")
    if len(plain) > MAX_EXAMPLES:
        raise CaseError(
            f"{len(plain):,} examples selected; an example set holds at most {MAX_EXAMPLES:,} "
            "(save a slice instead)"
        )
    index = _id_index(predictions)
    positions = index.get_indexer(pd.Index([id_key(v) for v in plain]))
    if (positions < 0).any():
        missing = [v for v, i in zip(plain, positions, strict=True) if i < 0]
        raise CaseError(
            f"{len(missing)} of the {len(plain)} ids are not in this dataset "
            f"(e.g. {', '.join(map(repr, missing[:5]))})"
        )
    values = predictions.frame[cast(str, predictions.schema.id)].to_numpy()[positions]
    return [_plain_id(v) for v in values]  # as the dataset writes them (7, not '7')


def _example_set(predictions: Predictions, ids: list[ExampleId]) -> ExampleSet:
    s = predictions.schema
    return ExampleSet(
        id_column=cast(str, s.id),
        ids=tuple(ids),
        label=s.label,
        prediction=s.prediction,
        features=tuple(s.features),
    )


def frozen_rows(predictions: Predictions, ids: Sequence[object]) -> pd.DataFrame:
    """The rows of these ids, every column, categories back to their plain values."""
    mask, _ = example_mask(predictions, ids)
    rows = predictions.frame.loc[mask].reset_index(drop=True)
    for column in rows.columns:
        if isinstance(rows[column].dtype, pd.CategoricalDtype):
            rows[column] = rows[column].astype(rows[column].cat.categories.dtype)
    return rows


def suggest_name(
    taken: Iterable[str],
    *,
    where: Slice | None = None,
    n_examples: int | None = None,
    page: str = "",
) -> str:
    """A readable, unused name: the slice text (shortened) or ``12 examples from embeddings``."""
    if n_examples is not None:
        base = f"{n_examples:,} example{'s' if n_examples != 1 else ''}"
        base += f" from {page}" if page else ""
    else:
        text = where.text if where is not None and where.text else "all rows"
        base = text if len(text) <= 80 else text[:77].rstrip() + "..."
    used = {t.casefold() for t in taken}
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base} ({n})", n + 1
    return name


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CaseResult:
    """A case checked on new predictions.

    ``rows`` counts the rows measured now (slice rows, or matched examples);
    ``reason`` explains ``empty`` and ``not_applicable`` and notes partial matches.
    """

    case: Case
    status: Status
    value: float | None = None
    rows: int = 0
    reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        """A regression: the condition fails, or the slice is empty in the new data."""
        return self.status in ("fail", "empty")

    @property
    def delta(self) -> float | None:
        return None if self.value is None else self.value - self.case.baseline

    @property
    def message(self) -> str:
        """One line: which case, what value against which threshold, baseline, slice."""
        c = self.case
        what = (
            f"examples: {_ids_preview(c.examples.ids)}"
            if c.examples is not None
            else f"slice: {c.where or 'all rows'}"
        )
        saved = f"baseline {format_value(c.baseline, c.metric)} on {c.baseline_rows:,} rows"
        if c.source.dataset or c.source.file:
            saved += f" of {c.source.dataset or c.source.file}"
        if self.status == "not_applicable":
            return f"{c.name!r} does not apply to these predictions: {self.reason} — {what}"
        if self.status == "empty":
            return f"{c.name!r} failed: {self.reason} ({saved}) — {what}"
        verdict = "passed" if self.passed else "failed"
        if c.examples is not None:
            measured = (
                f"{format_value(self.value, c.metric)} of {self.rows:,} examples predicted wrong, "
                f"at most {format_value(c.threshold, c.metric)} allowed (baseline "
                f"{format_value(c.baseline, c.metric)} wrong of {c.baseline_rows:,}"
            )
        else:
            relation = c.op if self.passed else (">" if c.op == "<=" else "<")
            measured = (
                f"{c.metric} = {format_value(self.value, c.metric)} {relation} threshold "
                f"{format_value(c.threshold, c.metric, digits=6)} ({saved}; now {self.rows:,} rows"
            )
        measured += f"; {self.reason})" if self.reason else ")"
        return f"{c.name!r} {verdict}: {measured} — {what}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for ``check --json``."""
        return {
            "id": self.case.id,
            "name": self.case.name,
            "kind": self.case.kind,
            "where": self.case.where,
            "examples": None if self.case.examples is None else len(self.case.examples.ids),
            "metric": self.case.metric,
            "op": self.case.op,
            "threshold": self.case.threshold,
            "baseline": self.case.baseline,
            "baseline_rows": self.case.baseline_rows,
            "status": self.status,
            "value": self.value,
            "delta": self.delta,
            "rows": self.rows,
            "reason": self.reason,
            "message": self.message,
        }


def _ids_preview(ids: Sequence[ExampleId], limit: int = 5) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return f"{shown}, ... ({len(ids):,} ids)" if len(ids) > limit else shown


def evaluate_case(predictions: Predictions, case: Case) -> CaseResult:
    """Check one case on ``predictions``; never raises for data that does not fit."""
    start = time.perf_counter()
    try:
        result = _evaluate(predictions, case)
    except (SliceError, CaseError) as e:
        result = CaseResult(case, "not_applicable", reason=str(e))
    return dataclasses.replace(result, seconds=time.perf_counter() - start)


def _evaluate(predictions: Predictions, case: Case) -> CaseResult:
    if case.examples is not None:
        return _evaluate_examples(predictions, case, case.examples)
    if case.task != predictions.task:
        raise CaseError(
            f"it was saved on {case.task} data; these predictions are {predictions.task}"
        )
    if case.metric not in metric_choices(predictions):
        raise CaseError(f"{case.metric} is not available on these {predictions.task} predictions")
    measured = measure(
        predictions, metric=case.metric, where=case.slice, error_threshold=case.error_threshold
    )
    if measured.rows == 0:
        reason = f"the slice is empty in the new data (0 rows; {case.baseline_rows:,} at save)"
        return CaseResult(case, "empty", None, 0, reason)
    return _verdict(case, measured)


def _evaluate_examples(predictions: Predictions, case: Case, examples: ExampleSet) -> CaseResult:
    ids = examples.ids
    _, found = example_mask(predictions, ids)
    if found == 0:
        reason = f"none of its {len(ids):,} example ids are in these predictions"
        return CaseResult(case, "not_applicable", None, 0, reason)
    note = f"{len(ids) - found:,} of {len(ids):,} ids not in the data" if found < len(ids) else ""
    measured = measure(predictions, metric=N_WRONG, ids=ids, error_threshold=case.error_threshold)
    return _verdict(case, measured, note)


def _verdict(case: Case, measured: Measurement, note: str = "") -> CaseResult:
    if not math.isfinite(measured.value):
        reason = f"{case.metric} is undefined on these {measured.rows:,} rows"
        return CaseResult(case, "not_applicable", None, measured.rows, reason)
    status: Status = "pass" if passes(measured.value, case.op, case.threshold) else "fail"
    return CaseResult(case, status, measured.value, measured.rows, note)


@dataclass(frozen=True)
class CheckReport:
    """Every case of a store checked on one predictions table."""

    results: tuple[CaseResult, ...]
    problems: tuple[CaseProblem, ...] = ()
    predictions: Mapping[str, Any] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def n_failed(self) -> int:
        return sum(r.failed for r in self.results)

    def exit_code(self, *, strict: bool = False) -> int:
        """2 if a case file is unreadable, 1 on any failure (or n/a with ``strict``), else 0."""
        if self.problems:
            return 2
        if self.n_failed or (strict and self.count("not_applicable")):
            return 1
        return 0

    def summary(self) -> str:
        """``3 passed, 2 failed, 1 empty, 0 not applicable``, plus unreadable files."""
        parts = [
            f"{self.count('pass')} passed",
            f"{self.count('fail')} failed",
            f"{self.count('empty')} empty",
            f"{self.count('not_applicable')} not applicable",
        ]
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "predictions": dict(self.predictions),
            "summary": {s: self.count(s) for s in STATUSES} | {"unreadable": len(self.problems)},
            "results": [r.to_dict() for r in self.results],
            "problems": [{"file": p.file, "message": p.message} for p in self.problems],
        }


def predictions_info(predictions: Predictions) -> dict[str, Any]:
    """What a report says about the checked predictions: file, rows, fingerprint, model."""
    model = predictions.schema.model
    return {
        "file": predictions.source,
        "rows": predictions.n_samples,
        "task": predictions.task,
        "fingerprint": predictions.fingerprint,
        "model": None if model is None else model.name,
        "model_version": None if model is None else model.version,
    }


def check_cases(
    predictions: Predictions,
    listing: CaseListing,
    *,
    progress: Callable[[int, int, Case], None] | None = None,
) -> CheckReport:
    """Check every case of ``listing``; ``progress(done, total, case)`` after each one."""
    results = []
    for i, case in enumerate(listing.cases):
        results.append(evaluate_case(predictions, case))
        if progress is not None:
            progress(i + 1, len(listing.cases), case)
    return CheckReport(tuple(results), listing.problems, predictions_info(predictions))


def results_frame(results: Sequence[CaseResult]) -> pd.DataFrame:
    """One row per result: status, name, slice, condition, baseline, value, delta, rows ..."""
    records = []
    for r in results:
        c = r.case
        records.append(
            {
                "status": r.status,
                "name": c.name,
                "slice / examples": c.target,
                "metric": c.metric,
                "condition": f"{c.op} {format_value(c.threshold, c.metric)}",
                "threshold": c.threshold,
                "baseline": c.baseline,
                "value": r.value,
                "delta": r.delta,
                "rows": r.rows,
                "rows at save": c.baseline_rows,
                "saved on": c.source.dataset or c.source.file or "",
                "author": c.author,
                "created": c.created,
                "id": c.id,
                "reason": r.reason,
            }
        )
    return pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)


RESULT_COLUMNS = [
    "status",
    "name",
    "slice / examples",
    "metric",
    "condition",
    "threshold",
    "baseline",
    "value",
    "delta",
    "rows",
    "rows at save",
    "saved on",
    "author",
    "created",
    "id",
    "reason",
]
