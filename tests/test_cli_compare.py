"""``mlqa-debug compare BASELINE CANDIDATE``: output, JSON, Markdown, JUnit and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mlqa_debug.cli.main import main
from mlqa_debug.data.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
LOANS, LOANS_V2 = str(SAMPLES / "loans.csv"), str(SAMPLES / "loans_v2.csv")
UNEMPLOYED = "employment == 'unemployed'"
GIG = "employment == 'gig'"


@pytest.fixture(autouse=True)
def _workspace(workspace: Workspace) -> Workspace:
    """Every test runs against an empty workspace (the built-in samples are there)."""
    return workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``mlqa-debug ARGV`` in process: (exit code, stdout, stderr); argparse errors exit 2."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *argv, "--json")
    assert code in (0, 1), err
    return code, json.loads(out, parse_constant=_refuse)


def _refuse(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name}")


def test_loans_pair_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "compare", "loans", "loans_v2")
    assert code == 0  # a regression, but --fail-on-regression was not given
    assert data["regression"] is True and data["verdict"] == "Regression"
    assert data["slices"][0]["slice"] == UNEMPLOYED
    assert data["rows"] == 20_000
    assert (data["only_in_baseline"], data["only_in_candidate"], data["label_mismatches"]) == (
        0, 0, 0)  # fmt: skip
    assert (data["flips"]["broken"], data["flips"]["fixed"]) == (766, 640)
    error = data["overall"]["error_rate"]
    assert error["baseline"] == pytest.approx(0.1666, abs=5e-5)
    assert error["candidate"] == pytest.approx(0.1729, abs=5e-5)
    assert error["p_value"] == pytest.approx(0.0009, abs=2e-4)
    assert data["candidate"]["name"] == "loans_v2" and data["baseline"]["name"] == "loans"


def test_fail_on_regression_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "loans", "loans_v2", "--fail-on-regression")
    assert code == 1
    assert out.startswith("Regression: candidate loans_v2")
    assert "where it got worse:" in out and UNEMPLOYED in out


def test_where_gig_shows_an_improvement(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "compare", "loans", "loans_v2", "--where", GIG,
                          "--fail-on-regression")  # fmt: skip
    assert code == 0
    assert data["verdict"] == "Improvement" and data["regression"] is False
    error = data["overall"]["error_rate"]
    assert error["baseline"] == pytest.approx(0.382, abs=5e-4)
    assert error["candidate"] == pytest.approx(0.282, abs=5e-4)
    assert error["difference"] < 0 and error["p_value"] < 0.05


def test_same_table_twice_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "loans", "loans", "--fail-on-regression")
    assert code == 0 and out.startswith("No significant difference")


def test_files_work_like_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "compare", LOANS, LOANS_V2)
    assert code == 0 and data["slices"][0]["slice"] == UNEMPLOYED
    assert (data["baseline"]["name"], data["candidate"]["name"]) == ("loans.csv", "loans_v2.csv")


def test_options_reach_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, data = run_json(capsys, "compare", "loans", "loans_v2", "--alpha", "0.01",
                       "--min-size", "2000", "--correction", "bh")  # fmt: skip
    assert (data["alpha"], data["min_size"], data["correction"]) == (0.01, 2000, "bh")
    assert all(s["size"] >= 2000 for s in data["slices"])
    assert data["slices_hidden"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "nope.csv", "loans_v2"], "baseline predictions file 'nope.csv' not found"),
        (["compare", "loans", "no_such_dataset"], "no dataset named 'no_such_dataset'"),
        (["compare", "loans", "diabetes"], "binary"),
        (["compare", "loans", "loans_v2", "--where", "nosuch == 1"], "nosuch"),
        (["compare", "loans", "loans_v2", "--where", "age >"], ""),
        (["compare", "loans", "loans_v2", "--where", "age > 1000"], "selects none"),
        (["compare", "loans", "loans_v2", "--alpha", "1.5"], "alpha"),
        (["compare", "loans", "loans_v2", "--alpha", "0"], "alpha"),
        (["compare", "loans", "loans_v2", "--alpha", "x"], "invalid float"),
        (["compare", "loans", "loans_v2", "--min-size", "0"], "minimum slice size"),
        (["compare", "loans", "loans_v2", "--correction", "none"], "invalid choice"),
        (["compare", "loans", "loans_v2", "--json", "--markdown"], "not allowed with"),
        (["compare", "loans", "loans_v2", "--markdown", "--link-base", "javascript:x"], "http"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv, "--fail-on-regression")
    assert code == 2
    assert message in err and "Traceback" not in err
    assert out == ""


def test_junit_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "reports" / "compare.xml"
    code, data = run_json(capsys, "compare", "loans", "loans_v2", "--junit", str(target))
    assert code == 0
    root = ET.parse(target).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    checked = [s for s in data["slices"] if s["kind"] not in ("all rows", "current slice")]
    assert set(cases) == {"overall", *(s["slice"] for s in checked)}
    failed = {name for name, c in cases.items() if c.find("failure") is not None}
    assert failed == {"overall", *(s["slice"] for s in checked if s["significant"])}
    assert UNEMPLOYED in failed and GIG not in failed
    assert root.get("tests") == str(len(cases)) and root.get("failures") == str(len(failed))


def test_junit_where_gig_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "gig.xml"
    code, _, err = run(capsys, "compare", "loans", "loans_v2", "--where", GIG,
                       "--junit", str(target), "--fail-on-regression")  # fmt: skip
    assert code == 0 and "JUnit report" in err
    root = ET.parse(target).getroot()
    assert root.get("failures") == "0" and int(root.get("tests", "0")) > 1


def test_markdown_with_links(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compare", "loans", "loans_v2", "--markdown",
                         "--link-base", "https://mlqa.example.com")  # fmt: skip
    assert code == 0 and err == ""
    assert out.startswith("### Model comparison: Regression\n")
    link = "https://mlqa.example.com/compare?ds=loans_v2&vs=loans&slice="
    assert f"[{UNEMPLOYED}]({link}employment%20%3D%3D%20%27unemployed%27)" in out


def test_markdown_links_from_files_warn(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compare", LOANS, LOANS_V2, "--markdown",
                         "--link-base", "https://mlqa.example.com")  # fmt: skip
    assert code == 0 and "workspace datasets" in err and "](https://mlqa.example.com" in out


def test_discover_lists_newly_failing_slices(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "compare", "loans", "loans_v2", "--discover")
    assert code == 0 and data["newly_failing"]["slices"]
    code, out, _ = run(capsys, "compare", "loans", "loans_v2", "--discover")
    assert "where it newly fails" in out


def test_help_lists_compare(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", "--help")
    assert code == 0 and "--fail-on-regression" in out and "--link-base" in out


@pytest.mark.slow
def test_whole_process(tmp_path: Path) -> None:
    """The installed entry point: a real process, its exit code and its JSON on stdout."""
    env = {
        "MLQA_DEBUG_WORKSPACE": str(tmp_path / "ws"),
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "mlqa_debug.cli", "compare", "loans", "loans_v2", "--json",
         "--fail-on-regression"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["slices"][0]["slice"] == UNEMPLOYED
