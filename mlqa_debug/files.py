"""Atomic file writes shared by the workspace, the caches and the case store."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; restored at once, read once
    os.umask(mask)
    return mask


def file_mode(*, directory: bool = False) -> int:
    """Permissions of a new shared file (``0o666``) or folder (``0o777``) less the umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write to a temporary file beside ``path`` and rename it into place.

    Readers see the old file or the new one, never half of it; two writers both
    succeed (the last rename wins). The file gets the usual permissions (``0o666``
    less the umask), not the private ones of a temporary file, so a team sharing
    the folder can read it. ``durable`` flushes it to disk before the rename.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
