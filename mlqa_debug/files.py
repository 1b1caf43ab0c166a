"""Atomic file writes, folder swaps and locked appends shared by the stores.

The workspace, the caches and the case store write whole files atomically; the
append-only logs (the label review log, the check history) add lines with
:func:`append_lines`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import tempfile
from collections.abc import Sequence
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


def swap_folder(staging: Path, final: Path, *, what: str = "the previous files") -> None:
    """Rename ``staging`` to ``final``; a folder already at ``final`` is replaced.

    The previous folder is moved aside first and removed only once the new one is
    in place; if the last rename fails it is moved back, so a failed swap leaves
    the previous folder where it was (``what`` names it in the error when even
    that fails). If another writer put a folder at ``final`` meanwhile, theirs
    stays, the previous one (replaced by both) is removed, and the rename's error
    (``ENOTEMPTY``) is raised for the caller to report.
    """
    aside = _move_aside(final) if final.exists() else None
    try:
        staging.rename(final)
    except BaseException as e:
        if aside is not None:
            _put_back(aside, final, e, what=what)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _move_aside(final: Path) -> Path | None:
    """Move ``final`` into a new hidden folder beside it; ``None`` if it vanished meanwhile."""
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}-old-", dir=final.parent))
    try:
        final.rename(aside / final.name)
    except FileNotFoundError:  # removed or moved by another writer: nothing to keep
        aside.rmdir()
        return None
    except BaseException:
        aside.rmdir()
        raise
    return aside


def _put_back(aside: Path, final: Path, cause: BaseException, *, what: str) -> None:
    """Move the previous folder back to ``final`` after ``cause`` stopped the swap."""
    old = aside / final.name
    if final.exists():  # another writer's folder is in place: the previous one is replaced
        shutil.rmtree(aside, ignore_errors=True)
        return
    try:
        old.rename(final)
    except OSError as e:
        raise OSError(
            f"{cause}; {what} could not be moved back and are in {str(old)!r}: {e}"
        ) from cause
    aside.rmdir()


def append_lines(path: Path, lines: Sequence[bytes]) -> None:
    """Append ``lines`` (each ending in a newline) to ``path``: all of them or none.

    Safe with other processes appending at once: the file is opened with
    ``O_APPEND`` and held under an exclusive ``fcntl.flock`` while each line is
    written in full and flushed to disk. A last line left without its newline
    by a crash is closed first, so it costs only itself. When a write fails (a
    full disk) the file is cut back to its size before the call and the
    ``OSError`` is raised: the earlier lines are intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, file_mode())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        start = os.fstat(fd).st_size
        try:
            if start and _last_byte(path, start) != b"\n":
                _write_all(fd, b"\n")
            for line in lines:
                _write_all(fd, line)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write is continued, not lost)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)
