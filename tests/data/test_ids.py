"""Matching two tables by id: against a brute-force dict implementation, and its invariants."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa_debug.data import ids
from mlqa_debug.data.ids import IdMatch, id_key, id_keys, match_ids, plain_id

# Few distinct values, so that ids collide across the tables and repeat within one.
mixed_ids = st.one_of(
    st.integers(-3, 6),
    st.sampled_from(["0", "1", "7", "a", "b", "7.5", ""]),
    st.sampled_from([0.0, 1.0, 7.0, 7.5, -0.0, float("nan"), 2.0**70]),
)
labels = st.sampled_from([0, 1, "1", 1.0, "x"])


def brute_force(
    left: list[Any], right: list[Any], left_labels: list[Any] | None, right_labels: list[Any] | None
) -> dict[str, list[Any]]:
    """What :func:`match_ids` must return, with dicts and loops."""
    first_left: dict[str, int] = {}
    first_right: dict[str, int] = {}
    for i, v in enumerate(left):
        first_left.setdefault(id_key(v), i)
    for j, v in enumerate(right):
        first_right.setdefault(id_key(v), j)
    pairs = [(i, first_right[k]) for k, i in first_left.items() if k in first_right]
    counts_left, counts_right = Counter(map(id_key, left)), Counter(map(id_key, right))
    out = {
        "left": [i for i, _ in pairs],
        "right": [j for _, j in pairs],
        "only_left": [left[i] for k, i in first_left.items() if k not in first_right],
        "only_right": [right[j] for k, j in first_right.items() if k not in first_left],
        "duplicated_left": [left[i] for k, i in first_left.items() if counts_left[k] > 1],
        "duplicated_right": [right[j] for k, j in first_right.items() if counts_right[k] > 1],
        "labels_differ": [],
    }
    if left_labels is not None and right_labels is not None:
        out["labels_differ"] = [
            left[i] for i, j in pairs if id_key(left_labels[i]) != id_key(right_labels[j])
        ]
    return out


def as_lists(match: IdMatch) -> dict[str, list[Any]]:
    fields = "left right only_left only_right duplicated_left duplicated_right labels_differ"
    return {name: getattr(match, name).tolist() for name in fields.split()}


def same(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> bool:
    """Equal field by field, comparing ids by key (nan == nan)."""
    return all(list(map(id_key, a[k])) == list(map(id_key, b[k])) for k in a) and all(
        type(x) is type(y) for k in a for x, y in zip(a[k], b[k], strict=True)
    )


@st.composite
def two_tables(draw: st.DrawFn) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    left = draw(st.lists(mixed_ids, max_size=30))
    right = draw(st.lists(mixed_ids, max_size=30))
    left_labels = draw(st.lists(labels, min_size=len(left), max_size=len(left)))
    right_labels = draw(st.lists(labels, min_size=len(right), max_size=len(right)))
    return left, right, left_labels, right_labels


@settings(max_examples=300, deadline=None)
@given(two_tables())
def test_match_ids_is_the_brute_force_answer(tables: tuple[list[Any], ...]) -> None:
    left, right, left_labels, right_labels = tables
    found = match_ids(left, right, left_labels=left_labels, right_labels=right_labels)
    assert same(as_lists(found), brute_force(left, right, left_labels, right_labels))
    assert same(as_lists(match_ids(left, right)), brute_force(left, right, None, None))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-5, 20), max_size=40),
    st.lists(st.integers(-5, 20), max_size=40),
    st.sampled_from(["int64", "float64", "str", "category"]),
)
def test_typed_columns_match_like_their_values(
    left: list[int], right: list[int], right_type: str
) -> None:
    typed = pd.Series(right).astype(right_type if right_type != "str" else object)
    if right_type == "str":
        typed = typed.astype(str)
    found = match_ids(np.array(left, dtype=np.int64), typed)
    assert same(as_lists(found), brute_force(left, typed.tolist(), None, None))


@settings(max_examples=300, deadline=None)
@given(two_tables())
def test_match_ids_invariants(tables: tuple[list[Any], ...]) -> None:
    left, right, _, _ = tables
    m = match_ids(left, right)
    left_keys, right_keys = set(map(id_key, left)), set(map(id_key, right))
    # matched + only-left = every unique left id, and the same on the right
    assert m.n_matched + len(m.only_left) == len(left_keys)
    assert m.n_matched + len(m.only_right) == len(right_keys)
    assert {id_key(left[i]) for i in m.left} | set(map(id_key, m.only_left)) == left_keys
    assert {id_key(right[j]) for j in m.right} | set(map(id_key, m.only_right)) == right_keys
    # a pair has the same id on both sides; no row is paired twice
    assert [id_key(left[i]) for i in m.left] == [id_key(right[j]) for j in m.right]
    assert len(set(m.left.tolist())) == len(set(m.right.tolist())) == m.n_matched
    assert m.left.tolist() == sorted(m.left.tolist())
    # duplicates: exactly the ids counted more than once, each reported once
    repeated = {k for k, n in Counter(map(id_key, left)).items() if n > 1}
    assert sorted(map(id_key, m.duplicated_left)) == sorted(repeated)
    # swapping the tables swaps the answer
    swapped = match_ids(right, left)
    assert sorted(zip(swapped.right.tolist(), swapped.left.tolist(), strict=True)) == sorted(
        zip(m.left.tolist(), m.right.tolist(), strict=True)
    )
    repeated_right = {k for k, n in Counter(map(id_key, right)).items() if n > 1}
    assert m.complete == (left_keys == right_keys and not repeated and not repeated_right)


@settings(max_examples=200, deadline=None)
@given(st.lists(mixed_ids, max_size=40))
def test_id_keys_is_id_key_of_each_value(values: list[Any]) -> None:
    assert id_keys(values).tolist() == [id_key(v) for v in values]


@pytest.mark.parametrize(
    "values",
    [
        np.array([3, -1, 2**62], dtype=np.int64),
        np.array([3, 7], dtype=np.uint8),
        np.array([0.0, -0.0, 7.0, 7.25, np.nan, np.inf, 1e20, 2.0**63, 1e-7]),
        np.array([7.0, 0.1, 1e-7], dtype=np.float32),
        np.array(["a", "7", ""]),
        pd.Series([7, 8, None], dtype="Int64"),
        pd.Series(["a", "b"], dtype="string"),
        pd.Series(["b", "a", None, "b"], dtype="category"),
        pd.Series([3.0, 1.5, None], dtype="category"),
        pd.Series([True, False]),
        pd.Series(pd.to_datetime(["2024-01-02 00:00", "2024-03-04 05:06"])),
        pd.Series([1, "1", 1.0, b"1", datetime(2024, 1, 2)], dtype=object),
        pd.Series([10**30, 7], dtype=object),
        pd.Index(["x", "y"]),
    ],
    ids=lambda v: str(getattr(v, "dtype", type(v).__name__)),
)
def test_id_keys_for_every_column_type(values: Any) -> None:
    expected = [id_key(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
    assert id_keys(values).tolist() == expected


def test_ids_compare_as_text() -> None:
    m = match_ids([7, "8", 9.0, np.int64(10)], pd.Series(["10", "9", 8, "7"]))
    assert m.left.tolist() == [0, 1, 2, 3] and m.right.tolist() == [3, 2, 1, 0]
    assert m.complete and m.summary() == "4 ids matched"


def test_duplicates_and_one_sided_ids_are_reported_not_dropped() -> None:
    left = pd.Series(["a", "b", "b", "c", "c", "c", "d"])
    right = pd.Series(["d", "b", "e", "e", "a"])
    m = match_ids(left, right)
    assert m.left.tolist() == [0, 1, 6]  # the first row of "b" is the one paired
    assert m.right.tolist() == [4, 1, 0]
    assert m.only_left.tolist() == ["c"] and m.only_right.tolist() == ["e"]
    assert m.duplicated_left.tolist() == ["b", "c"] and m.duplicated_right.tolist() == ["e"]
    assert not m.complete
    assert m.summary("v2", "v1") == (
        "3 ids matched; 1 only in v2 (e.g. 'c'); 1 only in v1 (e.g. 'e'); "
        "2 repeated in v2 (e.g. 'b', 'c'); 1 repeated in v1 (e.g. 'e')"
    )


def test_disagreeing_labels_are_reported() -> None:
    m = match_ids(
        [1, 2, 3, 4],
        [4, 3, 2, 5],
        left_labels=pd.Series(["cat", "dog", 1, 0.0]),
        right_labels=np.array([0, 1.0, "bird", 1], dtype=object),
    )
    assert m.labels_differ.tolist() == [2]  # 3: 1 vs 1.0 and 4: 0.0 vs 0 agree as text
    assert "1 with different labels (e.g. 2)" in m.summary()


def test_labels_are_given_for_both_tables_one_per_row() -> None:
    with pytest.raises(ValueError, match="both tables or for neither"):
        match_ids([1], [1], left_labels=[0])
    with pytest.raises(ValueError, match="2 right labels for 1 right ids"):
        match_ids([1], [1], left_labels=[0], right_labels=[0, 1])


def test_empty_tables() -> None:
    m = match_ids([], pd.Series([1, 2]))
    assert m.n_matched == 0 and m.only_left.size == 0 and m.only_right.tolist() == [1, 2]
    assert match_ids([], []).complete


def test_positions_ignore_a_series_index() -> None:
    right = pd.Series(["b", "a"], index=[10, 20])
    assert match_ids(["a"], right).right.tolist() == [1]


def test_a_table_of_keys_keeps_its_lookup_table() -> None:
    keys = id_keys(pd.Series(np.arange(1000)))
    assert id_keys(keys) is keys
    assert match_ids(["999", 3], keys).right.tolist() == [999, 3]


def test_plain_id() -> None:
    assert [plain_id(v) for v in (np.int64(7), 7.0, "7", 7.5, True, None)] == [
        7,
        7,
        "7",
        "7.5",
        "True",
        "None",
    ]


@pytest.mark.slow
def test_a_million_rows() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    left = pd.Series(np.arange(n))
    right = pd.Series((rng.permutation(n) + 10).astype(str))
    m = match_ids(left, right, left_labels=np.zeros(n, int), right_labels=np.zeros(n))
    assert m.n_matched == n - 10
    assert m.only_left.tolist() == list(range(10))
    assert sorted(m.only_right.tolist()) == sorted(str(v) for v in range(n, n + 10))
    assert (left.to_numpy()[m.left].astype(str) == right.to_numpy()[m.right]).all()
    assert m.labels_differ.size == 0


@settings(max_examples=150, deadline=None)
@given(two_tables())
def test_both_ways_of_pairing_give_the_same_answer(tables: tuple[list[Any], ...]) -> None:
    # tables of similar size pair by factorising both; far apart in size, by lookup
    left, right, left_labels, right_labels = tables
    want = brute_force(left, right, left_labels, right_labels)
    for ratio in (0, 10**9):  # 0: always by lookup; huge: always by codes
        with patch.object(ids, "_LOOKUP_RATIO", ratio):
            found = match_ids(left, right, left_labels=left_labels, right_labels=right_labels)
        assert same(as_lists(found), want)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "7", "", "x y"]), max_size=30), st.data())
def test_arrow_text_ids_match_like_python_text(left: list[str], data: st.DataObject) -> None:
    right = data.draw(st.lists(st.sampled_from(["a", "7", "c", ""]), max_size=30))
    arrow_left = pd.Series(left, dtype=pd.StringDtype("pyarrow"))
    arrow_right = pd.Series(right, dtype=pd.StringDtype("pyarrow"))
    found = match_ids(arrow_left, arrow_right, left_labels=left, right_labels=right)
    assert same(as_lists(found), brute_force(left, right, left, right))
    assert same(as_lists(match_ids(arrow_left, right)), brute_force(left, right, None, None))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 40), max_size=30, unique=True),
    st.lists(st.integers(0, 40), max_size=30, unique=True),
    st.sampled_from(["int64", "object", "arrow"]),
)
def test_ids_known_unique_pair_as_the_general_search_does(
    left: list[int], right: list[int], kind: str
) -> None:
    def column(values: list[int]) -> pd.Series:
        if kind == "int64":
            return pd.Series(values, dtype="int64")
        text = [f"r{v:03d}" for v in values]
        return pd.Series(text, dtype=object if kind == "object" else pd.StringDtype("pyarrow"))

    a, b = column(left), column(right)
    want = brute_force(a.tolist(), b.tolist(), None, None)
    assert same(as_lists(match_ids(a, b, unique=True)), want)
    assert same(as_lists(match_ids(a, b)), want)
