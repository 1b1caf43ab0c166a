"""The features that separate a selection from the other points on the map.

Each column's values (numerics in quantile bins, see
:func:`~mlqa_debug.slicing.encoding.encode_features`) are cross-tabulated against
"selected"; the strength is Cramér's V, with the chi-square p-value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.embeddings.rule_columns import SEPARATION_BINS, check_positions, rule_frame
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing.encoding import Encoding, encode_features

__all__ = ["SEPARATION_COLUMNS", "separating_features"]

SEPARATION_COLUMNS = [
    "feature",
    "strength",
    "p-value",
    "most over-represented",
    "in selection",
    "in the rest",
]


def _feature_codes(predictions: Predictions) -> Encoding:
    frame = rule_frame(predictions)  # outside the memo's build: memo builds hold its lock
    return predictions.memo(
        "embeddings.codes",
        lambda: encode_features(frame, list(frame.columns), n_bins=SEPARATION_BINS),
    )


def separating_features(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    limit: int = 10,
) -> pd.DataFrame:
    """Features (and label, prediction) that best separate the selected points from the others.

    Over the ``shown`` rows, each column's values (numerics in 8 quantile bins) are
    cross-tabulated against "selected". Columns: ``feature``, ``strength``
    (Cramér's V, 0 = same distribution, 1 = fully separated), ``p-value``
    (chi-square test, as text), ``most over-represented`` (the value or bin whose share grows
    most in the selection), ``in selection`` and ``in the rest`` (its shares). Strongest first.
    """
    n = predictions.n_samples
    shown = check_positions(shown, n, "shown")
    chosen = np.isin(shown, check_positions(selected, n, "selected"))
    rows: list[dict[str, Any]] = []
    if chosen.all() or not chosen.any():
        return pd.DataFrame(rows, columns=SEPARATION_COLUMNS)
    for feature in _feature_codes(predictions).features:
        codes = feature.codes[shown].astype(np.int64)
        row = _separation(codes, chosen, feature.cardinality)
        if row is not None:
            code, values = row
            rows.append(
                {"feature": feature.column, **values, "most over-represented": feature.label(code)}
            )
    frame = pd.DataFrame(rows, columns=SEPARATION_COLUMNS)
    return (
        frame.sort_values(["strength", "feature"], ascending=[False, True])
        .head(limit)
        .reset_index(drop=True)
    )


def _p_text(p_value: float) -> str:
    """A p-value for reading: ``0.21``, ``3e-19``, ``< 1e-300``."""
    if p_value < 1e-300:
        return "< 1e-300"
    return f"{p_value:.2f}" if p_value >= 0.01 else f"{p_value:.0e}"


def _separation(codes: np.ndarray, chosen: np.ndarray, k: int) -> tuple[int, dict[str, Any]] | None:
    inside = np.bincount(codes[chosen], minlength=k).astype(np.float64)
    outside = np.bincount(codes[~chosen], minlength=k).astype(np.float64)
    present = (inside + outside) > 0
    if present.sum() < 2:
        return None
    table = np.vstack([inside[present], outside[present]])
    from scipy import stats  # lazy: importing scipy.stats takes about a second

    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    strength = math.sqrt(chi2 / table.sum())
    share_in, share_out = inside / inside.sum(), outside / outside.sum()
    code = int(np.argmax(np.where(present, share_in - share_out, -np.inf)))
    values = {
        "strength": float(strength),
        "p-value": _p_text(float(p_value)),
        "in selection": float(share_in[code]),
        "in the rest": float(share_out[code]),
    }
    return code, values
