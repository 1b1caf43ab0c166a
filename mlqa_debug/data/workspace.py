"""Where datasets, cases and caches live, and the safe names that address them.

A workspace is a directory (``--workspace DIR``, else ``$MLQA_DEBUG_WORKSPACE``,
else ``~/.mlqa-debug``)::

    datasets/<name>/dataset.json   roles and provenance of a registered dataset
    datasets/<name>/data.csv|.parquet   a copy of the file as it was registered
    datasets/<name>/model.joblib   optional model registered with it (trusted)
    cases/                          regression cases (one JSON per case)
    cache/                          expensive results keyed by content hash

Registering copies the file, so the workspace is self-contained and nothing
outside it is ever read on behalf of a URL: the file is streamed into a hidden
staging folder beside the datasets, validated from there and renamed into place.
The datasets may take at most the workspace quota on disk (``quota_bytes=``,
else ``$MLQA_DEBUG_QUOTA_BYTES``, else 10 GB). The bundled samples are always
available as built-in datasets. Dataset names are short lowercase ids
(:func:`validate_name`); a URL names a dataset, never a path.

A dataset may name a *default baseline*: another dataset holding an older model's
predictions on the same examples, what the Compare page and relative cases compare
it with by default (``"baseline"`` in ``dataset.json``; :meth:`Workspace.set_baseline`;
the built-in ``loans_v2`` has ``loans``).

An *external* dataset is registered by reference (:meth:`Workspace.add_external`):
nothing is copied, ``dataset.json`` holds ``"kind": "external"``, the absolute path,
the engine (DuckDB or Spark) and what the files' metadata said then
(:mod:`mlqa_debug.data.external`). :meth:`Workspace.open_external` gives its engine
and a seeded sample; :meth:`Workspace.load` gives the sample alone, and warns so.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyarrow as pa

from mlqa_debug.data import external
from mlqa_debug.data.external import ExternalSource, ExternalTable
from mlqa_debug.data.load_cache import forget, load_cached
from mlqa_debug.data.predictions import (
    SUPPORTED_SUFFIXES,
    Predictions,
    load_predictions,
    read_sidecar,
    sidecar_path,
)
from mlqa_debug.data.schema import ModelSpec, Roles
from mlqa_debug.errors import MlqaError, SchemaError, WorkspaceError
from mlqa_debug.files import swap_folder, write_atomic
from mlqa_debug.types import FileSource

ENV_WORKSPACE = "MLQA_DEBUG_WORKSPACE"
ENV_TRUSTED_MODELS = "MLQA_DEBUG_TRUSTED_MODELS"
ENV_QUOTA = "MLQA_DEBUG_QUOTA_BYTES"
DEFAULT_QUOTA_BYTES = 10 * 2**30
DEFAULT_WORKSPACE = Path("~/.mlqa-debug")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
MODEL_SUFFIXES = (".joblib", ".pkl", ".skops")
_CHUNK_BYTES = 2**20  # an upload is copied to disk this much at a time

#: Built-in datasets: name -> (file in sample_data/, one-line description).
SAMPLES: dict[str, tuple[str, str]] = {
    "loans": ("loans.csv", "Synthetic loan defaults (binary) with planted failure modes"),
    "loans_v2": ("loans_v2.csv", "Second model's predictions on the same loans"),
    "digits": ("digits.parquet", "scikit-learn digits (multiclass, 8x8 images)"),
    "diabetes": ("diabetes.csv", "scikit-learn diabetes progression (regression)"),
}

#: Default baselines of the built-in datasets: name -> the dataset it is compared with.
SAMPLE_BASELINES: dict[str, str] = {"loans_v2": "loans"}


def samples_dir() -> Path:
    """The bundled ``sample_data/``: beside the package in a checkout, inside it in a wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "sample_data", package / "_app" / "sample_data"):
        if candidate.is_dir():
            return candidate
    return package.parent / "sample_data"


def validate_safe_id(value: object, *, what: str, error: type[MlqaError]) -> str:
    """Return ``value`` if it is a safe id (:data:`NAME_PATTERN`), else raise ``error``.

    ``what`` names the id in the message: ``"'../x' is not a valid dataset name; ..."``.
    Dataset names and case ids are safe ids: they name folders and files, never paths.
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "...'"
        raise error(
            f"{shown} is not a valid {what}; expected 1-48 characters of lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit"
        )
    return value


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid dataset id, else raise :class:`WorkspaceError`."""
    return validate_safe_id(name, what="dataset name", error=WorkspaceError)


