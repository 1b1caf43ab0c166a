"""Precomputed attributions: the ``shap_<feature>`` columns of a predictions table.

They are read as attributions toward the positive class (binary), the predicted
class (multiclass) or the prediction (regression), with the base value from a
``shap_base_value`` / ``shap_base`` column; the output space is whichever of the
table's outputs base + attributions reproduces.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlqa_debug.analyses.explain.result import ExplainInfo, Explanation
from mlqa_debug.analyses.explain.targets import PREDICTED_CLASS_OUTPUT
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError

#: How :attr:`ExplainInfo.explainer_reason` names this source.
PRECOMPUTED_REASON = "the table has shap_<feature> columns"


def precomputed_explanation(predictions: Predictions) -> Explanation:
    """Every row's ``shap_<feature>`` columns as an :class:`Explanation` (memoised)."""
    if not predictions.schema.shap:
        raise SchemaError(
            "the dataset has no shap_<feature> columns",
            file=predictions.source,
            expected="columns named shap_<feature>",
        )
    return predictions.memo("explain-precomputed", lambda: _precomputed(predictions))


def _precomputed(predictions: Predictions) -> Explanation:
    s = predictions.schema
    features = tuple(s.shap)
    raw = predictions.frame[[s.shap[f] for f in features]].apply(pd.to_numeric, errors="coerce")
    values = raw.to_numpy(np.float64)
    notes: list[str] = []
    if np.isnan(values).any():
        notes.append(f"{int(np.isnan(values).sum()):,} missing attribution values count as 0")
        values = np.nan_to_num(values)
    n = len(values)
    if s.shap_base is not None:
        base = pd.to_numeric(predictions.frame[s.shap_base], errors="coerce").to_numpy(np.float64)
    else:
        base = np.full(n, np.nan)
        notes.append("no shap_base_value column: base values are unknown")
    output = base + values.sum(axis=1)
    space, error = _precomputed_space(predictions, output)
    if space is None:
        notes.append("base + attributions matches none of the model's outputs in the table")
    if s.task == "regression":
        outputs: tuple[str, ...] = ("prediction",)
    elif s.task == "binary":
        outputs = (str(s.positive),)
    else:
        outputs = (PREDICTED_CLASS_OUTPUT,)
    info = ExplainInfo(
        source="precomputed",
        method="precomputed shap_ columns",
        output_space=space or "as provided",
        additivity_error=error,
        checked_rows=n if space is not None else 0,
        per_row_class=s.task == "multiclass",
        notes=tuple(notes),
        explainer_reason=PRECOMPUTED_REASON,
    )
    return Explanation(
        np.arange(n), values[:, :, None], base[:, None], output[:, None], features, outputs, info
    )


def _precomputed_space(predictions: Predictions, total: np.ndarray) -> tuple[str | None, float]:
    """Which of the table's outputs base + attributions reproduces, and how closely."""
    if np.isnan(total).all():
        return None, math.nan
    candidates: dict[str, np.ndarray] = {}
    s = predictions.schema
    if not s.is_classification:
        candidates["prediction"] = predictions.frame[s.prediction].to_numpy(np.float64)
    elif predictions.proba_matrix is not None:
        proba = predictions.proba_matrix
        target = (
            proba[:, list(s.classes).index(s.positive)]
            if s.task == "binary"
            else proba[np.arange(len(proba)), np.maximum(predictions.y_pred_codes, 0)]
        )
        clipped = np.clip(target, 1e-12, 1 - 1e-12)
        candidates["probability"] = target
        candidates["log-odds"] = np.log(clipped / (1 - clipped))
    best: tuple[str | None, float] = (None, math.nan)
    for name, reference in candidates.items():
        scale = max(1.0, float(np.nanmax(np.abs(reference))))
        error = float(np.nanmax(np.abs(total - reference))) / scale
        if error <= 1e-3 and (best[0] is None or error < best[1]):
            best = (name, error)
    return best
