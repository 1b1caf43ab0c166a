"""Tests of mlqa_debug.stats.corrections against statsmodels' multipletests."""

from __future__ import annotations

import time
from typing import get_args
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from mlqa_debug.stats import CORRECTIONS, Correction, adjust_p_values

STATSMODELS = {"holm": "holm", "bh": "fdr_bh"}
METHODS = list(STATSMODELS)


def _reference(p: np.ndarray, method: str) -> np.ndarray:
    # statsmodels' Holm branch calls gc.collect() on every call (~0.2 s in a big test process)
    with mock.patch("gc.collect"):
        return np.asarray(multipletests(p, method=STATSMODELS[method])[1])


def _p_values(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Seeded p-value sets: spread, tied (rounded), with exact 0 and 1, mostly tiny."""
    if kind == "uniform":
        return rng.random(200)
    if kind == "ties":
        return np.round(rng.random(300), 2)
    if kind == "zeros_and_ones":
        return np.r_[np.zeros(3), np.ones(10), rng.random(20), [1e-300, 0.5, 0.5]]
    if kind == "tiny":
        return 10.0 ** -rng.uniform(0, 12, 500)
    if kind == "mixed_signal":
        return np.r_[rng.random(40) * 1e-4, rng.random(60)]
    raise AssertionError(kind)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["uniform", "ties", "zeros_and_ones", "tiny", "mixed_signal"])
def test_matches_statsmodels(method: Correction, kind: str) -> None:
    p = _p_values(kind, np.random.default_rng(7))
    np.testing.assert_allclose(adjust_p_values(p, method=method), _reference(p, method), rtol=1e-13)


_P_VALUE = st.sampled_from([0.0, 1e-6, 0.01, 0.02, 0.04, 0.3, 1.0]) | st.floats(0, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(_P_VALUE, min_size=1, max_size=40))
def test_matches_statsmodels_property(values: list[float]) -> None:
    p = np.array(values)
    for method in METHODS:
        want = _reference(p, method)
        np.testing.assert_allclose(adjust_p_values(p, method=method), want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_nan_stays_nan_and_is_not_counted(method: Correction) -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan, 0.5, 1.0])
    got = adjust_p_values(p, method=method)
    present = ~np.isnan(p)
    assert np.array_equal(np.isnan(got), ~present)
    np.testing.assert_allclose(got[present], _reference(p[present], method), rtol=1e-13)
    # m = 5, not 7: the smallest Holm factor is 5
    if method == "holm":
        assert got[0] == pytest.approx(0.05)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("value", [0.0, 0.03, 1.0])
def test_single_value_is_unchanged(method: Correction, value: float) -> None:
    assert adjust_p_values([value], method=method).tolist() == [value]


@pytest.mark.parametrize("method", METHODS)
def test_empty_and_all_nan(method: Correction) -> None:
    assert adjust_p_values([], method=method).shape == (0,)
    assert np.isnan(adjust_p_values([np.nan, np.nan], method=method)).all()


@pytest.mark.parametrize("method", METHODS)
def test_shape_and_order_are_kept(method: Correction) -> None:
    rng = np.random.default_rng(3)
    p = rng.random((4, 5))
    got = adjust_p_values(p, method=method)
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got.ravel(), _reference(p.ravel(), method), rtol=1e-13)
    perm = rng.permutation(20)
    np.testing.assert_array_equal(
        adjust_p_values(p.ravel()[perm], method=method), got.ravel()[perm]
    )


def test_holm_is_at_least_bh_and_both_at_least_raw() -> None:
    p = np.random.default_rng(5).random(100) ** 3
    holm, bh = adjust_p_values(p, method="holm"), adjust_p_values(p, method="bh")
    assert np.all(holm >= bh) and np.all(bh >= p) and np.all(holm <= 1.0)


def test_known_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, 0.06 (running max)
    assert adjust_p_values(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 -> 0.02, 0.02, 0.04, 0.04 (running min from top)
    assert adjust_p_values(p, method="bh").tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


@pytest.mark.parametrize("bad", [[0.2, 1.5], [-0.1], [np.inf]])
def test_rejects_values_outside_unit_interval(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]; positions"):
        adjust_p_values(bad)


def test_rejects_unknown_method() -> None:
    with pytest.raises(
        ValueError, match="unknown correction 'bonferroni'; expected one of holm, bh"
    ):
        adjust_p_values([0.1], method="bonferroni")  # type: ignore[arg-type]


def test_names_cover_every_method() -> None:
    assert set(CORRECTIONS) == set(get_args(Correction)) == {"holm", "bh"}
    assert CORRECTIONS["bh"] == "Benjamini-Hochberg"


@pytest.mark.parametrize("method", METHODS)
def test_ten_thousand_slices_are_fast(method: Correction) -> None:
    p = np.random.default_rng(1).random(10_000)
    p[::97] = np.nan
    best = min(_timed(lambda: adjust_p_values(p, method=method)) for _ in range(5))
    assert best < 0.05


def _timed(run: object) -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start
