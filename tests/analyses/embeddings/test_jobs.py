"""Tests of analyses.embeddings.jobs: projections in background threads."""

from __future__ import annotations

import builtins
import sys

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


PARTIAL = (
    "cannot import name 'UMAP' from partially initialized module 'umap' "
    "(most likely due to a circular import)"
)


def _umap_modules() -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] == "umap")


def test_a_failing_umap_import_is_the_jobs_error_not_retried(
    sample_workspace: Workspace, cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import is tried once and its error reported; sys.modules is not edited."""
    diabetes = sample_workspace.load("diabetes")  # its own copy: no UMAP map in memory
    attempts: list[str] = []
    real_import = builtins.__import__

    def failing_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "umap":
            attempts.append(name)
            raise ImportError(PARTIAL)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    loaded = _umap_modules()
    monkeypatch.setattr(builtins, "__import__", failing_import)
    job = emb.ProjectionJobs().start(diabetes, method="umap", cache=cache)
    wait_for(job)
    monkeypatch.undo()
    assert job.error == PARTIAL and not job.done
    assert job.status_text() == f"UMAP failed: {PARTIAL}"
    assert attempts == ["umap"]
    assert _umap_modules() == loaded
    assert cache.get_arrays(job.key) is None


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
