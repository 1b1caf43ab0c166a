"""Binary thresholds: predictions at a threshold, precision and recall there, PR curves.

A binary task with a score (or probability columns) predicts the positive class
when ``P[positive] >= threshold``. :func:`threshold_metrics` matches
``sklearn.metrics.precision_recall_fscore_support(..., average="binary",
zero_division=0)`` and :func:`pr_curve` matches ``precision_recall_curve``.
Asking for a threshold on a dataset without a binary score is a
:class:`~mlqa_debug.errors.ParameterError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = [
    "DEFAULT_THRESHOLD",
    "PrCurve",
    "ThresholdMetrics",
    "binary_predictions",
    "binary_truth",
    "parse_threshold",
    "positive_code",
    "positive_scores",
    "pr_curve",
    "score_column",
    "slice_pr_curve",
    "threshold_changes",
    "threshold_from_url",
    "threshold_metrics",
    "threshold_report",
]

DEFAULT_THRESHOLD = 0.5
"""The threshold a binary model predicts at unless told otherwise."""


def positive_code(predictions: Predictions) -> int | None:
    """The class code of the positive class of a binary task, else ``None``."""
    s = predictions.schema
    if s.task != "binary" or s.positive is None or len(s.classes) != 2:
        return None
    return list(s.classes).index(s.positive)


def score_column(predictions: Predictions) -> str | None:
    """The column holding ``P[positive]`` (the score, or the positive class's probability)."""
    s = predictions.schema
    if s.score is not None:
        return s.score
    return s.proba.get(s.positive) if s.positive is not None else None


def positive_scores(predictions: Predictions) -> np.ndarray | None:
    """``P[positive]`` of a binary task with probabilities, else ``None``."""
    pos = positive_code(predictions)
    proba = predictions.proba_matrix
    if pos is None or proba is None:
        return None
    return proba[:, pos]


def _required_scores(predictions: Predictions, what: str) -> tuple[int, np.ndarray]:
    """The positive class code and ``P[positive]``; ParameterError naming ``what`` needs them."""
    pos = positive_code(predictions)
    scores = positive_scores(predictions)
    if pos is None or scores is None:
        raise ParameterError(
            f"{what} needs a binary task with a score or probability columns; "
            f"this dataset is {predictions.schema.task} without them"
        )
    return pos, scores


def binary_predictions(predictions: Predictions, *, threshold: float) -> np.ndarray:
    """Predicted class codes at ``threshold``: positive where ``P[positive] >= threshold``.

    Computed once per dataset and threshold (a read-only array shared by every
    caller of a page run: the matrices, the pair's rows and its examples).
    """
    pos, scores = _required_scores(predictions, "a threshold")
    return predictions.memo(
        f"confusion.at:{threshold!r}",
        lambda: np.where(scores >= threshold, pos, 1 - pos).astype(np.int32),
    )


def threshold_changes(predictions: Predictions, threshold: float) -> int:
    """Rows whose prediction at ``threshold`` differs from the ``prediction`` column."""
    return int(
        np.count_nonzero(
            binary_predictions(predictions, threshold=threshold) != predictions.y_pred_codes
        )
    )


def parse_threshold(text: str | None, *, default: float = DEFAULT_THRESHOLD) -> float | None:
    """A threshold from a URL: a number in [0, 1] rounded to 0.01; ``None`` if malformed.

    An absent value gives ``default``.
    """
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        return None
    return round(value, 2)


def threshold_from_url(text: str | None) -> float:
    """:func:`parse_threshold`, with :data:`DEFAULT_THRESHOLD` for a malformed value."""
    value = parse_threshold(text)
    return DEFAULT_THRESHOLD if value is None else value


@dataclass(frozen=True)
class ThresholdMetrics:
    """Counts and scores of the positive class at one threshold (scikit-learn, zero_division=0)."""

    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n_samples(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def n_positive(self) -> int:
        return self.tp + self.fn


def threshold_metrics(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float,
    mask: np.ndarray | None = None,
) -> ThresholdMetrics:
    """Precision, recall and F1 when ``scores >= threshold`` predicts positive.

    ``y_true`` is a boolean array (True = positive class).
    """
    y_true = np.asarray(y_true, dtype=bool)
    predicted = np.asarray(scores) >= threshold
    code = y_true.astype(np.int64) * 2 + predicted
    if mask is not None:
        code = code[check_mask(mask, len(code))]
    tn, fp, fn, tp = (int(v) for v in np.bincount(code, minlength=4))
    return ThresholdMetrics(float(threshold), tp=tp, fp=fp, fn=fn, tn=tn)


def binary_truth(predictions: Predictions) -> np.ndarray:
    """True where the label is the positive class of a binary task."""
    pos = positive_code(predictions)
    if pos is None:
        raise ParameterError(f"this dataset is {predictions.schema.task}, not binary")
    return np.asarray(predictions.y_true_codes == pos)


@dataclass(frozen=True, eq=False)
class PrCurve:
    """A precision-recall curve as ``sklearn.metrics.precision_recall_curve`` returns it.

    ``precision`` and ``recall`` have one more entry than ``thresholds`` (the final
    point precision 1, recall 0); ``average_precision`` is scikit-learn's
    ``average_precision_score`` (nan without positives, where recall is 1 throughout).
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    n_samples: int
    n_positive: int

    @property
    def average_precision(self) -> float:
        if self.n_positive == 0:
            return math.nan
        return float(-np.sum(np.diff(self.recall) * self.precision[:-1]))

    def thinned(self, max_points: int = 1_500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At most about ``max_points`` points (first and last kept), for drawing."""
        n = len(self.precision)
        if n <= max_points:
            idx = np.arange(n)
        else:
            idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
        thresholds = np.append(self.thresholds, np.nan)[idx]
        return self.precision[idx], self.recall[idx], thresholds


def pr_curve(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> PrCurve:
    """The precision-recall curve of the rows in ``mask``.

    ``order`` (rows sorted by decreasing score, e.g. memoised for a dataset) makes
    a slice's curve cost O(n) instead of a sort.
    """
    y_true = np.asarray(y_true, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if order is None:
        order = np.argsort(-scores, kind="stable")
    if mask is not None:
        order = order[check_mask(mask, len(scores))[order]]
    s, y = scores[order], y_true[order]
    if s.size == 0:
        return PrCurve(np.array([1.0]), np.array([0.0]), np.array([]), 0, 0)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y, dtype=np.int64)[last]
    fps = last + 1 - tps
    precision = tps / (tps + fps)
    recall = tps / tps[-1] if tps[-1] else np.ones(len(tps))
    return PrCurve(
        np.r_[precision[::-1], 1.0],
        np.r_[recall[::-1], 0.0],
        s[last][::-1],
        int(s.size),
        int(tps[-1]),
    )


def slice_pr_curve(predictions: Predictions, mask: np.ndarray | None = None) -> PrCurve:
    """:func:`pr_curve` of a binary dataset's rows in ``mask`` (the score order is memoised)."""
    _, scores = _required_scores(predictions, "a precision-recall curve")
    order = predictions.memo(
        "confusion.score_order", lambda: np.argsort(-scores, kind="stable").astype(np.int64)
    )
    truth = binary_truth(predictions)
    if mask is None:  # the same on every rerun: built once per dataset
        return predictions.memo("confusion.pr_all", lambda: pr_curve(truth, scores, order=order))
    return pr_curve(truth, scores, mask=mask, order=order)


def threshold_report(
    predictions: Predictions,
    mask: np.ndarray | None,
    *,
    threshold: float,
) -> tuple[dict[str, ThresholdMetrics], dict[str, PrCurve]]:
    """Metrics at ``threshold`` and PR curves of the slice (when ``mask``) and of all rows.

    Keys are ``"slice"`` (only with a ``mask``) and ``"overall"``.
    """
    _, scores = _required_scores(predictions, "a threshold")
    truth = binary_truth(predictions)
    parts = {"slice": mask, "overall": None} if mask is not None else {"overall": None}
    metrics = {
        name: threshold_metrics(truth, scores, threshold=threshold, mask=rows)
        for name, rows in parts.items()
    }
    curves = {name: slice_pr_curve(predictions, rows) for name, rows in parts.items()}
    return metrics, curves
