"""JUnit XML, the predict hook and the exported pytest module (run in a subprocess)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.dom.minidom
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlqa_debug import cases as lib
from mlqa_debug.cases import export
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import parse_slice

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"


def make(predictions: Predictions, where: str, name: str, **options: Any) -> lib.Case:
    built = lib.build_case(
        predictions, name=name, where=parse_slice(where), dataset="loans", **options
    )
    return built.case


@pytest.fixture(scope="module")
def library(loans: Predictions, tmp_path_factory: pytest.TempPathFactory) -> lib.CaseStore:
    """Cases saved on loans: v1 passes them all, v2 fails two of the slices."""
    store = lib.CaseStore(tmp_path_factory.mktemp("cases"))
    store.save(make(loans, "employment == 'gig'", "gig workers", note="planted failure (a)"))
    store.save(make(loans, "income >= 150000", "high income"))
    store.save(make(loans, "", "overall error"))
    store.save(make(loans, "term_months == 60", "long loans <recall>", metric="recall[1]"))
    right = loans.frame.loc[loans.frame["label"] == loans.frame["prediction"], "id"][:25]
    golden = lib.build_case(loans, name="golden set", ids=list(right), dataset="loans")
    store.save(golden.case, rows=golden.rows)
    return store


# --------------------------------------------------------------------------- JUnit XML


def parse(xml_bytes: bytes) -> ET.Element:
    xml.dom.minidom.parseString(xml_bytes)  # a second, independent parser must accept it too
    return ET.fromstring(xml_bytes)


def test_junit_for_a_check(library: lib.CaseStore, loans_v2: Predictions) -> None:
    listing = library.load()
    problem = lib.CaseProblem("broken.json", "is not valid JSON: Expecting value")
    report = lib.check_cases(loans_v2, lib.CaseListing(listing.cases, (problem,)))
    root = parse(export.junit_xml(report, properties={"cases": str(library.directory)}))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "2", "1")
    assert root.get("failures") == "2" and suite.get("skipped") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["predictions.file"] == "loans_v2.csv"
    assert props["predictions.model_version"] == "2"
    assert props["cases"] == str(library.directory)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {c.name for c in listing.cases} | {"broken.json"}
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {"overall error", "long loans <recall>"}
    failure = cases["long loans <recall>"].find("failure")
    assert failure is not None and failure.get("type") == "ThresholdFailure"
    message = failure.get("message", "")
    for fragment in ("recall[1] = 0.4111", "< threshold 0.5467", "baseline 0.5582",
                     "5,802 rows", "slice: term_months == 60"):  # fmt: skip
        assert fragment in message
    assert "case id:" in (failure.text or "")
    error = cases["broken.json"].find("error")
    assert error is not None and "not valid JSON" in error.get("message", "")
    passed = cases["gig workers"]
    assert passed.find("failure") is None and "planted failure (a)" in passed.findtext("system-out")
    # CI keys test history on classname + name: the package, as before the move into cases/
    assert {c.get("classname") for c in cases.values()} == {
        "mlqa_debug.cases.slice",
        "mlqa_debug.cases.examples",
        "mlqa_debug.cases.unreadable",
    }


def test_junit_empty_and_not_applicable(loans: Predictions, tmp_path: Path) -> None:
    case = make(loans, "income >= 150000", "rich")
    other = make(loans, "region == 'coastal'", "coastal")
    poorer = loans.frame[loans.frame["income"] < 150_000].drop(columns="region")
    poorer.to_parquet(tmp_path / "p.parquet", index=False)
    from mlqa_debug.data.predictions import load_predictions

    new = load_predictions(tmp_path / "p.parquet")
    report = lib.check_cases(new, lib.CaseListing((case, other), ()))
    suite = parse(export.junit_xml(report)).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    empty = cases["rich"].find("failure")
    assert empty is not None and empty.get("type") == "EmptySlice"
    assert "0 rows; 1,166 at save" in empty.get("message", "")
    skipped = cases["coastal"].find("skipped")
    assert skipped is not None and "unknown column 'region'" in skipped.get("message", "")
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")


@pytest.mark.parametrize(
    "hostile",
    ["<script>&\"'</script>", "]]>", "bell\x07 esc\x1b nul-free \x0b\x0c", "emoji 🚩 \ufffe"],
)
def test_junit_escapes_anything(loans: Predictions, hostile: str) -> None:
    name = "".join(ch for ch in hostile if ch >= " ")  # names refuse control characters
    case = make(loans, "age < 25", name, note=hostile)  # notes keep them
    report = lib.CheckReport(
        (lib.CaseResult(case, "fail", 0.9, 3, reason=hostile),),
        (lib.CaseProblem(f"{hostile}.json", hostile),),
        {"file": hostile},
    )
    root = parse(export.junit_xml(report))
    testcase = root.find("testsuite/testcase")
    assert testcase is not None and testcase.get("name") == export.xml_text(case.name)
    failure = testcase.find("failure")
    assert failure is not None and export.xml_text(hostile) in (failure.text or "")


def test_xml_text_replaces_what_xml_cannot_hold() -> None:
    assert export.xml_text("a\x00b\x1fc\ud800d\ufffee") == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert export.xml_text("tab\tnew\nline\r🚩") == "tab\tnew\nline\r🚩"


def test_write_junit(tmp_path: Path) -> None:
    report = lib.CheckReport(())
    path = export.write_junit(tmp_path / "deep" / "er" / "junit.xml", report)
    assert parse(path.read_bytes()).get("tests") == "0"
    (tmp_path / "blocker").write_text("a file")
    with pytest.raises(CaseError, match="cannot write the JUnit report"):
        export.write_junit(tmp_path / "blocker" / "junit.xml", report)


# --------------------------------------------------------------------------- predict hook


def test_import_predict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "team_hook.py").write_text("def predict(rows):\n    return [0] * len(rows)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert export.import_predict(" team_hook:predict ")(pd.DataFrame({"a": [1, 2]})) == [0, 0]
    for spec, message in [
        ("team_hook", "must look like"),
        ("os; import x:y", "must look like"),
        ("no_such_module_xyz:predict", "cannot import"),
        ("team_hook:nope", "has no function 'nope'"),
    ]:
        with pytest.raises(CaseError, match=message):
            export.import_predict(spec)


def test_check_with_predict(loans: Predictions) -> None:
    built = lib.build_case(loans, name="five", ids=list(loans.frame["id"][:5]))
    case, rows = built.case, built.rows
    assert rows is not None
    labels = rows["label"].to_numpy()
    right = export.check_with_predict(case, rows, lambda df: labels.copy())
    assert (right.status, right.value, right.rows) == ("pass", 0.0, 5)
    flipped = export.check_with_predict(case, rows, lambda df: 1 - labels)
    assert flipped.status == "fail" and flipped.value == 5
    assert "5 of 5 examples predicted wrong, at most" in flipped.message
    seen: list[list[str]] = []
    export.check_with_predict(case, rows, lambda df: seen.append(list(df.columns)) or labels)
    assert seen == [list(loans.schema.features)]  # only the feature columns, in order
    short = export.check_with_predict(case, rows, lambda df: labels[:2])
    assert short.status == "fail" and "expected (5,)" in short.reason
    boom = export.check_with_predict(case, rows, lambda df: 1 / 0)
    assert boom.status == "fail" and "ZeroDivisionError" in boom.reason
    with pytest.raises(CaseError, match="is a slice"):
        export.check_with_predict(make(loans, "age < 25", "s"), rows, lambda df: labels)


def test_check_with_predict_regression(sample_workspace: Workspace) -> None:
    diabetes = sample_workspace.load("diabetes")
    built = lib.build_case(diabetes, name="ten", ids=list(diabetes.frame["id"][:10]))
    assert built.rows is not None and built.case.error_threshold is not None
    labels = built.rows["label"].to_numpy()
    limit = built.case.error_threshold
    result = export.check_with_predict(
        built.case, built.rows, lambda df: labels + limit * 1.01 * (df.index % 2)
    )
    assert result.value == 5  # every second row is off by just over the frozen threshold


# --------------------------------------------------------------------------- export


ALLOWED_IMPORTS = {"__future__", "os", "pathlib", "pytest", "mlqa_debug"}


def test_export_writes_a_self_contained_folder(library: lib.CaseStore, tmp_path: Path) -> None:
    result = export.export_cases(library, tmp_path / "out")
    out = result.out
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    ids = [c.id for c in library.load().cases]
    golden = next(c for c in library.load().cases if c.examples is not None)
    expected = {f"cases/{i}.json" for i in ids} | {f"cases/{golden.id}.parquet"}
    assert set(names) == expected | {export.MODULE_NAME, "conftest.py", "README.md"}
    assert result.n_cases == 5
    for name in (export.MODULE_NAME, "conftest.py"):
        tree = ast.parse((out / name).read_text())
        top = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                top |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                top.add(node.module.split(".")[0])
        assert top <= ALLOWED_IMPORTS, top
    module = ast.parse((out / export.MODULE_NAME).read_text())
    from_package = {
        (node.module, alias.name)
        for node in ast.walk(module)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlqa_debug")
        for alias in node.names
    }  # the package's public names, never a module inside it
    assert from_package == {("mlqa_debug", "cases"), ("mlqa_debug.errors", "MlqaError")}
    assert lib.CaseStore(out / "cases", create=False).load().cases == library.load().cases


def test_export_refuses_to_clobber(library: lib.CaseStore, tmp_path: Path) -> None:
    out = tmp_path / "suite"
    out.mkdir()
    (out / "conftest.py").write_text("# the team's own conftest\n")
    with pytest.raises(CaseError, match="was not written by mlqa-debug export"):
        export.export_cases(library, out)
    assert (out / "conftest.py").read_text() == "# the team's own conftest\n"
    (out / "conftest.py").unlink()
    (out / "cases").mkdir()
    (out / "cases" / "notes.txt").write_text("mine")
    with pytest.raises(CaseError, match="not case fixtures"):
        export.export_cases(library, out)
    export.export_cases(library, out, force=True)
    assert not (out / "cases" / "notes.txt").exists()


def test_reexport_follows_the_library(loans: Predictions, tmp_path: Path) -> None:
    store = lib.CaseStore(tmp_path / "lib")
    first = store.save(make(loans, "age < 25", "young"))
    store.save(make(loans, "age >= 60", "old"))
    out = tmp_path / "out"
    export.export_cases(store, out)
    store.delete(first.id)
    export.export_cases(store, out)  # our own files are replaced without --force
    assert [c.name for c in lib.CaseStore(out / "cases").load().cases] == ["old"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _fixtures(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fails", ["new into place", "old back too"])
def test_failed_final_rename_keeps_the_previous_export(
    loans: Predictions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    store = lib.CaseStore(tmp_path / "lib")
    first = store.save(make(loans, "age < 25", "young"))
    out = tmp_path / "out"
    export.export_cases(store, out)
    before = _fixtures(out / "cases")
    store.delete(first.id)
    store.save(make(loans, "age >= 60", "old"))
    rename = Path.rename

    def failing_rename(self: Path, target: str | os.PathLike[str]) -> Path:
        moving_new = self.name.startswith(".cases-new-")
        moving_old_back = self.parent.name.startswith(".cases-old-")
        if moving_new or (fails == "old back too" and moving_old_back):
            raise OSError(5, "Input/output error")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(CaseError, match="Input/output error") as raised:
        export.export_cases(store, out)
    monkeypatch.undo()
    leftovers = [p for p in out.iterdir() if p.name.startswith(".")]
    if fails == "new into place":  # the previous cases are back at their path, nothing hidden
        assert _fixtures(out / "cases") == before
        assert leftovers == []
    else:  # the previous cases cannot go back: kept aside, and the error says where
        assert [p.name.startswith(".cases-old-") for p in leftovers] == [True]
        assert _fixtures(leftovers[0] / "cases") == before
        assert f"could not be moved back and are in {str(leftovers[0] / 'cases')!r}" in str(
            raised.value
        )


def test_export_refuses_a_broken_or_empty_library(tmp_path: Path) -> None:
    store = lib.CaseStore(tmp_path / "lib")
    with pytest.raises(CaseError, match="no cases"):
        export.export_cases(store, tmp_path / "out")
    (store.directory / "bad.json").write_text("{")
    with pytest.raises(CaseError, match=r"unreadable case files first: bad\.json"):
        export.export_cases(store, tmp_path / "out")


def run_pytest(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, ET.Element]:
    """pytest on the exported folder in a fresh process; its exit code and JUnit report."""
    report = folder.parent / "result.xml"
    command = [sys.executable, "-m", "pytest", str(folder), "-p", "no:cacheprovider", "-q",
               f"--junitxml={report}", *args]  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MLQA_")} | (env or {})
    done = subprocess.run(
        command, cwd=folder.parent, env=full_env, capture_output=True, text=True, timeout=240
    )
    assert report.exists(), done.stdout + done.stderr
    return done.returncode, ET.parse(report).getroot()


def outcomes(root: ET.Element) -> dict[str, str]:
    found = {}
    for case in root.iter("testcase"):
        name = case.get("name", "").removeprefix("test_regression_case[").removesuffix("]")
        kind = next((c.tag for c in case if c.tag in ("failure", "skipped", "error")), "passed")
        found[name] = kind
    return found


@pytest.fixture(scope="module")
def exported(library: lib.CaseStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported folder inside a project of its own (no pytest config from this repo)."""
    project = tmp_path_factory.mktemp("team_project")
    (project / "pytest.ini").write_text("[pytest]\n")
    return export.export_cases(library, project / "regression_cases").out


