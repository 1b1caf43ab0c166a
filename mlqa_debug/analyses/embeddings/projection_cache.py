"""Projections kept in memory with the dataset and on disk, so each map is computed once.

On disk (:class:`~mlqa_debug.cache.DiskCache`, normally
``Workspace.cache_dir("embeddings")``) a projection is stored under its
:func:`~mlqa_debug.analyses.embeddings.projection.projection_key`: the dataset
fingerprint, the input columns, the method, its parameters and the library
versions. ``mlqa-debug embed`` fills this cache ahead of the page.
"""

from __future__ import annotations

import time

import numpy as np

from mlqa_debug.analyses.embeddings.lru import LruCache
from mlqa_debug.analyses.embeddings.params import DEFAULT_PARAMS, Method, ProjectionParams
from mlqa_debug.analyses.embeddings.projection import (
    Projection,
    compute_projection,
    projection_key,
)
from mlqa_debug.analyses.embeddings.vectors import input_columns
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.types import Progress

__all__ = ["get_projection", "load_projection"]


#: Projections kept in memory per dataset (methods x parameter sets); the disk cache keeps all.
MAX_IN_MEMORY = 8


def _memory(predictions: Predictions) -> LruCache[Projection]:
    return predictions.memo("embeddings.projections", lambda: LruCache(MAX_IN_MEMORY))


def load_projection(
    predictions: Predictions,
    *,
    method: Method,
    cache: DiskCache | None,
    params: ProjectionParams = DEFAULT_PARAMS,
) -> Projection | None:
    """The projection from memory or the disk cache, or ``None`` if it was never computed.

    Given coordinates need no computing and always load.
    """
    if method == "given":
        return get_projection(predictions, method="given", cache=None, params=params)
    key = projection_key(predictions, method=method, params=params)
    memory = _memory(predictions)
    if (found := memory.get(key)) is not None:
        return found
    if cache is None:
        return None
    arrays = cache.get_arrays(key)
    if arrays is None or arrays.get("coords", np.zeros(0)).shape != (predictions.n_samples, 2):
        return None
    meta = cache.get_json(key) or {}
    source, _ = input_columns(predictions)
    projection = Projection(
        arrays["coords"].astype(np.float32),
        method,
        source,
        key,
        str(meta.get("description", method.upper())),
        float(meta.get("seconds", 0.0)),
    )
    return memory.put(key, projection)


def get_projection(
    predictions: Predictions,
    *,
    method: Method,
    cache: DiskCache | None,
    params: ProjectionParams = DEFAULT_PARAMS,
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
    if method == "given" and not force and (found := memory.get(key)) is not None:
        return found
    projection = compute_projection(predictions, method=method, params=params, progress=progress)
    if cache is not None and method != "given":
        cache.put_json(key, _meta(predictions, projection))
        cache.put_arrays(key, {"coords": projection.coords})
    return memory.put(key, projection, replace=force)


def _meta(predictions: Predictions, projection: Projection) -> dict[str, object]:
    """What the disk cache keeps beside the coordinates."""
    return {
        "method": projection.method,
        "description": projection.description,
        "seconds": projection.seconds,
        "n_samples": predictions.n_samples,
        "fingerprint": predictions.fingerprint,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
