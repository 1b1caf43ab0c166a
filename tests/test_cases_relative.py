"""Relative rule cases: "no worse than the baseline by more than X", saved, loaded, checked.

The bundled pair: ``loans`` (baseline, v1) and ``loans_v2`` (candidate, v2). Overall
error rate 0.1666 -> 0.1729 (v2 worse by 0.0063), ``employment == 'gig'`` 0.382 ->
0.282 (v2 better). Every value a check reports is compared with a brute-force
pandas computation on the same rows.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlqa_debug import cases as lib
from mlqa_debug.cases.export import junit_xml
from mlqa_debug.cases.model import PLAIN_SCHEMA_VERSION
from mlqa_debug.cases.relative import build_relative_case, threshold_for_margin
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import Slice, parse_slice
from tests.conftest import shown

ALL = Slice()
GIG = "employment == 'gig'"

#: A case file exactly as mlqa-debug wrote it before relative cases existed.
OLD_CASE_FILE = """{
  "schema_version": 1,
  "id": "0a1b2c3d4e5f",
  "name": "gig workers",
  "note": "planted failure mode",
  "kind": "slice",
  "where": "employment == 'gig'",
  "metric": "error_rate",
  "op": "<=",
  "threshold": 0.3973,
  "baseline": {
    "value": 0.382236,
    "rows": 1002
  },
  "task": "binary",
  "error_threshold": null,
  "source": {
    "fingerprint": "f51812e589b5cb0f4250ec77764ef69c",
    "dataset": "loans",
    "file": "loans.csv",
    "model": "loans-hgb",
    "model_version": "1",
    "page": "slices"
  },
  "author": "ana",
  "created": "2025-01-02T03:04:05Z",
  "updated": "2025-01-02T03:04:05Z"
}
"""
OLD_KEYS = list(json.loads(OLD_CASE_FILE))


def error_rate(predictions: Predictions, where: str = "") -> tuple[float, int]:
    """Brute force: share of rows of the slice whose prediction differs from the label."""
    frame = predictions.frame
    mask = parse_slice(where).mask(predictions.slice_frame)
    wrong = frame["label"].to_numpy() != frame["prediction"].to_numpy()
    return float(wrong[mask].mean()), int(mask.sum())


def relative(
    candidate: Predictions, baseline: Predictions, *, margin: float, where: str = "", **kw: Any
) -> lib.Case:
    kw.setdefault("metric", "error_rate")
    kw.setdefault("name", f"{where or 'all rows'} +{margin}")
    return build_relative_case(candidate, baseline, where=parse_slice(where), margin=margin, **kw)


def listing(*cases: lib.Case) -> lib.CaseListing:
    return lib.CaseListing(tuple(cases), ())


# --------------------------------------------------------------------------- old files


def test_old_case_files_load_unchanged(tmp_path: Path) -> None:
    (tmp_path / "0a1b2c3d4e5f.json").write_text(OLD_CASE_FILE, encoding="utf-8")
    (case,) = lib.CaseStore(tmp_path).load().cases
    assert (case.name, case.where, case.threshold, case.baseline) == (
        "gig workers",
        GIG,
        0.3973,
        0.382236,
    )
    assert not case.relative and case.reference is None and case.margin is None
    assert case.condition == "error_rate <= 0.3973"
    assert lib.case_json(case) == OLD_CASE_FILE  # written back byte for byte


def test_plain_cases_are_still_written_as_version_1(loans: Predictions) -> None:
    case = lib.build_case(loans, name="x", where=parse_slice(GIG)).case
    data = case.to_dict()
    assert data["schema_version"] == 1 == PLAIN_SCHEMA_VERSION
    assert list(data) == OLD_KEYS  # no new keys: an older mlqa-debug reads it


def test_old_file_with_relative_fields_is_refused() -> None:
    data = json.loads(OLD_CASE_FILE) | {"margin": 0.01}
    with pytest.raises(CaseError, match=r"unknown field.*'margin'"):
        lib.Case.from_dict(data)


def test_newer_versions_are_still_refused() -> None:
    with pytest.raises(CaseError, match="newer mlqa-debug"):
        lib.Case.from_dict(json.loads(OLD_CASE_FILE) | {"schema_version": 3})


# --------------------------------------------------------------------------- building


def test_build_measures_both_tables(loans: Predictions, loans_v2: Predictions) -> None:
    names = {"candidate_name": "loans_v2", "baseline_name": "loans"}
    case = relative(
        loans_v2,
        loans,
        margin=0.01,
        where=GIG,
        author="ana",
        page="compare",
        note="v2 vs v1",
        **names,
    )
    v1, n1 = error_rate(loans, GIG)
    v2, n2 = error_rate(loans_v2, GIG)
    assert case.reference_value == pytest.approx(v1, rel=1e-5)
    assert (case.baseline, case.baseline_rows) == (pytest.approx(v2, rel=1e-5), n2)
    assert n1 == n2 == 1002 and v2 < v1  # v2 is better on gig workers
    assert case.margin == 0.01 and case.threshold == pytest.approx(case.reference_value + 0.01)
    assert case.condition == "error_rate <= baseline + 0.01"
    assert case.source.fingerprint == loans_v2.fingerprint and case.source.dataset == "loans_v2"
    assert case.source.model_version == "2" and case.source.page == "compare"
    ref = case.reference
    assert ref is not None
    assert (ref.fingerprint, ref.dataset, ref.file, ref.model, ref.model_version) == (
        loans.fingerprint, "loans", "loans.csv", "loans-hgb", "1")  # fmt: skip
    assert (case.author, case.note, case.kind) == ("ana", "v2 vs v1", "slice")


def test_higher_is_better_metric_subtracts_the_margin(
    loans: Predictions, loans_v2: Predictions
) -> None:
    case = relative(loans_v2, loans, margin=0.02, where=GIG, metric="recall[positive]")
    frame = loans.frame[parse_slice(GIG).mask(loans.slice_frame)]
    recall = skm.recall_score(frame["label"], frame["prediction"], pos_label=1)
    assert case.metric == "recall[1]" and case.op == ">="
    assert case.reference_value == pytest.approx(recall, rel=1e-5)
    assert case.threshold == pytest.approx(case.reference_value - 0.02)
    assert case.condition == "recall[1] >= baseline - 0.02"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin": -0.01}, "margin must be 0 or more"),
        ({"margin": float("nan")}, "finite"),
        ({"metric": "n_wrong"}, "not available"),
        ({"metric": "mae"}, "not available"),
        ({"where": "age > 200"}, "slice is empty on the candidate"),
    ],
)
def test_build_refuses(
    loans: Predictions, loans_v2: Predictions, kwargs: dict[str, Any], message: str
) -> None:
    kwargs = {"margin": 0.01} | kwargs
    with pytest.raises(CaseError, match=message):
        relative(loans_v2, loans, **kwargs)


def test_build_refuses_tables_of_different_tasks(loans: Predictions, diabetes: Predictions) -> None:
    with pytest.raises(
        CaseError, match=r"is binary and the baseline 'diabetes\.csv' is regression"
    ):
        relative(loans, diabetes, margin=0.01)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"margin": None}, "all three"),
        ({"reference": None}, "all three"),
        ({"margin": -0.5, "threshold": 0.0}, "margin must be 0 or more"),
        ({"reference_value": float("inf")}, "finite"),
        ({"reference": "loans"}, "must be a Provenance"),
    ],
)
def test_invalid_relative_cases_are_refused(
    loans: Predictions, loans_v2: Predictions, changes: dict[str, Any], message: str
) -> None:
    case = relative(loans_v2, loans, margin=0.01)
    data = {f.name: getattr(case, f.name) for f in dataclasses.fields(case)} | changes
    with pytest.raises(CaseError, match=message):
        lib.Case(**data)


def test_example_sets_cannot_be_relative(loans: Predictions, loans_v2: Predictions) -> None:
    rel = relative(loans_v2, loans, margin=0.01)
    ex = lib.build_case(loans, name="three", ids=["L00001", "L00003"]).case
    data = {f.name: getattr(ex, f.name) for f in dataclasses.fields(ex)}
    data |= {"reference": rel.reference, "reference_value": 0.0, "margin": 0.0, "threshold": 0.0}
    with pytest.raises(CaseError, match="cannot be relative"):
        lib.Case(**data)


# --------------------------------------------------------------------------- round trip


def test_relative_case_round_trip_through_the_store(
    loans: Predictions, loans_v2: Predictions, tmp_path: Path
) -> None:
    case = relative(loans_v2, loans, margin=0.01, where=GIG, baseline_name="loans")
    store = lib.CaseStore(tmp_path)
    store.save(case)
    data = json.loads((tmp_path / f"{case.id}.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == 2
    assert (data["margin"], data["reference_value"]) == (0.01, case.reference_value)
    assert data["reference"]["fingerprint"] == loans.fingerprint
    assert data["reference"]["dataset"] == "loans"
    assert data["source"]["fingerprint"] == loans_v2.fingerprint  # both fingerprints
    (loaded,) = store.load().cases
    assert loaded == case
    assert lib.Case.from_dict(json.loads(lib.case_json(case))) == case


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d | {"threshold": 0.5}, "must be reference_value \\+ margin"),
        (lambda d: {k: v for k, v in d.items() if k != "reference"}, "'reference' missing"),
        (lambda d: d | {"margin": "1 point"}, "'margin' must be int or float"),
        (lambda d: d | {"reference": {"dataset": "loans"}}, "'reference.fingerprint' is missing"),
        (lambda d: d | {"reference": d["reference"] | {"x": 1}}, "unknown field.*'reference.x'"),
    ],
)
def test_bad_relative_files_name_the_field(
    loans: Predictions, loans_v2: Predictions, edit: Any, message: str
) -> None:
    data = relative(loans_v2, loans, margin=0.01).to_dict()
    with pytest.raises(CaseError, match=message):
        lib.Case.from_dict(edit(data))


def test_editing_the_threshold_moves_the_margin(
    loans: Predictions, loans_v2: Predictions, tmp_path: Path
) -> None:
    store = lib.CaseStore(tmp_path)
    case = store.save(relative(loans_v2, loans, margin=0.001))
    updated = store.update(case.id, threshold=threshold_for_margin(case, 0.02))
    assert updated.margin == 0.02 and updated.condition == "error_rate <= baseline + 0.02"
    assert store.get(case.id) == updated
    with pytest.raises(CaseError, match="margin must be 0 or more"):
        store.update(case.id, threshold=0.1)  # below the baseline's 0.1666
    plain = store.save(lib.build_case(loans, name="plain", where=ALL).case)
    with pytest.raises(CaseError, match="not relative"):
        threshold_for_margin(plain, 0.01)


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize(("margin", "status"), [(0.001, "fail"), (0.01, "pass")])
def test_overall_error_rate_of_v2_against_v1(
    loans: Predictions, loans_v2: Predictions, margin: float, status: str
) -> None:
    """v2 is worse overall by 0.0063: more than 0.001 (fails), less than 0.01 (passes)."""
    case = relative(loans_v2, loans, margin=margin)
    v1, _ = error_rate(loans)
    v2, n = error_rate(loans_v2)
    assert (v2 - v1 > margin) == (status == "fail")
    for baseline in (loans, None):
        report = lib.check_cases(loans_v2, listing(case), baseline=baseline)
        (r,) = report.results
        assert r.status == status
        assert (r.value, r.rows) == (pytest.approx(v2, abs=1e-12), n)
        assert r.baseline_value == pytest.approx(v1, abs=1e-5)
        assert r.limit == pytest.approx(r.baseline_value + margin)
        assert r.delta == pytest.approx(v2 - r.baseline_value)
        assert report.exit_code() == (1 if status == "fail" else 0)
        if baseline is None:
            assert r.baseline_from == "stored" and r.baseline_value == case.reference_value
            assert "no baseline table given" in r.reason and "stored at save" in r.reason
            assert report.baseline is None
        else:
            assert r.baseline_from == "table" and r.baseline_rows == 20_000
            assert r.baseline_value == pytest.approx(v1, abs=1e-12)  # measured, not stored
            assert "baseline measured on 'loans.csv'" in r.reason
            assert report.baseline is not None
            assert report.baseline["fingerprint"] == loans.fingerprint


def test_message_shows_the_relative_condition(loans: Predictions, loans_v2: Predictions) -> None:
    case = relative(loans_v2, loans, margin=0.001)
    (r,) = lib.check_cases(loans_v2, listing(case), baseline=loans).results
    assert r.message.startswith(
        "'all rows +0.001' failed: error_rate = 0.1729 > 0.1676 = baseline 0.1666 + margin 0.001"
    )


def test_the_baseline_table_given_is_what_counts(loans: Predictions, loans_v2: Predictions) -> None:
    """Swap the roles: v1 checked against v2 as baseline passes even a zero margin."""
    case = relative(loans_v2, loans, margin=0.0)
    (stored,) = lib.check_cases(loans, listing(case)).results
    (swapped,) = lib.check_cases(loans, listing(case), baseline=loans_v2).results
    assert stored.status == swapped.status == "pass"
    assert swapped.baseline_value == pytest.approx(error_rate(loans_v2)[0], abs=1e-12)
    (worse,) = lib.check_cases(loans_v2, listing(case), baseline=loans).results
    assert worse.status == "fail"


def test_slice_where_v2_is_better_passes_with_no_margin(
    loans: Predictions, loans_v2: Predictions
) -> None:
    case = relative(loans_v2, loans, margin=0.0, where=GIG)
    (r,) = lib.check_cases(loans_v2, listing(case), baseline=loans).results
    assert r.status == "pass" and r.delta == pytest.approx(
        error_rate(loans_v2, GIG)[0] - error_rate(loans, GIG)[0], abs=1e-12
    )


def test_higher_is_better_check(loans: Predictions, loans_v2: Predictions) -> None:
    case = relative(loans_v2, loans, margin=0.0, metric="recall[1]")
    ours = skm.recall_score(loans_v2.frame["label"], loans_v2.frame["prediction"])
    theirs = skm.recall_score(loans.frame["label"], loans.frame["prediction"])
    (r,) = lib.check_cases(loans_v2, listing(case), baseline=loans).results
    assert r.value == pytest.approx(ours) and r.baseline_value == pytest.approx(theirs)
    assert r.status == ("pass" if ours >= theirs else "fail")
    assert r.limit == pytest.approx(theirs)


def test_plain_cases_ignore_the_baseline(loans: Predictions, loans_v2: Predictions) -> None:
    plain = lib.build_case(loans, name="gig", where=parse_slice(GIG)).case
    (a,) = lib.check_cases(loans_v2, listing(plain)).results
    (b,) = lib.check_cases(loans_v2, listing(plain), baseline=loans).results
    assert dataclasses.replace(a, seconds=0) == dataclasses.replace(b, seconds=0)
    assert b.baseline_value is None and b.limit == plain.threshold


def test_baseline_of_another_task_is_refused(
    loans: Predictions, loans_v2: Predictions, diabetes: Predictions
) -> None:
    case = relative(loans_v2, loans, margin=0.01)
    with pytest.raises(CaseError, match=r"baseline 'diabetes\.csv' is regression"):
        lib.check_cases(loans_v2, listing(case), baseline=diabetes)


def test_slice_missing_from_the_baseline_does_not_apply(
    loans: Predictions, loans_v2: Predictions, write_table: Any
) -> None:
    case = relative(loans_v2, loans, margin=0.01, where=GIG)
    frame = loans.frame.copy()
    frame["employment"] = frame["employment"].astype(str).replace("gig", "freelance")
    no_gig = load_predictions(write_table(frame, "no_gig.csv"))
    (r,) = lib.check_cases(loans_v2, listing(case), baseline=no_gig).results
    assert r.status == "not_applicable"
    assert "on the baseline table" in r.reason and "empty" in r.reason
    no_column = load_predictions(write_table(frame.drop(columns="employment"), "no_column.csv"))
    (r,) = lib.check_cases(loans_v2, listing(case), baseline=no_column).results
    assert r.status == "not_applicable"
    assert "on the baseline table" in r.reason and "employment" in r.reason


def test_report_json_and_results_frame(loans: Predictions, loans_v2: Predictions) -> None:
    cases = (
        relative(loans_v2, loans, margin=0.001),
        lib.build_case(loans, name="p", where=ALL).case,
    )
    report = lib.check_cases(loans_v2, listing(*cases), baseline=loans)
    data = json.loads(json.dumps(report.to_dict()))
    rel, plain = data["results"]
    assert rel["relative"] is True and rel["baseline_from"] == "table"
    assert rel["baseline_value"] == pytest.approx(error_rate(loans)[0], abs=1e-12)
    assert rel["threshold"] == pytest.approx(rel["baseline_value"] + 0.001)
    assert rel["margin"] == 0.001 and rel["reference_value"] == cases[0].reference_value
    assert plain["relative"] is False and plain["baseline_value"] is None
    assert plain["threshold"] == cases[1].threshold
    assert data["baseline"]["file"] == "loans.csv"
    frame = lib.results_frame(report.results)
    assert list(frame.columns) == lib.RESULT_COLUMNS
    assert list(frame["condition"]) == ["<= baseline + 0.001", f"<= {cases[1].threshold:.4g}"]
    assert list(frame["baseline from"]) == ["baseline table", "at save"]
    assert frame["baseline"].iloc[0] == pytest.approx(error_rate(loans)[0], abs=1e-12)


def test_junit_shows_the_relative_condition_and_baseline(
    loans: Predictions, loans_v2: Predictions
) -> None:
    case = relative(loans_v2, loans, margin=0.001, baseline_name="loans")
    for baseline, origin in ((loans, "measured on the baseline table (20,000 rows)"),
                             (None, "stored at save (no baseline table given)")):  # fmt: skip
        report = lib.check_cases(loans_v2, listing(case), baseline=baseline)
        root = ET.fromstring(junit_xml(report))
        failure = root.find("testsuite/testcase/failure")
        assert failure is not None and failure.text is not None
        assert "error_rate = 0.1729 > 0.1676 = baseline 0.1666 + margin 0.001" in failure.get(
            "message", ""
        )
        assert "condition:  error_rate <= baseline + 0.001" in failure.text
        assert f"baseline:   0.1666 {origin}" in failure.text
        assert "limit:      0.1676 (baseline + margin 0.001)" in failure.text
        assert f"fingerprint {loans.fingerprint[:8]}" in failure.text
        props = {p.get("name"): p.get("value") for p in root.iter("property")}
        assert props.get("baseline.fingerprint") == (
            None if baseline is None else loans.fingerprint
        )


def test_regression_relative_case_keeps_one_error_threshold(
    diabetes: Predictions, write_table: Any
) -> None:
    """Both tables are measured with the baseline's error threshold, now and later."""
    frame = diabetes.frame.copy()
    rng = np.random.default_rng(0)
    frame["prediction"] = frame["prediction"] + rng.normal(0, 10, len(frame))
    candidate = load_predictions(write_table(frame, "noisier.csv"))
    case = relative(candidate, diabetes, margin=1.0, metric="mae")
    mae = lambda p: float(np.mean(np.abs(p.frame["label"] - p.frame["prediction"])))  # noqa: E731
    assert case.reference_value == pytest.approx(mae(diabetes), rel=1e-5)
    assert case.error_threshold == diabetes.schema.error_threshold
    (r,) = lib.check_cases(candidate, listing(case), baseline=diabetes).results
    assert r.value == pytest.approx(mae(candidate)) and r.baseline_value == pytest.approx(
        mae(diabetes)
    )
    assert r.status == ("pass" if mae(candidate) <= mae(diabetes) + 1.0 else "fail")


