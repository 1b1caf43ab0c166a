"""Hypothesis strategies of slices with hostile column names and values of every type."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mlqa_debug.slicing import (
    OPS,
    Predicate,
    Slice,
    Value,
)

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
