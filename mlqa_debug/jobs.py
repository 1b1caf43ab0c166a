"""Expensive runs: a process-wide limit, and background jobs every session shares.

Discovery, SHAP explanations and UMAP maps each take a core for seconds to
minutes; the app runs at most :func:`max_jobs` of them at once across all
sessions and background threads. The page says so while a run waits
(:func:`mlqa_debug.ui.serving.expensive_job`). No Streamlit here: the background
UMAP jobs of :mod:`mlqa_debug.analyses.embeddings` take a slot too.

:class:`JobRegistry` runs such work off the script thread: one :class:`Job` per
cache key, shared by every session (a second visitor of the same search attaches
to the running job), on a daemon thread holding a slot of :func:`job_limit`. A
job reports its phase and share done (:meth:`Job.report`, a
:data:`~mlqa_debug.types.Progress`), estimates the time left (:meth:`Job.eta`)
and stops at the work's next checkpoint once :meth:`Job.cancel` is called
(:func:`check_cancelled` raises :class:`~mlqa_debug.errors.Cancelled`).
Finished jobs are kept a bounded time, so a page polling one reads its result.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from mlqa_debug.errors import Cancelled, MlqaError

logger = logging.getLogger(__name__)

T = TypeVar("T")
JobState = Literal["running", "done", "failed", "cancelled"]

ENV_MAX_JOBS = "MLQA_DEBUG_MAX_JOBS"
#: Seconds between two calls of a waiting caller's ``waiting`` callback.
WAIT_POLL = 0.5
#: Seconds a finished job (its result or error) is kept for the pages polling it.
KEEP_FINISHED = 600.0
#: At most this many finished jobs are kept (the oldest go first).
MAX_FINISHED = 16


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


# --------------------------------------------------------------------------- background jobs


def check_cancelled(cancelled: Callable[[], bool] | None) -> None:
    """A checkpoint in long work: raise :class:`Cancelled` once ``cancelled()`` says so."""
    if cancelled is not None and cancelled():
        raise Cancelled("the run was cancelled")


@dataclass(eq=False)
class Job(Generic[T]):
    """One run in a background thread: its progress, estimate and outcome.

    ``started`` and ``finished`` are readings of ``clock``; ``fraction`` is the
    share of the current stage done (0..1, None when unknown); ``error`` the
    message of a failure; ``result`` what the work returned.
    """

    key: str
    what: str = "the run"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float = field(init=False)
    phase: str = "starting"
    fraction: float | None = None
    error: str | None = None
    result: T | None = None
    finished: float | None = None
    _stage: tuple[float, float] | None = field(default=None, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def state(self) -> JobState:
        if self._cancel.is_set():
            return "cancelled"
        if self.error is not None:
            return "failed"
        return "done" if self._done.is_set() else "running"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        return (self.clock() if self.finished is None else self.finished) - self.started

    def report(self, phase: str, fraction: float | None) -> None:
        """The work's progress callback: what it does, and the share of that stage done.

        A share lower than the last one starts a new stage (e.g. the next level of a
        search), from which :meth:`eta` measures the rate again.
        """
        share = None if fraction is None else min(max(float(fraction), 0.0), 1.0)
        now = self.clock()
        if share is None:
            self._stage = None
        elif self._stage is None or self.fraction is None or share < self.fraction:
            self._stage = (now, share)
        self.phase, self.fraction = phase, share

    def eta(self) -> float | None:
        """Seconds left in the current stage at the rate measured since it began, if known."""
        stage, share = self._stage, self.fraction
        if not self.running or stage is None or share is None or share <= stage[1]:
            return None
        return (self.clock() - stage[0]) * (1.0 - share) / (share - stage[1])

    def cancel(self) -> None:
        """Ask the work to stop at its next checkpoint."""
        self._cancel.set()

    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called (the work's checkpoints read this)."""
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finished (done, failed or stopped); False on timeout."""
        return self._done.wait(timeout)

    def status_text(self) -> str:
        """E.g. ``Level 2 of 2: 120 of 435 feature combinations…, 28% · 12 s · about 31 s left``."""
        share = f", {self.fraction:.0%}" if self.fraction is not None else ""
        text = f"{self.phase[:1].upper()}{self.phase[1:]}{share} · {self.elapsed:.0f} s"
        eta = self.eta()
        return text if eta is None else f"{text} · {eta_text(eta)}"

    def _finish(self) -> None:
        self.finished = self.clock()
        self._done.set()


def eta_text(seconds: float) -> str:
    """``about 20 s left (estimate)``, ``about 3 min left (estimate)``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left (estimate)"
    return f"about {round(seconds / 60)} min left (estimate)"


