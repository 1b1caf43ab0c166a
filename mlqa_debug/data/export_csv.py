"""CSV for people to download, with spreadsheet formulas made inert (OWASP "CSV injection").

A spreadsheet that opens a CSV runs a cell beginning with ``=``, ``+``, ``-`` or
``@`` (and, in some, a tab or carriage return) as a formula: ``=HYPERLINK(...)``
or ``=cmd|' /C calc'!A0`` from a dataset's text or an id ends up executed on the
machine of whoever opens the download. Every CSV the product hands out goes
through :func:`safe_csv`, which puts a single quote in front of such text cells
and of such column names, as OWASP advises. Numbers stay numbers: a cell holding
the number -3 is written ``-3``; so is the text ``"-3"``, which no spreadsheet
reads as a formula. Other text is written as it is.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

__all__ = ["FORMULA_PREFIXES", "neutralise_formula", "safe_csv", "safe_frame"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def neutralise_formula(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run; else as it is."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    return value if _PLAIN_NUMBER.fullmatch(value) else "'" + value


def _is_text(dtype: np.dtype[Any] | ExtensionDtype) -> bool:
    """Whether a column (or index) of ``dtype`` may hold text."""
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def _safe_labels(labels: pd.Index) -> pd.Index:
    if not isinstance(labels, pd.MultiIndex) and not _is_text(labels.dtype):
        return labels
    if isinstance(labels, pd.MultiIndex):
        return pd.MultiIndex.from_tuples(
            [tuple(neutralise_formula(part) for part in label) for label in labels],
            names=labels.names,
        )
    return pd.Index([neutralise_formula(label) for label in labels], name=labels.name)


def safe_frame(frame: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are made inert."""
    table = frame.to_frame() if isinstance(frame, pd.Series) else frame
    out = table.copy(deep=False)
    for i in range(out.shape[1]):  # by position: column names may repeat
        values = out.iloc[:, i]
        if _is_text(values.dtype):
            safe = values.astype(object).map(neutralise_formula, na_action="ignore")
            out.isetitem(i, safe.to_numpy(dtype=object))
    out.columns = _safe_labels(out.columns)
    out.index = _safe_labels(out.index)
    return out


def safe_csv(frame: pd.DataFrame | pd.Series, *, index: bool = False) -> str:
    """``frame`` as CSV text, safe to open in a spreadsheet (see the module docstring).

    Rows end in CRLF (RFC 4180), so a cell holding a lone carriage return is quoted
    too (with pandas' default ``\\n`` it would be written bare and split the row).
    """
    return safe_frame(frame).to_csv(index=index, lineterminator="\r\n")
