"""Where classes are confused: confusion matrices, folding many classes, confused pairs.

Everything here is pure numpy/pandas over the integer codes that
:class:`~mlqa_debug.data.predictions.Predictions` keeps (``y_true_codes``, ``y_pred_codes``),
so a slice change costs one ``np.bincount`` over the slice (or over its complement,
whichever is smaller) and never a pandas group-by.

Conventions follow scikit-learn: :func:`confusion_counts` gives the same numbers as
``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(K))`` (rows are
true classes, columns predicted classes, in class-code order), and
:func:`normalize_counts` follows its ``normalize=`` argument (``"true"`` divides
each row by its total, i.e. recall on the diagonal; ``"pred"`` each column, i.e.
precision; ``"all"`` by the grand total) and turns 0/0 into 0.

A *pair* is a cell of the matrix, (true class code, predicted class code); its
URL form and its slice are in :mod:`.pairs`, binary thresholds in :mod:`.thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = [
    "DEFAULT_MAX_CLASSES",
    "OTHER",
    "PAIR_COLUMNS",
    "ConfusionMatrix",
    "Normalize",
    "class_confusion",
    "classification_classes",
    "confused_pairs",
    "confusion_counts",
    "confusion_from_counts",
    "difference",
    "fold_classes",
    "fold_top",
    "normalize_counts",
    "parse_top",
    "top_classes",
]

Normalize = Literal["true", "pred", "all"]

OTHER = "other"
"""Label of the row and column that fold the classes not shown."""
DEFAULT_MAX_CLASSES = 12
"""Classes shown before the rest fold into :data:`OTHER`."""
PAIR_COLUMNS = ("true", "predicted", "count", "share of class", "overall share", "change (pts)")
"""The columns of :func:`confused_pairs` worth showing (the others serve links and ranking)."""


def confusion_counts(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    n_classes: int,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """``(n_classes, n_classes)`` counts of rows by true (rows) and predicted (columns) code.

    ``y_true`` and ``y_pred`` are integer codes in ``[0, n_classes)``; ``mask``
    (boolean, one entry per row) restricts the count to some rows.
    """
    joint = _joint_codes(y_true, y_pred, n_classes)
    if mask is not None:
        joint = joint[check_mask(mask, len(joint))]
    return _bincount_matrix(joint, n_classes)


def _joint_codes(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-d of one length, got {y_true.shape} and {y_pred.shape}"
        )
    for name, codes in (("y_true", y_true), ("y_pred", y_pred)):
        if codes.size and (codes.min() < 0 or codes.max() >= n_classes):
            raise ValueError(f"{name} holds codes outside [0, {n_classes})")
    return y_true.astype(np.int64) * n_classes + y_pred


def _bincount_matrix(joint: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(joint, minlength=n_classes * n_classes)
    return counts.astype(np.int64).reshape(n_classes, n_classes)


def normalize_counts(counts: np.ndarray, normalize: Normalize | None) -> np.ndarray:
    """Counts as shares, as ``sklearn.metrics.confusion_matrix(normalize=...)`` (0/0 -> 0).

    ``None`` returns the counts as floats.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if normalize is None:
        return counts
    divisors = {
        "true": lambda: counts.sum(axis=1, keepdims=True),
        "pred": lambda: counts.sum(axis=0, keepdims=True),
        "all": lambda: np.array(counts.sum()),
    }
    if normalize not in divisors:
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None, got {normalize!r}")
    total = divisors[normalize]()
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = counts / total
    return np.nan_to_num(shares, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Counts by true class (rows) and predicted class (columns) over some rows.

    ``codes[i]`` is the class code (index into ``schema.classes``) of row and
    column ``i``, or ``-1`` for :data:`OTHER`, which folds the classes not shown.
    ``n_errors`` counts every wrong prediction, including those between two
    classes folded into :data:`OTHER` (which land on its diagonal cell, counted
    in ``other_errors``).
    """

    counts: np.ndarray
    labels: tuple[str, ...]
    codes: tuple[int, ...]
    n_errors: int
    other_errors: int = 0

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    @property
    def n_classes(self) -> int:
        return len(self.codes)

    @property
    def is_folded(self) -> bool:
        return -1 in self.codes

    @property
    def error_rate(self) -> float:
        return self.n_errors / self.n_samples if self.n_samples else math.nan

    def normalized(self, normalize: Normalize | None) -> np.ndarray:
        """The counts as shares (see :func:`normalize_counts`)."""
        return normalize_counts(self.counts, normalize)

    def to_frame(self, normalize: Normalize | None = None) -> pd.DataFrame:
        """The matrix as a labelled DataFrame (index ``true``, columns ``predicted``)."""
        return pd.DataFrame(
            self.normalized(normalize) if normalize else self.counts,
            index=pd.Index(self.labels, name="true"),
            columns=pd.Index(self.labels, name="predicted"),
        )


def confusion_from_counts(counts: np.ndarray, classes: Sequence[Any]) -> ConfusionMatrix:
    """The matrix of ``(K, K)`` counts already made elsewhere (an engine's group-by).

    The same matrix :func:`class_confusion` builds from the codes it counts itself, so
    the heatmaps, folding and pair tables read exact counts the same way.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(f"counts of shape {counts.shape} do not fit {len(classes)} classes")
    return _from_counts(counts, classes)


def _from_counts(counts: np.ndarray, classes: Sequence[Any]) -> ConfusionMatrix:
    n_errors = int(counts.sum() - np.trace(counts))
    return ConfusionMatrix(
        counts, tuple(str(c) for c in classes), tuple(range(len(classes))), n_errors
    )


def class_confusion(
    predictions: Predictions,
    mask: np.ndarray | None = None,
    *,
    y_pred: np.ndarray | None = None,
) -> ConfusionMatrix:
    """The confusion matrix of the rows in ``mask`` (all rows when ``None``).

    ``y_pred`` replaces the predicted codes (e.g. :func:`~.thresholds.binary_predictions` at a
    threshold). Counting runs over the smaller side of the mask: the complement's
    counts are subtracted from the (memoised) totals.
    """
    classes = classification_classes(predictions)
    k = len(classes)
    if y_pred is None:
        joint = predictions.memo(
            "confusion.joint",
            lambda: _joint_codes(predictions.y_true_codes, predictions.y_pred_codes, k),
        )
        total = predictions.memo("confusion.total", lambda: _bincount_matrix(joint, k))
    else:
        joint = _joint_codes(predictions.y_true_codes, y_pred, k)
        total = None
    if mask is None:
        counts = total if total is not None else _bincount_matrix(joint, k)
        return _from_counts(counts.copy(), classes)
    mask = check_mask(mask, len(joint))
    inside = int(np.count_nonzero(mask))
    if total is not None and 2 * inside > len(mask):
        counts = total - _bincount_matrix(joint[~mask], k)
    else:
        counts = _bincount_matrix(joint[mask], k)
    return _from_counts(counts, classes)


def classification_classes(predictions: Predictions) -> tuple[Any, ...]:
    """The classes of a classification dataset, in code order; ParameterError for a regression."""
    if not predictions.schema.is_classification:
        raise ParameterError(
            "confusion matrices need a classification task; this dataset is a regression"
        )
    return tuple(predictions.schema.classes)


def top_classes(
    matrix: ConfusionMatrix,
    n: int,
    *,
    reference: ConfusionMatrix | None = None,
) -> np.ndarray:
    """Positions (in ``matrix``) of ``n`` classes to show, in code order.

    Classes are taken pair by pair down the ranking of confused pairs (most rows
    first; both classes of a pair), so the largest confusions are always visible.
    When the slice's pairs run out, ``reference``'s pairs (say, of all rows) fill
    the remaining places, then the classes with the most rows.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if reference is not None and reference.codes != matrix.codes:
        raise ValueError("reference must have the same classes as matrix")
    support = matrix.counts.sum(axis=0) + matrix.counts.sum(axis=1)
    candidates = (  # built lazily: the reference is ranked only if the slice runs out
        ranked()
        for ranked in (
            lambda: _ranked_cells(matrix.counts),
            lambda: _ranked_cells((reference or matrix).counts),
            lambda: np.lexsort((np.arange(matrix.n_classes), -support)),  # one class each
        )
    )
    chosen: dict[int, None] = {}  # insertion-ordered set
    for positions in candidates:
        for position in positions.tolist():
            if len(chosen) >= n:
                return np.sort(np.fromiter(chosen, dtype=np.int64, count=len(chosen)))
            chosen.setdefault(position)
    return np.sort(np.fromiter(chosen, dtype=np.int64, count=len(chosen)))


def _ranked_cells(counts: np.ndarray) -> np.ndarray:
    """Class positions of the off-diagonal cells with rows, most rows first, true class first.

    A cell (i, j) gives i then j; ties rank by cell index.
    """
    flat = counts.ravel().copy()
    np.fill_diagonal(flat.reshape(counts.shape), 0)
    cells = np.flatnonzero(flat)
    cells = cells[np.lexsort((cells, -flat[cells]))]
    return np.column_stack(np.divmod(cells, len(counts))).ravel()


def fold_classes(matrix: ConfusionMatrix, keep: Sequence[int] | np.ndarray) -> ConfusionMatrix:
    """``matrix`` with only the classes at positions ``keep`` plus one :data:`OTHER`.

    The total, every row and column sum of a kept class, and ``n_errors`` are kept;
    with nothing to fold the matrix is returned as is.
    """
    keep = np.unique(np.asarray(keep, dtype=np.int64))
    if keep.size and (keep.min() < 0 or keep.max() >= matrix.n_classes):
        raise ValueError(f"keep holds positions outside [0, {matrix.n_classes})")
    rest = np.setdiff1d(np.arange(matrix.n_classes), keep)
    if rest.size == 0:
        return matrix
    group = np.full(matrix.n_classes, keep.size, dtype=np.int64)
    group[keep] = np.arange(keep.size)
    m = keep.size + 1
    folded = np.zeros((m, m), dtype=np.int64)
    np.add.at(folded, (group[:, None], group[None, :]), matrix.counts)
    among_rest = matrix.counts[np.ix_(rest, rest)]
    other_errors = int(among_rest.sum() - np.trace(among_rest))
    return ConfusionMatrix(
        folded,
        (*[matrix.labels[i] for i in keep], OTHER),
        (*[matrix.codes[i] for i in keep], -1),
        matrix.n_errors,
        other_errors,
    )


def difference(
    matrix: ConfusionMatrix,
    reference: ConfusionMatrix,
    *,
    normalize: Normalize | None,
) -> np.ndarray:
    """``matrix`` minus ``reference`` in percentage points of the normalised shares.

    Counts (``normalize=None``) compare as shares of each true class (``"true"``):
    raw counts of a slice and of all rows are on different scales, and shares of
    all rows would mix in how common each class is in the slice.
    """
    if matrix.codes != reference.codes:
        raise ValueError("matrix and reference must have the same classes")
    how: Normalize = normalize or "true"
    return 100.0 * (matrix.normalized(how) - reference.normalized(how))


def fold_top(
    matrix: ConfusionMatrix,
    reference: ConfusionMatrix,
    *,
    n: int = DEFAULT_MAX_CLASSES,
) -> tuple[ConfusionMatrix, ConfusionMatrix]:
    """``matrix`` and ``reference`` folded to the same :func:`top_classes` plus :data:`OTHER`.

    Nothing is folded when at most ``n + 1`` classes exist (an "other" of one
    class would hide it for nothing).
    """
    if matrix.n_classes <= n + 1:
        return matrix, reference
    keep = top_classes(matrix, n, reference=reference)
    return fold_classes(matrix, keep), fold_classes(reference, keep)


def confused_pairs(
    matrix: ConfusionMatrix,
    *,
    reference: ConfusionMatrix | None = None,
    include_correct: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """The matrix's cells as a ranked table: most rows first.

    Columns: ``true``, ``predicted``, ``count``, ``share of class`` (count over the
    true class's rows), ``share of errors``; with ``reference`` also ``overall
    count``, ``overall share`` and ``change (pts)`` (share of class minus overall
    share, in percentage points); and ``true_code`` / ``pred_code``. Only cells
    with rows and, unless ``include_correct``, off the diagonal; cells of
    :data:`OTHER` are left out. Ties rank by share of class, then by codes.
    """
    counts = matrix.counts
    rows, cols = np.nonzero(counts)
    codes = np.asarray(matrix.codes)
    keep = (codes[rows] >= 0) & (codes[cols] >= 0)
    if not include_correct:
        keep &= rows != cols
    rows, cols = rows[keep], cols[keep]
    count = counts[rows, cols]
    share = count / counts.sum(axis=1)[rows]
    order = np.lexsort((codes[cols], codes[rows], -share, -count))[:limit]
    rows, cols, count, share = rows[order], cols[order], count[order], share[order]
    frame = pd.DataFrame(
        {
            "true": pd.Series([matrix.labels[i] for i in rows], dtype=object),
            "predicted": pd.Series([matrix.labels[j] for j in cols], dtype=object),
            "count": count.astype(np.int64),
            "share of class": share,
            "share of errors": count / matrix.n_errors if matrix.n_errors else np.nan,
        }
    )
    if reference is not None:
        if reference.codes != matrix.codes:
            raise ValueError("reference must have the same classes as matrix")
        ref_rows = reference.counts.sum(axis=1)[rows]
        ref_count = reference.counts[rows, cols]
        frame["overall count"] = ref_count.astype(np.int64)
        frame["overall share"] = np.divide(
            ref_count, ref_rows, out=np.zeros(len(rows)), where=ref_rows > 0
        )
        frame["change (pts)"] = 100.0 * (frame["share of class"] - frame["overall share"])
    frame["true_code"] = codes[rows]
    frame["pred_code"] = codes[cols]
    return frame


def parse_top(text: str | None) -> int:
    """Classes to show, from a URL: an int in [2, 500], else :data:`DEFAULT_MAX_CLASSES`."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 3:
        return DEFAULT_MAX_CLASSES
    return int(text) if 2 <= int(text) <= 500 else DEFAULT_MAX_CLASSES
