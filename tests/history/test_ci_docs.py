"""docs/ci.md, end to end: its commands, its Jenkinsfile's and its workflow's steps, run in a
temporary git repository with a remote, against the sample data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"
BIN = Path(sys.executable).parent


def fenced(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def documented_scripts() -> dict[str, str]:
    """The shell of each documented way: the command block, Jenkins' sh step, the workflow's."""
    (commands,) = fenced("bash")
    (groovy,) = fenced("groovy")
    (jenkins,) = re.findall(r"sh '''\n(.*?)'''", groovy, flags=re.S)
    (workflow,) = fenced("yaml")
    step = re.search(
        r"- name: check the cases and record them\n\s+run: \|\n(.*?)\n\s+- name:",
        workflow,
        flags=re.S,
    )
    assert step is not None
    return {"commands": commands, "jenkins": jenkins, "github": textwrap.dedent(step.group(1))}


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.com",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def cli(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "mlqa_debug.cli", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A model repository with cases and predictions, cloned from a bare remote."""
    remote, work = tmp_path / "remote.git", tmp_path / "project"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "BUILD_", "MLQA_"))}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(REPO),
        "MLQA_DEBUG_WORKSPACE": str(tmp_path / "ws"),
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.com",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.com",
    }
    (work / "build").mkdir()
    shutil.copy(REPO / "sample_data" / "loans.csv", work / "build" / "predictions.csv")
    shutil.copy(REPO / "sample_data" / "loans.mlqa.toml", work / "build" / "predictions.mlqa.toml")
    cli(
        "case",
        "add",
        "loans",
        "--name",
        "gig",
        "--where",
        "employment == 'gig'",
        "--cases",
        "regression_cases",
        cwd=work,
        env=env,
    )
    git("add", ".", cwd=work)
    git("commit", "-qm", "cases", cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    return work, remote, env


def run_script(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_three_documented_ways_agree() -> None:
    scripts = documented_scripts()
    check = next(line for line in scripts["commands"].splitlines() if "mlqa-debug check" in line)
    assert "--record" in check and "--junit" in check
    assert all(check in s for s in scripts.values())


def test_documented_steps_run_end_to_end(project: tuple[Path, Path, dict[str, str]]) -> None:
    work, remote, env = project
    scripts = documented_scripts()
    builds = {
        "commands": {},
        "jenkins": {"BUILD_NUMBER": "7", "BUILD_URL": "https://ci.example.com/job/m/7/"},
        "github": {
            "GITHUB_RUN_ID": "99",
            "GITHUB_SHA": "ab" * 20,
            "GITHUB_STEP_SUMMARY": str(work.parent / "summary.md"),
        },
    }
    for i, (name, script) in enumerate(scripts.items()):
        run_env = env | {"PREDICTIONS": "build/predictions.csv", "MODEL_VERSION": f"v{i}"}
        result = run_script(script, work, run_env | builds[name])
        assert result.returncode == 0, (name, result.stderr)
        suite = ET.parse(work / "reports" / "mlqa-cases.xml").getroot()
        assert suite.get("tests") == "1" and suite.get("failures") == "0"
        assert (
            "## Regression cases over time" in (work / "reports" / "quality-history.md").read_text()
        )
    lines = (work / "quality_history" / "history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["model_version"] for r in records] == ["v0", "v1", "v2"]
    assert records[0]["build"]["system"] == "git"  # the checkout's commit
    assert records[1]["build"] == {
        "system": "jenkins",
        "id": "7",
        "url": "https://ci.example.com/job/m/7/",
        "commit": None,
    }
    assert records[2]["build"]["system"] == "github" and records[2]["run_id"] == "github-99"
    log = git("log", "--format=%s", cwd=remote)  # the history was kept: pushed to the remote
    assert log.splitlines()[:3] == [
        "quality history: v2",
        "quality history: v1",
        "quality history: v0",
    ]
    assert "Regression cases over time" in (work.parent / "summary.md").read_text()


def test_a_regression_fails_the_job_but_is_recorded_and_kept(
    project: tuple[Path, Path, dict[str, str]],
) -> None:
    work, remote, env = project
    (case_file,) = (work / "regression_cases").glob("*.json")
    case = json.loads(case_file.read_text())
    case["threshold"] = 0.1  # far below the slice's error rate
    case_file.write_text(json.dumps(case))
    run_env = env | {"PREDICTIONS": "build/predictions.csv", "MODEL_VERSION": "bad"}
    result = run_script(documented_scripts()["commands"], work, run_env)
    assert result.returncode == 1
    (record,) = map(
        json.loads, (work / "quality_history" / "history.jsonl").read_text().splitlines()
    )
    assert record["status"] == "fail"
    assert "quality history: bad" in git("log", "--format=%s", cwd=remote)
