"""The CI build of a run, read from the environment or the git checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlqa_debug.history import Build, build_from_env, default_run_id


def test_jenkins() -> None:
    env = {"BUILD_NUMBER": "42", "BUILD_URL": "https://ci/job/x/42/", "GIT_COMMIT": "ab" * 20}
    assert build_from_env(env) == Build("jenkins", "42", "https://ci/job/x/42/", "ab" * 20)
    assert default_run_id(build_from_env(env), time="2026-01-01T00:00:00.1Z") == "jenkins-42"


def test_github_actions() -> None:
    env = {
        "GITHUB_RUN_ID": "123456",
        "GITHUB_SHA": "cd" * 20,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "team/model",
    }
    assert build_from_env(env) == Build(
        "github", "123456", "https://github.com/team/model/actions/runs/123456", "cd" * 20
    )


def test_git_commit_of_the_working_directory(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run([*git, "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert build_from_env({}, cwd=tmp_path) == Build("git", commit=head)


def test_no_build_outside_ci_and_git(tmp_path: Path) -> None:
    assert build_from_env({}, cwd=tmp_path) is None  # /tmp is not inside a repository
    run = default_run_id(None, time="2026-12-02T21:15:30.123456Z")
    assert run.startswith("20261202T211530Z-") and run != default_run_id(
        None, time="2026-12-02T21:15:30.123456Z"
    )
