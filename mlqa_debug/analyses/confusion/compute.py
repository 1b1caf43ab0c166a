"""Where classes are confused: confusion matrices, confused pairs, thresholds, residuals.

Everything here is pure numpy/pandas over the integer codes that
:class:`~mlqa_debug.data.predictions.Predictions` keeps (``y_true_codes``, ``y_pred_codes``),
so a slice change costs one ``np.bincount`` over the slice (or over its complement,
whichever is smaller) and never a pandas group-by.

Conventions follow scikit-learn:

- :func:`confusion_counts` gives the same numbers as
  ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(K))``: rows are
  true classes, columns predicted classes, in class-code order;
- :func:`normalize_counts` follows its ``normalize=`` argument (``"true"`` divides
  each row by its total, i.e. recall on the diagonal; ``"pred"`` each column, i.e.
  precision; ``"all"`` by the grand total) and turns 0/0 into 0;
- binary thresholds predict the positive class when ``P[positive] >= threshold``;
  :func:`threshold_metrics` matches ``precision_recall_fscore_support(...,
  average="binary", zero_division=0)`` and :func:`pr_curve` matches
  ``precision_recall_curve``.

A *pair* is a cell of the matrix, (true class code, predicted class code). It
travels in URLs as ``<true>~<predicted>`` with the classes' text forms (``8~1``,
``cat~dog``) and becomes the slice ``label == 8 and prediction == 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlqa_debug.analyses.examples.compute import ERRORS_FIRST, ExamplesPage, examples_page
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing.slices import Op, Predicate, Slice

__all__ = [
    "DEFAULT_MAX_CLASSES",
    "DEFAULT_THRESHOLD",
    "OTHER",
    "PAIR_COLUMNS",
    "PAIR_SEPARATOR",
    "ConfusionMatrix",
    "Normalize",
    "PairSlice",
    "PrCurve",
    "ResidualHistogram",
    "ThresholdMetrics",
    "binary_predictions",
    "binary_truth",
    "class_confusion",
    "confused_pairs",
    "confusion_counts",
    "difference",
    "example_positions",
    "fold_classes",
    "fold_top",
    "format_pair",
    "normalize_counts",
    "pair_examples",
    "pair_mask",
    "pair_slice",
    "pair_text",
    "pair_tokens",
    "parse_pair",
    "parse_threshold",
    "parse_top",
    "positive_scores",
    "pr_curve",
    "residual_frame",
    "residual_histogram",
    "residual_summary",
    "residual_text",
    "scatter_positions",
    "slice_pr_curve",
    "threshold_changes",
    "threshold_frame",
    "threshold_from_url",
    "threshold_metrics",
    "threshold_report",
    "top_classes",
]

Normalize = Literal["true", "pred", "all"]

OTHER = "other"
"""Label of the row and column that fold the classes not shown."""
PAIR_SEPARATOR = "~"
DEFAULT_MAX_CLASSES = 12
"""Classes shown before the rest fold into :data:`OTHER`."""
DEFAULT_THRESHOLD = 0.5
PAIR_COLUMNS = ("true", "predicted", "count", "share of class", "overall share", "change (pts)")
"""The columns of :func:`confused_pairs` worth showing (the others serve links and ranking)."""
MAX_SCATTER_POINTS = 20_000


# --------------------------------------------------------------------------- matrices


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
        joint = joint[_checked_mask(mask, len(joint))]
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


def _checked_mask(mask: np.ndarray, n: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(f"mask must be a boolean array of {n} rows, got {mask.dtype} {mask.shape}")
    return mask


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

    ``y_pred`` replaces the predicted codes (e.g. :func:`binary_predictions` at a
    threshold). Counting runs over the smaller side of the mask: the complement's
    counts are subtracted from the (memoised) totals.
    """
    classes = _classes(predictions)
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
    mask = _checked_mask(mask, len(joint))
    inside = int(np.count_nonzero(mask))
    if total is not None and 2 * inside > len(mask):
        counts = total - _bincount_matrix(joint[~mask], k)
    else:
        counts = _bincount_matrix(joint[mask], k)
    return _from_counts(counts, classes)


