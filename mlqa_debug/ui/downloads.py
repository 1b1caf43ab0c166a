"""The product's own CSV download button, for every table a user can take away.

Streamlit's table toolbar ("Download as CSV") writes cells as they are, so a cell
such as ``=HYPERLINK(...)`` from a dataset runs in the spreadsheet of whoever
opens the file. Its only switch is the app-wide ``client.disableDataExport``
(no per-table option in Streamlit 1.67). Every download the pages offer goes
through :func:`csv_download`, which writes :func:`~mlqa_debug.data.export_csv.safe_csv`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mlqa_debug.data.export_csv import safe_csv

__all__ = ["csv_download"]


def csv_download(
    frame: pd.DataFrame | pd.Series,
    *,
    file_name: str,
    key: str,
    label: str = "Download as CSV",
    index: bool = False,
) -> None:
    """A download button for ``frame`` as CSV with spreadsheet formulas made inert.

    The CSV is written when the button is clicked (Streamlit's deferred data), not
    on every rerun: a slice change would otherwise pay for files nobody takes.
    """
    st.download_button(
        label,
        lambda: safe_csv(frame, index=index),
        file_name,
        "text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )
