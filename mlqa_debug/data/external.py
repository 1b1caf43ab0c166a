"""External datasets: tables registered by reference, their aggregates on DuckDB or Spark.

``mlqa-debug add DIR --name N --external --engine duckdb`` copies nothing: the
workspace stores the absolute path (a Parquet file, a directory of them with Hive
``key=value`` folders, a glob, or a CSV file on DuckDB), the engine, the roles and
what the files' metadata said when registered (:class:`ExternalSource`: fingerprint
of names, sizes and modification times, row count, file count, bytes).

Opening one (:func:`open_external`) first compares the files with that record and
refuses a changed table with :class:`ExternalChangedError` (name, path, what
changed), so no cache keyed by the old fingerprint is ever served for new files. It
gives an :class:`ExternalTable`: the engine, for exact slice / rest / overall
aggregates and case checks over every row, and a seeded, bounded sample drawn by
the engine as ordinary :class:`~mlqa_debug.data.predictions.Predictions` (at most
``$MLQA_EXTERNAL_SAMPLE_ROWS`` rows, default 200,000), for what needs the rows.

The engines import the workspace, so this module imports them inside its functions.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import Roles
from mlqa_debug.errors import MlqaError, WorkspaceError

if TYPE_CHECKING:
    from mlqa_debug.cases import CaseListing, CheckReport
    from mlqa_debug.engines import AggregateEngine
    from mlqa_debug.slicing import Slice
    from mlqa_debug.stats.results import SliceReport

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "ENV_SAMPLE_ROWS",
    "EXTERNAL_ENGINES",
    "ExternalChangedError",
    "ExternalEngineName",
    "ExternalSource",
    "ExternalTable",
    "FilesState",
    "check_roles",
    "check_unchanged",
    "files_state",
    "open_external",
    "register_external",
    "sample_rows_from_env",
]

ENV_SAMPLE_ROWS = "MLQA_EXTERNAL_SAMPLE_ROWS"
DEFAULT_SAMPLE_ROWS = 200_000
SAMPLE_SEED = 0
ExternalEngineName = Literal["duckdb", "spark"]
EXTERNAL_ENGINES: tuple[str, ...] = get_args(ExternalEngineName)
_REPORTS_KEPT = 64  # exact slice reports remembered per table (a slice change re-asks)


class ExternalChangedError(WorkspaceError):
    """The files of an external dataset are gone or differ from when it was registered."""


@dataclass(frozen=True)
class FilesState:
    """What the file system says of a table's files now (no file opened)."""

    fingerprint: str
    files: int
    bytes: int
    newest: float
    """Latest modification time of the files (seconds since the epoch)."""


