"""A regression case: what it covers, its condition, its provenance, and its JSON form.

A :class:`Case` holds a slice (its text form) or an :class:`ExampleSet` (ids plus
the frozen rows, kept beside the case by the store), a metric and a threshold
(``error_rate <= 0.3972``, ``recall[1] >= 0.45``, ``mae <= 52.1``; for example sets
``n_wrong <= 0``, "every example predicted correctly", or ``n_wrong <= 3``, "at
most 3 wrong"), the baseline value and the number of rows when it was saved, and
its :class:`Provenance`: source dataset name, file and fingerprint, model name and
version when the dataset declares them, author (``$MLQA_DEBUG_AUTHOR``, else the
login name), time, page and a free-text note. Every field is validated on
construction, so an invalid case cannot exist.

A *relative* slice case (built by :func:`mlqa_debug.cases.relative.build_relative_case`)
compares a model with a baseline model instead of a fixed number: "no worse than
the baseline by more than ``margin``" (``error_rate <= baseline + 0.01``). It also
holds ``reference``, the :class:`Provenance` of the baseline table, and
``reference_value``, the baseline model's metric on the slice when it was saved;
its ``threshold`` is ``reference_value + margin`` (``- margin`` for higher-is-better
metrics), the condition checked when no baseline table is given. When the two
disagree on construction (a threshold edited with ``CaseStore.update``), the margin
follows the threshold.

A *quality* case (built by :func:`mlqa_debug.cases.quality.build_quality_case`)
keeps a data-quality finding instead of a model metric: "no more than 1% missing in
``income``", "no exact duplicates with the training set". Its
:class:`~mlqa_debug.cases.quality_spec.QualitySpec` names the registered check
(``missing_values``; the leakage checks compare with a reference table), the column
or ``None``, and for leakage checks the ``reference``: a workspace dataset name (a
safe id, looked up in the workspace of whoever checks the case), or a file path,
written relative to the case directory when saved from a file
(``../data/train.parquet``), so a case folder committed next to its data resolves in
CI; ``mlqa-debug export`` rewrites it relative to the exported ``cases/`` folder.
Its metric is ``rows_share`` or ``rows`` (the share, or the number, of the table's
rows that the check flags), its ``baseline`` the value measured when saved and
``baseline_rows`` the table's rows then.

A case id is 12 hex digits from ``uuid4`` chosen at creation; renaming a case
never changes it. Hand-written ids are safe ids like dataset names (``[a-z0-9_-]``,
1-48 characters), validated wherever they arrive (a URL, a command line), so they
never name a path.

The JSON form (:meth:`Case.to_dict`, :func:`case_json`) is UTF-8, indented, keys in
a fixed order, with ``"schema_version": 1``, or ``2`` for a relative case, which adds
the keys ``margin``, ``reference_value`` and ``reference``: a case without them is
written exactly as before, so an older mlqa-debug still reads it, and refuses a
relative case with "written by a newer mlqa-debug" rather than checking it against
a number it does not understand. A quality case is version 2 too, with ``"kind":
"quality"`` and the key ``quality`` (``check``, ``column``, ``reference``) in place
of ``where``: an mlqa-debug from before quality cases refuses it by that unknown
field, so no new version was needed. :meth:`Case.from_dict` reads both versions
back, names the field at fault, and refuses a newer schema version.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import math
import os
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from mlqa_debug.cases.conditions import (
    N_WRONG,
    QUALITY_METRICS,
    Direction,
    format_value,
    metric_direction,
    passes,
)
from mlqa_debug.cases.fields import check_text
from mlqa_debug.cases.quality_spec import QualitySpec
from mlqa_debug.data.ids import ExampleId, id_key
from mlqa_debug.data.schema import TASKS
from mlqa_debug.data.workspace import NAME_PATTERN, validate_safe_id
from mlqa_debug.errors import CaseError, SliceError
from mlqa_debug.slicing import MAX_SLICE_LENGTH, Slice, parse_slice
from mlqa_debug.types import Task

SCHEMA_VERSION = 2
"""The newest case file version this reads and writes (version 2: relative cases)."""
PLAIN_SCHEMA_VERSION = 1
"""The version of a case without relative fields: what every mlqa-debug reads."""
ENV_AUTHOR = "MLQA_DEBUG_AUTHOR"
CASE_ID_PATTERN = NAME_PATTERN  # a case id is a safe id, as a dataset name is
MAX_NAME_LENGTH = 120
MAX_NOTE_LENGTH = 10_000
MAX_EXAMPLES = 10_000


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
    op: Direction
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
    reference: Provenance | None = None
    reference_value: float | None = None
    margin: float | None = None
    quality: QualitySpec | None = None

    def __post_init__(self) -> None:
        validate_case_id(self.id)
        object.__setattr__(self, "name", validate_case_name(self.name))
        object.__setattr__(self, "note", check_text(self.note, "note", MAX_NOTE_LENGTH))
        object.__setattr__(self, "author", check_text(self.author, "author", MAX_NAME_LENGTH))
        held = [x is not None for x in (self.where, self.examples, self.quality)]
        if sum(held) != 1:
            raise CaseError(
                "a case holds either a slice (where), an example set or a quality check: one"
            )
        if self.quality is not None and not isinstance(self.quality, QualitySpec):
            raise CaseError(f"quality must be a QualitySpec, got {type(self.quality).__name__}")
        if self.where is not None:
            object.__setattr__(self, "where", _canonical_where(self.where))
        self._check_metric()
        self._check_numbers()
        self._check_relative()
        for name in ("created", "updated"):
            _timestamp(getattr(self, name), name)

    def _check_numbers(self) -> None:
        for name in ("threshold", "baseline"):
            object.__setattr__(self, name, finite_number(getattr(self, name), name))
        if self.error_threshold is not None:
            object.__setattr__(
                self, "error_threshold", finite_number(self.error_threshold, "error_threshold")
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
        if (self.quality is not None) != (self.metric in QUALITY_METRICS):
            raise CaseError(
                f"a quality case uses the metric {' or '.join(QUALITY_METRICS)}, and only a "
                f"quality case does; got {self.metric!r}"
            )
        if self.op != metric_direction(self.metric):
            raise CaseError(
                f"{self.metric} is {'lower' if self.op == '>=' else 'higher'} is better, "
                f"so its condition is {metric_direction(self.metric)!r}, not {self.op!r}"
            )

    def _check_relative(self) -> None:
        given = [x is not None for x in (self.reference, self.reference_value, self.margin)]
        if not any(given):
            return
        if not all(given):
            raise CaseError(
                "a relative case needs reference, reference_value and margin (all three)"
            )
        if self.examples is not None or self.quality is not None:
            raise CaseError(f"a {self.kind} case cannot be relative to a baseline; use a slice")
        if not isinstance(self.reference, Provenance):
            raise CaseError(f"reference must be a Provenance, got {type(self.reference).__name__}")
        value = finite_number(self.reference_value, "reference_value")
        margin = finite_number(self.margin, "margin")
        if abs(self.threshold - relative_threshold(value, self.op, margin)) > _slack(value):
            margin = margin_of(self.threshold, self.op, value)  # an edited threshold wins
        if margin < 0:
            raise CaseError(
                f"the margin must be 0 or more, got {format_value(margin, self.metric)}: a "
                f"relative case allows the baseline's {self.metric} "
                f"{'plus' if self.op == '<=' else 'minus'} a margin"
            )
        object.__setattr__(self, "reference_value", value)
        object.__setattr__(self, "margin", margin)

    @property
    def relative(self) -> bool:
        """Whether the condition is relative to a baseline model (``baseline + margin``)."""
        return self.margin is not None

    @property
    def kind(self) -> Literal["slice", "examples", "quality"]:
        if self.quality is not None:
            return "quality"
        return "slice" if self.examples is None else "examples"

    @property
    def slice(self) -> Slice | None:
        return None if self.where is None else parse_slice(self.where, max_length=MAX_SLICE_LENGTH)

    @property
    def target(self) -> str:
        """What the case covers: the slice text, ``12 examples``, ``missing values in income``."""
        if self.quality is not None:
            return self.quality.describe()
        if self.examples is not None:
            n = len(self.examples.ids)
            return f"{n:,} example{'s' if n != 1 else ''} (by {self.examples.id_column})"
        return self.where or "all rows"

    @property
    def condition(self) -> str:
        """``error_rate <= 0.3972``; relative: ``error_rate <= baseline + 0.01``."""
        return f"{self.metric} {self.op} {self.bound}"

    @property
    def bound(self) -> str:
        """The right side of the condition: ``0.3972``, or ``baseline + 0.01``."""
        if self.margin is None:
            return format_value(self.threshold, self.metric, digits=6)
        sign = "+" if self.op == "<=" else "-"
        return f"baseline {sign} {format_value(self.margin, self.metric, digits=6)}"

    @property
    def baseline_passes(self) -> bool:
        return passes(self.baseline, self.op, self.threshold)

    @property
    def rows_file(self) -> str | None:
        return f"{self.id}.parquet" if self.examples is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``<id>.json`` (keys in a fixed, readable order)."""
        out: dict[str, Any] = {
            "schema_version": (
                SCHEMA_VERSION if self.relative or self.quality else PLAIN_SCHEMA_VERSION
            ),
            "id": self.id,
            "name": self.name,
            "note": self.note,
            "kind": self.kind,
        }
        if self.quality is not None:
            out["quality"] = self.quality.to_dict()
        elif self.examples is None:
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
        }
        if self.relative:
            out |= {"margin": self.margin, "reference_value": self.reference_value}
        out |= {
            "baseline": {"value": self.baseline, "rows": self.baseline_rows},
            "task": self.task,
            "error_threshold": self.error_threshold,
            "source": dataclasses.asdict(self.source),
        }
        if self.reference is not None:
            out["reference"] = dataclasses.asdict(self.reference)
        out |= {
            "author": self.author,
            "created": self.created,
            "updated": self.updated,
        }
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Case:
        """Validate a case's JSON form; :class:`CaseError` names the field at fault."""
        return _case_from_dict(data)


