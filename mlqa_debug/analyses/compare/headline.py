"""The headline of a comparison: each model's metrics, the paired difference, its interval and test.

Differences are candidate minus baseline, measured on the same pairs:

- error rate (and accuracy, its complement): Newcombe's paired score interval,
  McNemar's exact test on the discordant pairs;
- precision, recall and F1 (of the positive class for binary tasks, macro averages
  for multiclass): the paired row bootstrap, drawn exactly as multinomial counts of
  the ``(label, baseline prediction, candidate prediction)`` cells (seeded);
- log loss and Brier score (with probabilities): paired t on per-row differences;
- regression: MAE (paired t interval of ``|e_c| - |e_b|``, Wilcoxon signed-rank
  p-value), RMSE (delta method) and the error rate over the baseline's threshold
  (McNemar).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlqa_debug.analyses.compare.pairing import PairedPredictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.stats import (
    mcnemar_exact,
    multinomial_bootstrap,
    paired_mean_difference,
    paired_mean_difference_from_sums,
    paired_proportion_difference,
    rmse_difference,
    wilcoxon_p_value,
)

__all__ = ["Headline", "MetricDelta", "headline"]

_NAN = float("nan")
_EPS = float(np.finfo(np.float64).eps)
MCNEMAR = "McNemar exact"
NEWCOMBE = "Newcombe paired score interval"
PAIRED_T = "paired t"
WILCOXON = "Wilcoxon signed-rank"
DELTA = "delta method"


@dataclass(frozen=True)
class MetricDelta:
    """One metric of both models and the paired difference (candidate - baseline)."""

    metric: str
    label: str
    baseline: float
    candidate: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    higher_is_better: bool

    @property
    def worse(self) -> bool:
        """The candidate is worse: the difference points the bad way (False for nan)."""
        d = self.difference
        return bool(d < 0) if self.higher_is_better else bool(d > 0)

    @property
    def better(self) -> bool:
        d = self.difference
        return bool(d > 0) if self.higher_is_better else bool(d < 0)

    @property
    def significant(self) -> bool:
        """p < 0.05 (use :meth:`significant_at` with the headline's ``alpha``)."""
        return self.significant_at(0.05)

    def significant_at(self, alpha: float) -> bool:
        return bool(self.p_value < alpha)

    def to_dict(self) -> dict[str, object]:
        def plain(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        return {
            "metric": self.metric,
            "label": self.label,
            "baseline": plain(self.baseline),
            "candidate": plain(self.candidate),
            "difference": plain(self.difference),
            "ci_low": plain(self.ci_low),
            "ci_high": plain(self.ci_high),
            "p_value": plain(self.p_value),
            "test": self.test,
            "higher_is_better": self.higher_is_better,
            "worse": self.worse,
        }


@dataclass(frozen=True)
class Headline:
    """The headline metrics over ``n`` pairs; ``primary`` is the error rate (or MAE)."""

    n: int
    rows: tuple[MetricDelta, ...]
    alpha: float
    primary: MetricDelta

    def get(self, metric: str) -> MetricDelta | None:
        """The row of one metric, or None."""
        return next((r for r in self.rows if r.metric == metric), None)


def headline(
    paired: PairedPredictions,
    mask: np.ndarray | None = None,
    *,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    random_state: int = 0,
) -> Headline:
    """Both models' metrics over the pairs in ``mask`` (over PAIRS; None = all pairs)."""
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}", name="alpha", value=alpha)
    rows = _selected(paired, mask)
    n = paired.n if isinstance(rows, slice) else int(rows.size)
    if paired.is_classification:
        deltas = _classification(paired, rows, n_resamples=n_resamples, seed=random_state)
    else:
        deltas = _regression(paired, rows)
    return Headline(n=n, rows=tuple(deltas), alpha=alpha, primary=deltas[0])


Rows = np.ndarray | slice
"""Positions of the selected pairs, or ``slice(None)`` for all of them (no copies)."""


def _selected(paired: PairedPredictions, mask: np.ndarray | None) -> Rows:
    if mask is None:
        return slice(None)
    selected = np.asarray(mask, dtype=bool)
    if selected.shape != (paired.n,):
        raise ParameterError(
            f"the mask has {selected.size:,} entries; expected one per compared pair "
            f"({paired.n:,}; use paired.pair_mask for a mask over candidate rows)",
            name="mask",
        )
    return np.flatnonzero(selected)


# --------------------------------------------------------------------------- rates


def error_rate_deltas(
    wrong_b: np.ndarray, wrong_c: np.ndarray, *, accuracy: bool = True
) -> list[MetricDelta]:
    """Error rate (and accuracy) of two models on the same rows: Newcombe CI, McNemar p."""
    both = int(np.count_nonzero(wrong_b & wrong_c))
    broken = int(np.count_nonzero(~wrong_b & wrong_c))
    fixed = int(np.count_nonzero(wrong_b & ~wrong_c))
    return _rate_deltas(both, broken, fixed, wrong_b.size, accuracy=accuracy)


def _rate_deltas(
    both: int, broken: int, fixed: int, n: int, *, accuracy: bool
) -> list[MetricDelta]:
    neither = n - both - broken - fixed
    est = paired_proportion_difference(both, broken, fixed, neither)
    p = mcnemar_exact(broken, fixed)
    eb = (both + fixed) / n if n else _NAN
    ec = (both + broken) / n if n else _NAN
    test = f"{MCNEMAR}; {NEWCOMBE}"
    out = [
        MetricDelta(
            "error_rate", "Error rate", eb, ec, est.value, est.low, est.high, p, test, False
        )
    ]
    if accuracy:
        out.append(
            MetricDelta(
                "accuracy",
                "Accuracy",
                1 - eb,
                1 - ec,
                -est.value,
                -est.high,
                -est.low,
                p,
                test,
                True,
            )
        )
    return out


# --------------------------------------------------------------------------- classification


def _classification(
    paired: PairedPredictions, rows: Rows, *, n_resamples: int, seed: int
) -> list[MetricDelta]:
    k = len(paired.classes)
    cells = np.bincount(_cells(paired)[rows], minlength=k**3).reshape(k, k, k)
    out = cell_deltas(
        cells, paired.task, paired.classes, paired.positive, n_resamples=n_resamples, seed=seed
    )
    out.extend(_probability_deltas(paired, rows))
    return out


def cell_deltas(
    cells: np.ndarray,
    task: str,
    classes: Sequence[Any],
    positive: Any,
    *,
    n_resamples: int,
    seed: int,
) -> list[MetricDelta]:
    """Error rate, accuracy and P/R/F1 deltas from the ``(label, baseline, candidate)`` counts.

    ``cells[y, b, c]`` counts the pairs with label ``y``, baseline prediction ``b``
    and candidate prediction ``c`` (class indices): all that these rows need, so
    the numpy path and the engines (:mod:`mlqa_debug.engines.compare`) share them.
    """
    k, n = len(classes), int(cells.sum())
    right_b = np.eye(k, dtype=bool)[:, :, None]  # label == baseline prediction
    right_c = np.eye(k, dtype=bool)[:, None, :]
    both = int(cells[~right_b & ~right_c].sum())
    broken = int(cells[right_b & ~right_c].sum())
    fixed = int(cells[~right_b & right_c].sum())
    out = _rate_deltas(both, broken, fixed, n, accuracy=True)
    if task == "binary":
        pos = [str(c) for c in classes].index(str(positive))
        names = [
            (f"{m}[{positive}]", f"{title} (class {positive})")
            for m, title in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"))
        ]
        stats = _binary_scores(pos)
    else:
        names = [
            ("macro_precision", "Macro precision"),
            ("macro_recall", "Macro recall"),
            ("macro_f1", "Macro F1"),
        ]
        stats = _macro_scores
    test = f"paired bootstrap ({n_resamples:,}, seed {seed})"
    point_b, point_c = stats(cells.sum(axis=2)[None]), stats(cells.sum(axis=1)[None])
    for i, (metric, label) in enumerate(names):

        def statistic(draws: np.ndarray, i: int = i) -> np.ndarray:
            return stats(draws.sum(axis=2))[i] - stats(draws.sum(axis=3))[i]

        low, high, p = (
            multinomial_bootstrap(cells, statistic, n_resamples=n_resamples, random_state=seed)
            if n
            else (_NAN, _NAN, _NAN)
        )
        b, c = float(point_b[i][0]), float(point_c[i][0])
        out.append(MetricDelta(metric, label, b, c, c - b, low, high, p, test, True))
    return out


def _cells(paired: PairedPredictions) -> np.ndarray:
    """Per pair: the cell ``(label * k + baseline prediction) * k + candidate prediction``."""

    def build() -> np.ndarray:
        k = len(paired.classes)
        y, pb, pc = (
            np.maximum(a, 0) for a in (paired.y_true, paired.pred_baseline, paired.pred_candidate)
        )
        return ((y * k + pb) * k + pc).astype(np.int32)

    return paired.memo("headline_cells", build)


def _scores(
    tp: np.ndarray, predicted: np.ndarray, actual: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (zero_division=0) elementwise."""
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        total = precision + recall
        f1 = np.where(total > 0, 2 * precision * recall / total, 0.0)
    return precision, recall, f1


def _binary_scores(pos: int) -> Callable[[np.ndarray], np.ndarray]:
    def stats(confusion: np.ndarray) -> np.ndarray:
        """(m, k, k) label x prediction counts -> (3, m) precision, recall, F1 of ``pos``."""
        tp = confusion[:, pos, pos].astype(np.float64)
        predicted = confusion[:, :, pos].sum(axis=1)
        actual = confusion[:, pos, :].sum(axis=1)
        return np.stack(_scores(tp, predicted, actual))

    return stats


def _macro_scores(confusion: np.ndarray) -> np.ndarray:
    """(m, k, k) label x prediction counts -> (3, m) macro precision, recall, F1.

    Over the classes present in the labels or the predictions (scikit-learn's labels=None).
    """
    tp = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    predicted = confusion.sum(axis=1)
    actual = confusion.sum(axis=2)
    present = (predicted + actual) > 0
    count = present.sum(axis=1)
    out = []
    for score in _scores(tp, predicted, actual):
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(count > 0, (score * present).sum(axis=1) / count, _NAN))
    return np.stack(out)


def _probability_terms(paired: PairedPredictions) -> tuple[np.ndarray, np.ndarray] | None:
    """Per pair: candidate minus baseline log loss, and Brier score (memoised)."""
    pb, pc = paired.proba_baseline, paired.proba_candidate
    if pb is None or pc is None:
        return None

    def build() -> tuple[np.ndarray, np.ndarray]:
        y = np.maximum(paired.y_true, 0)
        at = np.arange(paired.n)
        loss = [-np.log(np.clip(p[at, y], _EPS, 1 - _EPS)) for p in (pc, pb)]
        brier = []
        for p in (pc, pb):
            if p.shape[1] == 2:
                brier.append((p[:, 1] - (y == 1)) ** 2)
            else:
                gap = p.copy()
                gap[at, y] -= 1.0
                brier.append(np.einsum("ij,ij->i", gap, gap))
        return np.stack(loss), np.stack(brier)

    return paired.memo("headline_terms", build)


def _probability_deltas(paired: PairedPredictions, rows: Rows) -> list[MetricDelta]:
    terms = _probability_terms(paired)
    if terms is None:
        return []
    out = []
    for (metric, label), values in zip(
        (("log_loss", "Log loss"), ("brier", "Brier score")), terms, strict=True
    ):
        c, b = values[0][rows], values[1][rows]
        d = c - b
        diff, low, high, p = (
            float(v[()]) for v in paired_mean_difference_from_sums(d.sum(), (d * d).sum(), d.size)
        )
        mean_b = float(b.mean()) if b.size else _NAN
        mean_c = float(c.mean()) if c.size else _NAN
        out.append(MetricDelta(metric, label, mean_b, mean_c, diff, low, high, p, PAIRED_T, False))
    return out


# --------------------------------------------------------------------------- regression


def _regression(paired: PairedPredictions, rows: Rows) -> list[MetricDelta]:
    assert paired.abs_error_baseline is not None and paired.abs_error_candidate is not None
    eb, ec = paired.abs_error_baseline[rows], paired.abs_error_candidate[rows]
    d = ec - eb
    est = paired_mean_difference(d)
    p = wilcoxon_p_value(d)
    mae_b = float(eb.mean()) if eb.size else _NAN
    mae_c = float(ec.mean()) if ec.size else _NAN
    mae = MetricDelta(
        "mae",
        "MAE",
        mae_b,
        mae_c,
        est.value,
        est.low,
        est.high,
        p,
        f"{WILCOXON}; {PAIRED_T} interval",
        False,
    )
    rmse_est, rmse_p = rmse_difference(ec * ec, eb * eb)
    rmse_b = float(np.sqrt(np.mean(eb * eb))) if eb.size else _NAN
    rmse_c = float(np.sqrt(np.mean(ec * ec))) if ec.size else _NAN
    rmse = MetricDelta(
        "rmse",
        "RMSE",
        rmse_b,
        rmse_c,
        rmse_est.value,
        rmse_est.low,
        rmse_est.high,
        rmse_p,
        DELTA,
        False,
    )
    rates = error_rate_deltas(
        paired.wrong_baseline[rows], paired.wrong_candidate[rows], accuracy=False
    )
    threshold = paired.error_threshold or 0.0
    rate = rates[0]
    rate = MetricDelta(
        rate.metric,
        f"Error rate (|error| > {threshold:.4g})",
        rate.baseline,
        rate.candidate,
        rate.difference,
        rate.ci_low,
        rate.ci_high,
        rate.p_value,
        rate.test,
        False,
    )
    return [mae, rmse, rate]
