"""Quality cases: a data-quality finding kept as a regression case, checked, reported, exported."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug import cases as lib
from mlqa_debug.analyses.quality.leakage import LEAKAGE_CHECKS
from mlqa_debug.cases import export
from mlqa_debug.cases.quality import default_quality_threshold, stored_reference
from mlqa_debug.cli.main import main
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import parse_slice
from tests.analyses.quality.helpers import clean_frame, predictions
from tests.test_export import outcomes, run_pytest

FEATURES = ["colour", "size", "weight"]


@pytest.fixture
def frame(rng: np.random.Generator) -> pd.DataFrame:
    """A clean binary table but for 20 of 2,000 rows (1%) missing ``size``."""
    out = clean_frame(rng)
    out.loc[rng.choice(len(out), 20, replace=False), "size"] = np.nan
    return out


def with_missing(frame: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rng.choice(len(out), round(share * len(out)), replace=False), "size"] = np.nan
    return out


def missing_case(table: Predictions, **options: Any) -> lib.Case:
    return lib.build_quality_case(
        table, name="no more than 1% missing in size", check="missing_values", column="size",
        dataset="eval", **options,
    )  # fmt: skip


def listing(*cases: lib.Case, directory: Path | None = None) -> lib.CaseListing:
    return lib.CaseListing(cases, (), directory)


# --------------------------------------------------------------------------- the model


def test_a_missing_values_case_reads_well_and_survives_json(frame: pd.DataFrame) -> None:
    case = missing_case(predictions(frame))
    assert case.kind == "quality"
    assert (case.metric, case.op, case.threshold, case.baseline) == ("rows_share", "<=", 0.01, 0.01)
    assert case.baseline_rows == 2000
    assert case.target == "missing values in size"
    assert case.condition == "rows_share <= 1%"
    data = json.loads(lib.case_json(case))
    assert data["schema_version"] == 2 and data["kind"] == "quality" and "where" not in data
    assert data["quality"] == {"check": "missing_values", "column": "size", "reference": None}
    assert lib.Case.from_dict(data) == case
    assert lib.case_json(lib.Case.from_dict(data)) == lib.case_json(case)


def test_suggested_names_and_default_thresholds() -> None:
    spec = lib.QualitySpec("missing_values", "income")
    assert lib.quality_case_name([], spec, "rows_share", 0.01) == (
        "no more than 1% missing values in income"
    )
    leak = lib.QualitySpec("exact_duplicates", None, "../data/train.parquet")
    assert leak.describe() == "exact duplicates against train.parquet"
    leaky = lib.QualitySpec("leaky_feature", "income", "train")
    assert leaky.describe() == "label leakage in income against train"
    assert lib.quality_case_name(
        ["No exact duplicates against train.parquet"], leak, "rows", 0
    ) == ("no exact duplicates against train.parquet (2)")
    shares = (0.0043, 0.01, 0.012, 0.07, 0.6, 0.0)
    shown = [default_quality_threshold("missing_values", "rows_share", v) for v in shares]
    assert shown == [0.005, 0.01, 0.02, 0.1, 1.0, 0.0]
    assert default_quality_threshold("outliers", "rows", 37) == 50
    assert default_quality_threshold("duplicate_rows", "rows_share", 0.2) == 0
    assert default_quality_threshold("exact_duplicates", "rows", 12) == 0


def test_the_leakage_check_names_are_those_of_the_leakage_module() -> None:
    assert lib.LEAKAGE_CHECKS == tuple(LEAKAGE_CHECKS)


def _quality_dict(frame: pd.DataFrame) -> dict[str, Any]:
    return missing_case(predictions(frame)).to_dict()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(data))
        *parents, last = path.split(".")
        target = out
        for p in parents:
            target = target[p]
        target[last] = value
        return out

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("quality.check", "Missing values!"), r"'quality\.check' must name a quality check"),
        (_set("quality.check", 3), r"'quality\.check' must be str"),
        (_set("quality.column", ""), r"'quality\.column' must be a column name or null"),
        (_set("quality.reference", "train"), r"'quality\.reference' is for the leakage checks"),
        (_set("quality", {"check": "exact_duplicates", "column": None, "reference": None}),
         r"'quality\.reference' must name a workspace dataset or a file"),
        (_set("quality.where", "x > 1"), r"unknown field\(s\) 'quality\.where'"),
        (_set("quality", "missing_values"), "field 'quality' must be dict"),
        (_set("metric", "error_rate"), "a quality case uses the metric rows_share or rows"),
        (_set("op", ">="), "its condition is '<='"),
        (_set("kind", "slice"), "field 'quality' belongs to a case of kind 'quality', not 'slice'"),
        (_set("schema_version", 1), r"unknown field\(s\) 'quality'"),
        (lambda d: {k: v for k, v in d.items() if k != "quality"}, "field 'quality' is missing"),
    ],
)  # fmt: skip
def test_invalid_quality_case_files_name_the_field(
    frame: pd.DataFrame, change: Callable[[dict[str, Any]], dict[str, Any]], message: str
) -> None:
    with pytest.raises(CaseError, match=message):
        lib.Case.from_dict(change(_quality_dict(frame)))


def test_a_slice_case_cannot_use_a_quality_metric(loans: Predictions) -> None:
    case = lib.build_case(loans, name="gig", where=parse_slice("employment == 'gig'")).case
    with pytest.raises(CaseError, match="only a quality case"):
        lib.Case.from_dict(case.to_dict() | {"metric": "rows"})
    with pytest.raises(CaseError, match="field 'quality' belongs to a case of kind 'quality'"):
        lib.Case.from_dict(case.to_dict() | {"schema_version": 2, "quality": {"check": "constant"}})
    data = {f: getattr(case, f) for f in case.__dataclass_fields__}
    with pytest.raises(CaseError, match="either a slice"):
        lib.Case(**(data | {"quality": lib.QualitySpec("constant")}))


def test_building_refuses_a_threshold_out_of_range(frame: pd.DataFrame) -> None:
    with pytest.raises(CaseError, match="between 0 and 1"):
        missing_case(predictions(frame), threshold=5)
    with pytest.raises(CaseError, match="rows_share or rows, not 'error_rate'"):
        missing_case(predictions(frame), metric="error_rate")


# --------------------------------------------------------------------------- checking


def test_missing_values_case_passes_clean_and_fails_with_more_missing(
    frame: pd.DataFrame, rng: np.random.Generator
) -> None:
    case = missing_case(predictions(frame))
    clean = lib.evaluate_case(predictions(clean_frame(rng)), case)
    assert (clean.status, clean.value, clean.flagged, clean.rows) == ("pass", 0.0, 0, 2000)
    worse = with_missing(clean_frame(rng), 0.03, rng)
    result = lib.evaluate_case(predictions(worse), case)
    assert result.status == "fail" and result.failed
    assert result.value == pytest.approx(worse["size"].isna().mean())  # brute force
    assert result.flagged == int(worse["size"].isna().sum()) == 60
    assert "rows_share = 3% > threshold 1%" in result.message
    assert "60 of 2,000 rows flagged" in result.message
    assert "quality: missing values in size (check missing_values, column 'size')" in result.message
    counted = lib.build_quality_case(
        predictions(frame), name="n", check="missing_values", column="size", metric="rows"
    )
    assert (counted.threshold, counted.baseline) == (20, 20)  # 20 rows now: 1 x 10^k rounds to 20
    assert lib.evaluate_case(predictions(worse), counted).value == 60


def test_outlier_case_counts_both_sides_of_the_column(rng: np.random.Generator) -> None:
    table = clean_frame(rng)
    table.loc[:9, "weight"] = 40.0
    table.loc[10:14, "weight"] = -40.0
    case = lib.build_quality_case(
        predictions(table), name="o", check="outliers", column="weight", metric="rows"
    )
    robust = 0.6745 * (table["weight"] - table["weight"].median())
    mad = (table["weight"] - table["weight"].median()).abs().median()
    expected = int(((robust / mad).abs() > 3.5).sum())  # the check's rule, by hand
    assert case.baseline == expected >= 15


def planted(rng: np.random.Generator, n_copies: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An evaluation table and a training table (labels, no predictions) with copies planted."""
    current = clean_frame(rng)
    training = clean_frame(rng).drop(columns=["prediction", "score"])
    training["id"] += 10_000
    if n_copies:
        training.loc[: n_copies - 1, FEATURES] = current.loc[: n_copies - 1, FEATURES].to_numpy()
    return current, training


