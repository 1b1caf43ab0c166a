"""The app shell: navigation covers every page file, and app.py runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.ui.pages import PAGES

REPO = Path(__file__).resolve().parents[1]


def test_navigation_lists_every_page_file() -> None:
    files = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "pages").glob("*.py"))
    assert sorted(spec["page"] for spec in PAGES) == files
    for spec in PAGES:  # the same address whether app.py routes it or not
        assert spec["url_path"] == Path(spec["page"]).stem
        assert spec["page"].isascii()


def test_app_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any(m.label == "Rows" for m in at.metric)
