"""The per-column quality checks: missing values, (near-)constant, cardinality, ids, outliers.

Registered in this order, each over the feature columns the loader resolved:

- ``missing_values``: a finding per feature with missing values, slice
  ``col is missing``; ``info`` under ``missing_warning`` (5%), ``warning`` from it,
  ``error`` from ``missing_error`` (50%). Like every finding, it is raised to
  ``warning`` when its rows err significantly more often than the rest.
- ``constant``: a feature with one present value (``warning``, slice ``col == v``),
  or whose most common value covers ``near_constant`` (99%) of the present rows
  (``info``, the rare rows: slice ``col != v``).
- ``high_cardinality``: a categorical or text feature with more than
  ``high_cardinality`` (100) distinct values (``warning``, slice ``col is not missing``).
- ``identifier_like``: a feature whose present values are nearly all distinct
  (``identifier_unique``, 95%; integer numbers, categories or text), or named like
  an id (``customer_id``, ``uuid``, ``orderKey``) with ``identifier_named_unique``
  (50%) distinct (``warning``: a model can memorise rows through it).
- ``outliers``: numeric values whose robust z-score ``0.6745 (x - median) / MAD``
  exceeds ``outlier_z`` (3.5, Iglewicz and Hoaglin), one finding per side (a slice
  is a conjunction, so ``x > hi`` and ``x < lo`` are two), reported from
  ``outlier_min_share`` (0.1%) of the rows on that side (a normal distribution
  has 0.023% there); ``info``, ``warning`` from ``outlier_warning`` (1%). The
  fences are rounded to 4 significant digits and the rows are those beyond the
  rounded fence, so the slice selects exactly them. With ``MAD = 0`` the scale is ``1.2533 * mean
  absolute deviation`` (their recommendation), and a column with neither is left
  alone.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality.registry import Draft, QualityContext, register_quality
from mlqa_debug.data.checks import Severity
from mlqa_debug.data.checks.registry import plain
from mlqa_debug.slicing import Op
from mlqa_debug.stats.format import count, number, percent

__all__ = [
    "constant",
    "distinct_values",
    "high_cardinality",
    "identifier_like",
    "looks_like_id",
    "missing_values",
    "outliers",
    "robust_fences",
    "top_value",
]

_MAD_TO_SIGMA = 0.6745  # the normal's MAD over its standard deviation (Iglewicz-Hoaglin)
_MEAN_AD_TO_SIGMA = 1.253314  # sqrt(pi / 2): the normal's sd over its mean absolute deviation
_ID_NAME = re.compile(r"(?:^|[^a-z0-9])(?:id|uuid|guid|uid|key)$", re.IGNORECASE)
_ID_CAMEL = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Key)$")


@register_quality(
    "missing_values",
    "Missing values per feature",
    severity="info",
    clean="no feature has missing values",
)
def missing_values(context: QualityContext) -> list[Draft]:
    t, n = context.thresholds, context.n_samples
    drafts = []
    for column, missing in context.missing.items():
        k = int(np.count_nonzero(missing))
        if not k:
            continue
        share = k / n
        severity: Severity = "info"
        if share >= t.missing_error:
            severity, crossed = "error", t.missing_error
        elif share >= t.missing_warning:
            severity, crossed = "warning", t.missing_warning
        else:
            crossed = t.missing_warning
        drafts.append(
            Draft(
                column,
                missing,
                f"feature {column!r} is missing on {count(k)} of {count(n)} rows "
                f"({percent(share)})",
                context.slice_of(column, "is missing"),
                severity=severity,
                value=share,
                threshold=crossed,
            )
        )
    return drafts


def top_value(context: QualityContext, column: str) -> tuple[Any, int, int, int]:
    """The most common present value of a feature, its count, distinct count, present count.

    Categories count through their codes. For numbers it is the median and its
    count, which is the most common value whenever one covers over half the rows
    (all the near-constant check needs: ``near_constant`` is over 0.5), and the
    distinct count is 1 for a constant column, else ``-1`` (:func:`distinct_values`
    counts them where a check needs it).
    """
    return context.shared(f"top:{column}", lambda: _top_value(context, column))


def _top_value(context: QualityContext, column: str) -> tuple[Any, int, int, int]:
    s = context.frame[column]
    present = len(s) - int(np.count_nonzero(context.missing[column]))
    if present == 0:
        return None, 0, 0, 0
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories))
        top = int(counts.argmax())
        return s.cat.categories[top], int(counts[top]), int(np.count_nonzero(counts)), present
    if context.features[column] == "numeric":
        x = numeric_values(context, column)
        median = _median(context, column)
        lowest, highest = np.nanmin(x), np.nanmax(x)
        distinct = 1 if lowest == highest else -1
        mode: Any = median
        if pd.api.types.is_integer_dtype(s.dtype) and float(median).is_integer():
            mode = int(median)  # ``grade != 3``, not ``grade != 3.0``
        return mode, int(np.count_nonzero(x == median)), distinct, present
    tally = s.value_counts(dropna=True)
    return tally.index[0], int(tally.iloc[0]), len(tally), present


def numeric_values(context: QualityContext, column: str) -> np.ndarray:
    """A numeric feature as float64, NaN where missing (built once per run)."""
    return context.shared(
        f"float:{column}",
        lambda: pd.to_numeric(context.frame[column], errors="coerce").to_numpy(np.float64),
    )


def _median(context: QualityContext, column: str) -> float:
    def build() -> float:
        x = numeric_values(context, column)
        present = x[~context.missing[column]]
        return float(np.median(present)) if len(present) else float("nan")

    return context.shared(f"median:{column}", build)


def _value(value: Any) -> Any:
    """A value as a slice holds it: plain Python, dates as ISO text, whole floats as floats."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return plain(value)


