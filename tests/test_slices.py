"""Tests for mlqa_debug.slicing.slices: the slice model, its text language and its masks."""

from __future__ import annotations

import inspect
import math
import operator
import re
import string
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mlqa_debug.slicing.slices as slices_module
from mlqa_debug.errors import MlqaError, SliceError
from mlqa_debug.slicing.slices import (
    EMPTY,
    OPS,
    Predicate,
    Slice,
    Value,
    format_predicate,
    format_slice,
    parse_slice,
)

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def frame() -> pd.DataFrame:
    """Six rows, one column per supported dtype, each with a missing value."""
    return pd.DataFrame(
        {
            "region": pd.Categorical(["north", "south", None, "west", "north", "east"]),
            "age": np.array([25, 40, 41, 39, 60, 18], dtype=np.int64),
            "income": [10.5, np.nan, 30.0, 40.0, 50.0, 1.0],
            "count": pd.array([1, None, 3, 1, 2, 0], dtype="Int64"),
            "name": pd.Series(["ann", "bob", None, "cy", "ann", "dee"], dtype="str"),
            "flag": pd.array([True, False, None, True, False, True], dtype="boolean"),
            "plain_flag": [True, False, True, True, False, False],
            "mixed": pd.Series([1, "1", True, None, 1.0, "a"], dtype=object),
            "when": pd.to_datetime(
                ["2024-01-01", "2024-01-02 12:00", None, "2024-02-01", "2023-12-31", "2024-01-02"],
                format="ISO8601",
            ),
            "grade": pd.Categorical([1, 2, 3, None, 2, 10]),
            "income band": pd.Categorical(["10-20k", "20-30k", "10-20k", None, "0-10k", "10-20k"]),
        }
    )


@pytest.fixture
def big_frame() -> pd.DataFrame:
    """A seeded 500-row frame with a 12-category column (exercises every lookup path)."""
    rng = np.random.default_rng(7)
    n = 500
    letters = np.array(list("abcdefghijkl"))
    codes = rng.integers(-1, 12, n)
    cat = pd.Categorical.from_codes(codes, categories=letters)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"cat": cat, "x": x, "k": rng.integers(0, 5, n)})


