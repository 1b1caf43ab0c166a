"""Text and options for people: how values read, which targets and sources a view offers,
and what the caption says about the explainer.

No Streamlit here; the page puts these into widgets and captions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.explain.result import AttributionSource, ExplainInfo
from mlqa_debug.analyses.explain.targets import PREDICTED
from mlqa_debug.data.predictions import Predictions


def format_value(value: Any) -> str:
    """A feature value as the page shows it: 4 significant digits, thousands separated."""
    if (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or value is pd.NaT
    ):
        return "missing"
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.0f}"
        return f"{number:.4g}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()[:19].removesuffix("T00:00:00")
    return str(value)


def target_options(predictions: Predictions, source: AttributionSource | None = None) -> list[str]:
    """Targets a view may explain, the default first.

    Binary: the positive class first (one direction for every row, as in shap's
    own plots), then the other class and each row's predicted class.
    Multiclass: the predicted class, then every class. Regression: the prediction.
    """
    s = predictions.schema
    if not s.is_classification:
        return ["prediction"]
    if source == "precomputed" and s.task == "multiclass":
        return [PREDICTED]
    classes = [str(c) for c in s.classes]
    if s.task == "binary" and s.positive is not None:
        positive = str(s.positive)
        return [positive, *(c for c in classes if c != positive), PREDICTED]
    return [PREDICTED, *classes]


def example_target(
    predictions: Predictions, position: int, source: AttributionSource | None = None
) -> str:
    """The target that says why row ``position`` went wrong: its predicted class."""
    s = predictions.schema
    if not s.is_classification:
        return "prediction"
    if source == "precomputed" and s.task == "multiclass":
        return PREDICTED
    return str(s.classes[max(int(predictions.y_pred_codes[position]), 0)])


def available_sources(predictions: Predictions, *, has_model: bool) -> list[AttributionSource]:
    """Where attributions can come from for this dataset, preferred first."""
    out: list[AttributionSource] = []
    if predictions.schema.shap:
        out.append("precomputed")
    if has_model:
        out.append("model")
    return out


def explainer_text(info: ExplainInfo) -> str:
    """Which explainer made the attributions and why, for a caption: "permutation SHAP
    (model-agnostic): TreeExplainer does not support Pipeline(GradientBoostingClassifier):
    ..."; the method alone when no reason is known."""
    return f"{info.method}: {info.explainer_reason}" if info.explainer_reason else info.method
