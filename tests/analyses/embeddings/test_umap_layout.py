"""Tests of analyses.embeddings.umap_layout: UMAP rows, pre-reduction, progress, the import."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import umap_layout
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace


def test_umap_runs_on_at_most_max_rows_errors_first(
    loans: Predictions, fake_umap: list[int]
) -> None:
    params = emb.ProjectionParams(max_rows=5_000)
    projection = emb.compute_projection(loans, method="umap", params=params)
    assert fake_umap == [5_000]
    mapped = np.isfinite(projection.coords).all(axis=1)
    assert mapped.sum() == 5_000
    assert mapped[loans.error].all() or loans.error.sum() > 5_000
    assert "5,000 of 20,000 rows" in projection.description


def test_wide_inputs_are_reduced_by_pca_before_umap(
    sample_workspace: Workspace, fake_umap: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    original = umap_layout._reduce

    def spy(matrix: np.ndarray, params: emb.ProjectionParams) -> np.ndarray:
        out = original(matrix, params)
        seen.append(out.shape[1])
        return out

    monkeypatch.setattr(umap_layout, "_reduce", spy)
    digits = sample_workspace.load("digits", roles=None)
    emb.compute_projection(digits, method="umap", params=emb.ProjectionParams(pca_dims=8))
    assert seen == [8]


def test_job_progress_follows_umaps_epochs() -> None:
    seen: list[tuple[str, float | None]] = []
    stream = umap_layout._EpochStream(lambda phase, fraction: seen.append((phase, fraction)))
    for text in ("\r0/200", "\r50/200", "\r200/200"):
        stream.write(text)
    assert [f for _, f in seen] == [0.0, 0.25, 1.0]


@pytest.mark.slow
def test_real_umap_is_reproducible_and_keeps_neighbours(digits: Predictions) -> None:
    """umap-learn itself (numba compiles on first use: tens of seconds)."""
    from sklearn.manifold import trustworthiness

    seen: list[float | None] = []
    first = emb.compute_projection(
        digits, method="umap", progress=lambda phase, fraction: seen.append(fraction)
    )
    second = emb.compute_projection(digits, method="umap")
    np.testing.assert_array_equal(first.coords, second.coords)  # fixed random_state
    matrix = emb.projection_input(digits).matrix
    assert trustworthiness(matrix, first.coords, n_neighbors=10) > 0.9
    assert seen[-1] == 1.0 and first.description.startswith("UMAP of")


@pytest.mark.slow
def test_the_child_process_fits_the_same_map_as_umap_learn_here() -> None:
    """The fit runs in a spawned process (the GIL stays free); the map is umap-learn's own."""
    import umap

    rng = np.random.default_rng(0)
    matrix = np.vstack([rng.normal(c, 1.0, (60, 5)) for c in (0, 6)]).astype(np.float32)
    params = emb.ProjectionParams(n_neighbors=10)
    seen: list[str] = []
    coords = umap_layout.fit_umap(matrix, params, lambda phase, fraction: seen.append(phase))
    here = umap.UMAP(
        n_components=2, n_neighbors=10, min_dist=params.min_dist,
        random_state=params.random_state, n_jobs=1,
    ).fit_transform(matrix)  # fmt: skip
    np.testing.assert_allclose(coords, here, rtol=1e-5, atol=1e-5)
    assert seen[0] == "starting the UMAP worker process" and "laying out the map" in seen
