"""The parts of page set-up that :func:`mlqa_debug.ui.context.open_page` is made of.

The workspace, the process-wide cache of loaded datasets (one read-only copy
shared by every session), the sidebar dataset picker, the sidebar links, and the
fingerprint check of a link. Pages call :func:`~mlqa_debug.ui.context.open_page`,
not these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mlqa_debug.data.external import ExternalTable, check_unchanged
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import Roles
from mlqa_debug.data.workspace import Workspace, validate_name
from mlqa_debug.errors import WorkspaceError
from mlqa_debug.ui.links import DS_PARAM, FP_PARAM, page_url
from mlqa_debug.ui.options import raw_param
from mlqa_debug.ui.text import md, without_paths

_PICKER_KEY = "ds_picker"
_CURRENT_KEY = "_current_ds"


def get_workspace() -> Workspace:
    """The workspace named by ``$MLQA_DEBUG_WORKSPACE`` (or the default)."""
    return Workspace()


@st.cache_resource(max_entries=6, show_spinner="Loading dataset…")
def _load(root: str, name: str, stamp: tuple[int, int], roles_json: str) -> Predictions:
    roles = Roles.from_dict(json.loads(roles_json)) if roles_json else None
    return Workspace(root).load(name, roles=roles)


@st.cache_resource(
    max_entries=4, show_spinner="Opening the external dataset on its engine and drawing a sample…"
)
def _external(root: str, name: str, stamp: tuple[int, int], roles_json: str) -> ExternalTable:
    roles = Roles.from_dict(json.loads(roles_json)) if roles_json else None
    return Workspace(root).open_external(name, roles=roles)


def external_table(ws: Workspace, name: str, roles: Roles | None = None) -> ExternalTable:
    """An external dataset's engine and seeded sample, opened once per process.

    Its files are compared with what was registered on every call (file metadata
    only), so a changed table raises
    :class:`~mlqa_debug.data.external.ExternalChangedError` instead of being shown
    from the old sample.
    """
    entry = ws.entry(name)
    if entry.external is None:
        raise WorkspaceError(f"{name!r} is not an external dataset")
    check_unchanged(name, entry.external)
    stat = entry.path.stat()
    roles_json = json.dumps(roles.to_dict(), sort_keys=True, default=str) if roles else ""
    return _external(str(ws.root), name, (stat.st_mtime_ns, stat.st_size), roles_json)


def load_dataset(ws: Workspace, name: str, roles: Roles | None = None) -> Predictions:
    """Load a dataset once per process; a changed file (size or mtime) reloads it.

    An external dataset gives its seeded sample (:func:`external_table`).
    """
    entry = ws.entry(name)
    if entry.external is not None:
        return external_table(ws, name, roles).sample
    stat = entry.path.stat()
    roles_json = json.dumps(roles.to_dict(), sort_keys=True, default=str) if roles else ""
    return _load(str(ws.root), name, (stat.st_mtime_ns, stat.st_size), roles_json)


def page_title(page: str) -> str:
    """The navigation title of the page whose URL path is ``page``."""
    from mlqa_debug.ui.pages import PAGES

    return next((p["title"] for p in PAGES if p["url_path"] == page), page.title())


def open_dataset(name: str) -> None:
    """Make ``name`` this session's dataset; the URL starts afresh with it (a new view)."""
    st.session_state[_CURRENT_KEY] = name
    st.query_params.clear()
    st.query_params[DS_PARAM] = name


def current_dataset() -> str | None:
    """The dataset this session shows (set by :func:`dataset_picker` each run)."""
    name = st.session_state.get(_CURRENT_KEY)
    return name if isinstance(name, str) else None


def requested_dataset(ws: Workspace, param: str) -> tuple[str | None, str | None]:
    """The dataset ``?param=`` names (``None`` if absent), and a message if it cannot be opened."""
    raw = st.query_params.get(param)
    if raw is None:
        return None, None
    try:
        name = validate_name(raw)
        ws.entry(name)
    except WorkspaceError as e:  # names, never the workspace's path
        return None, without_paths(e, ws)
    return name, None


def _requested_dataset(ws: Workspace) -> tuple[str | None, str | None]:
    """The dataset the URL (or this session) asks for, and an error message if invalid."""
    if st.query_params.get(DS_PARAM) is None:
        remembered = st.session_state.get(_CURRENT_KEY)
        names = ws.names()
        return (remembered if remembered in names else (names[0] if names else None)), None
    return requested_dataset(ws, DS_PARAM)


def _on_pick() -> None:
    open_dataset(st.session_state[_PICKER_KEY])


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
        st.error(md(f"The link names a dataset that cannot be opened: {problem}"))
    return name


def navigation(params: Mapping[str, str | None]) -> None:
    """Sidebar links to every page, carrying ``params`` (what belongs in a link) along.

    The same links whether ``app.py`` routed the page or Streamlit ran the file
    directly (Streamlit's own page list is hidden in both cases).
    """
    from mlqa_debug.ui.pages import PAGES

    carried = {k: v for k, v in params.items() if v}
    with st.container(key="mlqa_nav"):
        for spec in PAGES:
            try:
                st.page_link(
                    spec["page"], label=spec["title"], icon=spec["icon"], query_params=carried
                )
            except StreamlitAPIException:  # a page file run alone, as in AppTest
                st.markdown(f"[{spec['title']}]({page_url(spec['url_path'], carried)})")
    st.divider()


def check_fingerprint(name: str, predictions: Predictions) -> None:
    """Warn when the link was made on another version of the dataset, then pin this one."""
    raw = raw_param(FP_PARAM)
    key = f"_fp_mismatch_{name}"
    if raw is not None and raw != predictions.short_fingerprint:
        st.session_state[key] = raw
    if st.session_state.get(key):
        st.warning(
            md(
                f"This link was made on a different version of {name!r} "
                f"(fingerprint {st.session_state[key][:8]!r}, now "
                f"{predictions.short_fingerprint!r}); the numbers may differ from the reviewer's."
            )
        )
    if raw != predictions.short_fingerprint:
        st.query_params[FP_PARAM] = predictions.short_fingerprint