Work = Callable[[Job[T]], T]
"""A job's body: gets its :class:`Job` (``job.report``, ``job.cancelled``), returns the result."""


class JobRegistry:
    """Background jobs by key: one thread per key, shared by every caller asking for it.

    A running or recently finished job is returned to whoever starts its key again;
    a cancelled one is forgotten at once (its thread frees its slot at the work's
    next checkpoint), so the next start runs anew. Finished jobs are kept
    ``keep`` seconds and at most ``max_finished`` of them. ``clock`` times the
    jobs (:func:`time.monotonic`; tests pass their own).
    """

    def __init__(
        self,
        *,
        keep: float = KEEP_FINISHED,
        max_finished: int = MAX_FINISHED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep, self.max_finished, self.clock = keep, max_finished, clock
        self._jobs: dict[str, Job[Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Job[Any] | None:
        """The job of ``key`` if it runs or finished recently."""
        with self._lock:
            self._prune()
            return self._jobs.get(key)

    def start(self, key: str, work: Work[T], *, what: str = "the run") -> Job[T]:
        """The job of ``key``: the one running or kept, else a new one running ``work``."""
        with self._lock:
            self._prune()
            existing = self._jobs.get(key)
            if existing is not None:
                return cast(Job[T], existing)
            job: Job[T] = Job(key, what, clock=self.clock)
            self._jobs[key] = job
        thread = threading.Thread(
            target=self._run, args=(job, work), name=f"mlqa-job-{key[:24]}", daemon=True
        )
        thread.start()
        return job

    def cancel(self, key: str) -> None:
        """Stop the job of ``key`` at its next checkpoint and forget it."""
        with self._lock:
            job = self._jobs.pop(key, None)
        if job is not None:
            job.cancel()

    def forget(self, key: str) -> None:
        """Drop the job of ``key`` (a failed one, before trying again); a running one goes on."""
        with self._lock:
            self._jobs.pop(key, None)

    def keys(self) -> list[str]:
        """Keys of the jobs running or kept."""
        with self._lock:
            self._prune()
            return list(self._jobs)

    def _run(self, job: Job[T], work: Work[T]) -> None:
        def waiting(_: float) -> None:
            job.report("waiting for a free worker", None)
            check_cancelled(job.cancelled)

        try:
            with job_limit().slot(waiting=waiting):
                check_cancelled(job.cancelled)
                job.report("starting", None)
                job.result = work(job)
        except Cancelled:
            logger.info("job %s cancelled after %.1f s", job.key, job.elapsed)
        except MlqaError as e:
            job.error = str(e)
        except Exception as e:  # a background failure is reported on the page, not raised
            logger.exception("job %s failed", job.key)
            job.error = str(e) or type(e).__name__
        finally:
            job._finish()
            if job.cancelled():
                with self._lock:
                    if self._jobs.get(job.key) is job:
                        del self._jobs[job.key]

    def _prune(self) -> None:
        """Drop finished jobs older than ``keep``, then the oldest beyond ``max_finished``."""
        now = self.clock()
        finished = sorted(
            ((job.finished, key) for key, job in self._jobs.items() if job.finished is not None),
            reverse=True,
        )
        for rank, (at, key) in enumerate(finished):
            if now - at > self.keep or rank >= self.max_finished:
                del self._jobs[key]


_REGISTRY = JobRegistry()


def background_jobs() -> JobRegistry:
    """The process-wide registry of background jobs."""
    return _REGISTRY
