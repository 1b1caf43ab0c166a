"""Progress and cancel checkpoints in long work: SliceLine, discovery, the error tree, SHAP.

The callbacks must leave results unchanged, report sensible shares, and stop the
work with :class:`~mlqa_debug.errors.Cancelled` once cancelled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.discovery.service import (
    DiscoveryParams,
    cached_discovery,
    discover_slices,
    discovery_key,
    grow_error_tree,
)
from mlqa_debug.analyses.discovery.sliceline import find_slices
from mlqa_debug.analyses.discovery.tree import fit_error_tree
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import Cancelled
from tests.analyses.explain.helpers import fitted_dataset


class Recorder:
    """A progress callback keeping every report, and a cancel switch after ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.reports: list[tuple[str, float | None]] = []
        self.stop_after = stop_after
        self.asked = 0

    def __call__(self, phase: str, fraction: float | None) -> None:
        self.reports.append((phase, fraction))

    def cancelled(self) -> bool:
        self.asked += 1
        return self.stop_after is not None and self.asked > self.stop_after


def lattice(seed: int, n: int = 3_000, features: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Random coded features with a planted high-error slice, and 0/1 or graded errors."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 5, size=(n, features))
    rate = np.where((codes[:, 0] == 1) & (codes[:, 1] == 2), 0.7, 0.1)
    errors = (rng.random(n) < rate).astype(np.float64)
    if seed % 2:
        errors *= rng.random(n)  # graded errors take the non-binary path
    return codes, errors


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_level", [1, 2, 3])
def test_sliceline_gives_the_same_slices_with_callbacks(seed: int, max_level: int) -> None:
    codes, errors = lattice(seed)
    plain = find_slices(codes, errors, alpha=0.9, k=8, max_level=max_level, min_support=0.01)
    recorder = Recorder()
    followed = find_slices(
        codes, errors, alpha=0.9, k=8, max_level=max_level, min_support=0.01,
        progress=recorder, cancelled=recorder.cancelled,
    )  # fmt: skip
    assert followed == plain and plain
    levels = {phase.split(":")[0] for phase, _ in recorder.reports}
    assert f"level 1 of {max_level}" in levels
    assert recorder.asked >= len(recorder.reports)  # every report is also a checkpoint
    fractions = [f for _, f in recorder.reports]
    assert all(f is not None and 0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == 1.0
    if max_level > 1:
        assert f"level 2 of {max_level}" in levels
        level_two = [p for p, _ in recorder.reports if p.startswith("level 2")]
        assert "candidate slices scored" in level_two[-1]


def test_sliceline_stops_when_cancelled_between_and_within_levels() -> None:
    codes, errors = lattice(0)
    with pytest.raises(Cancelled):
        find_slices(codes, errors, max_level=2, cancelled=lambda: True)
    recorder = Recorder(stop_after=3)  # level 1 has two checkpoints: stop inside level 2
    with pytest.raises(Cancelled):
        find_slices(codes, errors, max_level=2, progress=recorder, cancelled=recorder.cancelled)
    assert recorder.reports[-1][0].startswith("level 2 of 2")
    assert recorder.reports[-1][1] is not None and recorder.reports[-1][1] < 1.0


def test_discovery_reports_and_a_cancelled_search_caches_nothing(
    loans: Predictions, tmp_path: Path
) -> None:
    params = DiscoveryParams(k=5, max_level=2)
    cache = DiskCache(tmp_path)
    with pytest.raises(Cancelled):
        discover_slices(loans, params, cache=cache, cancelled=lambda: True)
    assert cached_discovery(loans, params, cache=cache) is None
    recorder = Recorder()
    followed = discover_slices(loans, params, cache=cache, progress=recorder)
    assert recorder.reports[0] == (f"coding {len(followed.features)} features", None)
    assert followed.slices == discover_slices(loans, params).slices
    hit = cached_discovery(loans, params, cache=cache)
    assert hit is not None and hit.cached and hit.slices == followed.slices
    assert discovery_key(loans, params) != discovery_key(loans, DiscoveryParams(k=6))


def test_the_error_tree_is_the_same_with_callbacks_and_stops_when_cancelled(
    loans: Predictions,
) -> None:
    plain = grow_error_tree(loans, max_depth=2)
    recorder = Recorder()
    followed = grow_error_tree(loans, max_depth=2, progress=recorder, cancelled=recorder.cancelled)
    assert [n.slice.text for n in followed.nodes] == [n.slice.text for n in plain.nodes]
    assert [n.size for n in followed.nodes] == [n.size for n in plain.nodes]
    fractions = [f or 0.0 for _, f in recorder.reports]
    assert None not in [f for _, f in recorder.reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] <= 1.0
    assert recorder.reports[-1][0] == "error tree: splitting nodes at depth 2 of 2"
    frame = pd.DataFrame({"x": np.arange(400.0)})
    with pytest.raises(Cancelled):
        fit_error_tree(
            frame, (frame["x"] > 300).astype(float), features=["x"], cancelled=lambda: True
        )


def test_shap_runner_stops_per_batch_and_keeps_what_it_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small batches, so the table takes more than the two the cancel switch lets through
    # (batch sizes follow measured speed: on a quick run two batches took every row)
    monkeypatch.setattr("mlqa_debug.analyses.explain.runner.MAX_BATCH", 32)
    predictions, model = fitted_dataset(tmp_path, LogisticRegression(max_iter=500))
    rows = np.arange(predictions.n_samples)
    cache = tmp_path / "shap"
    recorder = Recorder(stop_after=2)
    with pytest.raises(Cancelled):
        ex.explain(
            predictions, rows, model=model, cache_dir=cache, time_budget=120,
            progress=recorder, cancelled=recorder.cancelled,
        )  # fmt: skip
    assert recorder.reports and all(f is not None and f < 1.0 for _, f in recorder.reports)
    resumed = ex.explain(predictions, rows, model=model, cache_dir=cache, time_budget=120)
    assert resumed.complete and 0 < resumed.computed < len(rows)  # the first batches were kept
    fresh = ex.explain(
        predictions, rows, model=model, cache_dir=tmp_path / "other", time_budget=120,
        cancelled=lambda: False,
    )  # fmt: skip
    np.testing.assert_allclose(fresh.explanation.values, resumed.explanation.values)
