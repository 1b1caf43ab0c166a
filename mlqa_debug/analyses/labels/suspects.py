"""Suspected label errors from a table's class probabilities (confident learning, via cleanlab).

Confident learning (Northcutt, Jiang & Chuang, 2021) estimates, per class, the
average probability the model gives that class on the rows labelled with it (the
class's threshold). A row is counted as "confidently another class" when some other
class reaches its own threshold; the off-diagonal counts of that *confident joint*
say how many labels of each kind to prune, and the rows pruned are those with the
widest margin for the other class. The issues are then ranked by a label quality
score in [0, 1] (lower = more likely wrong): ``self_confidence`` (the probability of
the given label) or ``normalized_margin``. The work is done by
``cleanlab.filter.find_label_issues(filter_by="prune_by_noise_rate")`` and
``cleanlab.rank.get_label_quality_scores``; :data:`METHODS` names and references the
method for the page.

The adapter (:func:`prepare_inputs`, :func:`table_inputs`) turns any table's labels
and probability columns into what cleanlab expects: labels as codes ``0..K-1`` in the
probability columns' order (any column order and label type: strings, numbers);
a label with no probability column is refused (:class:`~mlqa_debug.errors.SchemaError`
naming the class, its rows and the column expected); rows with a missing probability
or label are left out of the ranking (listed in ``skipped``, with a ``UserWarning``);
classes no label has are left out of the matrix (its rows renormalised), because
cleanlab needs every class among the labels, and named in ``dropped_classes``.

The ranking's *scope*: ``"table"`` (default) runs confident learning on every row of
the table and keeps the slice's rows, so a row's verdict does not depend on the
slice looked at and a slice holding one class still works; ``"slice"`` runs it on the
slice's rows only. Positions are always row positions in the full table.

:func:`rank_suspects` returns a :class:`LabelSuspects` whose ``table`` has one row per
ranked example, in review order: the flagged issues first (cleanlab's order), then
the others by score. Columns: ``position``, ``id`` (``None`` without an id column),
``given``, ``suggested`` (the most probable class other than the given one),
``score`` and ``is_issue``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.data.checks.registry import rows_text
from mlqa_debug.errors import ParameterError, SchemaError
from mlqa_debug.slicing import check_mask

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = [
    "METHODS",
    "RANK_BY",
    "SCOPES",
    "LabelInputs",
    "LabelMethod",
    "LabelSuspects",
    "RankBy",
    "Scope",
    "confident_learning",
    "prepare_inputs",
    "rank_inputs",
    "rank_suspects",
    "suspects_frame",
    "table_inputs",
]

RankBy = Literal["self_confidence", "normalized_margin"]
Scope = Literal["table", "slice"]
RANK_BY: tuple[RankBy, ...] = get_args(RankBy)
SCOPES: tuple[Scope, ...] = get_args(Scope)

_PAPER = (
    "Northcutt, Jiang & Chuang (2021), Confident Learning: Estimating Uncertainty in "
    "Dataset Labels, Journal of Artificial Intelligence Research 70, 1373-1411 "
    "(arXiv:1911.00068)"
)


@dataclass(frozen=True)
class LabelMethod:
    """How suspects are found and ranked: a name, the reference, and the code that runs it."""

    key: RankBy
    name: str
    reference: str
    implementation: str

    @property
    def citation(self) -> str:
        """One line for the page: name, reference and implementation."""
        return f"{self.name}. {self.reference}. Computed with {self.implementation}."


METHODS: dict[RankBy, LabelMethod] = {
    key: LabelMethod(
        key,
        f"Confident learning (prune by noise rate), ranked by {key.replace('_', ' ')}",
        _PAPER,
        "cleanlab.filter.find_label_issues(filter_by='prune_by_noise_rate', "
        f"return_indices_ranked_by='{key}') and cleanlab.rank.get_label_quality_scores",
    )
    for key in RANK_BY
}


@dataclass(frozen=True)
class LabelInputs:
    """What confident learning reads, for the rows that can be ranked.

    ``labels`` are codes into ``classes`` (the columns of ``pred_probs``), ``positions``
    the rows' positions in the full table, ``skipped`` the positions left out (missing
    probability or label), ``dropped_classes`` the classes no label has (left out of
    ``pred_probs``, rows renormalised).
    """

    labels: npt.NDArray[np.int64]
    pred_probs: npt.NDArray[np.float64]
    classes: tuple[Any, ...]
    positions: npt.NDArray[np.int64]
    skipped: npt.NDArray[np.int64]
    dropped_classes: tuple[Any, ...] = ()

    @property
    def n_samples(self) -> int:
        return len(self.labels)


def prepare_inputs(
    y_true: npt.ArrayLike,
    pred_probs: npt.ArrayLike,
    *,
    classes: Sequence[Any],
    positions: npt.ArrayLike | None = None,
    file: str | None = None,
    columns: Sequence[str] | None = None,
) -> LabelInputs:
    """Labels (any values) and probabilities (``classes`` = each column's class) for cleanlab.

    Labels match classes as they are or as text (``'1'`` is class ``1``). A label no
    column has raises :class:`SchemaError`; ``columns`` (the probability columns'
    names, in order) and ``file`` make the message name them.
    """
    values = pd.Series(np.asarray(y_true, dtype=object))
    probs = np.asarray(pred_probs, dtype=np.float64)
    names = list(columns) if columns is not None else [f"prob_{c}" for c in classes]
    if probs.ndim != 2 or probs.shape != (len(values), len(classes)):
        raise SchemaError(
            f"probabilities must be {len(values)} rows x {len(classes)} classes "
            f"({', '.join(names)}), got shape {probs.shape}",
            file=file,
            expected=(len(values), len(classes)),
            received=probs.shape,
        )
    lookup = {**{str(c): i for i, c in enumerate(classes)}, **{c: i for i, c in enumerate(classes)}}
    codes = values.map(lambda v: lookup.get(v, lookup.get(str(v), -1)) if pd.notna(v) else -2)
    codes_array = codes.to_numpy(dtype=np.int64)
    unknown = np.flatnonzero(codes_array == -1)
    if len(unknown):
        absent = sorted({str(v) for v in values.iloc[unknown]})
        raise SchemaError(
            f"labels {', '.join(map(repr, absent[:5]))} have no probability column "
            f"({rows_text(unknown)}); label review needs prob_<class> columns for every "
            f"label, expected {', '.join(f'prob_{a}' for a in absent[:5])} besides "
            f"{', '.join(names)}",
            file=file,
            rows=unknown.tolist(),
            expected=[f"prob_{a}" for a in absent],
            received=names,
        )
    where = np.arange(len(values)) if positions is None else np.asarray(positions, np.int64)
    return _usable(codes_array, probs, tuple(classes), where)


def table_inputs(predictions: Predictions, *, mask: npt.ArrayLike | None = None) -> LabelInputs:
    """The inputs of a validated table's rows (all, or those of ``mask``).

    A table without probabilities raises :class:`ParameterError`: label review needs
    ``prob_<class>`` columns (or a ``score`` column for a binary task).
    """
    s = predictions.schema
    if not s.is_classification:
        raise ParameterError(
            f"{predictions.source}: label review needs a classification task, "
            f"this table is {s.task}",
            name="task",
        )
    proba = predictions.proba_matrix
    if proba is None:
        raise ParameterError(
            f"{predictions.source}: label review needs prob_<class> columns (one per class: "
            f"{', '.join(f'prob_{c}' for c in s.classes[:6])}) or, for a binary task, a "
            f"score column; the table has none (label {s.label!r}, prediction "
            f"{s.prediction!r})",
            name="probabilities",
        )
    if mask is None:  # the table's own read-only arrays, not a copy of a million rows
        rows = np.arange(predictions.n_samples, dtype=np.int64)
        return _usable(predictions.y_true_codes.astype(np.int64), proba, tuple(s.classes), rows)
    rows = np.flatnonzero(check_mask(mask, predictions.n_samples)).astype(np.int64)
    codes = predictions.y_true_codes[rows].astype(np.int64)
    return _usable(codes, proba[rows], tuple(s.classes), rows)


def _usable(
    codes: npt.NDArray[np.int64],
    probs: npt.NDArray[np.float64],
    classes: tuple[Any, ...],
    positions: npt.NDArray[np.int64],
) -> LabelInputs:
    """Leave out rows without label or probabilities, and classes no label has."""
    ok = (codes >= 0) & np.isfinite(probs).all(axis=1)
    skipped = positions[~ok]
    if len(skipped):
        warnings.warn(
            f"{len(skipped):,} rows have a missing label or probability and are not ranked "
            f"(positions {', '.join(map(str, skipped[:5].tolist()))}"
            f"{', ...' if len(skipped) > 5 else ''})",
            UserWarning,
            stacklevel=3,
        )
    if not ok.all():
        codes, probs, positions = codes[ok], probs[ok], positions[ok]
    present = np.bincount(codes, minlength=len(classes)) > 0
    if present.sum() < 2:
        raise ParameterError(
            f"label review needs labels of at least two classes among the ranked rows; "
            f"found {int(present.sum())} ({len(codes):,} rows with probabilities)",
            name="labels",
        )
    dropped = tuple(c for c, p in zip(classes, present, strict=True) if not p)
    if dropped:
        kept = np.flatnonzero(present)
        remap = np.cumsum(present) - 1
        codes = remap[codes]
        probs = probs[:, kept]
        total = probs.sum(axis=1, keepdims=True)
        probs = np.divide(probs, total, out=np.full_like(probs, 1 / len(kept)), where=total > 0)
        classes = tuple(classes[i] for i in kept)
    return LabelInputs(
        codes.astype(np.int64), np.ascontiguousarray(probs), classes, positions, skipped, dropped
    )


def confident_learning(
    labels: npt.NDArray[np.int64],
    pred_probs: npt.NDArray[np.float64],
    *,
    rank_by: RankBy = "self_confidence",
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """cleanlab's ranked issue indices and every row's label quality score (lower = worse).

    One process (``n_jobs=1``): faster here than cleanlab's pool, and safe in a server.
    The scores are those of ``cleanlab.rank.get_label_quality_scores(method=rank_by)``.
    """
    from cleanlab import rank
    from cleanlab.filter import find_label_issues

    if rank_by not in RANK_BY:
        raise ParameterError(
            f"rank_by must be one of {', '.join(RANK_BY)}, got {rank_by!r}", name="rank_by"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="May not flag all label issues")
        issues = find_label_issues(labels, pred_probs, return_indices_ranked_by=rank_by, n_jobs=1)
    score = {  # what rank.get_label_quality_scores calls, without validating the inputs again
        "self_confidence": rank.get_self_confidence_for_each_label,
        "normalized_margin": rank.get_normalized_margin_for_each_label,
    }[rank_by]
    scores = score(labels, pred_probs)
    return np.asarray(issues, dtype=np.int64), np.asarray(scores, dtype=np.float64)


@dataclass(frozen=True)
class LabelSuspects:
    """Ranked examples of one table (or slice): see the module docstring for ``table``."""

    table: pd.DataFrame
    method: LabelMethod
    classes: tuple[Any, ...]
    n_rows: int
    """Rows in the slice (or table)."""
    n_ranked: int
    """Rows of the slice ranked (all but ``skipped``); ``table`` holds the first ``limit``."""
    n_issues: int
    """Rows of the slice flagged as label issues."""
    skipped: npt.NDArray[np.int64]
    dropped_classes: tuple[Any, ...] = ()

    @property
    def suspects(self) -> pd.DataFrame:
        """The flagged issues only, in review order (what the queue walks through)."""
        return self.table[self.table["is_issue"].to_numpy()]

    @property
    def order(self) -> npt.NDArray[np.int64]:
        """Positions in the full table, in review order."""
        return self.table["position"].to_numpy(np.int64)


def rank_inputs(
    inputs: LabelInputs, *, rank_by: RankBy = "self_confidence", keep: npt.ArrayLike | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Review order (indices into ``inputs``), issue flags and scores of the rows kept.

    ``keep`` (a boolean array over ``inputs``' rows) ranks all rows and returns only
    those kept: how the ``"table"`` scope serves a slice.
    """
    issues, scores = confident_learning(inputs.labels, inputs.pred_probs, rank_by=rank_by)
    flagged = np.zeros(inputs.n_samples, dtype=bool)
    flagged[issues] = True
    rest = np.flatnonzero(~flagged)
    rest = rest[np.argsort(scores[rest], kind="stable")]
    order = np.concatenate([issues, rest])
    if keep is not None:
        order = order[np.asarray(keep, dtype=bool)[order]]
    return order, flagged[order], scores[order]


def rank_suspects(
    predictions: Predictions,
    *,
    mask: npt.ArrayLike | None = None,
    rank_by: RankBy = "self_confidence",
    scope: Scope = "table",
    limit: int | None = None,
) -> LabelSuspects:
    """Rank the examples of ``predictions`` (inside ``mask``) by how likely their label is wrong.

    The whole-table ranking is memoised on ``predictions``, so another slice on the
    same table costs a filter. ``limit`` keeps only the first rows of the review
    order in ``table`` (a page showing one queue position needs few).
    """
    if scope not in SCOPES:
        raise ParameterError(
            f"scope must be one of {', '.join(SCOPES)}, got {scope!r}", name="scope", value=scope
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ParameterError(f"limit must be a number of rows >= 0, got {limit!r}", name="limit")
    n = predictions.n_samples
    in_slice = np.ones(n, bool) if mask is None else check_mask(mask, n)
    if scope == "table" or mask is None:
        inputs, order, flags, scores = predictions.memo(
            f"labels-rank:{rank_by}", lambda: _ranked_table(predictions, rank_by)
        )
        keep = in_slice[inputs.positions[order]]
        order, flags, scores = order[keep], flags[keep], scores[keep]
        skipped = inputs.skipped[in_slice[inputs.skipped]]
    else:
        inputs = table_inputs(predictions, mask=in_slice)
        order, flags, scores = rank_inputs(inputs, rank_by=rank_by)
        skipped = inputs.skipped
    n_ranked, n_issues = len(order), int(flags.sum())
    if limit is not None:
        order, flags, scores = order[:limit], flags[:limit], scores[:limit]
    table = suspects_frame(predictions, inputs, order, flags, scores)
    return LabelSuspects(
        table,
        METHODS[rank_by],
        inputs.classes,
        int(in_slice.sum()),
        n_ranked,
        n_issues,
        skipped,
        inputs.dropped_classes,
    )


def _ranked_table(
    predictions: Predictions, rank_by: RankBy
) -> tuple[LabelInputs, npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    inputs = table_inputs(predictions)
    return (inputs, *rank_inputs(inputs, rank_by=rank_by))


def suspects_frame(
    predictions: Predictions,
    inputs: LabelInputs,
    order: npt.NDArray[np.int64],
    flags: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """The ranked rows as a frame: position, id, given, suggested, score, is_issue."""
    classes = np.asarray(inputs.classes, dtype=object)
    given = inputs.labels[order]
    probs = inputs.pred_probs[order]  # fancy indexing: a new array
    probs[np.arange(len(order)), given] = -np.inf
    positions = inputs.positions[order]
    id_column = predictions.schema.id
    ids = (
        predictions.frame[id_column].iloc[positions].reset_index(drop=True)
        if id_column is not None
        else pd.Series(np.full(len(order), None, dtype=object))
    )
    return pd.DataFrame(
        {
            "position": positions,
            "id": ids,
            "given": classes[given],
            "suggested": classes[probs.argmax(axis=1)],
            "score": scores,
            "is_issue": flags,
        }
    )