@pytest.fixture
def kinds() -> dict[str, Any]:
    return {
        "region": "categorical",
        "age": "numeric",
        "flag": "boolean",
        "when": "datetime",
        "note": "text",
        "income band": "categorical",
    }


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
        "and",
        "And",
        "OR",
        "in",
        "not",
        "between",
        "is",
        "missing",
        "true",
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
# Predicate and Slice model
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", "==", (1,)), "non-empty string"),
        ((None, "==", (1,)), "non-empty string"),
        (("x", "=", (1,)), "unknown operator '='"),
        (("x", ["=="], (1,)), "unknown operator"),
        (("x", "==", "abc"), "must be a tuple"),
        (("x", "==", 5), "must be a tuple"),
        (("x", "==", ()), r"'==' takes exactly 1 value, got 0"),
        (("x", "<", (1, 2)), r"'<' takes exactly 1 value, got 2"),
        (("x", "in", ()), "at least 1 value"),
        (("x", "between", (1,)), r"takes 2 values \(low, high\), got 1"),
        (("x", "is missing", (1,)), "takes no values"),
        (("x", "==", (float("nan"),)), "use 'is missing'"),
        (("x", "==", (np.nan,)), "use 'is missing'"),
        (("x", "==", (float("inf"),)), "infinite"),
        (("x", "<", (-math.inf,)), "infinite"),
        (("x", "==", (None,)), "has type NoneType"),
        (("x", "==", (b"bytes",)), "has type bytes"),
        (("x", "in", ([1],)), "has type list"),
        (("x", "==", (2**20_000,)), "too large"),
        (("x", "<", (True,)), "with a boolean"),
        (("x", "between", (0, False)), "with a boolean"),
    ],
)
def test_invalid_predicates_raise(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(SliceError, match=match):
        Predicate(*args)


def test_predicate_normalises_values() -> None:
    p = Predicate("x", "in", [np.int64(2), 1, np.float64(0.5), np.bool_(False), np.str_("s")])
    assert p.values == (False, 1, 2, 0.5, "s")
    assert [type(v) for v in p.values] == [bool, int, int, float, str]
    assert Predicate("x", "==", (-0.0,)) == Predicate("x", "==", (0.0,))
    assert Predicate("x", "in", (True, 1, 1.0, True)).values == (True, 1, 1.0)


def test_predicate_equality_is_typed() -> None:
    assert Predicate("x", "==", (1,)) != Predicate("x", "==", (True,))
    assert Predicate("x", "==", (1,)) != Predicate("x", "==", (1.0,))
    assert len({Predicate("x", "==", (1,)), Predicate("x", "==", (True,))}) == 2
    assert Predicate("x", "==", (1,)) == Predicate("x", "==", (1,))
    assert Predicate("x", "==", (1,)) != "x == 1"


def test_predicates_are_frozen() -> None:
    p = Predicate("x", "==", (1,))
    with pytest.raises(AttributeError):
        p.column = "y"  # type: ignore[misc]


def test_slice_is_canonical() -> None:
    a = Predicate("b", "in", ("y", "x"))
    b = Predicate("a", ">=", (1,))
    c = Predicate("a", "in", (3,))
    s1 = Slice((a, b, c))
    s2 = Slice((c, b, a, a))
    assert s1 == s2
    assert s1.id == s2.id
    assert hash(s1) == hash(s2)
    assert s1.predicates == (
        Predicate("a", "==", (3,)),
        Predicate("a", ">=", (1,)),
        Predicate("b", "in", ("x", "y")),
    )


def test_slice_accepts_a_list_and_rejects_non_predicates() -> None:
    assert Slice([Predicate("a", "is missing")]).text == "a is missing"  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Predicate"):
        Slice(("a == 1",))  # type: ignore[arg-type]


def test_slice_properties() -> None:
    s = parse_slice("b == 1 and `a b` is missing and b < 3")
    assert s.columns == frozenset({"a b", "b"})
    assert re.fullmatch(r"[0-9a-f]{12}", s.id)
    assert s.id == parse_slice(s.text).id
    assert EMPTY == Slice() == parse_slice("")
    assert EMPTY.text == ""
    assert EMPTY.columns == frozenset()
    assert len({parse_slice("a == 1").id, parse_slice("a == 2").id, EMPTY.id}) == 3


def test_conjunction() -> None:
    left, right = parse_slice("a == 1 and b == 2"), parse_slice("b == 2 and c == 3")
    assert (left & right) == parse_slice("a == 1 and b == 2 and c == 3")
    assert (left & EMPTY) == left
    assert (EMPTY & EMPTY) == EMPTY
    with pytest.raises(TypeError):
        left & "c == 3"  # type: ignore[operator]


def test_id_works_for_lone_surrogates() -> None:
    s = Slice((Predicate("\udc80", "==", ("\ud800",)),))
    assert len(s.id) == 12
    assert parse_slice(s.text) == s


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


def test_parser_never_evaluates_code() -> None:
    source = inspect.getsource(slices_module)
    for banned in ("eval(", "exec(", "literal_eval", "compile(", ".query(", "import ast"):
        assert banned not in source


# ---------------------------------------------------------------------------
# Property tests: the text form
# ---------------------------------------------------------------------------

NASTY_NAMES = [
    "and",
    "OR",
    "in",
    "Not",
    "between",
    "is",
    "missing",
    "true",
    "false",
    "a b",
    "a.b",
    "`",
    "a``b",
    "'",
    '"',
    "\\",
    "x\ny",
    " ",
    "1abc",
    "🙂",
    "e\u0301",
    "\ud800",
    "__import__('os')",
]

column_names = st.one_of(
    st.sampled_from(NASTY_NAMES),
    st.text(string.ascii_letters + "_", min_size=1, max_size=8),
    st.text(min_size=1, max_size=8),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Zs", "Co", "Mn"]), min_size=1),
)
text_values = st.one_of(
    st.text(max_size=10),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Zs", "Zl", "Cf"]), max_size=5),
    st.sampled_from(["", "'", '"', "\\", "\\'", "and", "' or '1'='1"]),
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
any_values: st.SearchStrategy[Value] = st.one_of(
    text_values, st.integers(), st.integers(-(2**80), 2**80), finite_floats, st.booleans()
)
ordered_values: st.SearchStrategy[Value] = st.one_of(text_values, st.integers(), finite_floats)


@st.composite
def predicates(draw: st.DrawFn) -> Predicate:
    op = draw(st.sampled_from(OPS))
    values_of = ordered_values if op in ("<", "<=", ">", ">=", "between") else any_values
    count = {"in": (1, 4), "not in": (1, 4), "between": (2, 2)}.get(op, (1, 1))
    if op in ("is missing", "is not missing"):
        count = (0, 0)
    values = draw(st.lists(values_of, min_size=count[0], max_size=count[1]))
    return Predicate(draw(column_names), op, tuple(values))


slices_strategy = st.lists(predicates(), max_size=5).map(lambda ps: Slice(tuple(ps)))
# the first draw of a unicode-category alphabet builds a character map: not a slow test
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(slices_strategy)
def test_round_trip_parse_format(s: Slice) -> None:
    text = format_slice(s)
    parsed = parse_slice(text)
    assert parsed == s
    assert parsed.id == s.id
    assert parsed.text == text


@relaxed
@given(st.lists(predicates(), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_permuted_predicates_give_equal_slices(preds: list[Predicate], random: Any) -> None:
    shuffled = preds + preds[:1]
    random.shuffle(shuffled)
    assert Slice(tuple(preds)) == Slice(tuple(shuffled))
    assert Slice(tuple(preds)).id == Slice(tuple(shuffled)).id


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
    "and",
    "AND",
    "or",
    "in",
    "not",
    "between",
    "is",
    "missing",
    "true",
    "false",
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


# ---------------------------------------------------------------------------
# check()
# ---------------------------------------------------------------------------


def test_check_accepts_fitting_slices(kinds: dict[str, Any]) -> None:
    parse_slice(
        "region in ('a', 1, true) and region != 2.5 and age between 1 and 2.5 and age != 3 "
        "and flag == true and flag not in (false) and when >= '2024-01-01' "
        "and when between '2024-01-01T00:00' and '2024-12-31 23:59:59+01:00' "
        "and note != 'x' and `income band` is missing and note is not missing"
    ).check(kinds)
    EMPTY.check({})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("regoin == 'a'", r"unknown column 'regoin'; did you mean 'region'\?"),
        ("income_band == 'a'", r"unknown column 'income_band'; did you mean 'income band'\?"),
        ("zzz == 1", r"unknown column 'zzz'; the columns are: 'region', 'age'"),
        ("region < 'a'", r"operator '<' does not apply to categorical column 'region'"),
        ("note between 'a' and 'b'", r"operator 'between' does not apply to text column 'note'"),
        ("flag >= 1", r"operator '>=' does not apply to boolean column 'flag'"),
        ("age == 'x'", r"value 'x' does not fit numeric column 'age'; expected a number"),
        ("age in (1, true)", r"value true does not fit numeric column 'age'"),
        ("age between 1 and '9'", r"value '9' does not fit numeric column 'age'"),
        ("flag == 1", r"value 1 does not fit boolean column 'flag'; expected true or false"),
        ("flag in (true, 'yes')", r"value 'yes' does not fit boolean column 'flag'"),
        ("when == 'yesterday'", r"does not fit datetime column 'when'; expected an ISO date"),
        ("when >= 'now'", r"expected an ISO date"),
        ("when >= '01/02/2024'", r"expected an ISO date"),
        ("when < 2024", r"value 2024 does not fit datetime column 'when'"),
        ("when < '2024-13-01'", r"month must be in 1..12"),
        ("note == 5", r"value 5 does not fit text column 'note'; expected a string"),
    ],
)
def test_check_errors(kinds: dict[str, Any], text: str, match: str) -> None:
    with pytest.raises(SliceError, match=match) as info:
        parse_slice(text).check(kinds)
    assert info.value.column == parse_slice(text).predicates[0].column


def test_check_rejects_an_unknown_kind() -> None:
    with pytest.raises(SliceError, match="unknown kind 'weird'"):
        parse_slice("a == 1").check({"a": "weird"})  # type: ignore[dict-item]


def test_check_with_no_columns() -> None:
    with pytest.raises(SliceError, match="there are no columns"):
        parse_slice("a == 1").check({})


# ---------------------------------------------------------------------------
# mask(): examples
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("", [0, 1, 2, 3, 4, 5]),
        ("region == 'north'", [0, 4]),
        ("region != 'north'", [1, 3, 5]),
        ("region in ('north', 'west', 'nowhere')", [0, 3, 4]),
        ("region not in ('north', 'west')", [1, 5]),
        ("region == 'nowhere'", []),
        ("region != 'nowhere'", [0, 1, 3, 4, 5]),
        ("region == 1", []),
        ("region is missing", [2]),
        ("region is not missing", [0, 1, 3, 4, 5]),
        ("age >= 40", [1, 2, 4]),
        ("age < 40", [0, 3, 5]),
        ("age between 25 and 41", [0, 1, 2, 3]),
        ("age between 41 and 25", []),
        ("age == 40.0", [1]),
        ("age in (18, 60, 99)", [4, 5]),
        ("age != 40", [0, 2, 3, 4, 5]),
        ("age == 10000000000000000000000", []),
        ("age < 10000000000000000000000", [0, 1, 2, 3, 4, 5]),
        ("income > 20", [2, 3, 4]),
        ("income != 30", [0, 3, 4, 5]),
        ("income is missing", [1]),
        ("income between 1 and 10.5", [0, 5]),
        ("count == 1", [0, 3]),
        ("count != 1", [2, 4, 5]),
        ("count <= 1", [0, 3, 5]),
        ("count not in (0, 1)", [2, 4]),
        ("count is missing", [1]),
        ("name == 'ann'", [0, 4]),
        ("name != 'ann'", [1, 3, 5]),
        ("name in ('bob', 'cy', 'zed')", [1, 3]),
        ("name == 5", []),
        ("name != 5", [0, 1, 3, 4, 5]),
        ("name is missing", [2]),
        ("flag == true", [0, 3, 5]),
        ("flag != true", [1, 4]),
        ("flag is missing", [2]),
        ("plain_flag == false", [1, 4, 5]),
        ("plain_flag in (true, false)", [0, 1, 2, 3, 4, 5]),
        ("mixed == 1", [0, 4]),
        ("mixed == 1.0", [0, 4]),
        ("mixed == true", [2]),
        ("mixed == '1'", [1]),
        ("mixed in (true, 'a')", [2, 5]),
        ("mixed != 1", [1, 2, 5]),
        ("mixed not in (1, '1')", [2, 5]),
        ("mixed is missing", [3]),
        ("when >= '2024-01-02'", [1, 3, 5]),
        ("when == '2024-01-02'", [5]),
        ("when == '2024-01-02T12:00'", [1]),
        ("when != '2024-01-02'", [0, 1, 3, 4]),
        ("when between '2024-01-01' and '2024-01-02'", [0, 5]),
        ("when in ('2024-01-01', '2024-02-01')", [0, 3]),
        ("when is missing", [2]),
        ("grade == 2", [1, 4]),
        ("grade >= 3", [2, 5]),
        ("grade < 3", [0, 1, 4]),
        ("grade between 2 and 3", [1, 2, 4]),
        ("grade == '2'", []),
        ("grade != '2'", [0, 1, 2, 4, 5]),
        ("grade == true", []),
        ("grade is missing", [3]),
        ("`income band` == '10-20k'", [0, 2, 5]),
        ("region == 'north' and age >= 40", [4]),
        ("region != 'north' and name is not missing and income < 45", [3, 5]),
        ("age > 100 and region == 'north'", []),
    ],
)
def test_mask_examples(frame: pd.DataFrame, text: str, rows: list[int]) -> None:
    mask = parse_slice(text).mask(frame)
    assert mask.dtype == bool
    assert mask.shape == (len(frame),)
    assert np.flatnonzero(mask).tolist() == rows


