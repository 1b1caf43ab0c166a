"""Command line baselines: ``add --baseline``, ``case add --relative-to``, ``check --baseline``.

Runs ``mlqa_debug.cli.main.main`` (exit codes and messages as a shell sees them) on
the bundled pair: ``loans`` (v1, baseline) and ``loans_v2`` (v2), whose overall
error rate is 0.1666 -> 0.1729.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug import cases as lib
from mlqa_debug.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from mlqa_debug.cli.main import main
from mlqa_debug.data.workspace import Workspace
from tests.conftest import WriteTable

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
LOANS, LOANS_V2 = str(SAMPLES / "loans.csv"), str(SAMPLES / "loans_v2.csv")
V1, V2 = 3332 / 20_000, 3458 / 20_000  # overall error rates: 0.1666 and 0.1729


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cases_dir(tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    return str(tmp_path / "cases")


@pytest.fixture
def relative_cases(cases_dir: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Two relative cases on loans_v2 against loans: margin 0.001 (fails) and 0.01 (passes)."""
    for name, margin, baseline in (("tight", "0.001", "loans"), ("loose", "0.01", LOANS)):
        code, _, err = run(capsys, "case", "add", "loans_v2", "--cases", cases_dir,
                           "--name", name, "--where", "", "--relative-to", baseline,
                           "--margin", margin)  # fmt: skip
        assert (code, err) == (EXIT_OK, "")
    return cases_dir


def test_frame_error_rates_are_as_documented() -> None:
    for path, rate in ((LOANS, V1), (LOANS_V2, V2)):
        frame = pd.read_csv(path)
        assert (frame["label"] != frame["prediction"]).mean() == pytest.approx(rate, abs=1e-12)


# --------------------------------------------------------------------------- case add


def test_case_add_relative(cases_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "case", "add", "loans_v2", "--cases", cases_dir, "--name", "gig",
                       "--where", "employment == 'gig'", "--relative-to", "loans",
                       "--margin", "0.02", "--note", "v2 fixed gig")  # fmt: skip
    assert code == EXIT_OK
    assert "saved case 'gig'" in out and "error_rate <= baseline + 0.02" in out
    assert "baseline 0.3822 on loans" in out and "0.2824 on 1,002 rows of loans_v2" in out
    assert "already worse" not in out
    (case,) = lib.CaseStore(cases_dir).load().cases
    assert case.source.dataset == "loans_v2" and case.reference is not None
    assert case.reference.dataset == "loans" and case.reference.model_version == "1"
    assert (case.margin, case.note, case.source.page) == (0.02, "v2 fixed gig", "cli")


def test_case_add_relative_says_when_it_already_fails(
    cases_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "case", "add", LOANS_V2, "--cases", cases_dir, "--name", "x",
                       "--where", "", "--relative-to", LOANS, "--margin", "0.001")  # fmt: skip
    assert code == EXIT_OK
    assert "already worse than the baseline by more than the margin" in out
    (case,) = lib.CaseStore(cases_dir).load().cases
    assert case.source.dataset is None and case.source.file == "loans_v2.csv"  # a file


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--where", "", "--relative-to", "loans"], "needs both --relative-to OTHER and --margin"),
        (["--where", "", "--margin", "0.01"], "needs both --relative-to OTHER and --margin"),
        (["--ids", "L00001", "--relative-to", "loans", "--margin", "0"], "example sets are not"),
        (["--where", "", "--relative-to", "loans", "--margin", "0", "--max", "0.2"],
         "drop --max/--min"),
        (["--where", "", "--relative-to", "loans", "--margin", "-1"], "margin must be 0 or more"),
        (["--where", "", "--relative-to", "diabetes", "--margin", "0.01"],
         "the baseline 'diabetes.csv' is regression"),
        (["--where", "", "--relative-to", "nope.csv", "--margin", "0.01"],
         "--relative-to 'nope.csv' cannot be loaded: predictions file 'nope.csv' not found"),
    ],
)  # fmt: skip
def test_case_add_relative_bad_input_exits_2(
    cases_dir: str, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = run(capsys, "case", "add", "loans_v2", "--cases", cases_dir, "--name", "x",
                       *extra)  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert message in err


def test_case_list_and_edit_margin(relative_cases: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "case", "list", "--cases", relative_cases)
    assert code == EXIT_OK
    assert "<= baseline + 0.001 (error_rate)" in out and "<= baseline + 0.01 (error_rate)" in out
    code, out, _ = run(
        capsys, "case", "edit", "tight", "--cases", relative_cases, "--margin", "0.02"
    )
    assert code == EXIT_OK and "error_rate <= baseline + 0.02" in out
    assert lib.CaseStore(relative_cases).find("tight").margin == 0.02
    code, _, err = run(capsys, "case", "edit", "tight", "--cases", relative_cases, "--max", "0.3")
    assert code == EXIT_BAD_INPUT and "change it with --margin" in err


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize("baseline", ["loans", LOANS])
def test_check_with_a_baseline(
    relative_cases: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], baseline: str
) -> None:
    junit = tmp_path / "junit.xml"
    code, out, _ = run(capsys, "check", "loans_v2", "--cases", relative_cases,
                       "--baseline", baseline, "--junit", str(junit))  # fmt: skip
    assert code == EXIT_FAILED
    assert "relative cases against the baseline loans.csv (20,000 rows" in out
    rows = {
        line.split()[1]: line.split() for line in out.splitlines() if line[:4] in ("PASS", "FAIL")
    }
    assert rows["tight"][0] == "FAIL" and rows["loose"][0] == "PASS"
    assert "<= 0.1676 (baseline + 0.001)" in out and "<= 0.1766 (baseline + 0.01)" in out
    assert "0.1666*" not in out  # measured, not stored
    assert "FAIL  'tight' failed: error_rate = 0.1729 > 0.1676 = baseline 0.1666" in out
    assert "baseline measured on 'loans.csv', 20,000 rows" in out
    assert out.rstrip().endswith("1 passed, 1 failed, 0 empty, 0 not applicable")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "tight").find("failure")
    assert failure is not None and failure.text is not None
    assert "condition:  error_rate <= baseline + 0.001" in failure.text
    assert "baseline:   0.1666 measured on the baseline table (20,000 rows)" in failure.text
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["baseline.file"] == "loans.csv" and props["baseline.model_version"] == "1"


