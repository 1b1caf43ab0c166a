"""Tests of analyses.embeddings.rule_columns: the columns rules and separations read.

A column no slice can name (here a timedelta column, which the loader reads as
categories of Timedelta values) is left out before the slice encoders see it, so
they have nothing to warn about and nothing in the package swaps the
process-wide warning filters with ``warnings.catch_warnings()`` (unsafe under
Streamlit's server threads).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings.rule_columns import check_positions, rule_frame
from mlqa_debug.data.predictions import Predictions, load_predictions
from tests.analyses.embeddings.helpers import code_uses


@pytest.fixture
def with_timedelta(binary_frame: pd.DataFrame, write_table) -> Predictions:
    waited = pd.to_timedelta(np.arange(len(binary_frame)) % 7, unit="h")
    return load_predictions(write_table(binary_frame.assign(waited=waited), "preds.parquet"))


def test_columns_no_slice_can_name_are_left_out(with_timedelta: Predictions) -> None:
    s = with_timedelta.schema
    assert "waited" in s.features  # a feature of the data ...
    columns = list(rule_frame(with_timedelta).columns)
    assert "waited" not in columns  # ... that no rule can use
    assert columns[-2:] == [s.label, s.prediction]
    assert set(columns[:-2]) == {c for c, k in s.features.items() if k != "text"} - {"waited"}


def test_a_selection_summary_neither_warns_nor_swaps_the_warning_filters(
    with_timedelta: Predictions,
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
) -> None:
    callers: list[str] = []
    real = warnings.catch_warnings

    def spy(*args: object, **kwargs: object) -> warnings.catch_warnings:
        caller = str(sys._getframe(1).f_globals.get("__name__", ""))
        if caller.startswith("mlqa_debug.analyses.embeddings"):
            callers.append(caller)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(warnings, "catch_warnings", spy)
    shown = np.arange(with_timedelta.n_samples)
    selected = np.flatnonzero(with_timedelta.frame["label"].to_numpy() == 1)
    summary = emb.summarize_selection(with_timedelta, selected, shown=shown)
    assert callers == []
    assert [str(w.message) for w in recwarn if "left out" in str(w.message)] == []
    assert summary.rule is not None and summary.rule.rule.text == "label == 1"
    assert "waited" not in set(summary.features["feature"])


def test_the_package_never_swaps_warning_filters() -> None:
    assert code_uses("warnings.catch_warnings") == []


def test_positions_are_checked() -> None:
    assert check_positions(np.array([3, 1, 3]), 5, "shown").tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"shown must be row positions in 0\.\.4"):
        check_positions(np.array([5]), 5, "shown")
