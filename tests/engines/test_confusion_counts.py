"""``AggregateEngine.confusion_counts``: the same cells as ``class_confusion`` on numpy.

Binary with and without a threshold (ties at the threshold, scores of 0 and 1),
multiclass with string labels, integer labels without probabilities; slices over
odd column names and missing values, a slice on the derived ``error`` column and
one that matches nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlqa_debug.analyses.confusion import binary_predictions, class_confusion
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import Predicate, Slice, parse_slice, slice_mask
from tests.engines.conftest import COLOR, ENGINES, INJECTION

SLICES = [
    "",
    "`colour ``tone``` == 'red'",
    "`âge (years)` >= 40 and `colour ``tone``` != 'blue'",
    "`âge (years)` is missing",
    "`it's flagged` == true",
    "`city \"name\"; DROP TABLE t; --` in ('東京', 'a`b')",
    Slice((Predicate(COLOR, "==", (INJECTION,)),)).text,  # a value that reads as SQL
    "error == true",
]
CASES = [
    *(("binary", text, None) for text in SLICES),
    *(("binary", text, t) for text in SLICES[:4] for t in (0.5, 0.3, 0.0, 1.0)),
    *(("multiclass", text, None) for text in SLICES),
    ("multiclass", "confidence > 0.6", None),
    *(("plain", text, None) for text in SLICES[:4]),
]


def _expected(engine: Any, text: str, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    predictions = engine.predictions
    mask = slice_mask(predictions, parse_slice(text))
    y_pred = None if threshold is None else binary_predictions(predictions, threshold=threshold)
    inside = class_confusion(predictions, mask, y_pred=y_pred).counts
    return inside, class_confusion(predictions, y_pred=y_pred).counts


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize(("kind", "text", "threshold"), CASES)
def test_confusion_counts_equal_numpy(
    tables: dict[str, Path], open_on: Any, name: str, kind: str, text: str, threshold: float | None
) -> None:
    numpy = open_on(tables[kind], "numpy")
    engine = open_on(tables[kind], name)
    assert tuple(engine.schema.classes) == tuple(numpy.schema.classes)
    inside, overall = engine.confusion_counts(parse_slice(text), threshold=threshold)
    expected_inside, expected_overall = _expected(numpy, text, threshold)
    assert inside.dtype == np.int64 and inside.shape == expected_inside.shape
    assert np.array_equal(inside, expected_inside), (inside, expected_inside)
    assert np.array_equal(overall, expected_overall)
    assert overall.sum() == engine.n_rows


@pytest.mark.parametrize("name", ENGINES)
def test_a_threshold_moves_rows_between_columns(
    tables: dict[str, Path], open_on: Any, name: str
) -> None:
    """A broken threshold (ignored, or comparing the wrong class) would keep the columns."""
    engine = open_on(tables["binary"], name)
    _, at_model = engine.confusion_counts(parse_slice(""))
    _, low = engine.confusion_counts(parse_slice(""), threshold=0.2)
    _, everything = engine.confusion_counts(parse_slice(""), threshold=0.0)
    pos = list(engine.schema.classes).index(engine.schema.positive)
    assert low[:, pos].sum() > at_model[:, pos].sum()
    assert everything[:, pos].sum() == engine.n_rows  # every score is >= 0


@pytest.mark.parametrize("name", ENGINES)
def test_confusion_counts_refuse_what_they_cannot_count(
    tables: dict[str, Path], open_on: Any, name: str
) -> None:
    with pytest.raises(ParameterError, match="classification task"):
        open_on(tables["regression"], name).confusion_counts(parse_slice(""))
    with pytest.raises(ParameterError, match="binary task with a score"):
        open_on(tables["multiclass"], name).confusion_counts(parse_slice(""), threshold=0.5)
