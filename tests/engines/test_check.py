"""``check`` on an engine: the same report as the numpy path, for every case kind.

Stores of slice cases (several metrics, one failing, one empty, one that does not
fit), relative cases (with and without a baseline table), example sets (ids found,
missing, of another type, injection attempts) and quality cases (every check that
is counted from aggregates, and sampled ones) are checked on numpy, DuckDB and
Spark, by the library and through the command line; JUnit output is compared too.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.cases import CaseStore, build_case, build_quality_case
from mlqa_debug.cases.check import CheckReport, check_cases
from mlqa_debug.cases.export import junit_xml
from mlqa_debug.cases.relative import build_relative_case
from mlqa_debug.cli import main
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.engines import check_cases_on
from mlqa_debug.slicing import parse_slice
from tests.engines.conftest import AGE, CITY, COLOR, ENGINES, INJECTION, binary_frame

CASES = [
    ("red errors", "`colour ``tone``` == 'red'", "error_rate", None),
    ("old recall", "`âge (years)` >= 45", "recall[1]", None),
    ("flagged f1", "`it's flagged` == true", "macro_f1", 0.99),  # fails
    ("confident", "confidence > 0.7", "log_loss", None),
    ("brier all", "", "brier", None),
    ("ece", "`colour ``tone``` is missing", "ece", None),
    ("precision", "`city \"name\"; DROP TABLE t; --` != 'Zürich'", "precision[0]", None),
]


def _example_case(predictions: Any, store: CaseStore, name: str, ids: tuple[Any, ...]) -> None:
    """An example-set case whose ids are ``ids`` (some need not be in the table)."""
    built = build_case(predictions, name=name, ids=predictions.frame["id"].tolist()[:3])
    assert built.case.examples is not None
    examples = dataclasses.replace(built.case.examples, ids=ids)
    store.save(dataclasses.replace(built.case, examples=examples), rows=built.rows)


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "baseline.parquet"
    binary_frame(seed=7).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(
    tables: dict[str, Path], baseline_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> CaseStore:
    predictions = load_predictions(tables["binary"])
    store = CaseStore(tmp_path_factory.mktemp("cases"))
    for name, where, metric, threshold in CASES:
        new = build_case(
            predictions, name=name, where=parse_slice(where), metric=metric, threshold=threshold
        )
        store.save(new.case)
    empty = build_case(predictions, name="empty now", where=parse_slice("score > 0.99"))
    store.save(dataclasses.replace(empty.case, where="score > 2"))
    misfit = build_case(predictions, name="misfit", where=parse_slice("score > 0.5"))
    store.save(dataclasses.replace(misfit.case, where="`âge (years)` == 'old'"))
    examples = build_case(predictions, name="examples", ids=[1, 2, 3])
    store.save(examples.case, rows=examples.rows)
    _example_case(predictions, store, "some ids gone", (0, "5", 7, 299, 4000, "7.5", INJECTION))
    _example_case(predictions, store, "all ids gone", ("x", INJECTION, "1; DROP TABLE t", -1))
    baseline = load_predictions(baseline_file)
    for name, where, metric in (
        ("relative red", "`colour ``tone``` == 'red'", "error_rate"),
        ("relative recall", "`âge (years)` < 40", "recall[1]"),
        ("relative all", "", "brier"),
    ):
        case = build_relative_case(
            predictions, baseline, where=parse_slice(where), metric=metric, margin=0.01, name=name
        )
        store.save(case)
    return store


def _same(got: CheckReport, expected: CheckReport) -> None:
    """Identical results: names, statuses, rows, baselines, messages; values to 1e-12."""
    assert len(got.results) == len(expected.results)
    for g, e in zip(got.results, expected.results, strict=True):
        assert (g.case.name, g.status, g.rows, g.flagged, g.reason) == (
            e.case.name,
            e.status,
            e.rows,
            e.flagged,
            e.reason,
        )
        assert g.value == (None if e.value is None else pytest.approx(e.value, rel=1e-12))
        assert g.baseline_value == (
            None if e.baseline_value is None else pytest.approx(e.baseline_value, rel=1e-12)
        )
        assert (g.baseline_from, g.baseline_rows) == (e.baseline_from, e.baseline_rows)
        assert g.message == e.message
    assert got.predictions["rows"] == expected.predictions["rows"]


def _junit(report: CheckReport) -> str:
    """The JUnit text without what differs by run: times, timestamp, the file fingerprints."""
    results = tuple(dataclasses.replace(r, seconds=0.0) for r in report.results)
    plain = dataclasses.replace(report, results=results, predictions={}, baseline=None)
    return re.sub(r'timestamp="[^"]*"', "", junit_xml(plain).decode())


@pytest.mark.parametrize("engine_name", ENGINES)
def test_check_on_an_engine_matches_numpy(
    engine_name: str, tables: dict[str, Path], store: CaseStore, open_on: Any
) -> None:
    listing = store.load()
    expected = check_cases(load_predictions(tables["binary"]), listing)
    got = check_cases_on(open_on(tables["binary"], engine_name), listing)
    statuses = {r.case.name: r.status for r in got.results}
    assert statuses["flagged f1"] == "fail"
    assert statuses["empty now"] == "empty"
    assert statuses["misfit"] == "not_applicable"
    assert statuses["examples"] == "pass"
    assert statuses["all ids gone"] == "not_applicable"
    some = next(r for r in got.results if r.case.name == "some ids gone")
    assert some.rows == 4 and "3 of 7 ids not in the data" in some.reason
    _same(got, expected)
    assert _junit(got) == _junit(expected)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_relative_cases_against_a_baseline_table(
    engine_name: str, tables: dict[str, Path], baseline_file: Path, store: CaseStore, open_on: Any
) -> None:
    listing = store.load()
    expected = check_cases(
        load_predictions(tables["binary"]), listing, baseline=load_predictions(baseline_file)
    )
    got = check_cases_on(
        open_on(tables["binary"], engine_name),
        listing,
        baseline=open_on(baseline_file, engine_name),
    )
    relative = [r for r in got.results if r.case.relative]
    assert len(relative) == 3 and all(r.baseline_from == "table" for r in relative)
    _same(got, expected)
    assert got.baseline is not None and got.baseline["rows"] == expected.baseline["rows"]
    assert _junit(got) == _junit(expected)


def test_a_baseline_of_another_task_is_refused(
    tables: dict[str, Path], store: CaseStore, open_on: Any
) -> None:
    from mlqa_debug.errors import CaseError

    with pytest.raises(CaseError, match=r"is regression and the predictions 'binary\.parquet'"):
        check_cases_on(
            open_on(tables["binary"], "duckdb"),
            store.load(),
            baseline=open_on(tables["regression"], "duckdb"),
        )


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_example_sets_on_text_ids_and_regression(
    engine_name: str,
    kind: str,
    tables: dict[str, Path],
    tmp_path: Path,
    open_on: Any,
) -> None:
    predictions = load_predictions(tables[kind])
    store = CaseStore(tmp_path / "cases")
    first = predictions.frame["id"].tolist()[:40]
    wrong = [v for v, e in zip(predictions.frame["id"], predictions.error, strict=True) if e]
    _example_case(predictions, store, "firsts", tuple(first))
    _example_case(predictions, store, "wrong ones", (*wrong[:5], "nope", INJECTION))
    _example_case(predictions, store, "quoted", ("r1'; DROP TABLE t; --", 'r2"', "`r3`"))
    listing = store.load()
    got = check_cases_on(open_on(tables[kind], engine_name), listing)
    _same(got, check_cases(predictions, listing))
    by_name = {r.case.name: r for r in got.results}
    assert by_name["wrong ones"].value == 5 and by_name["wrong ones"].rows == 5
    assert by_name["quoted"].status == "not_applicable"


def test_example_ids_repeated_in_the_table_are_refused(tmp_path: Path, open_on: Any) -> None:
    frame = binary_frame(n=60)
    path = tmp_path / "repeated.parquet"
    frame.to_parquet(path, index=False)
    store = CaseStore(tmp_path / "cases")
    _example_case(load_predictions(path), store, "ids", (1, 2, 3))
    repeated = frame.assign(id=frame["id"].where(frame["id"] != 2, 1))
    repeated.to_parquet(path, index=False)
    (result,) = check_cases_on(open_on(path, "duckdb"), store.load()).results
    assert result.status == "not_applicable" and "'1'" in result.reason
    assert "several rows" in result.reason


# --------------------------------------------------------------------------- quality cases

CODE = "code 'x'; --"
CUSTOMER = "customer_id"
NEAR = 'near "constant"'
CONSTANT = "const `c`"


def quality_frame(seed: int = 4, n: int = 300) -> pd.DataFrame:
    """A table every counted quality check finds something in, with odd names and gaps."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(40, 10, n), 1)
    age[rng.random(n) < 0.1] = np.nan
    age[:3] = [250.0, -90.0, 300.0]  # outliers
    age[30], age[31] = 0.0, -0.0  # equal as values
    colour = rng.choice(np.array(["red", "green", INJECTION], dtype=object), n)
    colour[rng.random(n) < 0.1] = None
    near = np.array(["a"] * n, dtype=object)
    near[[5, 6]] = "b"
    constant = np.where(rng.random(n) < 0.1, np.nan, 1.0)
    code = np.array([f"c{i % 150}" for i in range(n)], dtype=object)
    customer = np.arange(n) + 1000
    customer[[40, 41, 42]] = 7
    label = np.where(rng.random(n) < 0.4, "yes", "no").astype(object)
    prediction = np.where(rng.random(n) < 0.8, label, np.where(label == "yes", "no", "yes"))
    frame = pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(n)],
            AGE: age,
            COLOR: colour,
            NEAR: near,
            CONSTANT: constant,
            CODE: code,
            CUSTOMER: customer,
            "label": label,
            "prediction": prediction,
        }
    )
    features = [AGE, COLOR, NEAR, CONSTANT, CODE, CUSTOMER]
    frame.loc[10:19, [*features, "label"]] = frame.loc[50:59, [*features, "label"]].to_numpy()
    frame.loc[20:24, features] = frame.loc[60:64, features].to_numpy()  # conflicting labels
    frame.loc[20:24, "label"] = np.where(frame.loc[60:64, "label"] == "yes", "no", "yes")
    frame.loc[31, [c for c in features if c != AGE]] = frame.loc[
        30, [c for c in features if c != AGE]
    ]
    frame.loc[31, "label"] = frame.loc[30, "label"]
    frame[AGE] = frame[AGE].astype(float)
    frame[CONSTANT] = frame[CONSTANT].astype(float)
    frame[CUSTOMER] = frame[CUSTOMER].astype(np.int64)
    return frame


