"""Links between views: the URL parameters every page shares, and the URLs built from them.

A view's link carries the dataset (``ds``), an optional second dataset (``vs``,
for pages over two tables), the dataset's short fingerprint (``fp``), the slice in
its canonical text form (``slice``) and the page's own view options. The names
live here once; pages never spell them.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mlqa_debug.slicing import MAX_SLICE_LENGTH, Slice
from mlqa_debug.ui.text import md

DS_PARAM = "ds"
VS_PARAM = "vs"
FP_PARAM = "fp"
SLICE_PARAM = "slice"
#: Parameters the page context owns; every other parameter is a page's view option.
RESERVED = (DS_PARAM, VS_PARAM, FP_PARAM, SLICE_PARAM)
#: What the sidebar links carry from page to page.
CARRIED = (DS_PARAM, VS_PARAM, SLICE_PARAM)
#: URL values longer than this count as absent (a link is not a file upload); the slice limit.
MAX_PARAM_LENGTH = MAX_SLICE_LENGTH


def _query(params: Mapping[str, str | None]) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})


def server_base() -> str:
    """``scheme://host:port`` of the server the browser talks to, or ``""`` if unknown."""
    try:
        parts = urllib.parse.urlsplit(st.context.url or "")
    except (AttributeError, RuntimeError):
        return ""
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def page_url(page: str, params: Mapping[str, str | None], *, absolute: bool = False) -> str:
    """``/page?params`` (empty values left out); with ``absolute``, this server's full URL."""
    query = _query(params)
    path = f"/{page}?{query}" if query else f"/{page}"
    return server_base() + path if absolute else path


def slice_url(dataset: str, s: Slice, *, page: str = "slices") -> str:
    """The relative link that opens ``s`` of ``dataset`` on ``page``."""
    return page_url(page, {DS_PARAM: dataset, SLICE_PARAM: s.text})


def page_link(page: str, params: Mapping[str, str | None], *, label: str, icon: str) -> None:
    """``st.page_link`` to ``pages/<page>.py``; a plain Markdown link where a page runs alone."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    try:
        st.page_link(f"pages/{page}.py", label=md(label), icon=icon, query_params=clean)
    except StreamlitAPIException:  # a page file run on its own (AppTest): no page registry
        st.markdown(f"[{md(label)}]({page_url(page, clean)})")
