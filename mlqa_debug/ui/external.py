"""What the pages say of an external dataset: exact numbers from its engine, the rest sampled.

An external dataset (``mlqa-debug add DIR --external``) is read in place by DuckDB
or Spark. Its pages show two kinds of number, and say which is which in the same
words everywhere: **exact** (computed by the engine over every row: slice counts,
error rates and metrics from sums, confusion counts, case checks, discovered
slices' sizes and errors) and **sampled** (on the seeded sample the engine drew:
charts, examples, breakdowns, anything that needs the rows).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from mlqa_debug.data.external import ExternalTable
from mlqa_debug.errors import MlqaError
from mlqa_debug.slicing import Slice
from mlqa_debug.stats.results import SliceReport
from mlqa_debug.ui.text import md

__all__ = ["exact_note", "exact_slice_report", "external_banner", "sampled_note"]


def _sample_words(table: ExternalTable) -> str:
    if not table.sampled:
        return f"the sample is the whole table ({table.n_rows:,} rows)"
    return (
        f"a seeded random sample of {table.sample.n_samples:,} of the "
        f"{table.n_rows:,} rows (seed {table.seed})"
    )


def external_banner(name: str, table: ExternalTable) -> None:
    """One line under the title: where the rows are, and what is exact and what sampled."""
    source = table.source
    files = f"{source.files:,} file" + ("" if source.files == 1 else "s")
    st.info(
        f"**{md(name)}** is an external dataset: {table.n_rows:,} rows in {files}, read in "
        f"place by {table.engine_title}. Numbers marked *exact* are computed by "
        f"{table.engine_title} over every row; charts, examples and anything that needs the "
        f"rows are *sampled*: {_sample_words(table)}.",
        icon=":material/database:",
    )


def exact_note(table: ExternalTable) -> str:
    """A caption for numbers the engine computed over every row."""
    return f"Exact: computed by {table.engine_title} over all {table.n_rows:,} rows."


def sampled_note(table: ExternalTable, what: str) -> str:
    """A caption for ``what`` (e.g. "The breakdown") when it is computed on the sample."""
    if not table.sampled:
        return f"{what} uses every row (the sample is the whole table)."
    return (
        f"{what} is sampled: computed on {table.sample.n_samples:,} of the {table.n_rows:,} "
        f"rows (a seeded random sample drawn by {table.engine_title}), so its counts are the "
        "sample's."
    )


def exact_slice_report(table: ExternalTable, s: Slice) -> SliceReport[Any] | None:
    """The slice vs the rest vs all rows over every row; None (and a warning) if the engine
    cannot compute it, so the page shows the sample's numbers instead."""
    try:
        with st.spinner(f"Counting the slice over {table.n_rows:,} rows on {table.engine_title}…"):
            return table.slice_report(s)
    except MlqaError as e:
        st.warning(
            md(
                f"{table.engine_title} cannot compute this slice over every row ({e}); the "
                f"numbers below are the sample's ({table.sample.n_samples:,} rows)."
            )
        )
        return None