QUALITY = [
    ("missing_values", AGE),
    ("missing_values", COLOR),
    ("missing_values", CODE),
    ("missing_values", "label"),
    ("constant", CONSTANT),
    ("constant", NEAR),
    ("constant", COLOR),
    ("high_cardinality", CODE),
    ("high_cardinality", CUSTOMER),
    ("identifier_like", CUSTOMER),
    ("identifier_like", CODE),
    ("duplicate_ids", CUSTOMER),
    ("duplicate_ids", "id"),
    ("duplicate_rows", None),
    ("conflicting_labels", None),
    ("outliers", AGE),
    ("class_balance", None),
    ("never_predicted", None),
]


@pytest.fixture(scope="module")
def quality_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quality") / "quality.parquet"
    quality_frame().to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def quality_store(quality_table: Path, tmp_path_factory: pytest.TempPathFactory) -> CaseStore:
    predictions = load_predictions(quality_table)
    store = CaseStore(tmp_path_factory.mktemp("quality-cases"))
    for i, (check, column) in enumerate(QUALITY):
        case = build_quality_case(
            predictions, name=f"{i} {check} {column}", check=check, column=column
        )
        store.save(case)
    gone = build_quality_case(predictions, name="gone", check="missing_values", column=AGE)
    store.save(dataclasses.replace(gone, quality=dataclasses.replace(gone.quality, column=CITY)))
    return store


