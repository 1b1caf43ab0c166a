"""``compare`` on an engine: the same pairing, headline and flips as the numpy path.

Each kind of table (binary with a score, multiclass with string labels and
probabilities, multiclass without probabilities, regression) is compared with a
changed copy of itself: other predictions, ids that do not all match (some only in
one table, the candidate's ids written as text), a few labels changed. The numpy
path's :func:`~mlqa_debug.analyses.compare.compare` is the reference: counts equal,
numbers to 1e-12.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.compare import compare
from mlqa_debug.cli import main
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.engines import AggregateEngine
from mlqa_debug.engines.compare import EngineComparison, compare_on, open_pair
from mlqa_debug.errors import CompareError, SliceError
from mlqa_debug.slicing import parse_slice
from tests.engines.conftest import AGE, COLOR, ENGINES, FRAMES

SLICES = {
    "binary": "`âge (years)` >= 35",
    "multiclass": "`colour ``tone``` != 'red'",
    "plain": "`it's flagged` == false",
    "regression": "`city \"name\"; DROP TABLE t; --` != 'Zürich'",
}
UNSHARED = ("candidate", "baseline", "tests", "examples", "engine", "notes")


def _changed(frame: pd.DataFrame, kind: str, seed: int) -> pd.DataFrame:
    """Another model's predictions on the same rows, a few labels changed."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    if kind == "regression":
        out["y_pred"] = out["y_true"] + rng.normal(0, 6, len(out))
        out.loc[rng.random(len(out)) < 0.02, "y_true"] += 1.0
        return out
    other = rng.permutation(out["prediction"].to_numpy())
    picked = rng.random(len(out)) < 0.25
    out.loc[picked, "prediction"] = other[picked]
    labels = out["label"].to_numpy().copy()
    changed = rng.random(len(out)) < 0.02
    labels[changed] = rng.permutation(labels)[changed]
    out["label"] = labels
    return out


def _pair_tables(root: Path, kind: str) -> tuple[Path, Path]:
    base = FRAMES[kind]()
    if "id" not in base:
        base.insert(0, "id", np.arange(len(base)))
    cand = _changed(base, kind, seed=7).iloc[5:]  # 5 ids only in the baseline
    base = base.iloc[:-7]  # 7 only in the candidate
    if kind == "binary":  # text ids against integer ids: 7 and '7' are one id
        cand = cand.assign(id=cand["id"].astype(str))
    paths = root / f"{kind}-candidate.parquet", root / f"{kind}-baseline.parquet"
    cand.to_parquet(paths[0], index=False)
    base.to_parquet(paths[1], index=False)
    return paths


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("compare-tables")
    return {kind: _pair_tables(root, kind) for kind in FRAMES}


def _on(engine: str, paths: tuple[Path, Path], request: pytest.FixtureRequest) -> Any:
    if engine == "spark":
        from mlqa_debug.data.schema import Roles
        from mlqa_debug.engines.source import resolve_source
        from mlqa_debug.engines.spark_engine import open_spark

        session = request.getfixturevalue("spark_session")
        return tuple(open_spark(resolve_source(str(p)), Roles(), session=session) for p in paths)
    return open_pair(str(paths[0]), str(paths[1]), "duckdb")


def _duck(paths: tuple[Path, Path]) -> tuple[AggregateEngine, AggregateEngine]:
    return open_pair(str(paths[0]), str(paths[1]), "duckdb")