def _classes(predictions: Predictions) -> tuple[Any, ...]:
    if not predictions.schema.is_classification:
        raise SliceError(
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


# --------------------------------------------------------------------------- pairs


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


def pair_tokens(pairs: pd.DataFrame, classes: Sequence[Any]) -> list[str]:
    """The URL form of each row of :func:`confused_pairs`."""
    cells = zip(pairs["true_code"], pairs["pred_code"], strict=True)
    return [format_pair(classes, (int(t), int(p))) for t, p in cells]


def format_pair(classes: Sequence[Any], pair: tuple[int, int]) -> str:
    """The URL form of a pair of class codes: ``<true>~<predicted>`` (e.g. ``8~1``)."""
    true_code, pred_code = pair
    return f"{classes[true_code]}{PAIR_SEPARATOR}{classes[pred_code]}"


def pair_text(classes: Sequence[Any], token: str | None) -> str:
    """A pair's URL form for reading: ``8~1`` -> ``8 → 1``; ``None`` -> ``(none)``."""
    if token is None:
        return "(none)"
    try:
        true_code, pred_code = parse_pair(token, classes)
    except SliceError:
        return token
    return f"{classes[true_code]} → {classes[pred_code]}"


def parse_pair(text: str, classes: Sequence[Any]) -> tuple[int, int]:
    """The class codes of ``<true>~<predicted>``; :class:`SliceError` if it names no pair.

    A class's text form may itself contain ``~``: every split is tried, and the
    one that names two classes wins (several winners are refused as ambiguous).
    """
    names = {str(c): i for i, c in enumerate(classes)}
    shown = ", ".join(repr(str(c)) for c in list(classes)[:12])
    more = ", ..." if len(classes) > 12 else ""
    example = format_pair(classes, (0, len(classes) - 1)) if classes else "a~b"
    if not isinstance(text, str) or PAIR_SEPARATOR not in text:
        raise SliceError(
            f"the pair {str(text)[:80]!r} is not of the form <true class>~<predicted class> "
            f"(e.g. {example!r}); the classes are {shown}{more}",
            text=str(text)[:200],
        )
    longest = max((len(name) for name in names), default=0)
    found = []
    start = 0 if len(text) <= 2 * longest + len(PAIR_SEPARATOR) else len(text)  # too long
    while (cut := text.find(PAIR_SEPARATOR, start)) >= 0:
        left, right = text[:cut], text[cut + 1 :]
        if left in names and right in names:
            found.append((names[left], names[right]))
        start = cut + 1
    if len(found) == 1:
        return found[0]
    problem = "is ambiguous" if found else "does not name two classes"
    raise SliceError(
        f"the pair {text[:80]!r} {problem}; expected <true class>~<predicted class> "
        f"(e.g. {example!r}) with classes {shown}{more}",
        text=text[:200],
    )


@dataclass(frozen=True)
class PairSlice:
    """The slice of one matrix cell; ``exact`` is False when it cannot express the threshold.

    At a binary threshold that changes predictions, the cell's rows are
    ``label == a and <score> >= t`` (or ``< t``); when the score column cannot
    be used in slices, the slice falls back to the model's ``prediction`` column
    and selects the cell at the model's own threshold instead.
    """

    slice: Slice
    exact: bool


def pair_slice(
    predictions: Predictions,
    pair: tuple[int, int],
    *,
    threshold: float | None = None,
) -> PairSlice:
    """``label == a and prediction == b`` with the classes' real values (ints stay ints)."""
    s = predictions.schema
    classes = _classes(predictions)
    true_value, pred_value = (_plain(classes[code]) for code in pair)
    label = Predicate(s.label, "==", (true_value,))
    by_model = Predicate(s.prediction, "==", (pred_value,))
    if threshold is None or threshold_changes(predictions, threshold) == 0:
        return PairSlice(Slice((label, by_model)), exact=True)
    column = _score_column(predictions)
    if column is None or column not in predictions.column_kinds:
        return PairSlice(Slice((label, by_model)), exact=False)
    op: Op = ">=" if pair[1] == _positive_code(predictions) else "<"
    return PairSlice(Slice((label, Predicate(column, op, (float(threshold),)))), exact=True)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def pair_mask(
    predictions: Predictions,
    pair: tuple[int, int],
    mask: np.ndarray | None = None,
    *,
    y_pred: np.ndarray | None = None,
) -> np.ndarray:
    """Rows whose true class is ``pair[0]`` and predicted class ``pair[1]`` (within ``mask``)."""
    predicted = predictions.y_pred_codes if y_pred is None else y_pred
    out = (predictions.y_true_codes == pair[0]) & (predicted == pair[1])
    if mask is not None:
        out &= _checked_mask(mask, len(out))
    return out


# --------------------------------------------------------------------------- binary thresholds


def _positive_code(predictions: Predictions) -> int | None:
    s = predictions.schema
    if s.task != "binary" or s.positive is None or len(s.classes) != 2:
        return None
    return list(s.classes).index(s.positive)


def _score_column(predictions: Predictions) -> str | None:
    s = predictions.schema
    if s.score is not None:
        return s.score
    return s.proba.get(s.positive) if s.positive is not None else None


def positive_scores(predictions: Predictions) -> np.ndarray | None:
    """``P[positive]`` of a binary task with probabilities, else ``None``."""
    pos = _positive_code(predictions)
    proba = predictions.proba_matrix
    if pos is None or proba is None:
        return None
    return proba[:, pos]


def binary_predictions(predictions: Predictions, *, threshold: float) -> np.ndarray:
    """Predicted class codes at ``threshold``: positive where ``P[positive] >= threshold``."""
    pos = _positive_code(predictions)
    scores = positive_scores(predictions)
    if pos is None or scores is None:
        raise SliceError(
            "a threshold needs a binary task with a score or probability columns; "
            f"this dataset is {predictions.schema.task} without them"
        )
    return np.where(scores >= threshold, pos, 1 - pos).astype(np.int32)


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


def parse_top(text: str | None) -> int:
    """Classes to show, from a URL: an int in [2, 500], else :data:`DEFAULT_MAX_CLASSES`."""
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 3:
        return DEFAULT_MAX_CLASSES
    return int(text) if 2 <= int(text) <= 500 else DEFAULT_MAX_CLASSES


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
        code = code[_checked_mask(mask, len(code))]
    tn, fp, fn, tp = (int(v) for v in np.bincount(code, minlength=4))
    return ThresholdMetrics(float(threshold), tp=tp, fp=fp, fn=fn, tn=tn)


def binary_truth(predictions: Predictions) -> np.ndarray:
    """True where the label is the positive class of a binary task."""
    pos = _positive_code(predictions)
    if pos is None:
        raise SliceError(f"this dataset is {predictions.schema.task}, not binary")
    return np.asarray(predictions.y_true_codes == pos)


def threshold_frame(scores: Mapping[str, ThresholdMetrics]) -> pd.DataFrame:
    """Precision, recall, F1 and the four counts of each named group, as text columns."""
    rows = {
        "precision": lambda m: f"{m.precision:.3f}",
        "recall": lambda m: f"{m.recall:.3f}",
        "F1": lambda m: f"{m.f1:.3f}",
        "true positives": lambda m: f"{m.tp:,}",
        "false positives": lambda m: f"{m.fp:,}",
        "false negatives": lambda m: f"{m.fn:,}",
        "true negatives": lambda m: f"{m.tn:,}",
    }
    frame = pd.DataFrame({name: {r: f(m) for r, f in rows.items()} for name, m in scores.items()})
    frame.index.name = "metric"
    return frame


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
        order = order[_checked_mask(mask, len(scores))[order]]
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
    scores = positive_scores(predictions)
    if scores is None:
        raise SliceError("a precision-recall curve needs a binary task with a score")
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
    scores = positive_scores(predictions)
    if scores is None:
        raise SliceError("a threshold needs a binary task with a score or probability columns")
    truth = binary_truth(predictions)
    parts = {"slice": mask, "overall": None} if mask is not None else {"overall": None}
    metrics = {
        name: threshold_metrics(truth, scores, threshold=threshold, mask=rows)
        for name, rows in parts.items()
    }
    curves = {name: slice_pr_curve(predictions, rows) for name, rows in parts.items()}
    return metrics, curves


# --------------------------------------------------------------------------- regression


def residual_summary(predictions: Predictions, mask: np.ndarray) -> pd.DataFrame:
    """Residual statistics (``prediction - label``) of the slice, the rest and all rows.

    Columns: ``rows``, ``bias`` (mean residual), ``MAE``, ``RMSE``, ``median``,
    ``p05``, ``p95`` and ``errors`` (share with ``|residual| > error_threshold``).
    """
    residual = predictions.residual
    mask = _checked_mask(mask, len(residual))
    threshold = float(predictions.schema.error_threshold or 0.0)
    parts = {"slice": residual[mask], "rest": residual[~mask], "overall": residual}
    rows = {name: _residual_stats(values, threshold) for name, values in parts.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "rows of"
    return frame


def _residual_stats(values: np.ndarray, threshold: float) -> dict[str, float]:
    if values.size == 0:
        nan = math.nan
        keys = ("bias", "MAE", "RMSE", "median", "p05", "p95", "errors")
        return {"rows": 0, **dict.fromkeys(keys, nan)}
    p05, median, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return {
        "rows": int(values.size),
        "bias": float(values.mean()),
        "MAE": float(np.abs(values).mean()),
        "RMSE": float(np.sqrt(np.mean(values**2))),
        "median": float(median),
        "p05": float(p05),
        "p95": float(p95),
        "errors": float(np.mean(np.abs(values) > threshold)),
    }


def residual_text(summary: pd.DataFrame) -> str:
    """One sentence: the slice's residuals against the rest's (from :func:`residual_summary`)."""
    slice_row, rest_row = (
        dict(zip(summary.columns, summary.loc[name].to_numpy(np.float64), strict=True))
        for name in ("slice", "rest")
    )
    if not slice_row["rows"] or not rest_row["rows"]:
        return "The slice or the rest is empty: no comparison."
    parts = [
        ("MAE", "MAE", ".3g"),
        ("bias (mean residual)", "bias", "+.3g"),
        ("errors", "errors", ".1%"),
    ]
    text = "; ".join(
        f"{label} {slice_row[key]:{fmt}} against {rest_row[key]:{fmt}}" for label, key, fmt in parts
    )
    return f"Slice vs rest: {text}."


def residual_frame(summary: pd.DataFrame, *, threshold: float | None = None) -> pd.DataFrame:
    """:func:`residual_summary` as readable text (4 significant digits, percent errors)."""
    out = summary.apply(lambda column: column.map(lambda v: "–" if pd.isna(v) else f"{v:.4g}"))
    out["rows"] = summary["rows"].map(lambda v: f"{int(v):,}")
    out["errors"] = summary["errors"].map(lambda v: "–" if pd.isna(v) else f"{v:.1%}")
    if threshold is not None:
        out = out.rename(columns={"errors": f"|residual| > {threshold:.3g}"})
    return out


@dataclass(frozen=True, eq=False)
class ResidualHistogram:
    """Residual counts of slice and rest over shared bin ``edges``."""

    edges: np.ndarray
    slice_counts: np.ndarray
    rest_counts: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts as shares of each group (so groups of different sizes compare)."""
        return (
            self.slice_counts / max(int(self.slice_counts.sum()), 1),
            self.rest_counts / max(int(self.rest_counts.sum()), 1),
        )


def residual_histogram(
    residual: np.ndarray, mask: np.ndarray, *, bins: int | None = None
) -> ResidualHistogram:
    """Histograms of ``residual`` inside and outside ``mask`` on the same bins.

    The bins span all residuals, so ``slice_counts + rest_counts`` is the histogram
    of all rows. ``bins=None`` takes about the square root of the number of rows,
    between 10 and 60.
    """
    residual = np.asarray(residual, dtype=np.float64)
    mask = _checked_mask(mask, len(residual))
    finite = np.isfinite(residual)
    if bins is None:
        bins = int(np.clip(np.sqrt(finite.sum()), 10, 60))
    edges = np.histogram_bin_edges(residual[finite], bins=bins) if finite.any() else np.r_[0, 1]
    inside, _ = np.histogram(residual[mask & finite], bins=edges)
    outside, _ = np.histogram(residual[~mask & finite], bins=edges)
    return ResidualHistogram(edges, inside.astype(np.int64), outside.astype(np.int64))


def scatter_positions(
    mask: np.ndarray,
    *,
    max_points: int = MAX_SCATTER_POINTS,
    random_state: int = 0,
) -> np.ndarray:
    """Row positions to draw: all rows when few, else a seeded sample (sorted).

    The slice keeps up to half of ``max_points`` (all its rows if fewer), the rest
    fills the remainder, so a small slice stays fully visible on a large table.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.size <= max_points:
        return np.arange(mask.size)
    rng = np.random.default_rng(random_state)
    inside, outside = np.flatnonzero(mask), np.flatnonzero(~mask)
    n_in = min(inside.size, max(max_points // 2, max_points - outside.size))
    n_out = min(outside.size, max_points - n_in)
    chosen = np.r_[
        rng.choice(inside, n_in, replace=False) if n_in < inside.size else inside,
        rng.choice(outside, n_out, replace=False) if n_out < outside.size else outside,
    ]
    return np.sort(chosen)


# --------------------------------------------------------------------------- examples


def pair_examples(
    predictions: Predictions,
    mask: np.ndarray,
    *,
    sort_by: str = ERRORS_FIRST,
    descending: bool = True,
    page: int = 0,
    page_size: int = 50,
    threshold: float | None = None,
    image_uris: Sequence[str] | None = None,
) -> ExamplesPage:
    """A page of the rows in ``mask`` laid out for reading a confusion.

    Columns: id, label, prediction (and the prediction at ``threshold`` when
    given), confidence, error, the probability columns, then the features.
    Pixel columns of an image dataset are left out (pass ``image_uris`` from
    :func:`mlqa_debug.data.images.row_image_uris` to show the rows as images) and so
    are embedding, SHAP and projection columns.
    """
    result = examples_page(
        predictions, mask, sort_by=sort_by, descending=descending, page=page, page_size=page_size
    )
    frame = _reading_order(predictions, result.frame, threshold)
    if image_uris is not None:
        frame.insert(0, "image", list(image_uris))
    return ExamplesPage(frame, result.total, result.start, result.page, result.n_pages)


def example_positions(page: ExamplesPage) -> np.ndarray:
    """0-based row positions of an examples page (its index is 1-based rows)."""
    return np.asarray(page.frame.index, dtype=np.int64) - 1


def _reading_order(
    predictions: Predictions, frame: pd.DataFrame, threshold: float | None
) -> pd.DataFrame:
    s = predictions.schema
    positions = np.asarray(frame.index, dtype=np.int64) - 1
    hidden = {*(s.image.columns if s.image else ()), *s.embedding, *s.shap.values()}
    hidden |= {*(s.projection or ()), *([s.shap_base] if s.shap_base else [])}
    probas = [c for c in (s.score, *s.proba.values()) if c is not None]
    lead = [c for c in (s.id, s.label, s.prediction) if c is not None]
    derived = [c for c in ("confidence", "error", "abs_error") if c in frame.columns]
    taken = {*lead, *derived, *probas, *hidden}
    rest = [c for c in frame.columns if c not in taken]
    out = frame[[*lead, *derived, *probas, *rest]].copy()
    if threshold is not None and positive_scores(predictions) is not None:
        codes = binary_predictions(predictions, threshold=threshold)[positions]
        values = pd.Series([s.classes[c] for c in codes], index=out.index, dtype=object)
        out.insert(len(lead), f"prediction @ {threshold:.2f}", values)
    return out
