"""The Discover page's search and tree as background jobs: progress, result, cancel, errors.

Every test holds the process's only worker while the page first runs, so the
jobs are still waiting when the page draws them: deterministic, whatever the
machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import jobs
from mlqa_debug.errors import ParameterError
from mlqa_debug.jobs import JobLimit, JobRegistry
from mlqa_debug.ui import discovery as ui
from tests.conftest import shown


@pytest.fixture
def app(page_runner: Callable[[str], Callable[..., AppTest]]) -> Callable[..., AppTest]:
    return page_runner("discover")


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[JobLimit]:
    """A fresh registry, one worker, and a page that leaves its jobs to the background at once."""
    limit = JobLimit(1)
    monkeypatch.setattr(jobs, "_LIMIT", limit)
    monkeypatch.setattr(jobs, "_REGISTRY", JobRegistry())
    monkeypatch.setattr(jobs, "WAIT_POLL", 0.01)
    monkeypatch.setattr(ui, "WAIT_SECONDS", 0.0)
    yield limit
    for job in map(jobs.background_jobs().get, jobs.background_jobs().keys()):
        if job is not None:
            job.cancel()


def busy(limit: JobLimit) -> AbstractContextManager[None]:
    """Hold the only worker: jobs started meanwhile wait for it."""
    return limit.slot()


def settle() -> None:
    """Wait for every background job to finish."""
    registry = jobs.background_jobs()
    for key in registry.keys():
        job = registry.get(key)
        assert job is None or job.wait(60), f"job {key} still runs"


def progress_texts(at: AppTest) -> list[str]:
    return [shown(p.proto.text) for p in at.get("progress")]


def test_the_page_shows_progress_then_the_result(app, one_worker: JobLimit) -> None:
    with busy(one_worker):
        at = app(ds="loans")
        assert not at.exception and not at.error
        assert not at.dataframe  # neither the search nor the tree is done
        texts = progress_texts(at)
        assert len(texts) == 2 and all("Waiting for a free worker" in t for t in texts), texts
        assert at.button(key="discover_job_cancel").label == "Cancel"
        assert at.button(key="tree_job_cancel").label == "Cancel"
        assert at.slider(key="d_alpha").value == pytest.approx(0.95)  # the form stays usable
    settle()
    at.run()
    assert not at.exception and not at.error and not at.get("progress")
    results, tree = at.dataframe[0].value, at.dataframe[1].value
    assert results["slice"].iloc[0] and tree["node"].iloc[0] == 0
    assert any("just computed" in c.value for c in at.caption)


def test_a_second_visit_is_instant_from_the_cache(
    app, one_worker: JobLimit, monkeypatch: pytest.MonkeyPatch
) -> None:
    app(ds="loans", k="3")  # computes (the worker is free)
    settle()
    monkeypatch.setattr(jobs, "_REGISTRY", JobRegistry())  # later: the finished job is forgotten
    with busy(one_worker):  # a visit in a new session needs no worker for the search
        again = app(ds="loans", k="3")
        assert len(again.dataframe[0].value) == 3
        assert any("from the cache" in c.value for c in again.caption)


def test_cancel_stops_the_search_and_offers_to_start_again(app, one_worker: JobLimit) -> None:
    with busy(one_worker):
        at = app(ds="loans")
        at.button(key="discover_job_cancel").click().run()
        assert not at.exception and not at.error
        assert any("Cancelled" in i.value for i in at.info)
        assert at.button(key="discover_job_restart").label == "Start the search again"
        keys = jobs.background_jobs().keys()
        assert not any(k.startswith("discovery:") for k in keys)  # the job is gone
        assert any(k.startswith("tree:") for k in keys)  # the tree still waits
        assert one_worker.running == 1  # only the test's: the cancelled job holds none
        at.run()  # a rerun keeps it cancelled: nothing starts behind the visitor's back
        assert any("Cancelled" in i.value for i in at.info)
    at.button(key="discover_job_restart").click().run()
    settle()
    at.run()
    assert not at.info and not at.get("progress")
    assert len(at.dataframe[0].value) >= 1


def test_a_failed_search_shows_its_message_not_a_traceback(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ParameterError("min support must be positive, got 0")

    monkeypatch.setattr(ui, "discover_slices", broken)
    at = app(ds="loans")
    settle()
    at.run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        "The search failed: min support must be positive, got 0"
    ]
    assert at.button(key="discover_job_retry").label == "Try again"
    assert len(at.dataframe) == 1  # the tree is still drawn
