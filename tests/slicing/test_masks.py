"""Tests of mlqa_debug.slicing.masks: checks against column kinds and row masks."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mlqa_debug.slicing.masks as masks_module
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import (
    EMPTY,
    OPS,
    Predicate,
    Slice,
    parse_slice,
)
from tests.slicing.strategies import relaxed

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

    monkeypatch.setattr(masks_module, "_series_mask", broken)
    with pytest.raises(SliceError, match=r"cannot evaluate 'age >= 1' on column 'age'.*Invalid"):
        parse_slice("age >= 1").mask(frame)


# ---------------------------------------------------------------------------
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
