"""Tests of analyses.embeddings.figures (with points and colors): the map as plotly traces."""

from __future__ import annotations

import numpy as np

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import colors
from mlqa_debug.analyses.embeddings.figures import BACKGROUND_GROUPS, embedding_map
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import parse_slice
from tests.analyses.embeddings.helpers import pca_map, trace_positions


def test_figure_has_one_webgl_trace_per_group_with_row_positions(digits: Predictions) -> None:
    points = emb.map_points(digits, pca_map(digits), color_by="label")
    fig = embedding_map(points)
    assert [t.type for t in fig.data] == ["scattergl"] * 10
    assert [t.name.split(" ")[0] for t in fig.data] == [str(c) for c in range(10)]
    drawn = np.concatenate([trace_positions(t) for t in fig.data])
    assert sorted(drawn.tolist()) == list(range(899))
    for trace in fig.data:
        label = int(trace.name.split(" ")[0])
        rows = trace_positions(trace)
        assert (digits.y_true_codes[rows] == label).all()
        x = np.asarray(trace.x)
        np.testing.assert_allclose(x, points.coords[np.isin(points.positions, rows), 0])
    assert fig.layout.dragmode == "select"


def test_errors_are_drawn_on_top(loans: Predictions) -> None:
    fig = embedding_map(emb.map_points(loans, pca_map(loans), color_by="error"))
    assert [t.name.split(" ")[0] for t in fig.data] == ["correct", "error"]
    assert len(trace_positions(fig.data[1])) == int(loans.error.sum())


def test_continuous_colouring_is_one_trace_with_a_scale(
    diabetes: Predictions, loans: Predictions
) -> None:
    fig = embedding_map(emb.map_points(diabetes, pca_map(diabetes), color_by="abs_error"))
    assert len(fig.data) == 1 and fig.data[0].marker.showscale
    np.testing.assert_allclose(
        fig.data[0].marker.color,
        np.abs(diabetes.residual)[trace_positions(fig.data[0])],
        rtol=1e-6,  # colours are sent as float32
    )
    conf = emb.map_points(loans, pca_map(loans), color_by="confidence")
    assert conf.color.is_continuous
    assert emb.color_choices(diabetes, has_slice=False, has_clusters=False) == (
        "error",
        "label",
        "prediction",
        "abs_error",
    )


def test_slice_colouring_shows_all_rows(loans: Predictions) -> None:
    gig = parse_slice("employment == 'gig'").mask(loans.slice_frame)
    projection = pca_map(loans)
    inside = emb.map_points(loans, projection, slice_mask=gig, color_by="error")
    assert len(inside.positions) == gig.sum() == 1_002
    everything = emb.map_points(loans, projection, slice_mask=gig, color_by="slice")
    assert len(everything.positions) == 20_000
    fig = embedding_map(everything)
    assert [t.name for t in fig.data] == ["rest (18,998)", "in slice (1,002)"]


def test_many_classes_are_folded_into_other() -> None:
    codes = np.repeat(np.arange(15), np.arange(15, 0, -1))
    groups, names = colors._class_groups(codes, [f"c{i}" for i in range(15)])
    assert len(names) == colors.MAX_CLASS_GROUPS and names[-1] == "other"
    assert (groups[codes >= 9] == 9).all() and "other" in BACKGROUND_GROUPS
