"""A pair is a cell of the confusion matrix: its URL form, its slice, its rows and examples.

A pair (true class code, predicted class code) travels in URLs as
``<true>~<predicted>`` with the classes' text forms (``8~1``, ``cat~dog``) and
becomes the slice ``label == 8 and prediction == 1``. A token that names no
pair is a :class:`~mlqa_debug.errors.ParameterError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import pandas as pd

from mlqa_debug.analyses.confusion.compute import classification_classes
from mlqa_debug.analyses.confusion.thresholds import (
    binary_predictions,
    positive_code,
    positive_scores,
    score_column,
    threshold_changes,
)
from mlqa_debug.analyses.examples.compute import (
    ExamplesPage,
    Paging,
    example_positions,
    examples_page,
    reading_columns,
)
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import Op, Predicate, Slice, check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = [
    "PAIR_SEPARATOR",
    "PairSlice",
    "format_pair",
    "pair_examples",
    "pair_mask",
    "pair_slice",
    "pair_tokens",
    "parse_pair",
]

PAIR_SEPARATOR = "~"
"""Between the true and the predicted class in a pair's URL form."""


def pair_tokens(pairs: pd.DataFrame, classes: Sequence[Any]) -> list[str]:
    """The URL form of each row of :func:`confused_pairs`."""
    cells = zip(pairs["true_code"], pairs["pred_code"], strict=True)
    return [format_pair(classes, (int(t), int(p))) for t, p in cells]


def format_pair(classes: Sequence[Any], pair: tuple[int, int]) -> str:
    """The URL form of a pair of class codes: ``<true>~<predicted>`` (e.g. ``8~1``)."""
    true_code, pred_code = pair
    return f"{classes[true_code]}{PAIR_SEPARATOR}{classes[pred_code]}"


def parse_pair(text: str, classes: Sequence[Any]) -> tuple[int, int]:
    """The class codes of ``<true>~<predicted>``; :class:`ParameterError` if it names no pair.

    A class's text form may itself contain ``~``: every split is tried, and the
    one that names two classes wins (several winners are refused as ambiguous).
    """
    names = {str(c): i for i, c in enumerate(classes)}
    shown = ", ".join(repr(str(c)) for c in list(classes)[:12])
    more = ", ..." if len(classes) > 12 else ""
    example = format_pair(classes, (0, len(classes) - 1)) if classes else "a~b"
    if not isinstance(text, str) or PAIR_SEPARATOR not in text:
        raise ParameterError(
            f"the pair {str(text)[:80]!r} is not of the form <true class>~<predicted class> "
            f"(e.g. {example!r}); the classes are {shown}{more}",
            name="pair",
            value=str(text)[:200],
        )
    longest = max((len(name) for name in names), default=0)
    found = []
    start = 0 if len(text) <= 2 * longest + len(PAIR_SEPARATOR) else len(text)  # too long
    while (cut := text.find(PAIR_SEPARATOR, start)) >= 0:
        left, right = text[:cut], text[cut + 1 :]
        if left in names and right in names:
            found.append((names[left], names[right]))
        start = cut + 1
    if len(found) == 1:
        return found[0]
    problem = "is ambiguous" if found else "does not name two classes"
    raise ParameterError(
        f"the pair {text[:80]!r} {problem}; expected <true class>~<predicted class> "
        f"(e.g. {example!r}) with classes {shown}{more}",
        name="pair",
        value=text[:200],
    )


@dataclass(frozen=True)
class PairSlice:
    """The slice of one matrix cell; ``exact`` is False when it cannot express the threshold.

    At a binary threshold that changes predictions, the cell's rows are
    ``label == a and <score> >= t`` (or ``< t``); when the score column cannot
    be used in slices, the slice falls back to the model's ``prediction`` column
    and selects the cell at the model's own threshold instead.
    """

    slice: Slice
    exact: bool


def pair_slice(
    predictions: Predictions,
    pair: tuple[int, int],
    *,
    threshold: float | None = None,
) -> PairSlice:
    """``label == a and prediction == b`` with the classes' real values (ints stay ints)."""
    s = predictions.schema
    classes = classification_classes(predictions)
    true_value, pred_value = (_plain(classes[code]) for code in pair)
    label = Predicate(s.label, "==", (true_value,))
    by_model = Predicate(s.prediction, "==", (pred_value,))
    if threshold is None or threshold_changes(predictions, threshold) == 0:
        return PairSlice(Slice((label, by_model)), exact=True)
    column = score_column(predictions)
    if column is None or column not in predictions.column_kinds:
        return PairSlice(Slice((label, by_model)), exact=False)
    op: Op = ">=" if pair[1] == positive_code(predictions) else "<"
    return PairSlice(Slice((label, Predicate(column, op, (float(threshold),)))), exact=True)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def pair_mask(
    predictions: Predictions,
    pair: tuple[int, int],
    mask: np.ndarray | None = None,
    *,
    y_pred: np.ndarray | None = None,
) -> np.ndarray:
    """Rows whose true class is ``pair[0]`` and predicted class ``pair[1]`` (within ``mask``)."""
    predicted = predictions.y_pred_codes if y_pred is None else y_pred
    out = (predictions.y_true_codes == pair[0]) & (predicted == pair[1])
    if mask is not None:
        out &= check_mask(mask, len(out))
    return out


def pair_examples(
    predictions: Predictions,
    mask: np.ndarray,
    *,
    threshold: float | None = None,
    image_uris: Sequence[str] | None = None,
    **paging: Unpack[Paging],
) -> ExamplesPage:
    """A page of the rows in ``mask`` laid out for reading a confusion.

    ``paging`` takes the options of
    :func:`~mlqa_debug.analyses.examples.compute.examples_page` (``sort_by``,
    ``descending``, ``page``, ``page_size``) with its defaults.

    Columns: id, label, prediction (and the prediction at ``threshold`` when
    given), confidence, error, the probability columns, then the features.
    Pixel columns of an image dataset are left out (pass ``image_uris`` from
    :func:`mlqa_debug.data.images.row_image_uris` to show the rows as images) and so
    are embedding, SHAP and projection columns.
    """
    page = examples_page(predictions, mask, **paging)
    frame = reading_columns(predictions, page.frame)
    if threshold is not None and positive_scores(predictions) is not None:
        s = predictions.schema
        codes = binary_predictions(predictions, threshold=threshold)[example_positions(page)]
        values = pd.Series([s.classes[c] for c in codes], index=frame.index, dtype=object)
        after = sum(c is not None for c in (s.id, s.label, s.prediction))  # the lead columns
        frame.insert(after, f"prediction @ {threshold:.2f}", values)
    if image_uris is not None:
        frame.insert(0, "image", list(image_uris))
    return replace(page, frame=frame)
