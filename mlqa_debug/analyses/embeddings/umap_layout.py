"""UMAP to two dimensions with umap-learn, on at most ``max_rows`` rows, reporting its progress.

``UMAP(n_components=2)`` with a fixed ``random_state`` (so a link shows the same
map; umap-learn then runs on one thread), after a PCA pre-reduction to
``pca_dims`` (50) dimensions for wider inputs. UMAP is fitted on at most
``max_rows`` rows (every error first, then a fixed random sample of the rest,
see :func:`~mlqa_debug.analyses.embeddings.sampling.sample_points`); other rows
get no coordinates. The fit runs in a child process (:func:`fit_umap`): umap-learn's
numba code holds the GIL for seconds at a time, and its first call compiles for
about 30 s, which in a server thread stalled every other session's reruns (up to
2 s per slice change at 1M rows, measured with ``benchmarks/ws_client.py``), and
the server process never imports umap-learn.
"""

from __future__ import annotations

import io
import multiprocessing
import queue
import re
from typing import Any

import numpy as np

from mlqa_debug.analyses.embeddings.params import ProjectionParams
from mlqa_debug.analyses.embeddings.pca import pca_2d
from mlqa_debug.analyses.embeddings.sampling import sample_points
from mlqa_debug.types import Progress

__all__ = ["fit_umap", "umap_rows"]

_MIN_ROWS = 8
"""Fewer rows than this make no neighbour graph: PCA instead."""


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
    """umap-learn's 2-D UMAP with a fixed random_state, fitted in a child process.

    The child (``spawn``: nothing of the server's threads or locks is inherited)
    sends its progress and the coordinates back on a queue; the same random_state
    gives the same map as a fit in this process. A child that dies is an error.
    """
    progress("starting the UMAP worker process", None)
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    kwargs = {
        "n_components": 2,
        "n_neighbors": min(params.n_neighbors, len(matrix) - 1),
        "min_dist": params.min_dist,
        "random_state": params.random_state,
        "n_jobs": 1,
    }
    child = context.Process(
        target=_fit_in_child, args=(matrix, kwargs, messages), name="mlqa-umap", daemon=True
    )
    child.start()
    try:
        while True:
            try:
                kind, value = messages.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the UMAP process exited (code {child.exitcode})") from None
                continue
            if kind == "progress":
                progress(*value)
            elif kind == "done":
                return np.asarray(value, dtype=np.float32)
            else:
                raise RuntimeError(value)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()


def _fit_in_child(matrix: np.ndarray, kwargs: dict[str, Any], messages: Any) -> None:
    """The child process: import umap-learn, fit, put ``(kind, value)`` messages."""

    def progress(phase: str, fraction: float | None) -> None:
        messages.put(("progress", (phase, fraction)))

    try:
        progress("loading umap-learn", None)
        import umap

        progress("finding neighbours (the first UMAP on a machine also compiles for ~30 s)", None)
        reducer = umap.UMAP(
            **kwargs,
            tqdm_kwds={
                "disable": False,
                "file": _EpochStream(progress),
                "bar_format": "{n}/{total}",
                "mininterval": 0.5,
            },
        )
        coords = reducer.fit_transform(matrix)
        messages.put(("done", np.asarray(coords, dtype=np.float32)))
    except Exception as e:  # the parent raises it as the job's error
        messages.put(("error", f"{type(e).__name__}: {e}"))
