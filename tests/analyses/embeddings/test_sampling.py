"""Tests of analyses.embeddings.sampling: errors first, deterministic, nested views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa_debug.analyses import embeddings as emb


def test_sample_keeps_every_error_up_to_the_cap() -> None:
    error = np.zeros(10_000, dtype=bool)
    error[::50] = True  # 200 errors
    sample = emb.sample_points(error, max_points=1_000)
    assert len(sample.positions) == 1_000 and sample.is_sample
    assert error[sample.positions].sum() == 200 == sample.n_errors_shown
    assert "all 200 errors" in sample.caption()
    few = emb.sample_points(error, max_points=150)
    assert error[few.positions].all() and len(few.positions) == 150
    assert "150 of the 200 errors" in few.caption()


def test_sample_without_a_cap_is_every_candidate() -> None:
    error = np.array([True, False, False, True])
    sample = emb.sample_points(error, candidates=np.array([True, True, False, True]))
    np.testing.assert_array_equal(sample.positions, [0, 1, 3])
    assert not sample.is_sample and sample.caption() == "All 3 rows (2 errors)."


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    cap=st.integers(1, 300),
    seed=st.integers(0, 2**16),
    error_rate=st.floats(0, 1),
)
def test_sampling_invariants(n: int, cap: int, seed: int, error_rate: float) -> None:
    rng = np.random.default_rng(seed)
    error = rng.random(n) < error_rate
    view = rng.random(n) < 0.7
    sample = emb.sample_points(error, candidates=view, max_points=cap, random_state=seed)
    again = emb.sample_points(error, candidates=view, max_points=cap, random_state=seed)
    np.testing.assert_array_equal(sample.positions, again.positions)  # deterministic
    assert np.all(np.diff(sample.positions) > 0) and view[sample.positions].all()
    assert len(sample.positions) == min(cap, view.sum())
    assert error[sample.positions].sum() == min(cap, (error & view).sum())  # errors first
    smaller = view & (rng.random(n) < 0.5)  # a row drawn in a view is drawn in any sub-view
    inner = emb.sample_points(error, candidates=smaller, max_points=cap, random_state=seed)
    assert set(sample.positions[smaller[sample.positions]]) <= set(inner.positions)


def test_sample_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_points"):
        emb.sample_points(np.zeros(3, bool), max_points=0)
    with pytest.raises(ValueError, match="candidates must have shape"):
        emb.sample_points(np.zeros(3, bool), candidates=np.ones(4, bool))
