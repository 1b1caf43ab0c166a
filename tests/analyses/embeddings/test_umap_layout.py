"""Tests of analyses.embeddings.umap_layout: UMAP rows, pre-reduction, progress, the import."""

from __future__ import annotations

import builtins
import threading
import time
import types

import numpy as np
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import umap_layout
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from tests.analyses.embeddings.helpers import code_uses


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


def test_umap_is_imported_by_one_thread_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("umap")
    real_import = builtins.__import__
    guard = threading.Lock()
    inside, most = 0, 0

    def slow_import(name: str, *args: object, **kwargs: object) -> object:
        nonlocal inside, most
        if name != "umap":
            return real_import(name, *args, **kwargs)  # type: ignore[arg-type]
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.02)
        with guard:
            inside -= 1
        return fake

    monkeypatch.setattr(builtins, "__import__", slow_import)
    found: list[object] = []
    threads = [
        threading.Thread(target=lambda: found.append(umap_layout.import_umap())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [fake] * 4 and most == 1


def test_the_package_leaves_sys_modules_to_python() -> None:
    assert code_uses("sys.modules") == []
