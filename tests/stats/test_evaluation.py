"""Properties of mlqa_debug.stats.evaluation: slice and rest partition all rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa_debug.stats import (
    ClassificationData,
    prepare_classification,
    slice_report,
)
from tests.stats.helpers import (
    assert_difference_is_sane,
    assert_estimate_contains_value,
    no_warnings,
)


@st.composite
def class_tables(draw: st.DrawFn) -> tuple[ClassificationData, np.ndarray]:
    """Small random classification data, with or without probabilities, and a mask."""
    k = draw(st.integers(2, 4))
    n = draw(st.integers(0, 40))
    codes = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    y_true, y_pred = np.array(draw(codes), dtype=np.int64), np.array(draw(codes), dtype=np.int64)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    probs = None
    if draw(st.booleans()):
        weights = st.lists(st.floats(0.01, 1.0), min_size=n * k, max_size=n * k)
        raw = np.array(draw(weights)).reshape(n, k)
        probs = raw / raw.sum(axis=1, keepdims=True)
    classes = [f"c{i}" for i in range(k)]
    data = prepare_classification(y_true, y_pred, classes=classes, pred_probs=probs)
    return data, mask


@settings(max_examples=150, deadline=None)
@given(class_tables())
def test_slice_and_rest_partition_overall(table: tuple[ClassificationData, np.ndarray]) -> None:
    data, mask = table
    with no_warnings():
        report = slice_report(data, mask)
    inside, rest, overall = report.slice, report.rest, report.overall
    assert inside.n + rest.n == overall.n == data.n_samples
    assert inside.n_errors + rest.n_errors == overall.n_errors
    for a, b, c in zip(inside.per_class, rest.per_class, overall.per_class, strict=True):
        assert (a.support + b.support, a.n_predicted + b.n_predicted) == (
            c.support,
            c.n_predicted,
        )
    if data.has_probabilities and inside.n and rest.n:
        assert isinstance(inside.log_loss, float) and isinstance(rest.log_loss, float)
        assert isinstance(overall.log_loss, float)
        total = inside.log_loss * inside.n + rest.log_loss * rest.n
        assert total == pytest.approx(overall.log_loss * overall.n)
    assert_difference_is_sane(report.slice, report.rest, report.difference.p_value)
    assert_estimate_contains_value(report.difference.error_rate_diff)
    for metrics in (inside, rest, overall):
        assert_estimate_contains_value(metrics.error_rate)
