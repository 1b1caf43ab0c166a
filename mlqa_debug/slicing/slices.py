r"""Slices: conjunctions of column predicates, their text form and their row masks.

A :class:`Slice` is data, never code. Its text form travels in URLs and code
reviews, so it has its own hand-written tokenizer and recursive-descent parser;
nothing here evaluates user text (no ``eval``, no ``DataFrame.query``).

Text form
---------
::

    slice      = [ predicate { "and" predicate } ] ;        (* empty text = all rows *)
    predicate  = column ( compare value
                        | [ "not" ] "in" "(" value { "," value } [ "," ] ")"
                        | "between" value "and" value          (* inclusive *)
                        | "is" [ "not" ] "missing" ) ;
    compare    = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
    column     = bare_name | "`" { any char but "`" | "``" } "`" ;  (* non-empty *)
    bare_name  = ( letter | "_" ) { letter | digit | "_" } ;   (* not a keyword *)
    value      = string | number | "true" | "false" ;
    string     = "'" { char | escape } "'" | '"' { char | escape } '"' ;
    escape     = "\\" | "\'" | '\"' | "\n" | "\t" | "\r"
               | "\x" 2 hex | "\u" 4 hex | "\U" 8 hex ;
    number     = [ "+" | "-" ] ( digits [ "." [ digits ] ] | "." digits )
                 [ ( "e" | "E" ) [ "+" | "-" ] digits ] ;  (* ASCII digits *)

``letter`` and ``digit`` are Unicode (``str.isalpha``, ``str.isalnum``). Keywords
(``and in not between is missing true false``, and ``or``, which is rejected with
a message: a slice is a conjunction) are case-insensitive; a column named like a
keyword is written in backticks. Whitespace between tokens is insignificant; a
number must not run into a letter (``1abc`` is an error). A number with ``.`` or
an exponent is a float, otherwise an int, and the type is kept: ``1``, ``1.0``
and ``true`` are three different values of a slice. Example::

    region in ('north', 'west') and age >= 40 and `income band` == '10-20k'

:func:`format_slice` writes the canonical text: predicates sorted by (column,
operator, values), single-quoted strings escaping ``\``, ``'`` and non-printable
characters, ``repr`` floats, backticks exactly around names that need them.
``parse_slice(format_slice(s)) == s`` for every slice.

Masks
-----
``Slice.mask(frame)`` is vectorised (category columns go through their integer
codes) and follows SQL's rule for missing values: a missing value (NaN, None,
``pd.NA``, NaT) matches no predicate except ``is missing``, not even ``!=`` or
``not in``. So for one column, ``== v``, ``!= v`` and ``is missing`` split the
rows into three disjoint parts that cover them all.

Values compare by type: a string never equals a number, a boolean never equals
a number, an int equals a float of the same value. Numeric, boolean and datetime
columns raise :class:`SliceError` for a value of the wrong type (``age == 'x'``,
``flag == 1``); string, object and category columns hold labels of any type, so a
value of another type simply matches nothing. ``<``, ``<=``, ``>``, ``>=`` and
``between`` need numeric or datetime data (or categories that are). Datetime
columns compare against ISO date/time strings parsed with ``pd.Timestamp``
(``'2024-05-01'`` is midnight; a naive value on a tz-aware column is taken in the
column's time zone).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NoReturn, cast, get_args

import numpy as np
import pandas as pd

from mlqa_debug.errors import SliceError

__all__ = [
    "EMPTY",
    "ColumnKind",
    "Op",
    "Predicate",
    "Slice",
    "Value",
    "format_predicate",
    "format_slice",
    "parse_slice",
]

ColumnKind = Literal["categorical", "numeric", "boolean", "datetime", "text"]
Op = Literal[
    "==", "!=", "in", "not in", "<", "<=", ">", ">=", "between", "is missing", "is not missing"
]
Value = str | int | float | bool

COLUMN_KINDS: tuple[ColumnKind, ...] = get_args(ColumnKind)
OPS: tuple[Op, ...] = get_args(Op)
_OP_RANK: dict[str, int] = {op: rank for rank, op in enumerate(OPS)}
_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ORDER_OPS = frozenset({"<", "<=", ">", ">=", "between"})
_SET_OPS = frozenset({"in", "not in"})
_MISSING_OPS = frozenset({"is missing", "is not missing"})
_ORDER_KINDS = frozenset({"numeric", "datetime"})
_EXPECTED_OPS = "==, !=, <, <=, >, >=, in, not in, between, is missing"
_MAX_INT_BITS = 10_000  # about 3,000 digits: keeps str(int) / int(str) within Python's limit

# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def _type_rank(value: Value) -> int:
    """Sort rank of a value's type: bools, ints, floats, strings never compare across."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return 1
    return 2 if isinstance(value, float) else 3


