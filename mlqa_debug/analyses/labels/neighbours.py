"""The neighbour signal beside a suspect's score: how many of its nearest neighbours disagree.

Where a table has embeddings (``Predictions.embedding_matrix``), an example whose
``k`` nearest neighbours (Euclidean, scikit-learn's ``NearestNeighbors``, the example
itself left out) mostly carry another label is a second, model-independent hint that
its label is wrong. The index is built once per table over the rows with a finite
embedding (memoised on the table) and queried only for the examples asked about, so
a page showing 20 suspects of a million-row table pays for 20 queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlqa_debug.errors import ParameterError

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

    from mlqa_debug.data.predictions import Predictions

__all__ = ["DEFAULT_K", "Neighbours", "label_neighbours"]

DEFAULT_K = 10
"""Neighbours looked at per example."""


@dataclass(frozen=True)
class Neighbours:
    """For each asked position: its neighbours' positions and distances, and the share differing.

    ``neighbours`` and ``distances`` are ``(m, k)``; ``disagreement[i]`` is the share of
    row ``i``'s neighbours whose label differs from its own (NaN for a row without a
    finite embedding, whose neighbours are ``-1``).
    """

    positions: npt.NDArray[np.int64]
    neighbours: npt.NDArray[np.int64]
    distances: npt.NDArray[np.float64]
    disagreement: npt.NDArray[np.float64]
    k: int


def label_neighbours(
    predictions: Predictions, positions: npt.ArrayLike, *, k: int = DEFAULT_K
) -> Neighbours | None:
    """The neighbour signal of ``positions`` (full-table rows); ``None`` without embeddings."""
    matrix = predictions.embedding_matrix
    if matrix is None:
        return None
    if not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be a positive number of neighbours, got {k!r}", name="k")
    asked = np.asarray(positions, dtype=np.int64).reshape(-1)
    index, indexed = predictions.memo("labels-knn", lambda: _index(matrix))
    k = min(k, len(indexed) - 1)
    m = len(asked)
    neighbours = np.full((m, max(k, 0)), -1, dtype=np.int64)
    distances = np.full((m, max(k, 0)), np.nan)
    disagreement = np.full(m, np.nan)
    finite = np.isfinite(matrix[asked]).all(axis=1) if m else np.zeros(0, bool)
    if k < 1 or not finite.any():
        return Neighbours(asked, neighbours, distances, disagreement, max(k, 0))
    dist, found = index.kneighbors(matrix[asked[finite]], n_neighbors=k + 1)
    found = indexed[found]
    own = found == asked[finite][:, None]
    keep = _drop_self(own, k)
    found = found[keep].reshape(-1, k)
    dist = dist[keep].reshape(-1, k)
    labels = predictions.y_true_codes
    neighbours[finite], distances[finite] = found, dist
    disagreement[finite] = (labels[found] != labels[asked[finite]][:, None]).mean(axis=1)
    return Neighbours(asked, neighbours, distances, disagreement, k)


def _index(matrix: npt.NDArray[np.floating]) -> tuple[NearestNeighbors, npt.NDArray[np.int64]]:
    from sklearn.neighbors import NearestNeighbors

    rows = np.flatnonzero(np.isfinite(matrix).all(axis=1)).astype(np.int64)
    return NearestNeighbors().fit(matrix[rows]), rows


def _drop_self(own: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.bool_]:
    """Per row, keep ``k`` of the ``k + 1`` found: all but the row itself (else the farthest).

    The row itself may be missing from what was found when ``k + 1`` duplicates of
    its embedding tie at distance 0.
    """
    keep = ~own
    keep[keep.sum(axis=1) > k, -1] = False
    return keep
