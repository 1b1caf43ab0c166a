r"""The slice model: a :class:`Slice` is a conjunction of column :class:`Predicate` objects.

A slice is data, never code. Every instance is canonical: its predicates are
simplified (a one-value ``in`` is ``==``), deduplicated and sorted by (column,
operator, values), so equal slices have one text form and one :attr:`Slice.id`.

:func:`format_slice` writes that canonical text: predicates joined by ``and``,
single-quoted strings escaping ``\``, ``'`` and non-printable characters,
``repr`` floats, backticks exactly around names that need them.
``parse_slice(format_slice(s)) == s`` for every slice (:mod:`.text` reads it).
Which rows a slice selects is :mod:`.masks`' job; :meth:`Slice.mask` and
:meth:`Slice.check` hand over to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug.errors import SliceError
from mlqa_debug.slicing.masks import check_predicate, predicate_mask
from mlqa_debug.slicing.terms import (
    COMPARE_OPS,
    EXPECTED_OPS,
    MISSING_OPS,
    OP_RANK,
    ORDER_OPS,
    SET_OPS,
    ColumnKind,
    Op,
    Value,
    arity_error,
    format_name,
    format_value,
    normalise_value,
    type_rank,
    values_key,
)

__all__ = ["EMPTY", "Predicate", "Slice", "format_predicate", "format_slice"]


@dataclass(frozen=True, eq=False)
class Predicate:
    """One condition on one column, e.g. ``Predicate("age", ">=", (40,))``.

    ``values`` holds 1 value for comparisons, at least 1 for ``in``/``not in``
    (kept sorted and without duplicates), 2 (low, high; inclusive) for
    ``between`` and none for ``is missing``/``is not missing``. Equality and
    hashing compare values with their type, so ``True`` differs from ``1``.
    """

    column: str
    op: Op
    values: tuple[Value, ...] = ()

    def __post_init__(self) -> None:
        column = self.column
        if not isinstance(column, str) or not column:
            raise SliceError(f"a column name must be a non-empty string, got {column!r}")
        if not isinstance(self.op, str) or self.op not in OP_RANK:
            raise SliceError(
                f"unknown operator {self.op!r}; expected one of {EXPECTED_OPS}", column=column
            )
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Iterable):
            raise SliceError(
                f"values for column {column!r} must be a tuple, got {self.values!r}", column=column
            )
        values = tuple(normalise_value(v, column) for v in self.values)
        problem = arity_error(self.op, len(values))
        if problem:
            raise SliceError(f"{problem} (column {column!r})", column=column)
        if self.op in ORDER_OPS and any(isinstance(v, bool) for v in values):
            raise SliceError(
                f"operator {self.op!r} cannot compare column {column!r} with a boolean",
                column=column,
            )
        if self.op in SET_OPS:  # a set of values: sorted, no duplicates (True is not 1)
            keyed = {(type_rank(v), v): v for v in values}
            values = tuple(keyed[k] for k in sorted(keyed))
        object.__setattr__(self, "values", values)

    def _key(self) -> tuple[str, int, tuple[tuple[int, Value], ...]]:
        return (self.column, OP_RANK[self.op], values_key(self.values))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Predicate):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def text(self) -> str:
        """This predicate in the text form, e.g. ``age >= 40``."""
        return format_predicate(self)

    def __str__(self) -> str:
        return self.text


def _simplify(p: Predicate) -> Predicate:
    """A one-value ``in`` is ``==``, a one-value ``not in`` is ``!=``."""
    if p.op in SET_OPS and len(p.values) == 1:
        return Predicate(p.column, "==" if p.op == "in" else "!=", p.values)
    return p


@dataclass(frozen=True)
class Slice:
    """A conjunction of predicates; the empty slice selects all rows.

    Every instance is canonical: predicates are simplified, deduplicated and
    sorted, so ``Slice((p1, p2)) == Slice((p2, p1))`` and both have one ``id``.
    """

    predicates: tuple[Predicate, ...] = ()

    def __post_init__(self) -> None:
        preds = tuple(self.predicates)
        for p in preds:
            if not isinstance(p, Predicate):
                raise TypeError(f"a Slice holds Predicate objects, got {type(p).__name__}")
        unique = {p._key(): p for p in map(_simplify, preds)}
        object.__setattr__(self, "predicates", tuple(unique[k] for k in sorted(unique)))

    @property
    def text(self) -> str:
        """Canonical text form; ``""`` for the empty slice."""
        return format_slice(self)

    @property
    def id(self) -> str:
        """Short stable id: the first 12 hex digits of sha256 of :attr:`text`."""
        data = self.text.encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).hexdigest()[:12]

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(p.column for p in self.predicates)

    def __and__(self, other: Slice) -> Slice:
        if not isinstance(other, Slice):
            return NotImplemented
        return Slice(self.predicates + other.predicates)

    def __str__(self) -> str:
        return self.text

    def check(self, kinds: Mapping[str, ColumnKind]) -> None:
        """Raise :class:`SliceError` if the slice does not fit columns of these kinds."""
        for p in self.predicates:
            check_predicate(p, kinds)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array, one entry per row of ``frame``: which rows the slice selects."""
        out = np.ones(len(frame), dtype=bool)
        for p in self.predicates:
            out &= predicate_mask(frame, p)
        return out


EMPTY = Slice()

_FORMATTERS: dict[str, Callable[[str, str, list[str]], str]] = {
    **{op: lambda n, op, v: f"{n} {op} {v[0]}" for op in COMPARE_OPS},
    **{op: lambda n, op, v: f"{n} {op} ({', '.join(v)})" for op in SET_OPS},
    "between": lambda n, op, v: f"{n} between {v[0]} and {v[1]}",
    **{op: lambda n, op, v: f"{n} {op}" for op in MISSING_OPS},
}


def format_predicate(p: Predicate) -> str:
    """Text form of one predicate, e.g. ``region in ('north', 'west')``."""
    return _FORMATTERS[p.op](format_name(p.column), p.op, [format_value(v) for v in p.values])


def format_slice(s: Slice) -> str:
    """Canonical text form of ``s``: its predicates joined by ``and``."""
    return " and ".join(format_predicate(p) for p in s.predicates)
