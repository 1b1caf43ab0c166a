"""The History page under AppTest: empty history, grid, lines, filters, links."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.history import HistoryStore, Record

REPO = Path(__file__).resolve().parents[2]
PAGE = str(REPO / "pages" / "history.py")


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("MLQA_DEBUG_HISTORY", str(tmp_path / "hist"))
    monkeypatch.delenv("MLQA_DEBUG_CASES", raising=False)
    return tmp_path / "hist"


def fill(history: Path) -> None:
    records = []
    for run in range(8):
        for case, values, op in (("drift", 0.09 + 0.004 * run, "<="), ("flat", 0.2, "<=")):
            records.append(
                Record(
                    time=f"2026-01-0{run + 1}T00:00:00.000000Z",
                    run_id=f"run-{run}",
                    case_id=case,
                    case_name=f"{case} case",
                    metric="error_rate",
                    op=op,
                    status="pass",
                    threshold=0.12 if case == "drift" else 0.25,
                    value=values,
                    low=values - 0.01,
                    high=values + 0.01,
                    where="employment == 'gig'",
                    dataset="loans",
                    fingerprint="abcdef0123",
                    model="m",
                    model_version=f"v{run}",
                )
            )
    HistoryStore(history).append(records)


def test_empty_history_explains_how_to_record(history: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("check --cases DIR PREDICTIONS --record" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_grid_lines_and_degrading_flag(history: Path) -> None:
    fill(history)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["2", "8", "0", "1"]
    charts = at.get("plotly_chart")
    assert len(charts) == 1 + 2  # the grid and one line per case
    table = at.dataframe[0].value
    assert list(table["case"]) == ["drift case", "flat case"]  # degrading first
    assert list(table["trend"]) == ["degrading", "stable"]
    runs = at.dataframe[1].value
    assert runs["run_id"].iloc[0] == "run-7"  # newest first in the table
    assert runs["open"].iloc[0].startswith("/slices?ds=loans&fp=abcdef01&slice=")
    text = " ".join(str(e.value) for e in at.markdown)
    assert "nan" not in text.lower()


def test_filters(history: Path) -> None:
    fill(history)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.toggle(key="history_degrading").set_value(True).run()
    assert list(at.dataframe[0].value["case"]) == ["drift case"]
    at.toggle(key="history_degrading").set_value(False).run()
    at.multiselect(key="history_cases").set_value(["flat"]).run()
    assert list(at.dataframe[0].value["case"]) == ["flat case"]
    at.multiselect(key="history_models").set_value(["m"]).run()
    assert not at.exception
