"""Slice / rest / overall sums in one pass over an engine's table, and their metrics.

Every row gets one integer saying which of the slices it is in (bit ``i`` for slice
``i``). :func:`classification_sums` groups the rows by that mask and by one key,
``(label, prediction, confidence bin, argmax class)`` coded in the engine, summing
per group the row count, the confidence, the log-loss and Brier terms (four
aggregates, however many slices); :func:`regression_sums` groups by the mask alone,
summing the error count, residual powers and centred labels. The inside and the
outside of every slice are then both added up directly from the groups (numpy,
``math.fsum``): nothing is obtained by subtraction. Both return the
very sum records :mod:`mlqa_debug.stats` reduces its arrays to, and
:func:`report_from_sums` feeds them to the same functions the numpy path uses, so
every count-reducible metric (error rate, accuracy, per-class precision, recall and
F1, confusion counts, log loss, Brier, ECE, MAE, RMSE, bias, R², Wilson and
Newcombe intervals) comes out of one definition.

The per-row terms follow :mod:`mlqa_debug.stats.classification` exactly: the binary
score column gives ``P[positive]`` and ``1 - P`` for the other class, log loss clips
the probability of the label to ``[eps, 1 - eps]``, binary Brier uses the class of
code 1, the confidence bins are ``np.linspace(0, 1, n_bins + 1)``'s (``searchsorted``
right: a bin is how many inner edges the confidence reaches), and the argmax is the
first most probable class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.plan import Term
from mlqa_debug.engines.table import EngineTable
from mlqa_debug.stats.classification import _EPS, _classification_metrics, _ClassSums
from mlqa_debug.stats.evaluation import _report
from mlqa_debug.stats.regression import _regression_metrics, _RegressionSums
from mlqa_debug.stats.results import SliceReport

__all__ = [
    "N_BINS",
    "SideSums",
    "SliceSums",
    "TableExpressions",
    "classification_sums",
    "regression_sums",
    "report_from_sums",
]

N_BINS = 10
"""Confidence bins for ECE, as ``Predictions.metric_data`` prepares them."""

SideSums = _ClassSums | _RegressionSums


@dataclass(frozen=True)
class SliceSums:
    """The sums of one slice's rows, of the other rows, and of all rows."""

    inside: SideSums
    outside: SideSums
    overall: SideSums


class TableExpressions:
    """The per-row expressions of one table on one backend: codes, probabilities, terms."""

    def __init__(self, backend: Backend, table: EngineTable, threshold: float | None) -> None:
        self.b, self.t, self.threshold = backend, table, threshold
        s = table.schema
        self.k = len(s.classes)
        self.label, self.prediction = backend.col(s.label), backend.col(s.prediction)

    def code(self, column: Expr) -> Expr:
        """Index of the column's class in ``schema.classes`` (-1 if none)."""
        b = self.b
        return b.case(
            [(column == b.lit(c), b.lit(i)) for i, c in enumerate(self.t.schema.classes)], b.lit(-1)
        )

    def probs(self) -> list[Expr]:
        b, s = self.b, self.t.schema
        if s.score is not None:
            p = b.to_double(b.col(s.score))
            pos = list(s.classes).index(s.positive)
            out = [b.lit(1.0) - p, b.lit(1.0) - p]
            out[pos] = p
            return out
        return [b.to_double(b.col(s.proba[c])) for c in s.classes]

    def confidence(self) -> Expr:
        return self.b.call("greatest", *self.probs())

    def residual(self) -> Expr:
        return self.b.to_double(self.prediction) - self.b.to_double(self.label)

    def derived(self) -> dict[str, Expr]:
        """The derived columns a slice may use, by name (``error``, ``confidence``, ...)."""
        b, out = self.b, {}
        if self.t.schema.is_classification:
            out["error"] = self.label != self.prediction
        else:
            threshold = self.t.schema.error_threshold if self.threshold is None else self.threshold
            out["error"] = b.call("abs", self.residual()) > b.lit(float(threshold or 0.0))
            out["abs_error"] = b.call("abs", self.residual())
        if self.t.has_probabilities:  # as Predictions.confidence: P[predicted class]
            p = self.code(self.prediction)
            pairs = [(p == b.lit(j), q) for j, q in enumerate(self.probs())]
            out["confidence"] = b.case(pairs, b.lit(float("nan")))
        return {k: v for k, v in out.items() if k in self.t.derived_names}

    def where(self, terms: Sequence[Term]) -> Expr:
        return self.b.where(terms, self.derived())


