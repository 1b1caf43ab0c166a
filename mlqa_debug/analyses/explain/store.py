"""The store of computed attributions: per row, in memory and in a disk cache.

One store holds the attributions of one (model file, dataset, method), keyed
by the model file's hash, the dataset fingerprint and the method id, in
``Workspace.cache_dir("shap")`` (a :class:`~mlqa_debug.cache.DiskCache`), so
overlapping slices share rows and a second visit computes nothing. A store
keeps its own description (:class:`StoreMeta`): reading stored rows needs no
explainer, so a cached visit never imports shap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np

from mlqa_debug.analyses.explain.estimators import ExplainerKind
from mlqa_debug.analyses.explain.explainers import Explainer
from mlqa_debug.cache import DiskCache, cache_key

logger = logging.getLogger(__name__)

#: Part of every store and cost key: a new version leaves older entries unread.
STORE_VERSION = "explain-2"


def store_key(kind: str, *parts: str) -> str:
    """The cache key of a store (``kind="explain-store"``) or of a measured cost."""
    return cache_key(kind, STORE_VERSION, *parts)


@dataclass(frozen=True)
class StoreMeta:
    """What a store's attributions are: features, outputs, method, output space, and
    which explainer made them and why."""

    features: tuple[str, ...]
    outputs: tuple[str, ...]
    method: str
    output_space: str
    approximate: bool
    explainer: ExplainerKind | None = None
    reason: str = ""

    @classmethod
    def of(cls, explainer: Explainer) -> StoreMeta:
        return cls(
            explainer.features,
            explainer.outputs,
            explainer.method,
            explainer.output_space,
            explainer.approximate,
            explainer.kind,
            explainer.reason,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The description as arrays of text, stored next to the attributions."""
        described = [self.method, self.output_space, str(self.approximate)]
        described += [self.explainer or "", self.reason]
        return {
            "features": np.asarray(self.features, dtype=str),
            "outputs": np.asarray(self.outputs, dtype=str),
            "meta": np.asarray(described, dtype=str),
        }

    @classmethod
    def from_arrays(cls, stored: dict[str, np.ndarray]) -> StoreMeta:
        """What :meth:`arrays` stored; ``ValueError`` or ``KeyError`` if it is not that."""
        method, space, approximate, kind, reason = stored["meta"].tolist()
        features, outputs = stored["features"].tolist(), stored["outputs"].tolist()
        explainer = next((k for k in get_args(ExplainerKind) if k == kind), None)
        return cls(
            tuple(features), tuple(outputs), method, space, approximate == "True", explainer, reason
        )


class AttributionStore:
    """Attributions of one (model, dataset, method), per row, in memory and on disk.

    It keeps its own description (:class:`StoreMeta`), so reading stored rows needs
    no explainer: a cached visit never imports shap.
    """

    def __init__(self, cache: DiskCache | None, key: str) -> None:
        self.cache, self.key = cache, key
        self.meta: StoreMeta | None = None
        self.rows = np.empty(0, np.int64)
        self.values = np.empty((0, 0, 0))
        self.base = np.empty((0, 0))
        self.output = np.empty((0, 0))
        self.agree = np.empty(0)
        self.lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        stored = self.cache.get_arrays(self.key) if self.cache is not None else None
        if stored is None:
            return
        try:
            meta = StoreMeta.from_arrays(stored)
            arrays = [stored[k] for k in ("rows", "values", "base", "output", "agree")]
        except (KeyError, ValueError) as e:
            logger.warning("ignoring SHAP cache entry %s: %s", self.key, e)
            return
        self.meta = meta
        self.rows, self.values, self.base, self.output, self.agree = arrays

    def missing(self, rows: np.ndarray) -> np.ndarray:
        with self.lock:
            return rows[~np.isin(rows, self.rows)]

    def add(self, meta: StoreMeta, rows: np.ndarray, arrays: Sequence[np.ndarray]) -> None:
        """Merge ``values, base, output, agree`` of ``rows`` (rows already stored are kept)."""
        with self.lock:
            if self.meta is None or len(self.rows) == 0:
                self.meta = meta
                g, k = len(meta.features), len(meta.outputs)
                self.values, self.base, self.output = (
                    np.empty((0, g, k)), np.empty((0, k)), np.empty((0, k))
                )  # fmt: skip
            keep = ~np.isin(rows, self.rows)
            merged = np.concatenate([self.rows, rows[keep]])
            order = np.argsort(merged, kind="stable")
            self.rows = merged[order]
            old = (self.values, self.base, self.output, self.agree)
            new = [np.concatenate([a, b[keep]])[order] for a, b in zip(old, arrays, strict=True)]
            self.values, self.base, self.output, self.agree = new

    def save(self) -> None:
        if self.cache is None or self.meta is None:
            return
        with self.lock:
            arrays = {
                "rows": self.rows, "values": self.values, "base": self.base,
                "output": self.output, "agree": self.agree, **self.meta.arrays(),
            }  # fmt: skip
        self.cache.put_arrays(self.key, arrays)

    def select(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """``rows, values, base, output, agree`` of the stored ``rows``, in row order."""
        with self.lock:
            idx = np.flatnonzero(np.isin(self.rows, rows))
            arrays = (self.rows, self.values, self.base, self.output, self.agree)
            return tuple(a[idx] for a in arrays)

    def update(self, rows: np.ndarray, *, output: np.ndarray, agree: np.ndarray) -> None:
        """Replace the output and agreement of stored ``rows`` (given in row order)."""
        with self.lock:
            idx = np.flatnonzero(np.isin(self.rows, rows))
            self.output[idx], self.agree[idx] = output, agree
