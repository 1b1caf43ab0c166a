"""Classification metrics of any set of rows, from per-row codes prepared once per dataset.

:func:`prepare_classification` integer-codes every row (label, prediction,
calibration bin, hit flags) and precomputes the per-row terms (log loss, Brier,
confidence); :func:`~mlqa_debug.stats.evaluation.evaluate` then reduces them with
``np.bincount`` over the rows of a slice.

Definitions
-----------
An error is ``y_pred != y_true``. ``error_rate`` carries a Wilson score
interval. Precision, recall and F1 follow scikit-learn with ``zero_division=0``;
macro averages run over the classes present in ``y_true`` or ``y_pred`` of the
evaluated rows (scikit-learn's ``labels=None``). ``log_loss`` is the mean of
``-log(clip(p_true, eps, 1 - eps))`` (float64 ``eps``, as scikit-learn).
``brier`` is the multiclass Brier score, the mean over rows of
``sum_k (p_k - onehot_k)^2``, except for binary data where it is scikit-learn's
``brier_score_loss`` on the positive class ``classes[1]``, ``mean((p_1 - y)^2)``
(half the multiclass value). ``ece`` is the top-label expected calibration
error: rows go to ``n_bins`` equal-width bins of confidence (the max
probability; bins are ``[i/B, (i+1)/B)``, the last one closed, as in
``sklearn.calibration.calibration_curve``) and ``ece = sum_b n_b / n * |acc_b -
conf_b|`` where ``acc_b`` is the share of rows whose *argmax* class is the
label. ECE thus describes the probabilities alone and ignores ``y_pred`` when a
tuned threshold makes it differ from the argmax.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mlqa_debug.stats.intervals import proportion_estimate
from mlqa_debug.stats.prepared import (
    NAN,
    BoolArray,
    FloatArray,
    IntArray,
    Prepared,
    Summable,
    frozen,
)
from mlqa_debug.stats.results import ClassificationMetrics, ClassScores

__all__ = ["ClassificationData", "prepare_classification"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class _ClassSums(Summable):
    n: int
    true_counts: IntArray  # (K, 2): rows by label and [wrong, right]
    pred_counts: IntArray  # (K, B, 2): rows by prediction, calibration bin, argmax hit
    confidence: FloatArray  # (K, B, 2): sum of confidence over the same cells
    log_loss: float
    brier: float


@dataclass(frozen=True, eq=False)
class _ClassCodes:
    """Per-row codes and terms that the sums reduce over."""

    n_classes: int
    n_bins: int
    true_code: IntArray  # y_true * 2 + correct
    pred_code: IntArray  # (y_pred * n_bins + bin) * 2 + argmax_hit
    terms: FloatArray | None  # (3, n): confidence, log loss, Brier


@dataclass(frozen=True, eq=False)
class ClassificationData(Prepared[_ClassSums, ClassificationMetrics]):
    """A classification table prepared for fast per-slice metrics (``prepare_classification``).

    Per-row arrays are read-only. ``is_error`` is ``y_pred != y_true``; ``confidence``
    (max probability), ``log_loss_terms``, ``brier_terms`` and ``calibration_bin`` are
    None without probabilities. The fields starting with ``_`` are internal.
    """

    classes: tuple[str, ...]
    y_true: IntArray
    y_pred: IntArray
    is_error: BoolArray
    confidence: FloatArray | None
    log_loss_terms: FloatArray | None
    brier_terms: FloatArray | None
    calibration_bin: IntArray | None
    n_bins: int
    _codes: _ClassCodes = field(repr=False)
    _totals: _ClassSums = field(repr=False)
    _overall: ClassificationMetrics = field(repr=False)

    @property
    def has_probabilities(self) -> bool:
        """Whether log loss, Brier and ECE are available."""
        return self.confidence is not None

    def _sums(self, idx: IntArray) -> _ClassSums:
        return _class_sums(self._codes, idx)

    def _metrics(self, sums: _ClassSums) -> ClassificationMetrics:
        return _classification_metrics(
            sums, classes=self.classes, n_total=self.n_samples, with_probs=self.has_probabilities
        )


def prepare_classification(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    classes: Sequence[str],
    pred_probs: npt.ArrayLike | None = None,
    n_bins: int = 10,
) -> ClassificationData:
    """Integer-code a classification table and precompute its per-row terms, once per dataset.

    ``y_true`` and ``y_pred`` hold integer codes ``0..K-1`` into ``classes`` (display
    names, unique). ``pred_probs`` is ``(n, K)`` with rows summing to 1 (a warning
    names rows that do not); for binary data (``K == 2``, positive class
    ``classes[1]``) a 1-D array of positive-class probabilities is accepted too.
    ``n_bins`` equal-width confidence bins are used for ECE.
    """
    names = _check_classes(classes)
    k = len(names)
    true = _as_codes(y_true, name="y_true", n_classes=k)
    pred = _as_codes(y_pred, name="y_pred", n_classes=k)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} rows but y_pred has {pred.size}")
    if operator.index(n_bins) < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    correct = true == pred
    if pred_probs is None:
        bins, hits, terms, n_bins = np.zeros_like(true), np.zeros_like(correct), None, 1
    else:
        probs = _as_probs(pred_probs, n_rows=true.size, n_classes=k)
        bins, hits, terms = _probability_terms(probs, true, n_bins=n_bins)
        terms = frozen(terms)
    codes = _ClassCodes(
        k, n_bins, frozen(true * 2 + correct), frozen((pred * n_bins + bins) * 2 + hits), terms
    )
    totals = _class_sums(codes, None)
    overall = _classification_metrics(
        totals, classes=names, n_total=true.size, with_probs=terms is not None
    )
    return ClassificationData(
        classes=names,
        y_true=frozen(true),
        y_pred=frozen(pred),
        is_error=frozen(~correct),
        confidence=None if terms is None else terms[0],
        log_loss_terms=None if terms is None else terms[1],
        brier_terms=None if terms is None else terms[2],
        calibration_bin=None if terms is None else frozen(bins),
        n_bins=n_bins,
        _codes=codes,
        _totals=totals,
        _overall=overall,
    )


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    names = tuple(str(c) for c in classes)
    if not names:
        raise ValueError("classes is empty; pass the display name of every class code")
    duplicates = sorted({c for c in names if names.count(c) > 1})
    if duplicates:
        raise ValueError(f"class names must be unique, got duplicates {duplicates}")
    return names


def _as_codes(values: npt.ArrayLike, *, name: str, n_classes: int) -> IntArray:
    codes = np.asarray(values)
    if codes.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {codes.shape}")
    if codes.dtype.kind not in "iub":
        raise ValueError(
            f"{name} must hold integer class codes 0..{n_classes - 1}, got dtype {codes.dtype}"
        )
    bad = np.flatnonzero((codes < 0) | (codes >= n_classes))
    if bad.size:
        raise ValueError(
            f"{name} must hold class codes 0..{n_classes - 1}; {bad.size} rows do not "
            f"(first at position {bad[0]}: {codes[bad[0]]})"
        )
    return codes.astype(np.intp)


def _as_probs(pred_probs: npt.ArrayLike, *, n_rows: int, n_classes: int) -> FloatArray:
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim == 1 and n_classes == 2:
        probs = np.column_stack([1.0 - probs, probs])
    if probs.shape != (n_rows, n_classes):
        raise ValueError(
            f"pred_probs must have shape ({n_rows}, {n_classes}) (rows, classes), got {probs.shape}"
        )
    outside = np.flatnonzero(~((probs >= 0.0) & (probs <= 1.0)).all(axis=1))
    if outside.size:
        raise ValueError(
            f"pred_probs must lie in [0, 1]; {outside.size} rows do not "
            f"(first at position {outside[0]}: {probs[outside[0]].tolist()})"
        )
    off = np.abs(probs.sum(axis=1) - 1.0)
    if off.size and off.max() > 1e-6:
        warnings.warn(
            f"pred_probs: {np.count_nonzero(off > 1e-6)} rows do not sum to 1 (off by up to "
            f"{off.max():.3g}); log loss, Brier and ECE use them as given",
            UserWarning,
            stacklevel=3,
        )
    return probs


def _probability_terms(
    probs: FloatArray, y_true: IntArray, *, n_bins: int
) -> tuple[IntArray, BoolArray, FloatArray]:
    """Calibration bin, argmax hit and the (3, n) terms confidence, log loss, Brier."""
    rows = np.arange(y_true.size)
    p_true = probs[rows, y_true]
    loss = -np.log(np.clip(p_true, _EPS, 1.0 - _EPS))
    if probs.shape[1] == 2:
        brier = (probs[:, 1] - (y_true == 1)) ** 2
    else:
        gap = probs.copy()
        gap[rows, y_true] -= 1.0
        brier = np.einsum("ij,ij->i", gap, gap)
    confidence = probs.max(axis=1)
    hits = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="right").astype(np.intp)
    return bins, hits, np.stack([confidence, loss, brier])


def _class_sums(codes: _ClassCodes, idx: IntArray | None) -> _ClassSums:
    """Sums over rows ``idx`` (all rows when None)."""
    true_code = codes.true_code if idx is None else codes.true_code.take(idx)
    pred_code = codes.pred_code if idx is None else codes.pred_code.take(idx)
    k, b = codes.n_classes, codes.n_bins
    true_counts = np.bincount(true_code, minlength=2 * k).reshape(k, 2)
    pred_counts = np.bincount(pred_code, minlength=2 * k * b).reshape(k, b, 2)
    if codes.terms is None:
        return _ClassSums(true_code.size, true_counts, pred_counts, np.zeros((k, b, 2)), 0.0, 0.0)
    terms = codes.terms if idx is None else codes.terms.take(idx, axis=1)
    conf = np.bincount(pred_code, weights=terms[0], minlength=2 * k * b).astype(np.float64)
    conf = conf.reshape(k, b, 2)
    loss, brier = terms[1].sum(), terms[2].sum()
    return _ClassSums(true_code.size, true_counts, pred_counts, conf, float(loss), float(brier))


def _ratio(num: np.ndarray, den: np.ndarray) -> FloatArray:
    """Element-wise ``num / den`` with 0 where ``den == 0`` (scikit-learn's zero_division=0)."""
    out = np.zeros(np.shape(num), dtype=np.float64)
    return np.divide(num, den, out=out, where=den > 0)


def _classification_metrics(
    sums: _ClassSums, *, classes: tuple[str, ...], n_total: int, with_probs: bool
) -> ClassificationMetrics:
    n = sums.n
    tp, support = sums.true_counts[:, 1], sums.true_counts.sum(axis=1)
    predicted = sums.pred_counts.sum(axis=(1, 2))
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    present = (support + predicted) > 0
    per_class = tuple(
        ClassScores(name, float(p), float(r), float(f), int(s), int(q))
        for name, p, r, f, s, q in zip(
            classes, precision, recall, f1, support, predicted, strict=True
        )
    )
    n_errors = n - int(tp.sum())
    return ClassificationMetrics(
        n=n,
        share=n / n_total if n_total else NAN,
        n_errors=n_errors,
        error_rate=proportion_estimate(n_errors, n),
        accuracy=1.0 - n_errors / n if n else NAN,
        per_class=per_class,
        macro_precision=_masked_mean(precision, present),
        macro_recall=_masked_mean(recall, present),
        macro_f1=_masked_mean(f1, present),
        log_loss=_mean_or_none(sums.log_loss, n, with_probs),
        brier=_mean_or_none(sums.brier, n, with_probs),
        ece=_ece(sums) if with_probs else None,
    )


def _masked_mean(values: FloatArray, keep: BoolArray) -> float:
    count = int(np.count_nonzero(keep))
    return float(values[keep].sum() / count) if count else NAN


def _mean_or_none(total: float, n: int, with_probs: bool) -> float | None:
    if not with_probs:
        return None
    return total / n if n else NAN


def _ece(sums: _ClassSums) -> float:
    """Top-label expected calibration error from per-bin counts, hits and confidence sums."""
    if sums.n == 0:
        return NAN
    counts = sums.pred_counts.sum(axis=(0, 2))
    hits = sums.pred_counts[:, :, 1].sum(axis=0)
    confidence = sums.confidence.sum(axis=(0, 2))
    gaps = np.where(counts > 0, np.abs(hits - confidence), 0.0)
    return float(gaps.sum() / sums.n)
