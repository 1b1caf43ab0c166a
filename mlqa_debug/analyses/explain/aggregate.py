"""Aggregations behind the Explanations page: importance and push tables, beeswarm and
dependence frames, one row's waterfall, an example against its neighbours, image maps.

Each takes :class:`~mlqa_debug.analyses.explain.targets.Attributions` (one value per
row and feature) and returns a DataFrame or a small dataclass that
:mod:`~mlqa_debug.analyses.explain.figures` draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlqa_debug.analyses.explain.codec import ColumnCodec, is_number_like
from mlqa_debug.analyses.explain.examples import row_ids
from mlqa_debug.analyses.explain.targets import Attributions
from mlqa_debug.analyses.explain.view import format_value
from mlqa_debug.data.predictions import Predictions


def importance_table(att: Attributions, in_slice: np.ndarray) -> pd.DataFrame:
    """Mean |attribution| per feature in the slice and in the rest, ranked by the difference.

    ``in_slice`` is a boolean per explained row. Columns: ``feature``,
    ``slice``, ``rest``, ``difference`` (slice - rest), ``ratio``; sorted by
    difference (by ``slice`` when the rest is empty).
    """
    in_slice = np.asarray(in_slice, dtype=bool)
    magnitude = np.abs(att.values)
    inside = (
        magnitude[in_slice].mean(axis=0) if in_slice.any() else np.full(len(att.features), np.nan)
    )
    outside = (
        magnitude[~in_slice].mean(axis=0)
        if (~in_slice).any()
        else np.full(len(att.features), np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = inside / outside
    table = pd.DataFrame(
        {
            "feature": att.features,
            "slice": inside,
            "rest": outside,
            "difference": inside - outside,
            "ratio": ratio,
        }
    )
    key = "difference" if (~in_slice).any() and in_slice.any() else "slice"
    return table.sort_values(key, ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def push_table(att: Attributions, error: np.ndarray, in_slice: np.ndarray) -> pd.DataFrame:
    """Mean signed push toward the mistake, on the slice's errors vs its correct rows.

    ``att`` comes from :func:`toward_error`. Columns: ``feature``, ``errors``,
    ``correct``, ``difference``; sorted by ``errors`` (largest push toward the
    wrong class first).
    """
    error, in_slice = np.asarray(error, bool), np.asarray(in_slice, bool)
    nan = np.full(len(att.features), np.nan)
    wrong, right = in_slice & error, in_slice & ~error
    on_errors = att.values[wrong].mean(axis=0) if wrong.any() else nan
    on_correct = att.values[right].mean(axis=0) if right.any() else nan
    table = pd.DataFrame(
        {
            "feature": att.features,
            "errors": on_errors,
            "correct": on_correct,
            "difference": on_errors - on_correct,
        }
    )
    key = "errors" if wrong.any() else "correct"
    return table.sort_values(key, ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def _display_values(predictions: Predictions, feature: str, rows: np.ndarray) -> pd.Series:
    if feature not in predictions.frame.columns:
        return pd.Series(["–"] * len(rows))
    values = predictions.frame[feature].iloc[rows].reset_index(drop=True)
    return values.map(format_value)


def _colour_scale(predictions: Predictions, feature: str, rows: np.ndarray) -> np.ndarray:
    """Feature values as 0..1 (rank for numbers, code for categories); NaN where missing."""
    if feature not in predictions.frame.columns:
        return np.full(len(rows), np.nan)
    s = predictions.frame[feature].iloc[rows]
    if isinstance(s.dtype, pd.CategoricalDtype) or not is_number_like(s):
        codes = pd.Categorical(s.astype(object)).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        top = np.nanmax(codes) if not np.isnan(codes).all() else 0.0
        return codes / top if top > 0 else np.where(np.isnan(codes), np.nan, 0.5)
    numbers = ColumnCodec(s.to_frame()).encode(s.to_frame())[:, 0]
    return pd.Series(numbers).rank(pct=True).to_numpy()


def top_features(table: pd.DataFrame, *, n: int = 12, column: str = "slice") -> list[str]:
    """The ``n`` features with the largest ``column`` in an importance table."""
    return list(table.nlargest(n, column)["feature"]) if len(table) else []


def beeswarm_frame(
    att: Attributions,
    predictions: Predictions,
    *,
    features: Sequence[str],
    rows_mask: np.ndarray,
    max_points: int = 600,
) -> pd.DataFrame:
    """Long frame for a beeswarm: one row per (explained row, feature).

    Columns ``feature``, ``shap``, ``value`` (as text), ``colour`` (0..1),
    ``error``, ``id``; at most ``max_points`` rows per feature (a seeded sample).
    """
    chosen = np.flatnonzero(np.asarray(rows_mask, bool))
    if len(chosen) > max_points:
        chosen = np.sort(np.random.default_rng(0).choice(chosen, max_points, replace=False))
    positions = att.rows[chosen]
    parts = []
    for feature in features:
        g = att.features.index(feature)
        parts.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "shap": att.values[chosen, g],
                    "value": _display_values(predictions, feature, positions).to_numpy(),
                    "colour": _colour_scale(predictions, feature, positions),
                    "error": predictions.error[positions],
                    "id": row_ids(predictions, positions),
                }
            )
        )
    columns = ["feature", "shap", "value", "colour", "error", "id"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def dependence_frame(
    att: Attributions,
    predictions: Predictions,
    feature: str,
    *,
    rows_mask: np.ndarray,
    max_points: int = 3_000,
) -> pd.DataFrame:
    """``x`` (the feature's value), ``shap``, ``error``, ``id`` for a dependence plot.

    At most ``max_points`` rows (a seeded sample), so a browser can draw it.
    """
    chosen = np.flatnonzero(np.asarray(rows_mask, bool))
    if len(chosen) > max_points:
        chosen = np.sort(np.random.default_rng(0).choice(chosen, max_points, replace=False))
    positions = att.rows[chosen]
    g = att.features.index(feature)
    if feature in predictions.frame.columns:
        x = predictions.frame[feature].iloc[positions].reset_index(drop=True)
        if isinstance(x.dtype, pd.CategoricalDtype) or not is_number_like(x):
            x = x.astype(object).map(format_value)
    else:
        x = pd.Series(np.full(len(positions), np.nan))
    return pd.DataFrame(
        {
            "x": x,
            "shap": att.values[chosen, g],
            "error": predictions.error[positions],
            "id": row_ids(predictions, positions),
        }
    )


@dataclass(frozen=True)
class Waterfall:
    """One row's attributions, largest first, with the rest summed into one bar."""

    position: int
    base: float
    output: float
    frame: pd.DataFrame
    target: str


def waterfall(
    att: Attributions, predictions: Predictions, position: int, *, max_features: int = 10
) -> Waterfall:
    """The waterfall of row ``position`` (which must be explained)."""
    i = int(att.index([position])[0])
    if i < 0:
        raise ValueError(f"row {position} has no attributions")
    values = att.values[i]
    order = np.argsort(-np.abs(values), kind="stable")
    top, rest = order[:max_features], order[max_features:]
    frame = pd.DataFrame(
        {
            "feature": [att.features[g] for g in top],
            "value": [
                _display_values(predictions, att.features[g], np.array([position]))[0] for g in top
            ],
            "shap": values[top],
        }
    )
    if len(rest):
        other = pd.DataFrame(
            {
                "feature": [f"{len(rest)} other features"],
                "value": [""],
                "shap": [values[rest].sum()],
            }
        )
        frame = pd.concat([frame, other], ignore_index=True)
    return Waterfall(position, float(att.base[i]), float(att.output[i]), frame, att.target)


def neighbour_contrast(
    att: Attributions, position: int, neighbours: Sequence[int], *, top: int = 10
) -> pd.DataFrame:
    """The example's attributions next to its neighbours' mean, largest differences first."""
    i = int(att.index([position])[0])
    idx = att.index(neighbours)
    idx = idx[idx >= 0]
    if i < 0 or len(idx) == 0:
        return pd.DataFrame(columns=["feature", "example", "neighbours", "difference"])
    example, others = att.values[i], att.values[idx].mean(axis=0)
    table = pd.DataFrame(
        {
            "feature": att.features,
            "example": example,
            "neighbours": others,
            "difference": example - others,
        }
    )
    order = np.argsort(-np.abs(table["difference"].to_numpy()), kind="stable")[:top]
    return table.iloc[order].reset_index(drop=True)


def image_attributions(
    att: Attributions, predictions: Predictions, position: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(pixels, attributions)`` as image-shaped arrays, when the dataset declares an image."""
    spec = predictions.schema.image
    i = int(att.index([position])[0])
    if spec is None or i < 0 or not all(c in att.features for c in spec.columns):
        return None
    pixels = predictions.frame[list(spec.columns)].iloc[position].to_numpy(np.float64)
    values = att.values[i, [att.features.index(c) for c in spec.columns]]
    return pixels.reshape(spec.shape), values.reshape(spec.shape)
