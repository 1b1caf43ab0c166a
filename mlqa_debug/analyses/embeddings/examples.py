"""The example rows of a selection: which to show first, and their thumbnail captions."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlqa_debug.analyses.embeddings.hover import readable_number
from mlqa_debug.data.predictions import Predictions

__all__ = ["errors_first", "example_captions"]


def errors_first(predictions: Predictions, positions: np.ndarray) -> np.ndarray:
    """``positions`` reordered: errors first, most confident mistakes (largest misses) first."""
    positions = np.asarray(positions, dtype=np.int64)
    if predictions.confidence is not None:
        weight = predictions.confidence[positions]
    elif not predictions.schema.is_classification:
        weight = np.abs(predictions.residual[positions])
    else:
        weight = np.zeros(len(positions))
    order = np.lexsort((positions, -weight, ~predictions.error[positions]))
    return positions[order]


def example_captions(predictions: Predictions, positions: np.ndarray) -> list[str]:
    """``label→prediction`` per row (rounded for regression), for thumbnails."""
    s = predictions.schema
    frame = predictions.frame.iloc[np.asarray(positions, dtype=np.int64)]
    return [
        f"{_plain_text(y)}→{_plain_text(p)}"
        for y, p in zip(frame[s.label], frame[s.prediction], strict=True)
    ]


def _plain_text(value: Any) -> str:
    return readable_number(float(value)) if isinstance(value, float | np.floating) else str(value)
