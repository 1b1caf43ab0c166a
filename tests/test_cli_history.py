"""``check --record`` and ``mlqa-debug history``: records, trends, JSON, Markdown, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlqa_debug import cases as lib
from mlqa_debug.cli.main import main
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.history import HistoryStore, Record
from mlqa_debug.slicing import parse_slice


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    for name in (lib.ENV_CASES, "MLQA_DEBUG_HISTORY", "BUILD_NUMBER", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    return Workspace(tmp_path / "ws")


@pytest.fixture
def case(workspace: Workspace) -> lib.Case:
    new = lib.build_case(
        workspace.load("loans"), name="gig", where=parse_slice("employment == 'gig'")
    )
    return lib.CaseStore(workspace.cases_dir).save(new.case)


def plant_drift(history: Path, case: lib.Case, values: list[float]) -> None:
    """Earlier runs of ``case`` whose error rate rose steadily (all passing)."""
    HistoryStore(history).append(
        [
            Record(
                time=f"2026-01-{i + 1:02d}T00:00:00.000000Z",
                run_id=f"old-{i}",
                case_id=case.id,
                case_name=case.name,
                metric=case.metric,
                op=case.op,
                status="pass",
                threshold=case.threshold,
                value=v,
                dataset="loans",
                model_version=f"v{i}",
            )
            for i, v in enumerate(values)
        ]
    )


def test_record_appends_one_record_per_case(
    workspace: Workspace, case: lib.Case, capsys: pytest.CaptureFixture[str]
) -> None:
    for version in ("1.0", "1.1"):
        assert main(["check", "loans", "--record", "--model-version", version]) == 0
    lines = (workspace.root / "history" / "history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["model_version"] for r in records] == ["1.0", "1.1"]
    r = records[0]
    assert (r["case_id"], r["case_name"], r["dataset"], r["status"]) == (
        case.id,
        "gig",
        "loans",
        "pass",
    )
    assert r["interval"][0] < r["value"] < r["interval"][1]
    assert r["threshold"] == case.threshold and r["fingerprint"]
    assert "recorded 1 result(s)" in capsys.readouterr().err


def test_degrading_case_is_flagged_while_it_passes(
    workspace: Workspace, case: lib.Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "hist"
    base = case.baseline - 0.05
    plant_drift(history, case, [base + 0.008 * i for i in range(6)])  # then today's value
    junit = tmp_path / "r.xml"
    code = main(
        [
            "check",
            "loans",
            "--record",
            "--history",
            str(history),
            "--junit",
            str(junit),
            "--run-id",
            "today",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0  # it passes ...
    assert "degrading" in out and "DEGRADING  'gig' (PASS): error_rate rising" in out  # ... flagged
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(junit).getroot().iter("testcase").__next__().iter("property")
    }
    assert props["trend"] == "degrading"
    assert float(props["threshold"]) == case.threshold
    assert float(props["baseline"]) == pytest.approx(case.baseline, abs=1e-6)
    assert float(props["value"]) == pytest.approx(case.baseline, abs=1e-6)

    assert main(["history", "--history", str(history), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["cases"]
    assert (entry["id"], entry["name"], entry["trend"]) == (case.id, "gig", "degrading")
    assert [r["run_id"] for r in entry["runs"]] == [*(f"old-{i}" for i in range(6)), "today"]
    assert set(entry["runs"][0]) >= {
        "time",
        "run_id",
        "model_version",
        "value",
        "threshold",
        "status",
    }

    assert main(["history", "--history", str(history), "--markdown", "--last", "3"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## Regression cases over time") and "| 3 |" in md
    assert "### Degrading" in md and "still passing" in md


def test_history_restricted_to_the_cases_directory_uses_current_names(
    workspace: Workspace, case: lib.Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "hist"
    plant_drift(history, case, [0.1, 0.1, 0.1])
    lib.CaseStore(workspace.cases_dir).update(case.id, name="gig renamed")
    assert main(["history", "--history", str(history), "--cases", str(workspace.cases_dir)]) == 0
    assert "gig renamed" in capsys.readouterr().out
    assert (
        main(
            [
                "history",
                "--history",
                str(history),
                "--case",
                "gig renamed",
                "--json",
                "--cases",
                str(workspace.cases_dir),
            ]
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["cases"]) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--case", "nope"], "no case 'nope'"),
        (["--last", "0"], "--last must be 1 or more"),
    ],
)
def test_bad_input_exits_2(
    case: lib.Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    plant_drift(tmp_path / "hist", case, [0.1])
    assert main(["history", "--history", str(tmp_path / "hist"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_missing_or_empty_history_exits_2(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--history", str(tmp_path / "none")]) == 2
    assert "no history folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["history", "--history", str(tmp_path / "empty")]) == 2
    assert "check --cases DIR PREDICTIONS --record" in capsys.readouterr().err


def test_corrupt_line_warns_on_stderr(
    case: lib.Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant_drift(tmp_path / "hist", case, [0.1, 0.1])
    with (tmp_path / "hist" / "history.jsonl").open("a") as f:
        f.write("not json\n")
    assert main(["history", "--history", str(tmp_path / "hist")]) == 0
    assert "warning: history.jsonl, line 3: not valid JSON" in capsys.readouterr().err


def test_check_without_record_writes_nothing(
    workspace: Workspace, case: lib.Case, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "loans"]) == 0
    assert not (workspace.root / "history").exists()
    assert "TREND" not in capsys.readouterr().out
