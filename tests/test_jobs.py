"""Background jobs (mlqa_debug/jobs.py): sharing by key, cancel, errors, the estimate, retention.

The work functions are small fakes that block on events, so every test decides
when a job advances; no test sleeps for more than a few tens of milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack

import pytest

from mlqa_debug import jobs
from mlqa_debug.errors import Cancelled, MlqaError, ParameterError
from mlqa_debug.jobs import Job, JobLimit, JobRegistry, check_cancelled, eta_text

TIMEOUT = 5.0  # seconds a test waits for a thread before it fails


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> JobLimit:
    """One slot for the whole process, polled every 10 ms while a job waits for it."""
    one = JobLimit(1)
    monkeypatch.setattr(jobs, "_LIMIT", one)
    monkeypatch.setattr(jobs, "WAIT_POLL", 0.01)
    return one


@pytest.fixture
def registry(limit: JobLimit) -> JobRegistry:
    return JobRegistry()


def gated(
    gate: threading.Event, calls: list[int], result: object = "done"
) -> Callable[..., object]:
    """Work that counts its runs, reports, then waits for ``gate`` at cancellable checkpoints."""

    def work(job: Job[object]) -> object:
        calls.append(1)
        job.report("working", 0.5)
        while not gate.wait(0.005):
            check_cancelled(job.cancelled)
        return result

    return work


def wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(int(TIMEOUT / 0.005)):
        if condition():
            return
        event.wait(0.005)
    raise AssertionError("condition not met in time")


def test_a_second_start_of_a_key_attaches_to_the_running_job(registry: JobRegistry) -> None:
    gate, calls = threading.Event(), list[int]()
    first = registry.start("k", gated(gate, calls))
    second = registry.start("k", gated(gate, calls))
    other = registry.start("other", gated(gate, calls))
    assert second is first and other is not first
    gate.set()
    assert first.wait(TIMEOUT) and other.wait(TIMEOUT)
    assert first.state == "done" and first.result == "done" and first.fraction == 0.5
    assert registry.start("k", gated(gate, calls)) is first  # finished: kept, not run again
    assert len(calls) == 2


def test_a_job_holds_a_slot_of_the_limit_while_it_runs(
    registry: JobRegistry, limit: JobLimit
) -> None:
    gate, calls = threading.Event(), list[int]()
    job = registry.start("k", gated(gate, calls))
    wait_until(lambda: calls == [1])
    assert limit.running == 1
    gate.set()
    assert job.wait(TIMEOUT)
    assert limit.running == 0


def test_cancel_frees_the_slot_and_forgets_the_job(registry: JobRegistry, limit: JobLimit) -> None:
    gate, calls = threading.Event(), list[int]()
    job = registry.start("k", gated(gate, calls))
    wait_until(lambda: calls == [1])
    registry.cancel("k")
    assert registry.get("k") is None  # forgotten at once
    assert job.wait(TIMEOUT)  # the work stopped at its next checkpoint
    assert job.state == "cancelled" and job.result is None and job.error is None
    assert limit.running == 0
    again = registry.start("k", gated(gate, calls))
    assert again is not job
    gate.set()
    assert again.wait(TIMEOUT) and again.result == "done" and len(calls) == 2


def test_a_job_waiting_for_a_slot_says_so_and_can_be_cancelled(
    registry: JobRegistry, limit: JobLimit
) -> None:
    gate, calls = threading.Event(), list[int]()
    with ExitStack() as busy:
        busy.enter_context(limit.slot())
        job = registry.start("k", gated(gate, calls))
        wait_until(lambda: job.phase == "waiting for a free worker")
        assert job.running and job.fraction is None and job.eta() is None
        job.cancel()
        assert job.wait(TIMEOUT)
    assert job.state == "cancelled" and calls == []  # never ran
    assert registry.get("k") is None


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ParameterError("alpha must be in (0, 1], got 5"), "alpha must be in (0, 1], got 5"),
        (RuntimeError("boom"), "boom"),
        (KeyError(), "KeyError"),
    ],
)
def test_an_error_is_captured_as_its_message(
    registry: JobRegistry, limit: JobLimit, error: Exception, message: str
) -> None:
    def work(job: Job[None]) -> None:
        raise error

    job = registry.start("k", work)
    assert job.wait(TIMEOUT)
    assert job.state == "failed" and job.error == message and job.result is None
    assert limit.running == 0
    assert registry.start("k", work) is job  # kept with its message until forgotten
    registry.forget("k")
    assert registry.start("k", work) is not job


def test_the_estimate_follows_the_rate_of_the_current_stage() -> None:
    clock = Clock()
    job: Job[None] = Job("k", clock=clock)
    assert job.eta() is None  # nothing known yet
    job.report("level 1 of 2", 0.0)
    clock.now += 4
    assert job.eta() is None  # no progress yet: no rate
    job.report("level 1 of 2", 0.25)
    assert job.eta() == pytest.approx(12.0)  # 4 s for a quarter: 12 s for the rest
    clock.now += 4
    job.report("level 1 of 2", 0.75)
    assert job.eta() == pytest.approx(8 * 0.25 / 0.75)
    job.report("level 2 of 2", 0.1)  # a lower share: a new stage, measured afresh
    assert job.eta() is None
    clock.now += 2
    job.report("level 2 of 2", 0.6)
    assert job.eta() == pytest.approx(2 * 0.4 / 0.5)
    assert job.status_text().endswith("60% · 10 s · about 2 s left (estimate)")
    job.report("saving", None)
    assert job.eta() is None and job.status_text() == "Saving · 10 s"


def test_the_estimate_is_none_once_finished() -> None:
    clock = Clock()
    job: Job[None] = Job("k", clock=clock)
    job.report("x", 0.0)
    clock.now += 1
    job.report("x", 0.5)
    assert job.eta() == pytest.approx(1.0)
    job.cancel()
    assert job.eta() is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "about 1 s left (estimate)"),
        (20.4, "about 20 s left (estimate)"),
        (185, "about 3 min left (estimate)"),
    ],
)
def test_eta_text(seconds: float, text: str) -> None:
    assert eta_text(seconds) == text


def finish(registry: JobRegistry, key: str) -> Job[object]:
    job: Job[object] = registry.start(key, lambda job: key)
    assert job.wait(TIMEOUT)
    return job


def test_finished_jobs_are_kept_a_bounded_time(limit: JobLimit) -> None:
    clock = Clock()
    registry = JobRegistry(keep=60.0, clock=clock)
    job = finish(registry, "k")
    clock.now += 59
    assert registry.get("k") is job and job.result == "k"
    clock.now += 2
    assert registry.get("k") is None


def test_at_most_max_finished_jobs_are_kept(limit: JobLimit) -> None:
    clock = Clock()
    registry = JobRegistry(max_finished=2, clock=clock)
    for key in ("a", "b", "c"):
        finish(registry, key)
        clock.now += 1
    assert registry.keys() == ["b", "c"]


def test_a_running_job_is_never_dropped(limit: JobLimit) -> None:
    gate, calls = threading.Event(), list[int]()
    bounded = JobRegistry(keep=0.0, max_finished=0)
    job = bounded.start("k", gated(gate, calls))
    assert bounded.get("k") is job
    gate.set()
    assert job.wait(TIMEOUT)
    assert bounded.get("k") is None


def test_check_cancelled() -> None:
    check_cancelled(None)
    check_cancelled(lambda: False)
    with pytest.raises(Cancelled, match="cancelled") as raised:
        check_cancelled(lambda: True)
    assert isinstance(raised.value, MlqaError)