def _close(got: Any, expected: Any, where: str = "") -> None:
    """Equal, floats to a relative 1e-12 (None stands for nan)."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for k in expected:
            _close(got[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _close(g, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), where
    else:
        assert got == expected, where


def _numpy(paths: tuple[Path, Path], where: str = "") -> dict[str, Any]:
    c, b = (load_predictions(p) for p in paths)
    return compare(c, b, where=parse_slice(where), discover=False).to_dict()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", list(FRAMES))
def test_compare_matches_numpy(
    engine: str, kind: str, pairs: dict[str, tuple[Path, Path]], request: pytest.FixtureRequest
) -> None:
    paths = pairs[kind]  # the plain table gets an id column: an engine pairs by id
    candidate, baseline = _on(engine, paths, request)
    for where in ("", SLICES[kind])[engine == "spark" :]:  # a Spark job costs seconds
        expected = _numpy(paths, where)
        got = compare_on(candidate, baseline, where=parse_slice(where)).to_dict()
        assert got["engine"] == engine
        assert got["label_mismatches"] > 0 and got["only_in_baseline"] == 5
        assert got["only_in_candidate"] == 7
        _close({k: got[k] for k in got if k not in UNSHARED and k in expected},
               {k: expected[k] for k in got if k not in UNSHARED and k in expected})  # fmt: skip
        for problem, ids in got["examples"].items():  # the smallest ids of each problem
            want = sorted(expected["examples"][problem], key=_id_order)
            assert sorted(ids, key=_id_order) == want[: len(ids)], problem
        assert any("--engine numpy" in note for note in got["notes"])


def _id_order(v: Any) -> tuple[int, str]:
    return (int(v), "") if isinstance(v, int) else (0, str(v))


def test_tables_without_ids_are_refused(tmp_path: Path) -> None:
    """numpy pairs them by row order; an engine's table has no row order."""
    path = tmp_path / "plain.parquet"
    FRAMES["plain"]().to_parquet(path, index=False)
    assert compare(load_predictions(path), load_predictions(path), discover=False).paired.n
    with pytest.raises(CompareError, match="neither table has an id column"):
        compare_on(*open_pair(str(path), str(path), "duckdb"))


def test_regression_wilcoxon_is_sampled_beyond_the_bound(
    pairs: dict[str, tuple[Path, Path]],
) -> None:
    candidate, baseline = _duck(pairs["regression"])
    full = compare_on(candidate, baseline)
    sampled = compare_on(candidate, baseline, sample_rows=100)
    again = compare_on(candidate, baseline, sample_rows=100)
    mae, mae_sampled = full.headline.get("mae"), sampled.headline.get("mae")
    assert mae is not None and mae_sampled is not None
    assert "sampled" in mae_sampled.test and "sampled" not in mae.test
    assert any(f"seeded sample of 100 of the {full.paired.n}" in n for n in sampled.notes)
    assert mae_sampled.p_value == again.headline.primary.p_value  # seeded: repeatable
    assert mae_sampled.p_value != mae.p_value and 0 <= mae_sampled.p_value <= 1
    assert (mae_sampled.difference, mae_sampled.ci_low) == (mae.difference, mae.ci_low)


def test_repeated_ids_are_refused(tmp_path: Path) -> None:
    frame = FRAMES["binary"]()
    paths = tmp_path / "c.parquet", tmp_path / "b.parquet"
    frame.assign(id=frame["id"].where(frame["id"] != 11, 10)).to_parquet(paths[0], index=False)
    frame.to_parquet(paths[1], index=False)
    with pytest.raises(
        CompareError, match=r"1 id is repeated in candidate 'c.parquet' \(e.g. 10\)"
    ):
        compare_on(*open_pair(str(paths[0]), str(paths[1]), "duckdb"))


def test_incompatible_tables_are_refused_as_numpy_does(
    tmp_path: Path, pairs: dict[str, tuple[Path, Path]]
) -> None:
    multiclass = pairs["multiclass"][1]
    other = FRAMES["multiclass"]()
    other["label"] = other["label"].replace({"émeu": "ewe"})
    other["prediction"] = other["prediction"].replace({"émeu": "ewe"})
    other = other.rename(columns={"prob_émeu": "prob_ewe"})
    path = tmp_path / "other.parquet"
    other.to_parquet(path, index=False)
    with pytest.raises(CompareError) as numpy_error:
        compare(load_predictions(path), load_predictions(multiclass))
    with pytest.raises(CompareError) as engine_error:
        compare_on(*open_pair(str(path), str(multiclass), "duckdb"))
    assert str(engine_error.value) == str(numpy_error.value)
    with pytest.raises(CompareError, match=r"is binary, baseline .* is multiclass"):
        compare_on(*open_pair(str(pairs["binary"][0]), str(multiclass), "duckdb"))


