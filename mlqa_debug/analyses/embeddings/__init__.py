"""Embeddings: a 2-D map of the examples, where errors cluster, and what a selection is.

The modules, in the order a page uses them:

* :mod:`.vectors` — the matrix the map is drawn from (embedding, or encoded features);
* :mod:`.params`, :mod:`.projection`, :mod:`.pca`, :mod:`.umap_layout` — the
  maps a dataset offers and computing one (given coordinates, PCA, UMAP);
* :mod:`.projection_cache` — projections in memory and on disk, by cache key;
* :mod:`.jobs` — UMAP in background threads shared by all sessions;
* :mod:`.sampling`, :mod:`.colors`, :mod:`.hover`, :mod:`.points` — the points a
  view draws (errors first), their colours and hover texts; :mod:`.lru` keeps
  derived results with the dataset;
* :mod:`.selection` — a box or lasso selection decoded into rows;
* :mod:`.summary` (with :mod:`.separation`, :mod:`.rule`, :mod:`.rule_columns`) —
  what a selection is; :mod:`.examples` — its example rows;
* :mod:`.clusters` — HDBSCAN on the map, clusters ranked by error rate;
* :mod:`.figures` — the plotly figure (no Streamlit).
"""

from mlqa_debug.analyses.embeddings.clusters import (
    Cluster,
    ClusterResult,
    error_clusters,
    find_clusters,
)
from mlqa_debug.analyses.embeddings.colors import (
    COLOR_CHOICES,
    ColorBy,
    ColorSpec,
    color_choices,
)
from mlqa_debug.analyses.embeddings.examples import errors_first, example_captions
from mlqa_debug.analyses.embeddings.hover import hover_texts
from mlqa_debug.analyses.embeddings.jobs import ProjectionJob, ProjectionJobs, projection_jobs
from mlqa_debug.analyses.embeddings.params import METHODS, Method, ProjectionParams
from mlqa_debug.analyses.embeddings.points import MapPoints, map_points, view_caption, view_rows
from mlqa_debug.analyses.embeddings.projection import (
    Projection,
    compute_projection,
    default_method,
    method_choices,
    projection_key,
)
from mlqa_debug.analyses.embeddings.projection_cache import get_projection, load_projection
from mlqa_debug.analyses.embeddings.rule import RuleSuggestion, suggest_rule
from mlqa_debug.analyses.embeddings.sampling import MAX_POINTS, PointSample, sample_points
from mlqa_debug.analyses.embeddings.selection import (
    region_mask,
    selected_positions,
    selection_rows,
)
from mlqa_debug.analyses.embeddings.separation import separating_features
from mlqa_debug.analyses.embeddings.summary import SelectionSummary, summarize_selection
from mlqa_debug.analyses.embeddings.vectors import ProjectionInput, VectorSource, projection_input

__all__ = [
    "COLOR_CHOICES",
    "MAX_POINTS",
    "METHODS",
    "Cluster",
    "ClusterResult",
    "ColorBy",
    "ColorSpec",
    "MapPoints",
    "Method",
    "PointSample",
    "Projection",
    "ProjectionInput",
    "ProjectionJob",
    "ProjectionJobs",
    "ProjectionParams",
    "RuleSuggestion",
    "SelectionSummary",
    "VectorSource",
    "color_choices",
    "compute_projection",
    "default_method",
    "error_clusters",
    "errors_first",
    "example_captions",
    "find_clusters",
    "get_projection",
    "hover_texts",
    "load_projection",
    "map_points",
    "method_choices",
    "projection_input",
    "projection_jobs",
    "projection_key",
    "region_mask",
    "sample_points",
    "selected_positions",
    "selection_rows",
    "separating_features",
    "suggest_rule",
    "summarize_selection",
    "view_caption",
    "view_rows",
]
