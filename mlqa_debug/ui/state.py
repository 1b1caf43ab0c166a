"""Page set-up from the URL, shared by every page.

Every page starts with :func:`setup_page`. It must not rely on anything
``app.py`` did: a deep link opened as the first request to a fresh server runs
the page file directly (see DESIGN.md, Links). So it sets the page config,
reads ``?ds=`` (falling back to the dataset this session used last), draws the
sidebar dataset picker and loads the dataset through a process-wide cache.

URL parameters are seeded into ``st.session_state`` once per change of the URL
(:func:`seed_from_url`), so widgets keep a stable identity and typing into them
keeps triggering reruns after the URL changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import Roles
from mlqa_debug.data.workspace import Workspace, validate_name
from mlqa_debug.errors import MlqaError, WorkspaceError

T = TypeVar("T")

DS_PARAM = "ds"
FP_PARAM = "fp"
_PICKER_KEY = "ds_picker"
_CURRENT_KEY = "_current_ds"
MAX_PARAM_LENGTH = 20_000


def get_workspace() -> Workspace:
    """The workspace named by ``$MLQA_DEBUG_WORKSPACE`` (or the default)."""
    return Workspace()


@st.cache_resource(max_entries=6, show_spinner="Loading dataset…")
def _load(root: str, name: str, stamp: tuple[int, int], roles_json: str) -> Predictions:
    roles = Roles.from_dict(json.loads(roles_json)) if roles_json else None
    return Workspace(root).load(name, roles=roles)


def load_dataset(ws: Workspace, name: str, roles: Roles | None = None) -> Predictions:
    """Load a dataset once per process; a changed file (size or mtime) reloads it."""
    entry = ws.entry(name)
    stat = entry.path.stat()
    roles_json = json.dumps(roles.to_dict(), sort_keys=True, default=str) if roles else ""
    return _load(str(ws.root), name, (stat.st_mtime_ns, stat.st_size), roles_json)


def query_param(key: str) -> str | None:
    """A query parameter, or ``None``; over-long values count as absent."""
    value = st.query_params.get(key)
    if value is None or len(value) > MAX_PARAM_LENGTH:
        return None
    return value


def seed_from_url(key: str, parse: Callable[[str | None], T], *, param: str | None = None) -> T:
    """Copy ``?param=`` (default: ``key``) into ``st.session_state[key]`` when it changed.

    Returns the session value. Widgets use ``key`` and no ``value=``, so their
    identity never depends on the URL.
    """
    param = param or key
    raw = query_param(param)
    marker = f"_url_seen_{param}"
    if marker not in st.session_state or st.session_state[marker] != raw:
        st.session_state[marker] = raw
        st.session_state[key] = parse(raw)
    elif key not in st.session_state:
        st.session_state[key] = parse(raw)
    return cast(T, st.session_state[key])


def write_to_url(key: str, value: str | None) -> None:
    """Put a view option in the URL (``None`` removes it) and remember it was ours."""
    if value is None or value == "":
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = value
    st.session_state[f"_url_seen_{key}"] = value or None


def _requested_dataset(ws: Workspace) -> tuple[str | None, str | None]:
    """The dataset the URL (or this session) asks for, and an error message if invalid."""
    raw = st.query_params.get(DS_PARAM)
    if raw is None:
        remembered = st.session_state.get(_CURRENT_KEY)
        names = ws.names()
        return (remembered if remembered in names else (names[0] if names else None)), None
    try:
        name = validate_name(raw)
        ws.entry(name)
    except WorkspaceError as e:
        return None, str(e)
    return name, None


def _on_pick() -> None:
    name = st.session_state[_PICKER_KEY]
    st.session_state[_CURRENT_KEY] = name
    st.query_params.clear()
    st.query_params[DS_PARAM] = name


def dataset_picker(ws: Workspace) -> str | None:
    """The sidebar dataset selector; returns the valid dataset in use, or ``None``."""
    name, problem = _requested_dataset(ws)
    names = ws.names()
    if name is not None:
        st.session_state[_PICKER_KEY] = name
        st.session_state[_CURRENT_KEY] = name
        if st.query_params.get(DS_PARAM) != name:
            st.query_params[DS_PARAM] = name
    elif _PICKER_KEY in st.session_state and st.session_state[_PICKER_KEY] not in names:
        del st.session_state[_PICKER_KEY]
    st.sidebar.selectbox(
        "Dataset",
        names,
        index=None,
        key=_PICKER_KEY,
        on_change=_on_pick,
        placeholder="Choose a dataset",
        help="Built-in samples and the datasets registered in the workspace.",
    )
    if problem is not None:
        st.error(f"The link names a dataset that cannot be opened: {problem}")
    return name


def navigation(dataset: str | None) -> None:
    """Sidebar links to every page, carrying the dataset and the slice along.

    The same links whether ``app.py`` routed the page or Streamlit ran the file
    directly (Streamlit's own page list is hidden in both cases).
    """
    from mlqa_debug.ui.pages import PAGES

    params = {k: v for k in (DS_PARAM, "slice") if (v := query_param(k))}
    if dataset is not None:
        params[DS_PARAM] = dataset
    with st.container(key="mlqa_nav"):
        for spec in PAGES:
            try:
                st.page_link(
                    spec["page"], label=spec["title"], icon=spec["icon"], query_params=params
                )
            except StreamlitAPIException:  # a page file run alone, as in AppTest
                st.markdown(f"[{spec['title']}](/{spec['url_path']})")
    st.divider()


def setup_page(title: str, *, need_dataset: bool = True) -> Predictions | None:
    """Page config, dataset from the URL, sidebar picker; stops the page on bad input."""
    st.set_page_config(page_title=f"{title} · mlqa-debug", page_icon="🔎", layout="wide")
    ws = get_workspace()
    nav_slot = st.sidebar.container()
    name = dataset_picker(ws)
    with nav_slot:
        navigation(name)
    if name is None:
        if need_dataset:
            st.info("Choose a dataset in the sidebar to begin.")
            st.stop()
        return None
    try:
        predictions = load_dataset(ws, name)
    except MlqaError as e:
        st.error(f"Dataset {name!r} cannot be loaded: {e}")
        st.stop()
    _check_fingerprint(name, predictions)
    return predictions


def require_dataset(title: str) -> Predictions:
    """:func:`setup_page` for pages that need a dataset (it stops the page otherwise)."""
    predictions = setup_page(title, need_dataset=True)
    if predictions is None:  # setup_page has stopped the script already
        st.stop()
    return predictions


def _check_fingerprint(name: str, predictions: Predictions) -> None:
    """Warn when the link was made on another version of the dataset, then pin this one."""
    raw = query_param(FP_PARAM)
    key = f"_fp_mismatch_{name}"
    if raw is not None and raw != predictions.short_fingerprint:
        st.session_state[key] = raw
    if st.session_state.get(key):
        st.warning(
            f"This link was made on a different version of {name!r} "
            f"(fingerprint {st.session_state[key][:8]!r}, now "
            f"{predictions.short_fingerprint!r}); the numbers may differ from the reviewer's."
        )
    if raw != predictions.short_fingerprint:
        st.query_params[FP_PARAM] = predictions.short_fingerprint


def show_error(error: Exception) -> None:
    """Render a library error as a message, never a traceback."""
    st.error(str(error))


def current_params() -> dict[str, Any]:
    return {k: st.query_params.get(k) for k in st.query_params}
