"""Tests of analyses.embeddings.summary: a selection against the rest."""

from __future__ import annotations

import numpy as np

from mlqa_debug import stats as metrics
from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import pca_map


def test_summary_metrics_are_the_slice_report_of_the_selection(loans: Predictions) -> None:
    selected = np.arange(0, 20_000, 7)
    summary = emb.summarize_selection(loans, selected, shown=np.arange(20_000))
    mask = np.zeros(20_000, bool)
    mask[selected] = True
    reference = metrics.slice_report(loans.metric_data, mask)
    assert summary.report.slice == reference.slice and summary.n_rows == len(selected)
    assert summary.map_rest == metrics.evaluate(loans.metric_data, ~mask)
    assert summary.ids is not None and summary.ids[:2] == ("L00001", "L00008")


def test_summary_of_a_sampled_map_covers_the_drawn_region(loans: Predictions) -> None:
    projection = pca_map(loans)
    shown = emb.sample_points(loans.error, max_points=2_000).positions
    geometry = {"box": [{"x": [-10, 0], "y": [-10, 10]}]}
    region = emb.region_mask(projection.coords, geometry)
    assert region is not None
    selected = shown[region[shown]]
    summary = emb.summarize_selection(loans, selected, shown=shown, region=region)
    assert summary.n_rows == region.sum() > len(selected)
    assert summary.report.slice.n_errors == loans.error[region].sum()
