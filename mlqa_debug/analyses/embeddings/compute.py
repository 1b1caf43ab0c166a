"""Embeddings: a 2-D map of the examples, where errors cluster, and what a selection is.

Projection input
----------------
The map is drawn from, in order of preference:

1. **given** coordinates: columns ``proj_x`` and ``proj_y`` in the data are used
   exactly as they are (rows with a missing coordinate are left off the map);
2. the **embedding** columns (``emb_0 ... emb_k`` or a list column ``embedding``),
   as they are; a non-finite value is replaced by its column's mean;
3. otherwise the **features**, encoded without the target (label, prediction,
   probabilities, SHAP values and ids never enter):

   * numeric and datetime columns (datetimes as days) are standardised to mean 0
     and standard deviation 1; a missing or infinite value takes the column's
     median and gets a 0/1 indicator column ``<col> is missing``;
   * categorical and boolean columns are one-hot encoded: the
     ``max_categories - 1`` most frequent values keep a column each, rarer values
     share one, a missing value has its own; every one-hot entry is
     ``1/sqrt(2)``, so two rows that differ in one categorical column are at
     distance 1 in it, the distance of one standard deviation of a numeric column;
   * text columns are left out.

Projections
-----------
``pca`` is scikit-learn's ``PCA(n_components=2)`` (fitted on at most
:data:`PCA_FIT_ROWS` rows, applied to all), fast enough to show at once.
``umap`` is umap-learn's ``UMAP(n_components=2)`` with a fixed ``random_state``
(so a link shows the same map; umap-learn then runs on one thread), after a PCA
pre-reduction to ``pca_dims`` (50) dimensions for wider inputs. UMAP is fitted
on at most ``max_rows`` rows (all rows up to 50,000; beyond that every error
first, then a fixed random sample of the rest); other rows have no UMAP
coordinates and are left off the UMAP map (PCA covers every row).

Projections are cached on disk (:class:`~mlqa_debug.cache.DiskCache`, normally
``Workspace.cache_dir("embeddings")``) under a key made of the dataset
fingerprint, the input columns, the method, its parameters and the library
versions, and in memory with the dataset. umap-learn compiles for about 30 s on
its first call in a process and a 10k-row fit then takes about 10 s, so the app
computes UMAP in a background thread (:class:`ProjectionJobs`) and shows PCA
meanwhile; ``mlqa-debug embed`` precomputes it.

Points, selections, rules and clusters
--------------------------------------
The browser gets at most :data:`MAX_POINTS` points (:func:`sample_points`:
every error first, then a fixed random sample of the correct rows; the same
row keeps its priority in every view). A box or lasso selection comes back as
the row positions carried in each point's ``customdata``
(:func:`selected_positions`); on a sampled map the drawn region also covers
rows that are not drawn (:func:`region_mask`). :func:`summarize_selection`
gives the selection's metrics against the rest, the features that separate it
from the other points on the map (Cramér's V of the feature's bins against
"selected", with the chi-square p-value), and a rule (:func:`suggest_rule`):
the node of a depth-3 decision tree (:func:`~mlqa_debug.analyses.discovery.tree.fit_error_tree`)
on the features, label and prediction with the best F1 for "selected", as an
exact slice. :func:`find_clusters` runs HDBSCAN on the 2-D map and ranks the
clusters by error rate.
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import io
import logging
import math
import re
import sys
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd
from scipy import stats

from mlqa_debug.analyses.discovery.tree import TreeNode, fit_error_tree
from mlqa_debug.cache import DiskCache, cache_key
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing.encoding import Unsupported, categorical_codes, encode_features
from mlqa_debug.slicing.slices import EMPTY, Slice
from mlqa_debug.stats import metrics as metrics

__all__ = [
    "COLOR_CHOICES",
    "MAX_POINTS",
    "METHODS",
    "Cluster",
    "ClusterResult",
    "ColorSpec",
    "MapPoints",
    "PointSample",
    "Projection",
    "ProjectionInput",
    "ProjectionJob",
    "ProjectionJobs",
    "ProjectionParams",
    "RuleSuggestion",
    "SelectionSummary",
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

logger = logging.getLogger(__name__)

Method = Literal["umap", "pca", "given"]
Source = Literal["embedding", "features", "given"]
ColorBy = Literal["error", "label", "prediction", "confidence", "abs_error", "slice", "cluster"]
Progress = Callable[[str, float | None], None]

METHODS: tuple[Method, ...] = get_args(Method)
COLOR_CHOICES: tuple[ColorBy, ...] = get_args(ColorBy)
MAX_POINTS = 50_000
"""Most points the browser gets (WebGL stays responsive; selections stay small)."""
UMAP_MAX_ROWS = 50_000
PCA_FIT_ROWS = 200_000
PCA_DIMS = 50
MAX_CATEGORIES = 20
MAX_CLASS_GROUPS = 10
CLUSTER_FIT_ROWS = 10_000
HOVER_FULL_POINTS = 10_000
ENCODING_VERSION = "1"
_ONE_HOT = 1.0 / math.sqrt(2.0)
_NS_PER_DAY = 86_400e9


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, eq=False)
class ProjectionInput:
    """The matrix a projection runs on: ``(n_samples, n_dims)`` float32."""

    matrix: np.ndarray
    source: Source
    columns: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """E.g. ``the 16 embedding columns`` or ``10 features (scaled, one-hot)``."""
        n = len(self.columns)
        if self.source == "embedding":
            return f"the {n} embedding column{'s' if n != 1 else ''}"
        if self.source == "given":
            return "the given coordinates proj_x, proj_y"
        return f"{n} feature{'s' if n != 1 else ''} (numerics scaled, categoricals one-hot)"


def _input_columns(predictions: Predictions) -> tuple[Source, tuple[str, ...]]:
    """Where the map comes from and which columns feed it (cheap: no encoding)."""
    s = predictions.schema
    if s.embedding:
        return "embedding", tuple(s.embedding)
    usable = tuple(c for c, kind in s.features.items() if kind != "text")
    return "features", usable


def projection_input(
    predictions: Predictions, *, max_categories: int = MAX_CATEGORIES
) -> ProjectionInput:
    """The embedding, or the encoded features (see the module docstring); kept with the data.

    Raises :class:`SchemaError` when there is nothing to project.
    """
    return predictions.memo(
        f"embeddings.input.{max_categories}", lambda: _build_input(predictions, max_categories)
    )


def _build_input(predictions: Predictions, max_categories: int) -> ProjectionInput:
    source, columns = _input_columns(predictions)
    if source == "embedding":
        matrix = cast(np.ndarray, predictions.embedding_matrix).astype(np.float32, copy=True)
        return ProjectionInput(_fill_nonfinite(matrix), "embedding", columns)
    blocks: list[np.ndarray] = []
    used: list[str] = []
    skipped: list[str] = []
    for column in columns:
        kind = predictions.schema.features[column]
        encoded = _encode_column(predictions.frame[column], kind, max_categories=max_categories)
        if encoded is None:
            skipped.append(column)
            continue
        blocks.append(encoded)
        used.append(column)
    if not blocks:
        raise SchemaError(
            "nothing to draw a map from: the data has no embedding columns (emb_0, emb_1, ...) "
            "and no numeric, categorical, boolean or datetime features",
            file=predictions.source,
            expected="embedding columns or features",
            received=list(predictions.frame.columns),
        )
    return ProjectionInput(np.hstack(blocks), "features", tuple(used), tuple(skipped))


def _fill_nonfinite(matrix: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(matrix)
    if bad.any():
        logger.warning("embedding has %d non-finite values; using column means", bad.sum())
        counts = (~bad).sum(axis=0)
        sums = np.where(bad, 0.0, matrix).sum(axis=0)
        means = np.divide(sums, counts, out=np.zeros_like(sums, dtype=np.float64), where=counts > 0)
        matrix[bad] = means[np.nonzero(bad)[1]]
    return matrix


def _encode_column(
    series: pd.Series, kind: str, *, max_categories: int = MAX_CATEGORIES
) -> np.ndarray | None:
    """One feature as ``(n, k)`` float32 columns, or ``None`` if it says nothing."""
    if kind in ("categorical", "boolean"):
        return _one_hot(series, max_categories)
    if kind == "datetime":
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = stamps.dt.as_unit("ns").to_numpy().view(np.int64).astype(np.float64)
        values = np.where(stamps.isna().to_numpy(), np.nan, ns / _NS_PER_DAY)
        return _scaled(values)
    if kind == "numeric":
        return _scaled(pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan))
    return None


def _scaled(values: np.ndarray) -> np.ndarray | None:
    """Standardised values (median for missing) plus a missing indicator when needed."""
    values = np.where(np.isfinite(values), values, np.nan)
    missing = np.isnan(values)
    if missing.all():
        return None
    filled = np.where(missing, np.nanmedian(values), values)
    sd = filled.std()
    columns = [(filled - filled.mean()) / sd] if sd > 0 else []
    if missing.any():
        columns.append(missing.astype(np.float64))
    return np.column_stack(columns).astype(np.float32) if columns else None


def _one_hot(series: pd.Series, max_categories: int) -> np.ndarray | None:
    """One-hot of the frequent values, one shared column for the rare ones, one for missing."""
    try:
        codes, labels = categorical_codes(series)
    except (Unsupported, TypeError):
        return None
    n_values = len(labels)
    counts = np.bincount(codes[codes >= 0], minlength=n_values)
    keep = np.sort(np.argsort(-counts, kind="stable")[: max(1, max_categories - 1)])
    remap = np.full(n_values + 1, len(keep), dtype=np.int64)  # rare values -> one column
    remap[keep] = np.arange(len(keep))
    remap[-1] = len(keep) + 1  # code -1 (missing) reads the last entry
    column = remap[codes]
    n_columns = len(keep) + 2
    out = np.zeros((len(codes), n_columns), dtype=np.float32)
    out[np.arange(len(codes)), column] = _ONE_HOT
    used = out.any(axis=0)
    return out[:, used] if used.sum() > 1 else None


# --------------------------------------------------------------------------- projections


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


@dataclass(frozen=True, eq=False)
class Projection:
    """2-D coordinates of every row: ``coords`` is ``(n_samples, 2)`` float32, NaN = not mapped."""

    coords: np.ndarray
    method: Method
    source: Source
    key: str
    description: str
    seconds: float = 0.0

    @property
    def n_mapped(self) -> int:
        """Rows with coordinates."""
        return int(np.isfinite(self.coords).all(axis=1).sum())

    @property
    def axis_names(self) -> tuple[str, str]:
        names = {"umap": "UMAP", "pca": "PC", "given": "proj"}
        prefix = names[self.method]
        if self.method == "given":
            return "proj_x", "proj_y"
        return f"{prefix} 1", f"{prefix} 2"


def method_choices(predictions: Predictions) -> tuple[Method, ...]:
    """The maps this dataset offers: ``given`` only when it has proj_x/proj_y."""
    if predictions.schema.projection is not None:
        return ("given", "umap", "pca")
    return ("umap", "pca")


def default_method(predictions: Predictions) -> Method:
    """Given coordinates when the data has them, else UMAP."""
    return method_choices(predictions)[0]


def _versions(method: Method) -> dict[str, str]:
    packages = {"umap": ("umap-learn", "scikit-learn", "numpy"), "pca": ("scikit-learn", "numpy")}
    out: dict[str, str] = {}
    for package in packages.get(method, ()):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "?"
    return out


def projection_key(
    predictions: Predictions, *, method: Method, params: ProjectionParams = ProjectionParams()
) -> str:
    """Cache key: fingerprint, input columns, method, parameters and library versions."""
    source, columns = _input_columns(predictions)
    if method == "given":
        source, columns = "given", tuple(predictions.schema.projection or ())
    return cache_key(
        "embeddings",
        ENCODING_VERSION,
        predictions.fingerprint,
        method,
        source,
        list(columns),
        params.for_method(method),
        _versions(method),
    )


def compute_projection(
    predictions: Predictions,
    *,
    method: Method,
    params: ProjectionParams = ProjectionParams(),
    progress: Progress | None = None,
) -> Projection:
    """Compute a projection (no cache). ``progress(phase, fraction)`` reports UMAP's progress."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    key = projection_key(predictions, method=method, params=params)
    start = time.perf_counter()
    if method == "given":
        coords, text = _given(predictions)
        return Projection(coords, "given", "given", key, text, time.perf_counter() - start)
    inp = projection_input(predictions)
    if method == "pca":
        coords, text = _pca(inp.matrix, random_state=params.random_state)
    else:
        coords, text = _umap_rows(predictions, inp.matrix, params, progress or _no_progress)
    description = f"{text} of {inp.description}"
    return Projection(coords, method, inp.source, key, description, time.perf_counter() - start)