def _membership(b: Backend, wheres: Sequence[Expr]) -> Expr:
    """Bit ``i`` set where slice ``i`` holds: one integer per row for all the slices."""
    mask = b.lit(0)
    for i, w in enumerate(wheres):
        mask = mask + b.case([(w, b.lit(1 << i))], b.lit(0))
    return mask


def _batches(n_slices: int, key_bits: int) -> list[range]:
    """Slices per query so that key and membership bits fit one signed 64-bit key."""
    width = max(62 - key_bits, 1)
    return [range(i, min(i + width, n_slices)) for i in range(0, n_slices, width)]


def classification_sums(
    backend: Backend, table: EngineTable, slices: Sequence[Sequence[Term]]
) -> list[SliceSums]:
    """The sums of every slice, its rest and all rows: one group-by per batch of 30-60 slices.

    The rows are grouped by ``(label, prediction, bin, argmax)`` and by which slices
    they are in (a bit mask), with four aggregates (rows, confidence, log loss, Brier);
    every slice's sides are then added up from the groups in numpy.
    """
    x = TableExpressions(backend, table, None)
    b, k = backend, x.k
    with_probs = table.has_probabilities
    y, p = x.code(x.label), x.code(x.prediction)
    n_bins = N_BINS if with_probs else 1
    key = y * b.lit(k) + p
    values: list[Expr] = [b.lit(0.0), b.lit(0.0), b.lit(0.0)]
    if with_probs:
        probs = x.probs()
        conf = x.confidence()
        argmax = b.case([(q == conf, b.lit(j)) for j, q in enumerate(probs[:-1])], b.lit(k - 1))
        bin_ = b.lit(0)
        for edge in np.linspace(0.0, 1.0, N_BINS + 1)[1:-1].tolist():
            bin_ = bin_ + b.case([(conf >= b.lit(edge), b.lit(1))], b.lit(0))
        key = ((key * b.lit(N_BINS) + bin_) * b.lit(k)) + argmax
        p_true = b.case([(y == b.lit(j), q) for j, q in enumerate(probs)], b.lit(float("nan")))
        clipped = b.call("least", b.call("greatest", p_true, b.lit(_EPS)), b.lit(1.0 - _EPS))
        values = [conf, -b.call("ln", clipped), _brier(b, probs, y, k)]
    key_bits = int(k * k * n_bins * (k if with_probs else 1)).bit_length()
    out: list[SliceSums] = []
    overall: _ClassSums | None = None
    for batch in _batches(len(slices), key_bits) or [range(0)]:
        mask = _membership(b, [x.where(slices[i]) for i in batch])
        full = key * b.lit(1 << len(batch)) + mask
        columns = b.run_columns([b.agg("count"), *(b.agg("sum", v) for v in values)], group=full)
        codes, bits = np.divmod(columns[0].astype(np.int64), 1 << len(batch))
        groups = (codes, *columns[1:])
        every = np.ones(len(codes), dtype=bool)
        overall = _class_side(groups, every, k, n_bins, with_probs)
        for j in range(len(batch)):
            inside = ((bits >> j) & 1).astype(bool)
            out.append(
                SliceSums(
                    _class_side(groups, inside, k, n_bins, with_probs),
                    _class_side(groups, ~inside, k, n_bins, with_probs),
                    overall,
                )
            )
    return out


def _brier(b: Backend, probs: list[Expr], y: Expr, k: int) -> Expr:
    """Binary: ``(p_1 - [y = 1])^2``; multiclass: ``sum_k (p_k - [y = k])^2``."""
    if k == 2:
        gap = probs[1] - b.case([(y == b.lit(1), b.lit(1.0))], b.lit(0.0))
        return gap * gap
    total = b.lit(0.0)
    for j, q in enumerate(probs):
        gap = q - b.case([(y == b.lit(j), b.lit(1.0))], b.lit(0.0))
        total = total + gap * gap
    return total


