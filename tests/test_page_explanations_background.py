"""The Explanations page's SHAP run as a background job: progress, result, cancel.

As for the Discover page, each test holds the process's only worker while the
page first runs, so the job is still waiting when the page draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import jobs
from mlqa_debug.jobs import JobLimit, JobRegistry
from mlqa_debug.ui import models
from tests.conftest import shown


@pytest.fixture
def app(page_runner: Callable[[str], Callable[..., AppTest]]) -> Callable[..., AppTest]:
    return page_runner("explanations")


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[JobLimit]:
    """A fresh registry, one worker, and a page that leaves its job to the background at once."""
    limit = JobLimit(1)
    monkeypatch.setattr(jobs, "_LIMIT", limit)
    monkeypatch.setattr(jobs, "_REGISTRY", JobRegistry())
    monkeypatch.setattr(jobs, "WAIT_POLL", 0.01)
    monkeypatch.setattr(models, "PAGE_TIME_BUDGET", 120.0)  # exact, whatever the machine
    monkeypatch.setattr(models, "WAIT_SLACK", -120.0)  # the page waits 0 s
    yield limit
    for job in map(jobs.background_jobs().get, jobs.background_jobs().keys()):
        if job is not None:
            job.cancel()


def settle() -> None:
    registry = jobs.background_jobs()
    for key in registry.keys():
        job = registry.get(key)
        assert job is None or job.wait(120), f"job {key} still runs"


def test_progress_then_the_explanations(app, one_worker: JobLimit) -> None:
    with one_worker.slot():
        at = app(ds="diabetes", slice="bmi >= 30")
        assert not at.exception and not at.error
        (bar,) = at.get("progress")
        assert shown(bar.proto.text).startswith("Waiting for a free worker")
        assert at.button(key="explain_job_cancel").label == "Cancel"
        assert not at.subheader  # the views wait for the attributions
        assert at.selectbox(key="rows").value == "2000"  # the controls are drawn
    settle()
    at.run()
    assert not at.exception and not at.error and not at.get("progress")
    text = "\n".join(shown(c.value) for c in at.caption)
    assert (
        "output space: prediction" in text and "additivity (base + attributions = output) ✓" in text
    )


def test_cancel_and_start_again(app, one_worker: JobLimit) -> None:
    with one_worker.slot():
        at = app(ds="diabetes", slice="bmi >= 30")
        at.button(key="explain_job_cancel").click().run()
        assert not at.exception and not at.error
        assert [i.value for i in at.info] == ["Cancelled."]
        assert at.button(key="explain_job_restart").label == "Start the explanations again"
        assert not jobs.background_jobs().keys()
    at.button(key="explain_job_restart").click().run()
    settle()
    at.run()
    assert "Cancelled." not in [i.value for i in at.info]
    assert "What matters more in this slice" in [h.value for h in at.subheader]
