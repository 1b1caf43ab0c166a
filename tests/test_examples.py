"""Pages of a slice's examples, against a full sort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.examples import ERRORS_FIRST, examples_page, sort_options
from mlqa_debug.data.predictions import Predictions


def _reference(predictions: Predictions, mask: np.ndarray, column: str, descending: bool):
    frame = predictions.slice_frame.loc[mask, [column]].copy()
    frame["row"] = np.flatnonzero(mask)
    missing = frame[column].isna()
    present = frame[~missing].sort_values(
        [column, "row"], ascending=[not descending, True], kind="stable"
    )
    return list(present["row"]) + list(frame[missing]["row"])


@pytest.mark.parametrize("column", ["income", "age", "employment", "applied_on"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("page", [0, 3])
def test_page_matches_full_sort(
    loans: Predictions, column: str, descending: bool, page: int
) -> None:
    mask = loans.frame["region"].to_numpy() == "north"
    result = examples_page(
        loans, mask, sort_by=column, descending=descending, page=page, page_size=20
    )
    reference = _reference(loans, mask, column, descending)
    got = list(result.frame.index - 1)
    key = loans.slice_frame[column]  # ties may come in any order: compare the sort key
    assert key.iloc[got].tolist() == key.iloc[reference[page * 20 : page * 20 + 20]].tolist()
    if column == "income":  # no ties: the very same rows
        assert got == reference[page * 20 : page * 20 + 20]
    assert result.total == int(mask.sum())


def test_errors_first_then_confident(loans: Predictions) -> None:
    mask = np.ones(loans.n_samples, dtype=bool)
    result = examples_page(loans, mask, sort_by=ERRORS_FIRST, page_size=100)
    assert result.frame["error"].all()
    confidence = result.frame["confidence"].to_numpy()
    assert np.all(np.diff(confidence) <= 0)
    last = examples_page(loans, mask, sort_by=ERRORS_FIRST, page=result.n_pages - 1, page_size=100)
    assert not last.frame["error"].any()


def test_pages_cover_the_slice_once(loans: Predictions) -> None:
    mask = loans.frame["employment"].to_numpy() == "gig"
    seen: list[int] = []
    first = examples_page(loans, mask, page_size=64)
    for page in range(first.n_pages):
        seen += list(examples_page(loans, mask, page=page, page_size=64).frame.index)
    assert sorted(seen) == list(np.flatnonzero(mask) + 1)


def test_out_of_range_page_is_clamped_and_empty_slice_is_fine(loans: Predictions) -> None:
    empty = examples_page(loans, np.zeros(loans.n_samples, dtype=bool), page=5)
    assert empty.total == 0 and empty.frame.empty and empty.page == 0
    mask = np.ones(loans.n_samples, dtype=bool)
    last = examples_page(loans, mask, page=10**6, page_size=1000)
    assert last.page == last.n_pages - 1 == 19


def test_sort_options_cover_columns(loans: Predictions) -> None:
    options = sort_options(loans)
    assert options[0] == ERRORS_FIRST
    assert {"error", "confidence", "loan amount"} <= set(options)
    assert isinstance(loans.frame, pd.DataFrame)