def _no_progress(phase: str, fraction: float | None) -> None:
    """The default progress callback: log the phase."""
    logger.debug("projection: %s %s", phase, fraction)


def _given(predictions: Predictions) -> tuple[np.ndarray, str]:
    names = predictions.schema.projection
    if names is None:
        raise SchemaError(
            "the data has no given coordinates (columns proj_x and proj_y)",
            file=predictions.source,
            expected=["proj_x", "proj_y"],
        )
    frame = predictions.frame
    coords = np.column_stack(
        [
            pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            for c in names
        ]
    ).astype(np.float32)
    coords[~np.isfinite(coords).all(axis=1)] = np.nan
    return coords, "Given coordinates"


def _pca(matrix: np.ndarray, *, random_state: int) -> tuple[np.ndarray, str]:
    """PCA to 2-D; inputs with fewer than 2 dimensions or 3 rows are padded with zeros."""
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


def _umap_rows(
    predictions: Predictions, matrix: np.ndarray, params: ProjectionParams, progress: Progress
) -> tuple[np.ndarray, str]:
    """UMAP of at most ``params.max_rows`` rows (errors first); NaN for the others."""
    n = len(matrix)
    coords = np.full((n, 2), np.nan, dtype=np.float32)
    rows = np.arange(n)
    if n > params.max_rows:
        rows = sample_points(
            predictions.error, max_points=params.max_rows, random_state=params.random_state
        ).positions
    inputs = _reduce(matrix[rows], params)
    if len(rows) < 8:  # too few rows for a neighbour graph
        coords[rows], _ = _pca(inputs, random_state=params.random_state)
        return coords, "PCA (too few rows for UMAP)"
    coords[rows] = _fit_umap(inputs, params, progress)
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


