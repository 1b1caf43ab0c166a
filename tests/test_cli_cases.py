"""The case sub-commands: ``case add|list|edit|rm``, ``check`` and ``export``."""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlqa_debug import cases as lib
from mlqa_debug.cli.cases import add_commands, format_table
from mlqa_debug.errors import MlqaError

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
LOANS, LOANS_V2 = str(SAMPLES / "loans.csv"), str(SAMPLES / "loans_v2.csv")


def build() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlqa-debug")
    add_commands(parser.add_subparsers(dest="command", required=True), ws_help="workspace")
    return parser


def run(*argv: str) -> int:
    """What ``mlqa_debug.cli.main.main`` does: run the handler, MlqaError -> message and exit 2."""
    args = build().parse_args(argv)
    try:
        return int(args.handler(args))
    except MlqaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


@pytest.fixture
def cases_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    return tmp_path / "cases"


@pytest.fixture
def library(cases_dir: Path) -> Path:
    """Four cases saved from loans (v1): two slices v2 fails, one it passes, one example set."""
    d = str(cases_dir)
    assert (
        run("case", "add", "loans", "--cases", d, "--name", "gig", "--where", "employment == 'gig'")
        == 0
    )
    assert run("case", "add", LOANS, "--cases", d, "--name", "overall", "--where", "") == 0
    assert run("case", "add", "loans", "--cases", d, "--name", "long loans",
               "--where", "term_months == 60", "--metric", "recall[positive]") == 0  # fmt: skip
    assert run("case", "add", "loans", "--cases", d, "--name", "three",
               "--ids", "L00001, L00003,L00005", "--max", "1") == 0  # fmt: skip
    return cases_dir


