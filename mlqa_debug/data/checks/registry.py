"""The data-check registry: what a check is, what it returns, and the runner.

A check is a function of a :class:`CheckContext` returning a :class:`CheckResult`,
registered with :func:`register` under a stable name. :func:`run_checks` runs the
registry in registration order and returns one result per check, so a report
made from the results shows exactly what ran: a check whose prerequisites
(``after=``) failed, or whose role or task is absent, is ``skipped`` with the
reason, never shown as passed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd

from mlqa_debug.data.schema import FeatureType, ImageSpec, Roles, Schema
from mlqa_debug.errors import SchemaError, SliceError, format_rows
from mlqa_debug.slicing import Op, Predicate, Slice
from mlqa_debug.types import Task

Status: TypeAlias = Literal["pass", "warn", "fail", "skipped"]
"""What a check found: ``fail`` at severity ``error`` refuses the table."""

Severity: TypeAlias = Literal["info", "warning", "error"]
"""What a failure of a check means: ``error`` refuses the table, ``warning`` is reported."""

TaskKind: TypeAlias = Literal["classification", "regression"]
"""The kind of task a check applies to (``None``: every task)."""

STATUSES: tuple[Status, ...] = get_args(Status)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

#: At most this many offending row positions are kept on a result (``n_rows`` counts all).
MAX_ROWS = 100

#: A short mark per status, for text reports (ASCII, so every terminal shows it).
STATUS_MARKS: dict[Status, str] = {"pass": "ok", "warn": "warn", "fail": "FAIL", "skipped": "skip"}


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: status, a sentence for people, and the rows at fault.

    ``rows`` are 0-based positions (at most :data:`MAX_ROWS`; ``n_rows`` counts them
    all); ``slice`` is the text of a slice selecting exactly those rows, where one
    exists (``label is missing``). ``column``, ``expected`` and ``received`` are what a
    :class:`~mlqa_debug.errors.SchemaError` built from a failure carries.
    """

    name: str
    title: str
    status: Status
    severity: Severity
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    slice: str | None = None
    expected: Any = None
    received: Any = None

    @property
    def blocking(self) -> bool:
        """Whether this result refuses the table: a failure at severity ``error``."""
        return self.status == "fail" and self.severity == "error"

    def to_error(self, file: str | None = None) -> SchemaError:
        """The :class:`SchemaError` of this failure (its message is :attr:`message`)."""
        return SchemaError(
            self.message,
            file=file,
            column=self.column,
            rows=list(self.rows),
            expected=self.expected,
            received=self.received,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: every field, with numpy scalars and tuples made plain."""
        return {f.name: _json_safe(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        """``[ok] No missing labels: label column 'label': no missing values``."""
        line = f"[{STATUS_MARKS[self.status]}] {self.title}: {self.message}"
        return line + (f" (slice: {self.slice})" if self.slice else "")


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class CheckContext:
    """What every check sees: the table, the requested roles, the file's name.

    The built-in checks (:mod:`.contract`, :mod:`.targets`) also resolve the schema
    here, in registry order; each attribute keeps its default until the check that
    resolves it has passed:

    - the roles check: ``found`` (roles by convention), ``label``, ``id``,
      ``embedding``, ``proba_by_suffix`` (``prob_<class>`` columns by class suffix);
    - the prediction check: ``task`` and ``prediction`` (it may add the column);
    - the nested-values check: ``left_out`` (feature columns of lists, structs or
      maps, which the feature check leaves out);
    - the feature check: ``features`` and ``ignored``; the image check: ``image``;
    - the classification checks: ``classes``, ``positive``, ``proba``, ``score``;
      the regression check: ``error_threshold``.

    Checks that convert columns do so in ``frame``, in place. A new check reads
    what it needs and resolves nothing.
    """

    frame: pd.DataFrame
    roles: Roles
    file: str | None = None
    columns: list[str] = field(init=False)
    found: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    prediction: str | None = None
    id: str | None = None
    task: Task | None = None
    proba_by_suffix: dict[str, str] = field(default_factory=dict)
    embedding: tuple[str, ...] = ()
    features: dict[str, FeatureType] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)
    image: ImageSpec | None = None
    classes: tuple[Any, ...] = ()
    positive: Any = None
    proba: dict[Any, str] = field(default_factory=dict)
    score: str | None = None
    error_threshold: float | None = None

    def __post_init__(self) -> None:
        self.columns = list(self.frame.columns)

    def schema(self) -> Schema:
        """The schema the checks resolved (call only when none of them failed)."""
        if self.label is None or self.prediction is None or self.task is None:
            raise ValueError("the schema is not resolved: a check it needs did not pass")
        found = self.found
        common: dict[str, Any] = dict(
            label=self.label,
            prediction=self.prediction,
            task=self.task,
            features=self.features,
            id=self.id,
            embedding=self.embedding,
            shap=found.get("shap", {}),
            shap_base=found.get("shap_base"),
            projection=found.get("projection"),
            image=self.image,
            model=self.roles.model,
            ignored=self.ignored,
            left_out=self.left_out,
        )
        if self.task == "regression":
            return Schema(**common, error_threshold=self.error_threshold)
        return Schema(
            **common,
            classes=self.classes,
            positive=self.positive,
            proba=self.proba,
            score=self.score,
        )


CheckFunction: TypeAlias = Callable[[CheckContext], CheckResult]
"""A check: the context in, a result out (made with :func:`passed`, :func:`failed` ...)."""


@dataclass(frozen=True)
class Check:
    """A registered check: its stable name, title, function and when it applies."""

    name: str
    title: str
    function: CheckFunction
    severity: Severity = "error"
    after: tuple[str, ...] = ()
    role: str | None = None
    task: TaskKind | None = None


CHECKS: list[Check] = []
"""The registry, in run order. Add to it with :func:`register` only."""


def register(
    name: str,
    title: str,
    *,
    after: Sequence[str] = (),
    before: Sequence[str] = (),
    role: str | None = None,
    task: TaskKind | None = None,
    severity: Severity = "error",
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check (decorator); it runs after every check registered before it.

    ``after`` names checks whose failure means this one cannot run (it is then
    skipped); ``before`` names registered checks that must run after this one and
    need it (the check is inserted ahead of the first of them, and each is skipped
    when it fails); ``role`` names a :class:`CheckContext` attribute that must be set
    (an absent role skips the check, e.g. ``role="id"``); ``task`` restricts it to
    classification or regression. ``severity`` says what a ``fail`` means.
    """
    known = [c.name for c in CHECKS]
    if name in known:
        raise ValueError(f"a check named {name!r} is already registered")
    for word, names in (("after", after), ("before", before)):
        unknown = [a for a in names if a not in known]
        if unknown:
            raise ValueError(f"check {name!r} runs {word} unregistered checks {unknown}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    at = min((known.index(b) for b in before), default=len(CHECKS))
    if any(known.index(a) >= at for a in after):
        raise ValueError(f"check {name!r} cannot run both after {after} and before {before}")

    def add(function: CheckFunction) -> CheckFunction:
        for i, check in enumerate(CHECKS):
            if check.name in before:
                CHECKS[i] = dataclasses.replace(check, after=(*check.after, name))
        CHECKS.insert(at, Check(name, title, function, severity, tuple(after), role, task))
        return function

    return add


def passed(message: str) -> CheckResult:
    """A pass; the registry fills in the check's name, title and severity."""
    return CheckResult("", "", "pass", "info", message)


def skipped(reason: str) -> CheckResult:
    """The check does not apply (an absent role, another task): not a failure."""
    return CheckResult("", "", "skipped", "info", reason)


def failed(
    message: str,
    *,
    column: str | None = None,
    rows: Iterable[int] | np.ndarray = (),
    slice: str | None = None,  # noqa: A002 - the field's name
    expected: Any = None,
    received: Any = None,
) -> CheckResult:
    """A failure naming the offending rows (all of them; the first :data:`MAX_ROWS` are kept)."""
    return _finding("fail", message, column, rows, slice, expected, received)


def warned(
    message: str,
    *,
    column: str | None = None,
    rows: Iterable[int] | np.ndarray = (),
    slice: str | None = None,  # noqa: A002 - the field's name
) -> CheckResult:
    """Odd but valid input: reported, listed in ``Predictions.warnings``, never refused."""
    return _finding("warn", message, column, rows, slice, None, None)


def _finding(
    status: Status,
    message: str,
    column: str | None,
    rows: Iterable[int] | np.ndarray,
    selection: str | None,
    expected: Any,
    received: Any,
) -> CheckResult:
    positions = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype=np.int64)
    kept = tuple(int(r) for r in positions[:MAX_ROWS])
    return CheckResult(
        "", "", status, "info", message, column, kept, len(positions), selection, expected, received
    )


def rows_text(positions: Sequence[int] | np.ndarray) -> str:
    """``rows 4, 17, 90, ...`` from 0-based positions (printed from 1)."""
    return format_rows([int(p) + 1 for p in positions])


def plural(n: int, word: str, suffix: str = "s") -> str:
    """``1 value``, ``2 values``: the count and the word, in agreement."""
    return f"{n} {word}{suffix if n != 1 else ''}"


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (classes compare and print as plain values)."""
    return value.item() if isinstance(value, np.generic) else value


def slice_text(column: str, op: Op, values: Sequence[Any] = ()) -> str | None:
    """The text of a one-predicate slice (``label is missing``), or ``None`` if none fits."""
    try:
        return Slice((Predicate(column, op, tuple(plain(v) for v in values)),)).text
    except SliceError:
        return None


def run_checks(
    frame: pd.DataFrame,
    roles: Roles,
    *,
    file: str | None = None,
    checks: Sequence[Check] | None = None,
) -> tuple[list[CheckResult], CheckContext]:
    """Run the registry (or ``checks``) on ``frame``; one result per check, in order.

    The built-in checks convert columns of ``frame`` in place. A check function that
    raises :class:`SchemaError` is recorded as a failure with the error's data.
    """
    context = CheckContext(frame, roles, file)
    results: list[CheckResult] = []
    blocked: dict[str, str] = {}  # check name -> why its dependents cannot run
    for check in CHECKS if checks is None else checks:
        result = _stamp(check, _run_one(check, context, blocked))
        if result.status == "fail":
            blocked[check.name] = f"not run: {check.title!r} failed"
        results.append(result)
    return results, context


def _run_one(check: Check, context: CheckContext, blocked: dict[str, str]) -> CheckResult:
    for name in check.after:
        if name in blocked:  # the first failure up the chain is the reason
            blocked[check.name] = blocked[name]
            return skipped(blocked[name])
    reason = _not_applicable(check, context)
    if reason is not None:
        return skipped(reason)
    try:
        return check.function(context)
    except SchemaError as e:  # a helper that raises: keep its data (file is added later)
        return failed(
            str(e) if e.file is None else str(e).removeprefix(f"{e.file}: "),
            column=e.column,
            rows=e.rows,
            expected=e.expected,
            received=e.received,
        )


def _not_applicable(check: Check, context: CheckContext) -> str | None:
    if check.role is not None and not getattr(context, check.role, None):
        return f"no {check.role} column" if check.role != "embedding" else "no embedding columns"
    if check.task is None:
        return None
    if context.task is None:
        return "not run: the task is unknown"
    kind: TaskKind = "regression" if context.task == "regression" else "classification"
    return None if kind == check.task else f"applies to {check.task} only (task: {context.task})"


def _stamp(check: Check, result: CheckResult) -> CheckResult:
    return dataclasses.replace(result, name=check.name, title=check.title, severity=check.severity)


def first_blocking(results: Iterable[CheckResult]) -> CheckResult | None:
    """The first failure at severity ``error``, or ``None`` when the table is accepted."""
    return next((r for r in results if r.blocking), None)
