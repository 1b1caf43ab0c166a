"""Metrics with 95% intervals for any slice, slice-versus-rest tests, and how numbers read.

- :mod:`.classification`, :mod:`.regression`: prepare a table once
  (:func:`prepare_classification`, :func:`prepare_regression`);
- :mod:`.evaluation`: metrics of any rows (:func:`evaluate`) and a slice against
  the rest (:func:`slice_report`);
- :mod:`.intervals`: Wilson and Newcombe intervals, normal intervals of means,
  the two-proportion test;
- :mod:`.paired`: paired comparisons of two models on the same rows (McNemar,
  Newcombe's paired interval, paired t, Wilcoxon, RMSE difference, multinomial bootstrap);
- :mod:`.corrections`: Holm and Benjamini-Hochberg adjusted p-values;
- :mod:`.results`: what they return (:class:`Estimate`, :class:`SliceReport`, ...);
- :mod:`.report`: a slice's report on a dataset, as a table and a sentence;
- :mod:`.format`: rates, points, counts and intervals as text (never ``nan``).

:mod:`.figures` (plotly) is imported on its own: ``from mlqa_debug.stats import figures``.
"""

from mlqa_debug.stats.classification import ClassificationData, prepare_classification
from mlqa_debug.stats.corrections import CORRECTIONS, Correction, adjust_p_values
from mlqa_debug.stats.evaluation import evaluate, slice_report
from mlqa_debug.stats.format import MISSING, count, interval, number, p_value, percent, points
from mlqa_debug.stats.intervals import (
    CONFIDENCE,
    mean_estimate,
    newcombe_difference,
    proportion_estimate,
    two_proportion_p_value,
    wilson_interval,
)
from mlqa_debug.stats.paired import (
    mcnemar_exact,
    mcnemar_exact_many,
    multinomial_bootstrap,
    paired_mean_difference,
    paired_mean_difference_from_sums,
    paired_proportion_difference,
    paired_proportion_difference_many,
    rmse_difference,
    wilcoxon_p_value,
)
from mlqa_debug.stats.regression import RegressionData, prepare_regression
from mlqa_debug.stats.report import SliceEvaluation, difference_text, evaluate_slice, report_frame
from mlqa_debug.stats.results import (
    ClassificationMetrics,
    ClassScores,
    Difference,
    Estimate,
    RegressionMetrics,
    SliceReport,
)

__all__ = [
    "CONFIDENCE",
    "CORRECTIONS",
    "MISSING",
    "ClassScores",
    "ClassificationData",
    "ClassificationMetrics",
    "Correction",
    "Difference",
    "Estimate",
    "RegressionData",
    "RegressionMetrics",
    "SliceEvaluation",
    "SliceReport",
    "adjust_p_values",
    "count",
    "difference_text",
    "evaluate",
    "evaluate_slice",
    "interval",
    "mcnemar_exact",
    "mcnemar_exact_many",
    "mean_estimate",
    "multinomial_bootstrap",
    "newcombe_difference",
    "number",
    "p_value",
    "paired_mean_difference",
    "paired_mean_difference_from_sums",
    "paired_proportion_difference",
    "paired_proportion_difference_many",
    "percent",
    "points",
    "prepare_classification",
    "prepare_regression",
    "proportion_estimate",
    "report_frame",
    "rmse_difference",
    "slice_report",
    "two_proportion_p_value",
    "wilcoxon_p_value",
    "wilson_interval",
]
