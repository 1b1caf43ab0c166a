"""Pages on an external dataset: exact numbers from DuckDB over every row, the rest sampled."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.stats import count, slice_report
from tests.conftest import shown
from tests.external_data import N_ROWS, REGION, SAMPLE_ROWS, logs_frame, register_logs

NORTH = f"`{REGION}` == 'north'"


@pytest.fixture
def logs(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    entry = register_logs(workspace, tmp_path, monkeypatch)
    assert entry.external is not None
    return Path(entry.external.path)


def _all_rows(path: Path) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted(path.glob("day=*/*.parquet")))


def test_slices_page_counts_every_row_and_says_what_is_sampled(page_runner, logs: Path) -> None:
    at = page_runner("slices")(ds="logs", slice=NORTH)
    assert not at.exception and not at.error
    text = " ".join(shown(i.value) for i in at.info)
    assert f"{N_ROWS:,} rows in 3 files" in text and "DuckDB" in text
    assert f"sample of {SAMPLE_ROWS:,} of the {N_ROWS:,} rows" in text
    frame = logs_frame()
    north = int((frame[REGION] == "north").sum())
    assert at.metric[0].value == count(north)  # exact, not the sample's count
    wrong = frame[REGION].eq("north") & frame["label"].ne(frame["prediction"])
    assert at.metric[1].value == f"{wrong.sum() / north:.1%}"
    captions = " ".join(c.value for c in at.caption)
    assert f"Exact: computed by DuckDB over all {N_ROWS:,} rows." in captions
    assert "This breakdown is sampled" in captions and "This list of rows is sampled" in captions


def test_slices_page_matches_numpy_on_the_whole_table(
    page_runner, logs: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole.parquet"
    _all_rows(logs).to_parquet(whole, index=False)
    predictions = load_predictions(whole)
    s = parse_slice(f"{NORTH} and age >= 40")
    expected = slice_report(predictions.metric_data, slice_mask(predictions, s))
    at = page_runner("slices")(ds="logs", slice=s.text)
    assert at.metric[0].value == count(expected.slice.n)
    assert at.metric[2].value == f"{expected.rest.error_rate.value:.1%}"
    table = at.table[0].value
    assert "rows" in " ".join(map(str, table.index)) or len(table) > 0


def test_a_changed_table_is_refused_with_the_way_out(page_runner, logs: Path) -> None:
    (logs / "day=2" / "part.parquet").unlink()
    at = page_runner("slices")(ds="logs")
    assert not at.exception
    error = shown(at.error[0].value)
    assert "changed since it was registered" in error and "--overwrite" in error


@pytest.mark.parametrize(
    "page", ["data", "embeddings", "explanations", "history", "labels", "quality"]
)
def test_every_other_page_opens_on_the_sample_and_says_so(
    page_runner, logs: Path, page: str
) -> None:
    at = page_runner(page)(ds="logs")
    assert not at.exception, at.exception
    banner = " ".join(shown(i.value) for i in at.info)
    assert "is an external dataset" in banner and f"sample of {SAMPLE_ROWS:,}" in banner
