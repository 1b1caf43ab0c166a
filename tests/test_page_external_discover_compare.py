"""Discover and Compare on external datasets: exact over every row on DuckDB, the rest sampled.

The sample is 1,500 of the 6,000 rows, so a page that searched or compared the
sample instead of the engine's rows would show other sizes and counts than the
numpy path on the whole tables, which these tests compute for comparison.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlqa_debug.analyses.compare import Comparison, compare, flip_table, pair_predictions, view
from mlqa_debug.analyses.discovery.service import DiscoveryParams, discover_slices
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.engines.compare_rows import flip_page_on, pair_engines, paired_sample
from mlqa_debug.engines.discover import cached_discovery_on
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.stats import count
from mlqa_debug.ui.state import external_table
from tests.conftest import shown
from tests.external_data import N_ROWS, REGION, SAMPLE_ROWS, register_logs, write_logs

NORTH = f"`{REGION}` == 'north'"
#: The search the Discover tests pin in the link (and run with numpy on the whole table).
SEARCH = {"alpha": "0.95", "k": "8", "level": "2", "support": "1", "bins": "5"}


def _whole(files: Path, out: Path) -> Predictions:
    """Every row of the partitioned files as one loaded table (``day`` as the engine reads it)."""
    frame = pq.read_table(files).to_pandas()
    frame["day"] = frame["day"].astype("int32")
    frame.sort_values("id").to_parquet(out, index=False)
    return load_predictions(out)


@pytest.fixture
def logs(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``logs`` and its default baseline ``logs_old``, both external on DuckDB."""
    entry = register_logs(workspace, tmp_path, monkeypatch, baseline=True)
    assert entry.external is not None
    return Path(entry.external.path)


@pytest.fixture
def old(logs: Path, tmp_path: Path) -> Path:
    return tmp_path / "logs_old-files"


def _searched(at, tables: int = 1):
    """The page once its background work has drawn ``tables`` tables (the results, then the
    error tree): the page waits 3 s for each, a loaded CI machine may take longer."""
    deadline = time.monotonic() + 120
    while len(at.dataframe) < tables and not at.exception and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    return at


def _captions(at) -> str:
    return " ".join(shown(c.value) for c in at.caption)


# --------------------------------------------------------------------------- Discover


def test_discover_finds_the_slices_of_every_row(page_runner, logs: Path, tmp_path: Path) -> None:
    at = _searched(page_runner("discover")(ds="logs", **SEARCH), tables=2)
    assert not at.exception and not at.error
    results = at.dataframe[0].value
    params = DiscoveryParams(alpha=0.95, k=8, max_level=2, min_support=0.01, n_bins=5)
    expected = discover_slices(_whole(logs, tmp_path / "whole.parquet"), params)
    assert list(results["slice"]) == [d.slice.text for d in expected.slices]
    assert list(results["rows"]) == [d.size for d in expected.slices]
    assert list(results["error rate"]) == pytest.approx([d.error_rate for d in expected.slices])
    assert results["rows"].iloc[0] > SAMPLE_ROWS / 2  # a quarter of the rows are in the north
    captions = _captions(at)
    assert f"Searched {N_ROWS:,} rows" in captions
    assert f"Exact: computed by DuckDB over all {N_ROWS:,} rows." in captions
    assert f"The error tree is sampled: computed on {SAMPLE_ROWS:,} of the {N_ROWS:,}" in captions
    tree = at.dataframe[1].value
    assert tree["rows"].iloc[0] == SAMPLE_ROWS  # the root of the tree is the whole sample


def test_discover_inside_a_slice_links_and_caches(
    page_runner, workspace: Workspace, logs: Path, tmp_path: Path
) -> None:
    at = _searched(page_runner("discover")(ds="logs", slice="age >= 40", **SEARCH))
    assert not at.exception and not at.error
    results = at.dataframe[0].value
    assert results["slice"].str.contains("age >= 40", regex=False).all()
    assert results["open"].str.startswith("/slices?ds=logs&slice=").all()
    whole = _whole(logs, tmp_path / "whole.parquet")
    params = DiscoveryParams(k=8, min_support=0.01, within="age >= 40")
    expected = discover_slices(whole, params)
    assert list(results["rows"]) == [d.size for d in expected.slices]
    table = external_table(workspace, "logs")
    cache = DiskCache(workspace.cache_dir("discovery"))
    cached = cached_discovery_on(table.engine, replace(params, alpha=0.95), cache=cache)
    assert cached is not None and [d.slice.text for d in cached.slices] == list(results["slice"])


