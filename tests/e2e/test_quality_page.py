"""The Data quality page in a real browser, with a reference table chosen in the link."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from mlqa_debug.data.workspace import Workspace
from tests.e2e.harness import wait_for_run

SCREENSHOT = Path(os.environ.get("MLQA_SCREENSHOT_DIR", "/tmp/qpage")) / "quality.png"
N_ROWS = 5_000


def _table(rng: np.random.Generator, *, shift: float, start: int) -> pd.DataFrame:
    score = rng.random(N_ROWS)
    return pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(start, start + N_ROWS)],
            "income": rng.lognormal(10, 0.4, N_ROWS) * (1 + shift),
            "age": rng.integers(18, 80, N_ROWS),
            "region": rng.choice(["north", "south", "east", "west"], N_ROWS),
            "label": (rng.random(N_ROWS) < score).astype(int),
            "prediction": (score >= 0.5).astype(int),
            "score": score,
        }
    )


@pytest.fixture
def quality_workspace(tmp_path: Path) -> Path:
    """A workspace with ``train`` and ``eval``: eval's income is 30% higher, 200 rows shared."""
    rng = np.random.default_rng(7)
    train, current = _table(rng, shift=0.0, start=0), _table(rng, shift=0.3, start=100_000)
    current.iloc[:200, 1:] = train.iloc[:200, 1:].to_numpy()
    current.loc[current.index[::10], "age"] = np.nan  # 10% missing: a finding with a slice
    ws = Workspace(tmp_path / "workspace")
    for name, frame in (("train", train), ("eval", current)):
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        ws.add(path, name=name)
    return ws.root


def test_quality_page_with_a_reference(start_server, page: Page, quality_workspace: Path) -> None:
    server = start_server(quality_workspace)
    page.goto(f"{server.url}/quality?ds=eval&vs=train")
    wait_for_run(page, timeout=120_000)
    drift_chart = page.locator(".st-key-quality_drift_chart .main-svg").first
    expect(drift_chart).to_be_visible(timeout=120_000)
    wait_for_run(page, timeout=120_000)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_role("heading", name="Data quality").first).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables.first).to_be_visible()
    assert tables.count() >= 4  # findings, leakage, drift, error rate per slice
    assert page.locator('[data-testid="stException"]').count() == 0
    text = main.inner_text()
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE), text[:2000]
    bars = page.locator(".st-key-quality_drift_chart g.trace.bars")
    assert bars.count() == 2  # the reference's and the current table's distributions
    charts = page.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() == 3  # reliability, labels, drift
    for i in range(charts.count()):
        expect(charts.nth(i).locator(".main-svg").first).to_be_visible(timeout=30_000)
    page.set_viewport_size({"width": 1400, "height": 4200})  # the app scrolls inside itself
    page.wait_for_timeout(1_000)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
