"""Browser-test harness: a real Streamlit server and Debian's Chromium via Playwright.

`StreamlitServer` starts `streamlit run app.py` on a free port with its own
workspace and waits for the health endpoint; `wait_for_run` waits until the
app's script run has finished (Streamlit marks the app root with
``data-test-script-state``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
APP = '[data-testid="stApp"]'


def find_chromium() -> str | None:
    """Debian's Chromium (or `$MLQA_CHROMIUM`)."""
    for candidate in (os.environ.get("MLQA_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[Any], *, timeout: float = 60) -> None:
    """Wait until the server at ``url`` answers its health check; ``RuntimeError`` if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("streamlit exited before serving")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s")


class StreamlitServer:
    """`streamlit run app.py` (or ``script``) in a subprocess, stopped by `stop()`."""

    def __init__(self, workspace: Path, *, log_dir: Path, script: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"streamlit-{self.port}.log"
        env = {**os.environ, "MLQA_DEBUG_WORKSPACE": str(workspace)}
        command = [
            sys.executable, "-m", "streamlit", "run", str(script or REPO / "app.py"),
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60) -> None:
        try:
            wait_healthy(self.url, self.process, timeout=timeout)
        except RuntimeError as e:
            raise RuntimeError(f"{e}: {self.log_path.read_text()[-2000:]}") from None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def wait_for_run(page: Page, *, timeout: float = 60_000, expect_rerun: bool = False) -> None:
    """Wait until the app is connected and its script run has finished.

    With ``expect_rerun`` first give a just-triggered rerun up to 2 s to start,
    so an action's own rerun is not mistaken for the previous idle state.
    """
    page.wait_for_selector(f'{APP}[data-test-connection-state="CONNECTED"]', timeout=timeout)
    if expect_rerun:
        try:
            page.wait_for_selector(
                f'{APP}:not([data-test-script-state="notRunning"])', timeout=2_000
            )
        except PlaywrightTimeout:  # the rerun may already be over
            pass
    page.wait_for_selector(f'{APP}[data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_timeout(150)
