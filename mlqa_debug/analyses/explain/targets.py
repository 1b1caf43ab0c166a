"""Attributions toward one target per row: a class, each row's predicted class, the error.

An :class:`~mlqa_debug.analyses.explain.result.Explanation` has one set of
attributions per model output; :func:`toward` picks, per row, the output (and
sign, for a binary margin) that explains the chosen target, and
:func:`toward_error` the direction of the model's mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mlqa_debug.analyses.explain.estimators import class_outputs
from mlqa_debug.analyses.explain.result import Explanation, index_of
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SchemaError

PREDICTED = "predicted"
PREDICTED_CLASS_OUTPUT = "(predicted class)"


@dataclass(frozen=True)
class Attributions:
    """One attribution per row and feature toward one target (a class, the prediction)."""

    rows: np.ndarray
    values: np.ndarray
    base: np.ndarray
    output: np.ndarray
    features: tuple[str, ...]
    target: str

    def index(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """Index into these attributions of dataset ``positions`` (-1 where absent)."""
        return index_of(self.rows, positions)


def _first_output(expl: Explanation, target: str) -> Attributions:
    """Attributions of output 0: a regression's only output, or each row's class (shap_ columns)."""
    values, base, output = expl.values[:, :, 0], expl.base[:, 0], expl.output[:, 0]
    return Attributions(expl.rows, values, base, output, expl.features, target)


def _toward_codes(
    expl: Explanation, codes: np.ndarray, predictions: Predictions, target: str
) -> Attributions:
    if expl.info.per_row_class:
        return _first_output(expl, target)
    index, sign = class_outputs(expl.outputs, predictions)
    k, s = index[codes], sign[codes]
    n = np.arange(len(codes))
    values = expl.values[n, :, k] * s[:, None]
    return Attributions(
        expl.rows, values, expl.base[n, k] * s, expl.output[n, k] * s, expl.features, target
    )


def toward(expl: Explanation, predictions: Predictions, target: str = PREDICTED) -> Attributions:
    """Attributions toward ``target``: ``"predicted"`` (each row's predicted class) or a class.

    Regression has one target, the prediction. Precomputed multiclass
    attributions explain the predicted class only.
    """
    if not predictions.schema.is_classification:
        return _first_output(expl, "the prediction")
    if target == PREDICTED:
        codes = np.maximum(predictions.y_pred_codes[expl.rows], 0)
        return _toward_codes(expl, codes, predictions, "the predicted class")
    classes = [str(c) for c in predictions.schema.classes]
    if target not in classes:
        raise SchemaError(
            f"class {target!r} is not one of the dataset's classes {classes}",
            expected=classes,
            received=target,
        )
    if expl.info.per_row_class:
        raise SchemaError(
            "the precomputed shap_ columns explain the predicted class only; "
            f"choose '{PREDICTED}' or register a model to explain class {target!r}",
            expected=PREDICTED,
            received=target,
        )
    codes = np.full(expl.n_rows, classes.index(target))
    return _toward_codes(expl, codes, predictions, f"class {target}")


def toward_error(expl: Explanation, predictions: Predictions) -> Attributions:
    """Attributions that push toward the model's mistake.

    Classification: toward the predicted class (on an error, the wrong class).
    Regression: in the direction of the residual (up where the model predicts
    too high, down where too low).
    """
    if predictions.schema.is_classification:
        return toward(expl, predictions, PREDICTED)
    base = toward(expl, predictions)
    direction = np.sign(predictions.residual[base.rows])
    direction[direction == 0] = 1.0
    return replace(
        base,
        values=base.values * direction[:, None],
        base=base.base * direction,
        output=base.output * direction,
        target="the direction of the error",
    )
