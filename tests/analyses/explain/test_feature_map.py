"""Mapping a pipeline's transformed columns back to the dataset's columns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlqa_debug.analyses import explain as ex
from tests.analyses.explain.helpers import (
    FEATURES,
    toy_frame,
)


def mapped(transformer: object, frame: pd.DataFrame) -> ex.FeatureMap:
    preprocess = Pipeline([("t", transformer)]).fit(frame)
    return ex.feature_map(preprocess, frame)


def test_feature_map_of_column_transformers() -> None:
    frame = toy_frame()[FEATURES].assign(size=np.tile(["S", "M", "L"], 100))
    ct = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(drop="first"), ["colour", "size"]),
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), [0, 1]),
        ],
        remainder="passthrough",
    )
    fmap = mapped(ct, frame)
    assert fmap.features == ("a", "b", "colour", "flag", "size")
    counts = dict(zip(fmap.features, fmap.matrix.sum(axis=0), strict=True))
    assert counts == {"a": 1, "b": 1, "colour": 2, "flag": 1, "size": 2}  # drop="first"
    assert (fmap.matrix.sum(axis=1) == 1).all()  # every output column belongs to one feature


def test_feature_map_joins_columns_a_step_mixes() -> None:
    frame = toy_frame()[["a", "b", "colour"]]
    ct = ColumnTransformer(
        [("pca", PCA(n_components=2), ["a", "b"]), ("oh", OneHotEncoder(), ["colour"])]
    )
    fmap = mapped(ct, frame)
    assert fmap.features == ("a + b", "colour")
    selector = ColumnTransformer(
        [("oh", OneHotEncoder(sparse_output=True), make_column_selector(pattern="^colour$"))],
        remainder="drop",
    )
    assert mapped(selector, frame).features == ("colour",)


def test_feature_map_through_a_scaler_is_the_identity(sample: Callable) -> None:
    predictions, model = sample("digits")
    preprocess, _ = ex.split_pipeline(model.estimator)
    sample_frame = ex.model_input(model, predictions, np.arange(10))
    fmap = ex.feature_map(preprocess, sample_frame)
    assert fmap.features == tuple(f"px_{i}" for i in range(64))
    np.testing.assert_array_equal(fmap.matrix, np.eye(64))