def exact_copies(current: pd.DataFrame, training: pd.DataFrame) -> int:
    """Rows of ``current`` whose features equal a training row's (by merge)."""
    keys = training[FEATURES].drop_duplicates()
    return int(current[FEATURES].merge(keys, how="left", indicator=True)["_merge"].eq("both").sum())


def test_exact_duplicates_case_fails_when_copies_are_planted(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    cases_dir, data = tmp_path / "repo" / "cases", tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    clean_current, clean_training = planted(rng, 0)
    clean_training.to_parquet(data / "train.parquet", index=False)
    case = lib.build_quality_case(
        predictions(clean_current), name="no copies", check="exact_duplicates",
        reference=str(data / "train.parquet"), cases_dir=cases_dir,
    )  # fmt: skip
    assert case.quality is not None and case.quality.reference == "../data/train.parquet"
    assert (case.metric, case.threshold, case.baseline) == ("rows", 0, 0)
    assert case.target == "exact duplicates against train.parquet"
    session = lib.QualitySession(cases_dir)
    assert lib.evaluate_case(predictions(clean_current), case, quality=session).passed
    current, training = planted(rng, 30)
    training.to_parquet(data / "train.parquet", index=False)
    result = lib.evaluate_case(predictions(current), case, quality=lib.QualitySession(cases_dir))
    assert result.status == "fail"
    assert result.value == result.flagged == exact_copies(current, training) >= 30


def test_a_stored_reference_is_relative_to_the_case_directory(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "train.csv"
    assert stored_reference(str(path), tmp_path / "cases") == "../data/train.csv"
    assert stored_reference("train", tmp_path / "cases") == "train"  # a dataset name
    assert stored_reference(str(path), None) == path.as_posix()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("skipped", "the check 'calibration' does not apply to this table: "),
        ("column", "column 'size' is not in table.parquet"),
        ("reference", r"the reference file 'train\.parquet' \(in .*\) cannot be loaded"),
        ("dataset", "the reference dataset 'no-such-set' cannot be loaded"),
        ("unknown", "no quality check named 'typo_check'"),
    ],
)
def test_a_case_that_cannot_be_measured_is_an_error(
    kind: str, message: str, frame: pd.DataFrame, tmp_path: Path, rng: np.random.Generator
) -> None:
    table = predictions(frame)
    stamp = missing_case(table)
    specs = {
        "skipped": lib.QualitySpec("calibration"),
        "column": lib.QualitySpec("missing_values", "size"),
        "reference": lib.QualitySpec("exact_duplicates", None, "train.parquet"),
        "dataset": lib.QualitySpec("shared_ids", None, "no-such-set"),
        "unknown": lib.QualitySpec("typo_check"),
    }
    case = lib.Case.from_dict(stamp.to_dict() | {"quality": specs[kind].to_dict()})
    checked = table
    if kind == "skipped":  # no probabilities: calibration is skipped
        checked = predictions(frame.drop(columns=["score"]))
    if kind == "column":
        checked = predictions(frame.drop(columns=["size"]))
    (tmp_path / "train.parquet").write_text("not parquet")
    result = lib.evaluate_case(checked, case, quality=lib.QualitySession(tmp_path))
    assert result.status == "error" and not result.passed and not result.failed
    assert result.value is None
    assert result.message.startswith(f"{case.name!r} cannot be checked: ")
    assert re.search(message, result.reason), result.reason
    report = lib.check_cases(checked, listing(case, directory=tmp_path))
    assert report.exit_code() == 2 and report.summary().endswith("1 cannot be checked")
    assert report.to_dict()["summary"]["error"] == 1