def _values_key(values: Iterable[Value]) -> tuple[tuple[int, Value], ...]:
    return tuple((_type_rank(v), v) for v in values)


def _normalise_value(value: object, column: str) -> Value:
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


def _arity_error(op: str, count: int) -> str | None:
    if op in _COMPARE_OPS and count != 1:
        return f"operator {op!r} takes exactly 1 value, got {count}"
    if op in _SET_OPS and count < 1:
        return f"operator {op!r} takes at least 1 value"
    if op == "between" and count != 2:
        return f"operator 'between' takes 2 values (low, high), got {count}"
    if op in _MISSING_OPS and count != 0:
        return f"operator {op!r} takes no values, got {count}"
    return None


# ---------------------------------------------------------------------------
# Predicate and Slice
# ---------------------------------------------------------------------------


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
        if not isinstance(self.op, str) or self.op not in _OP_RANK:
            raise SliceError(
                f"unknown operator {self.op!r}; expected one of {_EXPECTED_OPS}", column=column
            )
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Iterable):
            raise SliceError(
                f"values for column {column!r} must be a tuple, got {self.values!r}", column=column
            )
        values = tuple(_normalise_value(v, column) for v in self.values)
        problem = _arity_error(self.op, len(values))
        if problem:
            raise SliceError(f"{problem} (column {column!r})", column=column)
        if self.op in _ORDER_OPS and any(isinstance(v, bool) for v in values):
            raise SliceError(
                f"operator {self.op!r} cannot compare column {column!r} with a boolean",
                column=column,
            )
        if self.op in _SET_OPS:  # a set of values: sorted, no duplicates (True is not 1)
            keyed = {(_type_rank(v), v): v for v in values}
            values = tuple(keyed[k] for k in sorted(keyed))
        object.__setattr__(self, "values", values)

    def _key(self) -> tuple[str, int, tuple[tuple[int, Value], ...]]:
        return (self.column, _OP_RANK[self.op], _values_key(self.values))

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
    if p.op in _SET_OPS and len(p.values) == 1:
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
            _check_predicate(p, kinds)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array, one entry per row of ``frame``: which rows the slice selects."""
        out = np.ones(len(frame), dtype=bool)
        for p in self.predicates:
            out &= _predicate_mask(frame, p)
        return out


EMPTY = Slice()

# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

_KEYWORDS = frozenset({"and", "or", "in", "not", "between", "is", "missing", "true", "false"})
_SIMPLE_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ch.isalpha()


def _is_name_char(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def _is_bare_name(name: str) -> bool:
    return (
        _is_name_start(name[:1])
        and all(_is_name_char(ch) for ch in name)
        and name.lower() not in _KEYWORDS
    )


def _format_name(name: str) -> str:
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


def _format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "'" + "".join(map(_escape_char, value)) + "'"


_FORMATTERS: dict[str, Callable[[str, str, list[str]], str]] = {
    **{op: lambda n, op, v: f"{n} {op} {v[0]}" for op in _COMPARE_OPS},
    **{op: lambda n, op, v: f"{n} {op} ({', '.join(v)})" for op in _SET_OPS},
    "between": lambda n, op, v: f"{n} between {v[0]} and {v[1]}",
    **{op: lambda n, op, v: f"{n} {op}" for op in _MISSING_OPS},
}


def format_predicate(p: Predicate) -> str:
    """Text form of one predicate, e.g. ``region in ('north', 'west')``."""
    return _FORMATTERS[p.op](_format_name(p.column), p.op, [_format_value(v) for v in p.values])


def format_slice(s: Slice) -> str:
    """Canonical text form of ``s``: its predicates joined by ``and``."""
    return " and ".join(format_predicate(p) for p in s.predicates)


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

TokenKind = Literal["name", "keyword", "string", "number", "op", "punct", "end"]
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_OP_CHARS = frozenset("=!<>")
_UNESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_NULL_WORDS = frozenset({"null", "none", "nan", "na", "nat"})


class _Token(NamedTuple):
    kind: TokenKind
    value: Value
    pos: int
    end: int


def _at(pos: int) -> str:
    return f"at column {pos + 1}"


def _fail(text: str, message: str, pos: int) -> NoReturn:
    raise SliceError(message, text=text, position=pos)


def _short(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _scan_escape(text: str, i: int, start: int) -> tuple[str, int]:
    """Decode the escape at ``text[i] == '\\'``; return it and the index after it."""
    if i + 1 >= len(text):
        _fail(text, f"unterminated string starting {_at(start)}", start)
    ch = text[i + 1]
    if ch in _UNESCAPES:
        return _UNESCAPES[ch], i + 2
    width = _HEX_ESCAPES.get(ch, 0)
    digits = text[i + 2 : i + 2 + width]
    if width and len(digits) == width and set(digits) <= _HEX and int(digits, 16) <= 0x10FFFF:
        return chr(int(digits, 16)), i + 2 + width
    _fail(
        text,
        f"invalid escape {_short(text[i : i + 2 + width])!r} in string {_at(i)}; "
        r"allowed: \\ \' \" \n \t \r \xHH \uHHHH \UHHHHHHHH",
        i,
    )


def _scan_string(text: str, pos: int) -> _Token:
    quote, i = text[pos], pos + 1
    parts: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return _Token("string", "".join(parts), pos, i + 1)
        if ch == "\\":
            decoded, i = _scan_escape(text, i, pos)
            parts.append(decoded)
        else:
            parts.append(ch)
            i += 1
    _fail(text, f"unterminated string starting {_at(pos)}", pos)


def _scan_quoted_name(text: str, pos: int) -> _Token:
    parts: list[str] = []
    i = pos + 1
    while (j := text.find("`", i)) >= 0:
        parts.append(text[i:j])
        if text.startswith("`", j + 1):  # a doubled backtick is one backtick of the name
            parts.append("`")
            i = j + 2
            continue
        if not any(parts):
            _fail(text, f"empty column name {_at(pos)}", pos)
        return _Token("name", "".join(parts), pos, j + 1)
    _fail(text, f"unterminated column name starting {_at(pos)}; close it with a backtick", pos)


def _skip_digits(text: str, i: int) -> int:
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    return i


def _scan_number(text: str, pos: int) -> _Token:
    i = _skip_digits(text, pos + (text[pos] in "+-"))
    is_float = text.startswith(".", i)
    if is_float:
        i = _skip_digits(text, i + 1)
    if i < len(text) and text[i] in "eE":
        j = i + 1 + (text[i + 1 : i + 2] in ("+", "-"))
        if j >= len(text) or text[j] not in _DIGITS:
            _fail(text, f"malformed number {_short(text[pos : j + 1])!r} {_at(pos)}", pos)
        i, is_float = _skip_digits(text, j), True
    raw = text[pos:i]
    if i < len(text) and (_is_name_char(text[i]) or text[i] == "."):
        _fail(text, f"malformed number {_short(text[pos : i + 1])!r} {_at(pos)}", pos)
    if is_float:
        value = float(raw)
        if math.isinf(value):
            _fail(text, f"number {_short(raw)!r} {_at(pos)} is out of range", pos)
        return _Token("number", value, pos, i)
    if i - pos > 3000:
        _fail(text, f"integer {_short(raw)!r} {_at(pos)} is too long", pos)
    return _Token("number", int(raw), pos, i)


def _scan_operator(text: str, pos: int) -> _Token:
    i = pos
    while i < len(text) and text[i] in _OP_CHARS:
        i += 1
    raw = text[pos:i]
    if raw not in _COMPARE_OPS:
        _fail(
            text,
            f"unknown operator {_short(raw)!r} {_at(pos)}; expected one of {_EXPECTED_OPS}",
            pos,
        )
    return _Token("op", raw, pos, i)


def _scan_word(text: str, pos: int) -> _Token:
    i = pos + 1
    while i < len(text) and _is_name_char(text[i]):
        i += 1
    word = text[pos:i]
    if word.lower() in _KEYWORDS:
        return _Token("keyword", word.lower(), pos, i)
    return _Token("name", word, pos, i)


def _scan_punct(text: str, pos: int) -> _Token:
    return _Token("punct", text[pos], pos, pos + 1)


_SCANNERS: dict[str, Callable[[str, int], _Token]] = {
    "'": _scan_string,
    '"': _scan_string,
    "`": _scan_quoted_name,
    "(": _scan_punct,
    ")": _scan_punct,
    ",": _scan_punct,
    **{ch: _scan_operator for ch in _OP_CHARS},
    **{ch: _scan_number for ch in _DIGITS},
}


def _starts_number(text: str, pos: int) -> bool:
    rest = text[pos : pos + 3]
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    return rest[:1] in _DIGITS or (rest[:1] == "." and rest[1:2] in _DIGITS)


def _scan(text: str, pos: int) -> _Token:
    ch = text[pos]
    if ch in _SCANNERS:
        return _SCANNERS[ch](text, pos)
    if ch in "+-." and _starts_number(text, pos):
        return _scan_number(text, pos)
    if _is_name_start(ch):
        return _scan_word(text, pos)
    _fail(text, f"unexpected character {ch!r} {_at(pos)}", pos)


def _next_token(text: str, pos: int) -> _Token:
    """The token that starts at or after ``pos`` (skipping whitespace)."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        return _Token("end", "", len(text), len(text))
    return _scan(text, pos)


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def _describe(token: _Token, text: str) -> str:
    raw = _short(text[token.pos : token.end])
    return {
        "end": "end of text",
        "name": f"name {raw}" if raw.startswith("`") else f"name '{raw}'",
        "keyword": f"keyword '{token.value}'",
        "string": f"string {raw}",
        "number": f"number {raw}",
    }.get(token.kind, repr(raw))


