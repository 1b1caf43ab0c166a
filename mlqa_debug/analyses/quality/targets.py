"""The label checks of classification tables: class imbalance and classes never predicted.

- ``class_balance``: a finding per class that is rare (under ``minority_share``,
  1%, of the rows) and, when the largest class has ``imbalance_ratio`` (10) times
  the rows of the smallest, for the smallest class; ``warning``, slice
  ``label == c``. The message gives the whole label distribution
  (:func:`label_distribution`, also the page's table).
- ``never_predicted``: a class some rows have as label that the model predicts
  for no row (``warning``; its rows are all errors), slice ``label == c``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality.registry import Draft, QualityContext, register_quality
from mlqa_debug.data.checks.registry import plain
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.stats.format import count, number, percent

__all__ = ["class_balance", "label_distribution", "never_predicted"]


def label_distribution(predictions: Predictions) -> pd.DataFrame:
    """One row per class: ``class``, ``rows``, ``share``, ``predicted``, ``predicted_share``."""
    classes = list(predictions.schema.classes)
    k = len(classes)
    n = max(predictions.n_samples, 1)
    true = np.bincount(predictions.y_true_codes[predictions.y_true_codes >= 0], minlength=k)
    pred = np.bincount(predictions.y_pred_codes[predictions.y_pred_codes >= 0], minlength=k)
    return pd.DataFrame(
        {
            "class": pd.Series([plain(c) for c in classes], dtype=object),
            "rows": true,
            "share": true / n,
            "predicted": pred,
            "predicted_share": pred / n,
        }
    )


def _class_row(table: pd.DataFrame, code: int) -> tuple[int, float, Any]:
    """Rows, share and class of row ``code`` of :func:`label_distribution`'s table."""
    return (
        int(table["rows"].to_numpy()[code]),
        float(table["share"].to_numpy()[code]),
        table["class"].to_numpy()[code],
    )


def _classification(context: QualityContext) -> str | None:
    task = context.predictions.task
    return None if task != "regression" else "applies to classification only (task: regression)"


def _distribution_text(table: pd.DataFrame) -> str:
    shown = table.sort_values("rows", ascending=False).head(6)
    parts = [f"{c!r} {percent(s)}" for c, s in zip(shown["class"], shown["share"], strict=True)]
    return ", ".join(parts) + (", ..." if len(table) > len(shown) else "")


@register_quality(
    "class_balance",
    "Label distribution and class imbalance",
    severity="warning",
    clean="the classes are balanced (no rare class)",
    when=_classification,
)
def class_balance(context: QualityContext) -> list[Draft]:
    t = context.thresholds
    table = label_distribution(context.predictions)
    present = table[table["rows"] > 0]
    if len(present) < 2:
        return []
    largest, smallest = int(present["rows"].max()), int(present["rows"].min())
    ratio = largest / smallest
    label = context.predictions.schema.label
    codes = context.predictions.y_true_codes
    drafts = []
    for code in present.index.tolist():
        rows, share, cls = _class_row(table, code)
        rare = share < t.minority_share
        if not rare and not (ratio >= t.imbalance_ratio and rows == smallest):
            continue
        why = (
            f"under {percent(t.minority_share)} of the rows"
            if rare
            else f"the largest class has {number(ratio)} times its rows"
        )
        drafts.append(
            Draft(
                label,
                codes == code,
                f"class {cls!r} has {count(rows)} rows ({percent(share)}): "
                f"{why}; labels: {_distribution_text(table)}",
                context.slice_of(label, "==", [cls]),
                value=share,
                threshold=t.minority_share if rare else t.imbalance_ratio,
            )
        )
    return drafts


@register_quality(
    "never_predicted",
    "Classes the model never predicts",
    severity="warning",
    clean="the model predicts every class some label has",
    when=_classification,
)
def never_predicted(context: QualityContext) -> list[Draft]:
    table = label_distribution(context.predictions)
    label = context.predictions.schema.label
    codes = context.predictions.y_true_codes
    drafts = []
    for code in table.index[(table["rows"] > 0) & (table["predicted"] == 0)].tolist():
        rows, share, cls = _class_row(table, code)
        drafts.append(
            Draft(
                label,
                codes == code,
                f"the model never predicts class {cls!r}, the label of "
                f"{count(rows)} rows ({percent(share)}): all of them are errors",
                context.slice_of(label, "==", [cls]),
                value=share,
            )
        )
    return drafts