def format_bytes(n: int) -> str:
    """``1.5 GB``, ``200.0 MB``, ``12 bytes`` (units of 1024, as the file size cap says)."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def quota_from_env() -> int:
    """The workspace quota in bytes: ``$MLQA_DEBUG_QUOTA_BYTES``, else 10 GB (``10 * 2**30``).

    The variable holds a number of bytes (``10e9``, ``500_000_000``); ``0`` refuses
    every add.
    """
    raw = os.environ.get(ENV_QUOTA, "").strip()
    if not raw:
        return DEFAULT_QUOTA_BYTES
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):  # also refuses NaN
        raise WorkspaceError(
            f"{ENV_QUOTA}={raw!r} is not a number of bytes; expected a number such as 10e9"
        )
    return int(value)


class DatasetExistsError(WorkspaceError):
    """A dataset of that name is registered: before the add began, or while it ran (``raced``).

    ``fact`` says what happened; the message adds what to do in the Python API
    (``overwrite=True``). The command line and the Data page say it their way
    (``--overwrite``, another name in the form), from ``fact``.
    """

    def __init__(self, name: str, *, raced: bool = False) -> None:
        self.name = name
        self.raced = raced
        self.fact = (
            f"another add registered a dataset named {name!r} while this one was running; "
            "that one is kept and this file was not registered"
            if raced
            else f"a dataset named {name!r} exists"
        )
        super().__init__(f"{self.fact}; choose another name, or pass overwrite=True to replace it")


class QuotaExceededError(WorkspaceError):
    """A file that would take the workspace's datasets over its quota.

    ``used`` and ``quota`` are bytes; ``size`` is the file's, or ``None`` for a
    stream whose length was unknown (it was read only until it went over).
    ``fact`` is the message without the advice (``set $MLQA_DEBUG_QUOTA_BYTES``),
    which the Data page replaces with its own.
    """

    def __init__(self, *, used: int, quota: int, size: int | None) -> None:
        self.used = used
        self.quota = quota
        self.size = size
        free = max(quota - used, 0)
        shown = format_bytes(size) if size is not None else f"over {format_bytes(free)}"
        self.fact = (
            f"the file ({shown}) does not fit in the workspace quota: its datasets use "
            f"{format_bytes(used)} of {format_bytes(quota)} ({format_bytes(free)} free)"
        )
        super().__init__(f"{self.fact}; set {ENV_QUOTA} to raise the quota")


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset the workspace can serve."""

    name: str
    path: Path
    roles: Roles
    builtin: bool
    description: str = ""
    added: str | None = None
    source: str | None = None
    baseline: str | None = None
    """The dataset this one is compared with by default (another model on the same rows)."""
    reference_only: bool = False
    """A table with labels and no predictions (a training set): it serves as the
    reference of leakage and drift checks, and loads with its labels standing in
    for the predictions (:func:`mlqa_debug.data.reference.load_labelled`)."""
    external: ExternalSource | None = None
    """Where the files of a dataset registered by reference are (``path`` is then the
    ``dataset.json`` in its folder): :meth:`Workspace.open_external` opens it."""

    @property
    def model_path(self) -> Path | None:
        """The registered model file, resolved inside the dataset's own folder only."""
        if self.roles.model is None:
            return None
        folder = self.path.parent.resolve()
        candidate = (folder / self.roles.model.file).resolve()
        if not candidate.is_relative_to(folder) or not candidate.is_file():
            return None
        return candidate


