"""Structures derived from a shared table: built once, kept in a small LRU per kind.

A :class:`~mlqa_debug.data.predictions.Predictions` is one read-only object
shared by every session, so whatever is memoised on it lives as long as the
server. Keys read ``kind:parameters`` (``discovery:DiscoveryParams(...)``,
``sort_key:age``); each kind keeps its most recently used entries only
(:data:`DEFAULT_MAX_ENTRIES`, or :data:`MAX_ENTRIES` for the kind), so one
discovery result per parameter set or one sort key per column cannot pile up.
Arrays in stored values are made read-only (``setflags(write=False)``): a caller
that wants to change one copies it first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import numpy as np

T = TypeVar("T")

DEFAULT_MAX_ENTRIES = 8
"""Entries kept per kind unless :data:`MAX_ENTRIES` says otherwise (8 discovery results)."""

MAX_ENTRIES: Mapping[str, int] = {"sort_key": 16}
"""Kinds that keep another number of entries: sort keys (8 bytes a row) for 16 columns."""


def kind_of(key: str) -> str:
    """The kind of a memo key: the text before its first ``:`` (the whole key without one)."""
    return key.split(":", 1)[0]


def freeze(value: T) -> T:
    """Make the arrays of ``value`` read-only: an array, or those in a tuple, list or dict."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple | list):
        for item in value:
            freeze(item)
    elif isinstance(value, dict):
        for item in value.values():
            freeze(item)
    return value


class BoundedMemo:
    """A thread-safe memo with a least-recently-used bound per key kind.

    Concurrent callers of one key wait for a single build, other keys proceed, and
    a build may itself ask for other keys. An evicted entry is built again when
    asked for.
    """

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self._max_entries = max_entries
        self._limits = dict(MAX_ENTRIES if limits is None else limits)
        self._kinds: dict[str, OrderedDict[str, Any]] = {}
        self._building: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The value stored under ``key``, built (and frozen) on first use."""
        with self._guard:
            found, value = self._lookup(key)
            if found:
                return cast(T, value)
            lock = self._building.setdefault(key, threading.Lock())
        try:
            with lock:
                with self._guard:
                    found, value = self._lookup(key)
                if found:
                    return cast(T, value)
                value = freeze(build())
                with self._guard:
                    self._store(key, value)
                return cast(T, value)
        finally:
            with self._guard:
                if self._building.get(key) is lock:
                    del self._building[key]

    def limit(self, kind: str) -> int:
        """How many entries of ``kind`` are kept."""
        return self._limits.get(kind, self._max_entries)

    def sizes(self) -> dict[str, int]:
        """Entries kept per kind."""
        with self._guard:
            return {kind: len(entries) for kind, entries in self._kinds.items()}

    def _lookup(self, key: str) -> tuple[bool, Any]:
        entries = self._kinds.get(kind_of(key))
        if entries is None or key not in entries:
            return False, None
        entries.move_to_end(key)
        return True, entries[key]

    def _store(self, key: str, value: Any) -> None:
        kind = kind_of(key)
        entries = self._kinds.setdefault(kind, OrderedDict())
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.limit(kind):
            entries.popitem(last=False)