class _Parser:
    """Recursive descent with one token of lookahead; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        # tokens are scanned one at a time, so the error reported is the earliest one
        self.current = _next_token(text, 0)
        self.operators: dict[tuple[str, Value], Callable[[_Token], tuple[Op, list[Value]]]] = {
            ("keyword", "in"): self.in_list,
            ("keyword", "not"): self.not_in,
            ("keyword", "between"): self.between,
            ("keyword", "is"): self.is_missing,
        }

    def peek(self) -> _Token:
        return self.current

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.current = _next_token(self.text, token.end)
        return token

    def fail(self, message: str, token: _Token) -> NoReturn:
        _fail(self.text, message, token.pos)

    def is_keyword(self, token: _Token, word: str) -> bool:
        return token.kind == "keyword" and token.value == word

    def expect_keyword(self, word: str, context: str) -> _Token:
        token = self.advance()
        if not self.is_keyword(token, word):
            got = _describe(token, self.text)
            self.fail(f"expected '{word}' {context} {_at(token.pos)}, got {got}", token)
        return token

    def parse(self) -> Slice:
        if self.peek().kind == "end":
            return EMPTY
        predicates = [self.predicate()]
        while (token := self.advance()).kind != "end":
            if self.is_keyword(token, "and"):
                predicates.append(self.predicate())
            elif self.is_keyword(token, "or"):
                self.fail(
                    f"'or' is not supported ({_at(token.pos)}): a slice is a conjunction of "
                    "predicates joined by 'and'; make one slice per alternative",
                    token,
                )
            else:
                got = _describe(token, self.text)
                self.fail(f"expected 'and' or end of text {_at(token.pos)}, got {got}", token)
        return Slice(tuple(predicates))

    def predicate(self) -> Predicate:
        start = self.column()
        column = str(start.value)
        op, values = self.operator(column)
        try:
            return Predicate(column, op, tuple(values))
        except SliceError as exc:
            raise SliceError(
                f"{exc} {_at(start.pos)}", text=self.text, position=start.pos, column=column
            ) from None

    def column(self) -> _Token:
        token = self.advance()
        if token.kind == "name":
            return token
        message = f"expected a column name {_at(token.pos)}, got {_describe(token, self.text)}"
        if token.kind == "keyword":
            message += f"; write `{token.value}` in backticks to use it as a column name"
        elif token.value == "(":
            message += "; a slice has no grouping parentheses, only value lists: x in (1, 2)"
        self.fail(message, token)

    def operator(self, column: str) -> tuple[Op, list[Value]]:
        token = self.advance()
        if token.kind == "op":
            return cast(Op, token.value), [self.value(after=str(token.value))]
        handler = self.operators.get((token.kind, token.value))
        if handler is None:
            got = _describe(token, self.text)
            self.fail(
                f"expected an operator after column {_short(column)!r} {_at(token.pos)}, "
                f"got {got}; expected one of {_EXPECTED_OPS}",
                token,
            )
        return handler(token)

    def in_list(self, token: _Token) -> tuple[Op, list[Value]]:
        return "in", self.value_list(token)

    def not_in(self, token: _Token) -> tuple[Op, list[Value]]:
        in_token = self.expect_keyword("in", "after 'not'")
        return "not in", self.value_list(in_token)

    def between(self, token: _Token) -> tuple[Op, list[Value]]:
        low = self.value(after="between")
        self.expect_keyword("and", "between the bounds of 'between'")
        return "between", [low, self.value(after="and")]

    def is_missing(self, token: _Token) -> tuple[Op, list[Value]]:
        negated = self.is_keyword(self.peek(), "not")
        if negated:
            self.advance()
        self.expect_keyword(
            "missing", "after 'is not'" if negated else "or 'not missing' after 'is'"
        )
        return ("is not missing" if negated else "is missing"), []

    def value(self, *, after: str) -> Value:
        token = self.advance()
        if token.kind in ("string", "number"):
            return token.value
        if self.is_keyword(token, "true") or self.is_keyword(token, "false"):
            return token.value == "true"
        message = (
            f"expected a value after '{after}' {_at(token.pos)}, got {_describe(token, self.text)}"
        )
        if token.kind == "name" and str(token.value).lower() in _NULL_WORDS:
            message += "; use 'is missing' to select missing values"
        elif token.kind == "name":
            message += f"; strings need quotes: '{_short(str(token.value))}'"
        self.fail(message, token)

    def value_list(self, op_token: _Token) -> list[Value]:
        token = self.advance()
        if token.value != "(" or token.kind != "punct":
            got = _describe(token, self.text)
            self.fail(f"expected '(' after '{op_token.value}' {_at(token.pos)}, got {got}", token)
        values = [self.value(after="(")]
        while True:
            token = self.advance()
            if token.kind == "punct" and token.value == ")":
                return values
            if token.kind != "punct" or token.value != ",":
                got = _describe(token, self.text)
                self.fail(f"expected ',' or ')' in value list {_at(token.pos)}, got {got}", token)
            if self.peek().kind == "punct" and self.peek().value == ")":
                self.advance()
                return values
            values.append(self.value(after=","))


def parse_slice(text: str, *, max_length: int = 10_000) -> Slice:
    """Parse the text form (see the module docstring) into a canonical :class:`Slice`.

    Raises :class:`SliceError` with ``position`` (0-based) on malformed text, and
    at once for text longer than ``max_length`` characters.
    """
    if not isinstance(text, str):
        raise SliceError(f"slice text must be a string, got {type(text).__name__}")
    if len(text) > max_length:
        raise SliceError(
            f"slice text is {len(text):,} characters long; at most {max_length:,} are allowed"
        )
    return _Parser(text).parse()


# ---------------------------------------------------------------------------
# check(): does a slice fit columns of given kinds?
# ---------------------------------------------------------------------------


class _Mismatch(Exception):
    """A value that does not fit a column; ``args[0]`` says what was expected."""


def _unknown_column(column: str, available: Iterable[str]) -> SliceError:
    names = [str(c) for c in available]
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        shown = ", ".join(repr(c) for c in names[:10]) + (", ..." if len(names) > 10 else "")
        hint = f"the columns are: {shown}" if names else "there are no columns"
    return SliceError(f"unknown column {column!r}; {hint}", column=column)


def _parse_timestamp(value: Value) -> pd.Timestamp:
    """An ISO date/time string as a Timestamp; :class:`_Mismatch` otherwise."""
    expected = "expected an ISO date/time string such as '2024-05-01' or '2024-05-01T12:30'"
    if not isinstance(value, str) or not (len(value) >= 4 and set(value[:4]) <= _DIGITS):
        raise _Mismatch(expected)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Mismatch(f"{expected} ({_short(str(exc), 80)})") from None
    if pd.isna(stamp):
        raise _Mismatch(expected)
    return stamp


def _expect_number(value: Value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Mismatch("expected a number")


def _expect_bool(value: Value) -> None:
    if not isinstance(value, bool):
        raise _Mismatch("expected true or false")


def _expect_string(value: Value) -> None:
    if not isinstance(value, str):
        raise _Mismatch("expected a string")


def _expect_anything(value: Value) -> None:
    """Categorical columns hold labels of any type (strings, ints, bools)."""


_KIND_CHECKS: dict[str, Callable[[Value], object]] = {
    "categorical": _expect_anything,
    "numeric": _expect_number,
    "boolean": _expect_bool,
    "datetime": _parse_timestamp,
    "text": _expect_string,
}


def _check_predicate(p: Predicate, kinds: Mapping[str, ColumnKind]) -> None:
    if p.column not in kinds:
        raise _unknown_column(p.column, kinds)
    kind = kinds[p.column]
    if kind not in _KIND_CHECKS:
        raise SliceError(
            f"column {p.column!r} has unknown kind {kind!r}; expected one of "
            + ", ".join(COLUMN_KINDS),
            column=p.column,
        )
    if p.op in _ORDER_OPS and kind not in _ORDER_KINDS:
        raise SliceError(
            f"operator {p.op!r} does not apply to {kind} column {p.column!r}", column=p.column
        )
    for value in p.values:
        try:
            _KIND_CHECKS[kind](value)
        except _Mismatch as exc:
            raise SliceError(
                f"value {_format_value(value)} does not fit {kind} column {p.column!r}; {exc}",
                column=p.column,
            ) from None


# ---------------------------------------------------------------------------
# mask(): vectorised evaluation
# ---------------------------------------------------------------------------

DataClass = Literal["bool", "number", "datetime", "string", "object"]
_TYPED_CLASSES = frozenset({"bool", "number", "datetime"})
_ORDER_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _data_class(dtype: Any) -> DataClass:
    """How a (non-category) column's values compare with slice values."""
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        return "number"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_string_dtype(dtype) and not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return "string"
    return "object"


