"""Type aliases shared across the package, each defined once.

An alias used by one module only lives in that module, under a name that means
one thing everywhere (``Op`` is a slice operator; a case's direction is
``Direction``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Literal, TypeAlias

FileSource: TypeAlias = str | os.PathLike[str] | IO[bytes]
"""A table to read: a path, or an open binary file (an upload)."""

Progress: TypeAlias = Callable[[str, float | None], None]
"""A long job's progress report: what it is doing, and the share done (``None``: unknown)."""

Task: TypeAlias = Literal["binary", "multiclass", "regression"]
"""What the model does; inferred by the loader, overridable."""
