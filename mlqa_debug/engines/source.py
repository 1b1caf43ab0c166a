"""Where an engine's table lives: a Parquet file, a directory of them, a glob, or a CSV file.

:func:`resolve_source` turns the command line's target into a :class:`TableSource`
without reading a row: the files, their format, the Arrow schema read from the
Parquet footers (Hive-style ``key=value`` directories become columns, typed as
pyarrow infers them), the uncompressed size the footers declare and a fingerprint
of the files' metadata (names, sizes, modification times). :func:`choose_engine`
is ``--engine auto``: DuckDB when that size would not fit in the memory available.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mlqa_debug.errors import SchemaError

__all__ = [
    "MEMORY_FACTOR",
    "SourceFormat",
    "TableSource",
    "available_memory",
    "choose_engine",
    "resolve_source",
]

SourceFormat = Literal["parquet", "csv"]

MEMORY_FACTOR = 3.0
"""How many times its Arrow size a table takes in process while it is loaded and prepared
(the frame, converted columns, the codes and per-row terms of the metrics); the numpy
engine refuses a table whose estimate is over the available memory."""

STRING_BYTES = 24
"""Bytes a short string value takes in memory (offset, data, pandas' overhead)."""

_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".txt")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class TableSource:
    """The files of one table, their format and what their metadata says (no row read).

    ``hive`` is true for a directory or glob whose files sit in ``key=value`` folders;
    ``base`` is then the folder the partition keys start under. ``schema`` holds the
    file columns and then the partition columns; ``uncompressed_bytes`` is the sum
    the Parquet footers declare (the file size for CSV).
    """

    target: str
    files: tuple[str, ...]
    format: SourceFormat
    schema: pa.Schema
    n_rows: int | None
    uncompressed_bytes: int
    fingerprint: str
    hive: bool = False
    base: str | None = None

    @property
    def display(self) -> str:
        """The name messages and reports show: the file, folder or glob given."""
        return Path(self.target).name if len(self.files) == 1 else self.target

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    @property
    def memory_bytes(self) -> int:
        """Bytes the table takes loaded in process, from its schema and row count."""
        if self.n_rows is None:  # CSV: the text is about the size of the values
            return 2 * self.uncompressed_bytes
        return self.n_rows * sum(_value_bytes(f.type) for f in self.schema)

    @property
    def partition_columns(self) -> list[str]:
        """Columns that come from ``key=value`` folder names, not from the files."""
        if not self.hive:
            return []
        in_files = set(pq.read_schema(self.files[0]).names)
        return [c for c in self.schema.names if c not in in_files]


def resolve_source(target: str | os.PathLike[str]) -> TableSource:
    """The files behind ``target`` (file, directory or glob) and their schema, no row read."""
    text = str(target)
    files, base = _list_files(text)
    suffixes = {Path(f).suffix.lower() for f in files}
    if suffixes <= set(_CSV_SUFFIXES):
        if len(files) != 1:
            raise SchemaError("several CSV files: give one, or convert them to Parquet", file=text)
        return _csv_source(text, files[0])
    if not suffixes <= set(_PARQUET_SUFFIXES):
        raise SchemaError(
            f"mixed or unsupported file types {sorted(suffixes)}; expected Parquet files "
            "(.parquet, .pq) or one CSV file",
            file=text,
        )
    return _parquet_source(text, files, base)


def _list_files(text: str) -> tuple[list[str], str | None]:
    path = Path(text)
    if path.is_file():
        return [str(path)], None
    if path.is_dir():
        found = sorted(
            str(p)
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES + _CSV_SUFFIXES
        )
        if not found:
            raise SchemaError("the directory holds no .parquet or .csv file", file=text)
        return found, str(path)
    if _GLOB_CHARS & set(text):
        found = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not found:
            raise SchemaError("no file matches this pattern", file=text)
        return found, _glob_base(text)
    raise SchemaError("file or directory not found", file=text)


def _glob_base(pattern: str) -> str:
    """The folder before the first wildcard or ``key=value`` part: where partition keys start."""
    parts = Path(pattern).parts
    end = next(i for i, p in enumerate(parts) if _GLOB_CHARS & set(p) or "=" in p)
    return str(Path(*parts[:end])) if end else "."


def _fingerprint(files: list[str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in files:
        stat = os.stat(name)
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "replace"))
    return digest.hexdigest()


def _parquet_source(text: str, files: list[str], base: str | None) -> TableSource:
    hive = base is not None and any("=" in part for f in files for part in Path(f).parts)
    try:
        dataset = ds.dataset(
            files, format="parquet", partitioning="hive" if hive else None, partition_base_dir=base
        )
        metadata = [pq.ParquetFile(f).metadata for f in files]
    except (OSError, pa.ArrowInvalid) as e:
        raise SchemaError(f"cannot read the Parquet metadata: {e}", file=text) from e
    schema = dataset.schema
    if hive:  # partition values as plain columns (pyarrow's inference), never dictionaries
        schema = pa.schema(
            [
                pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in schema
            ]
        )
    size = sum(m.row_group(i).total_byte_size for m in metadata for i in range(m.num_row_groups))
    return TableSource(
        text,
        tuple(files),
        "parquet",
        schema,
        sum(m.num_rows for m in metadata),
        size,
        _fingerprint(files),
        hive,
        base if hive else None,
    )


def _csv_source(text: str, file: str) -> TableSource:
    import pyarrow.csv as pcsv

    try:
        with pcsv.open_csv(file) as reader:
            schema = reader.schema
    except (OSError, pa.ArrowInvalid) as e:
        raise SchemaError(f"cannot read the CSV header: {e}", file=text) from e
    return TableSource(
        text, (file,), "csv", schema, None, os.stat(file).st_size, _fingerprint([file])
    )


def _value_bytes(arrow_type: pa.DataType) -> int:
    try:
        return max(arrow_type.bit_width // 8, 1)
    except ValueError:  # strings, dictionaries, nested values: no fixed width
        return STRING_BYTES


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else the total)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def fits_in_memory(source: TableSource, *, memory: int | None = None) -> bool:
    """Whether the numpy engine could hold the table (see :data:`MEMORY_FACTOR`)."""
    limit = available_memory() if memory is None else memory
    return source.memory_bytes * MEMORY_FACTOR <= limit


def choose_engine(source: TableSource, *, memory: int | None = None) -> Literal["numpy", "duckdb"]:
    """``--engine auto``: numpy when the table fits in memory, else DuckDB."""
    return "numpy" if fits_in_memory(source, memory=memory) else "duckdb"