def _class_side(
    groups: tuple[np.ndarray, ...], keep: np.ndarray, k: int, n_bins: int, with_probs: bool
) -> _ClassSums:
    """The sums over the groups ``keep`` selects."""
    codes, counts, conf, loss, brier = (g[keep] for g in groups)
    counts = counts.astype(np.int64)
    if with_probs:
        rest, argmax = np.divmod(codes, k)
        rest, bin_ = np.divmod(rest, n_bins)
    else:
        rest, argmax, bin_ = codes, np.full(len(codes), -1), np.zeros(len(codes), dtype=np.int64)
    y, p = np.divmod(rest, k)
    true_code = y * 2 + (y == p)
    pred_code = (p * n_bins + bin_) * 2 + (argmax == y)
    true_counts = np.bincount(true_code, weights=counts, minlength=2 * k)
    pred_counts = np.bincount(pred_code, weights=counts, minlength=2 * k * n_bins)
    confidence = np.bincount(pred_code, weights=conf.astype(np.float64), minlength=2 * k * n_bins)
    return _ClassSums(
        int(counts.sum()),
        true_counts.round().astype(np.intp).reshape(k, 2),
        pred_counts.round().astype(np.intp).reshape(k, n_bins, 2),
        confidence.astype(np.float64).reshape(k, n_bins, 2),
        math.fsum(loss.tolist()) if with_probs else 0.0,
        math.fsum(brier.tolist()) if with_probs else 0.0,
    )


def regression_sums(
    backend: Backend, table: EngineTable, slices: Sequence[Sequence[Term]], threshold: float
) -> list[SliceSums]:
    """The residual sums of every slice, its rest and all rows, grouped by slice membership."""
    x = TableExpressions(backend, table, threshold)
    b = backend
    residual = x.residual()
    centred = b.to_double(x.label) - b.lit(table.label_mean)
    sq = residual * residual
    values = [residual, b.call("abs", residual), sq, sq * sq, centred, centred * centred]
    is_error = b.call("abs", residual) > b.lit(float(threshold))
    aggs = [b.agg("count"), b.agg("count", where=is_error), *(b.agg("sum", v) for v in values)]
    out: list[SliceSums] = []
    for batch in _batches(len(slices), 0) or [range(0)]:
        mask = _membership(b, [x.where(slices[i]) for i in batch])
        bits, *columns = b.run_columns(aggs, group=mask)
        bits = bits.astype(np.int64)
        overall = _regression_side(columns, np.ones(len(bits), dtype=bool))
        for j in range(len(batch)):
            inside = ((bits >> j) & 1).astype(bool)
            out.append(
                SliceSums(
                    _regression_side(columns, inside), _regression_side(columns, ~inside), overall
                )
            )
    return out


def _regression_side(columns: Sequence[np.ndarray], keep: np.ndarray) -> _RegressionSums:
    n, errors, *moments = (c[keep] for c in columns)
    return _RegressionSums(
        int(n.astype(np.int64).sum()),
        int(errors.astype(np.int64).sum()),
        *(math.fsum(m.astype(np.float64).tolist()) for m in moments),
    )


def report_from_sums(
    sums: SliceSums, table: EngineTable, *, threshold: float | None = None
) -> SliceReport[Any]:
    """The report of these sums, by the functions :func:`mlqa_debug.stats.slice_report` uses."""
    n_total = table.n_rows
    if table.schema.is_classification:
        classes = tuple(str(c) for c in table.schema.classes)
        with_probs = table.has_probabilities

        def metrics(s: SideSums) -> Any:
            assert isinstance(s, _ClassSums)
            return _classification_metrics(
                s, classes=classes, n_total=n_total, with_probs=with_probs
            )
    else:
        limit = float(threshold if threshold is not None else table.schema.error_threshold or 0.0)

        def metrics(s: SideSums) -> Any:
            assert isinstance(s, _RegressionSums)
            return _regression_metrics(s, n_total=n_total, threshold=limit)

    return _report(metrics(sums.inside), metrics(sums.outside), metrics(sums.overall))
