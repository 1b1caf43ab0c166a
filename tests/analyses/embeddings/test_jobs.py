"""Tests of analyses.embeddings.jobs: projections in background threads."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import umap_layout
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.workspace import Workspace
from tests.analyses.embeddings.helpers import wait_for


def test_background_job_computes_once_and_caches(
    sample_workspace: Workspace, cache: DiskCache, fake_umap: list[int]
) -> None:
    digits = sample_workspace.load("digits")  # its own copy: no UMAP map in memory yet
    jobs = emb.ProjectionJobs()
    job = jobs.start(digits, method="umap", cache=cache)
    assert jobs.start(digits, method="umap", cache=cache) is job  # concurrent sessions share it
    wait_for(job)
    assert job.done and job.error is None and fake_umap == [899]
    assert job.fraction == 1.0 and "ready" in job.status_text()
    found = emb.load_projection(digits, method="umap", cache=cache)
    assert found is not None and found.key == job.key
    assert cache.get_arrays(job.key) is not None
    again = jobs.start(digits, method="umap", cache=cache)  # asked again: the result was lost
    assert again is not job
    wait_for(again)


def test_a_failed_job_reports_its_message_and_can_be_retried(
    sample_workspace: Workspace, cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    diabetes = sample_workspace.load("diabetes")  # its own copy: no UMAP map in memory

    def broken(*args: object) -> np.ndarray:
        raise RuntimeError("numba exploded")

    monkeypatch.setattr(umap_layout, "fit_umap", broken)
    jobs = emb.ProjectionJobs()
    job = jobs.start(diabetes, method="umap", cache=cache)
    wait_for(job)
    assert job.error == "numba exploded" and not job.done
    assert "failed: numba exploded" in job.status_text()
    assert jobs.start(diabetes, method="umap", cache=cache) is job
    jobs.forget(job.key)
    retry = jobs.start(diabetes, method="umap", cache=cache)
    assert retry is not job
    wait_for(retry)  # ends under this test's stand-in, not a real UMAP after it


@pytest.mark.slow
def test_a_umap_failure_in_its_child_process_is_the_jobs_error() -> None:
    """umap-learn runs in a spawned process; what it raises there reaches the job as text."""
    matrix = np.full((40, 3), np.nan, dtype=np.float32)  # umap-learn refuses NaN
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="ValueError"):
        umap_layout.fit_umap(matrix, emb.ProjectionParams(), lambda p, f: seen.append(p))
    assert seen[0] == "starting the UMAP worker process"


def test_a_umap_job_waits_for_a_free_worker_and_says_so(
    sample_workspace: Workspace, cache: DiskCache, fake_umap: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Background maps share the app's limit on expensive runs with discovery and SHAP."""
    import threading
    import time

    from mlqa_debug import jobs as job_limits

    limit = job_limits.JobLimit(1)
    monkeypatch.setattr(job_limits, "_LIMIT", limit)
    digits = sample_workspace.load("digits")
    hold, holding = threading.Event(), threading.Event()

    def other_visitor() -> None:
        with limit.slot():
            holding.set()
            hold.wait(10)

    thread = threading.Thread(target=other_visitor)
    thread.start()
    holding.wait(5)
    job = emb.ProjectionJobs().start(digits, method="umap", cache=cache)
    deadline = time.monotonic() + 5
    while job.phase != "waiting for a free worker" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.phase == "waiting for a free worker" and fake_umap == []
    hold.set()
    thread.join()
    wait_for(job)
    assert job.done and fake_umap == [899]