@pytest.mark.slow
def test_exported_module_passes_on_the_model_the_cases_came_from(exported: Path) -> None:
    code, root = run_pytest(exported, f"--mlqa-predictions={SAMPLES / 'loans.csv'}")
    assert code == 0
    assert set(outcomes(root).values()) == {"passed"} and len(outcomes(root)) == 5


@pytest.mark.slow
def test_exported_module_fails_on_the_second_model(exported: Path) -> None:
    code, root = run_pytest(exported, env={"MLQA_PREDICTIONS": str(SAMPLES / "loans_v2.csv")})
    assert code == 1
    assert outcomes(root) == {
        "gig workers": "passed",
        "high income": "passed",
        "overall error": "failure",
        "long loans <recall>": "failure",
        "golden set": "passed",
    }
    failure = next(
        c.find("failure") for c in root.iter("testcase") if "overall error" in c.get("name", "")
    )
    assert failure is not None
    message = failure.get("message", "")
    assert "'overall error' failed: error_rate = 0.1729 > threshold 0.1716" in message
    assert "slice: all rows" in message


@pytest.mark.slow
def test_exported_module_skips_without_predictions_and_uses_the_hook(exported: Path) -> None:
    code, root = run_pytest(exported)
    assert code == 0 and set(outcomes(root).values()) == {"skipped"}
    skipped = next(root.iter("skipped"))
    assert "--mlqa-predictions" in skipped.get("message", "")
    hook = exported.parent / "team_model.py"
    hook.write_text(
        "import joblib\n"
        f"MODEL = joblib.load({str(SAMPLES / 'loans_v2_model.joblib')!r})\n"
        "def predict(rows):\n"
        "    return MODEL.predict(rows)\n"
    )
    code, root = run_pytest(
        exported, env={"MLQA_PREDICT": "team_model:predict", "PYTHONPATH": str(hook.parent)}
    )
    result = outcomes(root)
    assert result["golden set"] in ("passed", "failure")  # checked by the model, not skipped
    assert {k: v for k, v in result.items() if k != "golden set"} == {
        "gig workers": "skipped",
        "high income": "skipped",
        "overall error": "skipped",
        "long loans <recall>": "skipped",
    }
    expected = _golden_errors_with_v2(exported)
    assert result["golden set"] == ("passed" if expected == 0 else "failure")
    assert code == (0 if expected == 0 else 1)


def _golden_errors_with_v2(exported: Path) -> int:
    """Reference: the v2 model's own predictions for the golden ids, from loans_v2.csv."""
    store = lib.CaseStore(exported / "cases", create=False)
    golden = next(c for c in store.load().cases if c.examples is not None)
    assert golden.examples is not None
    v2 = pd.read_csv(SAMPLES / "loans_v2.csv")
    rows = v2[v2["id"].isin(golden.examples.ids)]
    return int((rows["label"] != rows["prediction"]).sum())
