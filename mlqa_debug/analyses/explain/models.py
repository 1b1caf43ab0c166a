"""Trusted model files: where a model may load from, loading it, registering it with a dataset.

A model file registered with the dataset (``mlqa-debug add FILE --model M``, or
:func:`register_model` from the trusted folder) is what the ``model`` source
explains. Loading a pickle or joblib file runs code, so models load only from
trusted places (:func:`check_trusted`): the dataset's own folder (a built-in
sample's folder, or the workspace copy made by ``add``), or the folder named by
``$MLQA_DEBUG_TRUSTED_MODELS``; never from an upload or a URL. ``.skops`` files
load with ``skops`` when it is installed.

A model saved by another scikit-learn version gets a note
(:attr:`LoadedModel.notes`), read from the file's own record of that version
before anything is unpickled; scikit-learn's warning about it is left to the
warning machinery (no process-wide ``warnings.catch_warnings``, which is unsafe
in a server's threads).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import logging
import lzma
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from mlqa_debug.analyses.explain.estimators import check_model
from mlqa_debug.data.schema import ModelSpec
from mlqa_debug.data.workspace import (
    ENV_TRUSTED_MODELS,
    MODEL_SUFFIXES,
    DatasetEntry,
    Workspace,
)
from mlqa_debug.errors import ModelError
from mlqa_debug.files import write_atomic

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CHUNK = 1 << 20


@dataclass(eq=False)
class LoadedModel:
    """A model loaded from a trusted file, with its content hash and built explainers."""

    estimator: Any
    path: Path
    sha: str
    name: str
    version: str | None = None
    notes: tuple[str, ...] = ()
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A structure built once for this model (explainers), thread-safe and reentrant."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = build()
            return cast(T, self._memo[key])

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version else self.name


def trusted_models_dir() -> Path | None:
    """The folder named by ``$MLQA_DEBUG_TRUSTED_MODELS``, if set and a directory."""
    raw = os.environ.get(ENV_TRUSTED_MODELS)
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        logger.warning("%s=%r is not a directory; no trusted model folder", ENV_TRUSTED_MODELS, raw)
        return None
    return path


def check_trusted(path: str | os.PathLike[str], *, roots: Sequence[Path]) -> Path:
    """``path`` resolved (symlinks followed) if it is a model file inside one of ``roots``.

    Raises :class:`ModelError` otherwise: loading a pickle runs code, so a model
    is only ever loaded from a place the operator chose.
    """
    resolved = Path(path).expanduser().resolve()
    trusted = [Path(r).resolve() for r in roots]
    if not any(resolved.is_relative_to(r) for r in trusted):
        places = ", ".join(str(r) for r in trusted) or "(none)"
        raise ModelError(
            f"refusing to load the model {Path(path).name!r}: it is not in a trusted place "
            f"({places}). Loading a pickle runs code, so models load only from a dataset's "
            f"own folder or from ${ENV_TRUSTED_MODELS}, never from an upload or a link"
        )
    if resolved.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(
            f"model file {resolved.name!r}: expected one of {', '.join(MODEL_SUFFIXES)}"
        )
    if not resolved.is_file():
        raise ModelError(f"model file {resolved.name!r} not found in {resolved.parent}")
    return resolved


def _load_joblib(raw: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(raw))


def _load_skops(raw: bytes) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise ModelError(
            "this is a .skops model file; install skops (pip install skops) to load it"
        ) from None
    # The file sits in a trusted place; skops still builds only the types it lists.
    return sio.loads(raw, trusted=sio.get_untrusted_types(data=raw))


_LOADERS: dict[str, Callable[[bytes], Any]] = {
    ".joblib": _load_joblib,
    ".pkl": _load_joblib,
    ".skops": _load_skops,
}

# ``_sklearn_version`` and its value in a pickle's state dict (protocols 2 to 5):
# the key, an optional memo store (MEMOIZE, BINPUT, LONG_BINPUT), then the value
# as SHORT_BINUNICODE (1-byte length) or BINUNICODE (4-byte length).
_VERSION_KEY = re.compile(
    rb"_sklearn_version(?:\x94|q.|r.{4})?(?:\x8c(?P<short>.)|X(?P<long>.{4}))", re.DOTALL
)
_VERSION_TEXT = re.compile(r"\d+\.\d+[\w.+-]*")


def _file_chunks(
    opener: Callable[[IO[bytes]], io.BufferedIOBase],
) -> Callable[[bytes], Iterator[bytes]]:
    def chunks(raw: bytes) -> Iterator[bytes]:
        with opener(io.BytesIO(raw)) as stream:
            yield from iter(lambda: stream.read(_CHUNK), b"")

    return chunks


def _zlib_chunks(raw: bytes) -> Iterator[bytes]:
    inflate, data = zlib.decompressobj(), raw
    while data and not inflate.eof:
        yield inflate.decompress(data, _CHUNK)
        data = inflate.unconsumed_tail
    yield inflate.flush()


def _plain_chunks(raw: bytes) -> Iterator[bytes]:
    for start in range(0, len(raw), _CHUNK):
        yield raw[start : start + _CHUNK]


#: joblib's compressed formats, by the first bytes of the file (magic numbers).
_DECOMPRESS: dict[bytes, Callable[[bytes], Iterator[bytes]]] = {
    b"\x1f\x8b": _file_chunks(lambda f: gzip.GzipFile(fileobj=f)),
    b"BZh": _file_chunks(lambda f: bz2.BZ2File(f)),
    b"\xfd7zXZ": _file_chunks(lambda f: lzma.LZMAFile(f)),
    b"]\x00": _file_chunks(lambda f: lzma.LZMAFile(f)),
    b"x": _zlib_chunks,
}


def _version_at(data: bytes, match: re.Match[bytes]) -> str | None:
    """The text value after a ``_sklearn_version`` key, if it is whole in ``data``."""
    short, long = match.group("short"), match.group("long")
    size = short[0] if short is not None else int.from_bytes(long, "little")
    value = data[match.end() : match.end() + size]
    if size > 64 or len(value) < size:
        return None
    text = value.decode("ascii", errors="replace")
    return text if _VERSION_TEXT.fullmatch(text) else None


def pickled_sklearn_version(raw: bytes) -> str | None:
    """The scikit-learn version a joblib or pickle file was saved with, read without
    unpickling it (``None``: no scikit-learn object in it, or not readable)."""
    chunks = next((f for magic, f in _DECOMPRESS.items() if raw.startswith(magic)), _plain_chunks)
    tail = b""
    try:
        for chunk in chunks(raw):
            data = tail + chunk
            for match in _VERSION_KEY.finditer(data):
                version = _version_at(data, match)
                if version is not None:
                    return version
            tail = data[-96:]
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as e:
        logger.info("cannot read the scikit-learn version of a model file: %s", e)
    return None


#: The saved scikit-learn version of a file, by suffix (skops files are not read).
_SAVED_VERSION: dict[str, Callable[[bytes], str | None]] = {
    ".joblib": pickled_sklearn_version,
    ".pkl": pickled_sklearn_version,
}


def _version_notes(suffix: str, raw: bytes) -> tuple[str, ...]:
    """A note when the file was saved by another scikit-learn version than this one."""
    read = _SAVED_VERSION.get(suffix)
    saved = read(raw) if read is not None else None
    if saved is None:
        return ()
    from sklearn import __version__ as current

    if saved == current:
        return ()
    return (
        f"the model was saved with scikit-learn {saved} and is loaded with {current}; "
        "this might lead to breaking code or invalid results (re-save it with this version)",
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    roots: Sequence[Path],
    name: str | None = None,
    version: str | None = None,
) -> LoadedModel:
    """Load a model file that :func:`check_trusted` accepts; hash what is loaded."""
    resolved = check_trusted(path, roots=roots)
    raw = resolved.read_bytes()
    sha = hashlib.blake2b(raw, digest_size=16).hexdigest()
    suffix = resolved.suffix.lower()
    try:
        estimator = _LOADERS[suffix](raw)
    except ModelError:
        raise
    except Exception as e:  # unpickling can raise anything; say which file and why
        raise ModelError(
            f"model file {resolved.name!r} cannot be loaded: {type(e).__name__}: {e}"
        ) from e
    if not callable(getattr(estimator, "predict", None)):
        raise ModelError(
            f"model file {resolved.name!r} holds a {type(estimator).__name__}, "
            "not a fitted model with a predict method"
        )
    notes = _version_notes(suffix, raw)
    return LoadedModel(estimator, resolved, sha, name or resolved.stem, version, notes)


def dataset_model(workspace: Workspace, dataset: str) -> LoadedModel | None:
    """The model registered with ``dataset`` (from its own folder), or ``None``."""
    entry = workspace.entry(dataset)
    spec = entry.roles.model
    if spec is None:
        return None
    path = entry.model_path
    if path is None:
        raise ModelError(
            f"dataset {dataset!r} names the model file {spec.file!r}, which is missing "
            f"or outside the dataset's folder {entry.path.parent}"
        )
    return load_model(
        path,
        roots=[entry.path.parent],
        name=spec.name or Path(spec.file).stem,
        version=spec.version,
    )


def trusted_model_files() -> list[str]:
    """Names of the model files in the trusted folder (symlinks out of it excluded)."""
    root = trusted_models_dir()
    if root is None:
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.suffix.lower() in MODEL_SUFFIXES and p.is_file() and p.resolve().is_relative_to(root)
    )


def register_model(
    workspace: Workspace,
    dataset: str,
    filename: str,
    *,
    name: str | None = None,
    version: str | None = None,
) -> DatasetEntry:
    """Copy ``filename`` from the trusted folder into a registered dataset and record it.

    ``filename`` is a bare name that :func:`trusted_model_files` lists, never a
    path. The model is loaded (trusted) and applied to a few rows first, so a
    model that does not fit the data is refused before anything changes.
    """
    root = trusted_models_dir()
    if root is None:
        raise ModelError(
            f"no trusted model folder: set {ENV_TRUSTED_MODELS} to a folder of model files "
            "on the server, or register the model with `mlqa-debug add FILE --model MODEL`"
        )
    available = trusted_model_files()
    if filename not in available:
        raise ModelError(
            f"{filename!r} is not a model file in the trusted folder {root}; "
            f"available: {', '.join(available) or '(none)'}"
        )
    entry = workspace.entry(dataset)
    if entry.builtin:
        raise ModelError(
            f"{dataset!r} is a built-in sample with its own model; register a copy of it "
            "to attach another model"
        )
    model = load_model(root / filename, roots=[root], name=name, version=version)
    check_model(model, workspace.load(dataset))
    raw = model.path.read_bytes()
    if hashlib.blake2b(raw, digest_size=16).hexdigest() != model.sha:
        raise ModelError(f"model file {filename!r} changed while it was being registered")
    target = entry.path.parent / f"model{model.path.suffix.lower()}"
    write_atomic(target, raw)
    roles = replace(entry.roles, model=ModelSpec(target.name, name or model.path.stem, version))
    updated = workspace.save_roles(dataset, roles)
    old = entry.roles.model
    if old is not None and old.file != target.name:
        (entry.path.parent / Path(old.file).name).unlink(missing_ok=True)
    return updated
