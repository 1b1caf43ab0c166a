"""What the metrics functions return: estimates with intervals and metrics of a set of rows.

Every result is a frozen dataclass with a JSON-safe ``to_dict()`` (plain floats
and ints, ``None`` for nan); the metrics look up one value by name
(``value("macro_f1")``, ``value("recall[cat]")``). The definitions are in
:mod:`.classification`, :mod:`.regression` and :mod:`.evaluation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = [
    "ClassScores",
    "ClassificationMetrics",
    "Difference",
    "Estimate",
    "M",
    "RegressionMetrics",
    "SliceReport",
    "json_float",
    "jsonable",
]


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval; ``low``/``high`` are nan when undefined (e.g. n == 0)."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe form: ``{"value": ..., "low": ..., "high": ...}``, None for nan."""
        return {
            "value": json_float(self.value),
            "low": json_float(self.low),
            "high": json_float(self.high),
        }


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class (scikit-learn, ``zero_division=0``).

    ``support`` counts rows labelled with the class, ``n_predicted`` rows predicted
    as it; a class with both 0 is absent from the rows and left out of macro averages.
    """

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    n_predicted: int


class _NamedMetrics:
    """Lookup by name and JSON form, shared by the classification and regression metrics.

    ``value("macro_f1")``, ``value("recall[cat]")``; for regression ``"error_rate"`` is
    an alias of ``"over_threshold"``. Unknown names raise ValueError listing the valid ones.
    """

    def _values(self) -> dict[str, float]:
        raise NotImplementedError

    def metric_names(self) -> tuple[str, ...]:
        """Names accepted by :meth:`value` for this object."""
        return tuple(self._values())

    def value(self, name: str) -> float:
        """One metric by name; ValueError if unknown."""
        return _lookup(self._values(), name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (plain floats and ints, None for nan)."""
        return jsonable(self)


@dataclass(frozen=True)
class ClassificationMetrics(_NamedMetrics):
    """Classification metrics of a set of rows; see the module docstring for definitions.

    ``log_loss``, ``brier`` and ``ece`` are None when the data has no probabilities
    and nan when it has but the rows are empty.
    """

    n: int
    share: float
    n_errors: int
    error_rate: Estimate
    accuracy: float
    per_class: tuple[ClassScores, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    log_loss: float | None
    brier: float | None
    ece: float | None

    def _values(self) -> dict[str, float]:
        values = {
            "n": float(self.n),
            "share": self.share,
            "n_errors": float(self.n_errors),
            "error_rate": self.error_rate.value,
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
        }
        optional = {"log_loss": self.log_loss, "brier": self.brier, "ece": self.ece}
        values.update({k: v for k, v in optional.items() if v is not None})
        for scores in self.per_class:
            values[f"precision[{scores.name}]"] = scores.precision
            values[f"recall[{scores.name}]"] = scores.recall
            values[f"f1[{scores.name}]"] = scores.f1
        return values


@dataclass(frozen=True)
class RegressionMetrics(_NamedMetrics):
    """Regression metrics of a set of rows; see the module docstring for definitions.

    ``bias`` is ``mean(y_pred - y_true)``: positive means the model over-predicts.
    ``r2`` is nan with fewer than 2 rows or when ``y_true`` is constant on them
    (scikit-learn would report 0.0 or 1.0 there). ``over_threshold`` is the share of
    rows with ``|residual| > threshold`` (the regression error rate), Wilson interval.
    """

    n: int
    share: float
    n_errors: int
    mae: Estimate
    rmse: Estimate
    bias: Estimate
    r2: float
    over_threshold: Estimate
    threshold: float

    @property
    def error_rate(self) -> Estimate:
        """The regression error rate: an alias of :attr:`over_threshold`."""
        return self.over_threshold

    def _values(self) -> dict[str, float]:
        return {
            "n": float(self.n),
            "share": self.share,
            "n_errors": float(self.n_errors),
            "mae": self.mae.value,
            "rmse": self.rmse.value,
            "bias": self.bias.value,
            "r2": self.r2,
            "over_threshold": self.over_threshold.value,
            "error_rate": self.over_threshold.value,
        }


@dataclass(frozen=True)
class Difference:
    """Slice versus rest.

    ``error_rate_diff``: slice error rate minus rest error rate, with Newcombe's
    hybrid score interval (method 10, Newcombe 1998).
    ``p_value``: two-sided test of equal error rates; Fisher's exact test when an
    expected cell count of the 2x2 table is below 5, else the pooled two-proportion
    z-test. nan when the slice or the rest is empty.
    ``lift``: slice error rate / overall error rate (nan when either is undefined or 0/0).
    """

    error_rate_diff: Estimate
    p_value: float
    lift: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return jsonable(self)


M = TypeVar("M", ClassificationMetrics, RegressionMetrics)


@dataclass(frozen=True)
class SliceReport(Generic[M]):
    """Metrics of a slice, of the rows outside it and of all rows, and their difference."""

    slice: M
    rest: M
    overall: M
    difference: Difference

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with keys slice, rest, overall, difference."""
        return jsonable(self)


def _lookup(values: dict[str, float], name: str) -> float:
    try:
        return values[name]
    except KeyError:
        known = ", ".join(values)
        raise ValueError(f"unknown metric {name!r}; valid names here: {known}") from None


def json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, nan/inf to None, numpy scalars to Python."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return json_float(value)
    return value
