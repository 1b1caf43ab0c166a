"""Reading a predictions file: bytes from a path or an upload, a frame, the sidecar roles.

:func:`read_table` is what :func:`~mlqa_debug.data.predictions.load_predictions`
calls first. It refuses what cannot be a predictions table before any value is
looked at (no such file, an unsupported suffix, an empty or oversized file, bytes
that are not CSV or Parquet, a column name given twice, a malformed sidecar
``<stem>.mlqa.toml``) with a
:class:`~mlqa_debug.errors.SchemaError` naming the file. The values themselves are
validated by the checks in :mod:`mlqa_debug.data.checks`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from mlqa_debug.data.schema import Roles
from mlqa_debug.errors import SchemaError
from mlqa_debug.types import FileSource

SUPPORTED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
SIDECAR_SUFFIX = ".mlqa.toml"
SIDECAR_TABLES = ("roles", "types", "image", "model")
DEFAULT_MAX_MB = 2048
MAX_MB_ENV = "MLQA_DEBUG_MAX_FILE_MB"

#: A CSV with more columns is read by pandas' C reader: pyarrow's takes 17 s on 50,000
#: columns of 5 rows, the C reader 1 s (benchmarks/bench_wide.py).
WIDE_CSV_COLUMNS = 2000

#: ``sidecar=`` of :func:`read_table`: look beside the file (True), skip it (False), or this file.
SidecarChoice = str | os.PathLike[str] | bool


@dataclass(frozen=True)
class RawTable:
    """A file read into a frame, before any role or value is checked."""

    frame: pd.DataFrame
    source: str  # the name shown in messages: the file name, or the upload's name
    fingerprint: str  # blake2b-128 of the file's bytes
    sidecar: Roles  # roles from the sidecar file, or empty roles


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


def read_table(
    source: FileSource,
    *,
    name: str | None = None,
    max_bytes: int | None = None,
    sidecar: SidecarChoice = True,
) -> RawTable:
    """Read a CSV or Parquet file (a path or a binary file-like object) and its sidecar."""
    raw, display, path = _read_bytes(source, name=name, max_bytes=max_bytes)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib lets go of the GIL while it hashes
        fingerprint = pool.submit(_fingerprint, raw)
        frame = _parse(raw, display)
        return RawTable(frame, display, fingerprint.result(), _sidecar_roles(path, sidecar))


def _fingerprint(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def read_sidecar(path: Path) -> Roles:
    """Roles from a sidecar TOML: tables ``[roles]``, ``[types]``, ``[image]``, ``[model]``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SchemaError(f"cannot read the sidecar file: {e}", file=str(path)) from e
    unknown = sorted(set(data) - set(SIDECAR_TABLES))
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
    for key in SIDECAR_TABLES[1:]:
        if key in data:
            spec[key] = data[key]
    if isinstance(spec.get("image"), dict) and isinstance(spec["image"].get("columns"), str):
        spec["image"] = {**spec["image"], "columns": [spec["image"]["columns"]]}  # one glob
    return Roles.from_dict(spec, source=str(path))


def _read_bytes(
    source: FileSource, *, name: str | None, max_bytes: int | None
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
    header = csv_header(raw) if kind == "csv" else []
    _refuse_duplicates(header, display)  # before pandas renames a second 'label' to 'label.1'
    try:
        if kind == "parquet":
            frame = pd.read_parquet(pa.BufferReader(raw))  # zero-copy, unlike io.BytesIO
        else:
            frame = _read_csv(raw, wide=len(header) > WIDE_CSV_COLUMNS)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise SchemaError(f"cannot read the file as {kind.upper()}: {e}", file=display) from e
    if frame.shape[1] == 0 or len(frame) == 0:
        raise SchemaError(
            f"the table has no {'columns' if frame.shape[1] == 0 else 'rows'}; "
            "expected a header row and at least one data row",
            file=display,
        )
    frame.columns = [str(c) for c in frame.columns]
    _refuse_duplicates(list(frame.columns), display)  # Parquet may repeat a name too
    return frame


def csv_header(raw: bytes) -> list[str]:
    """The names in a CSV file's header row, as written (read with the ``csv`` module).

    Blank lines before it are skipped, as pandas skips them.
    """
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", errors="replace", newline="")
    try:
        return next((row for row in csv.reader(text) if row), [])
    except csv.Error:  # a malformed header: the CSV reader says what is wrong
        return []


def _refuse_duplicates(names: list[str], display: str) -> None:
    """A :class:`SchemaError` naming every column name given more than once."""
    counts = Counter(n for n in names if n.strip())  # blank names get "Unnamed: <i>"
    repeated = [n for n, k in counts.items() if k > 1]
    if not repeated:
        return
    shown = ", ".join(f"{n!r} ({counts[n]} times)" for n in repeated[:8])
    raise SchemaError(
        f"column names must be unique; the header repeats {shown}"
        + (f" and {len(repeated) - 8} more" if len(repeated) > 8 else "")
        + ": rename or drop the copies (a second label or prediction would change "
        "what the table means)",
        file=display,
        column=repeated[0],
        expected="unique column names",
        received=repeated,
    )


def _read_csv(raw: bytes, *, wide: bool) -> pd.DataFrame:
    """pyarrow's reader (fast on long files), or pandas' C reader (fast on wide ones)."""
    if not wide:
        try:
            return pd.read_csv(pa.BufferReader(raw), engine="pyarrow")
        except (ValueError, TypeError):  # the C engine is slower but more forgiving
            pass
    return pd.read_csv(io.BytesIO(raw))


def _sidecar_roles(path: Path | None, sidecar: SidecarChoice) -> Roles:
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
