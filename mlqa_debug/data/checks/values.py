"""Value helpers of the target checks: classes, the positive class, probabilities.

Shared by the prediction check of :mod:`.contract` (which may derive predictions
from probabilities) and the classification checks of :mod:`.targets`. They return
a failed :class:`~.registry.CheckResult` (or raise :class:`SchemaError` where no
row is at fault, which the runner records as a failure); none registers a check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.data.checks.registry import (
    CheckContext,
    CheckResult,
    failed,
    passed,
    plain,
    rows_text,
)
from mlqa_debug.data.schema import PREDICTION_NAMES
from mlqa_debug.errors import SchemaError

PROBA_TOLERANCE = 1e-6
PROBA_SUM_TOLERANCE = 1e-3


def natural_key(value: Any) -> tuple[int, Any]:
    """Numbers before text, numbers by value: the order of classes."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def never_labelled(frame: pd.DataFrame, label: str, prediction: str) -> list[Any]:
    """Predicted classes that no label has, in class order."""
    seen = {plain(v) for v in pd.unique(frame[label])}
    predicted = {plain(v) for v in pd.unique(frame[prediction])}
    return sorted(predicted - seen, key=natural_key)


def classes_of(
    frame: pd.DataFrame, label: str, prediction: str | None, proba_suffixes: Iterable[str]
) -> list[Any]:
    """Label values, predicted values and ``prob_<class>`` suffixes, in class order."""
    seen = list(pd.unique(frame[label]))
    dtype = frame[label].dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    extra: list[Any] = [] if prediction is None else never_labelled(frame, label, prediction)
    for suffix in proba_suffixes:
        value = _suffix_value(suffix, numeric)
        if value not in seen and value not in extra:
            extra.append(value)
    return sorted({plain(v) for v in [*seen, *extra]}, key=natural_key)


def _suffix_value(suffix: str, numeric: bool) -> Any:
    if not numeric:
        return suffix
    try:
        return int(suffix) if re.fullmatch(r"-?\d+", suffix) else float(suffix)
    except ValueError:
        raise SchemaError(
            f"probability column for class {suffix!r} does not match the numeric labels; "
            "expected prob_<class> with the label's values",
            column=f"prob_{suffix}",
            expected="numeric class names",
            received=suffix,
        ) from None


def positive_class(classes: Sequence[Any], positive: Any) -> Any:
    """The positive class: the one named (as a value or its text), else the last class."""
    if positive is None:
        return classes[-1]
    for c in classes:
        if c == positive or str(c) == str(positive):
            return c
    raise SchemaError(
        f"positive class {positive!r} is not among the classes {list(classes)}",
        expected=list(classes),
        received=positive,
    )


def range_problem(frame: pd.DataFrame, columns: Sequence[str]) -> CheckResult | None:
    """A failure for the first column holding a value that is not a number in [0, 1]."""
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(
            ~np.isfinite(values) | (values < -PROBA_TOLERANCE) | (values > 1 + PROBA_TOLERANCE)
        )
        if len(bad):
            shown = frame[col].iloc[bad[:3]].tolist()
            return failed(
                f"probability column {col!r} has {len(bad)} value{'s' if len(bad) > 1 else ''} "
                f"that are not numbers in [0, 1] ({rows_text(bad)}: {shown})",
                column=col,
                rows=bad,
                expected="numbers in [0, 1]",
                received=shown,
            )
    return None


def sum_problem(frame: pd.DataFrame, columns: Sequence[str]) -> CheckResult | None:
    """A failure naming the rows whose probabilities do not sum to 1."""
    sums = frame[list(columns)].to_numpy(np.float64).sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROBA_SUM_TOLERANCE)
    if not len(bad):
        return None
    return failed(
        f"probability columns do not sum to 1 on {len(bad)} row"
        f"{'s' if len(bad) > 1 else ''} ({rows_text(bad)}: sums "
        f"{[round(float(s), 4) for s in sums[bad[:3]]]})",
        column=", ".join(columns),
        rows=bad,
        expected=f"1 ± {PROBA_SUM_TOLERANCE}",
        received=sums[bad[:10]].tolist(),
    )


def derive_prediction(context: CheckContext) -> CheckResult:
    """Add a ``prediction`` column from the score or the probabilities, or fail saying why."""
    frame, probas, label = context.frame, context.proba_by_suffix, context.label
    score = context.found.get("score")
    if context.task == "regression" or not (probas or score) or label is None:
        return failed(
            "no prediction column: expected one named prediction / y_pred / pred "
            "(or say which with --prediction), or probability columns prob_<class> to derive it",
            expected=PREDICTION_NAMES,
            received=list(frame.columns),
        )
    classes = classes_of(frame, label, None, probas.keys())
    positive = context.roles.positive
    if score is None and len(classes) == 2 and len(probas) == 1:  # prob_<positive> alone
        score = probas.get(str(positive_class(classes, positive)))
    if score is not None and len(classes) == 2:
        derived, how = _from_score(frame, score, positive, classes)
    elif probas:
        derived, how = _from_probabilities(frame, probas, classes)
    else:
        return failed(
            f"no prediction column, and the score column {score!r} cannot give one: the labels "
            f"hold {len(classes)} class{'es' if len(classes) != 1 else ''}, a score needs 2",
            column=score,
            expected="2 classes",
            received=list(classes),
        )
    if isinstance(derived, CheckResult):
        return derived
    frame["prediction"] = pd.Series(derived, index=frame.index).astype(frame[label].dtype)
    context.prediction = "prediction"
    return passed(f"prediction column 'prediction' derived {how}")


def _from_score(
    frame: pd.DataFrame, score: str, positive: Any, classes: Sequence[Any]
) -> tuple[np.ndarray | CheckResult, str]:
    problem = range_problem(frame, [score])
    if problem is not None:
        return problem, ""
    positive = positive_class(classes, positive)
    negative = next(c for c in classes if c != positive)
    derived = np.where(frame[score].to_numpy(np.float64) >= 0.5, positive, negative)
    return derived, f"from the score column {score!r} (P[{positive}] >= 0.5)"


def _from_probabilities(
    frame: pd.DataFrame, probas: dict[str, str], classes: Sequence[Any]
) -> tuple[np.ndarray | CheckResult, str]:
    cols = [probas[str(c)] for c in classes if str(c) in probas]
    names = [c for c in classes if str(c) in probas]
    problem = range_problem(frame, cols)
    if problem is not None:
        return problem, ""
    derived = np.asarray(names, dtype=object)[frame[cols].to_numpy(np.float64).argmax(axis=1)]
    return derived, f"from {len(cols)} probability columns (the most probable class)"


def align_targets(frame: pd.DataFrame, label: str, prediction: str) -> None:
    """Give label and prediction one comparable dtype (ints, or strings), in place."""
    y, p = frame[label], frame[prediction]
    if pd.api.types.is_numeric_dtype(y.dtype) and pd.api.types.is_numeric_dtype(p.dtype):
        if _integral(y) and _integral(p):
            frame[label], frame[prediction] = y.astype(np.int64), p.astype(np.int64)
        return
    frame[label] = _as_text(y)
    frame[prediction] = _as_text(p)


def _integral(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s.dtype):
        return False
    values = s.to_numpy(np.float64)
    return bool(np.all(np.mod(values, 1) == 0))


def _as_text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s.dtype) and _integral(s):
        s = s.astype(np.int64)
    return s.astype(str)
