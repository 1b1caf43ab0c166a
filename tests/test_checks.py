"""The registry of data checks (mlqa_debug.data.checks) and the reports made from it.

The validation report is the list of results the loader produced: every
registered check appears with the status it really had, a check that could not
run is ``skipped`` (never a pass), a refused table's ``SchemaError`` is the
failing result, and ``validate --json`` lists the same results as the Data page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlqa_debug import Roles, SchemaError, load_predictions
from mlqa_debug.cli.main import main
from mlqa_debug.data import checks
from mlqa_debug.data.checks import registry
from mlqa_debug.data.read import read_table
from mlqa_debug.slicing import parse_slice
from tests.conftest import WriteTable

#: The checks of classes and probabilities (skipped on a regression table).
CLASSIFICATION_ONLY = [
    "classes",
    "predicted_classes",
    "score_column",
    "proba_coverage",
    "proba_range",
    "proba_sum",
]

NEEDS_LABEL = [
    "label_missing",
    "prediction_column",
    "prediction_missing",
    "feature_types",
    "regression_values",
    *CLASSIFICATION_ONLY,
]

#: The status of every registered check on each clean fixture frame.
EXPECTED_STATUS: dict[str, dict[str, str]] = {
    "binary": {
        "roles": "pass",
        "nested_columns": "pass",
        "label_column": "pass",
        "label_missing": "pass",
        "prediction_column": "pass",
        "prediction_missing": "pass",
        "ids": "pass",
        "feature_types": "pass",
        "image_columns": "skipped",
        "embedding_columns": "skipped",
        "regression_values": "skipped",
        "classes": "pass",
        "predicted_classes": "pass",
        "score_column": "pass",
        "proba_coverage": "skipped",
        "proba_range": "pass",
        "proba_sum": "skipped",
    },
    "multiclass": {
        "score_column": "skipped",
        "proba_coverage": "pass",
        "proba_range": "pass",
        "proba_sum": "pass",
    },
    "regression": {
        "regression_values": "pass",
        **dict.fromkeys(CLASSIFICATION_ONLY, "skipped"),
    },
}


@pytest.fixture
def frames(
    binary_frame: pd.DataFrame, multiclass_frame: pd.DataFrame, regression_frame: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    return {"binary": binary_frame, "multiclass": multiclass_frame, "regression": regression_frame}


def results_of(path: Path, roles: Roles | None = None) -> list[checks.CheckResult]:
    """What the registry finds in a file, whether or not the loader would accept it."""
    table = read_table(path)
    return checks.run_checks(table.frame, roles or Roles(), file=table.source)[0]


def by_name(results: list[checks.CheckResult]) -> dict[str, checks.CheckResult]:
    return {r.name: r for r in results}


@pytest.mark.parametrize("kind", EXPECTED_STATUS)
def test_every_registered_check_is_reported_with_its_status(
    frames: dict[str, pd.DataFrame], write_table: WriteTable, kind: str
) -> None:
    report = load_predictions(write_table(frames[kind])).checks()
    assert [r.name for r in report] == [c.name for c in checks.CHECKS]
    expected = {**EXPECTED_STATUS["binary"], **EXPECTED_STATUS[kind]}
    assert {r.name: r.status for r in report} == expected
    assert all(r.title and r.message for r in report)
    assert {r.severity for r in report} <= set(checks.SEVERITIES)


def test_a_missing_label_column_skips_the_checks_that_need_it(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    results = by_name(results_of(write_table(binary_frame.drop(columns="label"))))
    assert results["label_column"].status == "fail"
    for name in NEEDS_LABEL:
        assert results[name].status == "skipped", name
        assert results[name].message == "not run: 'Label column' failed"
    assert results["ids"].status == "pass"  # does not need the label: it ran
    text = checks.report_text(results.values())
    assert "[ok] No missing labels" not in text
    assert "[skip] No missing labels: not run: 'Label column' failed" in text


def test_an_absent_role_skips_its_check_without_blocking_others(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    report = by_name(load_predictions(write_table(binary_frame.drop(columns="id"))).checks())
    assert (report["ids"].status, report["ids"].message) == ("skipped", "no id column")
    assert report["feature_types"].status == "pass"


def duplicate_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(id=frame["id"].where(frame.index % 40 != 5, "E001"))


BAD_INPUTS: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    "missing labels": (
        "binary",
        lambda f: f.assign(label=f["label"].astype(float).where(f.index % 30 != 3)),
        "label_missing",
    ),
    "duplicate ids": ("binary", duplicate_ids, "ids"),
    "no label column": ("binary", lambda f: f.drop(columns="label"), "label_column"),
    "probability above 1": (
        "multiclass",
        lambda f: f.assign(prob_cat=f["prob_cat"].where(f.index % 50 != 9, 1.5)),
        "proba_range",
    ),
    "rows not summing to 1": (
        "multiclass",
        lambda f: f.assign(prob_dog=f["prob_dog"].where(f.index % 25 != 4, 0.0)),
        "proba_sum",
    ),
    "regression of text": (
        "regression",
        lambda f: f.assign(prediction=f["prediction"].astype(object).where(f.index != 7, "x")),
        "regression_values",
    ),
}


@pytest.mark.parametrize(("kind", "change", "name"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_schema_error_is_the_failing_result(
    frames: dict[str, pd.DataFrame],
    write_table: WriteTable,
    kind: str,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    name: str,
) -> None:
    path = write_table(change(frames[kind]))
    failing = checks.first_blocking(results_of(path))
    assert failing is not None and failing.name == name
    with pytest.raises(SchemaError) as info:
        load_predictions(path)
    err = info.value
    assert str(err) == f"preds.csv: {failing.message}"
    assert (err.file, err.column, err.rows) == ("preds.csv", failing.column, list(failing.rows))
    assert (err.expected, err.received) == (failing.expected, failing.received)


def test_failures_name_their_rows_and_a_slice_selecting_them(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.assign(label=binary_frame["label"].astype(float))
    frame.loc[[3, 16, 89], "label"] = np.nan
    result = by_name(results_of(write_table(frame)))["label_missing"]
    assert (result.rows, result.n_rows, result.slice) == ((3, 16, 89), 3, "label is missing")
    assert parse_slice(str(result.slice)).mask(frame).nonzero()[0].tolist() == [3, 16, 89]


def test_rows_are_bounded_but_counted(write_table: WriteTable) -> None:
    n = 3 * checks.MAX_ROWS
    frame = pd.DataFrame({"id": ["same"] * n, "label": [0, 1] * (n // 2), "prediction": 0})
    result = by_name(results_of(write_table(frame)))["ids"]
    assert result.status == "fail"
    assert len(result.rows) == checks.MAX_ROWS and result.n_rows == n - 1


def test_predicted_classes_no_label_has_is_a_warning_result(write_table: WriteTable) -> None:
    frame = pd.DataFrame({"label": ["a", "b", "a"], "prediction": ["a", "b", "z"]})
    with pytest.warns(UserWarning, match="class 'z' that no label has"):
        p = load_predictions(write_table(frame))
    result = by_name(p.checks())["predicted_classes"]
    assert (result.status, result.severity, result.rows) == ("warn", "warning", (2,))
    assert result.slice == "prediction == 'z'"
    assert p.warnings == (f"preds.csv: {result.message}",)


def test_validate_reports_the_same_results_as_the_data_page(
    capsys: pytest.CaptureFixture[str], multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(multiclass_frame)
    page = load_predictions(path).checks()  # what pages/data.py renders
    assert main(["validate", str(path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["checks"]
    assert listed == [r.to_dict() for r in page] == checks.report_json(page)
    assert [r["status"] for r in listed] == [r.status for r in page]
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert checks.report_text(page) in out
    assert out.count("\n  [") == len(checks.CHECKS)


def test_results_are_json_safe(digits: Any) -> None:
    listed = checks.report_json(digits.checks())
    assert json.loads(json.dumps(listed)) == listed


# --- plugging in a check ---------------------------------------------------------------


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> list[checks.Check]:
    """A copy of the registry that tests may register into (restored afterwards)."""
    copy = list(registry.CHECKS)
    monkeypatch.setattr(registry, "CHECKS", copy)
    return copy


def register_share_check(severity: registry.Severity) -> None:
    @checks.register("few_big_loans", "Few big loans", after=("feature_types",), severity=severity)
    def few_big_loans(context: checks.CheckContext) -> checks.CheckResult:
        big = np.flatnonzero(context.frame["loan amount"].to_numpy() > 10_000)
        if len(big) <= 5:
            return checks.passed("at most 5 loans over 10,000")
        return checks.failed(f"{len(big)} loans over 10,000", column="loan amount", rows=big)


@pytest.mark.parametrize("severity", ["warning", "error"])
def test_a_registered_check_runs_and_reports(
    scratch_registry: list[checks.Check],
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    severity: registry.Severity,
) -> None:
    register_share_check(severity)
    path = write_table(binary_frame)
    if severity == "error":
        with pytest.raises(SchemaError, match=r"preds\.csv: \d+ loans over 10,000"):
            load_predictions(path)
        return
    report = load_predictions(path).checks()  # a failure at warning severity is reported only
    assert report[-1].name == "few_big_loans"
    assert (report[-1].status, report[-1].severity) == ("fail", "warning")
    assert report[-1].n_rows == int((binary_frame["loan amount"] > 10_000).sum())


def test_registering_checks_the_order_and_names(scratch_registry: list[checks.Check]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        checks.register("ids", "Ids again")
    with pytest.raises(ValueError, match="after unregistered checks"):
        checks.register("later", "Later", after=("not_yet",))
    with pytest.raises(ValueError, match="severity 'fatal'"):
        checks.register("fatal", "Fatal", severity="fatal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before unregistered checks"):
        checks.register("sooner", "Sooner", before=("not_yet",))
    with pytest.raises(ValueError, match="both after"):
        checks.register("twisted", "Twisted", after=("ids",), before=("roles",))


def test_a_check_registered_before_others_runs_ahead_and_blocks_them(
    scratch_registry: list[checks.Check], binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    @checks.register("no_ids_yet", "No ids yet", after=("roles",), before=("ids",))
    def no_ids_yet(context: checks.CheckContext) -> checks.CheckResult:
        return checks.failed("ids are not ready", column="id")

    names = [c.name for c in scratch_registry]
    assert names.index("roles") < names.index("no_ids_yet") < names.index("ids")
    results = by_name(results_of(write_table(binary_frame)))
    assert results["no_ids_yet"].status == "fail"
    assert results["ids"].status == "skipped"
    assert results["ids"].message == "not run: 'No ids yet' failed"
    assert results["feature_types"].status == "pass"  # does not need it: it ran


# --- property: a valid table passes every check that applies ---------------------------


@st.composite
def valid_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, str]:
    n = draw(st.integers(3, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["binary", "multiclass", "regression"]))
    data: dict[str, Any] = {"id": [f"r{i}" for i in range(n)], "x": rng.normal(size=n)}
    if draw(st.booleans()):
        data["group"] = rng.choice(["a", "b"], n)
    if kind == "regression":
        y = rng.normal(size=n) * 10
        data.update(label=y, prediction=y + rng.normal(size=n))
        return pd.DataFrame(data), kind
    k = 2 if kind == "binary" else draw(st.integers(3, 5))
    classes = np.arange(k)
    data["label"] = np.concatenate([classes, rng.integers(0, k, n)])[:n]
    probs = rng.dirichlet(np.ones(k), n)
    data["prediction"] = probs.argmax(axis=1)
    if kind == "binary" and draw(st.booleans()):
        data["score"] = probs[:, 1]
    elif draw(st.booleans()):
        data.update({f"prob_{c}": probs[:, c] for c in classes})
    return pd.DataFrame(data), kind


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=valid_tables())
def test_valid_tables_pass_every_check_that_applies(table: tuple[pd.DataFrame, str]) -> None:
    frame, _ = table
    results, _ = checks.run_checks(frame.copy(), Roles(), file="t.csv")
    for r in results:
        assert r.status in ("pass", "warn", "skipped"), (r.name, r.message)
        assert not r.message.startswith("not run:"), (r.name, r.message)
    assert checks.first_blocking(results) is None
