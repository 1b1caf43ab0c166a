"""Builders of candidate / baseline predictions tables for the compare tests."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions, load_predictions


def predictions(frame: pd.DataFrame, name: str = "table.parquet", **roles: Any) -> Predictions:
    """A validated table from a frame (written to Parquet in memory, as a file would be)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    buffer.name = name
    return load_predictions(buffer, sidecar=False, **roles)


def classification_pair(
    rng: np.random.Generator,
    n: int = 2000,
    *,
    classes: int = 3,
    accuracy: tuple[float, float] = (0.75, 0.7),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(baseline frame, candidate frame) of one labelled sample and two models' predictions."""
    labels = rng.integers(0, classes, n)
    features = {
        "colour": rng.choice(["red", "green", "blue", "grey"], n),
        "size": rng.gamma(2.0, 10.0, n),
        "count": rng.integers(0, 4, n),
    }
    frames = []
    for acc in accuracy:
        wrong = rng.random(n) > acc
        other = (labels + rng.integers(1, classes, n)) % classes
        pred = np.where(wrong, other, labels)
        frame = pd.DataFrame({"id": np.arange(n), **features, "label": labels, "prediction": pred})
        if classes == 2:
            score = np.clip(np.where(pred == 1, 0.6, 0.4) + rng.normal(0, 0.15, n), 0.01, 0.99)
            frame["score"] = score
        frames.append(frame)
    return frames[0], frames[1]


def regression_pair(rng: np.random.Generator, n: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(baseline frame, candidate frame): one regression sample, the candidate noisier."""
    y = rng.normal(0, 1, n)
    base = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.random(n),
            "label": y,
            "prediction": y + rng.normal(0, 0.5, n),
        }
    )
    return base, base.assign(prediction=y + rng.normal(0, 0.6, n))
