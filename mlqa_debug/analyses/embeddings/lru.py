"""A small thread-safe LRU of results derived from a dataset (hover texts, clusters).

The dataset object is shared by every session of the server, and so is the LRU
kept with it: lookups, inserts, reordering and eviction happen under one lock.
A value is built outside the lock (builds take seconds); when two threads build
the same key at once, the first stored value wins and both get it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

import numpy as np

from mlqa_debug.data.predictions import Predictions

__all__ = ["LruCache", "array_digest", "remembered"]

V = TypeVar("V")

_MISSING = object()


class LruCache(Generic[V]):
    """At most ``size`` values by key; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: Hashable) -> V | None:
        """The value (now the most recently used), or ``None``."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V, *, replace: bool = False) -> V:
        """Store ``value`` unless ``key`` is already there (or ``replace``); returns the stored."""
        with self._lock:
            if replace:
                self._items[key] = value
            stored = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return stored

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The stored value, or ``build()`` stored and returned."""
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is not _MISSING:
                self._items.move_to_end(key)
                return cast(V, found)
        return self.put(key, build())


def remembered(
    predictions: Predictions, name: str, key: str, build: Callable[[], V], *, size: int = 8
) -> V:
    """``build()`` kept in the dataset's LRU called ``name`` (``size`` entries) under ``key``."""
    store: LruCache[V] = predictions.memo(name, lambda: LruCache(size))
    return store.get_or_build(key, build)


def array_digest(*arrays: np.ndarray) -> str:
    """A short hash of the arrays' bytes, for LRU keys."""
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(b"|")
    return h.hexdigest()
