"""Widgets and callbacks of the Confusion page (view options in the URL, examples)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from mlqa_debug.analyses.confusion import compute as cf
from mlqa_debug.analyses.confusion import figures as plots
from mlqa_debug.data import images as images
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing.slices import Slice
from mlqa_debug.ui import state
from mlqa_debug.ui.widgets import copy_link

NORMS = {"counts": None, "recall": "true", "precision": "pred"}
NORM_LABELS = {"counts": "counts", "recall": "row % (recall)", "precision": "column % (precision)"}
COMPARES = {"side": "beside the overall matrix", "diff": "as slice − overall (pts)"}
DEFAULTS: dict[str, Any] = {
    "norm": "counts",
    "compare": "side",
    "top": cf.DEFAULT_MAX_CLASSES,
    "thr": cf.DEFAULT_THRESHOLD,
}
MAX_PAIRS = 500  # rows of the pairs table and the pair list
PAGE_SIZE = 50


def url_value(key: str) -> str | None:
    """The URL form of a view option; ``None`` for its default."""
    value = st.session_state.get(key)
    if value is None or value == DEFAULTS.get(key):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def option_changed(key: str) -> None:
    """A view option changed: put it in the URL and go back to the first page of examples."""
    state.write_to_url(key, url_value(key))
    st.session_state["ex_page"] = 1


def url_widget(widget: Any, label: str, key: str, **kwargs: Any) -> Any:
    """A widget whose value is the view option ``key`` (seeded from the URL, written back)."""
    return widget(label, key=key, on_change=option_changed, args=(key,), **kwargs)


def set_pair(token: str) -> None:
    st.session_state["pair"] = token
    option_changed("pair")


def cell_clicked(key: str, classes: tuple[Any, ...]) -> None:
    points = st.session_state[key].selection.points
    codes = points[0].get("customdata") if points else None
    if codes and min(codes) >= 0:  # the cells of "other" name no pair
        set_pair(cf.format_pair(classes, (int(codes[0]), int(codes[1]))))


def row_picked(key: str, tokens: list[str]) -> None:
    if rows := st.session_state[key].selection.rows:
        set_pair(tokens[rows[0]])


def examples_block(
    predictions: Predictions, rows: np.ndarray, threshold: float | None = None
) -> None:
    """The rows in ``rows``, errors first and paged, as small images (if any) and a table."""
    total = int(rows.sum())
    if not total:
        st.caption("No rows.")
        return
    n_pages = -(-total // PAGE_SIZE)
    if not 1 <= st.session_state.get("ex_page", 1) <= n_pages:
        st.session_state["ex_page"] = 1
    page = st.number_input(f"Page (of {n_pages:,})", 1, n_pages, key="ex_page", width=160)
    examples = cf.pair_examples(
        predictions, rows, page=page - 1, page_size=PAGE_SIZE, threshold=threshold
    )
    positions, config = cf.example_positions(examples), {}
    if images.has_images(predictions) and len(positions):
        pngs, confidence = images.row_images(predictions, positions), predictions.confidence
        with st.container(horizontal=True, gap="small", key="example_images"):
            for png, p in zip(pngs, positions, strict=True):
                note = f" · {confidence[p]:.0%}" if confidence is not None else ""
                st.image(png, caption=f"{p + 1}{note}", width=64)
        examples.frame.insert(0, "image", [images.data_uri(png) for png in pngs])
        config["image"] = st.column_config.ImageColumn("image", width="small")
    row_height = 48 if config else 35
    height = min(420, row_height * (len(positions) + 1) + 3)
    st.dataframe(examples.frame, height=height, column_config=config, row_height=row_height)
    first, last = examples.start + 1, examples.start + len(positions)
    st.caption(f"Rows {first:,}–{last:,} of {total:,}, errors first.")


def regression_view(predictions: Predictions, current: Slice, mask: np.ndarray) -> None:
    """Residuals of the slice against the rest: summary, predicted vs actual, histograms."""
    schema = predictions.schema
    whose = "the slice against the rest" if current.predicates else "all rows (choose a slice)"
    st.caption(f"A regression: the residuals (prediction − label) of {whose}.")
    summary = cf.residual_summary(predictions, mask)
    shown = summary if current.predicates else summary.loc[["overall"]]
    st.dataframe(cf.residual_frame(shown, threshold=schema.error_threshold))
    if current.predicates:
        st.markdown(cf.residual_text(summary))
    left, right = st.columns(2)
    positions = cf.scatter_positions(mask)
    y_true, y_pred = (
        predictions.frame[c].to_numpy(np.float64) for c in (schema.label, schema.prediction)
    )
    cut = schema.error_threshold
    left.plotly_chart(plots.predicted_vs_actual(y_true, y_pred, mask, positions, threshold=cut))
    if len(positions) < predictions.n_samples:
        left.caption(f"A seeded sample of {len(positions):,} of {predictions.n_samples:,} rows.")
    histogram = cf.residual_histogram(predictions.residual, mask)
    right.plotly_chart(plots.residual_histograms(histogram, threshold=cut))
    st.subheader("Rows of the slice" if current.predicates else "Rows")
    examples_block(predictions, mask)
    copy_link("confusion", state.current_params())
