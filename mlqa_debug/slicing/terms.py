"""The terms a slice is made of: operators, values and column names, in canonical form.

Shared by the model (:mod:`.model`), the parser (:mod:`.text`) and the masks
(:mod:`.masks`): the operator groups, the types a value may have, how values
are normalised and ordered (a value's type is part of it: ``True``, ``1`` and
``1.0`` are three values), and how a value and a column name are written in the
text form (single-quoted strings, ``repr`` floats, backticks exactly around
names that need them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, get_args

import numpy as np

from mlqa_debug.errors import SliceError

__all__ = [
    "COLUMN_KINDS",
    "COMPARE_OPS",
    "EXPECTED_OPS",
    "KEYWORDS",
    "MISSING_OPS",
    "OPS",
    "OP_RANK",
    "ORDER_KINDS",
    "ORDER_OPS",
    "SET_OPS",
    "ColumnKind",
    "Op",
    "Value",
    "arity_error",
    "format_name",
    "format_value",
    "is_name_char",
    "is_name_start",
    "normalise_value",
    "shorten",
    "type_rank",
    "values_key",
]

ColumnKind = Literal["categorical", "numeric", "boolean", "datetime", "text"]
Op = Literal[
    "==", "!=", "in", "not in", "<", "<=", ">", ">=", "between", "is missing", "is not missing"
]
Value = str | int | float | bool

COLUMN_KINDS: tuple[ColumnKind, ...] = get_args(ColumnKind)
OPS: tuple[Op, ...] = get_args(Op)
OP_RANK: dict[str, int] = {op: rank for rank, op in enumerate(OPS)}
COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ORDER_OPS = frozenset({"<", "<=", ">", ">=", "between"})
SET_OPS = frozenset({"in", "not in"})
MISSING_OPS = frozenset({"is missing", "is not missing"})
ORDER_KINDS = frozenset({"numeric", "datetime"})
EXPECTED_OPS = "==, !=, <, <=, >, >=, in, not in, between, is missing"
KEYWORDS = frozenset({"and", "or", "in", "not", "between", "is", "missing", "true", "false"})
_MAX_INT_BITS = 10_000  # about 3,000 digits: keeps str(int) / int(str) within Python's limit
_SIMPLE_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

# --------------------------------------------------------------------------- values


def type_rank(value: Value) -> int:
    """Sort rank of a value's type: bools, ints, floats, strings never compare across."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return 1
    return 2 if isinstance(value, float) else 3


def values_key(values: Iterable[Value]) -> tuple[tuple[int, Value], ...]:
    """A sort and equality key of values that keeps their types apart."""
    return tuple((type_rank(v), v) for v in values)


def normalise_value(value: object, column: str) -> Value:
    """Plain ``bool``/``int``/``float``/``str`` from Python or numpy scalars; finite floats."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        number = int(value)
        if number.bit_length() > _MAX_INT_BITS:
            raise SliceError(f"integer value for column {column!r} is too large", column=column)
        return number
    if isinstance(value, float | np.floating):
        real = float(value)
        if math.isnan(real):
            raise SliceError(
                f"NaN is not a value for column {column!r}; use 'is missing' to select "
                "missing values",
                column=column,
            )
        if math.isinf(real):
            raise SliceError(f"infinite value for column {column!r}", column=column)
        return real + 0.0  # -0.0 -> 0.0: equal values must have one text form
    if isinstance(value, str):
        return str(value)
    raise SliceError(
        f"value {value!r} for column {column!r} has type {type(value).__name__}; "
        "expected str, int, float or bool",
        column=column,
    )


def arity_error(op: str, count: int) -> str | None:
    """What is wrong with giving ``op`` ``count`` values; ``None`` when nothing is."""
    if op in COMPARE_OPS and count != 1:
        return f"operator {op!r} takes exactly 1 value, got {count}"
    if op in SET_OPS and count < 1:
        return f"operator {op!r} takes at least 1 value"
    if op == "between" and count != 2:
        return f"operator 'between' takes 2 values (low, high), got {count}"
    if op in MISSING_OPS and count != 0:
        return f"operator {op!r} takes no values, got {count}"
    return None


# --------------------------------------------------------------------------- text


def is_name_start(ch: str) -> bool:
    """Whether a bare column name may start with ``ch`` (a letter or ``_``)."""
    return ch == "_" or ch.isalpha()


def is_name_char(ch: str) -> bool:
    """Whether a bare column name may hold ``ch`` (a letter, digit or ``_``)."""
    return ch == "_" or ch.isalnum()


def _is_bare_name(name: str) -> bool:
    return (
        is_name_start(name[:1])
        and all(is_name_char(ch) for ch in name)
        and name.lower() not in KEYWORDS
    )


def format_name(name: str) -> str:
    """A column name as the text form writes it: bare, or in backticks when it must be."""
    return name if _is_bare_name(name) else "`" + name.replace("`", "``") + "`"


def _escape_char(ch: str) -> str:
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def format_value(value: Value) -> str:
    """A value as the text form writes it: ``true``, ``3``, ``0.5``, ``'it\\'s'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "'" + "".join(map(_escape_char, value)) + "'"


def shorten(s: str, limit: int = 40) -> str:
    """``s`` cut to ``limit`` characters with an ellipsis, for error messages."""
    return s if len(s) <= limit else s[: limit - 1] + "…"
