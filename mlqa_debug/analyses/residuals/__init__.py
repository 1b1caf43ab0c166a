"""How a regression's residuals differ inside a slice (the Confusion page of a regression).

- :mod:`.compute`: residual statistics of slice, rest and all rows, shared-bin
  histograms, the rows a scatter draws;
- :mod:`.figures`: predicted vs actual, residual histograms;
- :mod:`.view`: the statistics as a sentence and a readable table.
"""

from mlqa_debug.analyses.residuals.compute import (
    MAX_SCATTER_POINTS,
    ResidualHistogram,
    residual_histogram,
    residual_summary,
    scatter_positions,
)
from mlqa_debug.analyses.residuals.view import residual_frame, residual_text

__all__ = [
    "MAX_SCATTER_POINTS",
    "ResidualHistogram",
    "residual_frame",
    "residual_histogram",
    "residual_summary",
    "residual_text",
    "scatter_positions",
]
