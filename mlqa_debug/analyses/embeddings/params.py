"""What a projection is asked for: the map method and the parameters that change its result.

Every parameter is part of the projection's cache key
(:func:`~mlqa_debug.analyses.embeddings.projection.projection_key`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

__all__ = ["DEFAULT_PARAMS", "METHODS", "PCA_DIMS", "UMAP_MAX_ROWS", "Method", "ProjectionParams"]

Method = Literal["umap", "pca", "given"]
"""How the 2-D map is made: UMAP, PCA, or the data's own ``proj_x``/``proj_y``."""

METHODS: tuple[Method, ...] = get_args(Method)
UMAP_MAX_ROWS = 50_000
"""Most rows UMAP is fitted on (errors first); the others are left off the UMAP map."""
PCA_DIMS = 50
"""UMAP's input is first reduced to this many dimensions by PCA when it is wider."""


@dataclass(frozen=True)
class ProjectionParams:
    """Parameters of a projection; all of them are part of its cache key."""

    random_state: int = 0
    n_neighbors: int = 15
    min_dist: float = 0.1
    pca_dims: int = PCA_DIMS
    max_rows: int = UMAP_MAX_ROWS

    def for_method(self, method: Method) -> dict[str, Any]:
        """The parameters that change the result of ``method``."""
        if method == "umap":
            return asdict(self)
        if method == "pca":
            return {"random_state": self.random_state}
        return {}


DEFAULT_PARAMS = ProjectionParams()
"""The parameters a map is made with unless asked otherwise."""
