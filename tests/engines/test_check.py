"""``check`` on an engine: the same report as the numpy path, from one aggregate pass.

A store of slice cases (several metrics, one failing, one empty, one that does not
fit, one relative, one example set) is checked on numpy, DuckDB and Spark, by the
library and through the command line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mlqa_debug.cases import CaseStore, build_case
from mlqa_debug.cases.check import check_cases
from mlqa_debug.cli import main
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.engines import check_cases_on
from mlqa_debug.slicing import parse_slice
from tests.engines.conftest import ENGINES

CASES = [
    ("red errors", "`colour ``tone``` == 'red'", "error_rate", None),
    ("old recall", "`âge (years)` >= 45", "recall[1]", None),
    ("flagged f1", "`it's flagged` == true", "macro_f1", 0.99),  # fails
    ("confident", "confidence > 0.7", "log_loss", None),
    ("brier all", "", "brier", None),
    ("ece", "`colour ``tone``` is missing", "ece", None),
    ("precision", "`city \"name\"; DROP TABLE t; --` != 'Zürich'", "precision[0]", None),
]


@pytest.fixture(scope="module")
def store(tables: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> CaseStore:
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
    return store


def _comparable(report: Any) -> list[tuple[Any, ...]]:
    return [(r.case.name, r.status, r.value, r.rows) for r in report.results]


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
    assert statuses["examples"] == "not_applicable"  # needs the rows: numpy only
    assert "--engine numpy" in next(r.reason for r in got.results if r.case.name == "examples")
    for g, e in zip(got.results, expected.results, strict=True):
        if e.case.name == "examples":
            continue
        assert (g.case.name, g.status, g.rows) == (e.case.name, e.status, e.rows)
        assert g.value == (None if e.value is None else pytest.approx(e.value, rel=1e-12))
        assert g.message == e.message
    assert got.predictions["rows"] == expected.predictions["rows"]


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


def test_check_command_on_duckdb_prints_the_numpy_report(
    tables: dict[str, Path], store: CaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["check", str(tables["binary"]), "--cases", str(store.directory), "--json"]
    code_numpy, out_numpy = _cli(base, capsys)
    code_duck, out_duck = _cli([*base, "--engine", "duckdb"], capsys)
    assert code_numpy == code_duck == 1  # a failing case
    numpy_results = {r["name"]: r for r in json.loads(out_numpy)["results"]}
    duck_results = {r["name"]: r for r in json.loads(out_duck)["results"]}
    for name, r in duck_results.items():
        if name != "examples":
            assert (r["status"], r["rows"], r["message"]) == (
                numpy_results[name]["status"],
                numpy_results[name]["rows"],
                numpy_results[name]["message"],
            )
    code, text = _cli([*base[:-1], "--engine", "duckdb"], capsys)
    assert code == 1 and "FAIL" in text and "flagged f1" in text and "N/A" in text


def test_check_engine_refuses_baseline_and_record(
    tables: dict[str, Path], store: CaseStore, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["check", str(tables["binary"]), "--cases", str(store.directory), "--engine", "duckdb"]
    assert main([*base, "--baseline", str(tables["binary"])]) == 2
    assert "--baseline needs --engine numpy" in capsys.readouterr().err
    assert main([*base, "--record"]) == 2
    assert "--record needs --engine numpy" in capsys.readouterr().err


@pytest.mark.parametrize("engine_name", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_slice_command_output_is_identical(
    engine_name: str,
    tables: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
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
