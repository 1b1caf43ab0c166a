"""Tests of analyses.embeddings.rule: the slice that describes a selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import Slice, parse_slice
from tests.analyses.embeddings.helpers import pca_map


def test_rule_recovers_a_planted_cohort(loans: Predictions) -> None:
    shown = np.arange(loans.n_samples)
    selected = np.flatnonzero(parse_slice("employment == 'gig'").mask(loans.slice_frame))
    rule = emb.suggest_rule(loans, selected, shown=shown)
    assert rule is not None
    assert rule.rule == parse_slice("employment == 'gig'")
    assert rule.precision == 1.0 and rule.recall == 1.0 and rule.n_rows == 1_002


def test_rule_recovers_a_class_on_a_multiclass_map(digits: Predictions) -> None:
    selected = np.flatnonzero(digits.frame["label"].to_numpy() == 8)
    rule = emb.suggest_rule(digits, selected, shown=np.arange(digits.n_samples))
    assert rule is not None and rule.rule.text == "label == 8"


@pytest.mark.parametrize("seed", range(6))
def test_rule_counts_are_exactly_what_its_slice_selects(loans: Predictions, seed: int) -> None:
    rng = np.random.default_rng(seed)
    projection = pca_map(loans)
    shown = emb.sample_points(loans.error, max_points=5_000, random_state=seed).positions
    x, y = projection.coords[:, 0], projection.coords[:, 1]
    lo, hi = np.sort(rng.uniform(-2, 2, 2))
    selected = shown[(x[shown] > lo) & (x[shown] < hi) & (y[shown] > rng.uniform(-2, 0))]
    base = parse_slice("age >= 30") if seed % 2 else Slice()
    rule = emb.suggest_rule(loans, selected, shown=shown, base=base)
    assert rule is not None
    covered = rule.rule.mask(loans.slice_frame)[shown]  # brute force on the rule's own mask
    chosen = np.isin(shown, selected)
    assert rule.n_covered == covered.sum()
    assert rule.n_selected_covered == (covered & chosen).sum()
    assert rule.n_selected == len(selected)
    assert math.isclose(rule.precision, (covered & chosen).sum() / covered.sum())
    assert rule.slice == base & rule.rule
    assert rule.n_rows == (base & rule.rule).mask(loans.slice_frame).sum()
    everything = 2 * len(selected) / (len(selected) + len(shown))  # F1 of "all points"
    assert rule.f1 > everything, rule
    assert len(rule.rule.predicates) <= 6


def test_no_rule_for_an_empty_or_full_selection(diabetes: Predictions) -> None:
    shown = np.arange(diabetes.n_samples)
    assert emb.suggest_rule(diabetes, np.array([], dtype=int), shown=shown) is None
    assert emb.suggest_rule(diabetes, shown, shown=shown) is None
    with pytest.raises(ValueError, match="row positions"):
        emb.suggest_rule(diabetes, np.array([10_000]), shown=shown)
