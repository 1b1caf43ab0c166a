"""Serving a team (mlqa_debug/ui/serving.py): the read-only setting, the author, the job limit."""

from __future__ import annotations

import threading
import time

import pytest

from mlqa_debug import jobs as job_limits
from mlqa_debug.cases import MAX_NAME_LENGTH
from mlqa_debug.cli import data as cli_data
from mlqa_debug.ui import serving

# --------------------------------------------------------------------------- read-only


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), (" YES ", True), ("on", True),
     ("0", False), ("", False), ("no", False), ("false", False)],
)  # fmt: skip
def test_read_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv(serving.ENV_READ_ONLY, value)
    assert serving.read_only() is expected


def test_read_only_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(serving.ENV_READ_ONLY, raising=False)
    assert serving.read_only() is False


def test_the_cli_and_the_pages_name_the_same_variables() -> None:
    """``mlqa-debug app`` sets them for its server; the pages read them."""
    assert cli_data.ENV_READ_ONLY == serving.ENV_READ_ONLY
    assert cli_data.ENV_USER_HEADER == serving.ENV_USER_HEADER


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize(
    ("headers", "header", "expected"),
    [
        ({"X-Forwarded-User": "alice"}, "X-Forwarded-User", "alice"),
        ({"x-forwarded-user": "alice"}, "X-Forwarded-User", "alice"),  # any case
        ({"X-FORWARDED-USER": " bob  smith \n"}, "x-forwarded-user", "bob smith"),
        ({"X-Forwarded-User": "   "}, "X-Forwarded-User", None),  # blank
        ({"Host": "example.org"}, "X-Forwarded-User", None),  # not sent
        ({"X-Forwarded-User": "alice"}, None, None),  # no header configured
        ({"X-Forwarded-User": "alice"}, "", None),
    ],
)
def test_author_from_headers(
    headers: dict[str, str], header: str | None, expected: str | None
) -> None:
    assert serving.author_from_headers(headers, header) == expected


def test_a_long_header_value_is_cut_to_a_case_author() -> None:
    name = serving.author_from_headers({"X-User": "a" * 500}, "X-User")
    assert name == "a" * MAX_NAME_LENGTH


def test_the_header_names_the_session_author(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(serving.ENV_USER_HEADER, "X-Forwarded-User")
    monkeypatch.setattr(serving, "request_headers", lambda: {"x-forwarded-user": "carol"})
    assert serving.session_author() == "carol"


def test_without_the_setting_no_header_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A visitor can send any header: only the one the server names counts."""
    monkeypatch.delenv(serving.ENV_USER_HEADER, raising=False)
    monkeypatch.setattr(serving, "request_headers", lambda: {"X-Forwarded-User": "mallory"})
    assert serving.session_author() is None


def test_outside_a_server_there_are_no_headers() -> None:
    assert dict(serving.request_headers()) == {}


# --------------------------------------------------------------------------- job limit


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("1", 1)])
def test_max_jobs_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    monkeypatch.setenv(serving.ENV_MAX_JOBS, value)
    assert serving.max_jobs() == expected


@pytest.mark.parametrize("value", ["", "0", "-2", "many"])
def test_max_jobs_defaults_to_one_fewer_than_the_cpus(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(serving.ENV_MAX_JOBS, value)
    monkeypatch.setattr(serving.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert serving.max_jobs() == 3
    monkeypatch.setattr(serving.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert serving.max_jobs() == 1  # never 0


def test_at_most_slots_jobs_run_at_once() -> None:
    limit = serving.JobLimit(2)
    guard, running, peak, done = threading.Lock(), [0], [0], []

    def job(i: int) -> None:
        with limit.slot():
            with guard:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with guard:
                running[0] -= 1
            done.append(i)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(done) == list(range(8))
    assert peak[0] == 2
    assert limit.running == 0


def test_a_job_that_must_wait_is_told_until_a_slot_frees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(job_limits, "WAIT_POLL", 0.02)
    limit = serving.JobLimit(1)
    holding, release = threading.Event(), threading.Event()
    waits: list[float] = []
    order: list[str] = []

    def first() -> None:
        with limit.slot():
            holding.set()
            release.wait(timeout=10)
            order.append("first done")

    def second() -> None:
        with limit.slot(waiting=waits.append):
            order.append("second ran")

    a = threading.Thread(target=first)
    a.start()
    assert holding.wait(timeout=10)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.2)
    assert order == [] and len(waits) >= 2  # told at once, and again while waiting
    assert waits == sorted(waits)
    release.set()
    a.join(timeout=10)
    b.join(timeout=10)
    assert order == ["first done", "second ran"]


def test_a_job_with_a_free_slot_is_not_told_to_wait() -> None:
    waits: list[float] = []
    with serving.JobLimit(1).slot(waiting=waits.append):
        pass
    assert waits == []


def test_a_failing_job_gives_its_slot_back() -> None:
    limit = serving.JobLimit(1)
    with pytest.raises(RuntimeError, match="boom"), limit.slot():
        raise RuntimeError("boom")
    assert limit.running == 0
    ran = threading.Event()

    def job() -> None:
        with limit.slot():
            ran.set()

    t = threading.Thread(target=job)
    t.start()
    t.join(timeout=5)
    assert ran.is_set()
