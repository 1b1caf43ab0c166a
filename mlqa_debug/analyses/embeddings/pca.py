"""PCA to two dimensions: the map shown at once, and UMAP's fallback for tiny inputs.

scikit-learn's ``PCA(n_components=2)``, fitted on at most :data:`PCA_FIT_ROWS`
rows (a fixed random sample) and applied to all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PCA_FIT_ROWS", "pca_2d"]

PCA_FIT_ROWS = 200_000
"""Most rows PCA is fitted on; every row is then projected."""


def pca_2d(matrix: np.ndarray, *, random_state: int) -> tuple[np.ndarray, str]:
    """PCA to 2-D and its description; inputs under 2 dimensions or 3 rows are padded with zeros."""
    from sklearn.decomposition import PCA

    n, d = matrix.shape
    if n < 3 or d < 2:
        coords = np.zeros((n, 2), dtype=np.float32)
        coords[:, : min(d, 2)] = matrix[:, : min(d, 2)]
        return coords, "PCA"
    fit_rows = matrix
    if n > PCA_FIT_ROWS:
        rng = np.random.default_rng(random_state)
        fit_rows = matrix[np.sort(rng.choice(n, PCA_FIT_ROWS, replace=False))]
    pca = PCA(n_components=2, random_state=random_state).fit(fit_rows)
    coords = pca.transform(matrix).astype(np.float32)
    explained = float(pca.explained_variance_ratio_.sum())
    return coords, f"PCA ({explained:.0%} of the variance)"
