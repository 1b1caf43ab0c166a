"""One page of a slice's examples, ordered without sorting the whole slice.

The dashboard never ships a whole frame to the browser: :func:`examples_page`
picks the rows of one page with ``np.argpartition`` (linear time) and sorts
only those, so paging through a million-row slice stays fast.
:func:`reading_columns` lays a page out for reading rows one by one (the
model's columns first, bulky pixel, embedding and SHAP columns left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

ERRORS_FIRST = "errors first"
"""The default order: wrong predictions first, the most confident of them on top."""


class Paging(TypedDict, total=False):
    """The paging options of :func:`examples_page`, for functions that pass them on."""

    sort_by: str
    descending: bool
    page: int
    page_size: int


@dataclass(frozen=True)
class ExamplesPage:
    """Rows ``start`` to ``start + len(frame)`` of ``total`` in the requested order."""

    frame: pd.DataFrame
    total: int
    start: int
    page: int
    n_pages: int


def example_positions(page: ExamplesPage) -> np.ndarray:
    """0-based row positions of an examples page (its index is 1-based rows)."""
    return np.asarray(page.frame.index, dtype=np.int64) - 1


def sort_options(predictions: Predictions) -> list[str]:
    """Orders the examples table offers: errors first, then any column."""
    return [ERRORS_FIRST, *predictions.derived, *predictions.frame.columns]


def _sort_key(predictions: Predictions, sort_by: str) -> np.ndarray:
    """A float key where larger comes first; missing values get -inf (last)."""
    if sort_by == ERRORS_FIRST:
        error = predictions.error.astype(np.float64)
        if predictions.confidence is not None:  # confident mistakes first
            return error + 0.5 * predictions.confidence
        if not predictions.schema.is_classification:
            abs_error = np.abs(predictions.residual)
            return error + 0.5 * abs_error / (abs_error.max() or 1.0)
        return error
    values = predictions.slice_frame[sort_by]
    if isinstance(values.dtype, pd.CategoricalDtype):
        key = values.cat.codes.to_numpy(np.float64)
        key[key < 0] = np.nan
    elif pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        key = values.to_numpy(np.float64, na_value=np.nan)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        key = values.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
        key[values.isna().to_numpy()] = np.nan
    else:
        key = pd.Series(pd.Categorical(values).codes, dtype=np.float64).to_numpy()
        key[key < 0] = np.nan
    return np.where(np.isnan(key), -np.inf, key)


def examples_page(
    predictions: Predictions,
    mask: np.ndarray,
    *,
    sort_by: str = ERRORS_FIRST,
    descending: bool = True,
    page: int = 0,
    page_size: int = 50,
) -> ExamplesPage:
    """The ``page``-th page (0-based) of the rows in ``mask``, ordered by ``sort_by``."""
    rows = np.flatnonzero(mask)
    total = len(rows)
    n_pages = max(1, -(-total // page_size))
    page = min(max(page, 0), n_pages - 1)
    start = page * page_size
    key = predictions.memo(f"sort_key:{sort_by}", lambda: _sort_key(predictions, sort_by))[rows]
    if not descending:
        key = np.where(np.isneginf(key), -np.inf, -key)  # missing stays last
    stop = min(start + page_size, total)
    if stop < total // 4:
        top = np.argpartition(-key, stop - 1)[:stop] if stop else np.empty(0, dtype=np.int64)
        ordered = top[np.lexsort((rows[top], -key[top]))]
    else:
        ordered = np.lexsort((rows, -key))
    chosen = rows[ordered[start:stop]]
    return ExamplesPage(_rows_frame(predictions, chosen), total, start, page, n_pages)


def _rows_frame(predictions: Predictions, positions: np.ndarray) -> pd.DataFrame:
    """The chosen rows with the derived columns first after id, label and prediction."""
    s = predictions.schema
    frame = predictions.frame.iloc[positions]
    derived = pd.DataFrame(
        {k: v[positions] for k, v in predictions.derived.items()}, index=frame.index
    )
    lead = [c for c in (s.id, s.label, s.prediction, s.score) if c is not None]
    rest = [c for c in frame.columns if c not in lead]
    out = pd.concat([frame[lead], derived, frame[rest]], axis=1)
    out.index = pd.Index(positions + 1, name="row")
    return out


def reading_columns(predictions: Predictions, frame: pd.DataFrame) -> pd.DataFrame:
    """A page's columns for reading: id, label, prediction, derived, probabilities, features.

    Pixel columns of an image dataset, embedding, SHAP and projection columns are
    left out (they are shown as images and maps, not as numbers).
    """
    s = predictions.schema
    hidden = {*(s.image.columns if s.image else ()), *s.embedding, *s.shap.values()}
    hidden |= {*(s.projection or ()), *([s.shap_base] if s.shap_base else [])}
    probas = [c for c in (s.score, *s.proba.values()) if c is not None]
    lead = [c for c in (s.id, s.label, s.prediction) if c is not None]
    derived = [c for c in ("confidence", "error", "abs_error") if c in frame.columns]
    taken = {*lead, *derived, *probas, *hidden}
    rest = [c for c in frame.columns if c not in taken]
    return frame[[*lead, *derived, *probas, *rest]].copy()
