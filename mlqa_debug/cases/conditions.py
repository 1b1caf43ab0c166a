"""What a case's condition says: the metrics a case can use, their direction, and values for people.

A case records the direction of its metric (:data:`Direction`): ``<=`` for
lower-is-better metrics (``error_rate``, ``log_loss``, ``brier``, ``ece``, ``mae``,
``rmse``, ``n_wrong``), ``>=`` for higher-is-better ones (``accuracy``,
``macro_f1``, ``macro_precision``, ``macro_recall``, ``precision[c]``,
``recall[c]``, ``f1[c]``, ``r2``). A quality case counts the rows a data-quality
check flags (:data:`QUALITY_METRICS`): ``rows_share``, their share of the table's
rows (shown as a percentage), or ``rows``, their number; both ``<=``.
:func:`passes` decides ``value <= threshold``
(or ``>=``); :func:`format_value` and :func:`format_delta` write values and changes
the way every message, table and report shows them.
"""

from __future__ import annotations

import math
import re
from typing import Literal, TypeAlias

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError

Direction: TypeAlias = Literal["<=", ">="]
"""Which way a case's metric may not move: ``<=`` lower is better, ``>=`` higher is better."""

N_WRONG = "n_wrong"
ROWS_SHARE = "rows_share"
ROWS = "rows"
QUALITY_METRICS = (ROWS_SHARE, ROWS)
"""The metrics of a quality case: the share, or the number, of the rows a check flags."""
LOWER_IS_BETTER = frozenset(
    {"error_rate", "log_loss", "brier", "ece", "mae", "rmse", N_WRONG, *QUALITY_METRICS}
)
HIGHER_IS_BETTER = frozenset({"accuracy", "macro_f1", "macro_precision", "macro_recall", "r2"})
PER_CLASS = ("precision", "recall", "f1")
RATE_METRICS = frozenset(
    {"error_rate", "accuracy", "macro_f1", "macro_precision", "macro_recall", *PER_CLASS}
)
_PER_CLASS_PATTERN = re.compile(r"^(precision|recall|f1)\[(.+)\]$", re.DOTALL)

METRIC_DESCRIPTIONS = {
    "error_rate": "error rate: share of rows predicted wrong",
    "accuracy": "accuracy: share of rows predicted right",
    "macro_f1": "macro F1 over the classes present",
    "macro_precision": "macro precision over the classes present",
    "macro_recall": "macro recall over the classes present",
    "log_loss": "log loss of the predicted probabilities",
    "brier": "Brier score of the predicted probabilities",
    "ece": "expected calibration error",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "r2": "R² (coefficient of determination)",
    N_WRONG: "number of examples predicted wrong",
    ROWS_SHARE: "share of the table's rows that the quality check flags",
    ROWS: "number of rows that the quality check flags",
}


# --------------------------------------------------------------------------- metrics


def metric_base(metric: str) -> str:
    """``recall[cat]`` -> ``recall``; other names unchanged."""
    match = _PER_CLASS_PATTERN.match(metric)
    return match.group(1) if match else metric


def metric_direction(metric: str) -> Direction:
    """``<=`` for lower-is-better metrics, ``>=`` for higher-is-better ones."""
    if metric in LOWER_IS_BETTER:
        return "<="
    if metric in HIGHER_IS_BETTER or _PER_CLASS_PATTERN.match(metric):
        return ">="
    known = sorted(LOWER_IS_BETTER | HIGHER_IS_BETTER) + [f"{p}[<class>]" for p in PER_CLASS]
    raise CaseError(
        f"metric {metric!r} cannot be a regression case; expected one of {', '.join(known)}"
    )


def metric_class(metric: str) -> str | None:
    """``recall[cat]`` -> ``cat``; ``None`` for a metric of all classes."""
    match = _PER_CLASS_PATTERN.match(metric)
    return match.group(2) if match else None


def describe_metric(metric: str) -> str:
    """A short human description, e.g. ``recall of class '1'``."""
    match = _PER_CLASS_PATTERN.match(metric)
    if match:
        return f"{match.group(1)} of class {match.group(2)!r}"
    return METRIC_DESCRIPTIONS.get(metric, metric)


def metric_choices(predictions: Predictions) -> list[str]:
    """The metrics a slice case can use on this dataset, the default first."""
    s = predictions.schema
    if not s.is_classification:
        return ["mae", "rmse", "error_rate", "r2"]
    names = ["error_rate", "accuracy", "macro_f1", "macro_precision", "macro_recall"]
    if predictions.proba_matrix is not None:
        names += ["log_loss", "brier", "ece"]
    classes = [str(c) for c in s.classes]
    if s.positive is not None:  # the positive class first
        classes.sort(key=lambda c: c != str(s.positive))
    return names + [f"{base}[{c}]" for base in ("recall", "precision", "f1") for c in classes]


def default_metric(predictions: Predictions) -> str:
    return "error_rate" if predictions.schema.is_classification else "mae"


def resolve_metric(metric: str, predictions: Predictions) -> str:
    """Check ``metric`` for this dataset; ``recall[positive]`` names the positive class."""
    s = predictions.schema
    match = _PER_CLASS_PATTERN.match(metric)
    classes = [str(c) for c in s.classes]
    if match and match.group(2) == "positive" and "positive" not in classes:
        if s.positive is None:
            raise CaseError(f"{metric!r}: this dataset has no positive class (it is {s.task})")
        metric = f"{match.group(1)}[{s.positive}]"
    choices = metric_choices(predictions)
    if metric not in choices:
        metric_direction(metric)  # an unsupported metric gets that message first
        raise CaseError(
            f"metric {metric!r} is not available on this {s.task} dataset; "
            f"expected one of {', '.join(choices[:12])}{', ...' if len(choices) > 12 else ''}"
        )
    return metric


def passes(value: float, op: Direction, threshold: float) -> bool:
    """Whether ``value op threshold`` holds (False for nan)."""
    return bool(value <= threshold) if op == "<=" else bool(value >= threshold)


def format_value(value: float | None, metric: str = "", *, digits: int = 4) -> str:
    """A metric value for people: counts as integers, shares of rows as percentages, others
    to ``digits`` significant digits."""
    if value is None or not math.isfinite(value):
        return "–"
    if metric in (N_WRONG, ROWS):
        return f"{value:,.0f}"
    if metric == ROWS_SHARE:
        return f"{value * 100:.{digits}g}%"
    return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def format_delta(delta: float | None, metric: str = "", *, baseline: float = 1.0) -> str:
    """A change of a metric: ``+0.0094`` for rates, ``+2`` for counts, ``±0`` for no change."""
    if delta is None or not math.isfinite(delta):
        return ""
    if abs(delta) <= 1e-6 * max(1.0, abs(baseline)):
        return "±0"
    if metric in (N_WRONG, ROWS):
        return f"{delta:+,.0f}"
    if metric == ROWS_SHARE:
        return f"{delta * 100:+.3g} pts"
    if metric_base(metric) in RATE_METRICS:
        return f"{delta:+.4f}"
    return f"{delta:+.4g}"
