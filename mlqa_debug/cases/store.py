"""The case store: a directory of small, git-friendly, human-readable case files.

:class:`CaseStore` keeps::

    <id>.json      one case (see :mod:`mlqa_debug.cases.model` for its JSON form)
    <id>.parquet   the frozen rows of an example set: every column of the dataset

Every write goes to a temporary file in the same directory and is renamed into
place; the JSON is written last, so a case appears whole or not at all. Saves,
renames and deletes hold an exclusive lock (``fcntl.flock`` on the store's
directory, so no lock file is left behind), so two sessions saving at the same
moment both keep their case, and names stay unique (compared case-insensitively).
Loading never stops at a bad file: :meth:`CaseStore.load` returns the readable
cases plus one :class:`CaseProblem` per file that is not valid JSON, fails
validation or has a newer schema version.

Where the store lives (:func:`resolve_cases_dir`): ``--cases DIR`` on the command
line, else ``$MLQA_DEBUG_CASES``, else ``<workspace>/cases``, so a team can point
it at a folder inside their model repository.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlqa_debug.cases.model import (
    Case,
    case_json,
    finite_number,
    now_text,
    validate_case_id,
    validate_case_name,
)
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError
from mlqa_debug.files import write_atomic

logger = logging.getLogger(__name__)

ENV_CASES = "MLQA_DEBUG_CASES"
MAX_CASE_FILE_BYTES = 5 * 2**20


@dataclass(frozen=True)
class CaseProblem:
    """A case file that could not be read: its name and why."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class CaseListing:
    """The readable cases of a store (oldest first) and the files that could not be read.

    ``directory`` is the store's folder: a quality case's reference file is relative to it.
    """

    cases: tuple[Case, ...]
    problems: tuple[CaseProblem, ...]
    directory: Path | None = None

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
        return CaseListing(tuple(cases), tuple(problems), self.directory)

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
                changes["threshold"] = finite_number(threshold, "threshold")
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


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
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
