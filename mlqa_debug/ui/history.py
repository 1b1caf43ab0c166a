"""The History page's state: which history and cases it reads, the loaded frames, filters, links.

The history is ``$MLQA_DEBUG_HISTORY``, else ``<workspace>/history`` (what
``check --record`` writes by default); the cases are ``$MLQA_DEBUG_CASES`` when set
(then only those cases show, under their current names), as ``mlqa-debug history``
does. The file is read once per change (its size and modification time key the cache).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from mlqa_debug.cases import CaseStore
from mlqa_debug.cases.store import ENV_CASES
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import MlqaError
from mlqa_debug.history import (
    HistoryStore,
    HistoryWarning,
    LineProblem,
    case_frame,
    resolve_history_dir,
    tidy,
    trends,
)
from mlqa_debug.ui.links import DS_PARAM, FP_PARAM, SLICE_PARAM, page_url

STATUS_CHOICES = {
    "pass": "pass",
    "fail": "fail",
    "empty": "empty",
    "not_applicable": "n/a",
    "error": "error",
}


@dataclass(frozen=True)
class LoadedHistory:
    """The page's data: records (tidied), one row per case, skipped lines, the file's name."""

    tidied: pd.DataFrame
    cases: pd.DataFrame
    problems: tuple[LineProblem, ...]
    file_name: str


def history_store(ws: Workspace) -> HistoryStore:
    return HistoryStore(resolve_history_dir(None, workspace_root=ws.root))


def _stamp(store: HistoryStore) -> tuple[int, int]:
    try:
        info = store.path.stat()
    except OSError:
        return (0, 0)
    return (info.st_size, info.st_mtime_ns)


@st.cache_data(max_entries=4, show_spinner="Reading the history…")
def _load(directory: str, stamp: tuple[int, int], cases_dir: str | None) -> LoadedHistory:
    store = HistoryStore(Path(directory))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HistoryWarning)  # the page lists them
        listing = store.read()
    tidied = tidy(listing.frame)
    if cases_dir:
        names = {c.id: c.name for c in CaseStore(cases_dir, create=False).load().cases}
        tidied = tidied[tidied["case_id"].isin(list(names))]
        tidied = tidied.assign(case_name=tidied["case_id"].map(names))
    cases = case_frame(tidied, trends(tidied))
    return LoadedHistory(tidied, cases, listing.problems, store.path.name)


def load_history(ws: Workspace) -> LoadedHistory:
    """The workspace's (or ``$MLQA_DEBUG_HISTORY``'s) history; raises MlqaError if unreadable."""
    store = history_store(ws)
    return _load(str(store.directory), _stamp(store), os.environ.get(ENV_CASES) or None)


def run_links(tidied: pd.DataFrame, ws: Workspace) -> pd.Series:
    """Per record, the Slices page link to its dataset and slice (if the dataset still exists)."""
    known = set(ws.names())
    links = [
        page_url("slices", {DS_PARAM: ds, FP_PARAM: fp[:8] if fp else None, SLICE_PARAM: where})
        if isinstance(ds, str) and ds in known
        else None
        for ds, fp, where in zip(
            tidied["dataset"], tidied["fingerprint"], tidied["where"], strict=True
        )
    ]
    return pd.Series(links, index=tidied.index, dtype=object)


def safe_load(ws: Workspace) -> LoadedHistory | None:
    """:func:`load_history`, or an error on the page and ``None``."""
    try:
        return load_history(ws)
    except MlqaError as e:
        st.error(f"The history cannot be read: {e}")
        return None
