"""Every error the library raises on bad input.

All of them subclass :class:`MlqaError` and :class:`ValueError`, carry the
data a user needs to fix the input (file, column, rows, what was expected and
what arrived) and render as one readable sentence with ``str(err)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_rows(rows: Sequence[int], *, limit: int = 5) -> str:
    """``rows 4, 17, 90, ...`` (1-based data rows, as a spreadsheet shows them)."""
    shown = ", ".join(str(r) for r in rows[:limit])
    more = ", ..." if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"


class MlqaError(Exception):
    """Base class of every mlqa-debug error; ``str(err)`` is the user-facing message."""


class SchemaError(MlqaError, ValueError):
    """A predictions file that cannot be read or does not meet the input contract.

    Attributes name what the user must fix: ``file``, ``column``, ``rows`` (0-based
    positions in the table), ``expected`` and ``received``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        expected: Any = None,
        received: Any = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows)
        self.expected = expected
        self.received = received
        prefix = f"{file}: " if file else ""
        super().__init__(prefix + message)


class SliceError(MlqaError, ValueError):
    """A slice that cannot be parsed or does not fit the data.

    ``position`` is the 0-based character offset in ``text`` where the problem
    starts (``None`` when it is not about the text), ``column`` the column at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        position: int | None = None,
        column: str | None = None,
    ) -> None:
        self.text = text
        self.position = position
        self.column = column
        super().__init__(message)


class ParameterError(MlqaError, ValueError):
    """An analysis option out of range, or one the dataset's task does not support.

    Not a slice problem: ``alpha`` outside (0, 1], a threshold on a multiclass task,
    a confusion pair that names no two classes. ``name`` is the parameter at fault,
    ``value`` what arrived (``None`` when the problem is the dataset, not a value).
    """

    def __init__(self, message: str, *, name: str | None = None, value: Any = None) -> None:
        self.name = name
        self.value = value
        super().__init__(message)


class WorkspaceError(MlqaError, ValueError):
    """An unknown or invalid dataset name, or a workspace that cannot be used."""


class CaseError(MlqaError, ValueError):
    """A regression case or case file that is invalid."""


class ModelError(MlqaError, ValueError):
    """A model file that is untrusted, unreadable or does not fit the data."""


class CompareError(MlqaError, ValueError):
    """Two predictions tables that cannot be compared (tasks, classes or ids that do not fit)."""


class Cancelled(MlqaError):
    """Long work stopped at a checkpoint because its run was cancelled (not bad input)."""