@pytest.mark.parametrize("engine_name", ENGINES)
def test_quality_cases_match_numpy(
    engine_name: str, quality_table: Path, quality_store: CaseStore, open_on: Any
) -> None:
    listing = quality_store.load()
    expected = check_cases(load_predictions(quality_table), listing)
    got = check_cases_on(open_on(quality_table, engine_name), listing)
    flagged = {r.case.name: r.flagged for r in got.results}
    # every counted check finds its rows (the table is built so), so equality means something
    assert flagged["0 missing_values âge (years)"] > 0
    assert flagged["4 constant const `c`"] > 0 and flagged['5 constant near "constant"'] == 2
    assert flagged["7 high_cardinality code 'x'; --"] == 300
    assert flagged["9 identifier_like customer_id"] > 0
    assert flagged["11 duplicate_ids customer_id"] >= 3
    assert flagged["13 duplicate_rows None"] >= 22  # 10 copied pairs and the 0.0 / -0.0 pair
    assert flagged["14 conflicting_labels None"] >= 10
    assert next(r for r in got.results if r.case.name == "gone").status == "error"
    assert not any("sampled" in r.message for r in got.results)  # the sample is the table
    _same(got, expected)
    assert _junit(got) == _junit(expected)


def test_quality_cases_that_need_the_rows_say_sampled(
    quality_table: Path, quality_store: CaseStore, open_on: Any
) -> None:
    listing = quality_store.load()
    got = check_cases_on(open_on(quality_table, "duckdb"), listing, sample_rows=100, seed=3)
    again = check_cases_on(open_on(quality_table, "duckdb"), listing, sample_rows=100, seed=3)
    exact = check_cases(load_predictions(quality_table), listing)
    for g, a, e in zip(got.results, again.results, exact.results, strict=True):
        assert (g.status, g.value, g.rows) == (a.status, a.value, a.rows)  # seeded
        spec = g.case.quality
        assert spec is not None
        if spec.check in ("outliers", "class_balance", "never_predicted"):
            assert g.rows == 100 and "sampled" in g.message and "of the 300 rows" in g.message
        else:  # counted on every row
            assert (g.status, g.rows, g.flagged) == (e.status, e.rows, e.flagged)
            assert "sampled" not in g.message


