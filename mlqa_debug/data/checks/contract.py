"""The input contract's column checks: roles, label, prediction, ids, features, images.

Registered in this order (the classification and regression checks follow, in
:mod:`.targets`): the columns the roles name exist, a label column, no missing
labels, a prediction column (or one derived from probabilities), no missing
predictions, ids present and unique, feature columns that convert to their types,
image columns (:mod:`.nested` adds the nested-values check before the label
check, and the embedding check after the image check).
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.data.checks.registry import (
    CheckContext,
    CheckResult,
    failed,
    passed,
    plural,
    register,
    rows_text,
    skipped,
    slice_text,
)
from mlqa_debug.data.checks.values import derive_prediction
from mlqa_debug.data.schema import (
    FeatureType,
    ImageSpec,
    feature_types,
    find_roles,
    infer_task,
    missing_label_error,
    proba_columns,
)

NAMED_ROLES = ("id", "label", "prediction", "score", "embedding")


@register("roles", "Columns named in the roles exist")
def named_columns(context: CheckContext) -> CheckResult:
    found = find_roles(context.columns, context.roles, require_label=False)
    context.found = found
    context.label, context.id, context.embedding = found["label"], found["id"], found["embedding"]
    context.proba_by_suffix = {
        k: v for k, v in proba_columns(context.columns).items() if v != context.label
    }
    named = [f"{r} {getattr(context.roles, r)!r}" for r in NAMED_ROLES if getattr(context.roles, r)]
    if not named:
        return passed("no column named in the roles; roles by convention")
    return passed(f"found {', '.join(named)}")


@register("label_column", "Label column", after=("roles",))
def label_column(context: CheckContext) -> CheckResult:
    if context.label is None:
        raise missing_label_error(context.columns)
    return passed(f"label column {context.label!r}")


@register("label_missing", "No missing labels", after=("label_column",))
def label_missing(context: CheckContext) -> CheckResult:
    return _no_missing(context.frame, str(context.label), "label")


@register("prediction_column", "Prediction column", after=("label_missing",))
def prediction_column(context: CheckContext) -> CheckResult:
    frame, found = context.frame, context.found["prediction"]
    label = frame[str(context.label)]
    context.task = context.roles.task or infer_task(label, frame[found] if found else None)
    if found is None:
        return derive_prediction(context)
    context.prediction = found
    return passed(f"prediction column {found!r}")


@register("prediction_missing", "No missing predictions", after=("prediction_column",))
def prediction_missing(context: CheckContext) -> CheckResult:
    return _no_missing(context.frame, str(context.prediction), "prediction")


def _no_missing(frame: pd.DataFrame, column: str, role: str) -> CheckResult:
    missing = np.flatnonzero(frame[column].isna().to_numpy())
    if not len(missing):
        return passed(f"{role} column {column!r}: no missing values")
    return _missing_failure(
        column,
        role,
        missing,
        advice="fill or drop them",
        expected="no missing values",
        received=f"{len(missing)} missing",
    )


def _missing_failure(
    column: str,
    role: str,
    missing: np.ndarray,
    *,
    advice: str,
    expected: str,
    received: str | None = None,
) -> CheckResult:
    """The failure of a ``role`` column with values missing at positions ``missing``."""
    return failed(
        f"{role} column {column!r} has {plural(len(missing), 'missing value')} "
        f"({rows_text(missing)}); {advice}",
        column=column,
        rows=missing,
        slice=slice_text(column, "is missing"),
        expected=expected,
        received=received,
    )


@register("ids", "Ids present and unique", after=("roles",), role="id")
def ids_present_and_unique(context: CheckContext) -> CheckResult:
    column = str(context.id)
    ids = context.frame[column]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        return _missing_failure(
            column, "id", missing, advice="every row needs an id", expected="an id on every row"
        )
    if ids.is_unique:  # cheaper than marking duplicates, which only a failure needs
        return passed(f"id column {column!r}: present on every row and unique")
    dup = np.flatnonzero(ids.duplicated(keep="first").to_numpy())
    values = ", ".join(repr(v) for v in ids.iloc[dup[:3]].tolist())
    return failed(
        f"id column {column!r} has {plural(len(dup), 'duplicate value')} "
        f"({rows_text(dup)}: {values}); ids must be unique",
        column=column,
        rows=dup,
        expected="unique ids",
        received=ids.iloc[dup[:10]].tolist(),
    )


@register("feature_types", "Features convert to their types", after=("prediction_column",))
def feature_columns(context: CheckContext) -> CheckResult:
    frame, roles = context.frame, context.roles
    ignored = tuple(c for c in roles.ignore if c in frame.columns)
    left_out = role_columns(context) | set(ignored) | set(context.left_out)
    features = [c for c in context.columns if c not in left_out]
    kinds = feature_types(frame, features, roles.types)
    dtypes = dict(zip(map(str, frame.columns), frame.dtypes.tolist(), strict=True))
    for col in [c for c, kind in kinds.items() if _needs_conversion(dtypes[c], kind)]:
        problem = _convert(frame, col, kinds, roles.types)
        if problem is not None:
            return problem
    context.features, context.ignored = kinds, ignored
    if not kinds:
        return passed("no feature columns")
    counts = ", ".join(f"{n} {kind}" for kind, n in Counter(kinds.values()).most_common())
    return passed(f"{plural(len(kinds), 'feature column')}: {counts}")


def role_columns(context: CheckContext) -> set[str]:
    """Every column a role names (label, prediction, id, score, probabilities, SHAP ...)."""
    found = context.found
    cols = {context.label, context.prediction, found["id"], found["score"], found["shap_base"]}
    cols.add(found["prediction"])
    cols |= set(found["embedding"]) | set(found["shap"].values())
    cols |= set(context.proba_by_suffix.values()) | set(found["projection"] or ())
    return {c for c in cols if c is not None}


def _needs_conversion(dtype: Any, kind: FeatureType) -> bool:
    """Whether a column of ``dtype`` must be converted to be stored as ``kind``."""
    stored = {
        "datetime": pd.api.types.is_datetime64_any_dtype,
        "numeric": pd.api.types.is_numeric_dtype,
        "boolean": pd.api.types.is_bool_dtype,
        "categorical": lambda d: isinstance(d, pd.CategoricalDtype),
    }.get(kind)
    return stored is not None and not stored(dtype)


def _convert(
    frame: pd.DataFrame,
    col: str,
    kinds: dict[str, FeatureType],
    overrides: Mapping[str, FeatureType],
) -> CheckResult | None:
    """Store a categorical as ``category``, a date as datetime, a number as float, in place.

    A column typed by the user that does not convert fails; an inferred datetime
    column with a value that is not a date becomes categorical.
    """
    s, kind = frame[col], kinds[col]
    if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
        converted = _to_datetime(s)
        problem = _unconverted(s, converted, col, "ISO dates")
        if problem is not None and col in overrides:
            return problem
        if problem is not None:
            kinds[col] = kind = "categorical"
        else:
            frame[col] = converted
    elif kind == "numeric" and not pd.api.types.is_numeric_dtype(s.dtype):
        converted = pd.to_numeric(s, errors="coerce")
        problem = _unconverted(s, converted, col, "numbers")
        if problem is not None:
            return problem
        frame[col] = converted.astype(np.float64)
    elif kind == "boolean" and not pd.api.types.is_bool_dtype(s.dtype):
        problem = _boolean_problem(s, col)
        if problem is not None:
            return problem
        frame[col] = s.astype("boolean")
    if kind == "categorical" and not isinstance(frame[col].dtype, pd.CategoricalDtype):
        frame[col] = frame[col].astype("category")
    return None


def _boolean_problem(s: pd.Series, col: str) -> CheckResult | None:
    """Booleans with missing values, or 0/1 numbers, fit the nullable ``boolean`` dtype."""
    values = s.dropna().unique()
    bad = [v for v in values if not isinstance(v, bool | np.bool_ | int | float | np.number)]
    if not bad and set(values.tolist()) <= {0, 1}:
        return None
    rows = np.flatnonzero((s.notna() & ~s.isin([True, False])).to_numpy())
    what = "booleans (True / False or 0 / 1)"
    return _wrong_values(s, col, rows, what=what, expected="True / False", verb="are not")


def _to_datetime(s: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(s, errors="coerce", format="ISO8601")
    except ValueError:  # mixed UTC offsets: compare them as UTC, as the CSV reader does
        return pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)


def _unconverted(before: pd.Series, after: pd.Series, col: str, what: str) -> CheckResult | None:
    """A failure naming the values that did not convert, or ``None`` if all did."""
    bad = np.flatnonzero((after.isna() & before.notna()).to_numpy())
    if not len(bad):
        return None
    verb = f"{'do' if len(bad) > 1 else 'does'} not convert"
    return _wrong_values(before, col, bad, what=what, expected=what, verb=verb)


def _wrong_values(
    s: pd.Series, col: str, rows: np.ndarray, *, what: str, expected: str, verb: str
) -> CheckResult:
    """The failure of column ``col`` (values ``s``) holding other than ``what`` at ``rows``."""
    shown = s.iloc[rows[:3]].tolist()
    return failed(
        f"column {col!r} should hold {what}, but {len(rows)} of its values {verb} "
        f"({rows_text(rows)}: {shown})",
        column=col,
        rows=rows,
        expected=expected,
        received=shown,
    )


@register("image_columns", "Image columns", after=("roles",))
def image_columns(context: CheckContext) -> CheckResult:
    spec = context.roles.image
    if spec is None:
        return skipped("no image columns in the roles")
    resolved: list[str] = []
    for pattern in spec.columns:
        matched = [c for c in context.columns if fnmatch.fnmatchcase(c, pattern)]
        resolved += sorted(matched, key=_natural_name)
    height, width = spec.shape
    if len(resolved) != height * width:
        return failed(
            f"image columns {list(spec.columns)} match {len(resolved)} columns; "
            f"expected {height}x{width} = {height * width}",
            expected=height * width,
            received=len(resolved),
        )
    context.image = ImageSpec(tuple(resolved), (height, width))
    return passed(f"image: {len(resolved)} columns as {height}x{width}")


def _natural_name(column: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", column)]