@register_quality(
    "constant",
    "Constant and near-constant features",
    severity="warning",
    clean="no feature is constant or near-constant",
)
def constant(context: QualityContext) -> list[Draft]:
    drafts = []
    for column in context.features:
        value, top, distinct, present = top_value(context, column)
        if present == 0:
            continue  # all missing: the missing-values check reports it
        s = context.frame[column]
        present_mask = ~context.missing[column]
        if distinct == 1:
            drafts.append(
                Draft(
                    column,
                    present_mask,
                    f"feature {column!r} is constant: every present value is {value!r}",
                    context.slice_of(column, "==", [_value(value)]),
                    value=1.0,
                    compare=False,
                )
            )
            continue
        share = top / present
        if share < context.thresholds.near_constant:
            continue
        rare = present_mask & (s != value).to_numpy(dtype=bool, na_value=False)
        drafts.append(
            Draft(
                column,
                rare,
                f"feature {column!r} is near-constant: {percent(share)} of its present values "
                f"are {value!r}; {count(present - top)} rows differ",
                context.slice_of(column, "!=", [_value(value)]),
                severity="info",
                value=share,
                threshold=context.thresholds.near_constant,
            )
        )
    return drafts


def distinct_values(context: QualityContext, column: str) -> int:
    """Distinct present values of a feature (numbers counted here, where a check needs it)."""
    _, _, distinct, _ = top_value(context, column)
    if distinct >= 0:
        return distinct
    return context.shared(
        f"distinct:{column}", lambda: int(pd.Series(numeric_values(context, column)).nunique())
    )


@register_quality(
    "high_cardinality",
    "High-cardinality categorical features",
    severity="warning",
    clean="no categorical feature has high cardinality",
)
def high_cardinality(context: QualityContext) -> list[Draft]:
    limit = context.thresholds.high_cardinality
    drafts = []
    for column in context.of_kind("categorical", "text"):
        distinct = distinct_values(context, column)
        if distinct <= limit or looks_like_id(context, column):
            continue
        drafts.append(
            Draft(
                column,
                ~context.missing[column],
                f"categorical feature {column!r} has {count(distinct)} distinct values "
                f"(more than {number(limit)}): its slices are small and its encodings wide",
                context.slice_of(column, "is not missing"),
                value=distinct,
                threshold=limit,
                compare=False,
            )
        )
    return drafts


