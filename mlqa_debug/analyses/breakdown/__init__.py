"""Error rate by value (or bin) of every feature inside a slice (:mod:`.compute`).

The breakdown is a table (the Slices page draws it with ``st.dataframe``); the
error-rate bars of a slice report are :func:`mlqa_debug.stats.figures.error_rate_bars`.
"""

from mlqa_debug.analyses.breakdown.compute import (
    MAX_ROWS,
    N_BINS,
    BreakdownIndex,
    breakdown_index,
    feature_breakdown,
)

__all__ = ["MAX_ROWS", "N_BINS", "BreakdownIndex", "breakdown_index", "feature_breakdown"]
