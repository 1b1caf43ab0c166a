"""A slice as engine-neutral terms, with the same rules as :mod:`mlqa_debug.slicing.masks`.

:func:`plan_slice` checks a :class:`~mlqa_debug.slicing.Slice` against the table's
column kinds (the same :func:`~mlqa_debug.slicing.masks.check_predicate` the numpy
path runs), coerces its values to each column's type the way the masks do and
returns a tuple of :data:`Term` objects that every backend translates into its own
expression objects (DuckDB expressions, Spark Columns). Values stay Python values
until the backend makes literals of them; names stay names until it makes quoted
column references: no SQL text is ever written here.

The rules kept from the masks: a missing value (NULL, and NaN in a float column)
matches nothing but ``is missing``, not even ``!=``; boolean, numeric and datetime
columns refuse a value of another type, string columns just do not match it;
dictionary (category) columns never refuse a value; ordering needs a numeric or
datetime column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import Predicate, Slice
from mlqa_debug.slicing.masks import check_predicate
from mlqa_debug.slicing.terms import MISSING_OPS, ORDER_OPS, ColumnKind, Value, format_value

__all__ = ["ColumnType", "InSet", "Missing", "Order", "Term", "column_type", "plan_slice"]

ValueClass = Literal["bool", "number", "datetime", "string"]
_INT64 = 2**63


@dataclass(frozen=True)
class ColumnType:
    """How a column's values compare: their class, NaN as missing, refusal of misfits, zone."""

    cls: ValueClass
    nan: bool = False  # a float column: NaN is missing
    strict: bool = True  # a value of another type raises (False: matches nothing)
    tz: str | None = None
    label: str = ""  # the type as messages name it


@dataclass(frozen=True)
class Missing:
    """``column is missing`` (``negate``: is not missing)."""

    column: str
    type: ColumnType
    negate: bool = False


@dataclass(frozen=True)
class InSet:
    """Present and among ``values`` (``negate``: present and not among them)."""

    column: str
    type: ColumnType
    values: tuple[Any, ...]
    negate: bool = False


@dataclass(frozen=True)
class Order:
    """Present and ``column op value`` for op in ``<``, ``<=``, ``>``, ``>=``."""

    column: str
    type: ColumnType
    op: str
    value: Any


Term = Missing | InSet | Order


def column_type(arrow_type: pa.DataType) -> ColumnType | None:
    """The comparison type of an Arrow column; ``None`` for lists, structs and maps."""
    strict = True
    if pa.types.is_dictionary(arrow_type):
        arrow_type, strict = arrow_type.value_type, False
    label = str(arrow_type)
    if pa.types.is_boolean(arrow_type):
        return ColumnType("bool", strict=strict, label=label)
    if pa.types.is_floating(arrow_type):
        return ColumnType("number", nan=True, strict=strict, label=label)
    if pa.types.is_integer(arrow_type) or pa.types.is_decimal(arrow_type):
        return ColumnType("number", strict=strict, label=label)
    if pa.types.is_timestamp(arrow_type):
        tz = getattr(arrow_type, "tz", None)
        return ColumnType("datetime", strict=strict, tz=tz, label=label)
    if pa.types.is_date(arrow_type):
        return ColumnType("datetime", strict=strict, label=label)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ColumnType("string", strict=False, label=label)
    return None


class _Misfit(Exception):
    """A value that does not fit a column; ``args[0]`` says what was expected."""


def _as_number(value: Value, t: ColumnType) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Misfit("expected a number")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        return float(value)  # beyond int64: no stored integer equals it, order is kept
    return value


def _as_bool(value: Value, t: ColumnType) -> Any:
    if not isinstance(value, bool):
        raise _Misfit("expected true or false")
    return value


def _as_string(value: Value, t: ColumnType) -> Any:
    if not isinstance(value, str):
        raise _Misfit("expected a string")
    return value


def _as_datetime(value: Value, t: ColumnType) -> Any:
    from mlqa_debug.slicing.masks import _Mismatch, _parse_timestamp

    try:
        stamp = _parse_timestamp(value)
    except _Mismatch as e:
        raise _Misfit(str(e)) from None
    if t.tz is None and stamp.tzinfo is not None:
        raise _Misfit("the value has a time zone but the column has none")
    if t.tz is not None and stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(t.tz)
        except (ValueError, TypeError) as e:
            raise _Misfit(f"it does not exist in time zone {t.tz}: {e}") from None
    return pd.Timestamp(stamp).to_pydatetime()


_COERCE = {"number": _as_number, "bool": _as_bool, "string": _as_string, "datetime": _as_datetime}


def _coerce(p: Predicate, t: ColumnType, *, strict: bool) -> tuple[Any, ...]:
    out = []
    for value in p.values:
        try:
            out.append(_COERCE[t.cls](value, t))
        except _Misfit as e:
            if strict:
                raise SliceError(
                    f"value {format_value(value)} does not fit column {p.column!r} "
                    f"of type {t.label}; {e}",
                    column=p.column,
                ) from None
    return tuple(out)


def _term(p: Predicate, t: ColumnType) -> Term:
    if p.op in MISSING_OPS:
        return Missing(p.column, t, negate=p.op == "is not missing")
    if p.op in ORDER_OPS:
        if t.cls not in ("number", "datetime"):
            raise SliceError(
                f"operator {p.op!r} does not apply to column {p.column!r} of type {t.label}",
                column=p.column,
            )
        return Order(p.column, t, p.op, _coerce(p, t, strict=True)[0])
    values = _coerce(p, t, strict=t.strict)
    return InSet(p.column, t, values, negate=p.op in ("!=", "not in"))


def plan_slice(
    s: Slice, kinds: Mapping[str, ColumnKind], types: Mapping[str, ColumnType]
) -> tuple[Term, ...]:
    """The terms of ``s`` (all must hold); :class:`SliceError` where it does not fit."""
    s.check(kinds)
    terms: list[Term] = []
    for p in s.predicates:
        if p.column not in types:
            check_predicate(p, {})  # names the unknown column the same way
        t = types[p.column]
        if p.op == "between":
            low, high = p.values
            terms += [_term(Predicate(p.column, ">=", (low,)), t)]
            terms += [_term(Predicate(p.column, "<=", (high,)), t)]
        else:
            terms.append(_term(p, t))
    return tuple(terms)
