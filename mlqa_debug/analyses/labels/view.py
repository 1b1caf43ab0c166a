"""Sentences and small tables of the label review, for people (no Streamlit).

- :func:`worth_reading`, :func:`reliability_sentence`: how far down the queue the
  planted-flip check says reading pays off;
- :func:`noise_text`: the Slices page's "confirmed label noise" line;
- :func:`feature_frame`: one example's features as a two-column table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.labels.noise import LabelNoise
from mlqa_debug.analyses.labels.reliability import Reliability
from mlqa_debug.stats import count, percent

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = ["WORTH_READING", "feature_frame", "noise_text", "reliability_sentence", "worth_reading"]

WORTH_READING = 0.5
"""A stretch of the queue is worth reading while at least this share of it are planted flips."""


def worth_reading(reliability: Reliability, *, bar: float = WORTH_READING) -> int | None:
    """The deepest ``k`` up to which every stretch of the queue held at least ``bar`` planted flips.

    The queue is cut at each reported ``k``; a stretch is the positions between one
    ``k`` and the next, and its share of planted flips is what reading it yields
    (unlike precision at k, it does not stay high on the strength of the top alone).
    ``None`` when even the first stretch falls short.
    """
    deepest, previous_k, previous_found = None, 0, 0
    for k, found in zip(reliability.table["k"], reliability.table["found"], strict=True):
        if (found - previous_found) / (k - previous_k) < bar:
            break
        deepest, previous_k, previous_found = int(k), int(k), int(found)
    return deepest


def reliability_sentence(reliability: Reliability, *, bar: float = WORTH_READING) -> str:
    """How far down the queue is worth reading, in one or two sentences."""
    planted = reliability.n_planted
    head = (
        f"{count(planted)} planted flips ({percent(reliability.share, digits=0)} of "
        f"{count(reliability.candidates)} confidently correct labels, seed "
        f"{reliability.random_state}); {percent(reliability.flagged_recall)} of them are flagged "
        "as issues."
    )
    if reliability.table.empty:
        return f"{head} The queue is too short to measure precision at k."
    deepest = worth_reading(reliability, bar=bar)
    if deepest is None:
        first = reliability.table.iloc[0]
        return (
            f"{head} Fewer than {percent(bar, digits=0)} of the top {int(first['k'])} are planted "
            "flips: the ranking is weak on this data; read only the first few suspects."
        )
    row = reliability.table[reliability.table["k"] == deepest].iloc[0]
    last_k = int(reliability.table["k"].iloc[-1])
    beyond = (
        f"; further down, fewer than {percent(bar, digits=0)} of each stretch are"
        if deepest < last_k
        else f" (every stretch measured, down to {last_k:,}, holds at least "
        f"{percent(bar, digits=0)})"
    )
    return (
        f"{head} Worth reading down to about position {deepest:,}: {int(row['found']):,} of the "
        f"top {deepest:,} are planted flips{beyond}."
    )


def noise_text(noise: LabelNoise, *, in_slice: bool = True) -> str:
    """The line "Confirmed label noise: X of the slice's N errors are reviewed label errors..."."""
    errors = "error" if noise.errors == 1 else "errors"
    whose = "the slice's" if in_slice else "the"
    return (
        f"Confirmed label noise: {count(noise.confirmed_noise)} of {whose} "
        f"{count(noise.errors)} {errors} are reviewed label errors "
        f"({count(noise.reviewed_errors)} of the errors reviewed); error rate with corrected "
        f"labels {percent(noise.corrected_error_rate)} (now {percent(noise.error_rate)})."
    )


def feature_frame(predictions: Predictions, position: int) -> pd.DataFrame:
    """The features of the row at ``position`` as text (``feature``, ``value``).

    Pixel columns of image-like data are left out (the page draws the image); a
    missing value reads "missing".
    """
    image = predictions.schema.image
    pixels = set(image.columns) if image is not None else set()
    features = [f for f in predictions.schema.features if f not in pixels]
    row = predictions.frame[features].iloc[int(position)].tolist() if features else []
    return pd.DataFrame({"feature": features, "value": [_text(v) for v in row]}, dtype=object)


def _text(value: Any) -> str:
    missing = value is None or (not isinstance(value, str) and bool(np.all(pd.isna(value))))
    return "missing" if missing else str(value)
