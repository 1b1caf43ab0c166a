"""Tests of mlqa_debug.stats.format: one way to write rates, points, counts and intervals."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa_debug.stats import Estimate
from mlqa_debug.stats.format import (
    MISSING,
    count,
    interval,
    number,
    p_value,
    percent,
    points,
)

FORMATTERS: list[Callable[[float | None], str]] = [
    percent,
    lambda v: percent(v, signed=True),
    points,
    count,
    number,
    lambda v: number(v, signed=True),
    p_value,
]


@pytest.mark.parametrize(
    ("got", "expected"),
    [
        (percent(0.1234), "12.3%"),
        (percent(0.5, digits=0), "50%"),
        (percent(-0.012, signed=True), "-1.2%"),
        (percent(0.012, signed=True), "+1.2%"),
        (points(0.032), "+3.2 pts"),
        (points(-0.0049), "-0.5 pts"),
        (points(0.0, digits=2), "+0.00 pts"),
        (count(1234567), "1,234,567"),
        (count(0), "0"),
        (number(0.012345), "0.0123"),
        (number(45.67), "45.7"),
        (number(12345.6), "12,346"),
        (number(-2.5, signed=True), "-2.5"),
        (number(2.5, signed=True), "+2.5"),
        (number(1234.5678, digits=4), "1,235"),
        (p_value(0.0004), "< 0.001"),
        (p_value(0.0123), "0.012"),
        (interval(Estimate(0.12, 0.101, 0.142)), "12.0% [10.1%, 14.2%]"),
        (interval(Estimate(3.0, math.nan, math.nan), number), "3"),
        (interval(Estimate(math.nan, math.nan, math.nan)), MISSING),
    ],
)
def test_examples(got: str, expected: str) -> None:
    assert got == expected


@pytest.mark.parametrize("formatter", FORMATTERS)
@pytest.mark.parametrize("undefined", [None, math.nan, math.inf, -math.inf])
def test_undefined_values_read_as_a_dash(
    formatter: Callable[[float | None], str], undefined: float | None
) -> None:
    assert formatter(undefined) == MISSING == "–"


@given(st.one_of(st.none(), st.floats()), st.sampled_from(FORMATTERS))
def test_never_prints_nan_or_inf(
    value: float | None, formatter: Callable[[float | None], str]
) -> None:
    text = formatter(value)
    assert "nan" not in text.lower() and "inf" not in text.lower()


@given(st.floats(allow_nan=True), st.floats(allow_nan=True), st.floats(allow_nan=True))
def test_intervals_never_print_nan(value: float, low: float, high: float) -> None:
    for fmt in (percent, number):
        assert "nan" not in interval(Estimate(value, low, high), fmt).lower()
