"""What an explanation is: attributions of some rows, and how they were made and checked.

``values[i, g, k]`` is feature g's part of output k at dataset row ``rows[i]``;
``base + values.sum(axis=1)`` equals ``output`` when the attributions are
additive (:func:`additivity_error`, :attr:`ExplainInfo.additive`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

import numpy as np

from mlqa_debug.analyses.explain.estimators import ExplainerKind

AttributionSource: TypeAlias = Literal["model", "precomputed"]
"""Where attributions come from: computed from the registered model, or the table's
``shap_<feature>`` columns."""

#: Largest relative ``|base + sum(attributions) - output|`` that counts as additive.
ADDITIVITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExplainInfo:
    """How attributions were made: source, method, output space, checks.

    ``explainer`` is the kind of explainer that ran (``None`` for precomputed
    columns) and ``explainer_reason`` says why, for people: "HistGradientBoostingClassifier
    is a tree model", or "TreeExplainer does not support ...: ..." when a fast
    explainer refused the model and permutation SHAP ran instead.
    """

    source: AttributionSource
    method: str
    output_space: str
    approximate: bool = False
    model: str | None = None
    additivity_error: float = math.nan
    agreement: float | None = None
    checked_rows: int = 0
    per_row_class: bool = False
    notes: tuple[str, ...] = ()
    explainer: ExplainerKind | None = None
    explainer_reason: str = ""

    @property
    def additive(self) -> bool | None:
        """Whether base + attributions matched the output (``None``: not checkable)."""
        return (
            None
            if math.isnan(self.additivity_error)
            else self.additivity_error <= ADDITIVITY_TOLERANCE
        )


@dataclass(frozen=True)
class Explanation:
    """Attributions of some rows: ``values[i, g, k]`` is feature g's part of output k at rows[i]."""

    rows: np.ndarray
    values: np.ndarray
    base: np.ndarray
    output: np.ndarray
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    info: ExplainInfo

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def index(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """Index into this explanation of dataset ``positions`` (-1 where not explained)."""
        return index_of(self.rows, positions)

    def take(self, positions: np.ndarray) -> Explanation:
        """The explained rows among ``positions``."""
        idx = self.index(positions)
        idx = np.unique(idx[idx >= 0])
        return replace(
            self, rows=self.rows[idx], values=self.values[idx], base=self.base[idx],
            output=self.output[idx],
        )  # fmt: skip


def index_of(rows: np.ndarray, positions: np.ndarray | Sequence[int]) -> np.ndarray:
    """Where each of ``positions`` sits in the sorted ``rows`` (-1 where absent)."""
    wanted = np.asarray(positions, dtype=np.int64)
    if len(rows) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)
    return np.where(rows[at] == wanted, at, -1)


def additivity_error(values: np.ndarray, base: np.ndarray, output: np.ndarray) -> float:
    """Largest ``|base + sum(values) - output|``, relative to the output's scale.

    ``values`` is ``(n, G[, K])``; ``base`` and ``output`` ``(n[, K])``. Zero rows give 0.
    """
    if values.size == 0:
        return 0.0
    total = base + values.sum(axis=1)
    scale = max(1.0, float(np.nanmax(np.abs(output)))) if output.size else 1.0
    return float(np.nanmax(np.abs(total - output))) / scale
