"""Tests of analyses.embeddings.projection: maps on offer, cache keys, PCA, given coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import load
from tests.conftest import NUMERIC_NAME


def test_pca_matches_scikit_learn(loans: Predictions) -> None:
    from sklearn.decomposition import PCA

    projection = emb.compute_projection(loans, method="pca")
    matrix = emb.projection_input(loans).matrix
    reference = PCA(n_components=2, random_state=0).fit_transform(matrix)
    np.testing.assert_allclose(projection.coords, reference, rtol=1e-4, atol=1e-4)
    assert projection.description.startswith("PCA (") and projection.n_mapped == 20_000
    assert projection.axis_names == ("PC 1", "PC 2")


def test_given_coordinates_are_used_as_they_are(binary_frame: pd.DataFrame, write_table) -> None:
    x = np.linspace(-3, 3, len(binary_frame))
    frame = binary_frame.assign(proj_x=x, proj_y=x**2)
    frame.loc[5, "proj_y"] = np.nan
    predictions = load(frame, write_table)
    assert emb.method_choices(predictions) == ("given", "umap", "pca")
    assert emb.default_method(predictions) == "given"
    projection = emb.load_projection(predictions, method="given", cache=None)
    assert projection is not None
    np.testing.assert_allclose(
        projection.coords[:, 0][np.arange(len(x)) != 5], x[np.arange(len(x)) != 5], rtol=1e-6
    )
    assert np.isnan(projection.coords[5]).all() and projection.n_mapped == len(x) - 1


def test_cache_keys_follow_data_method_and_parameters(
    binary_frame: pd.DataFrame, write_table
) -> None:
    predictions = load(binary_frame, write_table)
    key = emb.projection_key(predictions, method="umap")
    assert key == emb.projection_key(predictions, method="umap")
    assert key != emb.projection_key(predictions, method="pca")
    other = emb.ProjectionParams(n_neighbors=30)
    assert key != emb.projection_key(predictions, method="umap", params=other)
    changed = load(
        binary_frame.assign(**{NUMERIC_NAME: binary_frame[NUMERIC_NAME] + 1}), write_table
    )
    assert key != emb.projection_key(changed, method="umap")
