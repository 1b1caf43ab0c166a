"""Wide tables (thousands of feature columns): typed without a Python call per column,
and searched by Discover on a documented subset of features by default.

benchmarks/bench_wide.py times 1,000 / 10,000 / 50,000 columns; these tests pin the
behaviour that keeps those times down, without timing anything but the slow one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import load_predictions
from mlqa_debug.analyses.discovery.service import (
    MAX_DEFAULT_FEATURES,
    default_features,
    usable_features,
)
from mlqa_debug.data.schema import feature_types
from mlqa_debug.data.workspace import Workspace


def wide_frame(columns: int, rows: int = 5, seed: int = 0) -> pd.DataFrame:
    """``columns`` features (9 in 10 numeric, 1 in 10 strings) and binary targets."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, columns)).round(3)
    data: dict[str, Any] = {}
    for j in range(columns):
        data[f"f{j}"] = np.array(["a", "b"], dtype=object)[j % 2] if j % 10 == 9 else values[:, j]
    frame = pd.DataFrame(data)
    frame["label"] = np.arange(rows) % 2
    frame["prediction"] = (values[:, 0] > 0).astype(np.int64)
    return frame


def test_typing_a_wide_table_makes_no_pandas_call_per_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = wide_frame(2_000)
    read: list[Any] = []
    original = pd.DataFrame.__getitem__

    def counting(self: pd.DataFrame, key: Any) -> Any:
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(pd.DataFrame, "__getitem__", counting)
    kinds = feature_types(frame, [f"f{j}" for j in range(2_000)], {"f0": "categorical"})
    assert kinds["f0"] == "categorical" and kinds["f1"] == "numeric"
    assert kinds["f9"] == "categorical"
    assert len(read) == 1  # the 200 string columns at once; before: one call per column


def test_discover_searches_the_first_features_of_a_wide_table(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    wide_frame(250).to_csv(path, index=False)
    p = load_predictions(path)
    usable = usable_features(p)
    assert len(usable) == 250
    assert default_features(p) == usable[:MAX_DEFAULT_FEATURES] and MAX_DEFAULT_FEATURES == 100
    narrow = tmp_path / "narrow.csv"
    wide_frame(40).to_csv(narrow, index=False)
    assert len(default_features(load_predictions(narrow))) == 40  # all, as before


def test_the_discover_page_says_which_features_it_searches(
    workspace: Workspace,
    tmp_path: Path,
    page_runner: Callable[[str], Callable[..., AppTest]],
) -> None:
    path = tmp_path / "wide.csv"
    wide_frame(150, rows=40).to_csv(path, index=False)
    workspace.add(path, name="wide")
    at = page_runner("discover")(ds="wide")
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "This table has 150 features" in captions and "the first 100" in captions
    assert "over 100 features" in captions
    chosen = at.multiselect(key="d_features")
    assert len(chosen.options) == 150 and len(chosen.value) == 100


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ten_thousand_columns_validate_in_seconds(tmp_path: Path, suffix: str) -> None:
    frame = wide_frame(10_000)
    path = tmp_path / f"wide{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    start = time.perf_counter()
    p = load_predictions(path)
    seconds = time.perf_counter() - start
    assert len(p.schema.features) == 10_000
    assert seconds < 10, f"{seconds:.1f} s to validate 10,000 columns"


def test_a_wide_csv_reads_like_its_parquet(tmp_path: Path) -> None:
    """Past 2,000 columns the CSV is read by pandas' C reader: the same table results."""
    frame = wide_frame(2_500)
    frame.to_csv(tmp_path / "wide.csv", index=False)
    frame.to_parquet(tmp_path / "wide.parquet", index=False)
    from_csv, from_parquet = (load_predictions(tmp_path / n) for n in ("wide.csv", "wide.parquet"))
    assert from_csv.schema == from_parquet.schema
    np.testing.assert_array_equal(from_csv.error, from_parquet.error)
