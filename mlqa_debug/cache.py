"""A content-addressed disk cache for expensive results (projections, SHAP values, slices).

Keys are hashes of everything the result depends on (dataset fingerprint,
parameters, library version), so a changed input never returns a stale result.
Values are numpy arrays (``.npz``, loaded with ``allow_pickle=False``), JSON or
Parquet frames, written atomically (temp file + rename): two processes writing
the same key both succeed and readers never see half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.files import write_atomic

logger = logging.getLogger(__name__)

CACHE_VERSION = "1"


def cache_key(*parts: Any) -> str:
    """A stable 32-hex-digit key from JSON-able parts (order matters)."""
    text = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class DiskCache:
    """One folder of cached results; missing or corrupt entries read as ``None``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str, suffix: str) -> Path:
        if not key.isalnum():
            raise ValueError(f"cache keys are alphanumeric, got {key!r}")
        return self.directory / f"{key}{suffix}"

    def get_arrays(self, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(key, ".npz")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError) as e:
            if path.exists():
                logger.warning("ignoring unreadable cache entry %s: %s", path, e)
            return None

    def put_arrays(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **dict(arrays))  # type: ignore[arg-type]
        write_atomic(self._path(key, ".npz"), buffer.getvalue(), durable=False)

    def get_json(self, key: str) -> Any | None:
        path = self._path(key, ".json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            if path.exists():
                logger.warning("ignoring unreadable cache entry %s: %s", path, e)
            return None

    def put_json(self, key: str, value: Any) -> None:
        write_atomic(
            self._path(key, ".json"), json.dumps(value, default=str).encode(), durable=False
        )

    def get_frame(self, key: str) -> pd.DataFrame | None:
        path = self._path(key, ".parquet")
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as e:
            if path.exists():
                logger.warning("ignoring unreadable cache entry %s: %s", path, e)
            return None

    def put_frame(self, key: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        write_atomic(self._path(key, ".parquet"), buffer.getvalue(), durable=False)
