"""Projections computed in background threads, one per cache key, shared by every session.

umap-learn compiles for about 30 s on its first call in a process and a
10k-row fit then takes about 10 s, so the app shows PCA at once and computes
UMAP here; the job's phase and share done are read back for a progress bar.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from mlqa_debug.analyses.embeddings.params import DEFAULT_PARAMS, Method, ProjectionParams
from mlqa_debug.analyses.embeddings.projection import projection_key
from mlqa_debug.analyses.embeddings.projection_cache import get_projection
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.jobs import job_limit

__all__ = ["ProjectionJob", "ProjectionJobs", "preload_imports", "projection_jobs"]

logger = logging.getLogger(__name__)


@dataclass
class ProjectionJob:
    """A projection being computed in a background thread."""

    key: str
    method: Method
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    fraction: float | None = None
    error: str | None = None
    done: bool = False
    finished: float | None = None

    @property
    def running(self) -> bool:
        return not self.done and self.error is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def update(self, phase: str, fraction: float | None) -> None:
        """The progress callback handed to :func:`get_projection`."""
        self.phase, self.fraction = phase, fraction

    def status_text(self) -> str:
        """E.g. ``UMAP: laying out the map, 45% · 38 s``."""
        if self.error is not None:
            return f"{self.method.upper()} failed: {self.error}"
        if self.done:
            return f"{self.method.upper()} ready ({self.elapsed:.0f} s)"
        share = f", {self.fraction:.0%}" if self.fraction is not None else ""
        return f"{self.method.upper()}: {self.phase}{share} · {self.elapsed:.0f} s"


class ProjectionJobs:
    """A registry of background projections keyed by cache key: one thread per key.

    Concurrent sessions asking for the same projection share one job; a failed
    job stays (with its message) until :meth:`forget` is called.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, ProjectionJob] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ProjectionJob | None:
        with self._lock:
            return self._jobs.get(key)

    def forget(self, key: str) -> None:
        with self._lock:
            self._jobs.pop(key, None)

    def start(
        self,
        predictions: Predictions,
        *,
        method: Method,
        cache: DiskCache | None,
        params: ProjectionParams = DEFAULT_PARAMS,
    ) -> ProjectionJob:
        """Start computing (and caching) a projection unless a job for it runs or failed.

        A finished job is started again: asking means its result is no longer cached.
        """
        key = projection_key(predictions, method=method, params=params)
        with self._lock:
            existing = self._jobs.get(key)
            if existing is not None and not existing.done:
                return existing
            job = ProjectionJob(key, method)
            self._jobs[key] = job
        preload_imports()
        thread = threading.Thread(
            target=self._run,
            args=(job, predictions, method, cache, params),
            name=f"mlqa-projection-{key[:8]}",
            daemon=True,
        )
        thread.start()
        return job

    @staticmethod
    def _run(
        job: ProjectionJob,
        predictions: Predictions,
        method: Method,
        cache: DiskCache | None,
        params: ProjectionParams,
    ) -> None:
        try:
            with job_limit().slot(waiting=lambda _: job.update("waiting for a free worker", None)):
                get_projection(
                    predictions, method=method, cache=cache, params=params, progress=job.update
                )
        except Exception as e:  # a background failure is reported on the page, not raised
            logger.exception("projection %s failed", job.key)
            job.error = str(e) or type(e).__name__
        else:
            job.done = True
        job.finished = time.monotonic()


_JOBS = ProjectionJobs()


def projection_jobs() -> ProjectionJobs:
    """The process-wide registry of background projections."""
    return _JOBS


def preload_imports() -> None:
    """Import in the calling thread what both a page and a job thread import.

    Two threads importing one package at the same time (one inside its
    ``__init__``, the other at a submodule) can get a partially initialised
    module; with these loaded first, a job thread imports nothing new
    (umap-learn itself is imported only in the UMAP child process, see
    :func:`~mlqa_debug.analyses.embeddings.umap_layout.fit_umap`).
    """
    import scipy.sparse.csgraph  # noqa: F401
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.neighbors
    import sklearn.tree  # noqa: F401
