"""Comparing two model versions on the same examples: pairs, headline, flips, slice deltas.

- :mod:`.pairing`: :func:`pair_predictions` pairs a candidate table (the new model)
  with a baseline table (the old one) by id and reports what does not pair up;
- :mod:`.headline`: each model's metrics, the paired difference, its interval and test;
- :mod:`.flips`: fixed / broken / still-wrong pairs, counts and a paged table;
- :mod:`.deltas`: the paired difference on every feature value or bin, adjusted p-values;
- :mod:`.newly`: slice discovery on the "broken" indicator.
- :mod:`.report`: :func:`compare` runs them all inside a slice: the verdict, JSON, JUnit;
- :mod:`.summary`: the Markdown review summary for a pull request.

Differences are candidate minus baseline. Plotly lives in :mod:`.figures` only.
"""

from mlqa_debug.analyses.compare.deltas import SliceDeltas, delta_index, slice_deltas
from mlqa_debug.analyses.compare.flips import (
    FLIP_KINDS,
    FlipKind,
    FlipPage,
    Flips,
    flip_counts,
    flip_table,
)
from mlqa_debug.analyses.compare.headline import Headline, MetricDelta, headline
from mlqa_debug.analyses.compare.newly import NewFailure, NewFailures, newly_failing
from mlqa_debug.analyses.compare.pairing import (
    OUTCOME,
    OUTCOME_NAMES,
    PairedPredictions,
    pair_predictions,
)
from mlqa_debug.analyses.compare.report import (
    Comparison,
    TableInfo,
    compare,
    comparison_junit,
    write_comparison_junit,
)
from mlqa_debug.analyses.compare.summary import compare_link, compare_url, review_markdown

__all__ = [
    "FLIP_KINDS",
    "OUTCOME",
    "OUTCOME_NAMES",
    "FlipKind",
    "FlipPage",
    "Flips",
    "Headline",
    "MetricDelta",
    "NewFailure",
    "NewFailures",
    "PairedPredictions",
    "SliceDeltas",
    "delta_index",
    "flip_counts",
    "flip_table",
    "headline",
    "newly_failing",
    "pair_predictions",
    "slice_deltas",
]
__all__ += [
    "Comparison",
    "TableInfo",
    "compare",
    "compare_link",
    "compare_url",
    "comparison_junit",
    "review_markdown",
    "write_comparison_junit",
]
