"""Tests of mlqa_debug.analyses.compare.newly: a planted broken cluster, the disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlqa_debug.analyses.compare import newly_failing, pair_predictions
from mlqa_debug.analyses.compare.pairing import PairedPredictions
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import parse_slice, slice_mask

from .helpers import predictions


@pytest.fixture(scope="module")
def planted() -> tuple[PairedPredictions, np.ndarray]:
    """The candidate breaks most rows with ``a == 'x'`` and ``b >= 8``; elsewhere noise."""
    rng = np.random.default_rng(17)
    n = 6000
    a = rng.choice(["v", "w", "x", "y", "z"], n)
    b = rng.integers(0, 10, n)
    c = rng.choice(["p", "q"], n)
    y = rng.integers(0, 2, n)
    base_pred = np.where(rng.random(n) < 0.85, y, 1 - y)
    cluster = (a == "x") & (b >= 8)
    flip = np.where(cluster, rng.random(n) < 0.6, rng.random(n) < 0.04)
    cand_pred = np.where(flip & (base_pred == y), 1 - y, base_pred)
    cand_pred = np.where(~cluster & (rng.random(n) < 0.04), y, cand_pred)  # some fixes
    frame = pd.DataFrame({"id": np.arange(n), "a": a, "b": b, "c": c, "label": y})
    base = predictions(frame.assign(prediction=base_pred), "base.parquet")
    cand = predictions(frame.assign(prediction=cand_pred), "cand.parquet")
    return pair_predictions(cand, base), cluster


def test_planted_cluster_comes_first(planted: tuple[PairedPredictions, np.ndarray]) -> None:
    paired, cluster = planted
    result = newly_failing(paired)
    assert not result.cached and result.n_rows == paired.n
    assert result.n_broken == int(paired.broken.sum())
    top = result.slices[0]
    assert top.slice.columns == {"a", "b"}
    inside = paired.pair_mask(slice_mask(paired.candidate, top.slice))
    np.testing.assert_array_equal(inside, cluster)
    broken = int((paired.broken & inside).sum())
    fixed = int(((paired.wrong_baseline & ~paired.wrong_candidate) & inside).sum())
    assert (top.size, top.broken) == (int(inside.sum()), broken)
    assert top.broken_rate == pytest.approx(broken / top.size)
    assert top.baseline_error == pytest.approx(paired.wrong_baseline[inside].mean())
    assert top.candidate_error == pytest.approx(paired.wrong_candidate[inside].mean())
    assert top.difference == pytest.approx(top.candidate_error - top.baseline_error)
    assert top.p_value == pytest.approx(stats.binomtest(broken, broken + fixed).pvalue)
    assert [s.score for s in result.slices] == sorted(
        (s.score for s in result.slices), reverse=True
    )


def test_second_call_is_cached(
    planted: tuple[PairedPredictions, np.ndarray], tmp_path: Path
) -> None:
    paired, _ = planted
    cache = DiskCache(tmp_path)
    first = newly_failing(paired, cache=cache, k=5)
    second = newly_failing(paired, cache=cache, k=5)
    assert not first.cached and second.cached
    assert second.slices == first.slices and second.n_broken == first.n_broken
    other = newly_failing(paired, cache=cache, k=3)
    assert not other.cached and len(other.slices) <= 3 + 2  # ties may add a few


def test_within_a_slice(planted: tuple[PairedPredictions, np.ndarray]) -> None:
    paired, _ = planted
    within = parse_slice("c == 'p'")
    result = newly_failing(paired, within=within, max_level=1, min_support=10)
    inside = paired.pair_mask(slice_mask(paired.candidate, within))
    assert result.n_rows == int(inside.sum())
    assert all(set(within.predicates) <= set(s.slice.predicates) for s in result.slices)
    for found in result.slices:
        rows = paired.pair_mask(slice_mask(paired.candidate, found.slice))
        assert found.size == rows.sum() and found.broken == (paired.broken & rows).sum()
    assert result.slices[0].slice.columns <= {"a", "b", "c"}


def test_loans_and_bad_options(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    result = newly_failing(paired, k=3)
    assert result.n_broken == 766 and 1 <= len(result.slices)
    assert all(s.broken_rate > 766 / 20_000 for s in result.slices)
    with pytest.raises(ParameterError, match="max level"):
        newly_failing(paired, max_level=9)
