"""Where errors cluster on the map: HDBSCAN on the 2-D coordinates, clusters ranked by error rate.

HDBSCAN (scikit-learn) is fitted on at most :data:`CLUSTER_FIT_ROWS` rows of the
view (a fixed random sample: it keeps the map's density); every other row of
the view takes the label of its nearest fitted point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug import stats as metrics
from mlqa_debug.analyses.embeddings.lru import array_digest, remembered
from mlqa_debug.analyses.embeddings.projection import Projection
from mlqa_debug.data.predictions import Predictions

__all__ = ["CLUSTER_FIT_ROWS", "Cluster", "ClusterResult", "error_clusters", "find_clusters"]

CLUSTER_FIT_ROWS = 10_000


@dataclass(frozen=True)
class Cluster:
    """One density cluster of the map; ``rank`` 1 has the highest error rate."""

    label: int
    rank: int
    size: int
    errors: int
    error_rate: metrics.Estimate
    lift: float
    center: tuple[float, float]

    @property
    def name(self) -> str:
        return f"C{self.rank}"


@dataclass(frozen=True, eq=False)
class ClusterResult:
    """Cluster label of every row (-1: noise or not in the view) and the clusters by error rate."""

    labels: np.ndarray
    clusters: tuple[Cluster, ...]
    min_cluster_size: int
    n_fitted: int

    def mask(self, cluster: Cluster) -> np.ndarray:
        """Rows of the cluster (over the whole table)."""
        return self.labels == cluster.label

    def members(self, cluster: Cluster, positions: np.ndarray) -> np.ndarray:
        """The ``positions`` (e.g. the points on the map) that belong to the cluster."""
        return positions[self.labels[positions] == cluster.label]

    def by_name(self, name: str | None) -> Cluster | None:
        """The cluster called ``name`` (``C1`` ...), or ``None``."""
        return next((c for c in self.clusters if c.name == name), None)

    def describe(self) -> str:
        """How the clusters were found, in words."""
        return (
            f"HDBSCAN on {self.n_fitted:,} points of the view, at least "
            f"{self.min_cluster_size:,} a cluster; the other rows join their nearest point's."
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per cluster: name, rows, errors, error rate (with interval), lift."""
        return pd.DataFrame(
            {
                "cluster": [c.name for c in self.clusters],
                "rows": [c.size for c in self.clusters],
                "errors": [c.errors for c in self.clusters],
                "error rate": [c.error_rate.value for c in self.clusters],
                "95% CI": [
                    f"{c.error_rate.low:.1%} – {c.error_rate.high:.1%}" for c in self.clusters
                ],
                "lift": [c.lift for c in self.clusters],
            }
        )


def find_clusters(
    coords: np.ndarray,
    error: np.ndarray,
    *,
    candidates: np.ndarray | None = None,
    min_cluster_size: int | None = None,
    max_fit: int = CLUSTER_FIT_ROWS,
    random_state: int = 0,
) -> ClusterResult:
    """HDBSCAN clusters of the candidate rows' 2-D coordinates, ranked by error rate.

    HDBSCAN (scikit-learn) is fitted on at most ``max_fit`` candidate rows (a fixed
    random sample: it keeps the map's density); every other candidate row takes the
    label of its nearest fitted point. ``min_cluster_size`` defaults to 1% of the
    fitted rows (at least 10).
    """
    from sklearn.cluster import HDBSCAN

    n = len(coords)
    view = np.isfinite(coords).all(axis=1)
    if candidates is not None:
        view &= np.asarray(candidates, dtype=bool)
    rows = np.flatnonzero(view)
    labels = np.full(n, -1, dtype=np.int32)
    if len(rows) > max_fit:
        fit = np.sort(np.random.default_rng(random_state).choice(rows, max_fit, replace=False))
    else:
        fit = rows
    size = min_cluster_size or max(10, round(0.01 * len(fit)))
    if len(fit) <= size:
        return ClusterResult(labels, (), size, len(fit))
    model = HDBSCAN(min_cluster_size=size, min_samples=min(size, 10), copy=True)
    fitted = model.fit_predict(coords[fit].astype(np.float64))
    labels[fit] = fitted
    _label_the_rest(coords, labels, rows, fit, fitted)
    return ClusterResult(labels, _rank_clusters(coords, error, labels, view), size, len(fit))


def _label_the_rest(
    coords: np.ndarray, labels: np.ndarray, rows: np.ndarray, fit: np.ndarray, fitted: np.ndarray
) -> None:
    """Rows of the view outside the fit sample take their nearest fitted point's label."""
    from sklearn.neighbors import NearestNeighbors

    rest = np.setdiff1d(rows, fit, assume_unique=True)
    if len(rest):
        index = NearestNeighbors(n_neighbors=1).fit(coords[fit])
        nearest = index.kneighbors(coords[rest], return_distance=False)[:, 0]
        labels[rest] = fitted[nearest]


def _rank_clusters(
    coords: np.ndarray, error: np.ndarray, labels: np.ndarray, view: np.ndarray
) -> tuple[Cluster, ...]:
    members = labels[view]
    base_rate = float(error[view].mean()) if view.any() else float("nan")
    found = []
    for label in np.unique(members[members >= 0]):
        inside = labels == label
        size, errors = int(inside.sum()), int(error[inside].sum())
        low, high = metrics.wilson_interval(errors, size)
        center = np.median(coords[inside], axis=0)
        found.append((errors / size, size, int(label), errors, low, high, center))
    found.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return tuple(
        Cluster(
            label=label,
            rank=i + 1,
            size=size,
            errors=errors,
            error_rate=metrics.Estimate(rate, low, high),
            lift=rate / base_rate if base_rate > 0 else float("nan"),
            center=(float(center[0]), float(center[1])),
        )
        for i, (rate, size, label, errors, low, high, center) in enumerate(found)
    )


def error_clusters(
    predictions: Predictions,
    projection: Projection,
    *,
    candidates: np.ndarray | None = None,
    min_cluster_size: int | None = None,
) -> ClusterResult:
    """:func:`find_clusters` on a projection, remembered with the dataset for the view."""
    view = np.ones(predictions.n_samples, bool) if candidates is None else candidates
    key = f"{projection.key}.{min_cluster_size}.{array_digest(np.packbits(view))}"
    return remembered(
        predictions,
        "embeddings.clusters",
        key,
        lambda: find_clusters(
            projection.coords,
            predictions.error,
            candidates=view,
            min_cluster_size=min_cluster_size,
        ),
    )
