"""SliceLine on DuckDB and Spark finds the numpy path's top-k: same slices, sizes, sums, scores.

The tables mix every kind of feature the coding distinguishes (strings with missing
values and an injection attempt, nullable booleans, floats with NaN and infinities
that need bins, integers with few values, a string column with more than 30 values
that gets lumped), odd column names and string labels. A brute-force enumeration of
every slice up to two predicates checks the engine's result on a tiny table.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.discovery.service import DiscoveryParams, DiscoveryResult
from mlqa_debug.cli.main import main
from mlqa_debug.engines.discover import discover_on
from mlqa_debug.slicing.encoding import encode_features
from tests.engines.conftest import AGE, CITY, COLOR, ENGINES, FLAG, INJECTION, WHEN, OpenEngine

MANY = "many `values`"
LEVEL = "level; --"


def discovery_frame(seed: int = 0, n: int = 2000) -> pd.DataFrame:
    """A binary task with string labels whose errors concentrate in a few slices."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(40, 12, n), 1)
    age[rng.random(n) < 0.1] = np.nan
    age[:2] = [np.inf, -np.inf]
    colour = rng.choice(np.array(["red", "green", "blue", INJECTION], dtype=object), n)
    colour[rng.random(n) < 0.1] = None
    city = rng.choice(np.array(["Zürich", "東京", 'say "hi"', "a`b"], dtype=object), n)
    flag = pd.array(rng.random(n) < 0.4, dtype="boolean")
    flag[rng.random(n) < 0.1] = pd.NA
    many = rng.choice(np.array([f"m{i:02d}" for i in range(40)], dtype=object), n)
    level = rng.integers(0, 4, n)
    count = rng.integers(0, 500, n)
    label = rng.choice(np.array(["yes", "no"], dtype=object), n)
    p_wrong = 0.15 + 0.35 * (colour == "red") + 0.2 * ((level == 2) & (np.nan_to_num(age) > 45))
    wrong = rng.random(n) < p_wrong
    prediction = np.where(wrong, np.where(label == "yes", "no", "yes"), label)
    score = np.clip(np.where(prediction == "yes", 0.75, 0.25) + rng.normal(0, 0.2, n), 0, 1)
    return pd.DataFrame(
        {
            COLOR: colour,
            CITY: city,
            AGE: age,
            FLAG: flag,
            MANY: many,
            LEVEL: level,
            "count": count,
            "label": label,
            "prediction": prediction,
            "score": np.round(score, 3),
        }
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("discover") / "preds.parquet"
    discovery_frame().to_parquet(path, index=False)
    return path


def rows(result: DiscoveryResult) -> list[tuple[str, int, float, float, int]]:
    return [(d.slice.text, d.size, d.error_sum, d.score, d.level) for d in result.slices]


def assert_same(found: DiscoveryResult, expected: DiscoveryResult, *, exact: bool = True) -> None:
    assert found.features == expected.features
    assert found.n_rows == expected.n_rows
    assert found.mean_error == pytest.approx(expected.mean_error, rel=1e-12)
    if exact:
        assert rows(found) == rows(expected)
        return
    assert [r[0::4] + r[1:2] for r in rows(found)] == [r[0::4] + r[1:2] for r in rows(expected)]
    got = np.array([r[2:4] for r in rows(found)])
    assert np.allclose(got, np.array([r[2:4] for r in rows(expected)]), rtol=1e-9, atol=0)


PARAMS = [
    pytest.param(DiscoveryParams(max_level=1, k=8, alpha=0.99), id="level1"),
    pytest.param(DiscoveryParams(max_level=2, k=10, min_support=0.02), id="level2"),
    pytest.param(DiscoveryParams(max_level=3, k=5, min_support=20.0, n_bins=4), id="level3"),
    pytest.param(DiscoveryParams(within=f"`{CITY}` != 'Zürich'", k=6), id="within"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("params", PARAMS)
def test_top_k_is_the_numpy_top_k(
    table: Path, open_on: OpenEngine, engine: str, params: DiscoveryParams
) -> None:
    expected = discover_on(open_on(table, "numpy"), params)
    found = discover_on(open_on(table, engine), params)
    assert len(expected.slices) >= min(params.k, 5)
    assert_same(found, expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_log_loss_matches_to_rounding(table: Path, open_on: OpenEngine, engine: str) -> None:
    params = DiscoveryParams(measure="log_loss", k=6)
    expected = discover_on(open_on(table, "numpy"), params)
    assert expected.slices
    assert_same(discover_on(open_on(table, engine), params), expected, exact=False)


def test_regression_errors_match(tmp_path: Path, open_on: OpenEngine) -> None:
    frame = discovery_frame(seed=3).drop(columns=["label", "prediction", "score"])
    rng = np.random.default_rng(3)
    frame["y_true"] = rng.normal(100, 20, len(frame))
    bias = 15.0 * (frame[COLOR] == "blue").to_numpy()
    frame["y_pred"] = frame["y_true"] + rng.normal(0, 5, len(frame)) + bias
    path = tmp_path / "regression.parquet"
    frame.to_parquet(path, index=False)
    for measure in ("error", "abs_error"):
        params = DiscoveryParams(measure=measure, k=6)
        expected = discover_on(open_on(path, "numpy"), params)
        assert expected.slices
        found = discover_on(open_on(path, "duckdb"), params)
        assert_same(found, expected, exact=measure == "error")


def test_lumping_ties_and_no_errors(tmp_path: Path, open_on: OpenEngine) -> None:
    """Ties in the lumped values' counts keep the smaller values; no error means no slice."""
    frame = discovery_frame(seed=5, n=620)
    frame[MANY] = [f"m{i % 31:02d}" for i in range(len(frame))]  # 31 values, counts tied
    lumped = frame[MANY].isin(["m29", "m30"])  # the two largest: lumped together
    frame.loc[lumped, "prediction"] = np.where(frame.loc[lumped, "label"] == "yes", "no", "yes")
    path = tmp_path / "ties.parquet"
    frame.to_parquet(path, index=False)
    params = DiscoveryParams(features=(MANY, LEVEL), k=40, min_support=1.0)
    expected = discover_on(open_on(path, "numpy"), params)
    assert any("not in" in d.slice.text for d in expected.slices)
    assert_same(discover_on(open_on(path, "duckdb"), params), expected)
    frame["prediction"] = frame["label"]
    frame.to_parquet(path, index=False)
    none = discover_on(open_on(path, "duckdb"), params)
    assert none.slices == () and none.mean_error == 0.0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("tz", [None, "Europe/Paris"], ids=["naive", "zoned"])
def test_timestamps_are_binned_as_numpy_bins_them(
    tmp_path: Path, open_on: OpenEngine, engine: str, tz: str | None
) -> None:
    frame = discovery_frame(n=600)
    when = pd.Timestamp("2024-01-01", tz=tz) + pd.to_timedelta(np.arange(600) * 7, unit="h")
    frame[WHEN] = pd.Series(when).where(np.arange(600) % 11 != 0)
    late = frame[WHEN] > pd.Timestamp("2024-03-01", tz=tz)
    frame.loc[late, "prediction"] = np.where(frame.loc[late, "label"] == "yes", "no", "yes")
    path = tmp_path / "dates.parquet"
    frame.to_parquet(path, index=False)
    params = DiscoveryParams(features=(WHEN, LEVEL), k=8)
    expected = discover_on(open_on(path, "numpy"), params)
    assert any(WHEN in d.slice.text and ">=" in d.slice.text for d in expected.slices)
    assert_same(discover_on(open_on(path, engine), params), expected)


def test_date_features_are_left_out_with_a_warning(tmp_path: Path, open_on: OpenEngine) -> None:
    frame = discovery_frame(n=300)
    frame[WHEN] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(300), unit="D")).date
    path = tmp_path / "dates.parquet"
    frame.to_parquet(path, index=False)
    with pytest.warns(UserWarning, match="date features need --engine numpy"):
        result = discover_on(open_on(path, "duckdb"), DiscoveryParams())
    assert result.skipped == (WHEN,)
    assert WHEN not in result.features


def brute_force(frame: pd.DataFrame, params: DiscoveryParams) -> list[tuple[str, int, float]]:
    """Every slice of one or two predicates, scored; the top k with ties, best first."""
    features = [c for c in frame.columns if c not in ("label", "prediction", "score")]
    encoding = encode_features(frame, features, n_bins=params.n_bins)
    errors = (frame["label"] != frame["prediction"]).to_numpy(dtype=np.float64)
    n, mean = len(errors), errors.mean()
    support = int(params.min_support * n)
    singles = [(f, c) for f, feat in enumerate(encoding.features) for c in range(feat.cardinality)]
    scored = []
    for items in [*([s] for s in singles), *itertools.combinations(singles, 2)]:
        if len({f for f, _ in items}) < len(items):
            continue
        mask = encoding.code_mask(items)
        size = int(mask.sum())
        if size < max(support, 1):
            continue
        rate = errors[mask].sum() / size
        score = params.alpha * (rate / mean - 1) - (1 - params.alpha) * (n / size - 1)
        if score > 0:
            scored.append((score, encoding.to_slice(items).text, size))
    scored.sort(key=lambda t: -t[0])
    kth = scored[min(params.k, len(scored)) - 1][0]
    return sorted((text, size, round(score, 9)) for score, text, size in scored if score >= kth)


@pytest.mark.parametrize("engine", ENGINES)
def test_level_two_against_brute_force(tmp_path: Path, open_on: OpenEngine, engine: str) -> None:
    frame = discovery_frame(seed=7, n=240).drop(columns=[MANY, "count"])
    path = tmp_path / "tiny.parquet"
    frame.to_parquet(path, index=False)
    params = DiscoveryParams(max_level=2, k=12, min_support=0.05)
    found = discover_on(open_on(path, engine), params)
    got = sorted((d.slice.text, d.size, round(d.score, 9)) for d in found.slices)
    assert got == brute_force(frame, params)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_cli_discover_on_duckdb_prints_what_numpy_prints(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--max-level", "2", "--k", "7"]
    numpy_text = run_cli(capsys, "discover", str(table), *options)
    duck_text = run_cli(capsys, "discover", str(table), *options, "--engine", "duckdb")
    assert duck_text == numpy_text and "rows searched" in duck_text
    as_json: dict[str, Any] = {}
    for engine in ("numpy", "duckdb"):
        out = run_cli(capsys, "discover", str(table), *options, "--engine", engine, "--json")
        as_json[engine] = json.loads(out)
    assert as_json["duckdb"].pop("engine") == "duckdb"
    assert as_json["numpy"].pop("engine") == "numpy"
    assert as_json["duckdb"] == as_json["numpy"]
    assert len(as_json["duckdb"]["slices"]) == 7


def test_combinations_counted_alone_match(
    table: Path, open_on: OpenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no room for blocks, every combination gets its own box-restricted group-by."""
    from mlqa_debug.engines import discover

    params = DiscoveryParams(max_level=3, k=6, min_support=20.0)
    expected = discover_on(open_on(table, "numpy"), params)
    monkeypatch.setitem(discover.BLOCK_CELLS, "duckdb", 1)
    assert_same(discover_on(open_on(table, "duckdb"), params), expected)


def test_blocks_cover_every_combination() -> None:
    from mlqa_debug.engines.discover import cover

    cards = [10] * 10 + [5, 5, 400]
    combos = list(itertools.combinations(range(13), 2))
    blocks, block_of = cover(combos, cards, 1 << 18)
    for combo, b in zip(combos, block_of, strict=True):
        if math.prod(cards[f] for f in combo) > 1 << 18:
            assert b == -1
        else:
            assert set(combo) <= set(blocks[b])
    assert all(math.prod(cards[f] for f in block) <= 1 << 18 for block in blocks)
    assert len(blocks) < len(combos) / 4