# --------------------------------------------------------------------------- the command


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def _results(out: str) -> dict[str, Any]:
    return {r["name"]: r for r in json.loads(out)["results"]}


def test_check_command_on_duckdb_prints_the_numpy_report(
    tables: dict[str, Path],
    baseline_file: Path,
    store: CaseStore,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    base = ["check", str(tables["binary"]), "--cases", str(store.directory), "--json"]
    for extra in ([], ["--baseline", str(baseline_file)]):
        code_numpy, out_numpy = _cli([*base, *extra], capsys)
        code_duck, out_duck = _cli([*base, *extra, "--engine", "duckdb"], capsys)
        assert code_numpy == code_duck == 1  # a failing case
        numpy_results, duck_results = _results(out_numpy), _results(out_duck)
        assert duck_results.keys() == numpy_results.keys()
        for name, r in duck_results.items():
            keys = ("status", "rows", "message", "baseline_from", "baseline_table_rows")
            assert [r[k] for k in keys] == [numpy_results[name][k] for k in keys]
    junit = [tmp_path / "numpy.xml", tmp_path / "duck.xml"]
    assert main([*base[:-1], "--junit", str(junit[0])]) == 1
    assert main([*base[:-1], "--junit", str(junit[1]), "--engine", "duckdb"]) == 1
    texts = [re.sub(r'(timestamp|time|value)="[^"]*"', "", p.read_text()) for p in junit]
    texts = [re.sub(r"predictions\.fingerprint\S*", "", t) for t in texts]
    assert texts[0] == texts[1]
    code, text = _cli([*base[:-1], "--engine", "duckdb"], capsys)
    assert code == 1 and "FAIL" in text and "flagged f1" in text and "N/A" in text


def test_check_command_with_quality_cases_on_duckdb(
    quality_table: Path, quality_store: CaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["check", str(quality_table), "--cases", str(quality_store.directory), "--json"]
    code_numpy, out_numpy = _cli(base, capsys)
    code_duck, out_duck = _cli([*base, "--engine", "duckdb"], capsys)
    assert code_numpy == code_duck == 2  # the case whose column is gone cannot be checked
    numpy_results, duck_results = _results(out_numpy), _results(out_duck)
    for name, r in duck_results.items():
        keys = ("status", "rows", "flagged", "message")
        assert [r[k] for k in keys] == [numpy_results[name][k] for k in keys]


def test_check_engine_refuses_record(
    tables: dict[str, Path], store: CaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["check", str(tables["binary"]), "--cases", str(store.directory), "--engine", "duckdb"]
    assert main([*base, "--record"]) == 2
    assert "--record needs --engine numpy" in capsys.readouterr().err


@pytest.mark.parametrize("engine_name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_slice_command_output_is_identical(
    engine_name: str,
    tables: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    if engine_name == "spark":
        request.getfixturevalue("spark_session")  # reused by spark_session() in the command
    where = "`colour ``tone``` in ('red', 'blue') and `âge (years)` < 50"
    for kind in ("binary", "regression"):
        args = ["slice", str(tables[kind]), "--where", where]
        code, numpy_text = _cli(args, capsys)
        engine_code, engine_text = _cli([*args, "--engine", engine_name], capsys)
        assert code == engine_code == 0
        assert engine_text == numpy_text
        assert "error rate" in engine_text
