"""Which CI build a run came from, read from the environment (or the git checkout).

- Jenkins: ``BUILD_NUMBER`` with ``BUILD_URL`` (and ``GIT_COMMIT`` when the git plugin sets it);
- GitHub Actions: ``GITHUB_RUN_ID`` with ``GITHUB_SHA``; the URL is built from
  ``GITHUB_SERVER_URL`` and ``GITHUB_REPOSITORY`` when both are set;
- otherwise, when the working directory is inside a git repository, its ``HEAD`` commit
  (``git rev-parse HEAD``);
- otherwise none.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from mlqa_debug.history.store import Build

_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
GIT_TIMEOUT_SECONDS = 10


def build_from_env(
    environ: Mapping[str, str] | None = None, *, cwd: str | os.PathLike[str] | None = None
) -> Build | None:
    """The build of this run: Jenkins, then GitHub Actions, then the git commit of ``cwd``."""
    env = os.environ if environ is None else environ
    if env.get("BUILD_NUMBER"):
        return Build(
            "jenkins",
            id=env["BUILD_NUMBER"],
            url=env.get("BUILD_URL") or None,
            commit=env.get("GIT_COMMIT") or None,
        )
    if env.get("GITHUB_RUN_ID"):
        server, repository = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
        run = env["GITHUB_RUN_ID"]
        url = f"{server}/{repository}/actions/runs/{run}" if server and repository else None
        return Build("github", id=run, url=url, commit=env.get("GITHUB_SHA") or None)
    commit = git_commit(Path.cwd() if cwd is None else Path(cwd))
    return None if commit is None else Build("git", commit=commit)


def git_commit(directory: Path) -> str | None:
    """``git rev-parse HEAD`` in ``directory``; ``None`` outside a repository or without git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and _COMMIT.fullmatch(commit) else None


def default_run_id(build: Build | None, *, time: str) -> str:
    """A run id when none is given: the CI build's (``jenkins-42``), else the time and a random
    suffix (``20261202T211530Z-1a2b3c``), so two runs never share one by chance."""
    if build is not None and build.id:
        return f"{build.system}-{build.id}"
    stamp = re.sub(r"[-:]|\.\d+", "", time)
    return f"{stamp}-{uuid.uuid4().hex[:6]}"
