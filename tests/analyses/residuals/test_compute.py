"""Tests of mlqa_debug.analyses.residuals: statistics, histograms, scatter sampling, figures."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.analyses import residuals as rs
from mlqa_debug.analyses.residuals import figures
from mlqa_debug.data.predictions import Predictions


def test_residual_summary_by_hand(diabetes: Predictions) -> None:
    mask = diabetes.frame["bmi"].to_numpy() >= 30
    summary = rs.residual_summary(diabetes, mask)
    residual = (diabetes.frame["prediction"] - diabetes.frame["label"]).to_numpy()
    threshold = diabetes.schema.error_threshold
    for name, part in (("slice", residual[mask]), ("rest", residual[~mask]), ("overall", residual)):
        row = summary.loc[name]
        assert row["rows"] == len(part)
        assert row["bias"] == pytest.approx(part.mean())
        assert row["MAE"] == pytest.approx(np.abs(part).mean())
        assert row["RMSE"] == pytest.approx(np.sqrt((part**2).mean()))
        assert row["median"] == pytest.approx(np.median(part))
        assert row["p95"] == pytest.approx(np.quantile(part, 0.95))
        assert row["errors"] == pytest.approx((np.abs(part) > threshold).mean())
    assert "MAE" in rs.residual_text(summary)
    text = rs.residual_frame(summary, threshold=threshold)
    assert text.loc["slice", "rows"] == "56" and text.columns[-1] == f"|residual| > {threshold:.3g}"
    empty = rs.residual_summary(diabetes, np.zeros(len(mask), bool))
    assert empty.loc["slice", "rows"] == 0 and np.isnan(empty.loc["slice", "MAE"])
    assert rs.residual_text(empty).startswith("The slice or the rest is empty")
    assert rs.residual_frame(empty).loc["slice", "MAE"] == "–"


def test_residual_histogram_shares_bins(diabetes: Predictions) -> None:
    mask = diabetes.frame["sex"].to_numpy() == "male"
    hist = rs.residual_histogram(diabetes.residual, mask, bins=15)
    everything, edges = np.histogram(diabetes.residual, bins=15)
    np.testing.assert_allclose(hist.edges, edges)
    np.testing.assert_array_equal(hist.slice_counts + hist.rest_counts, everything)
    assert hist.slice_counts.sum() == mask.sum()
    shares = hist.shares()
    assert shares[0].sum() == pytest.approx(1.0) and shares[1].sum() == pytest.approx(1.0)
    assert len(hist.centers) == 15


def test_residual_histogram_ignores_non_finite_values() -> None:
    hist = rs.residual_histogram(np.array([np.nan, np.nan]), np.array([True, False]))
    assert hist.slice_counts.sum() == 0 and len(hist.edges) == 2


@pytest.mark.parametrize(("n", "in_slice"), [(100, 10), (50_000, 300), (50_000, 45_000)])
def test_scatter_positions(n: int, in_slice: int) -> None:
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(0).choice(n, in_slice, replace=False)] = True
    positions = rs.scatter_positions(mask, max_points=20_000)
    assert len(positions) == min(n, 20_000)
    assert np.all(np.diff(positions) > 0)
    if in_slice <= 10_000:
        assert mask[positions].sum() == in_slice  # a small slice is drawn whole
    np.testing.assert_array_equal(positions, rs.scatter_positions(mask, max_points=20_000))


def test_residual_figures_build(diabetes: Predictions) -> None:
    rows = diabetes.frame["bmi"].to_numpy() >= 30
    positions = rs.scatter_positions(rows)
    y_true, y_pred = diabetes.frame["label"].to_numpy(), diabetes.frame["prediction"].to_numpy()
    scatter = figures.predicted_vs_actual(y_true, y_pred, rows, positions, threshold=93.6)
    assert scatter.data[1].name == f"slice ({rows.sum()})" and scatter.data[0].type == "scattergl"
    histogram = rs.residual_histogram(diabetes.residual, rows)
    bars = figures.residual_histograms(histogram, threshold=93.6)
    assert sum(bars.data[1].y) == pytest.approx(1.0)