class Workspace:
    """Registered datasets plus the built-in samples, under one root directory.

    ``quota_bytes`` caps the bytes the registered datasets take on disk (default:
    :func:`quota_from_env`, read when a dataset is added).
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, quota_bytes: int | None = None
    ) -> None:
        chosen = root if root is not None else os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE
        self.root = Path(chosen).expanduser().resolve()
        if quota_bytes is not None and quota_bytes < 0:
            raise WorkspaceError(f"quota_bytes={quota_bytes} is negative; expected bytes >= 0")
        self._quota_bytes = quota_bytes

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def cases_dir(self) -> Path:
        return self.root / "cases"

    @property
    def quota_bytes(self) -> int:
        """The most bytes the registered datasets may take (see :func:`quota_from_env`)."""
        return quota_from_env() if self._quota_bytes is None else self._quota_bytes

    def used_bytes(self, *, excluding: Iterable[Path] = ()) -> int:
        """Bytes of every file under ``datasets/``: registered datasets and adds under way."""
        skip = set(excluding)
        total = 0
        for folder, subfolders, files in os.walk(self.datasets_dir):
            here = Path(folder)
            subfolders[:] = [d for d in subfolders if here / d not in skip]
            for file in files:
                with contextlib.suppress(OSError):  # removed meanwhile
                    total += (here / file).lstat().st_size
        return total

    def cache_dir(self, kind: str) -> Path:
        """A cache folder for one kind of result (``umap``, ``shap``, ``discovery`` ...)."""
        path = self.root / "cache" / validate_name(kind)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def entries(self) -> list[DatasetEntry]:
        """Built-in samples first, then registered datasets by name."""
        out = [e for name in SAMPLES if (e := self._builtin(name)) is not None]
        if self.datasets_dir.is_dir():
            for folder in sorted(self.datasets_dir.iterdir()):
                if NAME_PATTERN.fullmatch(folder.name) and (folder / "dataset.json").is_file():
                    try:
                        out.append(self._registered(folder.name))
                    except WorkspaceError:
                        continue
        return out

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def entry(self, name: object) -> DatasetEntry:
        """The dataset called ``name``; :class:`WorkspaceError` if invalid or unknown."""
        name = validate_name(name)
        if name in SAMPLES and (builtin := self._builtin(name)) is not None:
            return builtin
        if (self.datasets_dir / name / "dataset.json").is_file():
            return self._registered(name)
        raise WorkspaceError(
            f"no dataset named {name!r} in the workspace {self.root}; "
            f"available: {', '.join(self.names()) or '(none)'}"
        )

    def load(self, name: str, *, roles: Roles | None = None, cache: bool = False) -> Predictions:
        """Load and validate a dataset, with optional extra role overrides.

        ``cache=True`` goes through the load cache (:mod:`mlqa_debug.data.load_cache`,
        under ``cache/loads/``) for a registered dataset: the CLI's choice, where every
        command is a new process. The built-in samples are small and always read afresh.
        """
        entry = self.entry(name)
        merged = entry.roles.merged(roles) if roles else entry.roles
        if entry.external is not None:
            table = self.open_external(name, roles=roles)
            warnings.warn(
                f"{name!r} is an external dataset of {table.n_rows:,} rows: loaded a seeded "
                f"sample of {table.sample.n_samples:,} of them; for exact numbers run on "
                f"{entry.external.path} with --engine {entry.external.engine}",
                UserWarning,
                stacklevel=2,
            )
            return table.sample

        def load(chosen: Roles) -> Predictions:
            if cache and not entry.builtin:
                return load_cached(
                    entry.path,
                    roles=chosen,
                    name=entry.path.name,
                    cache_dir=self.root / "cache" / "loads",
                    dataset=entry.name,
                )
            return load_predictions(entry.path, roles=chosen, sidecar=False, name=entry.path.name)

        if entry.reference_only:
            return _load_labelled(load, merged)
        return load(merged)

    def add(
        self,
        source: FileSource,
        *,
        name: str,
        roles: Roles | None = None,
        model: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        overwrite: bool = False,
        baseline: str | None = None,
    ) -> DatasetEntry:
        """Validate ``source`` and register a copy of it as ``name``.

        A table with labels and no prediction column (a training set) is registered
        as a reference table (:attr:`DatasetEntry.reference_only`). ``baseline`` names
        the dataset it is compared with by default (it must exist and not be ``name``
        itself; see :meth:`set_baseline`).

        The file (a path, or an upload as a binary file object) is copied in chunks
        into a staging folder of the workspace, within the quota
        (:class:`QuotaExceededError`), and validated from there: what is registered
        is what was validated, and a refused file does not stay in memory. Sidecar
        roles beside a path source are folded into the stored roles. A
        model file (a trusted local path, never an upload) is copied along. The
        dataset appears atomically: a failed add leaves nothing behind and lets go
        of what it read. A name taken by another add meanwhile raises
        :class:`DatasetExistsError` (``raced``), and that dataset is left as it is.
        """
        name = self._new_name(name, overwrite=overwrite)
        baseline = self._check_baseline(name, baseline)
        roles = self._source_roles(source, roles or Roles())
        display = filename or Path(str(getattr(source, "name", source))).name
        suffix = Path(display).suffix.lower()
        model_file = None if model is None else self._check_model(Path(model))
        if model_file is not None:
            roles = replace(roles, model=ModelSpec(f"model{model_file.suffix}", model_file.stem))
        with self._staging(name, overwrite=overwrite) as staging:
            data_path = staging / f"data{suffix if suffix in SUPPORTED_SUFFIXES else '.csv'}"
            self._stage_source(source, data_path, replacing=name if overwrite else None)
            predictions = _load_labelled(
                lambda r: load_predictions(data_path, roles=r, sidecar=False, name=display), roles
            )
            reference_only = predictions.schema.prediction == predictions.schema.label
            if model_file is not None:
                shutil.copyfile(model_file, staging / f"model{model_file.suffix}")
            meta = {
                "name": name,
                "file": data_path.name,
                "roles": roles.to_dict(),
                "added": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": display,
                "fingerprint": predictions.fingerprint,
                "rows": predictions.n_samples,
            }
            if baseline is not None:
                meta["baseline"] = baseline
            if reference_only:
                meta["kind"] = "reference"
            (staging / "dataset.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def add_external(
        self,
        target: str | os.PathLike[str],
        *,
        name: str,
        engine: str = "duckdb",
        roles: Roles | None = None,
        model: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        baseline: str | None = None,
        spark_master: str | None = None,
    ) -> DatasetEntry:
        """Register the table at ``target`` (file, directory or glob) by reference as ``name``.

        Nothing is copied: the table is opened on ``engine`` (``duckdb`` or ``spark``)
        to resolve and validate its roles, and ``dataset.json`` stores the absolute
        path, the engine, the roles and the files' fingerprint, row and file counts
        and bytes. A bad path or an unusable table raises a :class:`MlqaError` naming
        it. ``model`` and ``baseline`` as in :meth:`add`.
        """
        name = self._new_name(name, overwrite=overwrite)
        baseline = self._check_baseline(name, baseline)
        roles = roles or Roles()
        model_file = None if model is None else self._check_model(Path(model))
        if model_file is not None:
            roles = replace(roles, model=ModelSpec(f"model{model_file.suffix}", model_file.stem))
        source = external.register_external(target, engine, roles, spark_master=spark_master)
        with self._staging(name, overwrite=overwrite) as staging:
            if model_file is not None:
                shutil.copyfile(model_file, staging / f"model{model_file.suffix}")
            meta = {
                "name": name,
                "kind": "external",
                "roles": roles.to_dict(),
                "added": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": str(target),
                **source.to_meta(),
            }
            if baseline is not None:
                meta["baseline"] = baseline
            (staging / "dataset.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def open_external(
        self, name: str, *, roles: Roles | None = None, sample_rows: int | None = None
    ) -> ExternalTable:
        """The engine and the seeded sample of the external dataset ``name``.

        :class:`~mlqa_debug.data.external.ExternalChangedError` if its files are gone
        or changed since it was registered; ``sample_rows`` defaults to
        ``$MLQA_EXTERNAL_SAMPLE_ROWS`` (200,000).
        """
        entry = self.entry(name)
        if entry.external is None:
            raise WorkspaceError(f"{name!r} is not an external dataset; load it instead")
        merged = entry.roles.merged(roles) if roles else entry.roles
        return external.open_external(entry.name, entry.external, merged, sample_rows=sample_rows)

    def save_roles(self, name: str, roles: Roles) -> DatasetEntry:
        """Store new role overrides for a registered dataset (validated first)."""
        entry = self.entry(name)
        if entry.builtin:
            raise WorkspaceError(f"{name!r} is a built-in sample; register a copy to change roles")
        if entry.external is not None:
            external.check_roles(name, entry.external, roles)
        else:
            load_predictions(entry.path, roles=roles, sidecar=False)
        meta_path = entry.path.parent / "dataset.json"
        meta = json.loads(meta_path.read_text())
        meta["roles"] = roles.to_dict()
        write_atomic(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def set_baseline(self, name: str, baseline: str | None) -> DatasetEntry:
        """Store (or with ``None`` clear) the default baseline of a registered dataset.

        The baseline must be a dataset of this workspace other than ``name``;
        built-in samples keep theirs (:data:`SAMPLE_BASELINES`).
        """
        entry = self.entry(name)
        if entry.builtin:
            raise WorkspaceError(
                f"{name!r} is a built-in sample; its default baseline is fixed "
                "(register a copy to choose another)"
            )
        baseline = self._check_baseline(name, baseline)
        meta_path = entry.path.parent / "dataset.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if baseline is None:
            meta.pop("baseline", None)
        else:
            meta["baseline"] = baseline
        write_atomic(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def _check_baseline(self, name: str, baseline: object) -> str | None:
        """``baseline`` if it names a dataset of this workspace other than ``name``."""
        if baseline is None:
            return None
        baseline = validate_safe_id(baseline, what="baseline dataset name", error=WorkspaceError)
        if baseline == name:
            raise WorkspaceError(f"{name!r} cannot be its own baseline; choose another dataset")
        try:
            self.entry(baseline)
        except WorkspaceError as e:
            raise WorkspaceError(f"the baseline of {name!r} cannot be set: {e}") from None
        return baseline

    def remove(self, name: str) -> None:
        entry = self.entry(name)
        if entry.builtin:
            raise WorkspaceError(f"{name!r} is a built-in sample and cannot be removed")
        shutil.rmtree(entry.path.parent)
        forget(self.root / "cache" / "loads", entry.name)

    def _builtin(self, name: str) -> DatasetEntry | None:
        file, description = SAMPLES[name]
        path = samples_dir() / file
        if not path.is_file():
            return None
        sidecar = sidecar_path(path)
        roles = read_sidecar(sidecar) if sidecar.is_file() else Roles()
        return DatasetEntry(
            name,
            path,
            roles,
            builtin=True,
            description=description,
            baseline=SAMPLE_BASELINES.get(name),
        )

    def _registered(self, name: str) -> DatasetEntry:
        folder = self.datasets_dir / name
        try:
            meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise TypeError(f"expected a JSON object, got {type(meta).__name__}")
            roles = Roles.from_dict(meta.get("roles", {}), source=str(folder / "dataset.json"))
            by_reference = meta.get("kind") == "external"
            source = ExternalSource.from_meta(meta) if by_reference else None
            path = folder / ("dataset.json" if by_reference else Path(str(meta["file"])).name)
            baseline = meta.get("baseline")
            if baseline is not None:
                validate_safe_id(baseline, what="baseline dataset name", error=WorkspaceError)
        except (OSError, ValueError, KeyError, TypeError, WorkspaceError) as e:
            raise WorkspaceError(f"dataset {name!r} has an unreadable dataset.json: {e}") from e
        return DatasetEntry(
            name,
            path,
            roles,
            builtin=False,
            description=str(meta.get("description", "")),
            added=meta.get("added"),
            source=meta.get("source"),
            baseline=baseline,
            reference_only=meta.get("kind") == "reference",
            external=source,
        )

    def _new_name(self, name: str, *, overwrite: bool) -> str:
        name = validate_name(name)
        if name in SAMPLES:
            raise WorkspaceError(f"{name!r} is the name of a built-in sample; choose another")
        if (self.datasets_dir / name).exists() and not overwrite:
            raise DatasetExistsError(name)
        return name

    @staticmethod
    def _source_roles(source: object, roles: Roles) -> Roles:
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            sidecar = sidecar_path(path)
            if sidecar.is_file():
                found = read_sidecar(sidecar)
                if found.model is not None:  # the model is registered only by an explicit flag
                    found = replace(found, model=None)
                return found.merged(roles)
        return roles

    @staticmethod
    def _check_model(path: Path) -> Path:
        if not path.is_file():
            raise WorkspaceError(f"model file {str(path)!r} not found")
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise WorkspaceError(
                f"model file {path.name!r}: expected one of {', '.join(MODEL_SUFFIXES)}"
            )
        return path

    def _stage_source(self, source: FileSource, target: Path, *, replacing: str | None) -> None:
        """Copy ``source`` to ``target`` if it fits in the quota (an overwrite frees its own)."""
        size = _source_size(source)
        quota = self.quota_bytes
        excluded = [target.parent] + ([self.datasets_dir / replacing] if replacing else [])
        used = self.used_bytes(excluding=excluded)
        free = max(quota - used, 0)
        if size is not None and size > free:
            raise QuotaExceededError(used=used, quota=quota, size=size)
        if _copy_at_most(source, target, limit=free) > free:  # a stream of unknown length
            raise QuotaExceededError(used=used, quota=quota, size=None)

    @contextmanager
    def _staging(self, name: str, *, overwrite: bool) -> Iterator[Path]:
        """A hidden folder to fill; renamed to ``datasets/<name>`` when the block succeeds.

        On failure the folder goes, and so do the workspace folders this add
        created (if still empty), and what the failed add read (:func:`_let_go`).
        """
        created = [p for p in (self.root, self.datasets_dir) if not p.exists()]
        staging = self._new_staging_folder(name)
        try:
            yield staging
            self._put_in_place(staging, name, overwrite=overwrite)
        except BaseException as e:
            shutil.rmtree(staging, ignore_errors=True)
            for folder in reversed(created):
                with contextlib.suppress(OSError):  # not empty: another add is using it
                    folder.rmdir()
            _let_go(e)
            raise

    def _new_staging_folder(self, name: str) -> Path:
        tries = 3
        while True:
            self.datasets_dir.mkdir(parents=True, exist_ok=True)
            try:
                return Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.datasets_dir))
            except FileNotFoundError:  # another add's cleanup removed the empty folder
                tries -= 1
                if tries == 0:
                    raise

    def _put_in_place(self, staging: Path, name: str, *, overwrite: bool) -> None:
        """Rename ``staging`` to the dataset's folder: the rename decides a race."""
        final = self.datasets_dir / name
        try:
            if overwrite:  # the previous copy goes back if the rename fails
                swap_folder(staging, final, what=f"the previous files of {name!r}")
            else:  # never replaces a folder with files in it, so one of two adds wins
                staging.rename(final)
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST) and final.is_dir():
                raise DatasetExistsError(name, raced=True) from e
            raise


