"""Serving the app to a team: the read-only setting, who the visitor is, and a job limit.

``mlqa-debug app`` passes its serving options to the Streamlit server through the
environment, so every page and widget reads them the same way:

- :func:`read_only` (``--read-only``, ``$MLQA_DEBUG_READ_ONLY=1``): visitors browse,
  follow and make links and run analyses, but nothing they do writes to the server
  (no uploads, role or case edits, case saves, model attachment); writers draw
  :func:`read_only_note` instead of a button that would not work;
- :func:`session_author` (``--user-header NAME``, ``$MLQA_DEBUG_USER_HEADER``): the
  author of what a visitor saves, from a header set by an authenticating reverse
  proxy; without one, :func:`author_input` asks for a name once per session (the
  server's login name is never the author of a visitor's case);
- :func:`expensive_job`: at most :func:`max_jobs` expensive runs (discovery, SHAP)
  at once in the process, so one visitor cannot starve the other sessions; a run
  that has to wait says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import streamlit as st

from mlqa_debug.cases import MAX_NAME_LENGTH
from mlqa_debug.jobs import ENV_MAX_JOBS, WAIT_POLL, JobLimit, job_limit, max_jobs
from mlqa_debug.ui.text import md

__all__ = ["ENV_MAX_JOBS", "WAIT_POLL", "JobLimit", "job_limit", "max_jobs"]  # re-exported

ENV_READ_ONLY = "MLQA_DEBUG_READ_ONLY"
ENV_USER_HEADER = "MLQA_DEBUG_USER_HEADER"

READ_ONLY_BANNER = (
    "Read-only: browse, follow and share links, and run analyses; "
    "uploads, role and case edits, saving cases and attaching models are turned off."
)
#: The session key remembering the name a visitor gave as the author of what they save.
AUTHOR_KEY = "_mlqa_author"

_TRUE = {"1", "true", "yes", "on"}


def read_only() -> bool:
    """Whether this server is read-only (``$MLQA_DEBUG_READ_ONLY`` is 1, true, yes or on)."""
    return os.environ.get(ENV_READ_ONLY, "").strip().lower() in _TRUE


def read_only_note(what: str) -> None:
    """Say, where a writer would be, that this server does not allow it (``what`` is off)."""
    st.caption(f"Read-only server: {what}.", help=READ_ONLY_BANNER)


# --------------------------------------------------------------------------- identity


def user_header() -> str | None:
    """The request header naming the visitor (set by a trusted proxy), if one is configured."""
    return os.environ.get(ENV_USER_HEADER, "").strip() or None


def author_from_headers(headers: Mapping[str, str], header: str | None) -> str | None:
    """The visitor's name from ``headers[header]`` (any case), or None when absent or blank."""
    if not header:
        return None
    wanted = header.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    name = " ".join(str(value or "").split())[:MAX_NAME_LENGTH]
    return name or None


def request_headers() -> Mapping[str, str]:
    """The headers of the request that opened this session's connection (none in tests)."""
    return st.context.headers


def session_author() -> str | None:
    """The author named by the proxy's header for this session, if configured and sent."""
    header = user_header()
    if header is None:
        return None
    return author_from_headers(request_headers(), header)


def author_input(key: str) -> None:
    """Ask who saves (once per session), unless the proxy's header names the visitor."""
    named = session_author()
    if named is not None:
        st.caption(f"Saved as {md(named)} (signed in).")
        return
    widget = f"{key}__author"
    if widget not in st.session_state:
        st.session_state[widget] = st.session_state.get(AUTHOR_KEY, "")
    st.text_input(
        "Your name",
        key=widget,
        max_chars=MAX_NAME_LENGTH,
        placeholder="saved as the author (optional)",
        on_change=remember_author,
        args=(key,),
    )


def remember_author(key: str) -> None:
    """Keep the name typed in ``key``'s form for every later form of this session."""
    st.session_state[AUTHOR_KEY] = str(st.session_state.get(f"{key}__author", "")).strip()


def case_author(key: str) -> str:
    """The author of what ``key``'s form saves: the proxy's name, else the one typed."""
    named = session_author()
    if named is not None:
        return named
    remember_author(key)
    return str(st.session_state[AUTHOR_KEY])[:MAX_NAME_LENGTH]


# --------------------------------------------------------------------------- job limit


@contextmanager
def expensive_job(what: str) -> Iterator[None]:
    """Run the ``with`` body in a slot of :func:`job_limit`, saying so on the page while waiting.

    The message is redrawn every :data:`WAIT_POLL` seconds, which also lets Streamlit
    stop a wait whose visitor left or changed the view.
    """
    limit = job_limit()
    notices: list[Any] = []  # drawn only when waiting: a run that need not wait adds nothing

    def waiting(seconds: float) -> None:
        if not notices:
            notices.append(st.empty())
        notices[0].info(
            f"Waiting for a free worker to run {what}: all {limit.slots} are busy "
            f"with other visitors' runs ({seconds:.0f} s)…",
            icon=":material/hourglass_top:",
        )

    with limit.slot(waiting=waiting):
        for notice in notices:
            notice.empty()
        yield