def relative_threshold(reference_value: float, op: Direction, margin: float) -> float:
    """The threshold of a relative case: the reference moved by the margin, the worse way."""
    return reference_value + margin if op == "<=" else reference_value - margin


def margin_of(threshold: float, op: Direction, reference_value: float) -> float:
    """The margin a threshold allows over a reference value (12 significant digits)."""
    raw = threshold - reference_value if op == "<=" else reference_value - threshold
    return float(f"{raw:.12g}")


def _slack(value: float) -> float:
    """What float rounding may move ``reference_value + margin`` by."""
    return 1e-9 * max(1.0, abs(value))


def _canonical_where(text: object) -> str:
    if not isinstance(text, str):
        raise CaseError(f"the slice must be text, got {type(text).__name__}")
    try:
        return parse_slice(text, max_length=MAX_SLICE_LENGTH).text
    except SliceError as e:
        raise CaseError(f"the slice {text[:60]!r} is not valid: {e}") from e


def validate_case_id(value: object) -> str:
    """Return ``value`` if it is a valid case id, else raise :class:`CaseError`."""
    return validate_safe_id(value, what="case id", error=CaseError)


def validate_case_name(value: object) -> str:
    """A case name without surrounding space: 1-120 printable characters."""
    if not isinstance(value, str):
        raise CaseError(f"a case name must be text, got {type(value).__name__}")
    name = check_text(value, "name", MAX_NAME_LENGTH).strip()
    if not name:
        raise CaseError("a case needs a name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise CaseError(f"the case name {name[:40]!r} contains control characters")
    return name


def finite_number(value: object, what: str) -> float:
    """``value`` as a float; :class:`CaseError` naming ``what`` unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise CaseError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise CaseError(f"{what} must be a finite number, got {value!r}")
    return number


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
    """A fresh case id: 12 hex digits of a random UUID."""
    return uuid.uuid4().hex[:12]


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
_RELATIVE_KEYS = ("margin", "reference_value", "reference")
_KIND_KEYS = {"slice": "where", "examples": "examples", "quality": "quality"}
_KINDS = tuple(_KIND_KEYS)
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
        raise CaseError(
            f"schema_version must be {PLAIN_SCHEMA_VERSION} or {SCHEMA_VERSION}, got {version}"
        )
    if version == PLAIN_SCHEMA_VERSION:
        f.only(_CASE_KEYS)
    else:
        f.only([*_CASE_KEYS, *_RELATIVE_KEYS, "quality"])
    kind = f.get("kind", str)
    if kind not in _KINDS:
        raise CaseError(f"field 'kind' must be one of {', '.join(map(repr, _KINDS))}, got {kind!r}")
    for other, key in _KIND_KEYS.items():
        if other != kind and f.data.get(key) is not None:
            raise CaseError(f"field {key!r} belongs to a case of kind {other!r}, not {kind!r}")
    baseline = _Fields(f.get("baseline", dict), "baseline")
    baseline.only(("value", "rows"))
    return Case(
        id=f.get("id", str),
        name=f.get("name", str),
        note=f.get("note", str, optional=True) or "",
        where=f.get("where", str) if kind == "slice" else None,
        examples=_examples_from_dict(f.get("examples", dict)) if kind == "examples" else None,
        quality=_quality_from_dict(f.get("quality", dict)) if kind == "quality" else None,
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
        **_relative_from_dict(f),
    )


def _relative_from_dict(f: _Fields) -> dict[str, Any]:
    """``margin``, ``reference_value`` and ``reference`` of a relative case, all or none."""
    present = [k for k in _RELATIVE_KEYS if f.data.get(k) is not None]
    if not present:
        return {}
    if len(present) < len(_RELATIVE_KEYS):
        missing = [k for k in _RELATIVE_KEYS if k not in present]
        raise CaseError(
            f"a relative case needs the fields {', '.join(_RELATIVE_KEYS)}; "
            f"{', '.join(repr(k) for k in missing)} missing"
        )
    margin = finite_number(f.get("margin", _NUMBER), "field 'margin'")
    value = finite_number(f.get("reference_value", _NUMBER), "field 'reference_value'")
    threshold = finite_number(f.get("threshold", _NUMBER), "field 'threshold'")
    op = f.get("op", str)
    if op in ("<=", ">=") and abs(threshold - relative_threshold(value, op, margin)) > _slack(
        value
    ):
        sign = "+" if op == "<=" else "-"
        raise CaseError(
            f"field 'threshold' ({threshold!r}) must be reference_value {sign} margin "
            f"({relative_threshold(value, op, margin)!r}) in a relative case"
        )
    reference = _source_from_dict(f.get("reference", dict), where="reference")
    return {"reference": reference, "reference_value": value, "margin": margin}


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


def _quality_from_dict(data: dict[str, Any]) -> QualitySpec:
    f = _Fields(data, "quality")
    f.only(("check", "column", "reference"))
    return QualitySpec(
        check=f.get("check", str),
        column=f.get("column", str, optional=True),
        reference=f.get("reference", str, optional=True),
    )


def _source_from_dict(data: dict[str, Any], *, where: str = "source") -> Provenance:
    f = _Fields(data, where)
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


def case_json(case: Case) -> str:
    """The file text of a case: indented JSON, non-ASCII kept readable, a final newline."""
    return json.dumps(case.to_dict(), indent=2, ensure_ascii=False) + "\n"
