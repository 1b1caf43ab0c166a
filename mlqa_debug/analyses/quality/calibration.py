"""Calibration of predicted probabilities: reliability diagrams and ECE, per class and per slice.

:func:`calibration` computes, for any rows of a table with probabilities, the
top-label reliability diagram (confidence = the largest probability against
the share of rows whose most probable class is the label, as
:mod:`mlqa_debug.stats.classification` defines ECE) and one one-vs-rest diagram
per class (``P[c]`` against the share labelled ``c``; for a binary task the
positive class only). Bins are ``calibration_bins`` (10) equal-width intervals
``[i/B, (i+1)/B)``, the last one closed; ``ece = sum_b n_b / n * |observed_b -
predicted_b|``.

Two checks (tables with probabilities only):

- ``calibration``: the table's top-label ECE, and each class's, at or above
  ``ece_warning`` (0.05) is a ``warning``, at or above ``ece_error`` (0.15) an
  ``error`` (rows: the whole table, slice ``""``).
- ``slice_calibration``: one-value slices ``col == v`` of categorical and boolean
  features with at least ``min_slice_rows`` (1,000) rows whose top-label ECE
  exceeds the table's by ``slice_ece_excess`` (0.05); at most
  ``max_calibration_slices`` (10), worst first (``warning``). The row minimum keeps
  out the ECE that sampling alone gives a small slice (about ``0.36 sqrt(B / n)``
  for calibrated probabilities: 0.04 at 1,000 rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.analyses.quality.registry import Draft, QualityContext, register_quality
from mlqa_debug.data.checks import Severity
from mlqa_debug.data.checks.registry import plain
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.stats import wilson_interval
from mlqa_debug.stats.format import count, number

__all__ = [
    "Calibration",
    "ReliabilityCurve",
    "calibration",
    "reliability",
    "slice_calibration",
    "table_calibration",
]


@dataclass(frozen=True, eq=False)
class ReliabilityCurve:
    """One reliability diagram: per bin, its rows, mean predicted and observed share.

    ``name`` is ``"top label"`` or the class; ``predicted`` and ``observed`` are nan
    in an empty bin; ``low``/``high`` bound ``observed`` (95% Wilson interval).
    """

    name: str
    edges: np.ndarray
    counts: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ece: float

    def frame(self) -> pd.DataFrame:
        """The non-empty bins as a table (``bin``, ``rows``, ``predicted``, ``observed`` ...)."""
        keep = self.counts > 0
        left, right = self.edges[:-1][keep], self.edges[1:][keep]
        return pd.DataFrame(
            {
                "bin": [f"{a:.2f}-{b:.2f}" for a, b in zip(left, right, strict=True)],
                "rows": self.counts[keep],
                "predicted": self.predicted[keep],
                "observed": self.observed[keep],
                "low": self.low[keep],
                "high": self.high[keep],
            }
        )


@dataclass(frozen=True, eq=False)
class Calibration:
    """The top-label diagram and one diagram per class of a set of rows."""

    n: int
    top_label: ReliabilityCurve
    per_class: tuple[ReliabilityCurve, ...]


def bin_of(p: np.ndarray, n_bins: int) -> np.ndarray:
    """The bin of each probability: ``[i/B, (i+1)/B)``, the last one closed."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p, side="right").astype(np.intp)