def test_mask_of_an_empty_frame(frame: pd.DataFrame) -> None:
    empty = frame.iloc[:0]
    for text in ["", "region == 'north'", "mixed == 1", "age >= 3", "name is missing"]:
        assert parse_slice(text).mask(empty).shape == (0,)


def test_mask_does_not_depend_on_the_index(frame: pd.DataFrame) -> None:
    shuffled = frame.set_axis([10, 3, 7, 1, 99, -5])
    s = parse_slice("region != 'north' and age >= 18")
    assert (s.mask(shuffled) == s.mask(frame)).all()


def test_mask_with_tz_aware_datetimes() -> None:
    when = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 12:00", None]).tz_localize(
        "Europe/Paris"
    )
    frame = pd.DataFrame({"when": when})
    assert parse_slice("when < '2024-01-01T06:00'").mask(frame).tolist() == [True, False, False]
    utc = parse_slice("when == '2023-12-31T23:00Z'").mask(frame)
    assert utc.tolist() == [True, False, False]
    with pytest.raises(SliceError, match=r"nonexistent|does not exist"):
        parse_slice("when < '2024-03-31T02:30'").mask(frame)


@pytest.mark.parametrize(
    ("dtype", "cells"),
    [
        ("int64[pyarrow]", [1, 2, None, 3]),
        ("double[pyarrow]", [1, 2, None, 3]),
        ("Int64", [1, 2, None, 3]),
        ("Float64", [1, 2, None, 3]),
        ("float32", [1, 2, np.nan, 3]),
        ("uint8", [1, 2, 0, 3]),
        ("int16", [1, 2, 0, 3]),
    ],
)
def test_mask_on_other_numeric_dtypes(dtype: str, cells: list[Any]) -> None:
    frame = pd.DataFrame({"x": pd.Series(cells, dtype=dtype)})
    assert parse_slice("x >= 2").mask(frame).tolist() == [False, True, False, True]
    assert parse_slice("x in (1, 3)").mask(frame).tolist() == [True, False, False, True]


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "string[python]", "str", "object"])
def test_mask_on_string_dtypes(dtype: str) -> None:
    frame = pd.DataFrame({"s": pd.Series(["a", None, "b", "a"], dtype=dtype)})
    assert parse_slice("s == 'a'").mask(frame).tolist() == [True, False, False, True]
    assert parse_slice("s != 'a'").mask(frame).tolist() == [False, False, True, False]
    assert parse_slice("s not in ('a', 'z')").mask(frame).tolist() == [False, False, True, False]
    assert parse_slice("s is missing").mask(frame).tolist() == [False, True, False, False]
    many = "s in (" + ", ".join(f"'{c}'" for c in "acdefghijk") + ")"
    assert parse_slice(many).mask(frame).tolist() == [True, False, False, True]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("o == 1", [0, 3]),
        ("o == true", [1]),
        ("o == 'a'", [4]),
        ("o != 1", [1, 4, 6]),
        ("o not in (true, 'a')", [0, 3, 6]),
        ("o is missing", [2, 5]),
    ],
)
def test_object_columns_with_numpy_scalars_and_pd_na(text: str, rows: list[int]) -> None:
    cells = [np.int64(1), np.True_, pd.NA, np.float64(1.0), np.str_("a"), float("nan"), [1]]
    frame = pd.DataFrame({"o": pd.Series(cells, dtype=object)})
    assert np.flatnonzero(parse_slice(text).mask(frame)).tolist() == rows


