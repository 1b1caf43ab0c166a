"""A generated multiclass set: string labels, out-of-sample-like probabilities, planted flips.

True classes are drawn first; the model's probabilities are a softmax of noisy
logits that favour the true class (so it errs now and then), and its embeddings
sit near a centre per true class. Then a seeded 5 % of the given labels are flipped
to another class: those rows are the planted label errors a ranking should find.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.data.predictions import Predictions, load_predictions

CLASSES = ("ant", "bee", "cat", "dog")


@dataclass(frozen=True)
class Planted:
    frame: pd.DataFrame
    flipped: np.ndarray  # positions whose given label was flipped
    true_codes: np.ndarray


def make_planted(n: int = 2000, *, share: float = 0.05, seed: int = 0) -> Planted:
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1.0, (n, k))
    logits[np.arange(n), true] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    given = true.copy()
    flipped = np.sort(rng.choice(n, round(share * n), replace=False))
    given[flipped] = (true[flipped] + rng.integers(1, k, len(flipped))) % k
    centres = rng.normal(0, 4, (k, 3))
    emb = centres[true] + rng.normal(0, 1, (n, 3))
    names = np.asarray(CLASSES)
    frame = pd.DataFrame(
        {
            "id": [f"x{i:05d}" for i in range(n)],
            "size": rng.normal(size=n).round(3),
            "group": rng.choice(["north", "south"], n),
            "label": names[given],
            "prediction": names[probs.argmax(axis=1)],
            **{f"prob_{c}": probs[:, j] for j, c in enumerate(CLASSES)},
            **{f"emb_{j}": emb[:, j] for j in range(3)},
        }
    )
    return Planted(frame, flipped, true)


@pytest.fixture
def planted() -> Planted:
    return make_planted()


@pytest.fixture
def planted_predictions(planted: Planted, tmp_path: Path) -> Predictions:
    path = tmp_path / "planted.csv"
    planted.frame.to_csv(path, index=False)
    return load_predictions(path)