def _fit_umap(matrix: np.ndarray, params: ProjectionParams, progress: Progress) -> np.ndarray:
    """umap-learn's 2-D UMAP with a fixed random_state (single-threaded by umap's rule)."""
    progress("loading umap-learn", None)
    umap = _import_umap()

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


# --------------------------------------------------------------------------- cache


def _memory(predictions: Predictions) -> dict[str, Projection]:
    return predictions.memo("embeddings.projections", dict)


def load_projection(
    predictions: Predictions,
    *,
    method: Method,
    cache: DiskCache | None,
    params: ProjectionParams = ProjectionParams(),
) -> Projection | None:
    """The projection from memory or the disk cache, or ``None`` if it was never computed.

    Given coordinates need no computing and always load.
    """
    if method == "given":
        return get_projection(predictions, method="given", cache=None, params=params)
    key = projection_key(predictions, method=method, params=params)
    memory = _memory(predictions)
    if key in memory:
        return memory[key]
    if cache is None:
        return None
    arrays = cache.get_arrays(key)
    if arrays is None or arrays.get("coords", np.zeros(0)).shape != (predictions.n_samples, 2):
        return None
    meta = cache.get_json(key) or {}
    source, _ = _input_columns(predictions)
    projection = Projection(
        arrays["coords"].astype(np.float32),
        method,
        source,
        key,
        str(meta.get("description", method.upper())),
        float(meta.get("seconds", 0.0)),
    )
    memory[key] = projection
    return projection


