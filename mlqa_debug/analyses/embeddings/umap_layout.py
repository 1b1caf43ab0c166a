"""UMAP to two dimensions with umap-learn, on at most ``max_rows`` rows, reporting its progress.

``UMAP(n_components=2)`` with a fixed ``random_state`` (so a link shows the same
map; umap-learn then runs on one thread), after a PCA pre-reduction to
``pca_dims`` (50) dimensions for wider inputs. UMAP is fitted on at most
``max_rows`` rows (every error first, then a fixed random sample of the rest,
see :func:`~mlqa_debug.analyses.embeddings.sampling.sample_points`); other rows
get no coordinates. umap-learn is imported here, inside the functions, under
one lock (:func:`import_umap`).
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

import numpy as np

from mlqa_debug.analyses.embeddings.params import ProjectionParams
from mlqa_debug.analyses.embeddings.pca import pca_2d
from mlqa_debug.analyses.embeddings.sampling import sample_points
from mlqa_debug.types import Progress

__all__ = ["fit_umap", "import_umap", "umap_rows"]

_MIN_ROWS = 8
"""Fewer rows than this make no neighbour graph: PCA instead."""
_UMAP_IMPORT = threading.Lock()


def umap_rows(
    error: np.ndarray, matrix: np.ndarray, params: ProjectionParams, progress: Progress
) -> tuple[np.ndarray, str]:
    """UMAP of at most ``params.max_rows`` rows (errors first); NaN for the others."""
    n = len(matrix)
    coords = np.full((n, 2), np.nan, dtype=np.float32)
    rows = np.arange(n)
    if n > params.max_rows:
        sample = sample_points(error, max_points=params.max_rows, random_state=params.random_state)
        rows = sample.positions
    inputs = _reduce(matrix[rows], params)
    if len(rows) < _MIN_ROWS:
        coords[rows], _ = pca_2d(inputs, random_state=params.random_state)
        return coords, "PCA (too few rows for UMAP)"
    coords[rows] = fit_umap(inputs, params, progress)
    text = "UMAP" if len(rows) == n else f"UMAP ({len(rows):,} of {n:,} rows, errors first)"
    return coords, text


def _reduce(matrix: np.ndarray, params: ProjectionParams) -> np.ndarray:
    """PCA pre-reduction to ``params.pca_dims`` dimensions for wide inputs."""
    if matrix.shape[1] <= params.pca_dims or len(matrix) <= params.pca_dims:
        return matrix
    from sklearn.decomposition import PCA

    pca = PCA(n_components=params.pca_dims, random_state=params.random_state)
    return pca.fit_transform(matrix).astype(np.float32)


class _EpochStream(io.TextIOBase):
    """A file for umap-learn's tqdm bar (``bar_format="{n}/{total}"``) that reports progress."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._pattern = re.compile(r"(\d+)/(\d+)")

    def write(self, text: str) -> int:
        found = self._pattern.findall(text)
        if found:
            done, total = (int(v) for v in found[-1])
            self._progress("laying out the map", done / total if total else None)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


def fit_umap(matrix: np.ndarray, params: ProjectionParams, progress: Progress) -> np.ndarray:
    """umap-learn's 2-D UMAP with a fixed random_state (single-threaded by umap's rule)."""
    progress("loading umap-learn", None)
    umap = import_umap()

    progress("finding neighbours (a server's first UMAP also compiles for ~30 s)", None)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(params.n_neighbors, len(matrix) - 1),
        min_dist=params.min_dist,
        random_state=params.random_state,
        n_jobs=1,
        tqdm_kwds={
            "disable": False,
            "file": _EpochStream(progress),
            "bar_format": "{n}/{total}",
            "mininterval": 0.5,
        },
    )
    # no warnings.catch_warnings() here: this runs for seconds in a background
    # thread, and catch_warnings swaps process-wide state that other threads use
    coords = reducer.fit_transform(matrix)
    return np.asarray(coords, dtype=np.float32)


def import_umap() -> Any:
    """``import umap``, one thread at a time; a failed import raises (the job reports it).

    Python locks each module while importing it, but two threads importing
    packages that import each other (umap-learn, pynndescent, numba,
    scikit-learn) in different orders can meet a partially initialised module:
    Python breaks the would-be deadlock by handing one thread the unfinished
    module. So projection jobs import umap-learn under one lock, after the
    thread that started them imported what pages share with it
    (:func:`~mlqa_debug.analyses.embeddings.jobs.preload_imports`). Whatever
    still fails is the job's error; ``sys.modules`` is Python's to manage.
    """
    with _UMAP_IMPORT:
        import umap

    return umap