def _match_class(value: object) -> int:
    """0 bool, 1 number, 2 string, 3 anything else; ints and floats compare with each other."""
    if isinstance(value, bool | np.bool_):
        return 0
    if isinstance(value, int | float | np.integer | np.floating):
        return 1
    return 2 if isinstance(value, str) else 3


_match_classes = np.frompyfunc(_match_class, 1, 1)


def _as_bool(result: Any) -> np.ndarray:
    """A comparison result (numpy or nullable) as a plain bool array; NA -> False."""
    if isinstance(result, np.ndarray):
        return result.astype(bool, copy=False)
    if isinstance(result, pd.Series) and result.dtype == bool:
        return result.to_numpy()
    return np.asarray(result.to_numpy(dtype=bool, na_value=False))


def _coerce_datetime(s: pd.Series, value: Value) -> pd.Timestamp:
    stamp = _parse_timestamp(value)
    tz = s.dt.tz
    if tz is None and stamp.tzinfo is not None:
        raise _Mismatch("the value has a time zone but the column has none")
    if tz is not None and stamp.tzinfo is None:
        try:
            return stamp.tz_localize(tz)
        except (ValueError, TypeError) as exc:
            raise _Mismatch(f"it does not exist in time zone {tz}: {exc}") from None
    return stamp


