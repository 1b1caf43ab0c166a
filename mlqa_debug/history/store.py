"""The check history: an append-only JSON-lines file, one record per case per run.

A history is a directory (``check --history DIR``, else ``$MLQA_DEBUG_HISTORY``,
else ``<workspace>/history``) holding ``history.jsonl``. Each line is one
:class:`Record` (a JSON object with ``"schema_version": 1``): when, which run,
which case, which data and model, the metric's value with its 95% interval, the
threshold, the status and the CI build.

Writing (:func:`mlqa_debug.files.append_lines`) is safe with several CI jobs at once: it opens
the file with ``O_APPEND`` and holds it under an exclusive ``fcntl.flock`` while a run's records are
written, one ``os.write`` per record, so records never interleave. A failed write
(a full disk) truncates the file back to its size before the run and raises
:class:`HistoryError`: the earlier history is intact and no half record is left.
A line that is not a valid record (a hand edit, a file cut short) is reported with
a :class:`HistoryWarning` naming the file and line, and skipped.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from mlqa_debug.errors import MlqaError
from mlqa_debug.files import append_lines

ENV_HISTORY = "MLQA_DEBUG_HISTORY"
FILE_NAME = "history.jsonl"
SCHEMA_VERSION = 1
STATUSES = ("pass", "fail", "empty", "not_applicable", "error")  # error: cannot be checked


class HistoryError(MlqaError, ValueError):
    """A history that cannot be read or written (``path`` names the file or folder)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class HistoryWarning(UserWarning):
    """A line of a history file that is not a record; it is skipped."""


@dataclass(frozen=True)
class Build:
    """The CI build a run came from: ``system`` is ``jenkins``, ``github`` or ``git``."""

    system: str
    id: str | None = None
    url: str | None = None
    commit: str | None = None

    @property
    def label(self) -> str:
        """``jenkins #42``, ``github 1234567``, ``git 1a2b3c4d``."""
        if self.id:
            return (
                f"{self.system} #{self.id}"
                if self.system == "jenkins"
                else f"{self.system} {self.id}"
            )
        return f"{self.system} {(self.commit or '')[:8]}".strip()


@dataclass(frozen=True)
class Record:
    """One case checked in one run: the unit the history stores."""

    time: str
    run_id: str
    case_id: str
    case_name: str
    metric: str
    op: str
    status: str
    threshold: float
    value: float | None = None
    low: float | None = None
    high: float | None = None
    baseline: float | None = None
    rows: int = 0
    where: str | None = None
    dataset: str | None = None
    file: str | None = None
    fingerprint: str = ""
    model: str | None = None
    model_version: str | None = None
    build: Build | None = None

    def to_json(self) -> str:
        """The record as one line of JSON (no newline), keys in a fixed order."""
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        data["interval"] = None if self.low is None else [self.low, self.high]
        del data["low"], data["high"]
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


RECORD_COLUMNS = [f for f in Record.__dataclass_fields__ if f != "build"] + [
    "build_system",
    "build_id",
    "build_url",
    "commit",
]


def record_row(data: object) -> tuple[Any, ...]:
    """A parsed JSON line as a row of :data:`RECORD_COLUMNS`; raises ValueError if invalid."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"schema_version {version!r}, expected {SCHEMA_VERSION}")
    interval = data.get("interval")
    low, high = (None, None) if interval is None else _interval(interval)
    build = data.get("build") or {}
    if not isinstance(build, dict):
        raise ValueError("build must be an object")
    status = data.get("status")
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    rows = data.get("rows", 0)
    if not isinstance(rows, int) or isinstance(rows, bool):
        raise ValueError("rows must be an integer")
    return (
        _text(data, "time"),
        _text(data, "run_id"),
        _text(data, "case_id"),
        _text(data, "case_name"),
        _text(data, "metric"),
        _text(data, "op"),
        status,
        _number(data.get("threshold"), "threshold"),
        _optional_number(data.get("value"), "value"),
        low,
        high,
        _optional_number(data.get("baseline"), "baseline"),
        rows,
        _optional_text(data, "where"),
        _optional_text(data, "dataset"),
        _optional_text(data, "file"),
        _optional_text(data, "fingerprint") or "",
        _optional_text(data, "model"),
        _optional_text(data, "model_version"),
        _optional_text(build, "system"),
        _optional_text(build, "id"),
        _optional_text(build, "url"),
        _optional_text(build, "commit"),
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string or null")
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number")
    return float(value)


def _optional_number(value: object, key: str) -> float | None:
    return None if value is None else _number(value, key)


def _interval(value: object) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("interval must be [low, high] or null")
    return _number(value[0], "interval"), _number(value[1], "interval")


@dataclass(frozen=True)
class LineProblem:
    """A line of the history file that was skipped, and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


@dataclass(frozen=True)
class HistoryListing:
    """What a history file holds: a frame of records (:data:`RECORD_COLUMNS`), skipped lines."""

    frame: pd.DataFrame
    problems: tuple[LineProblem, ...] = ()
    path: Path | None = None

    @property
    def empty(self) -> bool:
        return self.frame.empty