def _source_size(source: FileSource) -> int | None:
    """Bytes in a path or a seekable upload (rewound); ``None`` for a plain stream."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise SchemaError("file not found or not a regular file", file=str(path))
        return path.stat().st_size
    if not source.seekable():
        return None
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    return size


def _copy_at_most(source: FileSource, target: Path, *, limit: int) -> int:
    """Copy ``source`` into ``target`` a chunk at a time; stop after ``limit + 1`` bytes."""
    if not isinstance(source, str | os.PathLike):
        return _copy_chunks(source, target, limit=limit)
    try:
        reader = open(source, "rb")  # closed below: only opening is the source's error
    except OSError as e:
        raise SchemaError(f"cannot read the file: {e.strerror or e}", file=str(source)) from e
    with reader:
        return _copy_chunks(reader, target, limit=limit)


def _copy_chunks(reader: IO[bytes], target: Path, *, limit: int) -> int:
    written = 0
    with target.open("wb") as out:
        while written <= limit:
            chunk = reader.read(min(_CHUNK_BYTES, limit + 1 - written))
            if not chunk:
                break
            out.write(chunk)
            written += len(chunk)
    return written


def _let_go(error: BaseException) -> None:
    """Free what a failed add read: the file's bytes, the frame parsed from them.

    The traceback of a refused file keeps the frames that read it alive, and with
    them its bytes and the table parsed from them; a chained error's traceback
    leads back to the frame that holds it, a cycle only a full collection frees.
    Clearing those finished frames, collecting, and handing freed pages back
    (pyarrow's pool, glibc's heap) returns the process to about its size before.
    The tracebacks keep their lines, so a logged one reads the same.
    """
    stack, seen = [error], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)  # frames still running are skipped
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
            ctypes.CDLL(None).malloc_trim(0)


def _load_labelled(load: Callable[[Roles], Predictions], roles: Roles) -> Predictions:
    # Imported here: mlqa_debug.data.reference names workspace datasets with this module.
    from mlqa_debug.data.reference import load_labelled

    return load_labelled(load, roles)
