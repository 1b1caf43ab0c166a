"""Where datasets, cases and caches live, and the safe names that address them.

A workspace is a directory (``--workspace DIR``, else ``$MLQA_DEBUG_WORKSPACE``,
else ``~/.mlqa-debug``)::

    datasets/<name>/dataset.json   roles and provenance of a registered dataset
    datasets/<name>/data.csv|.parquet   a copy of the file as it was registered
    datasets/<name>/model.joblib   optional model registered with it (trusted)
    cases/                          regression cases (one JSON per case)
    cache/                          expensive results keyed by content hash

Registering copies the file, so the workspace is self-contained and nothing
outside it is ever read on behalf of a URL. The bundled samples are always
available as built-in datasets. Dataset names are short lowercase ids
(:func:`validate_name`); a URL names a dataset, never a path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from mlqa_debug.data.predictions import (
    SUPPORTED_SUFFIXES,
    Predictions,
    load_predictions,
    read_sidecar,
    sidecar_path,
)
from mlqa_debug.data.schema import ModelSpec, Roles
from mlqa_debug.errors import MlqaError, WorkspaceError
from mlqa_debug.files import write_atomic

ENV_WORKSPACE = "MLQA_DEBUG_WORKSPACE"
ENV_TRUSTED_MODELS = "MLQA_DEBUG_TRUSTED_MODELS"
DEFAULT_WORKSPACE = Path("~/.mlqa-debug")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
MODEL_SUFFIXES = (".joblib", ".pkl", ".skops")

#: Built-in datasets: name -> (file in sample_data/, one-line description).
SAMPLES: dict[str, tuple[str, str]] = {
    "loans": ("loans.csv", "Synthetic loan defaults (binary) with planted failure modes"),
    "loans_v2": ("loans_v2.csv", "Second model's predictions on the same loans"),
    "digits": ("digits.parquet", "scikit-learn digits (multiclass, 8x8 images)"),
    "diabetes": ("diabetes.csv", "scikit-learn diabetes progression (regression)"),
}


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
    """Registered datasets plus the built-in samples, under one root directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        chosen = root if root is not None else os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE
        self.root = Path(chosen).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def cases_dir(self) -> Path:
        return self.root / "cases"

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

    def load(self, name: str, *, roles: Roles | None = None) -> Predictions:
        """Load and validate a dataset, with optional extra role overrides."""
        entry = self.entry(name)
        merged = entry.roles.merged(roles) if roles else entry.roles
        return load_predictions(entry.path, roles=merged, sidecar=False, name=entry.path.name)

    def add(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        name: str,
        roles: Roles | None = None,
        model: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        overwrite: bool = False,
    ) -> DatasetEntry:
        """Validate ``source`` and register a copy of it as ``name``.

        Sidecar roles beside a path source are folded into the stored roles. A
        model file (a trusted local path, never an upload) is copied along. The
        dataset appears atomically: a failed add leaves nothing behind.
        """
        name = self._new_name(name, overwrite=overwrite)
        roles = self._source_roles(source, roles or Roles())
        display = filename or Path(str(getattr(source, "name", source))).name
        suffix = Path(display).suffix.lower()
        if model is not None:
            model_file = self._check_model(Path(model))
            roles = replace(roles, model=ModelSpec(f"model{model_file.suffix}", model_file.stem))
        predictions = load_predictions(source, roles=roles, sidecar=False, name=display)
        with self._staging(name, overwrite=overwrite) as staging:
            data_path = staging / f"data{suffix if suffix in SUPPORTED_SUFFIXES else '.csv'}"
            self._copy_source(source, data_path)
            if model is not None:
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
            (staging / "dataset.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def save_roles(self, name: str, roles: Roles) -> DatasetEntry:
        """Store new role overrides for a registered dataset (validated first)."""
        entry = self.entry(name)
        if entry.builtin:
            raise WorkspaceError(f"{name!r} is a built-in sample; register a copy to change roles")
        load_predictions(entry.path, roles=roles, sidecar=False)
        meta_path = entry.path.parent / "dataset.json"
        meta = json.loads(meta_path.read_text())
        meta["roles"] = roles.to_dict()
        write_atomic(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
        return self.entry(name)

    def remove(self, name: str) -> None:
        entry = self.entry(name)
        if entry.builtin:
            raise WorkspaceError(f"{name!r} is a built-in sample and cannot be removed")
        shutil.rmtree(entry.path.parent)

    def _builtin(self, name: str) -> DatasetEntry | None:
        file, description = SAMPLES[name]
        path = samples_dir() / file
        if not path.is_file():
            return None
        sidecar = sidecar_path(path)
        roles = read_sidecar(sidecar) if sidecar.is_file() else Roles()
        return DatasetEntry(name, path, roles, builtin=True, description=description)

    def _registered(self, name: str) -> DatasetEntry:
        folder = self.datasets_dir / name
        try:
            meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise TypeError(f"expected a JSON object, got {type(meta).__name__}")
            roles = Roles.from_dict(meta.get("roles", {}), source=str(folder / "dataset.json"))
            path = folder / Path(str(meta["file"])).name
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise WorkspaceError(f"dataset {name!r} has an unreadable dataset.json: {e}") from e
        return DatasetEntry(
            name,
            path,
            roles,
            builtin=False,
            description=str(meta.get("description", "")),
            added=meta.get("added"),
            source=meta.get("source"),
        )

    def _new_name(self, name: str, *, overwrite: bool) -> str:
        name = validate_name(name)
        if name in SAMPLES:
            raise WorkspaceError(f"{name!r} is the name of a built-in sample; choose another")
        if (self.datasets_dir / name).exists() and not overwrite:
            raise WorkspaceError(f"a dataset named {name!r} exists; remove it or pass overwrite")
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

    @staticmethod
    def _copy_source(source: str | os.PathLike[str] | IO[bytes], target: Path) -> None:
        if isinstance(source, str | os.PathLike):
            shutil.copyfile(source, target)
            return
        source.seek(0)
        with target.open("wb") as out:
            shutil.copyfileobj(source, out)

    @contextmanager
    def _staging(self, name: str, *, overwrite: bool) -> Iterator[Path]:
        self.datasets_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.datasets_dir))
        try:
            yield staging
            final = self.datasets_dir / name
            if overwrite and final.exists():
                shutil.rmtree(final)
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
