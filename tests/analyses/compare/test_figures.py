"""Tests of mlqa_debug.analyses.compare.figures: forest charts of paired differences."""

from __future__ import annotations

import math

import pytest

from mlqa_debug.analyses.compare import (
    Headline,
    MetricDelta,
    headline,
    pair_predictions,
)
from mlqa_debug.analyses.compare import figures as plots
from mlqa_debug.data.predictions import Predictions


@pytest.fixture(scope="module")
def loans_pair(loans: Predictions, loans_v2: Predictions):  # type: ignore[no-untyped-def]
    return pair_predictions(loans_v2, loans)


def test_forest_has_a_rate_panel_and_one_per_other_metric(loans_pair) -> None:  # type: ignore[no-untyped-def]
    head = headline(loans_pair)
    fig = plots.forest_figure(head)
    rates = [d for d in head.rows if d.metric not in ("log_loss", "brier")]
    assert len(fig.data) == 3  # rates together; log loss and Brier score apart
    panel = fig.data[0]
    assert list(panel.y) == [d.label for d in rates]
    for i, d in enumerate(rates):  # in points, bars reaching the interval bounds
        assert panel.x[i] == pytest.approx(100 * d.difference)
        assert panel.x[i] + panel.error_x.array[i] == pytest.approx(100 * d.ci_high)
        assert panel.x[i] - panel.error_x.arrayminus[i] == pytest.approx(100 * d.ci_low)
    error = head.get("error_rate")
    assert error is not None and error.worse and error.p_value < 0.05
    assert panel.marker.color[0] == plots.WORSE_COLOR
    log_loss = fig.data[1]
    assert log_loss.x[0] == pytest.approx(head.get("log_loss").difference)  # type: ignore[union-attr]
    titles = [axis_title(fig, i) for i in range(3)]
    assert titles[0] == "difference (percentage points)" and "Log loss" in titles[1]
    assert "nan" not in " ".join(panel.hovertext).lower()


def axis_title(fig, i: int) -> str:  # type: ignore[no-untyped-def]
    """The x axis title of panel ``i`` (0-based)."""
    return str(fig.layout[f"xaxis{i + 1 if i else ''}"].title.text)


def _delta(label: str, difference: float, low: float, high: float, p: float) -> MetricDelta:
    return MetricDelta(
        "error_rate", label, 0.2, 0.2 + difference, difference, low, high, p, "McNemar exact", False
    )


def test_colours_follow_significance_and_direction() -> None:
    rows = (
        _delta("worse", 0.02, 0.01, 0.03, 0.001),
        _delta("better", -0.02, -0.03, -0.01, 0.001),
        _delta("noise", 0.01, -0.01, 0.03, 0.4),
        _delta("<b>odd</b>", math.nan, math.nan, math.nan, math.nan),
    )
    fig = plots.forest_figure(Headline(n=100, rows=rows, alpha=0.05, primary=rows[0]))
    colours = list(fig.data[0].marker.color)
    assert colours == [
        plots.WORSE_COLOR,
        plots.BETTER_COLOR,
        plots.NEUTRAL_COLOR,
        plots.NEUTRAL_COLOR,
    ]
    assert fig.data[0].y[3] == "&lt;b&gt;odd&lt;/b&gt;"  # user text is not markup
    assert fig.data[0].x[3] is None and fig.data[0].error_x.array[3] == 0
    assert "–" in fig.data[0].hovertext[3]


def test_the_significance_level_is_the_headlines() -> None:
    row = _delta("borderline", 0.02, 0.0, 0.04, 0.03)
    loose = plots.forest_figure(Headline(n=100, rows=(row,), alpha=0.05, primary=row))
    strict = plots.forest_figure(Headline(n=100, rows=(row,), alpha=0.01, primary=row))
    assert loose.data[0].marker.color[0] == plots.WORSE_COLOR
    assert strict.data[0].marker.color[0] == plots.NEUTRAL_COLOR


def test_regression_metrics_each_get_a_panel(diabetes: Predictions) -> None:
    fig = plots.forest_figure(headline(pair_predictions(diabetes, diabetes)))
    assert len(fig.data) == 3  # MAE, RMSE apart; the error rate in points
    names = [axis_title(fig, i) for i in range(3)]
    assert names[0] == "difference (percentage points)"
    assert {"difference in MAE", "difference in RMSE"} <= set(names)


def test_the_margins_are_laid_out_here_not_by_the_browser() -> None:
    """No axis sizes its own margins (a second layout pass in the browser per rerun);
    the left margin holds the longest metric name, and a very long one is capped."""
    short = _delta("MAE", 0.02, 0.01, 0.03, 0.001)
    long = _delta("Precision (class " + "x" * 30 + ")", 0.02, 0.01, 0.03, 0.001)
    endless = _delta("y" * 500, 0.02, 0.01, 0.03, 0.001)
    margins = []
    for row in (short, long, endless):
        fig = plots.forest_figure(Headline(n=100, rows=(row,), alpha=0.05, primary=row))
        axes = [fig.layout[k] for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(axis.automargin is False for axis in axes)
        margins.append(fig.layout.margin.l)
    assert margins[0] < margins[1] < margins[2] == 320
    assert margins[1] >= plots.LABEL_CHAR * len(long.label)
