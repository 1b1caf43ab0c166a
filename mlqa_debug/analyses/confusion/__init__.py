"""Which classes a slice confuses: confusion matrices, confused pairs and binary thresholds.

- :mod:`.compute`: matrices of any rows, folding many classes into "other", ranked pairs;
- :mod:`.pairs`: a cell of the matrix as a URL token, a slice, a mask and examples;
- :mod:`.thresholds`: predictions, metrics and precision-recall curves at a threshold;
- :mod:`.figures`: the heatmaps and the precision-recall figure (import it on its own: plotly);
- :mod:`.view`: a pair and threshold metrics as text.

For a regression the Confusion page shows residuals instead
(:mod:`mlqa_debug.analyses.residuals`).
"""

from mlqa_debug.analyses.confusion.compute import (
    DEFAULT_MAX_CLASSES,
    OTHER,
    PAIR_COLUMNS,
    ConfusionMatrix,
    Normalize,
    class_confusion,
    classification_classes,
    confused_pairs,
    confusion_counts,
    difference,
    fold_classes,
    fold_top,
    normalize_counts,
    parse_top,
    top_classes,
)
from mlqa_debug.analyses.confusion.pairs import (
    PAIR_SEPARATOR,
    PairSlice,
    format_pair,
    pair_examples,
    pair_mask,
    pair_slice,
    pair_tokens,
    parse_pair,
)
from mlqa_debug.analyses.confusion.thresholds import (
    DEFAULT_THRESHOLD,
    PrCurve,
    ThresholdMetrics,
    binary_predictions,
    binary_truth,
    parse_threshold,
    positive_scores,
    pr_curve,
    slice_pr_curve,
    threshold_changes,
    threshold_from_url,
    threshold_metrics,
    threshold_report,
)
from mlqa_debug.analyses.confusion.view import pair_text, threshold_frame
from mlqa_debug.analyses.examples.compute import example_positions

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
    "ThresholdMetrics",
    "binary_predictions",
    "binary_truth",
    "class_confusion",
    "classification_classes",
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
    "slice_pr_curve",
    "threshold_changes",
    "threshold_frame",
    "threshold_from_url",
    "threshold_metrics",
    "threshold_report",
    "top_classes",
]
