"""Tests of analyses.embeddings.points: the rows a map view draws."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import pca_map


@pytest.mark.parametrize("color_by", ["error", "confidence", "label"])
def test_an_empty_slice_gives_an_empty_view(loans: Predictions, color_by: emb.ColorBy) -> None:
    nowhere = np.zeros(loans.n_samples, dtype=bool)
    points = emb.map_points(loans, pca_map(loans), slice_mask=nowhere, color_by=color_by)
    assert len(points.positions) == len(points.hover) == len(points.coords) == 0


def test_colouring_by_an_empty_slice_still_draws_every_row(loans: Predictions) -> None:
    nowhere = np.zeros(loans.n_samples, dtype=bool)
    points = emb.map_points(loans, pca_map(loans), slice_mask=nowhere, color_by="slice")
    assert len(points.positions) == len(points.hover) == loans.n_samples
