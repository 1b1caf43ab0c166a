"""Single examples: finding a row by its id, naming it, and its nearest correct neighbours.

Ids come from the dataset's id column (``row N``, 1-based, without one) and are
looked up in a table, never evaluated; hostile text finds nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions


def find_example(predictions: Predictions, raw: str | None) -> int | None:
    """The position of the row whose id is ``raw`` (without an id column: ``row N``, 1-based)."""
    if not raw:
        return None
    s = predictions.schema
    if s.id is None:
        text = raw.strip().removeprefix("row").strip()
        return int(text) - 1 if text.isdigit() and 0 < int(text) <= predictions.n_samples else None
    lookup = predictions.memo(
        "explain-ids",
        lambda: pd.Series(
            np.arange(predictions.n_samples), index=predictions.frame[s.id].astype(str)
        ),
    )
    position = lookup.get(raw)
    return None if position is None else int(position)


def example_id(predictions: Predictions, position: int) -> str:
    """The link form of a row: its id, or ``row N`` without an id column."""
    return str(row_ids(predictions, np.array([position]))[0])


def nearest_correct(
    predictions: Predictions, position: int, *, k: int = 5, same_label: bool = True
) -> pd.DataFrame | None:
    """The ``k`` nearest correctly predicted rows in embedding space (``None`` without one).

    With ``same_label`` (classification), only rows of the example's true class:
    similar examples the model got right. Columns ``position``, ``id``,
    ``distance``, ``label``, ``prediction``.
    """
    embedding = predictions.embedding_matrix
    if embedding is None:
        return None
    label = -1
    if same_label and predictions.schema.is_classification:
        label = int(predictions.y_true_codes[position])
    pool, finder = predictions.memo(
        f"explain-neighbours:{label}", lambda: _neighbour_index(predictions, embedding, label)
    )
    if len(pool) == 0:
        return pd.DataFrame(columns=["position", "id", "distance", "label", "prediction"])
    distance, index = finder.kneighbors(
        embedding[position : position + 1], n_neighbors=min(k + 1, len(pool))
    )
    keep = pool[index[0]] != position
    found, distance = pool[index[0]][keep][:k], distance[0][keep][:k]
    s = predictions.schema
    return pd.DataFrame(
        {
            "position": found,
            "id": row_ids(predictions, found),
            "distance": distance,
            "label": predictions.frame[s.label].iloc[found].to_numpy(),
            "prediction": predictions.frame[s.prediction].iloc[found].to_numpy(),
        }
    )


def _neighbour_index(
    predictions: Predictions, embedding: np.ndarray, label: int
) -> tuple[np.ndarray, Any]:
    """Correct rows (of true class code ``label``, or any class for -1) and their index."""
    from sklearn.neighbors import NearestNeighbors

    candidates = ~predictions.error
    if label >= 0 and (candidates & (predictions.y_true_codes == label)).any():
        candidates = candidates & (predictions.y_true_codes == label)
    pool = np.flatnonzero(candidates)
    return pool, NearestNeighbors().fit(embedding[pool]) if len(pool) else None


def row_ids(predictions: Predictions, positions: np.ndarray) -> np.ndarray:
    """How rows are named in links and tables: their id, or ``row N`` (1-based)."""
    s = predictions.schema
    if s.id is None:
        return np.asarray([f"row {p + 1}" for p in positions], dtype=object)
    return predictions.frame[s.id].iloc[positions].astype(str).to_numpy(dtype=object)
