"""Tests of mlqa_debug.slicing.text: parsing and formatting the text form of a slice."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa_debug.errors import MlqaError, SliceError
from mlqa_debug.slicing import (
    Predicate,
    Slice,
    format_predicate,
    format_slice,
    parse_slice,
)
from tests.slicing.strategies import relaxed, slices_strategy

#: The words of the slice grammar (lower case; the grammar ignores case).
KEYWORDS = ["and", "or", "in", "not", "between", "is", "missing", "true", "false"]

# ---------------------------------------------------------------------------
# Parsing and formatting examples
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("   \n\t ", ""),
        ("age >= 40", "age >= 40"),
        (
            "region in ('north', 'west') and age >= 40 and `income band` == '10-20k'",
            "age >= 40 and `income band` == '10-20k' and region in ('north', 'west')",
        ),
        ("region IN ('west', 'north', 'west',)", "region in ('north', 'west')"),
        ("region in ('north')", "region == 'north'"),
        ("region not in ('north')", "region != 'north'"),
        ("region NOT IN ('b', 'a')", "region not in ('a', 'b')"),
        ("x Between -1 AND .5", "x between -1 and 0.5"),
        ("x is MISSING", "x is missing"),
        ("x Is Not Missing", "x is not missing"),
        ("x == TRUE and y != False", "x == true and y != false"),
        ('x == "double"', "x == 'double'"),
        ("x==1 and y<=2.5 and z>-3", "x == 1 and y <= 2.5 and z > -3"),
        ("x == 1e-3", "x == 0.001"),
        ("x == 1E5", "x == 100000.0"),
        ("x == 1e16", "x == 1e+16"),
        ("x == -0.0", "x == 0.0"),
        ("x == +7", "x == 7"),
        ("x == 007", "x == 7"),
        ("x == 5.", "x == 5.0"),
        ("x in (1, 1.0, true, '1')", "x in (true, 1, 1.0, '1')"),
        ("a == 1 and a == 1", "a == 1"),
        ("b == 1 and a == 2", "a == 2 and b == 1"),
        ("a > 1 and a == 1 and a < 9", "a == 1 and a < 9 and a > 1"),
        ("`a` == 1", "a == 1"),
        ("`and` == 1", "`and` == 1"),
        ("`AND` == 1", "`AND` == 1"),
        ("`x y` == 1", "`x y` == 1"),
        ("`a``b` == 1", "`a``b` == 1"),
        ("é_1 == 'ü'", "é_1 == 'ü'"),
        ("_private == 1", "_private == 1"),
        ("`1st` == 1", "`1st` == 1"),
        ("x == 'it\\'s'", "x == 'it\\'s'"),
        ('x == "it\'s"', "x == 'it\\'s'"),
        ('x == "say \\"hi\\""', "x == 'say \"hi\"'"),
        ("x == 'a\\\\b'", "x == 'a\\\\b'"),
        ("x == '\\x41\\u00e9\\U0001F600'", "x == 'Aé😀'"),
        ("x == 'tab\\there'", "x == 'tab\\there'"),
        ("x == 'line\nbreak'", "x == 'line\\nbreak'"),
        ("x == '\\u200b'", "x == '\\u200b'"),
        ("x == '\\x00'", "x == '\\x00'"),
        ("x == '\\xa0'", "x == '\\xa0'"),
        ("x in (3, 2, 1) and x not in (5, 4)", "x in (1, 2, 3) and x not in (4, 5)"),
    ],
)
def test_parse_gives_canonical_text(text: str, canonical: str) -> None:
    s = parse_slice(text)
    assert s.text == canonical
    assert format_slice(s) == canonical
    assert str(s) == canonical
    assert parse_slice(canonical) == s


@pytest.mark.parametrize(
    ("text", "predicate"),
    [
        ("age >= 40", Predicate("age", ">=", (40,))),
        ("p < 0.25", Predicate("p", "<", (0.25,))),
        ("x between 1 and 2", Predicate("x", "between", (1, 2))),
        ("x in (1, 2)", Predicate("x", "in", (1, 2))),
        ("x not in ('a', 'b')", Predicate("x", "not in", ("a", "b"))),
        ("x is missing", Predicate("x", "is missing")),
        ("x is not missing", Predicate("x", "is not missing")),
        ("x == true", Predicate("x", "==", (True,))),
        ("x == 1", Predicate("x", "==", (1,))),
        ("x == 1.0", Predicate("x", "==", (1.0,))),
        ("`a b` == ''", Predicate("a b", "==", ("",))),
    ],
)
def test_parse_builds_predicates(text: str, predicate: Predicate) -> None:
    assert parse_slice(text).predicates == (predicate,)


def test_values_keep_their_type() -> None:
    (p,) = parse_slice("a in (1, 1.0, true, '1')").predicates
    assert [type(v) for v in p.values] == [bool, int, float, str]
    assert parse_slice("a == 1") != parse_slice("a == 1.0")
    assert parse_slice("a == 1") != parse_slice("a == true")
    assert parse_slice("a == 0") != parse_slice("a == false")
    assert parse_slice("a == 1").id != parse_slice("a == true").id


@pytest.mark.parametrize(
    "name",
    [
        "a b",
        "a.b",
        "a-b",
        "'",
        '"',
        "`",
        "``",
        "a`b",
        "`a`",
        "x\ny",
        "\r\n",
        " ",
        "\t",
        *KEYWORDS,
        "And",
        "OR",
        "FALSE",
        "1abc",
        "123",
        "🙂",
        "naïve",
        "e\u0301",
        "日本語",
        "a\\b",
        "__import__('os')",
        "'; DROP TABLE x; --",
        "<script>",
        "x == 1",
        "(",
        "\x00",
        "\ud800",
    ],
)
def test_odd_column_names_round_trip(name: str) -> None:
    s = Slice((Predicate(name, "==", ("v",)), Predicate(name, "is missing")))
    text = format_slice(s)
    assert parse_slice(text) == s
    assert parse_slice(text).predicates[0].column == name


@pytest.mark.parametrize(
    ("name", "formatted"),
    [
        ("age", "age"),
        ("_x1", "_x1"),
        ("été", "été"),
        ("age group", "`age group`"),
        ("a.b", "`a.b`"),
        ("1st", "`1st`"),
        ("and", "`and`"),
        ("Missing", "`Missing`"),
        ("a`b", "`a``b`"),
        ("x\ny", "`x\ny`"),
    ],
)
def test_format_backticks_exactly_the_names_that_need_it(name: str, formatted: str) -> None:
    assert format_predicate(Predicate(name, "is missing")) == f"{formatted} is missing"


@pytest.mark.parametrize(
    ("value", "formatted"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (10**30, str(10**30)),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e-7, "1e-07"),
        (-0.0, "0.0"),
        (np.float64(1.5), "1.5"),
        (np.int64(3), "3"),
        (np.bool_(True), "true"),
        ("", "''"),
        ("it's", "'it\\'s'"),
        ('"', "'\"'"),
        ("a\\b", "'a\\\\b'"),
        ("\n\t\r", "'\\n\\t\\r'"),
        ("\x1b", "'\\x1b'"),
        ("\u2028", "'\\u2028'"),
        ("\U000e0001", "'\\U000e0001'"),
        ("😀", "'😀'"),
    ],
)
def test_format_values(value: Any, formatted: str) -> None:
    p = Predicate("x", "==", (value,))
    assert p.text == f"x == {formatted}"
    assert str(p) == p.text
    assert parse_slice(p.text).predicates == (p,)


def test_long_value_list_within_the_limit_parses() -> None:
    text = "x in (" + ", ".join(str(i) for i in range(1500)) + ")"
    assert len(text) < 10_000
    (p,) = parse_slice(text).predicates
    assert p.values == tuple(range(1500))


# ---------------------------------------------------------------------------
# Parse errors and hostile input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match", "position"),
    [
        ("age >= ", r"expected a value after '>=' at column 8, got end of text", 7),
        ("age >= abc", r"got name 'abc'; strings need quotes: 'abc'", 7),
        ("age == null", r"use 'is missing' to select missing values", 7),
        ("a => 3", r"unknown operator '=>' at column 3; expected one of ==, !=, <, <=", 2),
        ("a = 3", r"unknown operator '='", 2),
        ("a <> 3", r"unknown operator '<>'", 2),
        ("region == 'abc", r"unterminated string starting at column 11", 10),
        ('region == "abc', r"unterminated string starting at column 11", 10),
        ("x == 'abc\\", r"unterminated string starting at column 6", 5),
        ("a == 1 or b == 2", r"'or' is not supported \(at column 8\).*joined by 'and'", 7),
        ("a == 1 OR b == 2", r"'or' is not supported", 7),
        ("(a == 1)", r"expected a column name at column 1, got '\('; a slice has no grouping", 0),
        ("a == 1 and (b == 2)", r"no grouping parentheses", 11),
        ("a in ()", r"expected a value after '\(' at column 7, got '\)'", 6),
        ("a in (1 2)", r"expected ',' or '\)' in value list at column 9, got number 2", 8),
        ("a in (1,", r"expected a value after ','", 8),
        ("a in (1", r"expected ',' or '\)' in value list at column 8, got end of text", 7),
        ("a in 1", r"expected '\(' after 'in' at column 6, got number 1", 5),
        ("a not in 1", r"expected '\(' after 'in'", 9),
        ("a not 5", r"expected 'in' after 'not' at column 7", 6),
        ("a is", r"expected 'missing' or 'not missing' after 'is' at column 5", 4),
        ("a is null", r"expected 'missing' or 'not missing' after 'is'.*got name 'null'", 5),
        ("a is not", r"expected 'missing' after 'is not' at column 9", 8),
        ("a between 1 2", r"expected 'and' between the bounds of 'between' at column 13", 12),
        ("a between 1 and", r"expected a value after 'and'", 15),
        ("a between and 2", r"expected a value after 'between'.*keyword 'and'", 10),
        ("missing == 1", r"got keyword 'missing'; write `missing` in backticks", 0),
        ("a == 1 and", r"expected a column name at column 11, got end of text", 10),
        ("and a == 1", r"got keyword 'and'", 0),
        ("a == 1 b == 2", r"expected 'and' or end of text at column 8, got name 'b'", 7),
        ("a == 1 and and b == 1", r"expected a column name at column 12, got keyword 'and'", 11),
        ("a", r"expected an operator after column 'a' at column 2, got end of text", 1),
        ("`a b` 'x'", r"expected an operator after column 'a b'.*got string 'x'", 6),
        ("a == 1abc", r"malformed number '1a' at column 6", 5),
        ("a == 1.2.3", r"malformed number '1.2.' at column 6", 5),
        ("a == 1e", r"malformed number '1e'", 5),
        ("a == 1e+", r"malformed number '1e\+'", 5),
        ("a == 1e999", r"number '1e999' at column 6 is out of range", 5),
        ("a == " + "9" * 3001, r"is too long", 5),
        ("a == - 1", r"unexpected character '-' at column 6", 5),
        ("a == .", r"unexpected character '\.'", 5),
        ("a == '\\q'", r"invalid escape '\\\\q' in string at column 7", 6),
        ("a == '\\x4'", r"invalid escape", 6),
        ("a == '\\xZZ'", r"invalid escape", 6),
        ("a == '\\U00110000'", r"invalid escape", 6),
        (
            "`abc == 1",
            r"unterminated column name starting at column 1; close it with a backtick",
            0,
        ),
        ("`` == 1", r"empty column name at column 1", 0),
        ("a == 1;", r"unexpected character ';' at column 7", 6),
        ("a ≠ 1", r"unexpected character '≠'", 2),
        ("a < true", r"operator '<' cannot compare column 'a' with a boolean at column 1", 0),
        ("x == 1 and a between false and 2", r"with a boolean at column 12", 11),
        ("__import__('os')", r"expected an operator after column '__import__' at column 11", 10),
        ("<script>alert(1)</script>", r"expected a column name at column 1, got '<'", 0),
        ("1 == a", r"expected a column name at column 1, got number 1", 0),
        ("'a' == 1", r"expected a column name at column 1, got string 'a'", 0),
    ],
)
def test_parse_errors_point_at_the_problem(text: str, match: str, position: int) -> None:
    with pytest.raises(SliceError, match=match) as info:
        parse_slice(text)
    assert info.value.position == position
    assert info.value.text == text


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('rm -rf /')",
        "'; DROP TABLE predictions; --",
        "a == 1; DROP TABLE x",
        '<script>alert("x")</script>',
        "<img src=x onerror=alert(1)>",
        "a == 1 or 1 == 1",
        "a == 'x' or a == 'y'",
        "((((((((((((((((((((a == 1",
        "a in ((1, 2))",
        "a in (1, 2",
        "a == 1)",
        "a == 'unbalanced",
        'a == "unbalanced',
        "`unbalanced == 1",
        "a == 1 && b == 2",
        "a == 1 | b == 2",
        "lambda: 0",
        "{'a': 1}",
        "a == [1, 2]",
        "a == ${HOME}",
        "a == 1 -- comment",
        "a == 1 # comment",
        "a.b == 1",
        "a[0] == 1",
        "a == @var",
        "a == b'bytes'",
        "a == 0x1F",
        "a == 1_000",
        "a == NaN",
        "a == inf",
        "a == -inf",
        "\x00",
        "\ufeffa == 1",
        "a == 1 and",
        "and",
        ")",
        ",",
        "'",
        "`",
    ],
)
def test_hostile_input_raises_slice_error(text: str) -> None:
    with pytest.raises(SliceError) as info:
        parse_slice(text)
    assert info.value.position is not None
    assert 0 <= info.value.position <= len(text)


def test_slice_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_slice("a ==")
    with pytest.raises(MlqaError):
        parse_slice("a ==")


@pytest.mark.parametrize("size", [10_001, 100_000])
def test_too_long_text_is_rejected_at_once(size: int) -> None:
    text = ("a == 1 and " * (size // 11 + 1))[:size]
    with pytest.raises(SliceError, match=f"is {size:,} characters long; at most 10,000"):
        parse_slice(text)


def test_max_length_is_configurable() -> None:
    assert parse_slice("a == 1", max_length=6) == parse_slice("a == 1")
    with pytest.raises(SliceError, match="at most 5 are allowed"):
        parse_slice("a == 1", max_length=5)
    assert len(parse_slice("a == 1 and " * 2000 + "a == 1", max_length=30_000).predicates) == 1


def test_garbage_of_100_kb_is_rejected() -> None:
    rng = np.random.default_rng(0)
    garbage = "".join(map(chr, rng.integers(0, 0x2FFF, 100_000)))
    with pytest.raises(SliceError, match="100,000 characters"):
        parse_slice(garbage)


@pytest.mark.parametrize("value", [None, 42, b"a == 1", ["a == 1"]])
def test_non_string_input_raises_slice_error(value: Any) -> None:
    with pytest.raises(SliceError, match="must be a string"):
        parse_slice(value)


@pytest.mark.parametrize("module", ["model", "masks", "terms", "text"])
def test_parser_never_evaluates_code(module: str) -> None:
    source = inspect.getsource(importlib.import_module(f"mlqa_debug.slicing.{module}"))
    for banned in ("eval(", "exec(", "literal_eval", "compile(", ".query(", "import ast"):
        assert banned not in source


# ---------------------------------------------------------------------------
# Property tests: the text form
# ---------------------------------------------------------------------------


@relaxed
@given(slices_strategy)
def test_round_trip_parse_format(s: Slice) -> None:
    text = format_slice(s)
    parsed = parse_slice(text)
    assert parsed == s
    assert parsed.id == s.id
    assert parsed.text == text


@relaxed
@given(st.text(max_size=200))
def test_arbitrary_text_gives_a_slice_or_a_slice_error(text: str) -> None:
    try:
        s = parse_slice(text)
    except SliceError as exc:
        assert exc.position is not None
        assert 0 <= exc.position <= len(text)
    else:
        assert isinstance(s, Slice)


TOKENS = [
    "a",
    "`b c`",
    "`and`",
    *KEYWORDS,
    "AND",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=>",
    "(",
    ")",
    ",",
    "1",
    "-2.5",
    ".5",
    "1e3",
    "'s'",
    '"d"',
    "'\\n'",
    "'",
    "`",
    "\\",
    ";",
    "é",
]


@relaxed
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.sampled_from([" ", "", "\n"]))
def test_token_soup_gives_a_slice_or_a_slice_error_and_fixed_points(
    tokens: list[str], sep: str
) -> None:
    text = sep.join(tokens)
    try:
        s = parse_slice(text)
    except SliceError:
        return
    canonical = format_slice(s)
    assert parse_slice(canonical) == s
    assert format_slice(parse_slice(canonical)) == canonical


@relaxed
@given(slices_strategy, st.sampled_from(["", "  ", "\n\t", " \u3000 "]))
def test_whitespace_is_insignificant(s: Slice, space: str) -> None:
    spaced = f" {space}AND{space} ".join(format_predicate(p) for p in s.predicates)
    assert parse_slice(space + spaced + space) == s


@pytest.mark.parametrize(
    "text",
    ["a>=1 and b in('x','y')and c is missing", "  a  >=  1\nAND\tb IN ( 'x' , 'y' , )\r\n"],
)
def test_whitespace_around_tokens_is_optional(text: str) -> None:
    assert parse_slice(text).text.startswith("a >= 1 and b in ('x', 'y')")
