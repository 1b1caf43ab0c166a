"""``mlqa-debug app``: the serving options it passes on, and stopping it stops the server."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlqa_debug.cli.common import EXIT_BAD_INPUT
from mlqa_debug.cli.data import app_environment
from mlqa_debug.cli.main import build_parser, main
from mlqa_debug.data.workspace import ENV_WORKSPACE
from mlqa_debug.ui import serving
from tests.e2e.harness import free_port, wait_healthy

CONSOLE_SCRIPT = Path(sys.executable).parent / "mlqa-debug"


def app_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["app", *argv])


def test_serving_options_reach_the_servers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(serving.ENV_READ_ONLY, raising=False)
    monkeypatch.delenv(serving.ENV_USER_HEADER, raising=False)
    env = app_environment(
        app_args("--workspace", str(tmp_path), "--read-only", "--user-header", "X-Forwarded-User")
    )
    assert env[ENV_WORKSPACE] == str(tmp_path.resolve())
    assert env[serving.ENV_READ_ONLY] == "1"
    assert env[serving.ENV_USER_HEADER] == "X-Forwarded-User"


def test_without_options_the_server_is_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(serving.ENV_READ_ONLY, raising=False)
    monkeypatch.delenv(serving.ENV_USER_HEADER, raising=False)
    env = app_environment(app_args())
    assert serving.ENV_READ_ONLY not in env and serving.ENV_USER_HEADER not in env


def test_a_bad_header_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--user-header", "X-User: admin"]) == EXIT_BAD_INPUT
    assert "is not a header name" in capsys.readouterr().err


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
def test_sigterm_to_the_printed_pid_frees_the_port(tmp_path: Path) -> None:
    """Defect 7: the command used to run Streamlit as a child the signal never reached."""
    port = free_port()
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "app", "--port", str(port), "--address", "127.0.0.1",
         "--workspace", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"\(pid (\d+)\)", first)
        pid = int(found.group(1)) if found else process.pid  # what a shell's $! gives
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=90)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not _port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _port_is_free(port), "the server still holds the port after SIGTERM"
        assert process.wait(timeout=10) is not None
        assert found and pid == process.pid, first  # it says so, and became the server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