def test_a_slice_without_pairs_is_refused(pairs: dict[str, tuple[Path, Path]]) -> None:
    candidate, baseline = _duck(pairs["binary"])
    with pytest.raises(SliceError, match="selects none of the"):
        compare_on(candidate, baseline, where=parse_slice(f"`{AGE}` > 1000"))
    with pytest.raises(SliceError):
        compare_on(candidate, baseline, where=parse_slice(f"`{COLOR.replace('`', '``')}` > 3"))


def test_directories_and_globs(tmp_path: Path, pairs: dict[str, tuple[Path, Path]]) -> None:
    """Each side may be a directory of Parquet files (or a glob): the same numbers."""
    c_path, b_path = pairs["multiclass"]
    frame = pd.read_parquet(c_path)
    folder = tmp_path / "candidate"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    got = compare_on(*open_pair(str(folder), str(b_path), "duckdb"))
    single = compare_on(*open_pair(str(c_path), str(b_path), "duckdb"))
    globbed = compare_on(*open_pair(str(folder / "*.parquet"), str(b_path), "duckdb"))
    for result in (got, globbed):  # sums in another order: equal to rounding
        assert result.flips == single.flips
        _close(result.to_dict(), single.to_dict() | {"candidate": result.to_dict()["candidate"]})


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def test_cli_duckdb_prints_what_numpy_prints(
    pairs: dict[str, tuple[Path, Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    candidate, baseline = map(str, pairs["regression"])  # integer ids: smallest = first
    where = ["--where", SLICES["regression"]]
    code_n, numpy_text = _cli(["compare", baseline, candidate, *where], capsys)
    code_d, duck_text = _cli(["compare", baseline, candidate, *where, "--engine", "duckdb"], capsys)
    assert code_n == code_d == 0
    numpy_lines, duck_lines = numpy_text.splitlines(), duck_text.splitlines()
    strip = [line.split(" (")[0] for line in (numpy_lines[0], duck_lines[0])]
    assert strip[0] == strip[1]  # the verdict line, fingerprints aside (content vs metadata)
    end = numpy_lines.index("", 5) + 3  # the headline table, flips, blank line
    assert duck_lines[1:end] == numpy_lines[1:end]
    assert duck_lines[end].startswith(numpy_lines[end].split(" paired rows")[0])
    assert "engine: duckdb" in duck_lines and any("--engine numpy" in x for x in duck_lines)
    _, numpy_json = _cli(["compare", baseline, candidate, *where, "--json"], capsys)
    _, duck_json = _cli(
        ["compare", baseline, candidate, *where, "--json", "--engine", "duckdb"], capsys
    )
    e, g = json.loads(numpy_json), json.loads(duck_json)
    assert g["engine"] == "duckdb"
    _close({k: g[k] for k in g if k not in UNSHARED}, {k: e[k] for k in g if k not in UNSHARED})


def test_cli_engine_refuses_what_needs_the_rows(
    pairs: dict[str, tuple[Path, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    candidate, baseline = map(str, pairs["binary"])
    code = main(["compare", baseline, candidate, "--engine", "duckdb", "--markdown"])
    assert code == 2 and "--markdown" in capsys.readouterr().err


def test_engine_comparison_json_is_valid(pairs: dict[str, tuple[Path, Path]]) -> None:
    result = compare_on(*_duck(pairs["regression"]))
    assert isinstance(result, EngineComparison)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert math.isfinite(json.loads(text)["overall"]["mae"]["difference"])


def test_cli_auto_takes_numpy_for_tables_that_fit(
    pairs: dict[str, tuple[Path, Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    candidate, baseline = map(str, pairs["multiclass"])
    _, numpy_text = _cli(["compare", baseline, candidate], capsys)
    _, auto_text = _cli(["compare", baseline, candidate, "--engine", "auto"], capsys)
    assert auto_text == numpy_text and "engine: " not in auto_text