def test_check_cases_over_a_mixed_store(
    loans: Predictions, loans_v2: Predictions, tmp_path: Path
) -> None:
    store = lib.CaseStore(tmp_path / "cases")
    store.save(lib.build_case(loans, name="overall", where=parse_slice("")).case)
    right = loans.frame.loc[loans.frame["label"] == loans.frame["prediction"], "id"][:10]
    golden = lib.build_case(loans, name="golden", ids=list(right))
    store.save(golden.case, rows=golden.rows)
    store.save(lib.build_quality_case(loans, name="no missing income", check="missing_values",
                                      column="income"))  # fmt: skip
    store.save(lib.build_quality_case(loans, name="outliers", check="outliers", column="income"))
    store.save(lib.build_quality_case(loans, name="no duplicates", check="duplicate_rows"))
    loaded = store.load()
    assert loaded.directory == store.directory
    report = lib.check_cases(loans_v2, loaded)
    statuses = {r.case.name: r.status for r in report.results}
    assert statuses.pop("golden") in ("pass", "fail")
    assert statuses == {"overall": "fail", "no missing income": "pass", "outliers": "pass",
                        "no duplicates": "pass"}  # fmt: skip
    outliers = next(r for r in report.results if r.case.name == "outliers")
    assert outliers.case.threshold == 0.05 and outliers.flagged == 709  # 3.545% of 20,000
    data = report.to_dict()
    assert "error" not in data["summary"]  # only when a case has that status
    quality = next(r for r in data["results"] if r["name"] == "no duplicates")
    assert quality["kind"] == "quality" and quality["quality"]["check"] == "duplicate_rows"
    assert quality["flagged"] == 0 and quality["value"] == 0
    frame = lib.results_frame(report.results)
    assert frame.set_index("name").loc["outliers", "slice / examples"] == "outliers in income"


