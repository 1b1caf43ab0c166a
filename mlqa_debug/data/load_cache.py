"""A disk cache of validated workspace datasets, so a second command skips the load.

Reading, parsing and validating a 1,000,000-row table takes seconds; a CLI command
on a dataset it loaded before should not pay them again. :func:`load_cached` keeps
the validated, converted frame as an uncompressed Arrow IPC file (read back
memory-mapped; never pickle) and the rest of the :class:`Predictions` (schema,
fingerprint, source name, warnings, check results) as JSON beside it, under the
workspace's ``cache/loads/``.

An entry is keyed by the file's identity (resolved path, size, ``mtime_ns``,
``ctime_ns``, inode, device), the roles used, the versions of the package, pandas,
pyarrow and numpy, the registered checks and the loader's own source, and
:data:`STORE_VERSION`. Any change to the file misses: a rewrite changes its times
(or its inode, for a rename). A file changed less than :data:`RACY_SECONDS` before
it was read is not stored, since a second write within one clock tick could leave
its identity unchanged (git's "racily clean" problem).

A missing, corrupt or unreadable entry is a miss, never an error: the table is
loaded as usual and the entry rewritten (atomically: temp file + rename). Each
dataset keeps at most :data:`KEEP_PER_DATASET` entries; storing one for a new
identity of the file deletes those of its old identities.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlqa_debug.cache import cache_key
from mlqa_debug.data.checks import CheckResult
from mlqa_debug.data.checks.registry import CHECKS
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.read import max_file_bytes
from mlqa_debug.data.schema import ImageSpec, ModelSpec, Roles, Schema
from mlqa_debug.files import write_atomic

logger = logging.getLogger(__name__)

STORE_VERSION = 1
"""Bump when the layout of an entry changes: every older entry then misses."""

KEEP_PER_DATASET = 3
"""Entries kept per dataset (one per set of roles used on its current file)."""

RACY_SECONDS = 2.0
"""A file changed this recently when it was read is loaded but not stored."""

_STALE_SECONDS = 3600.0  # a temporary or orphaned file this old belongs to a writer that died

_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (Schema, CheckResult, ImageSpec, ModelSpec, Roles)
}


class _Unstorable(TypeError):
    """A value the JSON codec cannot round-trip exactly: the entry is not stored."""


@dataclass(frozen=True)
class FileIdentity:
    """What says a file is unchanged: where it is, its size, times and inode."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        """The identity of ``path`` now (``OSError`` if it cannot be read)."""
        resolved = path.resolve()
        st = resolved.stat()
        return cls(str(resolved), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)

    def digest(self) -> str:
        return cache_key(dataclasses.asdict(self))


def load_cached(
    path: Path, *, roles: Roles, name: str, cache_dir: Path, dataset: str
) -> Predictions:
    """``load_predictions(path, roles=roles, sidecar=False, name=name)``, through the cache.

    ``dataset`` (a workspace name) prefixes the entry's files, so old entries of
    the same dataset can be found and removed. A hit returns the same table a
    fresh load would, and issues the same warnings.
    """
    try:
        identity = FileIdentity.of(path)
    except OSError:  # the fresh load says what is wrong with the file
        return load_predictions(path, roles=roles, sidecar=False, name=name)
    entry = _Entry(cache_dir, dataset, identity, roles)
    if identity.size <= max_file_bytes():  # else the fresh load refuses it, as it should
        hit = entry.read()
        if hit is not None:
            for note in hit.warnings:
                warnings.warn(note, UserWarning, stacklevel=2)
            return hit
    started_ns = time.time_ns()
    predictions = load_predictions(path, roles=roles, sidecar=False, name=name)
    if _stable(identity, started_ns):
        entry.write(predictions)
    return predictions


def _stable(identity: FileIdentity, started_ns: int) -> bool:
    """Whether the file was unchanged while read, and changed long enough before."""
    try:
        unchanged = FileIdentity.of(Path(identity.path)) == identity
    except OSError:
        return False
    last_change = max(identity.mtime_ns, identity.ctime_ns)
    return unchanged and started_ns - last_change >= RACY_SECONDS * 1e9


class _Entry:
    """The two files of one cache entry: ``<dataset>.<file>.<key>.arrow`` and ``.json``."""

    def __init__(self, cache_dir: Path, dataset: str, identity: FileIdentity, roles: Roles) -> None:
        self.cache_dir = cache_dir
        self.dataset = dataset
        self.file_digest = identity.digest()
        self.key = cache_key(self.file_digest, _encode(roles), _environment())
        stem = f"{dataset}.{self.file_digest}.{self.key}"
        self.table_path = cache_dir / f"{stem}.arrow"
        self.meta_path = cache_dir / f"{stem}.json"

    def read(self) -> Predictions | None:
        """The cached table, or ``None`` if the entry is missing or unreadable."""
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if meta.get("key") != self.key:
                raise ValueError("the entry belongs to another key")
            schema, results = _decode(meta["schema"]), tuple(_decode(meta["checks"]))
            if not isinstance(schema, Schema) or not all(
                isinstance(r, CheckResult) for r in results
            ):
                raise ValueError("the schema or the check results do not decode")
            frame = _read_frame(self.table_path, meta["dtypes"], key=self.key)
            predictions = Predictions(
                frame,
                schema,
                str(meta["fingerprint"]),
                str(meta["source"]),
                tuple(str(n) for n in meta["warnings"]),
                results,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as e:
            logger.warning("ignoring unreadable load cache entry %s: %s", self.meta_path, e)
            return None
        with contextlib.suppress(OSError):  # a read-only workspace: still a hit
            os.utime(self.meta_path)  # the most recently used entry is the last one pruned
        return predictions

    def write(self, predictions: Predictions) -> None:
        """Store ``predictions`` (table first, then the JSON that makes it visible)."""
        try:
            meta = {
                "key": self.key,
                "dtypes": _dtype_texts(predictions.frame),
                "schema": _encode(predictions.schema),
                "fingerprint": predictions.fingerprint,
                "source": predictions.source,
                "warnings": list(predictions.warnings),
                "checks": _encode(predictions.check_results),
            }
            _check_round_trip(predictions.frame, meta["dtypes"])
            table = pa.Table.from_pandas(predictions.frame, preserve_index=None)
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), b"mlqa_debug_key": self.key.encode()}
            )
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            _write_table(self.table_path, table)
            write_atomic(self.meta_path, json.dumps(meta), durable=False)
        except (_Unstorable, OSError, ValueError, TypeError, pa.ArrowException) as e:
            logger.info("not caching the load of %s: %s", self.dataset, e)
            return
        self._prune()

    def _prune(self) -> None:
        """Delete entries of this dataset's old files, and all but the newest few."""
        mine: list[tuple[float, Path]] = []
        for meta in self.cache_dir.glob(f"{self.dataset}.*.json"):
            parts = meta.name.split(".")
            if len(parts) != 4 or parts[0] != self.dataset:
                continue
            try:
                stamp = meta.stat().st_mtime
            except OSError:
                continue
            if parts[1] != self.file_digest:
                _remove(meta)
            else:
                mine.append((stamp, meta))
        for _, meta in sorted(mine, reverse=True)[KEEP_PER_DATASET:]:
            _remove(meta)
        leftovers = [
            *self.cache_dir.glob(f".{self.dataset}.*.tmp"),  # of writers that died
            *(
                t
                for t in self.cache_dir.glob(f"{self.dataset}.*.arrow")
                if not t.with_suffix(".json").exists()
            ),
        ]
        for path in leftovers:  # a young one may be a write under way
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > _STALE_SECONDS:
                    path.unlink()


