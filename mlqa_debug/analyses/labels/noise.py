"""How much of a slice's error rate is confirmed label noise, once reviews exist.

An error (``prediction != label``) on a row whose latest review verdict is
``relabel`` is an error of the label, not of the model: *confirmed label noise*.
:func:`label_noise` counts, for one row mask, the errors, the reviewed errors, the
confirmed noise and the error rate with the corrected labels (a relabel to the
predicted class removes an error, a relabel away from it adds one);
:func:`noise_by_slice` does it for several named masks (what the Slices and Compare
pages show as "errors that are label issues").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.analyses.labels.review_log import Decision
from mlqa_debug.data.ids import id_keys
from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = ["LabelNoise", "ReviewedRows", "label_noise", "noise_by_slice", "reviewed_rows"]


@dataclass(frozen=True)
class LabelNoise:
    """Errors of one slice split into model errors and confirmed label noise.

    ``noise_share`` is the share of the slice's errors that are confirmed label
    noise (NaN without errors); ``corrected_error_rate`` the error rate with the
    reviewed labels.
    """

    rows: int
    errors: int
    reviewed: int
    reviewed_errors: int
    confirmed_noise: int
    error_rate: float
    noise_rate: float
    noise_share: float
    corrected_error_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReviewedRows:
    """Per row of a table: the latest verdict (``None`` if unreviewed), the new label's code."""

    verdict: npt.NDArray[np.object_]
    new_code: npt.NDArray[np.int64]


def reviewed_rows(predictions: Predictions, decisions: Mapping[str, Decision]) -> ReviewedRows:
    """Per row: the latest verdict (``None`` if unreviewed), the new label's code (-1: none).

    Decisions match rows by id (the first row of a repeated id), or by position on the
    same fingerprint for a table without ids.
    """
    n = predictions.n_samples
    verdict = np.full(n, None, dtype=object)
    new_code = np.full(n, -1, dtype=np.int64)
    column = predictions.schema.id
    if column is None:
        keys = pd.Index([str(i) for i in range(n)])
    else:
        keys = id_keys(predictions.frame[column])
    first = pd.Series(np.arange(n), index=keys)
    first = first[~first.index.duplicated()]
    found = pd.Index(first.index).get_indexer(list(decisions))
    found = np.where(found >= 0, first.to_numpy()[np.maximum(found, 0)], -1)
    classes = {str(c): i for i, c in enumerate(predictions.schema.classes)}
    for d, position in zip(decisions.values(), found.tolist(), strict=True):
        if position < 0 or (column is None and d.fingerprint != predictions.fingerprint):
            continue
        verdict[position] = d.verdict
        if d.new_label is not None:
            new_code[position] = classes.get(str(d.new_label), -1)
    return ReviewedRows(verdict, new_code)


def label_noise(
    predictions: Predictions,
    mask: npt.ArrayLike,
    decisions: Mapping[str, Decision],
    *,
    reviewed: ReviewedRows | None = None,
) -> LabelNoise:
    """Errors, reviewed errors and confirmed label noise of the rows in ``mask``."""
    m = check_mask(mask, predictions.n_samples)
    r = reviewed if reviewed is not None else reviewed_rows(predictions, decisions)
    error = predictions.error[m]
    verdict = r.verdict[m]
    relabelled = verdict == "relabel"
    y_true = np.where(relabelled & (r.new_code[m] >= 0), r.new_code[m], predictions.y_true_codes[m])
    corrected_error = y_true != predictions.y_pred_codes[m]
    rows, errors = int(m.sum()), int(error.sum())
    noise = int((error & relabelled).sum())
    nan = float("nan")
    return LabelNoise(
        rows=rows,
        errors=errors,
        reviewed=int((verdict != None).sum()),  # noqa: E711 - elementwise on an object array
        reviewed_errors=int((error & (verdict != None)).sum()),  # noqa: E711
        confirmed_noise=noise,
        error_rate=errors / rows if rows else nan,
        noise_rate=noise / rows if rows else nan,
        noise_share=noise / errors if errors else nan,
        corrected_error_rate=float(corrected_error.mean()) if rows else nan,
    )


def noise_by_slice(
    predictions: Predictions,
    masks: Mapping[str, npt.ArrayLike],
    decisions: Mapping[str, Decision],
) -> pd.DataFrame:
    """:func:`label_noise` of each named mask, one row per name (index ``slice``)."""
    reviewed = reviewed_rows(predictions, decisions)
    rows = {
        name: label_noise(predictions, mask, decisions, reviewed=reviewed).to_dict()
        for name, mask in masks.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "slice"
    return frame