def test_many_values_use_the_same_typed_semantics() -> None:
    frame = pd.DataFrame({"x": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]})
    wanted = parse_slice("x in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0, 20)").mask(frame)
    assert np.flatnonzero(wanted).tolist() == list(range(1, 11))


def test_mask_uses_category_codes_for_large_frames(big_frame: pd.DataFrame) -> None:
    cat = big_frame["cat"].astype(object).where(big_frame["cat"].notna(), None)
    for chosen in ["a", "abc", "abcde", "abcdefg", "abcdefghi", "abcdefghijk", "abcdefghijkl"]:
        values = ", ".join(f"'{c}'" for c in chosen)
        for op in ("in", "not in"):
            mask = parse_slice(f"cat {op} ({values})").mask(big_frame)
            inside = cat.isin(list(chosen)).to_numpy()
            expected = inside if op == "in" else (~inside & cat.notna().to_numpy())
            assert (mask == expected).all(), (op, chosen)


# ---------------------------------------------------------------------------
# mask(): errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("regoin == 'north'", r"unknown column 'regoin'; did you mean 'region'\?"),
        ("nope == 1", r"unknown column 'nope'"),
        ("age == 'forty'", r"value 'forty' does not fit column 'age' of dtype int64; expected a n"),
        ("age >= '40'", r"value '40' does not fit column 'age'"),
        ("age in (1, 'x')", r"value 'x' does not fit column 'age'"),
        ("age == true", r"value true does not fit column 'age'"),
        ("income between 'a' and 'b'", r"value 'a' does not fit column 'income'"),
        ("count == 'x'", r"does not fit column 'count' of dtype Int64"),
        ("flag == 1", r"value 1 does not fit column 'flag' of dtype boolean; expected true or f"),
        ("plain_flag == 'true'", r"value 'true' does not fit column 'plain_flag' of dtype bool"),
        ("flag < 1", r"operator '<' does not apply to column 'flag' of dtype boolean"),
        ("name < 'b'", r"operator '<' does not apply to column 'name' of dtype str"),
        ("region >= 'a'", r"operator '>=' does not apply to column 'region' of dtype category"),
        ("mixed > 0", r"operator '>' does not apply to column 'mixed' of dtype object"),
        ("grade < 'x'", r"value 'x' does not fit column 'grade' of dtype category \(categories"),
        ("when == 'last week'", r"does not fit column 'when'.*expected an ISO date/time string"),
        ("when == 5", r"value 5 does not fit column 'when'"),
        ("when < '2024-02-30'", r"day is out of range|must be in"),
        ("when < '2024-01-01T00:00Z'", r"has a time zone but the column has none"),
    ],
)
def test_mask_errors(frame: pd.DataFrame, text: str, match: str) -> None:
    with pytest.raises(SliceError, match=match) as info:
        parse_slice(text).mask(frame)
    assert info.value.column == parse_slice(text).predicates[0].column


