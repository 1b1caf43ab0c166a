"""A process-wide limit on expensive runs, so one visitor cannot starve the others.

Discovery, SHAP explanations and UMAP maps each take a core for seconds to
minutes; the app runs at most :func:`max_jobs` of them at once across all
sessions and background threads. The page says so while a run waits
(:func:`mlqa_debug.ui.serving.expensive_job`). No Streamlit here: the background
UMAP jobs of :mod:`mlqa_debug.analyses.embeddings` take a slot too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ENV_MAX_JOBS = "MLQA_DEBUG_MAX_JOBS"
#: Seconds between two calls of a waiting caller's ``waiting`` callback.
WAIT_POLL = 0.5


def max_jobs() -> int:
    """Expensive runs at once: ``$MLQA_DEBUG_MAX_JOBS``, else one fewer than the CPUs (>= 1)."""
    value = os.environ.get(ENV_MAX_JOBS, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) - 1)


class JobLimit:
    """At most ``slots`` jobs at once across threads; a caller that has to wait is told so."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._free = threading.BoundedSemaphore(self.slots)
        self._guard = threading.Lock()
        self._running = 0

    @property
    def running(self) -> int:
        """Jobs holding a slot now."""
        with self._guard:
            return self._running

    @contextmanager
    def slot(self, *, waiting: Callable[[float], None] | None = None) -> Iterator[None]:
        """Hold a slot for the ``with`` body; ``waiting(seconds)`` is called while none is free."""
        started = time.monotonic()
        if not self._free.acquire(blocking=False):
            while True:
                if waiting is not None:
                    waiting(time.monotonic() - started)
                if self._free.acquire(timeout=WAIT_POLL):
                    break
        with self._guard:
            self._running += 1
        try:
            yield
        finally:
            with self._guard:
                self._running -= 1
            self._free.release()


_LIMIT: JobLimit | None = None
_LIMIT_GUARD = threading.Lock()


def job_limit() -> JobLimit:
    """The process-wide limit on expensive runs (sized by :func:`max_jobs` on first use)."""
    global _LIMIT
    with _LIMIT_GUARD:
        if _LIMIT is None:
            _LIMIT = JobLimit(max_jobs())
        return _LIMIT
