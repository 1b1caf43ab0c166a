"""Fixtures of the engine tests: small seeded tables on disk, one Spark session for all.

Every table has odd column names (spaces, quotes, backticks, a semicolon, SQL in a
name, non-ASCII), missing values (None and NaN) and values that look like SQL
injection, so each engine test also checks that names and values never reach a
query as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.data.schema import Roles
from mlqa_debug.engines import AggregateEngine, NumpyEngine, open_engine, resolve_source
from mlqa_debug.engines.duckdb_engine import open_duckdb

INJECTION = "'; DROP TABLE x; --"
COLOR = "colour `tone`"  # backticks and a space
CITY = 'city "name"; DROP TABLE t; --'  # double quotes, a semicolon, SQL
AGE = "âge (years)"  # non-ASCII and parentheses
FLAG = "it's flagged"  # a single quote
WHEN = "seen at"
N_ROWS = 300

OpenEngine = Callable[[Path, str], Any]


def _features(rng: np.random.Generator, n: int) -> dict[str, Any]:
    age = np.round(rng.normal(40, 12, n), 1)
    age[rng.random(n) < 0.1] = np.nan
    colour = rng.choice(np.array(["red", "green", "blue", INJECTION], dtype=object), n)
    colour[rng.random(n) < 0.1] = None
    city = rng.choice(np.array(["Zürich", "東京", 'say "hi"', "a`b"], dtype=object), n)
    flag = rng.random(n) < 0.4
    flag_col = pd.array(flag, dtype="boolean")
    flag_col[rng.random(n) < 0.1] = pd.NA
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    when = pd.Series(when).where(rng.random(n) > 0.05)
    return {COLOR: colour, CITY: city, AGE: age, FLAG: flag_col, WHEN: when.to_numpy()}


def binary_frame(seed: int = 0, n: int = N_ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(n), 3)
    score[:3] = [0.0, 1.0, 0.5]  # clipping in log loss, a tie at 0.5
    label = (rng.random(n) < np.clip(score + rng.normal(0, 0.3, n), 0, 1)).astype(int)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            **_features(rng, n),
            "label": label,
            "prediction": (score >= 0.5).astype(int),
            "score": score,
        }
    )


def multiclass_frame(seed: int = 1, n: int = N_ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "émeu"]
    probs = rng.dirichlet([1.0, 1.0, 1.0], n)
    probs[0] = [0.4, 0.4, 0.2]  # an argmax tie: the first class wins
    label = np.array(classes, dtype=object)[rng.integers(0, 3, n)]
    prediction = np.array(classes, dtype=object)[probs.argmax(axis=1)]
    prediction[:10] = "dog"
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            **_features(rng, n),
            "label": label,
            "prediction": prediction,
        }
    )
    for j, c in enumerate(classes):
        frame[f"prob_{c}"] = probs[:, j]
    return frame


def plain_frame(seed: int = 2, n: int = N_ROWS) -> pd.DataFrame:
    """Multiclass integer labels without probabilities."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 4, n)
    prediction = np.where(rng.random(n) < 0.7, label, rng.integers(0, 4, n))
    return pd.DataFrame({**_features(rng, n), "label": label, "prediction": prediction})


def regression_frame(seed: int = 3, n: int = N_ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = _features(rng, n)
    label = rng.normal(100, 20, n)
    prediction = label + rng.normal(0, 5, n) + np.nan_to_num(features[AGE]) * 0.1
    return pd.DataFrame({"id": np.arange(n), **features, "y_true": label, "y_pred": prediction})


FRAMES = {
    "binary": binary_frame,
    "multiclass": multiclass_frame,
    "plain": plain_frame,
    "regression": regression_frame,
}


@pytest.fixture(scope="session")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each kind of table as one Parquet file."""
    root = tmp_path_factory.mktemp("engine-tables")
    out = {}
    for name, build in FRAMES.items():
        path = root / f"{name}.parquet"
        build().to_parquet(path, index=False)
        out[name] = path
    return out


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session for every Spark test (starting one takes seconds)."""
    from mlqa_debug.engines.spark_engine import spark_session as start

    session = start("local[2]")
    yield session
    session.stop()


@pytest.fixture
def open_on(request: pytest.FixtureRequest) -> Callable[[Path, str], Any]:
    """``open_on(path, engine)``: the table on numpy, duckdb or spark (one shared session)."""

    def open_(path: Path | str, engine: str, roles: Roles | None = None) -> Any:
        if engine == "spark":
            from mlqa_debug.engines.spark_engine import open_spark

            session = request.getfixturevalue("spark_session")
            return open_spark(resolve_source(str(path)), roles or Roles(), session=session)
        if engine == "duckdb":
            return open_duckdb(resolve_source(str(path)), roles or Roles())
        engine_ = open_engine(str(path), "numpy", roles=roles)
        assert isinstance(engine_, NumpyEngine)
        return engine_

    return open_


def slice_rows(engine: AggregateEngine, wheres: list[Any], key: str) -> list[set[Any]]:
    """For each of the engine's expressions, the ``key`` values of the rows where it holds.

    One group-by for all of them (a Spark job costs about a second).
    """
    b = engine.backend
    rows = b.run([b.agg("count", where=w) for w in wheres], group=b.col(key))
    return [{r[0] for r in rows if r[i + 1]} for i in range(len(wheres))]


ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
]
