"""Widgets and callbacks of the Confusion page (view options in the URL, examples)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.analyses.confusion.compute import confusion_from_counts
from mlqa_debug.data import images as images
from mlqa_debug.data.external import ExternalTable
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import Slice, parse_slice
from mlqa_debug.ui.context import PageContext
from mlqa_debug.ui.downloads import csv_download
from mlqa_debug.ui.options import OptionProblem, ViewOption, choice, write_option, write_param
from mlqa_debug.ui.text import md

NORMS = {"counts": None, "recall": "true", "precision": "pred"}
NORM_LABELS = {"counts": "counts", "recall": "row % (recall)", "precision": "column % (precision)"}
COMPARES = {"side": "beside the overall matrix", "diff": "as slice − overall (pts)"}
MAX_PAIRS = 500  # rows of the pairs table and the pair list
PAGE_SIZE = 50


def _pair_option(classes: tuple[Any, ...]) -> ViewOption[str | None]:
    def parse(raw: str) -> str | None:
        try:
            return cf.format_pair(classes, cf.parse_pair(raw, classes))
        except MlqaError as e:
            raise OptionProblem(str(e)) from None

    return ViewOption("pair", parse, None, what="the pair")


def _threshold(raw: str) -> float:
    value = cf.parse_threshold(raw)
    if value is None:
        raise OptionProblem("not a number in [0, 1]")
    return value


def _top_option(n_classes: int) -> ViewOption[int]:
    def parse(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 2 <= int(raw) <= 500):
            raise OptionProblem("not a whole number from 2 to 500")
        return min(int(raw), n_classes)

    default = min(cf.DEFAULT_MAX_CLASSES, n_classes)
    return ViewOption("top", parse, default, what="the classes shown")


def many_classes(predictions: Predictions) -> bool:
    """Enough classes for some to fold into "other" (else that would hide a class for nothing)."""
    return len(predictions.schema.classes) > cf.DEFAULT_MAX_CLASSES + 1


def confusion_options(ctx: PageContext) -> list[ViewOption[Any]]:
    """The Confusion page's view options; a regression has none (it shows residuals)."""
    predictions = ctx.predictions
    schema = predictions.schema
    if not schema.is_classification:
        return []
    options: list[ViewOption[Any]] = [
        choice("norm", list(NORMS), what="the cell values"),
        choice("compare", list(COMPARES), what="the comparison"),
        _pair_option(tuple(schema.classes)),
    ]
    if many_classes(predictions):
        options.append(_top_option(len(schema.classes)))
    if cf.positive_scores(predictions) is not None:
        options.append(ViewOption("thr", _threshold, cf.DEFAULT_THRESHOLD, what="the threshold",
                                  to_url=lambda v: f"{v:g}"))  # fmt: skip
    return options


def option_changed(option: ViewOption[Any]) -> None:
    """A view option changed: put it in the URL and go back to the first page of examples."""
    write_option(option)
    st.session_state["ex_page"] = 1


def url_widget(ctx: PageContext, widget: Any, label: str, param: str, **kwargs: Any) -> Any:
    """A widget whose value is the view option ``param`` (seeded from the URL, written back)."""
    option = ctx.option(param)
    return widget(label, key=option.session_key, on_change=option_changed, args=(option,),
                  **kwargs)  # fmt: skip


def set_pair(token: str) -> None:
    st.session_state["pair"] = token
    write_param("pair", token)
    st.session_state["ex_page"] = 1


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
    table = examples.frame.drop(columns=["image"], errors="ignore")  # no data URIs in a CSV
    csv_download(table, file_name="examples.csv", key="examples_csv", index=True)


# --------------------------------------------------------------------------- external datasets


@st.cache_data(max_entries=256, show_spinner=False)
def _exact_counts(
    _table: ExternalTable, table_key: tuple[str, ...], text: str, threshold: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """The engine's counts of the slice ``text`` and of all rows; ``table_key`` (which
    files, read with which roles) and ``text`` key the cache, ``_table`` runs it."""
    with _table.locked() as engine:
        return engine.confusion_counts(parse_slice(text), threshold=threshold)


def exact_matrices(
    table: ExternalTable, s: Slice, *, threshold: float | None, classes: Sequence[Any]
) -> tuple[cf.ConfusionMatrix, cf.ConfusionMatrix] | None:
    """The slice's and all rows' confusion matrices counted by the engine over every row.

    They are laid out on the page's ``classes`` (the sample's): classes the sample
    lacks fold into "other", so a cell's codes still name the sample's rows. None, with
    a warning, when the engine cannot count them (the page then shows the sample's).
    """
    schema = table.engine.schema
    roles = (schema.label, schema.prediction, schema.score, schema.positive, *schema.classes)
    key = (table.name, table.source.path, table.source.fingerprint, *map(str, roles))
    try:
        with st.spinner(f"Counting over {table.n_rows:,} rows on {table.engine_title}…"):
            inside, overall = _exact_counts(table, key, s.text, threshold)
    except MlqaError as e:
        st.warning(
            md(
                f"{table.engine_title} cannot count this slice's confusion matrix over every "
                f"row ({e}); the matrices below are the sample's "
                f"({table.sample.n_samples:,} rows)."
            )
        )
        return None
    engine_classes = tuple(table.engine.schema.classes)
    return (
        _on_classes(confusion_from_counts(inside, engine_classes), classes),
        _on_classes(confusion_from_counts(overall, engine_classes), classes),
    )


def _on_classes(matrix: cf.ConfusionMatrix, classes: Sequence[Any]) -> cf.ConfusionMatrix:
    """``matrix`` (the engine's classes) with the codes of ``classes``; the others in "other"."""
    codes = {str(c): i for i, c in enumerate(classes)}
    if list(matrix.labels) == list(codes):
        return matrix
    keep = [i for i, label in enumerate(matrix.labels) if label in codes]
    folded = cf.fold_classes(matrix, keep)
    return dataclasses.replace(folded, codes=tuple(codes.get(x, -1) for x in folded.labels))
