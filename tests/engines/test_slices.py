"""Slices compiled for DuckDB and Spark select exactly the rows ``slice_mask`` selects.

Every operator on every kind of column (strings with missing values, floats with
NaN, nullable booleans, timestamps, integer labels, derived ``error`` and
``confidence``), values of the wrong type, and names and values built to break a
query that pasted them into SQL text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from mlqa_debug.engines import AggregateEngine
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import Predicate, Slice, format_predicate, slice_mask
from tests.engines.conftest import AGE, CITY, COLOR, ENGINES, FLAG, INJECTION, WHEN, slice_rows

PREDICATES = [
    Predicate(COLOR, "==", ("red",)),
    Predicate(COLOR, "==", (INJECTION,)),
    Predicate(COLOR, "!=", ("red",)),
    Predicate(COLOR, "in", ("red", INJECTION, "nope")),
    Predicate(COLOR, "not in", ("red", "blue")),
    Predicate(COLOR, "is missing"),
    Predicate(COLOR, "is not missing"),
    Predicate(COLOR, "==", (1,)),  # another type: matches nothing
    Predicate(COLOR, "!=", (1,)),  # ... so != selects every present row
    Predicate(COLOR, "in", ("red", 1, True)),
    Predicate(CITY, "==", ('say "hi"',)),
    Predicate(CITY, "in", ("a`b", "東京")),
    Predicate(CITY, "!=", ("Zürich",)),
    Predicate(AGE, "<", (30,)),
    Predicate(AGE, "<=", (40.5,)),
    Predicate(AGE, ">", (50,)),
    Predicate(AGE, ">=", (41.0,)),
    Predicate(AGE, "between", (30, 45.5)),
    Predicate(AGE, "!=", (40.0,)),
    Predicate(AGE, "not in", (40.0, 41.2)),
    Predicate(AGE, "is missing"),
    Predicate(AGE, "is not missing"),
    Predicate(AGE, "<", (2**70,)),  # beyond int64
    Predicate(FLAG, "==", (True,)),
    Predicate(FLAG, "!=", (True,)),
    Predicate(FLAG, "is missing"),
    Predicate(WHEN, ">=", ("2024-06-01",)),
    Predicate(WHEN, "between", ("2024-02-01", "2024-03-01T12:00")),
    Predicate(WHEN, "is missing"),
    Predicate("label", "==", (1,)),
    Predicate("label", "in", (0, 1.0)),
    Predicate("label", "!=", (0,)),
    Predicate("prediction", "not in", (0,)),
    Predicate("score", ">", (0.5,)),
    Predicate("score", "between", (0.25, 0.75)),
    Predicate("error", "==", (True,)),
    Predicate("error", "!=", (True,)),
    Predicate("confidence", ">=", (0.8,)),
]

REFUSED = [
    Predicate(AGE, "==", ("x",)),  # a string for a number
    Predicate(AGE, "==", (True,)),  # a boolean for a number
    Predicate(FLAG, "==", (1,)),  # a number for a boolean
    Predicate(COLOR, "<", (3,)),  # ordering a categorical
    Predicate("label", "==", ("x",)),  # a string for integer labels
    Predicate(WHEN, ">=", ("not a date",)),
    Predicate(WHEN, ">=", ("2024-01-01T00:00+02:00",)),  # a zone on a naive column
    Predicate("no such column", "==", (1,)),
    Predicate(INJECTION, "==", (1,)),
]


@pytest.fixture(scope="module")
def numpy_table(tables: dict[str, Path], request: pytest.FixtureRequest) -> Any:
    from mlqa_debug.data.predictions import load_predictions

    return load_predictions(tables["binary"])


def _numpy_ids(predictions: Any, s: Slice) -> set[Any]:
    mask = slice_mask(predictions, s)
    return set(predictions.frame["id"].to_numpy()[mask].tolist())


@pytest.mark.parametrize("engine_name", ENGINES)
def test_every_operator_selects_the_rows_of_slice_mask(
    engine_name: str, tables: dict[str, Path], numpy_table: Any, open_on: Any
) -> None:
    engine: AggregateEngine = open_on(tables["binary"], engine_name)
    slices = [Slice((p,)) for p in PREDICATES]
    got = slice_rows(engine, [engine.where(s) for s in slices], "id")
    for p, s, rows in zip(PREDICATES, slices, got, strict=True):
        assert rows == _numpy_ids(numpy_table, s), format_predicate(p)
    assert len(set().union(*(_numpy_ids(numpy_table, Slice((p,))) for p in PREDICATES))) > 100


@pytest.mark.parametrize("engine_name", ENGINES)
def test_conjunctions_and_the_empty_slice(
    engine_name: str, tables: dict[str, Path], numpy_table: Any, open_on: Any
) -> None:
    engine = open_on(tables["binary"], engine_name)
    rng = np.random.default_rng(0)
    pairs = [rng.choice(len(PREDICATES), 2, replace=False) for _ in range(12)]
    slices = [Slice(tuple(PREDICATES[i] for i in pair)) for pair in pairs] + [Slice()]
    got = slice_rows(engine, [engine.where(s) for s in slices], "id")
    for s, rows in zip(slices, got, strict=True):
        assert rows == _numpy_ids(numpy_table, s), s.text
    assert len(got[-1]) == numpy_table.n_samples


@pytest.mark.parametrize("engine_name", ENGINES)
def test_misfits_are_refused_like_the_masks(
    engine_name: str, tables: dict[str, Path], numpy_table: Any, open_on: Any
) -> None:
    engine = open_on(tables["binary"], engine_name)
    for p in REFUSED:
        s = Slice((p,))
        with pytest.raises(SliceError):
            slice_mask(numpy_table, s)
        with pytest.raises(SliceError, match="column"):
            engine.check_slice(s)


def test_injection_names_and_values_reach_duckdb_as_data(tmp_path: Path, open_on: Any) -> None:
    """A table whose names and values are SQL survives every query, and still answers."""
    import pandas as pd

    evil = 'x"; DROP TABLE t; --'
    frame = pd.DataFrame(
        {
            "label": [0, 1, 1, 0],
            "prediction": [0, 1, 0, 0],
            evil: [INJECTION, "a", INJECTION, "b"],
            "`); SELECT 1; --": [1.0, 2.0, 3.0, float("nan")],
        }
    )
    path = tmp_path / "evil.parquet"
    frame.to_parquet(path, index=False)
    engine = open_on(path, "duckdb")
    slices = [
        Slice((Predicate(evil, "==", (INJECTION,)),)),
        Slice((Predicate(evil, "in", ("a", "' OR 1=1 --")),)),
        Slice((Predicate("`); SELECT 1; --", ">=", (2,)),)),
    ]
    sums = engine.slice_sums(slices)
    assert [s.inside.n for s in sums] == [2, 1, 2]
    again = engine.slice_sums(slices)  # the table is still there
    assert [s.inside.n for s in again] == [2, 1, 2]
    assert engine.backend.relation.aggregate([duckdb.FunctionExpression("count")]).fetchall() == [
        (4,)
    ]
