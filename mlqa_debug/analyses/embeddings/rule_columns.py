"""The columns that describe a selection: features, label and prediction a slice can name.

Both the rule (:mod:`~mlqa_debug.analyses.embeddings.rule`) and the separating
features (:mod:`~mlqa_debug.analyses.embeddings.separation`) read this frame.
Columns whose values no slice predicate can name (timedeltas, complex numbers,
objects that are not str/int/float/bool, dates beyond the nanosecond range)
are left out here, so the slice encoders never meet them and never warn: no
``warnings.catch_warnings()`` is needed, which would swap the process-wide
warning filters under Streamlit's other threads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing.encoding import Unsupported, categorical_codes, feature_kind

__all__ = ["SEPARATION_BINS", "check_positions", "rule_frame"]

SEPARATION_BINS = 8
"""Quantile bins of a numeric column when separating a selection from the rest."""


def _candidates(predictions: Predictions) -> list[str]:
    s = predictions.schema
    return [*(c for c, k in s.features.items() if k != "text"), s.label, s.prediction]


def _nameable(series: pd.Series) -> bool:
    """Whether slice predicates can name the column's values (the encoders' own checks)."""
    try:
        kind = feature_kind(series, n_bins=SEPARATION_BINS)
        if kind == "categorical":
            categorical_codes(series)
        elif kind == "datetime":
            series.dt.as_unit("ns")
    except (Unsupported, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return False
    return True


def rule_frame(predictions: Predictions) -> pd.DataFrame:
    """The columns rules and separations use; class labels as categories (``label == 3``)."""

    def build() -> pd.DataFrame:
        s = predictions.schema
        frame = predictions.frame[_candidates(predictions)]
        if s.is_classification:
            classes = list(s.classes)
            frame = frame.assign(
                **{c: pd.Categorical(frame[c], categories=classes) for c in (s.label, s.prediction)}
            )
        return frame[[c for c in frame.columns if _nameable(frame[c])]]

    return predictions.memo("embeddings.rule_frame", build)


def check_positions(positions: np.ndarray, n: int, name: str) -> np.ndarray:
    """Sorted unique row positions; a ``ValueError`` for any outside ``0 .. n - 1``."""
    out = np.unique(np.asarray(positions, dtype=np.int64))
    if len(out) and (out[0] < 0 or out[-1] >= n):
        raise ValueError(f"{name} must be row positions in 0..{n - 1}")
    return out