def test_junit_has_the_quality_cases(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    table = predictions(with_missing(clean_frame(rng), 0.03, rng))
    failing = missing_case(predictions(frame))
    broken = lib.Case.from_dict(
        failing.to_dict() | {"id": "broken", "name": "gone", "quality": {"check": "missing_values",
                                                                         "column": "nope"}}
    )  # fmt: skip
    report = lib.check_cases(table, listing(failing, broken))
    root = ET.fromstring(export.junit_xml(report))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert {c.get("classname") for c in cases.values()} == {"mlqa_debug.cases.quality"}
    failure = cases[failing.name].find("failure")
    assert failure is not None and "rows_share = 3% > threshold 1%" in failure.get("message", "")
    assert "quality:    missing values in size (check missing_values, column 'size')" in (
        failure.text or ""
    )
    error = cases["gone"].find("error")
    assert error is not None and "column 'nope' is not in table.parquet" in error.get("message", "")


# --------------------------------------------------------------------------- CLI and export


def test_cli_adds_and_checks_quality_cases(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current, training = planted(rng, 0)
    current.loc[:9, "size"] = np.nan
    (tmp_path / "data").mkdir()
    current.to_parquet(tmp_path / "data" / "eval.parquet", index=False)
    training.to_parquet(tmp_path / "data" / "train.parquet", index=False)
    cases = str(tmp_path / "cases")
    base = ["--cases", cases, "--workspace", str(tmp_path / "ws")]
    ev = str(tmp_path / "data" / "eval.parquet")
    assert main(["case", "add", ev, "--name", "m", "--quality", "missing_values",
                 "--column", "size", *base]) == 0  # fmt: skip
    assert "missing values in size: rows_share <= 0.5%" in capsys.readouterr().out
    assert main(["case", "add", ev, "--name", "d", "--quality", "exact_duplicates",
                 "--reference", str(tmp_path / "data" / "train.parquet"), *base]) == 0  # fmt: skip
    assert "exact duplicates against train.parquet: rows <= 0" in capsys.readouterr().out
    assert main(["case", "add", ev, "--name", "x", "--column", "size", "--where", "", *base]) == 2
    assert "--column and --reference belong to a quality case" in capsys.readouterr().err
    assert main(["check", ev, *base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in data["results"]] == ["pass", "pass"]
    worse, _ = planted(rng, 0)
    worse.loc[:99, "size"] = np.nan
    worse.loc[100:104, FEATURES] = training.loc[:4, FEATURES].to_numpy()
    worse.to_parquet(tmp_path / "worse.parquet", index=False)
    assert main(["check", str(tmp_path / "worse.parquet"), *base]) == 1
    out = capsys.readouterr().out
    assert "FAIL    m     missing values in size" in out and "100 of 2,000" in out
    assert "5 of 2,000" in out
    (tmp_path / "data" / "train.parquet").unlink()
    code = main(["check", str(tmp_path / "worse.parquet"), *base, "--record"])
    captured = capsys.readouterr()
    assert code == 2
    assert "ERROR" in captured.out and "'../data/train.parquet'" in captured.out
    assert "1 cannot be checked" in captured.out
    assert main(["history", "--workspace", str(tmp_path / "ws")]) == 0  # reads the error back
    assert "warning" not in capsys.readouterr().err


def test_export_rewrites_a_reference_file_for_the_exported_folder(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    store = lib.CaseStore(tmp_path / "lib" / "cases")
    (tmp_path / "data").mkdir()
    reference = tmp_path / "data" / "train.parquet"
    frame.drop(columns=["prediction", "score"]).to_parquet(reference, index=False)
    case = lib.build_quality_case(
        predictions(frame), name="no copies", check="exact_duplicates", reference=str(reference),
        cases_dir=store.directory,
    )  # fmt: skip
    store.save(case)
    out = export.export_cases(store, tmp_path / "team" / "tests" / "regression").out
    (exported,) = lib.CaseStore(out / "cases", create=False).load().cases
    assert exported.quality is not None
    assert exported.quality.reference == "../../../../data/train.parquet"  # out of team/tests/...
    assert (out / "cases" / exported.quality.reference).resolve() == reference.resolve()
    assert exported.id == case.id and exported.threshold == case.threshold


@pytest.mark.slow
def test_exported_module_runs_quality_cases(rng: np.random.Generator, tmp_path: Path) -> None:
    project = tmp_path / "team"
    (project / "data").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    current, training = planted(rng, 0)
    current.loc[:9, "size"] = np.nan
    training.to_parquet(project / "data" / "train.parquet", index=False)
    current.to_parquet(project / "eval.parquet", index=False)
    store = lib.CaseStore(tmp_path / "library")
    table = load_predictions(project / "eval.parquet")
    store.save(lib.build_quality_case(table, name="missing size", check="missing_values",
                                      column="size"))  # fmt: skip
    store.save(lib.build_quality_case(table, name="no copies", check="exact_duplicates",
                                      reference=str(project / "data" / "train.parquet"),
                                      cases_dir=store.directory))  # fmt: skip
    out = export.export_cases(store, project / "regression").out
    code, root = run_pytest(out, f"--mlqa-predictions={project / 'eval.parquet'}")
    assert code == 0 and outcomes(root) == {"missing size": "passed", "no copies": "passed"}
    worse = current.copy()
    worse.loc[:99, "size"] = np.nan
    worse.loc[100:104, FEATURES] = training.loc[:4, FEATURES].to_numpy()
    worse.to_parquet(project / "worse.parquet", index=False)
    code, root = run_pytest(out, f"--mlqa-predictions={project / 'worse.parquet'}")
    assert code == 1 and outcomes(root) == {"missing size": "failure", "no copies": "failure"}
    message = next(
        c.find("failure") for c in root.iter("testcase") if "copies" in c.get("name", "")
    )
    assert message is not None and "rows = 5 > threshold 0" in message.get("message", "")


def test_shared_ids_case_from_a_finding_and_a_reference_without_ids(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    from mlqa_debug.analyses.quality.leakage import find_leakage

    current, training = planted(rng, 0)
    training.loc[:11, "id"] = current.loc[:11, "id"].to_numpy()  # 12 ids in both tables
    training.to_parquet(tmp_path / "train.parquet", index=False)
    table = predictions(current)
    reference = load_predictions(tmp_path / "train.parquet", prediction="label")
    (finding,) = find_leakage(table, reference).by_check("shared_ids")
    spec = lib.finding_spec(finding, reference="train.parquet")
    assert spec == lib.QualitySpec("shared_ids", "id", "train.parquet")
    with pytest.raises(CaseError, match="needs the reference it was found against"):
        lib.finding_spec(finding)
    case = lib.build_quality_case(
        table, name="no shared ids", check=spec.check, column=spec.column,
        reference=str(tmp_path / "train.parquet"), cases_dir=tmp_path, flagged=finding.n_rows,
    )  # fmt: skip
    assert (case.metric, case.threshold, case.baseline) == ("rows", 0, 12)
    session = lib.QualitySession(tmp_path)
    result = lib.evaluate_case(table, case, quality=session)
    assert (result.status, result.flagged) == ("fail", 12)
    training.drop(columns=["id"]).to_parquet(tmp_path / "train.parquet", index=False)
    result = lib.evaluate_case(table, case, quality=lib.QualitySession(tmp_path))
    assert result.status == "error"
    assert "the check 'shared_ids' does not apply" in result.reason
    assert "the reference has no id column" in result.reason
    assert "'train.parquet'" in result.reason
