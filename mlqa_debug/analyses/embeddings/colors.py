"""How the map's points are coloured: by error, label, prediction, confidence, slice or cluster.

A categorical colouring gives each point a group (one trace per group in the
figure); a continuous one gives each point a value on a scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from mlqa_debug.analyses.embeddings.clusters import ClusterResult
from mlqa_debug.data.predictions import Predictions

__all__ = [
    "COLOR_CHOICES",
    "MAX_CLASS_GROUPS",
    "ColorBy",
    "ColorSpec",
    "color_choices",
    "color_spec",
]

ColorBy = Literal["error", "label", "prediction", "confidence", "abs_error", "slice", "cluster"]
"""What the points are coloured by."""

COLOR_CHOICES: tuple[ColorBy, ...] = get_args(ColorBy)
MAX_CLASS_GROUPS = 10
"""Most classes with a colour of their own; the rest are ``other``."""

_COLOR_TITLES: dict[ColorBy, str] = {
    "error": "Error",
    "label": "Label",
    "prediction": "Prediction",
    "confidence": "Confidence",
    "abs_error": "|residual|",
    "slice": "Current slice",
    "cluster": "Cluster",
}


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


def color_spec(
    predictions: Predictions,
    positions: np.ndarray,
    color_by: ColorBy,
    in_slice: np.ndarray | None,
    clusters: ClusterResult | None,
) -> ColorSpec:
    """The colouring of the points at ``positions``; error colours when ``color_by`` can't apply."""
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
    return color_spec(predictions, positions, "error", in_slice, clusters)


def _cluster_colors(clusters: ClusterResult, positions: np.ndarray) -> ColorSpec:
    labels = clusters.labels[positions]
    ranks = {c.label: i for i, c in enumerate(clusters.clusters)}
    lookup = np.full(int(labels.max(initial=-1)) + 2, len(ranks), dtype=np.int64)
    for label, rank in ranks.items():
        lookup[label] = rank
    groups = lookup[labels]  # label -1 (noise) reads the last entry
    names = (*(c.name for c in clusters.clusters), "no cluster")
    return ColorSpec("cluster", "Cluster", groups, names)
