"""The default thresholds of the data-quality checks, in one table.

Every number a quality check compares against is a field of :class:`Thresholds`;
:data:`DEFAULT_THRESHOLDS` holds the defaults, and a caller changes one with
``dataclasses.replace(DEFAULT_THRESHOLDS, missing_warning=0.01)``.
:func:`threshold_table` lists them (name, value, meaning) for a page or
``docs/quality.md``, from the same field metadata, so the docs cannot drift.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_THRESHOLDS", "Thresholds", "threshold_table"]


def _doc(default: float, meaning: str) -> Any:
    """A threshold field: its default and the sentence that documents it."""
    return field(default=default, metadata={"meaning": meaning})


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the quality checks; each field's ``meaning`` says what it bounds.

    Shares are fractions of the rows (``0.05`` is 5%).
    """

    missing_warning: float = _doc(
        0.05, "share of missing values from which a feature's missing values are a warning"
    )
    missing_error: float = _doc(
        0.5, "share of missing values from which a feature's missing values are an error"
    )
    near_constant: float = _doc(
        0.99, "share of the most common value from which a feature is near-constant"
    )
    high_cardinality: float = _doc(
        100, "distinct values above which a categorical feature has high cardinality"
    )
    identifier_unique: float = _doc(
        0.95, "share of distinct values (of the present ones) from which a feature is id-like"
    )
    identifier_named_unique: float = _doc(
        0.5, "share of distinct values from which a feature named like an id is id-like"
    )
    outlier_z: float = _doc(
        3.5, "absolute robust z-score, 0.6745 (x - median) / MAD, above which a value is an outlier"
    )
    outlier_min_share: float = _doc(
        0.001,
        "share of outliers on one side under which they are not reported (a normal "
        "distribution puts 0.023% beyond 3.5 on each side)",
    )
    outlier_warning: float = _doc(
        0.01, "share of outliers on one side from which the outliers are a warning"
    )
    duplicate_warning: float = _doc(
        0.01, "share of rows with an exact copy from which duplicated rows are a warning"
    )
    imbalance_ratio: float = _doc(
        10, "rows of the largest class per row of the smallest from which classes are imbalanced"
    )
    minority_share: float = _doc(0.01, "share of the rows under which a class is rare (a warning)")
    ece_warning: float = _doc(
        0.05, "expected calibration error (top label, or one class) from which it is a warning"
    )
    ece_error: float = _doc(0.15, "expected calibration error from which it is an error")
    slice_ece_excess: float = _doc(
        0.05, "how much a slice's ECE must exceed the whole table's to be reported"
    )
    calibration_bins: float = _doc(10, "equal-width probability bins of the reliability diagram")
    min_identifier_rows: float = _doc(
        20, "fewest present values a feature needs before its uniqueness makes it id-like"
    )
    min_slice_rows: float = _doc(
        1000, "fewest rows a slice needs for its calibration to be reported"
    )
    max_calibration_slices: float = _doc(
        10, "most slices the per-slice calibration check reports (the worst ones)"
    )
    alpha: float = _doc(0.05, "significance level of the error-rate tests, after Holm's correction")
    max_slice_values: float = _doc(
        200, "most values an 'in (...)' slice lists (ids of duplicates); more give no slice"
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"threshold {f.name} must be a number >= 0, got {value!r}")
        if self.missing_warning > self.missing_error or self.ece_warning > self.ece_error:
            raise ValueError("a warning threshold must not exceed its error threshold")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be strictly between 0 and 1, got {self.alpha}")
        if not 0.5 < self.near_constant <= 1:
            raise ValueError(f"near_constant must be in (0.5, 1], got {self.near_constant}")
        if int(self.calibration_bins) < 1:
            raise ValueError(f"calibration_bins must be at least 1, got {self.calibration_bins}")


DEFAULT_THRESHOLDS = Thresholds()
"""The thresholds every check uses unless told otherwise (see :func:`threshold_table`)."""


def threshold_table(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[dict[str, Any]]:
    """One row per threshold: ``{"name", "value", "meaning"}``, in field order."""
    return [
        {"name": f.name, "value": getattr(thresholds, f.name), "meaning": f.metadata["meaning"]}
        for f in dataclasses.fields(thresholds)
    ]
