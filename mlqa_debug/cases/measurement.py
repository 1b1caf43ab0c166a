"""Measuring a case's metric on predictions: a slice's rows, or an example set matched by id.

:func:`measure` evaluates a metric on the rows of a slice (with
:func:`mlqa_debug.slicing.slice_mask` and :func:`mlqa_debug.stats.evaluate`)
or counts the wrong predictions of an example set, whose ids are matched to the
dataset's id column by :func:`mlqa_debug.data.ids.match_ids` (ids compare as text,
so ``7`` matches ``'7'``). A regression case keeps the error threshold of the data
it was saved on, so ``error_rate`` and ``n_wrong`` mean the same on every later file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug import stats as metrics
from mlqa_debug.cases.conditions import RATE_METRICS, metric_base, metric_class
from mlqa_debug.data.ids import IdMatch, id_keys, match_ids
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import Slice, slice_mask


def id_index(predictions: Predictions) -> pd.Index:
    """The dataset's ids as :func:`~mlqa_debug.data.ids.id_key` text, built once per dataset."""
    column = predictions.schema.id
    if column is None:
        raise CaseError("these predictions have no id column; example sets are matched by id")
    series = predictions.frame[column]
    return predictions.memo("cases:id-index", lambda: id_keys(series))


def match_examples(predictions: Predictions, ids: Sequence[object]) -> IdMatch:
    """``ids`` (left) matched to the rows of ``predictions`` (right) by id."""
    return match_ids(ids, id_index(predictions))


def example_mask(predictions: Predictions, ids: Sequence[object]) -> tuple[np.ndarray, int]:
    """Rows whose id is in ``ids`` and how many of the ids were found."""
    match = match_examples(predictions, ids)
    mask = np.zeros(predictions.n_samples, dtype=bool)
    mask[match.right] = True
    return mask, match.n_matched


def _metric_data(
    predictions: Predictions, error_threshold: float | None
) -> metrics.ClassificationData | metrics.RegressionData:
    """The dataset's metric data; for regression with the case's own error threshold."""
    data = predictions.metric_data
    if not isinstance(data, metrics.RegressionData) or error_threshold is None:
        return data
    if error_threshold == data.threshold:
        return data
    source = data
    return predictions.memo(
        f"cases.regression:{error_threshold!r}",
        lambda: metrics.prepare_regression(source.y_true, source.y_pred, threshold=error_threshold),
    )


@dataclass(frozen=True)
class Measurement:
    """A metric's value on some rows, the rows, and its 95% interval half-width (or nan)."""

    value: float
    rows: int
    half_width: float = math.nan


def _half_width(m: metrics.ClassificationMetrics | metrics.RegressionMetrics, metric: str) -> float:
    """Half-width of the 95% interval of ``metric`` (Wilson for rates), nan if it has none."""
    base = metric_base(metric)
    estimates = {"error_rate": m.error_rate, "accuracy": m.error_rate}
    if isinstance(m, metrics.RegressionMetrics):
        estimates |= {"mae": m.mae, "rmse": m.rmse}
    if base in estimates:
        return (estimates[base].high - estimates[base].low) / 2
    if not isinstance(m, metrics.ClassificationMetrics) or base not in RATE_METRICS:
        return math.nan
    n = m.n
    cls = metric_class(metric)
    if cls is not None:
        scores = next(c for c in m.per_class if c.name == cls)
        n = scores.n_predicted if base == "precision" else scores.support
    return _rate_half_width(m.value(metric), n)


def _rate_half_width(value: float, n: int) -> float:
    if n <= 0 or not math.isfinite(value):
        return math.nan
    k = min(max(round(value * n), 0), n)
    low, high = metrics.wilson_interval(k, n)
    return (high - low) / 2


def measure(
    predictions: Predictions,
    *,
    metric: str,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    error_threshold: float | None = None,
) -> Measurement:
    """A metric on a slice (or ``n_wrong`` on an example set) of these predictions.

    Raises :class:`SliceError` if the slice does not fit the data and :class:`CaseError`
    for a metric the data lacks or a missing id column. Empty rows give ``rows == 0``.
    """
    data = _metric_data(predictions, error_threshold)
    if ids is not None:
        mask, _ = example_mask(predictions, ids)
        result = metrics.evaluate(data, mask)
        return Measurement(float(result.n_errors), result.n)
    mask = slice_mask(predictions, where if where is not None else Slice())
    result = metrics.evaluate(data, mask)
    try:
        value = result.value(metric)
    except ValueError as e:
        raise CaseError(str(e)) from None
    return Measurement(value, result.n, _half_width(result, metric) if result.n else math.nan)