def test_mask_rejects_duplicate_column_names() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(SliceError, match="column 'a' is ambiguous: it names 2 columns"):
        parse_slice("a == 1").mask(frame)


def test_mask_turns_pandas_errors_into_slice_errors(
    frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise TypeError("Invalid comparison")

    monkeypatch.setattr(slices_module, "_series_mask", broken)
    with pytest.raises(SliceError, match=r"cannot evaluate 'age >= 1' on column 'age'.*Invalid"):
        parse_slice("age >= 1").mask(frame)


# ---------------------------------------------------------------------------
# mask(): property tests against a per-row reference
# ---------------------------------------------------------------------------

MISSING = object()

COLUMNS: dict[str, dict[str, Any]] = {
    "num": {
        "cells": [-1.5, 0.0, 1.0, 2.0, 3.5, MISSING],
        "build": lambda cells: pd.Series(cells, dtype="float64"),
        "values": st.one_of(st.integers(-2, 4), st.sampled_from([-1.5, 0.0, 1.0, 2.5, 3.5])),
        "ordered": True,
    },
    "int": {
        "cells": [0, 1, 2, 3, MISSING],
        "build": lambda cells: pd.Series(pd.array(cells, dtype="Int64")),
        "values": st.one_of(st.integers(-1, 4), st.sampled_from([1.0, 2.5])),
        "ordered": True,
    },
    "cat": {
        "cells": ["a", "b", "c", MISSING],
        "build": lambda cells: pd.Series(pd.Categorical(cells, categories=["a", "b", "c", "d"])),
        "values": st.sampled_from(["a", "b", "c", "d", "e", 1, True, 0.5]),
        "ordered": False,
    },
    "catnum": {
        "cells": [1, 2, 3, 7, MISSING],
        "build": lambda cells: pd.Series(pd.Categorical(cells, categories=list(range(1, 11)))),
        "values": st.integers(0, 11),
        "ordered": True,
    },
    "str": {
        "cells": ["a", "b", "zz", "", MISSING],
        "build": lambda cells: pd.Series(cells, dtype="str"),
        "values": st.sampled_from(["a", "b", "zz", "", "q", 5, False]),
        "ordered": False,
    },
    "flag": {
        "cells": [True, False, MISSING],
        "build": lambda cells: pd.Series(pd.array(cells, dtype="boolean")),
        "values": st.booleans(),
        "ordered": False,
    },
    "obj": {
        "cells": [1, "a", True, False, 2.5, "1", 0, MISSING],
        "build": lambda cells: pd.Series(cells, dtype=object),
        "values": st.sampled_from([1, 1.0, True, False, "a", "1", 2.5, 0, "zz"]),
        "ordered": False,
    },
    "when": {
        "cells": ["2024-01-01", "2024-01-01 12:00", "2024-02-01", MISSING],
        "build": lambda cells: pd.Series(pd.to_datetime(cells, format="ISO8601")),
        "values": st.sampled_from(
            ["2023-12-31", "2024-01-01", "2024-01-01T12:00", "2024-01-02", "2024-02-01"]
        ),
        "ordered": True,
    },
}

MISSING_CELL: dict[str, Any] = {"int": None, "flag": None, "obj": None, "when": None}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    data = {}
    for name, spec in COLUMNS.items():
        cells = draw(st.lists(st.sampled_from(spec["cells"]), min_size=n, max_size=n))
        missing = MISSING_CELL.get(name, np.nan)
        data[name] = spec["build"]([missing if c is MISSING else c for c in cells])
    return pd.DataFrame(data)


ORDER_OPS = ("<", "<=", ">", ">=", "between")


@st.composite
def fitting_predicates(
    draw: st.DrawFn, columns: tuple[str, ...] = tuple(COLUMNS), ops: tuple[str, ...] = OPS
) -> Predicate:
    """A predicate whose values fit its column (so mask() must not raise)."""
    column = draw(st.sampled_from(columns))
    spec = COLUMNS[column]
    op = draw(st.sampled_from([op for op in ops if spec["ordered"] or op not in ORDER_OPS]))
    count = {"in": (1, 4), "not in": (1, 4), "between": (2, 2)}.get(op, (1, 1))
    if op in ("is missing", "is not missing"):
        count = (0, 0)
    values = draw(st.lists(spec["values"], min_size=count[0], max_size=count[1]))
    return Predicate(column, op, tuple(values))


def _match_class(x: Any) -> str:
    if isinstance(x, bool | np.bool_):
        return "bool"
    if isinstance(x, int | float | np.integer | np.floating):
        return "number"
    return type(x).__name__


def _same(x: Any, v: Any) -> bool:
    return _match_class(x) == _match_class(v) and bool(x == v)


REFERENCE_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def reference_row(x: Any, p: Predicate) -> bool:
    """What one row should give, written the obvious per-row way."""
    missing = x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x))
    if p.op in ("is missing", "is not missing"):
        return missing == (p.op == "is missing")
    if missing:
        return False
    values = [pd.Timestamp(v) for v in p.values] if isinstance(x, pd.Timestamp) else p.values
    if p.op in ("==", "in", "!=", "not in"):
        return any(_same(x, v) for v in values) == (p.op in ("==", "in"))
    if p.op == "between":
        return bool(values[0] <= x <= values[1])
    return bool(REFERENCE_ORDER[p.op](x, values[0]))


