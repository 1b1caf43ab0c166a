"""Tests of mlqa_debug.analyses.confusion.figures: heatmaps that carry their pairs, PR curves."""

from __future__ import annotations

import numpy as np

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.analyses.confusion import figures as plots
from mlqa_debug.data.predictions import Predictions
from tests.analyses.confusion.helpers import matrix_of


def test_heatmap_cells_carry_their_pair(digits: Predictions) -> None:
    matrix = cf.class_confusion(digits)
    fig = plots.confusion_heatmap(matrix, normalize="true", selected=(8, 1), reference=matrix)
    correct, errors, cells = fig.data
    assert cells.type == "scatter" and len(cells.customdata) == 100
    index = 8 * 10 + 1
    assert list(cells.customdata[index]) == [8, 1]
    assert (cells.x[index], cells.y[index]) == ("1", "8")
    assert "true <b>8</b> → predicted <b>1</b>" in cells.hovertext[index]
    assert "5 rows · 5.7% of true 8" in cells.hovertext[index]
    assert errors.text[8][1] == "5.7%" and correct.text[8][1] == ""  # errors drawn apart
    assert np.isnan(errors.z[0][1]) and np.isnan(errors.z[8][8])  # empty cells: no colour
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (0.5, 1.5, 7.5, 8.5)
    assert tuple(fig.layout.yaxis.range) == (9.5, -0.5)  # first class on top, no padding


def test_folded_heatmap_and_difference() -> None:
    counts = np.diag([40] * 6).astype(np.int64)
    counts[4, 5] = 7
    counts[0, 1] = 3
    folded = cf.fold_classes(matrix_of(counts), [0, 1, 2])
    fig = plots.confusion_heatmap(folded, selected=(4, 5))
    assert not fig.layout.shapes  # the selected pair is folded away
    cells = fig.data[-1]
    assert list(cells.customdata[-1]) == [-1, -1]
    assert "includes 7 confusions among other classes" in cells.hovertext[-1]
    diff = plots.difference_heatmap(folded, folded, normalize=None, selected=(0, 1))
    assert diff.data[0].zmid == 0 and set(np.ravel(diff.data[0].text)) == {""}
    assert "difference: +0.00 pts" in diff.data[-1].hovertext[1]


def test_pr_curve_figure_builds(loans: Predictions) -> None:
    mask = loans.frame["employment"].to_numpy() == "gig"
    metrics, curves = cf.threshold_report(loans, mask, threshold=0.3)
    fig = plots.pr_curve_figure(curves, points=metrics)
    names = [t.name for t in fig.data]
    assert names[0].startswith("slice (AP ") and "overall at 0.30" in names
