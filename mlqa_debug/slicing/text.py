r"""The text form of a slice: its tokenizer and recursive-descent parser.

A slice's text form travels in URLs and code reviews, so it has its own
hand-written tokenizer and parser; nothing here evaluates user text (no
``eval``, no ``DataFrame.query``). :func:`~mlqa_debug.slicing.model.format_slice`
writes the canonical text that :func:`parse_slice` reads back.

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

``parse_slice(format_slice(s)) == s`` for every slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple, NoReturn, cast

from mlqa_debug.errors import SliceError
from mlqa_debug.slicing.model import EMPTY, Predicate, Slice
from mlqa_debug.slicing.terms import (
    COMPARE_OPS,
    EXPECTED_OPS,
    KEYWORDS,
    Op,
    Value,
    is_name_char,
    is_name_start,
    shorten,
)

__all__ = ["MAX_SLICE_LENGTH", "parse_slice"]

MAX_SLICE_LENGTH = 20_000
"""The longest slice text a link, a page or a search accepts (one limit for all of them)."""

# --------------------------------------------------------------------------- tokenizer


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
        f"invalid escape {shorten(text[i : i + 2 + width])!r} in string {_at(i)}; "
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
            _fail(text, f"malformed number {shorten(text[pos : j + 1])!r} {_at(pos)}", pos)
        i, is_float = _skip_digits(text, j), True
    raw = text[pos:i]
    if i < len(text) and (is_name_char(text[i]) or text[i] == "."):
        _fail(text, f"malformed number {shorten(text[pos : i + 1])!r} {_at(pos)}", pos)
    if is_float:
        value = float(raw)
        if math.isinf(value):
            _fail(text, f"number {shorten(raw)!r} {_at(pos)} is out of range", pos)
        return _Token("number", value, pos, i)
    if i - pos > 3000:
        _fail(text, f"integer {shorten(raw)!r} {_at(pos)} is too long", pos)
    return _Token("number", int(raw), pos, i)


def _scan_operator(text: str, pos: int) -> _Token:
    i = pos
    while i < len(text) and text[i] in _OP_CHARS:
        i += 1
    raw = text[pos:i]
    if raw not in COMPARE_OPS:
        _fail(
            text,
            f"unknown operator {shorten(raw)!r} {_at(pos)}; expected one of {EXPECTED_OPS}",
            pos,
        )
    return _Token("op", raw, pos, i)


def _scan_word(text: str, pos: int) -> _Token:
    i = pos + 1
    while i < len(text) and is_name_char(text[i]):
        i += 1
    word = text[pos:i]
    if word.lower() in KEYWORDS:
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
    if is_name_start(ch):
        return _scan_word(text, pos)
    _fail(text, f"unexpected character {ch!r} {_at(pos)}", pos)


def _next_token(text: str, pos: int) -> _Token:
    """The token that starts at or after ``pos`` (skipping whitespace)."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        return _Token("end", "", len(text), len(text))
    return _scan(text, pos)


# --------------------------------------------------------------------------- parser


def _describe(token: _Token, text: str) -> str:
    raw = shorten(text[token.pos : token.end])
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
                f"expected an operator after column {shorten(column)!r} {_at(token.pos)}, "
                f"got {got}; expected one of {EXPECTED_OPS}",
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
            message += f"; strings need quotes: '{shorten(str(token.value))}'"
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
