"""The input contract's target checks: regression values, classes, scores, probabilities.

Registered after :mod:`.contract`'s, in this order: label and prediction are
numbers (regression); the classes and the positive class; predicted classes that
no label has (a warning); the score column; probability columns covering the
classes, holding numbers in [0, 1], rows summing to 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from mlqa_debug.data.checks.registry import (
    CheckContext,
    CheckFunction,
    CheckResult,
    Severity,
    failed,
    passed,
    plural,
    register,
    rows_text,
    skipped,
    slice_text,
    warned,
)
from mlqa_debug.data.checks.values import (
    PROBA_SUM_TOLERANCE,
    align_targets,
    classes_of,
    never_labelled,
    positive_class,
    range_problem,
    sum_problem,
)

DEFAULT_ERROR_QUANTILE = 0.9


def _for_classification(
    name: str, title: str, *, after: Sequence[str], severity: Severity = "error"
) -> Callable[[CheckFunction], CheckFunction]:
    """:func:`register` for a check of classification tasks only."""
    return register(name, title, after=after, task="classification", severity=severity)


@register(
    "regression_values",
    "Label and prediction are numbers",
    after=("prediction_missing",),
    task="regression",
)
def regression_values(context: CheckContext) -> CheckResult:
    frame, label, prediction = context.frame, str(context.label), str(context.prediction)
    for col in (label, prediction):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((values.isna() & frame[col].notna()).to_numpy())
        if len(bad):
            return failed(
                f"regression column {col!r} has {plural(len(bad), 'non-numeric value')} "
                f"({rows_text(bad)}: {frame[col].iloc[bad[:3]].tolist()})",
                column=col,
                rows=bad,
                expected="numbers",
            )
        frame[col] = values.astype(np.float64)
    threshold = context.roles.error_threshold
    if threshold is None:
        residual = np.abs(frame[prediction].to_numpy() - frame[label].to_numpy())
        threshold = float(np.quantile(residual, DEFAULT_ERROR_QUANTILE))
    context.error_threshold = float(threshold)
    return passed(
        f"label and prediction are numbers; an error is |residual| > {context.error_threshold:.4g}"
    )


@_for_classification("classes", "Classes", after=("prediction_missing",))
def classes(context: CheckContext) -> CheckResult:
    frame, label, prediction = context.frame, str(context.label), str(context.prediction)
    align_targets(frame, label, prediction)
    found = classes_of(frame, label, prediction, context.proba_by_suffix.keys())
    if context.task == "binary" and len(found) > 2 and context.roles.task is None:
        context.task = "multiclass"  # labels hold 2 classes, predictions more
    if context.task == "binary" and len(found) > 2:
        return failed(
            f"task is binary but label and prediction hold {len(found)} classes "
            f"({', '.join(map(repr, found[:8]))})",
            column=label,
            expected="2 classes",
            received=list(found),
        )
    positive = positive_class(found, context.roles.positive) if len(found) == 2 else None
    by_suffix = context.proba_by_suffix
    context.classes, context.positive = tuple(found), positive
    context.proba = {c: by_suffix[str(c)] for c in found if str(c) in by_suffix}
    return passed(f"{len(found)} classes; label and prediction compared as one type")


@_for_classification(
    "predicted_classes",
    "Predicted classes are label classes",
    after=("classes",),
    severity="warning",
)
def predicted_classes(context: CheckContext) -> CheckResult:
    frame, prediction = context.frame, str(context.prediction)
    never = never_labelled(frame, str(context.label), prediction)
    if not never:
        return passed("every predicted class is a class of some label")
    rows = np.flatnonzero(frame[prediction].isin(never).to_numpy())
    return warned(
        f"prediction column {prediction!r} has class{'es' if len(never) > 1 else ''} "
        f"{', '.join(map(repr, never[:5]))} that no label has ({rows_text(rows)}); "
        "they count as errors",
        column=prediction,
        rows=rows,
        slice=slice_text(prediction, "in", never),
    )


@_for_classification("score_column", "Score column", after=("classes",), severity="warning")
def score_column(context: CheckContext) -> CheckResult:
    found, given = context.classes, context.found.get("score")
    score = given if context.task == "binary" else None
    if score is not None and len(found) < 2:
        return warned(
            f"score column {score!r} is ignored: label and prediction hold the single class "
            f"{found[0]!r}, so the score's class is unknown",
            column=score,
        )
    proba, positive = context.proba, context.positive
    if len(found) == 2 and score is None and len(proba) == 1 and positive in proba:
        score, context.proba = proba[positive], {}
    context.score = score
    if score is None and given is not None:
        return skipped(f"a score column is used in binary tasks only (task: {context.task})")
    if score is None:
        return skipped("no score column")
    return passed(f"score column {score!r} gives P[{positive}]")


@_for_classification(
    "proba_coverage", "Probability columns cover the classes", after=("score_column",)
)
def proba_coverage(context: CheckContext) -> CheckResult:
    proba, found = context.proba, context.classes
    if not proba:
        return skipped("no probability columns")
    if len(proba) < len(found):
        absent = [c for c in found if c not in proba]
        return failed(
            f"probability columns cover {len(proba)} of {len(found)} classes; "
            f"no prob_<class> column for {', '.join(map(repr, absent[:5]))}",
            expected=[f"prob_{c}" for c in found],
            received=list(proba.values()),
        )
    return passed(f"{plural(len(proba), 'probability column')}, one per class")


@_for_classification(
    "proba_range", "Probabilities are numbers in [0, 1]", after=("proba_coverage",)
)
def proba_range(context: CheckContext) -> CheckResult:
    score = context.score
    columns = [score] if score else list(context.proba.values())
    if not columns:
        return skipped("no probability or score columns")
    problem = range_problem(context.frame, columns)
    if problem is not None:
        return problem
    if score:
        return passed(f"score column {score!r}: numbers in [0, 1] (P[{context.positive}])")
    return passed(f"{plural(len(columns), 'probability column')}: numbers in [0, 1]")


@_for_classification("proba_sum", "Probability rows sum to 1", after=("proba_range",))
def proba_sum(context: CheckContext) -> CheckResult:
    if context.score:
        return skipped(f"the score column {context.score!r} gives the probabilities")
    if not context.proba:
        return skipped("no probability columns")
    problem = sum_problem(context.frame, list(context.proba.values()))
    return problem or passed(f"every row sums to 1 (± {PROBA_SUM_TOLERANCE})")
