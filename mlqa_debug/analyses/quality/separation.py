"""How well one feature alone separates the label: the measure behind leaky-feature findings.

:func:`feature_separation` scores one feature of a table by the ROC AUC it reaches
on its own, the area that ``sklearn.metrics.roc_auc_score`` gives:

- a numeric or datetime feature is its own score: the AUC of its values, reversed
  (``max(auc, 1 - auc)``) because a feature that is low where the label is positive
  separates as well; missing values rank below every present one;
- a categorical, boolean or text feature scores each row by its value's rate of the
  class, learnt on the *other* half of the rows (two seeded folds, smoothed towards
  the class's share with one pseudo-row): a value seen in one half only gets the
  share. Cross-fitting keeps an id-like column, whose values the other half never
  saw, at 0.5 instead of the perfect in-sample score its per-value rates would give;
- the label: binary ``auc`` is the positive class's; multiclass ``auc_ovr_macro``
  averages the one-vs-rest AUC of each class present in the rows (both with
  and without the class); regression ``auc_above_median`` separates the rows whose
  label is above its median.

AUCs are the Mann-Whitney form over average ranks (``scipy.stats.rankdata``), ties
counted half, exactly the trapezoidal area scikit-learn computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions

__all__ = ["Measure", "Separation", "feature_separation", "label_classes", "rank_auc"]

Measure = Literal["auc", "auc_ovr_macro", "auc_above_median"]
_RAW_KINDS = ("numeric", "datetime")


@dataclass(frozen=True)
class Separation:
    """One feature's single-feature score: the AUC, what it measures, the rows it used."""

    column: str
    score: float
    measure: Measure
    n_rows: int


def rank_auc(scores: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """One-vs-rest AUC of ``scores`` for each class code ``0 .. n_classes - 1``.

    Mann-Whitney over average ranks; nan for a class absent from ``classes`` or
    present in every row.
    """
    from scipy import stats  # lazily: the CLI's import time

    ranks = stats.rankdata(scores)
    n = len(scores)
    n_pos = np.bincount(classes, minlength=n_classes).astype(np.float64)
    rank_sums = np.bincount(classes, weights=ranks, minlength=n_classes)
    n_neg = n - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def label_classes(predictions: Predictions, rows: np.ndarray) -> tuple[np.ndarray, int, Measure]:
    """Class codes of the label on ``rows``, their number, and the measure they give."""
    schema = predictions.schema
    if not schema.is_classification:
        y = predictions.frame[schema.label].to_numpy(np.float64)[rows]
        return (y > np.nanmedian(y)).astype(np.int64), 2, "auc_above_median"
    codes = np.asarray(predictions.y_true_codes[rows], dtype=np.int64)
    if schema.task == "binary":
        positive = list(schema.classes).index(schema.positive)
        return (codes == positive).astype(np.int64), 2, "auc"
    return codes, len(schema.classes), "auc_ovr_macro"


def feature_separation(
    predictions: Predictions, column: str, rows: np.ndarray, *, random_state: int = 0
) -> Separation:
    """The single-feature AUC of ``column`` on the table's ``rows`` (see the module docstring)."""
    classes, n_classes, measure = label_classes(predictions, rows)
    series = predictions.frame[column].iloc[rows]
    # binary and "above median" score the positive side only: its AUC is the other's reversed
    wanted = [1] if n_classes == 2 else list(range(n_classes))
    if predictions.schema.features[column] in _RAW_KINDS:
        auc = rank_auc(_numbers(series), classes, n_classes)[wanted]
        auc = np.maximum(auc, 1 - auc)
    else:
        folds = np.random.default_rng(random_state).integers(0, 2, len(rows))
        codes = pd.factorize(series, use_na_sentinel=False)[0].astype(np.int64)
        auc = np.array(
            [rank_auc(_rates(codes, classes == c, folds), classes, n_classes)[c] for c in wanted]
        )
    present = auc[~np.isnan(auc)]
    score = float(present.mean()) if len(present) else float("nan")
    return Separation(column, score, measure, len(rows))


def _numbers(series: pd.Series) -> np.ndarray:
    """Values as float (datetimes as nanoseconds), missing ones below all the others."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    values[series.isna().to_numpy()] = -np.inf
    return values


def _rates(codes: np.ndarray, positive: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each row's value's share of ``positive`` rows in the other fold (smoothed)."""
    out = np.empty(len(codes))
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    for fold in (0, 1):
        other = folds != fold
        prior = float(positive[other].mean()) if other.any() else 0.5
        seen = np.bincount(codes[other], minlength=n_codes)
        hits = np.bincount(codes[other], weights=positive[other], minlength=n_codes)
        rate = (hits + prior) / (seen + 1.0)  # one pseudo-row at the prior
        out[~other] = rate[codes[~other]]
    return out