def reliability(
    predicted: npt.ArrayLike, observed: npt.ArrayLike, *, n_bins: int = 10, name: str = ""
) -> ReliabilityCurve:
    """The reliability diagram of probabilities ``predicted`` against outcomes ``observed``."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(observed, dtype=bool)
    bins = bin_of(p, n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    sums = np.bincount(bins, weights=p, minlength=n_bins)
    hits = np.bincount(bins, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p, share = sums / counts, hits / counts
    bounds = [wilson_interval(int(h), int(c)) for h, c in zip(hits, counts, strict=True)]
    ece = float(np.abs(hits - sums).sum() / len(p)) if len(p) else float("nan")
    return ReliabilityCurve(
        name,
        np.linspace(0.0, 1.0, n_bins + 1),
        counts,
        mean_p,
        share,
        np.array([b[0] for b in bounds]),
        np.array([b[1] for b in bounds]),
        ece,
    )


def calibration(
    predictions: Predictions, mask: npt.ArrayLike | None = None, *, n_bins: int = 10
) -> Calibration | None:
    """Reliability diagrams of the rows in ``mask`` (all rows when None).

    ``None`` for a table without probabilities (or a regression table).
    """
    proba = predictions.proba_matrix
    if proba is None or not predictions.schema.is_classification:
        return None
    y = predictions.y_true_codes
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        proba, y = proba[keep], y[keep]
    top = reliability(proba.max(axis=1), proba.argmax(axis=1) == y, n_bins=n_bins, name="top label")
    classes = list(predictions.schema.classes)
    shown = (
        [classes.index(predictions.schema.positive)] if len(classes) == 2 else range(len(classes))
    )
    per_class = tuple(
        reliability(proba[:, k], y == k, n_bins=n_bins, name=str(classes[k])) for k in shown
    )
    return Calibration(len(y), top, per_class)


def _with_probabilities(context: QualityContext) -> str | None:
    if context.predictions.task == "regression":
        return "applies to classification only (task: regression)"
    return None if context.predictions.proba_matrix is not None else "no probabilities"


def _ece_severity(context: QualityContext, ece: float) -> Severity | None:
    t = context.thresholds
    if ece >= t.ece_error:
        return "error"
    return "warning" if ece >= t.ece_warning else None


@register_quality(
    "calibration",
    "Calibration of the probabilities",
    severity="warning",
    clean="the probabilities are calibrated (ECE under the warning threshold)",
    when=_with_probabilities,
)
def table_calibration(context: QualityContext) -> list[Draft]:
    found = context.shared("calibration", lambda: _table(context))
    everything = np.ones(context.n_samples, dtype=bool)
    drafts = []
    for curve in (found.top_label, *found.per_class):
        severity = _ece_severity(context, curve.ece)
        if severity is None:
            continue
        what = "top-label" if curve is found.top_label else f"class {curve.name!r}"
        drafts.append(
            Draft(
                None if curve is found.top_label else _proba_column(context, curve.name),
                everything,
                f"{what} expected calibration error is {number(curve.ece)} "
                f"({int(context.thresholds.calibration_bins)} bins): the probabilities "
                f"{_direction(curve)}",
                "",
                severity=severity,
                value=curve.ece,
                threshold=context.thresholds.ece_warning,
                compare=False,
            )
        )
    return drafts


def _table(context: QualityContext) -> Calibration:
    found = calibration(context.predictions, n_bins=int(context.thresholds.calibration_bins))
    if found is None:
        raise ValueError("calibration needs probabilities")  # excluded by _with_probabilities
    return found


def _probabilities(context: QualityContext) -> np.ndarray:
    proba = context.predictions.proba_matrix
    if proba is None:
        raise ValueError("calibration needs probabilities")  # excluded by _with_probabilities
    return proba


def _proba_column(context: QualityContext, name: str) -> str | None:
    schema = context.predictions.schema
    if schema.score is not None:
        return schema.score
    return next((col for c, col in schema.proba.items() if str(c) == name), None)


def _direction(curve: ReliabilityCurve) -> str:
    gap = np.nansum(curve.counts * (curve.predicted - curve.observed)) / max(curve.counts.sum(), 1)
    return "are over-confident" if gap > 0 else "are under-confident"


@register_quality(
    "slice_calibration",
    "Calibration per slice",
    severity="warning",
    clean="no slice is much worse calibrated than the table",
    when=_with_probabilities,
)
def slice_calibration(context: QualityContext) -> list[Draft]:
    t = context.thresholds
    overall = context.shared("calibration", lambda: _table(context)).top_label.ece
    proba = _probabilities(context)
    n_bins = int(t.calibration_bins)
    confidence = proba.max(axis=1)
    hit = proba.argmax(axis=1) == context.predictions.y_true_codes
    bins = bin_of(confidence, n_bins)
    found: list[tuple[float, str, object, int, np.ndarray]] = []
    for column in context.of_kind("categorical", "boolean"):
        codes, values = pd.factorize(context.frame[column], use_na_sentinel=True)
        eces, sizes = _grouped_ece(codes, len(values), bins, n_bins, confidence, hit)
        for code in np.flatnonzero(
            (sizes >= t.min_slice_rows) & (eces >= overall + t.slice_ece_excess)
        ):
            found.append(
                (float(eces[code]), column, values[int(code)], int(sizes[code]), codes == code)
            )
    found.sort(key=lambda f: -f[0])
    drafts = []
    for ece, column, value, size, mask in found[: int(t.max_calibration_slices)]:
        drafts.append(
            Draft(
                column,
                mask,
                f"probabilities where {column!r} is {plain(value)!r} ({count(size)} rows) have "
                f"ECE {number(ece)}, against {number(overall)} on the whole table",
                context.slice_of(column, "==", [plain(value)]),
                value=ece,
                threshold=overall + t.slice_ece_excess,
            )
        )
    return drafts


def _grouped_ece(
    codes: np.ndarray,
    n_groups: int,
    bins: np.ndarray,
    n_bins: int,
    confidence: np.ndarray,
    hit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-label ECE and size of every group (``codes``; -1 left out), by one bincount each."""
    keep = codes >= 0
    cell = codes[keep].astype(np.intp) * n_bins + bins[keep]
    size = n_groups * n_bins
    counts = np.bincount(cell, minlength=size).reshape(n_groups, n_bins)
    conf = np.bincount(cell, weights=confidence[keep], minlength=size).reshape(n_groups, n_bins)
    hits = np.bincount(cell, weights=hit[keep], minlength=size).reshape(n_groups, n_bins)
    sizes = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eces = np.abs(hits - conf).sum(axis=1) / sizes
    return np.nan_to_num(eces, nan=0.0), sizes
