"""Tests of mlqa_debug.slicing.model: predicates, canonical slices and their ids."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import (
    EMPTY,
    Predicate,
    Slice,
    parse_slice,
)
from tests.slicing.strategies import predicates, relaxed

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


@relaxed
@given(st.lists(predicates(), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_permuted_predicates_give_equal_slices(preds: list[Predicate], random: Any) -> None:
    shuffled = preds + preds[:1]
    random.shuffle(shuffled)
    assert Slice(tuple(preds)) == Slice(tuple(shuffled))
    assert Slice(tuple(preds)).id == Slice(tuple(shuffled)).id
