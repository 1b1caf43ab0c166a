"""Tests of analyses.embeddings.selection: browser selections decoded into rows."""

from __future__ import annotations

import numpy as np

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings.figures import embedding_map
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import pca_map, trace_positions


def test_selection_maps_to_rows_through_custom_data_with_coloured_traces(
    digits: Predictions,
) -> None:
    fig = embedding_map(emb.map_points(digits, pca_map(digits), color_by="label"))
    rng = np.random.default_rng(0)
    points, expected = [], set()
    for curve, trace in enumerate(fig.data):
        customdata = trace_positions(trace)
        for index in rng.choice(len(customdata), 5, replace=False):
            points.append(
                {
                    "curve_number": curve,
                    "point_index": int(index),
                    "point_number": int(index),
                    "x": float(trace.x[index]),
                    "y": float(trace.y[index]),
                    "customdata": int(customdata[index]),
                }
            )
            expected.add(int(customdata[index]))
    got = emb.selected_positions(points, n_samples=digits.n_samples)
    assert got.tolist() == sorted(expected)
    # the trace index alone would be wrong: point 0 of every trace is a different row
    assert len({int(trace_positions(t)[0]) for t in fig.data}) == len(fig.data)


def test_selection_falls_back_to_trace_positions_and_ignores_junk() -> None:
    traces = [np.array([10, 11, 12]), np.array([20, 21])]
    points = [
        {"curve_number": 1, "point_index": 1},  # no customdata: trace lookup -> 21
        {"customdata": [5]},
        {"customdata": {"0": 6}},  # a typed array row serialised as an object
        {"customdata": 7.0},
        {"customdata": "8"},
        {"customdata": -1},
        {"customdata": 10**12},
        {"customdata": True},
        {"customdata": float("nan")},
        {"curve_number": 9, "point_index": 0},
        {"curve_number": 0, "point_index": 99},
        "not a point",
    ]
    got = emb.selected_positions(points, n_samples=100, traces=traces)  # type: ignore[arg-type]
    assert got.tolist() == [5, 6, 7, 21]


def test_region_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(2_000, 2))
    box = {"box": [{"x": [0.5, -0.5], "y": [-1.0, 0.2]}], "lasso": []}
    expected = (np.abs(coords[:, 0]) <= 0.5) & (coords[:, 1] >= -1) & (coords[:, 1] <= 0.2)
    np.testing.assert_array_equal(emb.region_mask(coords, box), expected)
    triangle = {"lasso": [{"x": [0, 2, 0], "y": [0, 0, 2]}]}
    inside = (coords[:, 0] > 0) & (coords[:, 1] > 0) & (coords.sum(axis=1) < 2)
    np.testing.assert_array_equal(emb.region_mask(coords, triangle), inside)
    both = emb.region_mask(coords, {**box, **triangle})
    np.testing.assert_array_equal(both, expected | inside)
    for junk in ({}, {"box": [{"x": ["a", 1], "y": [0, 1]}]}, {"lasso": [{"x": [0, 1], "y": [0]}]}):
        assert emb.region_mask(coords, junk) is None
