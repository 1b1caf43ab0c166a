"""Which rows to explain: the slice and a reference sample of the rest."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlqa_debug.analyses import explain as ex
from mlqa_debug.slicing import parse_slice, slice_mask


def test_plan_rows_samples_slice_and_rest_within_the_budget(sample: Callable) -> None:
    predictions, _ = sample("loans")
    mask = slice_mask(predictions, parse_slice("employment == 'gig'"))
    plan = ex.plan_rows(predictions, mask, max_rows=600, required=[5, 7])
    assert list(plan.rows[:2]) == [5, 7]
    assert len(plan.slice_rows) + len(plan.rest_rows) == 600 and plan.sampled
    assert mask[plan.slice_rows].all() and not mask[plan.rest_rows].any()
    assert len(plan.rest_rows) == 200 and plan.n_slice == 1002
    assert len(set(plan.rows.tolist())) == len(plan.rows)
    mixed = mask[plan.rows[2:102]].mean()
    assert 0.5 < mixed < 0.85  # slice and rest interleave: a prefix holds both
    narrower = slice_mask(predictions, parse_slice("employment == 'gig' and age < 30"))
    nested = ex.plan_rows(predictions, narrower, max_rows=600)
    in_both = plan.slice_rows[narrower[plan.slice_rows]]
    assert len(in_both) and np.isin(in_both, nested.slice_rows).all()  # nested slices reuse rows


def test_plan_rows_of_all_rows_has_no_rest(sample: Callable) -> None:
    predictions, _ = sample("diabetes")
    plan = ex.plan_rows(predictions, np.ones(predictions.n_samples, bool), max_rows=2000)
    assert len(plan.slice_rows) == predictions.n_samples and len(plan.rest_rows) == 0
    assert not plan.sampled