def reference_mask(frame: pd.DataFrame, s: Slice) -> np.ndarray:
    rows = [
        all(reference_row(frame[p.column].iloc[i], p) for p in s.predicates)
        for i in range(len(frame))
    ]
    return np.array(rows, dtype=bool)


@settings(relaxed, max_examples=150)
@given(frames(), st.lists(fitting_predicates(), min_size=1, max_size=3))
def test_mask_agrees_with_a_per_row_reference(frame: pd.DataFrame, preds: list[Predicate]) -> None:
    for p in preds:
        single = Slice((p,))
        assert (single.mask(frame) == reference_mask(frame, single)).all(), p.text
    s = Slice(tuple(preds))
    assert (s.mask(frame) == reference_mask(frame, s)).all(), s.text


NEGATIONS = {"==": "!=", "in": "not in", "<": ">=", "<=": ">"}


@relaxed
@given(frames(), st.data())
def test_a_predicate_its_negation_and_missing_partition_the_rows(
    frame: pd.DataFrame, data: st.DataObject
) -> None:
    p = data.draw(fitting_predicates(ops=tuple(NEGATIONS)))
    negation = Predicate(p.column, NEGATIONS[p.op], p.values)  # type: ignore[arg-type]
    missing = Predicate(p.column, "is missing")
    parts = [Slice((q,)).mask(frame).astype(int) for q in (p, negation, missing)]
    assert (sum(parts) == 1).all()
    everything = Slice((Predicate(p.column, "is not missing"),)).mask(frame)
    assert (everything == ~parts[2].astype(bool)).all()


@relaxed
@given(frames(), st.data())
def test_between_and_the_outside_partition_the_rows(
    frame: pd.DataFrame, data: st.DataObject
) -> None:
    p = data.draw(fitting_predicates(("num", "int", "catnum", "when"), ("between",)))
    column, (low, high) = p.column, p.values
    if column == "when":
        assume(pd.Timestamp(low) <= pd.Timestamp(high))  # type: ignore[arg-type]
    else:
        assume(low <= high)  # type: ignore[operator]
    queries = [
        p,
        Predicate(column, "<", (low,)),
        Predicate(column, ">", (high,)),
        Predicate(column, "is missing"),
    ]
    parts = [Slice((q,)).mask(frame).astype(int) for q in queries]
    assert (sum(parts) == 1).all()