# --------------------------------------------------------------------------- Compare


@pytest.mark.parametrize("where", ["", NORTH])
def test_compare_headline_and_flips_are_exact(
    page_runner, logs: Path, old: Path, tmp_path: Path, where: str
) -> None:
    at = page_runner("compare")(ds="logs", slice=where)
    assert not at.exception
    assert all(shown(e.value).startswith("Regression:") for e in at.error)  # the verdict only
    candidate = _whole(logs, tmp_path / "c.parquet")
    baseline = _whole(old, tmp_path / "b.parquet")
    expected = compare(candidate, baseline, where=parse_slice(where), discover=False)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows compared"] == count(expected.headline.n)
    primary = expected.headline.primary
    assert metrics["Baseline error rate"] == view.value_text(primary.baseline, primary.metric)
    assert metrics["Candidate error rate"] == view.value_text(primary.candidate, primary.metric)
    pd.testing.assert_frame_equal(
        at.dataframe[0].value.reset_index(drop=True), view.headline_frame(expected.headline)
    )
    for label, n, _ in view.flip_rows(expected.flips, ["broken", "fixed", "both_wrong_same"]):
        assert metrics[label] == n
    shown_flips = at.dataframe[1].value
    numpy_flips = flip_table(expected.paired, "broken", _mask(expected, where), page_size=50)
    assert list(shown_flips["id"]) == list(numpy_flips.frame["id"])
    captions = _captions(at)
    assert f"Exact: computed by DuckDB over all {N_ROWS:,} pairs" in captions
    assert "This table of slices is sampled: computed on" in captions
    assert "This search is sampled" in captions


def _mask(comparison: Comparison, where: str) -> np.ndarray | None:
    """The compared pairs inside ``where`` (None: all of them)."""
    if not where:
        return None
    paired = comparison.paired
    return paired.pair_mask(slice_mask(paired.candidate, parse_slice(where)))


def test_the_paired_sample_holds_the_same_ids(workspace: Workspace, logs: Path) -> None:
    candidate, baseline = external_table(workspace, "logs"), external_table(workspace, "logs_old")
    pair = pair_engines(candidate.engine, baseline.engine, (str(logs), baseline.source.path))
    with pair.locked() as (c, b):
        sample_c, sample_b = paired_sample(c, b, SAMPLE_ROWS)
        page = flip_page_on(c, b, "fixed", page=1, page_size=20)
    ids_c, ids_b = set(sample_c.frame["id"]), set(sample_b.frame["id"])
    assert ids_c == ids_b and len(ids_c) == SAMPLE_ROWS
    assert pair_predictions(sample_c, sample_b).n == SAMPLE_ROWS
    assert sample_c.fingerprint != candidate.sample.fingerprint  # not the random sample
    assert page.start == 20 and len(page.frame) == 20 and page.total > 40


def test_one_external_and_one_loaded_compare_their_samples(
    page_runner, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_logs(workspace, tmp_path, monkeypatch)
    files = write_logs(tmp_path / "loaded-files", model=1, noise=0.05)
    loaded = _whole(files, tmp_path / "loaded.parquet")
    workspace.add(tmp_path / "loaded.parquet", name="loaded")
    for ds, vs in (("logs", "loaded"), ("loaded", "logs")):
        at = page_runner("compare")(ds=ds, vs=vs)
        assert not at.exception and not at.error
        warning = " ".join(shown(w.value) for w in at.warning)
        assert "Sampled comparison" in warning and "--external --engine duckdb" in warning
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Rows compared"] == count(SAMPLE_ROWS)  # the sample's ids, all paired
    assert loaded.n_samples == N_ROWS


def test_too_few_paired_ids_say_what_to_do(
    page_runner, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_logs(workspace, tmp_path, monkeypatch)
    files = write_logs(tmp_path / "part-files", model=1)
    frame = pq.read_table(files).to_pandas()
    frame["day"] = frame["day"].astype("int32")
    frame[frame["id"] >= N_ROWS - SAMPLE_ROWS].to_parquet(tmp_path / "part.parquet", index=False)
    workspace.add(tmp_path / "part.parquet", name="part")
    at = page_runner("compare")(ds="logs", vs="part")
    assert not at.exception and not at.error
    warning = " ".join(shown(w.value) for w in at.warning)
    assert "too few to compare" in warning and "register both by reference" in warning
    assert not at.metric
