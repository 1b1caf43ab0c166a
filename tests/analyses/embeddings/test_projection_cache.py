"""Tests of analyses.embeddings.projection_cache: projections in memory and on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import projection_cache
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import load_predictions


def test_projection_is_cached_on_disk_and_reused(
    binary_frame: pd.DataFrame, write_table, cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_table(binary_frame, "preds.csv")
    first = emb.get_projection(load_predictions(path), method="pca", cache=cache)
    fresh = load_predictions(path)  # a new process would have an empty memory cache

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(projection_cache, "compute_projection", fail)  # where the cache calls it
    again = emb.load_projection(fresh, method="pca", cache=cache)
    assert again is not None and again.key == first.key
    np.testing.assert_array_equal(again.coords, first.coords)
    assert again.description == first.description
    assert emb.load_projection(fresh, method="umap", cache=cache) is None