def test_cases_page_frame_shows_relative_cases(loans: Predictions, loans_v2: Predictions) -> None:
    """What the Cases page table builds on: condition text, baseline used, delta."""
    case = relative(loans_v2, loans, margin=0.01)
    not_run = lib.CaseResult(case, "not_applicable")
    assert not_run.compared_with == case.reference_value and not_run.limit == case.threshold
    frame = lib.results_frame([not_run])
    assert frame["condition"].iloc[0] == "<= baseline + 0.01"
    assert isinstance(frame, pd.DataFrame) and frame["baseline from"].iloc[0] == "stored at save"


# --------------------------------------------------------------------------- Cases page


def test_cases_page_checks_relative_cases_against_the_default_baseline(
    page_runner: Any, workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
    loans: Predictions, loans_v2: Predictions,
) -> None:  # fmt: skip
    """loans_v2's default baseline is loans: the page measures the relative case on it."""
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    store = lib.CaseStore(workspace.cases_dir)
    case = store.save(relative(loans_v2, loans, margin=0.001, name="tight"))
    at = page_runner("cases")(ds="loans_v2", case=case.id)
    assert not at.exception, [e.value for e in at.exception]
    assert any("default baseline **loans**" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "pass when" in d.value.columns)
    assert list(table["pass when"]) == ["error_rate <= baseline + 0.001"]
    assert list(table["status"]) == ["fail"]
    assert table["baseline"].iloc[0] == pytest.approx(error_rate(loans)[0], abs=1e-12)
    assert any("baseline measured on 'loans.csv'" in shown(e.value) for e in at.error)
    facts = next(d.value for d in at.dataframe if "field" in d.value.columns)
    facts = dict(zip(facts["field"], facts["value"], strict=True))
    assert facts["condition"] == "error_rate <= baseline + 0.001"
    assert facts["baseline model"].startswith(
        f"loans.csv (model loans-hgb 1, fingerprint {loans.fingerprint[:8]}"
    )
    margin = at.number_input(key=f"edit_margin_{case.id}")
    margin.set_value(0.01)
    at.button(key=f"FormSubmitter:edit_{case.id}-Save changes").click().run()
    assert not at.exception
    assert store.get(case.id).margin == 0.01
    table = next(d.value for d in at.dataframe if "pass when" in d.value.columns)
    assert list(table["status"]) == ["pass"]


def test_cases_page_without_a_default_baseline_uses_stored_values(
    page_runner: Any, workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
    loans: Predictions, loans_v2: Predictions,
) -> None:  # fmt: skip
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    store = lib.CaseStore(workspace.cases_dir)
    store.save(relative(loans_v2, loans, margin=0.001, name="tight"))
    at = page_runner("cases")(ds="loans")  # loans has no default baseline
    assert not at.exception
    assert not any("default baseline" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "pass when" in d.value.columns)
    assert list(table["status"]) == ["pass"]  # v1 0.1666 <= stored 0.1666 + 0.001