@dataclass(frozen=True)
class ExternalSource:
    """An external dataset's files and what they were when registered (``dataset.json``)."""

    path: str
    engine: ExternalEngineName
    fingerprint: str
    rows: int
    files: int
    bytes: int
    newest: float

    def to_meta(self) -> dict[str, Any]:
        """The keys ``dataset.json`` stores beside ``"kind": "external"``."""
        return {
            "path": self.path,
            "engine": self.engine,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "files": self.files,
            "bytes": self.bytes,
            "newest": self.newest,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ExternalSource:
        """Read it back; KeyError, TypeError or ValueError when a key is missing or wrong."""
        engine = str(meta["engine"])
        if engine not in EXTERNAL_ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {', '.join(EXTERNAL_ENGINES)}")
        path = str(meta["path"])
        if not Path(path).is_absolute():
            raise ValueError(f"path {path!r} is not absolute")
        return cls(
            path,
            engine,  # type: ignore[arg-type]  # checked above
            str(meta["fingerprint"]),
            int(meta["rows"]),
            int(meta["files"]),
            int(meta["bytes"]),
            float(meta["newest"]),
        )


def sample_rows_from_env() -> int:
    """``$MLQA_EXTERNAL_SAMPLE_ROWS`` (a positive whole number), else 200,000."""
    raw = os.environ.get(ENV_SAMPLE_ROWS, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_SAMPLE_ROWS
    if not raw.isdigit() or int(raw) < 1:
        raise WorkspaceError(
            f"{ENV_SAMPLE_ROWS}={raw!r} is not a number of rows; expected a whole number >= 1"
        )
    return int(raw)


def files_state(path: str) -> FilesState:
    """The files behind ``path`` now: fingerprint as the engines compute it, count, bytes."""
    from mlqa_debug.engines.source import _fingerprint, _list_files

    files, _ = _list_files(path)
    stats = [os.stat(f) for f in files]
    return FilesState(
        _fingerprint(files),
        len(files),
        sum(s.st_size for s in stats),
        max(s.st_mtime for s in stats),
    )


def _absolute(target: str | os.PathLike[str]) -> str:
    """``target`` as an absolute path (``~`` expanded; a glob keeps its wildcards)."""
    text = os.path.expanduser(str(target))
    if not text.strip():
        raise WorkspaceError("an external dataset needs a path: a Parquet file, directory or glob")
    return os.path.abspath(text)


def register_external(
    target: str | os.PathLike[str],
    engine: str,
    roles: Roles,
    *,
    spark_master: str | None = None,
) -> ExternalSource:
    """Open ``target`` on ``engine`` (its roles resolved: validated) and record its files.

    Bad paths, unreadable files and unusable columns raise a :class:`MlqaError` naming
    the path.
    """
    if engine not in EXTERNAL_ENGINES:
        raise WorkspaceError(
            f"engine {engine!r} cannot hold an external dataset; expected one of "
            f"{', '.join(EXTERNAL_ENGINES)}"
        )
    path = _absolute(target)
    opened = _open_engine(path, engine, roles, spark_master)
    state = files_state(path)
    if state.fingerprint != opened.table.fingerprint:
        raise WorkspaceError(f"the files of {path!r} changed while they were read; add it again")
    return ExternalSource(
        path,
        engine,  # type: ignore[arg-type]  # checked above
        state.fingerprint,
        opened.n_rows,
        state.files,
        state.bytes,
        state.newest,
    )


def check_roles(name: str, source: ExternalSource, roles: Roles) -> None:
    """Raise the engine's error if ``roles`` do not resolve on the (unchanged) files."""
    check_unchanged(name, source)
    _open_engine(source.path, source.engine, roles, None)


def _open_engine(path: str, engine: str, roles: Roles, spark_master: str | None) -> AggregateEngine:
    from mlqa_debug.engines import AggregateEngine, open_engine

    opened = open_engine(path, engine, roles=roles, spark_master=spark_master)  # type: ignore[arg-type]
    assert isinstance(opened, AggregateEngine)  # duckdb and spark are aggregate engines
    return opened


def check_unchanged(name: str, source: ExternalSource) -> FilesState:
    """The files' state now; :class:`ExternalChangedError` if they are not as registered."""
    try:
        now = files_state(source.path)
    except MlqaError as e:
        raise ExternalChangedError(
            f"external dataset {name!r}: its files at {source.path!r} cannot be found "
            f"({e}); registered with {source.files:,} file(s) and {source.rows:,} rows"
        ) from e
    if now.fingerprint != source.fingerprint:
        raise ExternalChangedError(
            f"external dataset {name!r}: the files at {source.path!r} changed since it was "
            f"registered ({_changes(source, now)}); its cached sample and results are not "
            f"used. Register it again to use the new files: mlqa-debug add {source.path} "
            f"--name {name} --external --engine {source.engine} --overwrite"
        )
    return now


def _changes(before: ExternalSource, now: FilesState) -> str:
    parts = []
    if now.files != before.files:
        parts.append(f"{before.files:,} -> {now.files:,} files")
    if now.bytes != before.bytes:
        parts.append(f"{before.bytes:,} -> {now.bytes:,} bytes")
    if now.newest != before.newest:
        parts.append(f"newest file modified {_when(before.newest)} -> {_when(now.newest)}")
    return ", ".join(parts) or "file names or modification times differ"


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass(eq=False)
class ExternalTable:
    """An opened external dataset: the engine over every row and the sample of them.

    Shared by the app's sessions: the engine's calls take a lock (one DuckDB
    connection or Spark frame), and exact slice reports are remembered by slice.
    """

    name: str
    source: ExternalSource
    engine: AggregateEngine
    sample: Predictions
    seed: int = SAMPLE_SEED
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _reports: OrderedDict[str, SliceReport[Any]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    @property
    def n_rows(self) -> int:
        """Rows of the whole table (the engine's count)."""
        return self.engine.n_rows

    @property
    def sampled(self) -> bool:
        """Whether the sample is smaller than the table (else it is every row)."""
        return self.sample.n_samples < self.n_rows

    @contextmanager
    def locked(self) -> Iterator[AggregateEngine]:
        """The engine, for one caller at a time (sessions share one connection)."""
        with self._lock:
            yield self.engine

    @property
    def engine_title(self) -> str:
        """``DuckDB`` or ``Spark``: the engine's name in a sentence."""
        return {"duckdb": "DuckDB", "spark": "Spark"}[self.source.engine]

    def slice_report(self, s: Slice) -> SliceReport[Any]:
        """The slice vs its rest vs all rows, exact over every row (SliceError if it cannot be)."""
        key = s.text
        with self._lock:
            if key not in self._reports:
                (self._reports[key],) = self.engine.slice_reports([s])
                while len(self._reports) > _REPORTS_KEPT:
                    self._reports.popitem(last=False)
            self._reports.move_to_end(key)
            return self._reports[key]

    def slice_reports(self, slices: Sequence[Slice]) -> list[SliceReport[Any]]:
        """Exact reports of several slices in one pass of the engine."""
        with self._lock:
            return self.engine.slice_reports(slices)

    def check_cases(self, listing: CaseListing) -> CheckReport:
        """Every case of ``listing`` checked on the engine (slice cases exact on every row)."""
        from mlqa_debug.engines import check_cases_on

        with self._lock:
            return check_cases_on(self.engine, listing)


def open_external(
    name: str,
    source: ExternalSource,
    roles: Roles,
    *,
    sample_rows: int | None = None,
    seed: int = SAMPLE_SEED,
    spark_master: str | None = None,
) -> ExternalTable:
    """Check the files are as registered, open them on the engine and draw the sample."""
    check_unchanged(name, source)
    engine = _open_engine(source.path, source.engine, roles, spark_master)
    if engine.table.fingerprint != source.fingerprint:
        check_unchanged(name, source)  # changed while opening: say how
    n = sample_rows_from_env() if sample_rows is None else sample_rows
    sample = engine.sample_predictions(n, seed, name=name)
    return ExternalTable(name, source, engine, sample, seed)
