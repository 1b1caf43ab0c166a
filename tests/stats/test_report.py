"""Tests of mlqa_debug.stats.report and stats.figures: a slice's report as text and bars."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import parse_slice
from mlqa_debug.stats import (
    difference_text,
    evaluate_slice,
    prepare_classification,
    report_frame,
    slice_report,
)
from mlqa_debug.stats.figures import OVERALL_COLOR, REST_COLOR, SLICE_COLOR, error_rate_bars


@pytest.mark.parametrize("where", ["employment == 'gig'", "", "income < 0"])
def test_report_text_never_shows_nan(loans: Predictions, where: str) -> None:
    evaluation = evaluate_slice(loans, parse_slice(where))
    frame = report_frame(evaluation.report)
    assert list(frame.columns) == ["slice", "rest", "overall"]
    cells = " ".join(frame.to_numpy().ravel())
    assert "nan" not in cells.lower()
    assert "nan" not in difference_text(evaluation.report).lower()


def test_report_frame_and_sentence(loans: Predictions) -> None:
    evaluation = evaluate_slice(loans, parse_slice("employment == 'gig'"))
    report, frame = evaluation.report, report_frame(evaluation.report)
    assert frame.loc["rows", "slice"] == f"{report.slice.n:,}"
    assert frame.loc["error rate [95% CI]", "slice"].endswith("]")
    text = difference_text(report)
    assert text.startswith("Error rate ") and "than the rest (95% CI " in text
    assert text.endswith("x.")
    empty = evaluate_slice(loans, parse_slice("income < 0")).report
    assert difference_text(empty) == "The slice or the rest is empty: no comparison."
    assert frame.loc["rows", "overall"] == f"{loans.n_samples:,}"


def test_regression_report_names_its_threshold(diabetes: Predictions) -> None:
    frame = report_frame(evaluate_slice(diabetes, parse_slice("bmi >= 30")).report)
    threshold = diabetes.metric_data.threshold
    assert f"errors (|residual| > {threshold:.3g})" in frame.index


@pytest.mark.parametrize(
    ("mask", "colors"),
    [
        ([True, False, True, False], [SLICE_COLOR, REST_COLOR, OVERALL_COLOR]),
        ([True, True, True, True], [SLICE_COLOR, OVERALL_COLOR]),  # no rest: the slice is red
        ([False, False, False, False], [REST_COLOR, OVERALL_COLOR]),  # no slice
    ],
)
def test_error_rate_bars_keep_each_side_its_colour(mask: list[bool], colors: list[str]) -> None:
    data = prepare_classification([0, 1, 1, 0], [0, 1, 0, 0], classes=["a", "b"])
    fig = error_rate_bars(slice_report(data, np.array(mask)))
    assert list(fig.data[0].marker.color) == colors
    sides = {SLICE_COLOR: "slice", REST_COLOR: "rest", OVERALL_COLOR: "overall"}
    assert [name.split(" ")[0] for name in fig.data[0].x] == [sides[c] for c in colors]