def looks_like_id(context: QualityContext, column: str) -> bool:
    """Whether a feature's values are nearly all distinct (see the module docstring)."""
    t = context.thresholds
    _, _, _, present = top_value(context, column)
    if present < t.min_identifier_rows:
        return False
    named = bool(_ID_NAME.search(column) or _ID_CAMEL.search(column))
    kind = context.features[column]
    if kind == "numeric" and not named:
        x = numeric_values(context, column)
        present_values = x[~context.missing[column]]
        if not np.array_equal(present_values, np.round(present_values)):
            return False  # measurements are distinct anyway; whole numbers may be ids
    elif kind not in ("numeric", "categorical", "text"):
        return False
    share = distinct_values(context, column) / present
    return share >= (t.identifier_named_unique if named else t.identifier_unique)


@register_quality(
    "identifier_like",
    "Identifier-like features",
    severity="warning",
    clean="no feature looks like an identifier",
)
def identifier_like(context: QualityContext) -> list[Draft]:
    drafts = []
    for column in context.features:
        if not looks_like_id(context, column):
            continue
        _, _, _, present = top_value(context, column)
        share = distinct_values(context, column) / present
        drafts.append(
            Draft(
                column,
                ~context.missing[column],
                f"feature {column!r} looks like an identifier ({percent(share)} of its present "
                "values are distinct): a model can memorise rows through it; drop it or "
                "make it the id column",
                context.slice_of(column, "is not missing"),
                value=share,
                threshold=context.thresholds.identifier_unique,
                compare=False,
            )
        )
    return drafts


def robust_fences(x: np.ndarray, *, z: float) -> tuple[float, float] | None:
    """``(low, high)``: the values whose robust z-score is ``z``, to 4 significant digits.

    ``x`` holds the present values. ``None`` when the values have no spread (MAD
    and mean absolute deviation both 0) or there are none.
    """
    if not len(x):
        return None
    median = float(np.median(x))
    deviation = np.abs(x - median)
    mad = float(np.median(deviation))
    scale = mad / _MAD_TO_SIGMA if mad > 0 else _MEAN_AD_TO_SIGMA * float(deviation.mean())
    if not scale > 0 or not np.isfinite(scale):
        return None
    return _round(median - z * scale), _round(median + z * scale)


def _round(value: float) -> float:
    return float(f"{value:.4g}")


@register_quality(
    "outliers",
    "Numeric outliers (robust z-score)",
    severity="info",
    clean="no numeric feature has outliers",
)
def outliers(context: QualityContext) -> list[Draft]:
    t, n = context.thresholds, context.n_samples
    drafts = []
    for column in context.of_kind("numeric"):
        x = numeric_values(context, column)
        fences = robust_fences(x[~context.missing[column]], z=t.outlier_z)
        if fences is None:
            continue
        sides: tuple[tuple[Op, float, np.ndarray], ...] = (
            ("<", fences[0], x < fences[0]),
            (">", fences[1], x > fences[1]),
        )
        for op, fence, mask in sides:
            k = int(np.count_nonzero(mask))
            if not k or k / n < t.outlier_min_share:
                continue
            side = "below" if op == "<" else "above"
            drafts.append(
                Draft(
                    column,
                    mask,
                    f"feature {column!r} has {count(k)} outliers {side} "
                    f"{number(fence, digits=4)} (robust z-score over {number(t.outlier_z)}; "
                    f"{percent(k / n, digits=2)} of the rows)",
                    context.slice_of(column, op, [fence]),
                    severity="warning" if k / n >= t.outlier_warning else "info",
                    value=k / n,
                    threshold=t.outlier_warning,
                )
            )
    return drafts
