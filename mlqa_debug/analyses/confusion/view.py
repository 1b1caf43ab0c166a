"""Text for people on the Confusion page: a pair as words, threshold metrics as a table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from mlqa_debug.analyses.confusion.pairs import parse_pair
from mlqa_debug.analyses.confusion.thresholds import ThresholdMetrics
from mlqa_debug.errors import ParameterError
from mlqa_debug.stats.format import count

__all__ = ["pair_text", "threshold_frame"]

_THRESHOLD_ROWS: dict[str, Callable[[ThresholdMetrics], str]] = {
    "precision": lambda m: f"{m.precision:.3f}",
    "recall": lambda m: f"{m.recall:.3f}",
    "F1": lambda m: f"{m.f1:.3f}",
    "true positives": lambda m: count(m.tp),
    "false positives": lambda m: count(m.fp),
    "false negatives": lambda m: count(m.fn),
    "true negatives": lambda m: count(m.tn),
}


def pair_text(classes: Sequence[Any], token: str | None) -> str:
    """A pair's URL form for reading: ``8~1`` -> ``8 → 1``; ``None`` -> ``(none)``."""
    if token is None:
        return "(none)"
    try:
        true_code, pred_code = parse_pair(token, classes)
    except ParameterError:
        return token
    return f"{classes[true_code]} → {classes[pred_code]}"


def threshold_frame(scores: Mapping[str, ThresholdMetrics]) -> pd.DataFrame:
    """Precision, recall, F1 and the four counts of each named group, as text columns."""
    frame = pd.DataFrame(
        {name: {row: fmt(m) for row, fmt in _THRESHOLD_ROWS.items()} for name, m in scores.items()}
    )
    frame.index.name = "metric"
    return frame