@dataclass
class HistoryStore:
    """The history in ``directory``: :meth:`append` a run's records, :meth:`read` them all."""

    directory: Path
    create: bool = True
    _path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).expanduser()
        self._path = self.directory / FILE_NAME

    @property
    def path(self) -> Path:
        return self._path

    def append(self, records: Sequence[Record]) -> int:
        """Append ``records`` (one run) under the lock; all or none land. Returns the count."""
        lines = [(r.to_json() + "\n").encode("utf-8") for r in records]
        if not lines:
            return 0
        try:
            append_lines(self._path, lines)
        except OSError as e:
            raise HistoryError(
                f"cannot append to the history {str(self._path)!r}: {e}; none of this run's "
                f"{len(lines)} record(s) were kept and the earlier history is unchanged",
                path=str(self._path),
            ) from e
        return len(lines)

    def read(self) -> HistoryListing:
        """Every valid record, in file order; each invalid line warns and is skipped."""
        if not self._path.is_file():
            if not self.create and not self.directory.is_dir():
                raise HistoryError(
                    f"no history folder {str(self.directory)!r}", path=str(self.directory)
                )
            return HistoryListing(records_frame([]), (), self._path)
        fast = fast_frame(self._path)
        if fast is not None:
            return HistoryListing(fast, (), self._path)
        try:
            text = self._path.read_bytes().decode("utf-8", errors="replace")
        except OSError as e:
            raise HistoryError(f"cannot read the history {str(self._path)!r}: {e}") from e
        rows, problems = parse_lines(text.splitlines(), file=self._path.name)
        for problem in problems:
            warnings.warn(f"{problem}; line skipped", HistoryWarning, stacklevel=2)
        return HistoryListing(records_frame(rows), tuple(problems), self._path)


_FLOAT_COLUMNS = ("threshold", "value", "low", "high", "baseline")


def records_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of :func:`record_row` as a frame: numbers as float64 (missing = nan), rows as int."""
    frame = pd.DataFrame.from_records(list(rows), columns=RECORD_COLUMNS)
    types: dict[str, Any] = {c: "float64" for c in _FLOAT_COLUMNS} | {"rows": "int64"}
    return _plain_text(frame.astype(types))


_TEXT = pa.string()
_ARROW_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        *[(c, _TEXT) for c in ("time", "run_id", "case_id", "case_name", "metric", "op")],
        ("status", _TEXT),
        *[(c, pa.float64()) for c in ("threshold", "value", "baseline")],
        ("interval", pa.list_(pa.float64())),
        ("rows", pa.int64()),
        *[(c, _TEXT) for c in ("where", "dataset", "file", "fingerprint", "model")],
        ("model_version", _TEXT),
        ("build", pa.struct([(c, _TEXT) for c in ("system", "id", "url", "commit")])),
    ]
)


def fast_frame(path: Path) -> pd.DataFrame | None:
    """The whole file read by Arrow's JSON reader and checked column-wise, or ``None``.

    The quick path for a clean file (a 100,000-record history in a fraction of a
    second); any line Arrow cannot read or that fails a check sends the caller to
    the line-by-line reader, which names the line at fault. Both give the same frame.
    """
    options = pa_json.ParseOptions(
        explicit_schema=_ARROW_SCHEMA, unexpected_field_behavior="ignore"
    )
    try:
        table = pa_json.read_json(path, parse_options=options)
    except (pa.ArrowInvalid, OSError):
        return None
    frame = table.to_pandas()
    if not _valid_columns(frame):
        return None
    interval = frame["interval"]
    has = interval.notna().to_numpy()
    low = np.full(len(frame), np.nan)
    high = np.full(len(frame), np.nan)
    if has.any():
        pairs = np.stack(interval[has].to_numpy())
        low[has], high[has] = pairs[:, 0], pairs[:, 1]
    build = frame["build"]
    out = {c: frame[c] for c in RECORD_COLUMNS if c in frame.columns}
    out |= {"low": low, "high": high, "fingerprint": frame["fingerprint"].fillna("")}
    out |= {"rows": frame["rows"].fillna(0).astype("int64")}
    for key, column in (
        ("system", "build_system"),
        ("id", "build_id"),
        ("url", "build_url"),
        ("commit", "commit"),
    ):
        out[column] = [None if b is None else b.get(key) for b in build]
    result = pd.DataFrame(out, columns=RECORD_COLUMNS)
    return _plain_text(result.astype({c: "float64" for c in _FLOAT_COLUMNS}))


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as objects with ``None`` for missing (never nan, which a URL would show)."""
    for column in RECORD_COLUMNS:
        if column not in _FLOAT_COLUMNS and column != "rows":
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame


def _valid_columns(frame: pd.DataFrame) -> bool:
    """What :func:`record_row` checks, column-wise; ``False`` sends the file line by line."""
    if frame.empty or not (frame["schema_version"] == SCHEMA_VERSION).all():
        return False
    for column in ("time", "run_id", "case_id", "case_name", "metric", "op"):
        if frame[column].isna().any() or (frame[column] == "").any():
            return False
    if not frame["status"].isin(STATUSES).all():
        return False
    numbers = frame[["threshold", "value", "baseline"]].to_numpy(dtype=float)
    if not np.isfinite(numbers[:, 0]).all() or np.isinf(numbers[:, 1:]).any():
        return False
    lengths = frame["interval"].dropna().map(len)
    if not (lengths == 2).all():
        return False
    pairs = frame["interval"].dropna()
    return pairs.empty or bool(np.isfinite(np.stack(list(pairs))).all())


def parse_lines(
    lines: Iterable[str], *, file: str
) -> tuple[list[tuple[Any, ...]], list[LineProblem]]:
    """Rows of the valid lines and a problem for each invalid one (blank lines are ignored)."""
    rows: list[tuple[Any, ...]] = []
    problems: list[LineProblem] = []
    decode = json.JSONDecoder().decode
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(record_row(decode(line)))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            problems.append(LineProblem(file, number, _problem_text(e)))
    return rows, problems


def _problem_text(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at column {error.colno})"
    return f"not a history record ({error})"


def resolve_history_dir(explicit: str | os.PathLike[str] | None, *, workspace_root: Path) -> Path:
    """``explicit`` (``--history``), else ``$MLQA_DEBUG_HISTORY``, else ``<workspace>/history``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_HISTORY)
    if env:
        return Path(env).expanduser().resolve()
    return workspace_root / "history"
