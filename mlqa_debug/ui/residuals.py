"""The Confusion page of a regression: how the slice's residuals differ from the rest."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mlqa_debug.analyses import residuals
from mlqa_debug.analyses.residuals import figures
from mlqa_debug.ui.confusion import examples_block
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.external import sampled_note
from mlqa_debug.ui.widgets import copy_link


def regression_view(ctx: PageContext) -> None:
    """Residuals of the slice against the rest: summary, predicted vs actual, histograms."""
    predictions, current, mask = ctx.predictions, ctx.slice, ctx.mask
    schema = predictions.schema
    whose = "the slice against the rest" if current.predicates else "all rows (choose a slice)"
    st.caption(f"A regression: the residuals (prediction − label) of {whose}.")
    if ctx.external:
        st.caption(sampled_note(ctx.external, "This residual view"))
    summary = residuals.residual_summary(predictions, mask)
    shown = summary if current.predicates else summary.loc[["overall"]]
    st.dataframe(residuals.residual_frame(shown, threshold=schema.error_threshold))
    if current.predicates:
        st.markdown(residuals.residual_text(summary))
    left, right = st.columns(2)
    positions = residuals.scatter_positions(mask)
    y_true, y_pred = (
        predictions.frame[c].to_numpy(np.float64) for c in (schema.label, schema.prediction)
    )
    cut = schema.error_threshold
    left.plotly_chart(figures.predicted_vs_actual(y_true, y_pred, mask, positions, threshold=cut))
    if len(positions) < predictions.n_samples:
        left.caption(f"A seeded sample of {len(positions):,} of {predictions.n_samples:,} rows.")
    histogram = residuals.residual_histogram(predictions.residual, mask)
    right.plotly_chart(figures.residual_histograms(histogram, threshold=cut))
    st.subheader("Rows of the slice" if current.predicates else "Rows")
    examples_block(predictions, mask)
    copy_link(ctx.link())
