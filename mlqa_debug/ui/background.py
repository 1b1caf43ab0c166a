"""Long work off the script thread: join a shared background job, show its progress, cancel it.

:func:`job_result` starts the job of a cache key in the process-wide registry
(:func:`mlqa_debug.jobs.background_jobs`), or attaches to the one another session
started. It waits up to ``wait`` seconds with a progress bar and a Cancel button
(quick work shows its result at once, and any widget change interrupts the wait),
then leaves the job to its thread: an ``st.fragment`` polls it every
:data:`POLL_SECONDS` (phase, elapsed, an estimate, Cancel) while the rest of the
page is drawn, and reruns the page once when the job finished. A cancelled job
shows "Cancelled" and a button to start again; a failed one its message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from mlqa_debug.jobs import Job, Work, background_jobs
from mlqa_debug.ui.text import md

T = TypeVar("T")

#: Seconds between two polls of a running job by the page.
POLL_SECONDS = 1.0
#: Seconds between two redraws of the progress bar while the page waits on a job.
REDRAW_SECONDS = 0.25
#: The session key holding the keys of the jobs this session cancelled.
CANCELLED_KEY = "_mlqa_cancelled_jobs"


def job_result(
    key: str,
    work: Work[T],
    *,
    what: str,
    name: str,
    wait: float,
    describe: Callable[[str], str] = str,
) -> T | None:
    """The result of the job ``key`` (``work`` started unless it runs or finished lately).

    None while the job runs (its progress is drawn), after it was cancelled, or
    when it failed (its message is drawn, through ``describe``, with a button to
    try again). ``what`` names the work in messages (``"the search"``), ``name``
    prefixes the widget keys, ``wait`` is the seconds this run waits for the result.
    """
    registry = background_jobs()
    existing = registry.get(key)
    if key in cancelled_keys() and (existing is None or existing.running):
        cancelled_notice(key, what=what, name=name)
        return None
    cancelled_keys().discard(key)
    job = registry.start(key, work, what=what)
    if job.running and not job.wait(min(wait, REDRAW_SECONDS)):
        _wait(job, deadline=time.monotonic() + wait, name=name)
    if job.error is not None:
        st.error(md(f"{what[:1].upper()}{what[1:]} failed: {describe(job.error)}"))
        st.button("Try again", key=f"{name}_retry", on_click=registry.forget, args=(key,))
        return None
    if job.state == "done":
        return job.result
    if job.state == "cancelled":  # cancelled while this run waited
        cancelled_notice(key, what=what, name=name)
        return None
    _poll(job, name)
    return None


def cancelled_keys() -> set[str]:
    """Keys of the jobs this session cancelled (and did not start again)."""
    keys: set[str] = st.session_state.setdefault(CANCELLED_KEY, set())
    return keys


def cancel(key: str) -> None:
    """A Cancel button's callback: stop the job and remember that this session did."""
    background_jobs().cancel(key)
    cancelled_keys().add(key)


def cancelled_notice(key: str, *, what: str, name: str) -> None:
    """ "Cancelled", and a button to start the work again."""
    st.info("Cancelled.", icon=":material/cancel:")
    st.button(
        f"Start {what} again", key=f"{name}_restart", on_click=cancelled_keys().discard, args=(key,)
    )


def draw_progress(job: Job[Any]) -> None:
    """The job's progress bar: phase, share done, elapsed and the estimate of the time left."""
    st.progress(job.fraction or 0.0, text=md(job.status_text()))


def _wait(job: Job[Any], *, deadline: float, name: str) -> None:
    """Redraw the job's progress until it finished or ``deadline``; a Cancel button under it."""
    box = st.empty()
    with box.container():
        bar = st.empty()
        st.button("Cancel", key=f"{name}_cancel_wait", on_click=cancel, args=(job.key,))
    while job.running and time.monotonic() < deadline:
        with bar.container():
            draw_progress(job)
        job.wait(REDRAW_SECONDS)
    box.empty()


@st.fragment(run_every=POLL_SECONDS)
def _poll(job: Job[Any], name: str) -> None:
    """While the job runs: its progress and Cancel; once it finished, the page runs again."""
    if not job.running:
        st.rerun()
    draw_progress(job)
    st.button("Cancel", key=f"{name}_cancel", on_click=cancel, args=(job.key,))
