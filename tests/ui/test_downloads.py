"""Every CSV a page offers is safe to open in a spreadsheet (issue 11, CSV injection)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.export_csv import neutralise_formula
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice
from tests.conftest import REPO

EVIL = '=HYPERLINK("http://evil.example/","x")'
AT = "@SUM(1)"
AGE = "-age"  # a feature name: a cell of the breakdown, a header of the examples


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The data of each ``st.download_button`` a page draws, by its key (deferred data called)."""
    seen: dict[str, str] = {}
    original = st.download_button

    def record(label: str, data: object, *args: object, key: str, **kwargs: object) -> bool:
        seen[key] = data() if callable(data) else data
        return original(label, data, *args, key=key, **kwargs)

    monkeypatch.setattr(st, "download_button", record)
    return seen


@pytest.fixture
def hostile(workspace: Workspace, tmp_path) -> str:
    """A small loans table whose text features and feature names hold spreadsheet formulas."""
    frame = pd.read_csv(REPO / "sample_data" / "loans.csv").head(2_000)
    frame = frame.rename(columns={"age": AGE, "credit.score": "=credit.score"})
    frame["region"] = frame["region"].replace({"south": EVIL})
    frame["purpose"] = frame["purpose"].where(frame["purpose"] == "wedding", AT)
    path = tmp_path / "hostile.csv"
    frame.to_csv(path, index=False)
    workspace.add(path, name="hostile")
    return "hostile"


def cells(csv: str) -> list[str]:
    """Every cell of ``csv``, header included, as the text a spreadsheet reads."""
    frame = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False, header=None)
    return [str(v) for v in frame.to_numpy().ravel()]


def assert_inert(csv: str, *expected: str) -> None:
    every = cells(csv)
    assert all(neutralise_formula(c) == c for c in every), [c for c in every if c[:1] in "=+-@"]
    for text in expected:
        assert "'" + text in every, (text, every[:40])


def test_the_download_button_writes_safe_csv(function_runner, downloads) -> None:
    def script() -> None:
        import pandas as pd

        from mlqa_debug.ui.downloads import csv_download

        frame = pd.DataFrame({"=name": ["=1+1", "-2", "ok"], "n": [-1, 2, 3]})
        csv_download(frame, file_name="x.csv", key="safe")

    at = function_runner(script)()
    assert not at.exception
    assert downloads["safe"] == "'=name,n\r\n'=1+1,-1\r\n-2,2\r\nok,3\r\n"
    assert at.get("download_button")[0].proto.label == "Download as CSV"


def test_slices_page_downloads_are_inert(
    page_runner: Callable[[str], Callable[..., AppTest]], hostile: str, downloads
) -> None:
    at = page_runner("slices")(ds=hostile)
    assert not at.exception and not at.error
    assert_inert(downloads["breakdown_csv"], AGE)  # values are slice texts: inert already
    assert_inert(downloads["examples_csv"], AGE, AT)


def test_confusion_examples_download_is_inert(
    page_runner: Callable[[str], Callable[..., AppTest]], hostile: str, downloads
) -> None:
    at = page_runner("confusion")(ds=hostile, pair="1~0")
    assert not at.exception and not at.error
    assert_inert(downloads["examples_csv"], AGE, AT)


def test_cases_table_download_is_inert(
    page_runner: Callable[[str], Callable[..., AppTest]],
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    downloads,
) -> None:
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    loans = workspace.load("loans")
    store = lib.CaseStore(workspace.cases_dir)
    store.save(lib.build_case(loans, name=EVIL, where=parse_slice("employment == 'gig'")).case)
    at = page_runner("cases")(ds="loans")
    assert not at.exception and not at.error
    assert_inert(downloads["cases_csv"], EVIL)


def test_streamlits_own_table_download_is_off() -> None:
    """Its CSV writes cells verbatim and cannot be turned off per table: off for the app."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads(
        (Path(__file__).resolve().parents[2] / ".streamlit/config.toml").read_text()
    )
    assert config["client"]["disableDataExport"] is True