def forget(cache_dir: Path, dataset: str) -> None:
    """Delete every entry of ``dataset`` (it was removed from the workspace)."""
    for meta in cache_dir.glob(f"{dataset}.*.json"):
        if meta.name.split(".")[0] == dataset:
            _remove(meta)


def _remove(meta: Path) -> None:
    """Delete one entry: its JSON first (then no reader trusts the table), then the table."""
    for path in (meta, meta.with_suffix(".arrow")):
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            logger.info("cannot remove the cache file %s: %s", path, e)


def _write_table(path: Path, table: pa.Table) -> None:
    """Write an Arrow IPC file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.time_ns()}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_frame(path: Path, dtypes: Mapping[str, str], *, key: str) -> pd.DataFrame:
    """The cached frame, read memory-mapped; ``ValueError`` if it is not what was stored."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    if (table.schema.metadata or {}).get(b"mlqa_debug_key") != key.encode():
        raise ValueError("the table belongs to another entry")
    return _to_frame(table, dtypes)


def _check_round_trip(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> None:
    """``ValueError`` unless a row of ``frame`` comes back from Arrow with the same dtypes.

    A categorical column keeps all its categories in one row, so this catches what a
    whole table would lose (categories of ``pd.ArrowDtype`` strings come back as
    ``str``) at the cost of converting one row.
    """
    _to_frame(pa.Table.from_pandas(frame.iloc[:1], preserve_index=None), dtypes)


def _to_frame(table: pa.Table, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``table`` as pandas with the dtypes ``dtypes`` describes, else ``ValueError``."""
    arrow_typed = {table.field(c).type for c, d in dtypes.items() if d.endswith("[pyarrow]")}
    frame = table.to_pandas(types_mapper=_arrow_dtype_mapper(arrow_typed))
    found = _dtype_texts(frame)
    if found != dict(dtypes):
        changed = [c for c in dtypes if found.get(c) != dtypes[c]][:3]
        raise ValueError(f"the columns {changed} would come back with other dtypes")
    return frame


def _dtype_texts(frame: pd.DataFrame) -> dict[str, str]:
    """Each column's dtype as text that tells apart the dtypes ``str()`` confuses."""
    out: dict[str, str] = {}
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            text = f"category[{dtype.categories.dtype!r}, ordered={dtype.ordered}]"
        else:
            text = repr(dtype)
        out[str(column)] = text
    return out


def _arrow_dtype_mapper(types: set[pa.DataType]) -> Callable[[pa.DataType], Any]:
    """Map the Arrow types of ``pd.ArrowDtype`` columns back to that dtype."""

    def mapper(arrow_type: pa.DataType) -> Any:
        return pd.ArrowDtype(arrow_type) if arrow_type in types else None

    return mapper


def _environment() -> list[Any]:
    """What else a fresh load's result depends on: versions, checks, the loader's code."""
    import mlqa_debug

    return [
        STORE_VERSION,
        mlqa_debug.__version__,
        pd.__version__,
        pa.__version__,
        np.__version__,
        [(c.name, c.severity, c.after, c.role, c.task) for c in CHECKS],
        _loader_source_digest(),
    ]


def _loader_source_digest() -> str:
    """A hash of the loader's source files, so an edited check misses in development."""
    folder = Path(__file__).resolve().parent
    files = sorted([*folder.glob("*.py"), *(folder / "checks").glob("*.py")])
    h = hashlib.blake2b(digest_size=16)
    for file in files:
        try:
            h.update(file.name.encode() + b"\0" + file.read_bytes())
        except OSError:
            h.update(file.name.encode() + b"\0?")
    return h.hexdigest()


def _encode(value: Any) -> Any:
    """A tagged JSON form that :func:`_decode` turns back into an equal value of one type.

    Tuples, lists, mappings (any keys, in order), the schema's dataclasses and plain
    scalars keep their types (``1``, ``1.0``, ``True`` and ``"1"`` stay apart); a
    numpy scalar becomes its Python value. Anything else raises :class:`_Unstorable`.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    for tag, kind in (("b", bool), ("i", int), ("f", float)):
        if isinstance(value, kind):
            return {tag: value}
    if isinstance(value, tuple | list):
        return {"t" if isinstance(value, tuple) else "l": [_encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"m": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _CLASSES:
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dc": type(value).__name__, "v": fields}
    raise _Unstorable(f"cannot store a {type(value).__name__} exactly")


def _decode(data: Any) -> Any:
    """The value :func:`_encode` encoded (``ValueError`` on anything else)."""
    if data is None or isinstance(data, str):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    if "dc" in data:
        return _CLASSES[data["dc"]](**{k: _decode(v) for k, v in data["v"].items()})
    ((tag, raw),) = data.items()
    scalars: dict[str, type] = {"b": bool, "i": int, "f": float}
    if tag in scalars:
        if type(raw) is not scalars[tag] and not (tag == "f" and type(raw) is int):
            raise ValueError(f"expected a {scalars[tag].__name__}, got {raw!r}")
        return scalars[tag](raw)
    if tag == "t":
        return tuple(_decode(v) for v in raw)
    if tag == "l":
        return [_decode(v) for v in raw]
    if tag == "m":
        return {_decode(k): _decode(v) for k, v in raw}
    raise ValueError(f"unknown tag {tag!r}")