def test_add_prints_the_case(cases_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run("case", "add", "loans", "--cases", str(cases_dir), "--name", "gig",
               "--where", "employment=='gig'", "--note", "planted")  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "saved case 'gig'" in out and "error_rate <= 0.3973" in out
    assert "baseline 0.3822 on 1,002 rows" in out
    (case,) = lib.CaseStore(cases_dir).load().cases
    assert (case.where, case.note, case.source.dataset, case.source.page) == (
        "employment == 'gig'", "planted", "loans", "cli")  # fmt: skip


def test_explicit_thresholds(cases_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(cases_dir)
    assert run("case", "add", "loans", "--cases", d, "--name", "a", "--where", "age < 25",
               "--metric", "accuracy", "--min", "0.7") == 0  # fmt: skip
    assert run("case", "add", "loans", "--cases", d, "--name", "b", "--where", "age < 25",
               "--max", "0.01") == 0  # fmt: skip
    assert "the baseline already fails this threshold" in capsys.readouterr().out
    thresholds = {c.name: (c.metric, c.op, c.threshold) for c in lib.CaseStore(d).load().cases}
    assert thresholds == {"a": ("accuracy", ">=", 0.7), "b": ("error_rate", "<=", 0.01)}


def test_list(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run("case", "list", "--cases", str(library)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "SLICE"]
    assert len(lines) == 5
    assert "3 examples (by id)" in out and ">= 0.5467 (recall[1])" in out
    assert run("case", "list", "--cases", str(library), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(c["name"] for c in data["cases"]) == ["gig", "long loans", "overall", "three"]
    assert data["problems"] == []


def test_list_reports_unreadable_files(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (library / "broken.json").write_text("{")
    capsys.readouterr()
    assert run("case", "list", "--cases", str(library)) == 0
    captured = capsys.readouterr()
    assert "unreadable: broken.json: is not valid JSON" in captured.err
    assert "gig" in captured.out


def test_edit_and_rm_keep_ids(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(library)
    before = {c.name: c.id for c in lib.CaseStore(d).load().cases}
    assert run("case", "edit", "gig", "--cases", d, "--name", "gig workers", "--max", "0.35",
               "--note", "v2 fixed it") == 0  # fmt: skip
    edited = lib.CaseStore(d).get(before["gig"])
    assert (edited.name, edited.threshold, edited.note) == ("gig workers", 0.35, "v2 fixed it")
    assert run("case", "rm", "--cases", d, before["three"]) == 0  # by id
    assert run("case", "rm", "--cases", d, "OVERALL") == 0  # by name, any case
    assert [c.name for c in lib.CaseStore(d).load().cases] == ["gig workers", "long loans"]
    assert "removed case 'overall'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["case", "add", "loans", "--name", "x", "--where", "age >"], "expected a value"),
        (["case", "add", "loans", "--name", "x", "--where", "nope == 1"], "unknown column 'nope'"),
        (["case", "add", "loans", "--name", "x", "--where", "age > 200"], "slice is empty"),
        (["case", "add", "loans", "--name", "x", "--where", "", "--metric", "accuracy",
          "--max", "0.9"], "higher is better, so its threshold is given with --min"),
        (["case", "add", "loans", "--name", "x", "--where", "", "--metric", "bias"],
         "cannot be a regression case"),
        (["case", "add", "loans", "--name", "x", "--ids", "L00001", "--metric", "accuracy"],
         "checked by n_wrong"),
        (["case", "add", "loans", "--name", "x", "--ids", "L00001,NOPE"], "not in this dataset"),
        (["case", "add", "nope.csv", "--name", "x", "--where", ""], "'nope.csv' not found"),
        (["case", "add", "../etc", "--name", "x", "--where", ""], "not found"),
        (["case", "add", "loans", "--name", " ", "--where", ""], "needs a name"),
        (["case", "add", "loans", "--name", "x", "--where", "", "--max", "nan"], "finite"),
        (["case", "rm", "nope"], "no case named 'nope'"),
        (["case", "edit", "gig"], "nothing to change"),
        (["check", "nope.parquet"], "not found"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(
    library: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(*argv, "--cases", str(library)) == 2
    assert message in capsys.readouterr().err


def test_duplicate_names_are_refused(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("case", "add", "loans", "--cases", str(library), "--name", "GIG", "--where", "") == 2
    assert "a case named 'gig' exists already" in capsys.readouterr().err


def test_check_second_model(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "reports" / "junit.xml"
    capsys.readouterr()
    code = run("check", LOANS_V2, "--cases", str(library), "--junit", str(junit))
    out = capsys.readouterr().out
    assert code == 1
    table = {line.split()[1]: line.split()[0] for line in out.splitlines()[3:7]}
    assert table == {"gig": "PASS", "overall": "FAIL", "long": "FAIL", "three": "PASS"}
    assert "FAIL  'overall' failed: error_rate = 0.1729 > threshold 0.1716" in out
    assert out.rstrip().endswith("2 passed, 2 failed, 0 empty, 0 not applicable")
    assert "against loans_v2.csv (20,000 rows" in out and "model loans-hgb 2" in out
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "2")
    failed = sorted(c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None)
    assert failed == ["long loans", "overall"]
    message = next(f.get("message") for f in suite.iter("failure") if "recall" in f.get("message"))
    assert "recall[1] = 0.4111 < threshold 0.5467" in message
    assert "baseline 0.5582 on 5,802 rows" in message and "slice: term_months == 60" in message


def test_check_first_model_passes(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("check", "loans", "--cases", str(library)) == 0
    assert "4 passed, 0 failed" in capsys.readouterr().out


def test_check_json(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run("check", LOANS_V2, "--cases", str(library), "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1
    assert data["summary"] == {"pass": 2, "fail": 2, "empty": 0, "not_applicable": 0,
                               "unreadable": 0}  # fmt: skip
    overall = next(r for r in data["results"] if r["name"] == "overall")
    assert overall["value"] == pytest.approx(0.1729) and overall["threshold"] == 0.1716


def test_check_reports_unreadable_cases_and_still_checks_the_rest(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (library / "hand-edited.json").write_text('{"schema_version": 1, "id": "hand-edited"}')
    junit = tmp_path / "j.xml"
    capsys.readouterr()
    assert run("check", "loans", "--cases", str(library), "--junit", str(junit)) == 2
    out = capsys.readouterr().out
    assert "UNREADABLE  hand-edited.json: field 'kind' is missing" in out
    assert "4 passed" in out and "1 unreadable" in out
    errors = list(ET.parse(junit).getroot().iter("error"))
    assert len(errors) == 1 and "hand-edited.json" in errors[0].get("message", "")


def test_check_missing_or_empty_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("check", LOANS, "--cases", str(tmp_path / "nope")) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run("check", LOANS, "--cases", str(tmp_path / "empty")) == 2
    assert "nothing to check" in capsys.readouterr().err


def test_check_strict_and_not_applicable(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("check", "digits", "--cases", str(library)) == 0  # nothing applies to digits
    out = capsys.readouterr().out
    assert "0 passed, 0 failed, 0 empty, 4 not applicable" in out
    assert run("check", "digits", "--cases", str(library), "--strict") == 1


def test_cases_dir_from_environment_and_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    assert run("case", "add", "loans", "--name", "a", "--where", "") == 0
    assert [c.name for c in lib.CaseStore(tmp_path / "ws" / "cases").load().cases] == ["a"]
    monkeypatch.setenv(lib.ENV_CASES, str(tmp_path / "repo_cases"))
    assert run("case", "add", "loans", "--name", "b", "--where", "") == 0
    assert [c.name for c in lib.CaseStore(tmp_path / "repo_cases").load().cases] == ["b"]
    other = tmp_path / "flag"
    assert run("case", "add", "loans", "--name", "c", "--where", "", "--cases", str(other)) == 0
    assert [c.name for c in lib.CaseStore(other).load().cases] == ["c"]


def test_export_command(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exported"
    capsys.readouterr()
    assert run("export", "--cases", str(library), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "exported 4 case(s)" in printed and "test_mlqa_regression_cases.py" in printed
    assert (out / "conftest.py").is_file() and len(list((out / "cases").glob("*.json"))) == 4
    (out / "conftest.py").write_text("# mine\n")
    assert run("export", "--cases", str(library), "--out", str(out)) == 2
    assert run("export", "--cases", str(library), "--out", str(out), "--force") == 0


def test_format_table_clips_long_cells() -> None:
    text = format_table(["A", "B"], [["x" * 100, "multi\nline"]], limit=10)
    assert text.splitlines() == ["A           B", "xxxxxxx...  multi line"]
