"""Per-slice metrics with 95% confidence intervals: the calls behind every metrics view.

One set of functions serves the UI, the CLI and regression cases. The work is
split in two stages so that a slice change on a 1,000,000-row table costs a few
milliseconds:

1. :func:`~mlqa_debug.stats.classification.prepare_classification` /
   :func:`~mlqa_debug.stats.regression.prepare_regression` run once per dataset.
   They integer-code every row and precompute per-row terms, plus the totals
   over all rows.
2. :func:`evaluate` / :func:`slice_report` run on every slice change. They
   gather the precomputed arrays on the *smaller* side of the mask (the slice or
   its complement), reduce them with ``np.bincount`` and sums, and get the other
   side as totals minus that side. No pandas, no group-by.

Slice versus rest: :class:`~mlqa_debug.stats.results.Difference` holds the slice
error rate minus the rest error rate with Newcombe's hybrid score interval, a
two-sided p-value (:mod:`.intervals`), and the lift over the overall rate.
"""

from __future__ import annotations

from typing import overload

import numpy.typing as npt

from mlqa_debug.slicing.masks import check_mask
from mlqa_debug.stats.classification import ClassificationData
from mlqa_debug.stats.intervals import newcombe_difference, two_proportion_p_value
from mlqa_debug.stats.prepared import NAN
from mlqa_debug.stats.regression import RegressionData
from mlqa_debug.stats.results import (
    ClassificationMetrics,
    Difference,
    M,
    RegressionMetrics,
    SliceReport,
)

__all__ = ["evaluate", "slice_report"]


@overload
def evaluate(
    data: ClassificationData, mask: npt.ArrayLike | None = None
) -> ClassificationMetrics: ...
@overload
def evaluate(data: RegressionData, mask: npt.ArrayLike | None = None) -> RegressionMetrics: ...
def evaluate(
    data: ClassificationData | RegressionData, mask: npt.ArrayLike | None = None
) -> ClassificationMetrics | RegressionMetrics:
    """Metrics of the rows where ``mask`` is True (all rows when None); never raises on n == 0."""
    _check_data(data)
    if mask is None:
        return data._overall
    return data.split(check_mask(mask, data.n_samples))[0]


@overload
def slice_report(
    data: ClassificationData, mask: npt.ArrayLike
) -> SliceReport[ClassificationMetrics]: ...
@overload
def slice_report(data: RegressionData, mask: npt.ArrayLike) -> SliceReport[RegressionMetrics]: ...
def slice_report(
    data: ClassificationData | RegressionData, mask: npt.ArrayLike
) -> SliceReport[ClassificationMetrics] | SliceReport[RegressionMetrics]:
    """Slice (rows where ``mask`` is True) versus rest versus all rows, and their difference.

    The error is ``y_pred != y_true`` for classification and ``|residual| > threshold``
    for regression. Costs one gather over the smaller side of the mask.
    """
    _check_data(data)
    checked = check_mask(mask, data.n_samples)
    if isinstance(data, ClassificationData):  # same call twice: one per type, for mypy
        return _report(*data.split(checked), data._overall)
    return _report(*data.split(checked), data._overall)


def _check_data(data: object) -> None:
    if not isinstance(data, ClassificationData | RegressionData):
        raise TypeError(
            f"expected data from prepare_classification/prepare_regression, "
            f"got {type(data).__name__}"
        )


def _report(inside: M, outside: M, overall: M) -> SliceReport[M]:
    k1, n1, k2, n2 = inside.n_errors, inside.n, outside.n_errors, outside.n
    base = overall.error_rate.value
    difference = Difference(
        error_rate_diff=newcombe_difference(k1, n1, k2, n2),
        p_value=two_proportion_p_value(k1, n1, k2, n2),
        lift=inside.error_rate.value / base if base > 0.0 else NAN,
    )
    return SliceReport(inside, outside, overall, difference)
