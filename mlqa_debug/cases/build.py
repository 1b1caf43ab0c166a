"""Building a new case on a dataset: its draft (metric, baseline, default threshold), then the case.

:func:`draft_case` is what the save form shows before anything is saved;
:func:`build_case` measures the baseline, chooses the default threshold (or takes
the given one), records the provenance and, for an example set, the frozen rows
(:func:`frozen_rows`, every column). :func:`suggest_name` proposes an unused name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd

from mlqa_debug.cases.conditions import (
    N_WRONG,
    Direction,
    default_metric,
    format_value,
    metric_direction,
    resolve_metric,
)
from mlqa_debug.cases.measurement import (
    Measurement,
    _half_width,
    example_mask,
    match_examples,
    measure,
)
from mlqa_debug.cases.model import (
    MAX_EXAMPLES,
    Case,
    ExampleSet,
    Provenance,
    default_author,
    finite_number,
    new_case_id,
    now_text,
)
from mlqa_debug.cases.tolerance import default_threshold
from mlqa_debug.data.ids import ExampleId, id_key, plain_id
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import Slice
from mlqa_debug.stats import ClassificationMetrics, RegressionMetrics


@dataclass(frozen=True)
class Draft:
    """What a new case would record on this data: metric, baseline and default threshold."""

    metric: str
    op: Direction
    baseline: Measurement
    threshold: float

    @property
    def condition(self) -> str:
        return f"{self.metric} {self.op} {format_value(self.threshold, self.metric)}"


def measurement_of(result: ClassificationMetrics | RegressionMetrics, metric: str) -> Measurement:
    """``metric`` of rows measured elsewhere (an engine's exact slice report), as a baseline.

    The value, the rows and the 95% half-width, as :func:`measure` gives them on a
    loaded table, so :func:`draft_case` and :func:`build_case` can take it as
    ``baseline``; a metric the rows lack raises :class:`CaseError`.
    """
    try:
        value = result.value(metric)
    except ValueError as e:
        raise CaseError(str(e)) from None
    return Measurement(value, result.n, _half_width(result, metric) if result.n else math.nan)


def draft_case(
    predictions: Predictions,
    *,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    metric: str | None = None,
    baseline: Measurement | None = None,
) -> Draft:
    """Baseline and default threshold of a would-be case (what the save form shows).

    ``baseline`` is the metric already measured on the case's rows elsewhere (an
    external dataset's engine counts every row; ``predictions`` is then its sample):
    it is used instead of measuring ``predictions``, and refused the same way when
    its rows are empty or its value undefined.
    """
    if (where is None) == (ids is None):
        raise CaseError("a case is built from a slice or from example ids (exactly one)")
    if ids is not None:
        if metric not in (None, N_WRONG):
            raise CaseError(f"an example-set case uses the metric {N_WRONG!r}, not {metric!r}")
        metric = N_WRONG
    else:
        metric = resolve_metric(metric or default_metric(predictions), predictions)
    if baseline is None:
        error_threshold = predictions.schema.error_threshold
        baseline = measure(
            predictions, metric=metric, where=where, ids=ids, error_threshold=error_threshold
        )
    if baseline.rows == 0:
        raise CaseError("the slice is empty on this dataset; a case needs at least one row")
    if not math.isfinite(baseline.value):
        raise CaseError(f"{metric} is undefined on these {baseline.rows:,} rows")
    return Draft(metric, metric_direction(metric), baseline, default_threshold(metric, baseline))


@dataclass(frozen=True)
class NewCase:
    """A case built from a dataset and, for an example set, its frozen rows."""

    case: Case
    rows: pd.DataFrame | None = None


def provenance(
    predictions: Predictions, *, dataset: str | None = None, page: str | None = None
) -> Provenance:
    """Where a table comes from: fingerprint, dataset name, file name, model and version."""
    model = predictions.schema.model
    return Provenance(
        fingerprint=predictions.fingerprint,
        dataset=dataset,
        file=Path(predictions.source).name if predictions.source else None,
        model=None if model is None else model.name,
        model_version=None if model is None else model.version,
        page=page,
    )


def build_case(
    predictions: Predictions,
    *,
    name: str,
    where: Slice | None = None,
    ids: Sequence[object] | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    note: str = "",
    dataset: str | None = None,
    page: str | None = None,
    author: str | None = None,
    baseline: Measurement | None = None,
) -> NewCase:
    """A new case on ``predictions``: baseline measured now, threshold default or given.

    ``baseline``: measured elsewhere, as :func:`draft_case` takes it.
    """
    checked_ids = _check_ids(predictions, ids) if ids is not None else None
    draft = draft_case(predictions, where=where, ids=checked_ids, metric=metric, baseline=baseline)
    s = predictions.schema
    stamp = now_text()
    case = Case(
        id=new_case_id(),
        name=name,
        metric=draft.metric,
        op=draft.op,
        threshold=draft.threshold if threshold is None else finite_number(threshold, "threshold"),
        baseline=_round_baseline(draft.baseline.value),
        baseline_rows=draft.baseline.rows,
        task=s.task,
        where=None if where is None else where.text,
        examples=None if checked_ids is None else _example_set(predictions, checked_ids),
        error_threshold=s.error_threshold,
        note=note,
        author=default_author() if author is None else author,
        source=provenance(predictions, dataset=dataset, page=page),
        created=stamp,
        updated=stamp,
    )
    rows = None if checked_ids is None else frozen_rows(predictions, checked_ids)
    return NewCase(case, rows)


def _round_baseline(value: float) -> float:
    return float(f"{value:.6g}")


def _check_ids(predictions: Predictions, ids: Sequence[object]) -> list[ExampleId]:
    plain = list({id_key(v): plain_id(v) for v in ids}.values())
    if not plain:
        raise CaseError("the example set is empty; select at least one example")
    if len(plain) > MAX_EXAMPLES:
        raise CaseError(
            f"{len(plain):,} examples selected; an example set holds at most {MAX_EXAMPLES:,} "
            "(save a slice instead)"
        )
    match = match_examples(predictions, plain)
    if len(match.only_left):
        missing = match.only_left.tolist()
        raise CaseError(
            f"{len(missing)} of the {len(plain)} ids are not in this dataset "
            f"(e.g. {', '.join(map(repr, missing[:5]))})"
        )
    values = predictions.frame[cast(str, predictions.schema.id)].to_numpy()[match.right]
    return [plain_id(v) for v in values]  # as the dataset writes them (7, not '7')


def _example_set(predictions: Predictions, ids: list[ExampleId]) -> ExampleSet:
    s = predictions.schema
    return ExampleSet(
        id_column=cast(str, s.id),
        ids=tuple(ids),
        label=s.label,
        prediction=s.prediction,
        features=tuple(s.features),
    )


def frozen_rows(predictions: Predictions, ids: Sequence[object]) -> pd.DataFrame:
    """The rows of these ids, every column, categories back to their plain values."""
    mask, _ = example_mask(predictions, ids)
    rows = predictions.frame.loc[mask].reset_index(drop=True)
    for column in rows.columns:
        if isinstance(rows[column].dtype, pd.CategoricalDtype):
            rows[column] = rows[column].astype(rows[column].cat.categories.dtype)
    return rows


def suggest_name(
    taken: Iterable[str],
    *,
    where: Slice | None = None,
    n_examples: int | None = None,
    page: str = "",
) -> str:
    """A readable, unused name: the slice text (shortened) or ``12 examples from embeddings``."""
    if n_examples is not None:
        base = f"{n_examples:,} example{'s' if n_examples != 1 else ''}"
        base += f" from {page}" if page else ""
    else:
        text = where.text if where is not None and where.text else "all rows"
        base = text if len(text) <= 80 else text[:77].rstrip() + "..."
    used = {t.casefold() for t in taken}
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base} ({n})", n + 1
    return name