def _checked(expect: Callable[[Value], object]) -> Callable[[pd.Series, Value], Any]:
    """A coercer that keeps the value as it is once ``expect`` accepts it."""

    def coerce(s: pd.Series, value: Value) -> Value:
        expect(value)
        return value

    return coerce


_COERCERS: dict[DataClass, Callable[[pd.Series, Value], Any]] = {
    "bool": _checked(_expect_bool),
    "number": _checked(_expect_number),
    "datetime": _coerce_datetime,
    "string": _checked(_expect_string),
    "object": _checked(_expect_anything),
}


def _coerce(s: pd.Series, p: Predicate, cls: DataClass, *, strict: bool, dtype: str) -> list[Any]:
    """Slice values in the column's terms; a misfit raises if ``strict``, else is dropped."""
    out = []
    for value in p.values:
        try:
            out.append(_COERCERS[cls](s, value))
        except _Mismatch as exc:
            if strict:
                raise SliceError(
                    f"value {_format_value(value)} does not fit column {p.column!r} "
                    f"of dtype {dtype}; {exc}",
                    column=p.column,
                ) from None
    return out


def _object_isin(s: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Typed membership for object columns: Python ``==``, then drop matches of another class.

    Only a string equals a string, so string values need no class check; a number
    or boolean value also matches its cross-class twins (``1 == 1.0 == True``), so
    those matches, and only those, are classified one by one.
    """
    arr = s.to_numpy(dtype=object)
    missing = pd.isna(arr)
    if missing.any():  # pd.NA refuses ``==``; None just compares unequal
        arr = arr.copy()
        arr[missing] = None
    out = np.zeros(len(arr), dtype=bool)
    for value in values:
        where = np.flatnonzero(np.asarray(arr == value, dtype=bool))
        if not isinstance(value, str) and len(where):
            classes = _match_classes(arr[where]).astype(np.int8)
            where = where[classes == _match_class(value)]
        out[where] = True
    return out


def _isin(s: pd.Series, cls: DataClass, values: Sequence[Any]) -> np.ndarray:
    if not values:
        return np.zeros(len(s), dtype=bool)
    if cls == "object":
        return _object_isin(s, values)
    if len(values) > 8:
        return _as_bool(s.isin(values))
    out = _as_bool(s == values[0]).copy()
    for value in values[1:]:
        out |= _as_bool(s == value)
    return out


def _values_mask(s: pd.Series, p: Predicate, *, strict: bool, dtype: str) -> np.ndarray:
    """Mask of a non-missing predicate over a non-category series; missing rows are False."""
    cls = _data_class(s.dtype)
    if p.op in _ORDER_OPS:
        if cls not in ("number", "datetime"):
            raise SliceError(
                f"operator {p.op!r} does not apply to column {p.column!r} of dtype {dtype}",
                column=p.column,
            )
        bounds = _coerce(s, p, cls, strict=True, dtype=dtype)
        if p.op == "between":
            return _as_bool(s >= bounds[0]) & _as_bool(s <= bounds[1])
        return _as_bool(_ORDER_FUNCS[p.op](s, bounds[0]))
    strict = strict and cls in _TYPED_CLASSES  # labels of another type just don't match
    hit = _isin(s, cls, _coerce(s, p, cls, strict=strict, dtype=dtype))
    if p.op in ("==", "in"):
        return hit
    return ~hit & s.notna().to_numpy()


def _categorical_mask(s: pd.Series, p: Predicate) -> np.ndarray:
    """Evaluate on the categories once, then look every row's code up (code -1 = missing)."""
    categories = pd.Series(s.cat.categories)
    dtype = f"category (categories {categories.dtype})"
    table = _values_mask(categories, p, strict=False, dtype=dtype)
    return _lookup(table, s.array.codes)


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` with code -1 -> False.

    A few ``==`` passes over the small-int codes beat a gather by about 10x.
    """
    hits, misses = np.flatnonzero(table), np.flatnonzero(~table)
    if len(hits) <= 4:
        out = np.zeros(len(codes), dtype=bool)
        for code in hits.tolist():
            out |= codes == code
        return out
    if len(misses) <= 4:
        out = codes >= 0
        for code in misses.tolist():
            out &= codes != code
        return out
    return np.append(table, False)[codes]


def _series_mask(s: pd.Series, p: Predicate) -> np.ndarray:
    if p.op in _MISSING_OPS:
        missing = s.isna().to_numpy()
        return missing if p.op == "is missing" else ~missing
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _categorical_mask(s, p)
    return _values_mask(s, p, strict=True, dtype=str(s.dtype))


def _get_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise _unknown_column(column, frame.columns)
    selected = frame[column]
    if isinstance(selected, pd.DataFrame):
        raise SliceError(
            f"column {column!r} is ambiguous: it names {selected.shape[1]} columns of the frame",
            column=column,
        )
    return selected


def _predicate_mask(frame: pd.DataFrame, p: Predicate) -> np.ndarray:
    s = _get_column(frame, p.column)
    try:
        return _series_mask(s, p)
    except SliceError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # pandas/numpy refusing a comparison
        raise SliceError(
            f"cannot evaluate {_short(p.text, 80)!r} on column {p.column!r} "
            f"of dtype {s.dtype}: {exc}",
            column=p.column,
        ) from exc
