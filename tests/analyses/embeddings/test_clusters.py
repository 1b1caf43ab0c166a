"""Tests of analyses.embeddings.clusters: HDBSCAN on the map, ranked by error rate."""

from __future__ import annotations

import numpy as np

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import parse_slice
from tests.analyses.embeddings.helpers import pca_map


def test_clusters_are_found_and_ranked_by_error_rate() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]])
    member = np.repeat([0, 1, 2], 400)
    coords = (centers[member] + rng.normal(0, 0.5, (1_200, 2))).astype(np.float32)
    error = rng.random(1_200) < np.array([0.05, 0.6, 0.2])[member]
    result = emb.find_clusters(coords, error, min_cluster_size=50)
    assert len(result.clusters) == 3
    rates = [c.error_rate.value for c in result.clusters]
    assert rates == sorted(rates, reverse=True)
    worst = result.clusters[0]
    assert worst.name == "C1" and np.allclose(worst.center, [10, 0], atol=0.5)
    assert worst.errors == error[result.mask(worst)].sum()
    assert result.by_name("C2") is result.clusters[1] and result.by_name("C9") is None
    frame = result.to_frame()
    assert list(frame["cluster"]) == ["C1", "C2", "C3"] and frame["rows"].sum() <= 1_200


def test_rows_beyond_the_fit_sample_join_their_nearest_points_cluster() -> None:
    rng = np.random.default_rng(2)
    coords = np.vstack([rng.normal(0, 0.3, (3_000, 2)), rng.normal(8, 0.3, (3_000, 2))])
    error = np.zeros(6_000, bool)
    result = emb.find_clusters(coords, error, max_fit=500, min_cluster_size=30)
    assert result.n_fitted == 500 and len(result.clusters) == 2
    assert (result.labels >= 0).mean() > 0.95
    left = result.labels[:3_000][result.labels[:3_000] >= 0]
    assert len(set(left.tolist())) == 1


def test_clusters_respect_the_view_and_are_remembered(loans: Predictions) -> None:
    projection = pca_map(loans)
    gig = parse_slice("employment == 'gig'").mask(loans.slice_frame)
    first = emb.error_clusters(loans, projection, candidates=gig)
    assert emb.error_clusters(loans, projection, candidates=gig) is first
    assert (first.labels[~gig] == -1).all()