def get_projection(
    predictions: Predictions,
    *,
    method: Method,
    cache: DiskCache | None,
    params: ProjectionParams = ProjectionParams(),
    progress: Progress | None = None,
    force: bool = False,
) -> Projection:
    """The cached projection, or compute it now and cache it (memory and disk)."""
    key = projection_key(predictions, method=method, params=params)
    if not force and method != "given":
        found = load_projection(predictions, method=method, cache=cache, params=params)
        if found is not None:
            return found
    memory = _memory(predictions)
    if method == "given" and key in memory and not force:
        return memory[key]
    projection = compute_projection(predictions, method=method, params=params, progress=progress)
    if cache is not None and method != "given":
        meta = {
            "method": method,
            "description": projection.description,
            "seconds": projection.seconds,
            "n_samples": predictions.n_samples,
            "fingerprint": predictions.fingerprint,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        cache.put_json(key, meta)
        cache.put_arrays(key, {"coords": projection.coords})
    memory[key] = projection
    return projection


# --------------------------------------------------------------------------- background jobs


@dataclass
class ProjectionJob:
    """A projection being computed in a background thread."""

    key: str
    method: Method
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    fraction: float | None = None
    error: str | None = None
    done: bool = False
    finished: float | None = None

    @property
    def running(self) -> bool:
        return not self.done and self.error is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def update(self, phase: str, fraction: float | None) -> None:
        """The progress callback handed to :func:`get_projection`."""
        self.phase, self.fraction = phase, fraction

    def status_text(self) -> str:
        """E.g. ``UMAP: laying out the map, 45% · 38 s``."""
        if self.error is not None:
            return f"{self.method.upper()} failed: {self.error}"
        if self.done:
            return f"{self.method.upper()} ready ({self.elapsed:.0f} s)"
        share = f", {self.fraction:.0%}" if self.fraction is not None else ""
        return f"{self.method.upper()}: {self.phase}{share} · {self.elapsed:.0f} s"


class ProjectionJobs:
    """A registry of background projections keyed by cache key: one thread per key.

    Concurrent sessions asking for the same projection share one job; a failed
    job stays (with its message) until :meth:`forget` is called.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, ProjectionJob] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ProjectionJob | None:
        with self._lock:
            return self._jobs.get(key)

    def forget(self, key: str) -> None:
        with self._lock:
            self._jobs.pop(key, None)

    def start(
        self,
        predictions: Predictions,
        *,
        method: Method,
        cache: DiskCache | None,
        params: ProjectionParams = ProjectionParams(),
    ) -> ProjectionJob:
        """Start computing (and caching) a projection unless a job for it runs or failed.

        A finished job is started again: asking means its result is no longer cached.
        """
        key = projection_key(predictions, method=method, params=params)
        with self._lock:
            existing = self._jobs.get(key)
            if existing is not None and not existing.done:
                return existing
            job = ProjectionJob(key, method)
            self._jobs[key] = job
        _preload_imports()
        thread = threading.Thread(
            target=self._run,
            args=(job, predictions, method, cache, params),
            name=f"mlqa-projection-{key[:8]}",
            daemon=True,
        )
        thread.start()
        return job

    @staticmethod
    def _run(
        job: ProjectionJob,
        predictions: Predictions,
        method: Method,
        cache: DiskCache | None,
        params: ProjectionParams,
    ) -> None:
        try:
            get_projection(
                predictions, method=method, cache=cache, params=params, progress=job.update
            )
        except Exception as e:  # a background failure is reported on the page, not raised
            logger.exception("projection %s failed", job.key)
            job.error = str(e) or type(e).__name__
        else:
            job.done = True
        job.finished = time.monotonic()


_JOBS = ProjectionJobs()


def _preload_imports() -> None:
    """Import in the calling thread what both a page and umap-learn import.

    Two threads importing one package at the same time (one inside its
    ``__init__``, the other at a submodule) can get a partially initialised
    module; with these loaded first, the job thread's ``import umap`` only
    loads numba, pynndescent and umap-learn themselves.
    """
    import scipy.sparse.csgraph  # noqa: F401
    import sklearn.cluster
    import sklearn.decomposition
    import sklearn.neighbors
    import sklearn.tree  # noqa: F401


def _import_umap(attempts: int = 3) -> Any:
    """``import umap``, retried when another thread was importing a shared dependency."""
    for attempt in range(attempts):
        try:
            import umap

            return umap
        except ImportError as e:
            if "partially initialized" not in str(e) or attempt == attempts - 1:
                raise
            for name in [m for m in sys.modules if m == "umap" or m.startswith("umap.")]:
                del sys.modules[name]
            time.sleep(1.0)
    raise AssertionError("unreachable")


def projection_jobs() -> ProjectionJobs:
    """The process-wide registry of background projections."""
    return _JOBS


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True, eq=False)
class PointSample:
    """Row positions to draw (sorted), out of the candidate rows."""

    positions: np.ndarray
    n_candidates: int
    n_errors: int
    n_errors_shown: int

    @property
    def is_sample(self) -> bool:
        return len(self.positions) < self.n_candidates

    def caption(self) -> str:
        """What the map shows, in words."""
        shown = len(self.positions)
        if not self.is_sample:
            return f"All {shown:,} rows ({self.n_errors:,} errors)."
        correct_shown = shown - self.n_errors_shown
        correct = self.n_candidates - self.n_errors
        if self.n_errors_shown == self.n_errors:
            errors = f"all {self.n_errors:,} errors"
        else:
            errors = f"{self.n_errors_shown:,} of the {self.n_errors:,} errors (random, fixed seed)"
        return (
            f"A sample: {shown:,} of {self.n_candidates:,} rows — {errors} and "
            f"{correct_shown:,} of the {correct:,} correct rows (random, fixed seed)."
        )


def _priority(n: int, random_state: int) -> np.ndarray:
    return np.random.default_rng(random_state).random(n)


def sample_points(
    error: np.ndarray,
    *,
    candidates: np.ndarray | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
) -> PointSample:
    """At most ``max_points`` candidate rows: every error first (up to the cap), then correct rows.

    Deterministic: each row has a fixed random priority (from ``random_state``), and
    the rows with the best priorities among the errors, then among the correct rows,
    are kept, so a row shown in a large view is also shown in any smaller view of it.
    """
    error = np.asarray(error, dtype=bool)
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    mask = np.ones(len(error), dtype=bool) if candidates is None else np.asarray(candidates, bool)
    if mask.shape != error.shape:
        raise ValueError(f"candidates must have shape {error.shape}, got {mask.shape}")
    rows = np.flatnonzero(mask)
    n_errors = int(np.count_nonzero(error[rows]))
    if len(rows) <= max_points:
        return PointSample(rows, len(rows), n_errors, n_errors)
    key = _priority(len(error), random_state)[rows] + (~error[rows]).astype(np.float64)
    chosen = np.sort(rows[np.argpartition(key, max_points - 1)[:max_points]])
    return PointSample(chosen, len(rows), n_errors, int(np.count_nonzero(error[chosen])))


# --------------------------------------------------------------------------- colours and hover


@dataclass(frozen=True, eq=False)
class ColorSpec:
    """How the points are coloured: groups (one trace each, in drawing order) or a scale."""

    by: ColorBy
    title: str
    groups: np.ndarray | None = None  # group index per point
    names: tuple[str, ...] = ()
    values: np.ndarray | None = None  # continuous values per point

    @property
    def is_continuous(self) -> bool:
        return self.values is not None


_COLOR_TITLES: dict[str, str] = {
    "error": "Error",
    "label": "Label",
    "prediction": "Prediction",
    "confidence": "Confidence",
    "abs_error": "|residual|",
    "slice": "Current slice",
    "cluster": "Cluster",
}


def color_choices(
    predictions: Predictions, *, has_slice: bool, has_clusters: bool
) -> tuple[ColorBy, ...]:
    """Colourings that make sense for this dataset and view."""
    out: list[ColorBy] = ["error", "label", "prediction"]
    if predictions.confidence is not None:
        out.append("confidence")
    if not predictions.schema.is_classification:
        out.append("abs_error")
    if has_slice:
        out.append("slice")
    if has_clusters:
        out.append("cluster")
    return tuple(out)


def _class_groups(codes: np.ndarray, classes: Sequence[Any]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group per point: the most frequent classes, the rest as ``other``."""
    counts = np.bincount(codes[codes >= 0], minlength=len(classes))
    if len(classes) <= MAX_CLASS_GROUPS:
        present = np.flatnonzero(counts)
    else:
        present = np.sort(np.argsort(-counts, kind="stable")[: MAX_CLASS_GROUPS - 1])
        present = present[counts[present] > 0]
    lookup = np.full(len(classes) + 1, len(present), dtype=np.int64)
    lookup[present] = np.arange(len(present))
    names = tuple(str(classes[int(i)]) for i in present)
    groups = lookup[codes]
    if (groups == len(present)).any():
        names = (*names, "other")
    return groups, names


def _color_spec(
    predictions: Predictions,
    positions: np.ndarray,
    color_by: ColorBy,
    in_slice: np.ndarray | None,
    clusters: ClusterResult | None,
) -> ColorSpec:
    title = _COLOR_TITLES[color_by]
    s = predictions.schema
    if color_by == "error":
        groups = predictions.error[positions].astype(np.int64)
        return ColorSpec("error", title, groups, ("correct", "error"))
    if color_by == "slice" and in_slice is not None:
        return ColorSpec("slice", title, in_slice[positions].astype(np.int64), ("rest", "in slice"))
    if color_by == "cluster" and clusters is not None:
        return _cluster_colors(clusters, positions)
    if color_by in ("label", "prediction"):
        if s.is_classification:
            codes = predictions.y_true_codes if color_by == "label" else predictions.y_pred_codes
            groups, names = _class_groups(codes[positions], s.classes)
            return ColorSpec(color_by, title, groups, names)
        column = s.label if color_by == "label" else s.prediction
        values = predictions.frame[column].to_numpy(np.float64)[positions]
        return ColorSpec(color_by, title, values=values)
    if color_by == "confidence" and predictions.confidence is not None:
        return ColorSpec("confidence", title, values=predictions.confidence[positions])
    if color_by == "abs_error" and not s.is_classification:
        return ColorSpec("abs_error", title, values=np.abs(predictions.residual)[positions])
    return _color_spec(predictions, positions, "error", in_slice, clusters)


def _cluster_colors(clusters: ClusterResult, positions: np.ndarray) -> ColorSpec:
    labels = clusters.labels[positions]
    ranks = {c.label: i for i, c in enumerate(clusters.clusters)}
    lookup = np.full(int(labels.max(initial=-1)) + 2, len(ranks), dtype=np.int64)
    for label, rank in ranks.items():
        lookup[label] = rank
    groups = lookup[labels]  # label -1 (noise) reads the last entry
    names = (*(c.name for c in clusters.clusters), "no cluster")
    return ColorSpec("cluster", "Cluster", groups, names)


def _hover_columns(predictions: Predictions, n_features: int) -> list[str]:
    s = predictions.schema
    image = set(s.image.columns) if s.image is not None else set()
    usable = [c for c, k in s.features.items() if k != "text" and c not in image]
    return usable[:n_features]


def _number(value: float) -> str:
    """A readable number: ``52,310`` for large values, 4 significant digits otherwise."""
    if not math.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _text(values: pd.Series, width: int = 40) -> pd.Series:
    """Short, HTML-escaped text of a column's values (at most ``width`` characters each)."""
    if pd.api.types.is_float_dtype(values.dtype):
        out = values.map(_number)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.strftime("%Y-%m-%d").fillna("–")
    else:
        out = values.astype(object).map(lambda v: "–" if v is None or v is pd.NA else str(v))
    return out.map(lambda v: html.escape(v if len(v) <= width else v[: width - 1] + "…"))


def hover_texts(
    predictions: Predictions, positions: np.ndarray, *, n_features: int | None = None
) -> np.ndarray:
    """Hover text per point: id, label and prediction, confidence or residual, a few features.

    Plotly sends each selected point's hover text back with a selection, and
    Streamlit drops messages over 25 MB, so big maps get a shorter text: up to
    :data:`HOVER_FULL_POINTS` points, 4 features and values of up to 40
    characters; beyond, 2 features and 16 characters (about 300 bytes per
    selected point, 15 MB for 50,000).
    """
    s = predictions.schema
    full = len(positions) <= HOVER_FULL_POINTS
    width = 40 if full else 16
    n_features = (4 if full else 2) if n_features is None else n_features
    frame = predictions.frame.iloc[positions]
    ident = (
        _text(frame[s.id], width)
        if s.id is not None
        else pd.Series((positions + 1).astype(str), index=frame.index)
    )
    lines = "<b>" + ident.astype(str) + "</b><br>label " + _text(frame[s.label], width)
    lines = lines + " · predicted " + _text(frame[s.prediction], width)
    if predictions.confidence is not None:
        conf = pd.Series(predictions.confidence[positions], index=frame.index)
        lines = lines + "<br>confidence " + conf.map(lambda v: f"{v:.2f}")
    elif not s.is_classification:
        res = pd.Series(predictions.residual[positions], index=frame.index)
        lines = lines + "<br>residual " + res.map(lambda v: f"{v:+.4g}")
    for column in _hover_columns(predictions, n_features):
        name = html.escape(column if len(column) <= width else column[: width - 1] + "…")
        lines = lines + "<br>" + name + " " + _text(frame[column], width)
    return lines.to_numpy(dtype=object)


# --------------------------------------------------------------------------- the map


@dataclass(frozen=True, eq=False)
class MapPoints:
    """Everything the figure needs: points, their row positions, colours and hover texts."""

    positions: np.ndarray
    coords: np.ndarray  # (len(positions), 2)
    color: ColorSpec
    hover: np.ndarray
    sample: PointSample
    axis_names: tuple[str, str]
    clusters: ClusterResult | None = None


def view_rows(
    projection: Projection, *, slice_mask: np.ndarray | None = None, color_by: ColorBy = "error"
) -> np.ndarray:
    """Rows a view draws from: the slice's mapped rows (all mapped rows when colouring by slice)."""
    mapped = np.isfinite(projection.coords).all(axis=1)
    if slice_mask is None or color_by == "slice":
        return mapped
    return mapped & np.asarray(slice_mask, dtype=bool)


def map_points(
    predictions: Predictions,
    projection: Projection,
    *,
    slice_mask: np.ndarray | None = None,
    color_by: ColorBy = "error",
    clusters: ClusterResult | None = None,
    max_points: int = MAX_POINTS,
    random_state: int = 0,
) -> MapPoints:
    """The points to draw: the slice's mapped rows (all rows when colouring by slice), sampled."""
    candidates = view_rows(projection, slice_mask=slice_mask, color_by=color_by)
    sample = sample_points(
        predictions.error, candidates=candidates, max_points=max_points, random_state=random_state
    )
    positions = sample.positions
    color = _color_spec(predictions, positions, color_by, slice_mask, clusters)
    digest = _digest(positions)
    hover = _lru(
        predictions, "embeddings.hover", digest, lambda: hover_texts(predictions, positions)
    )
    return MapPoints(
        positions,
        projection.coords[positions],
        color,
        hover,
        sample,
        projection.axis_names,
        clusters,
    )


def view_caption(projection: Projection, points: MapPoints, *, slice_text: str) -> str:
    """What the map is and shows, e.g. ``PCA (...) of 10 features · all rows. All 20,000 rows``."""
    scope = f"the slice `{slice_text}`" if slice_text else "all rows"
    return f"{projection.description} · {scope}. {points.sample.caption()}"


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(b"|")
    return h.hexdigest()


def _lru(
    predictions: Predictions, name: str, key: str, build: Callable[[], Any], size: int = 8
) -> Any:
    """A small per-dataset LRU of derived results (hover texts, clusters)."""
    store: OrderedDict[str, Any] = predictions.memo(name, OrderedDict)
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = build()
    store[key] = value
    while len(store) > size:
        store.popitem(last=False)
    return value


# --------------------------------------------------------------------------- selections


def _as_position(value: Any) -> int | None:
    """A row position from a point's customdata (a number, a list or a typed-array dict)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    elif isinstance(value, dict):
        value = value.get("0")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def selected_positions(
    points: Sequence[Mapping[str, Any]],
    *,
    n_samples: int,
    traces: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Row positions of selected points, from each point's ``customdata`` (sorted, unique).

    ``traces`` (the row positions of each trace, as drawn) is the fallback for points
    without customdata: ``traces[curve_number][point_index]``. Anything else in the
    event (it comes from the browser) is ignored: values that are not integer
    positions in ``0 .. n_samples - 1`` are dropped.
    """
    found: list[int] = []
    for point in points:
        if not isinstance(point, Mapping):
            continue
        position = _as_position(point.get("customdata"))
        if position is None and traces is not None:
            position = _from_trace(point, traces)
        if position is not None and 0 <= position < n_samples:
            found.append(position)
    return np.unique(np.asarray(found, dtype=np.int64))


def _from_trace(point: Mapping[str, Any], traces: Sequence[np.ndarray]) -> int | None:
    curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
    if not isinstance(curve, int) or not isinstance(index, int) or isinstance(curve, bool):
        return None
    if not (0 <= curve < len(traces) and 0 <= index < len(traces[curve])):
        return None
    return int(traces[curve][index])


def selection_rows(
    selection: Mapping[str, Any], projection: Projection, points: MapPoints, *, n_samples: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Selected row positions and, on a sampled map, the rows inside the drawn region."""
    selected = selected_positions(selection.get("points") or [], n_samples=n_samples)
    region = region_mask(projection.coords, selection) if points.sample.is_sample else None
    return selected, region


def _inside_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points lie inside the polygon (vertices px, py)."""
    inside = np.zeros(len(x), dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        crosses = (py[i] > y) != (py[j] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (px[j] - px[i]) * (y - py[i]) / (py[j] - py[i]) + px[i]
        inside ^= crosses & (x < at)
        j = i
    return inside


def _numbers(values: Any) -> np.ndarray | None:
    if not isinstance(values, list | tuple) or not values or len(values) > 100_000:
        return None
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if out.ndim == 1 and np.isfinite(out).all() else None


def region_mask(coords: np.ndarray, selection: Mapping[str, Any]) -> np.ndarray | None:
    """Rows whose coordinates lie inside the selection's boxes or lasso polygons (union).

    ``selection`` is Streamlit's plotly selection state (``box``: ``[{"x": [x0, x1],
    "y": [y0, y1]}]``, ``lasso``: ``[{"x": [...], "y": [...]}]``). ``None`` when it
    holds no usable geometry (a click selection, or malformed input).
    """
    x, y = coords[:, 0], coords[:, 1]
    out = np.zeros(len(coords), dtype=bool)
    used = False
    for box in selection.get("box") or ():
        xs = _numbers(box.get("x")) if isinstance(box, Mapping) else None
        ys = _numbers(box.get("y")) if isinstance(box, Mapping) else None
        if xs is None or ys is None or len(xs) < 2 or len(ys) < 2:
            continue
        out |= (x >= xs.min()) & (x <= xs.max()) & (y >= ys.min()) & (y <= ys.max())
        used = True
    for lasso in selection.get("lasso") or ():
        px = _numbers(lasso.get("x")) if isinstance(lasso, Mapping) else None
        py = _numbers(lasso.get("y")) if isinstance(lasso, Mapping) else None
        if px is None or py is None or len(px) != len(py) or len(px) < 3:
            continue
        out |= _inside_polygon(x, y, px, py)
        used = True
    return out if used else None


def errors_first(predictions: Predictions, positions: np.ndarray) -> np.ndarray:
    """``positions`` reordered: errors first, most confident mistakes (largest misses) first."""
    positions = np.asarray(positions, dtype=np.int64)
    if predictions.confidence is not None:
        weight = predictions.confidence[positions]
    elif not predictions.schema.is_classification:
        weight = np.abs(predictions.residual[positions])
    else:
        weight = np.zeros(len(positions))
    order = np.lexsort((positions, -weight, ~predictions.error[positions]))
    return positions[order]


def example_captions(predictions: Predictions, positions: np.ndarray) -> list[str]:
    """``label→prediction`` per row (rounded for regression), for thumbnails."""
    s = predictions.schema
    frame = predictions.frame.iloc[np.asarray(positions, dtype=np.int64)]
    return [
        f"{_plain_text(y)}→{_plain_text(p)}"
        for y, p in zip(frame[s.label], frame[s.prediction], strict=True)
    ]


def _plain_text(value: Any) -> str:
    return _number(float(value)) if isinstance(value, float | np.floating) else str(value)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleSuggestion:
    """A slice that describes the selection, and how well, on the points of the map.

    ``rule`` holds the tree's conditions, ``slice`` is the current slice and the
    rule. ``precision`` is the share of the map points the rule covers that are
    selected, ``recall`` the share of the selected points it covers.
    """

    rule: Slice
    slice: Slice
    n_covered: int
    n_selected_covered: int
    n_selected: int
    n_rows: int  # rows of the whole table in ``slice``

    @property
    def precision(self) -> float:
        return self.n_selected_covered / self.n_covered if self.n_covered else float("nan")

    @property
    def recall(self) -> float:
        return self.n_selected_covered / self.n_selected if self.n_selected else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def describe(self, *, within_slice: bool = False) -> str:
        """Precision and recall in words, and the rule's size in the whole table."""
        where = " within the current slice" if within_slice else ""
        return (
            f"Precision {self.precision:.0%}: {self.n_selected_covered:,} of the "
            f"{self.n_covered:,} map points it covers are selected. Recall {self.recall:.0%}: "
            f"it covers that share of the {self.n_selected:,} selected points. "
            f"{self.n_rows:,} rows of the table match it{where}."
        )


def _rule_columns(predictions: Predictions) -> list[str]:
    s = predictions.schema
    return [*(c for c, k in s.features.items() if k != "text"), s.label, s.prediction]


def _rule_frame(predictions: Predictions) -> pd.DataFrame:
    """The columns rules and separations use; class labels as categories (``label == 3``)."""

    def build() -> pd.DataFrame:
        s = predictions.schema
        frame = predictions.frame[_rule_columns(predictions)]
        if s.is_classification:
            classes = list(s.classes)
            frame = frame.assign(
                **{c: pd.Categorical(frame[c], categories=classes) for c in (s.label, s.prediction)}
            )
        return frame

    return predictions.memo("embeddings.rule_frame", build)


def _check_positions(positions: np.ndarray, n: int, name: str) -> np.ndarray:
    out = np.unique(np.asarray(positions, dtype=np.int64))
    if len(out) and (out[0] < 0 or out[-1] >= n):
        raise ValueError(f"{name} must be row positions in 0..{n - 1}")
    return out


def suggest_rule(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    base: Slice = EMPTY,
    max_depth: int = 3,
    random_state: int = 0,
) -> RuleSuggestion | None:
    """The best-F1 node of a small tree on the map's points predicting "selected".

    The tree (:func:`~mlqa_debug.analyses.discovery.tree.fit_error_tree`, greedy CART of
    depth ``max_depth``) runs on the features, label and prediction of the
    ``shown`` rows; every node is an exact slice. Precision and recall are counted
    with the slice's own mask on the shown rows. ``None`` when nothing is
    selected or no rule beats "all points".
    """
    n = predictions.n_samples
    shown = _check_positions(shown, n, "shown")
    is_selected = np.isin(shown, _check_positions(selected, n, "selected"))
    n_selected = int(is_selected.sum())
    if n_selected == 0 or n_selected == len(shown):
        return None
    frame = _rule_frame(predictions).iloc[shown]
    min_leaf = max(2, math.ceil(0.02 * n_selected))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tree = fit_error_tree(
            frame,
            is_selected.astype(np.float64),
            features=_rule_columns(predictions),
            max_depth=max_depth,
            min_samples_leaf=min_leaf,
            task="classification",
            random_state=random_state,
        )
    candidates = [node for node in tree.nodes if node.slice.predicates]
    if not candidates:
        return None
    best = max(candidates, key=lambda node: _rule_score(node, n_selected))
    covered = best.slice.mask(frame)
    full = base & best.slice
    return RuleSuggestion(
        rule=best.slice,
        slice=full,
        n_covered=int(covered.sum()),
        n_selected_covered=int((covered & is_selected).sum()),
        n_selected=n_selected,
        n_rows=int(full.mask(predictions.slice_frame).sum()),
    )


def _rule_score(node: TreeNode, n_selected: int) -> tuple[float, int, float]:
    """F1 (rounded so near ties go to shorter rules), then fewer predicates, then precision."""
    precision = node.error_sum / node.size if node.size else 0.0
    recall = node.error_sum / n_selected
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (round(f1, 2), -len(node.slice.predicates), precision)


# --------------------------------------------------------------------------- separating features


def _feature_codes(predictions: Predictions) -> Any:
    frame = _rule_frame(predictions)  # outside the memo's build: memo builds hold its lock

    def build() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return encode_features(frame, list(frame.columns), n_bins=8)

    return predictions.memo("embeddings.codes", build)


def separating_features(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    limit: int = 10,
) -> pd.DataFrame:
    """Features (and label, prediction) that best separate the selected points from the others.

    Over the ``shown`` rows, each column's values (numerics in 8 quantile bins) are
    cross-tabulated against "selected". Columns: ``feature``, ``strength``
    (Cramér's V, 0 = same distribution, 1 = fully separated), ``p-value``
    (chi-square test, as text), ``most over-represented`` (the value or bin whose share grows
    most in the selection), ``in selection`` and ``in the rest`` (its shares). Strongest first.
    """
    n = predictions.n_samples
    shown = _check_positions(shown, n, "shown")
    chosen = np.isin(shown, _check_positions(selected, n, "selected"))
    rows: list[dict[str, Any]] = []
    if chosen.all() or not chosen.any():
        return pd.DataFrame(rows, columns=_SEPARATION_COLUMNS)
    for feature in _feature_codes(predictions).features:
        codes = feature.codes[shown].astype(np.int64)
        row = _separation(codes, chosen, feature.cardinality)
        if row is not None:
            code, values = row
            rows.append(
                {"feature": feature.column, **values, "most over-represented": feature.label(code)}
            )
    frame = pd.DataFrame(rows, columns=_SEPARATION_COLUMNS)
    return (
        frame.sort_values(["strength", "feature"], ascending=[False, True])
        .head(limit)
        .reset_index(drop=True)
    )


_SEPARATION_COLUMNS = [
    "feature",
    "strength",
    "p-value",
    "most over-represented",
    "in selection",
    "in the rest",
]


def _p_text(p_value: float) -> str:
    """A p-value for reading: ``0.21``, ``3e-19``, ``< 1e-300``."""
    if p_value < 1e-300:
        return "< 1e-300"
    return f"{p_value:.2f}" if p_value >= 0.01 else f"{p_value:.0e}"


def _separation(codes: np.ndarray, chosen: np.ndarray, k: int) -> tuple[int, dict[str, Any]] | None:
    inside = np.bincount(codes[chosen], minlength=k).astype(np.float64)
    outside = np.bincount(codes[~chosen], minlength=k).astype(np.float64)
    present = (inside + outside) > 0
    if present.sum() < 2:
        return None
    table = np.vstack([inside[present], outside[present]])
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    strength = math.sqrt(chi2 / table.sum())
    share_in, share_out = inside / inside.sum(), outside / outside.sum()
    code = int(np.argmax(np.where(present, share_in - share_out, -np.inf)))
    values = {
        "strength": float(strength),
        "p-value": _p_text(float(p_value)),
        "in selection": float(share_in[code]),
        "in the rest": float(share_out[code]),
    }
    return code, values


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True, eq=False)
class SelectionSummary:
    """What a selection on the map is.

    ``selected``: the selected points (row positions); ``mask``: the rows the
    metrics cover (on a sampled map, every mapped row of the view inside the drawn
    region, not only the drawn points). ``report``: those rows vs all other rows.
    ``map_rest``: the metrics of the other rows of the view. ``features`` and
    ``rule`` compare the selected points with the other points on the map.
    """

    selected: np.ndarray
    mask: np.ndarray
    report: metrics.SliceReport[Any]
    map_rest: metrics.ClassificationMetrics | metrics.RegressionMetrics
    features: pd.DataFrame
    rule: RuleSuggestion | None
    ids: tuple[Any, ...] | None

    @property
    def n_rows(self) -> int:
        return int(self.mask.sum())

    def headline(self) -> list[tuple[str, str, str | None]]:
        """(label, value, delta) of the four numbers above a summary."""
        inside, rest = self.report.slice.error_rate.value, self.map_rest.error_rate.value
        points = len(self.selected)
        gap = (
            f"{(inside - rest) * 100:+.1f} pts vs the rest of the map" if self.map_rest.n else None
        )
        return [
            (
                "Rows",
                f"{self.n_rows:,}",
                f"{points:,} points drawn" if points != self.n_rows else None,
            ),
            ("Error rate", f"{inside:.1%}", gap),
            ("Rest of the map", f"{rest:.1%}" if self.map_rest.n else "–", None),
            ("Overall error rate", f"{self.report.overall.error_rate.value:.1%}", None),
        ]


def summarize_selection(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    candidates: np.ndarray | None = None,
    region: np.ndarray | None = None,
    base: Slice = EMPTY,
) -> SelectionSummary:
    """Metrics, separating features and a rule for the selected points of a map.

    ``candidates`` are the rows of the view (the slice's mapped rows) and
    ``region`` the rows inside the drawn selection (see :func:`region_mask`); on a
    sampled map the metrics use ``region & candidates``, otherwise the points.
    """
    n = predictions.n_samples
    selected = _check_positions(selected, n, "selected")
    view = np.ones(n, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[selected] = True
    if region is not None and len(shown) < int(view.sum()):
        mask |= region & view
    ids = None
    if predictions.schema.id is not None:
        values = predictions.frame[predictions.schema.id].to_numpy(dtype=object)[selected]
        ids = tuple(v.item() if isinstance(v, np.generic) else v for v in values)
    return SelectionSummary(
        selected=selected,
        mask=mask,
        report=metrics.slice_report(predictions.metric_data, mask),
        map_rest=metrics.evaluate(predictions.metric_data, view & ~mask),
        features=separating_features(predictions, selected, shown=shown),
        rule=suggest_rule(predictions, selected, shown=shown, base=base),
        ids=ids,
    )


# --------------------------------------------------------------------------- clusters


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
    from sklearn.neighbors import NearestNeighbors

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
    rest = np.setdiff1d(rows, fit, assume_unique=True)
    if len(rest):
        index = NearestNeighbors(n_neighbors=1).fit(coords[fit])
        nearest = index.kneighbors(coords[rest], return_distance=False)[:, 0]
        labels[rest] = fitted[nearest]
    return ClusterResult(labels, _rank_clusters(coords, error, labels, view), size, len(fit))


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
    key = f"{projection.key}.{min_cluster_size}.{_digest(np.packbits(view))}"
    return _lru(
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