def test_check_without_a_baseline_uses_the_stored_values(
    relative_cases: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "junit.xml"
    code, out, _ = run(capsys, "check", LOANS_V2, "--cases", relative_cases, "--junit", str(junit))
    assert code == EXIT_FAILED
    assert "relative cases: no --baseline given; * = baseline value stored at save" in out
    assert "0.1666*" in out
    assert "no baseline table given: compared with the baseline value stored at save" in out
    failure = next(ET.parse(junit).getroot().iter("failure"))
    assert "baseline:   0.1666 stored at save (no baseline table given)" in (failure.text or "")


def test_check_json_with_and_without_a_baseline(
    relative_cases: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra, origin in ((["--baseline", "loans"], "table"), ([], "stored")):
        code, out, _ = run(capsys, "check", "loans_v2", "--cases", relative_cases, "--json", *extra)
        data = json.loads(out)
        assert code == EXIT_FAILED == data["exit_code"]
        results = {r["name"]: r for r in data["results"]}
        assert (results["tight"]["status"], results["loose"]["status"]) == ("fail", "pass")
        for r in results.values():
            assert r["relative"] is True and r["baseline_from"] == origin
            assert r["baseline_value"] == pytest.approx(V1, abs=1e-12)
            assert r["value"] == pytest.approx(V2, abs=1e-12)
        assert results["tight"]["threshold"] == pytest.approx(
            results["tight"]["baseline_value"] + 0.001
        )
        assert (data["baseline"] is None) == (origin == "stored")


def test_check_v1_against_v2_as_baseline_passes(
    relative_cases: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "check", "loans", "--cases", relative_cases, "--baseline", "loans_v2"
    )
    assert code == EXIT_OK and "2 passed, 0 failed" in out


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        (
            "nope.csv",
            "--baseline 'nope.csv' cannot be loaded: predictions file 'nope.csv' not found",
        ),
        ("ghost", "--baseline 'ghost' cannot be loaded: no dataset named 'ghost'"),
        ("diabetes", "the baseline 'diabetes.csv' is regression and the predictions"),
        ("BAD", "cannot be loaded: bad.csv: no label column"),
    ],
)
def test_check_with_a_bad_baseline_exits_2(
    relative_cases: str,
    capsys: pytest.CaptureFixture[str],
    write_table: WriteTable,
    baseline: str,
    message: str,
) -> None:
    if baseline == "BAD":
        baseline = str(write_table(pd.DataFrame({"a": [1, 2]}), "bad.csv"))
    code, out, err = run(capsys, "check", "loans_v2", "--cases", relative_cases,
                         "--baseline", baseline)  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert message in err
    assert out == ""


# --------------------------------------------------------------------------- add --baseline


def test_add_with_a_baseline(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(write_table(binary_frame))
    assert run(capsys, "add", path, "--name", "v1")[0] == EXIT_OK
    code, out, err = run(capsys, "add", path, "--name", "v2", "--baseline", "v1")
    assert (code, err) == (EXIT_OK, "")
    assert "registered 'v2'" in out and "default baseline: 'v1'" in out
    assert Workspace(workspace.root).entry("v2").baseline == "v1"
    meta = json.loads((workspace.datasets_dir / "v2" / "dataset.json").read_text())
    assert meta["baseline"] == "v1"
    code, out, _ = run(capsys, "list")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert lines["v2"].endswith("(baseline: v1)") and lines["loans_v2"].endswith(
        "(baseline: loans)"
    )
    assert "baseline" not in lines["v1"]


@pytest.mark.parametrize(
    ("baseline", "message"),
    [("v3", "'v3' cannot be its own baseline"), ("nope", "no dataset named 'nope'")],
)
def test_add_with_a_bad_baseline_exits_2(
    workspace: Workspace,
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    capsys: pytest.CaptureFixture[str],
    baseline: str,
    message: str,
) -> None:
    code, _, err = run(capsys, "add", str(write_table(binary_frame)), "--name", "v3",
                       "--baseline", baseline)  # fmt: skip
    assert code == EXIT_BAD_INPUT and message in err
    assert "v3" not in workspace.names()
