"""Two predictions tables of the same examples, paired row for row: :func:`pair_predictions`.

The candidate (new model) and the baseline (old model) are paired by id
(:func:`mlqa_debug.data.ids.match_ids`; ``7``, ``7.0`` and ``'7'`` are one id), or by
row order when neither table has an id column and both have the same number of rows.
What does not pair up is reported, never dropped silently: ids in one table only,
repeated ids (the first row of each is paired) and matched ids whose labels differ
(those pairs are left out of the comparison, since the two models did not answer the
same question).

Every array of :class:`PairedPredictions` is aligned with :attr:`~PairedPredictions.rows`
(one entry per compared pair, in candidate order) and read-only. Classes are in the
candidate's order; the baseline's codes and probabilities are mapped to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from mlqa_debug.data.ids import id_key, match_ids
from mlqa_debug.data.memo import freeze, kind_of
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CompareError
from mlqa_debug.types import Task

__all__ = ["OUTCOME", "OUTCOME_NAMES", "PairedPredictions", "pair_predictions"]

T = TypeVar("T")

OUTCOME: dict[str, int] = {
    "both_right": 0,
    "broken": 1,
    "fixed": 2,
    "both_wrong_same": 3,
    "both_wrong_different": 4,
}
"""Outcome codes of a pair: ``broken`` = baseline right, candidate wrong; ``fixed`` the reverse.

Regression: ``broken`` = the absolute error grew by more than the error threshold,
``fixed`` = it shrank by more than it, ``both_wrong_same`` = both errors over the
threshold and the change within it, ``both_right`` = every other pair (no change
beyond the threshold); ``both_wrong_different`` does not occur.
"""
OUTCOME_NAMES: tuple[str, ...] = tuple(OUTCOME)
"""Outcome names by code."""
EXAMPLES = 3
"""Ids shown per problem in :meth:`PairedPredictions.summary`."""


def _empty() -> np.ndarray:
    return freeze(np.zeros(0, dtype=object))


@dataclass(frozen=True, eq=False)
class PairedPredictions:
    """The compared pairs of a candidate and a baseline table, and what did not pair up.

    ``rows`` are candidate row positions, ``baseline_rows`` the baseline row of each
    pair. The id arrays hold id values as each table writes them (candidate ids for
    ``label_mismatches``); when ``by_position`` the "ids" are 0-based row positions.
    """

    candidate: Predictions
    baseline: Predictions
    rows: np.ndarray
    baseline_rows: np.ndarray
    only_in_baseline: np.ndarray
    only_in_candidate: np.ndarray
    duplicated_baseline: np.ndarray
    duplicated_candidate: np.ndarray
    label_mismatches: np.ndarray
    by_position: bool = False

    # ------------------------------------------------------------------ basics

    @property
    def n(self) -> int:
        """Number of compared pairs."""
        return len(self.rows)

    @property
    def task(self) -> Task:
        return self.candidate.task

    @property
    def is_classification(self) -> bool:
        return self.candidate.schema.is_classification

    @property
    def classes(self) -> tuple[Any, ...]:
        """The classes in the candidate's order (empty for regression)."""
        return tuple(self.candidate.schema.classes)

    @property
    def positive(self) -> Any:
        """The positive class of a binary task (the candidate's)."""
        return self.candidate.schema.positive

    @property
    def error_threshold(self) -> float | None:
        """Regression: the BASELINE's error threshold, used for both models."""
        if self.is_classification:
            return None
        threshold = self.baseline.schema.error_threshold
        if threshold is None:
            threshold = self.candidate.schema.error_threshold
        return float(threshold) if threshold is not None else 0.0

    @property
    def key(self) -> str:
        """``candidate fingerprint:baseline fingerprint``, for caches."""
        return f"{self.candidate.fingerprint}:{self.baseline.fingerprint}"

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A structure derived from this pair, built once and kept with the candidate.

        Stored as ``compare.<kind>:<baseline fingerprint>:<key>`` where ``kind`` is the
        text of ``key`` before its first ``:``, so every kind keeps its own few entries.
        """
        full = f"compare.{kind_of(key)}:{self.baseline.fingerprint}:{key}"
        return self.candidate.memo(full, build)

    def pair_mask(self, candidate_mask: np.ndarray | None) -> np.ndarray:
        """A mask over candidate rows (a slice of the candidate) as a mask over the pairs."""
        if candidate_mask is None:
            return np.ones(self.n, dtype=bool)
        mask = np.asarray(candidate_mask, dtype=bool)
        if mask.shape != (self.candidate.n_samples,):
            raise CompareError(
                f"the slice mask has {mask.size:,} entries; expected one per candidate row "
                f"({self.candidate.n_samples:,})"
            )
        return mask[self.rows]

    # ------------------------------------------------------------------ aligned arrays

    @cached_property
    def _class_map(self) -> np.ndarray:
        """Baseline class code -> candidate class code (identity when the orders agree)."""
        position = {id_key(c): i for i, c in enumerate(self.candidate.schema.classes)}
        mapping = [position[id_key(c)] for c in self.baseline.schema.classes]
        return np.asarray(mapping, dtype=np.int32)

    def _baseline_codes(self, codes: np.ndarray) -> np.ndarray:
        picked = codes[self.baseline_rows]
        mapping = self._class_map
        if np.array_equal(mapping, np.arange(len(mapping))):
            return freeze(np.asarray(picked, dtype=np.int32))
        out = np.where(picked >= 0, mapping[np.maximum(picked, 0)], -1).astype(np.int32)
        return freeze(out)

    def _candidate_values(self, column: str) -> np.ndarray:
        values = self.candidate.frame[column].to_numpy(np.float64)[self.rows]
        return freeze(values)

    @cached_property
    def y_true(self) -> np.ndarray:
        """Labels: class codes (classification) or floats (regression)."""
        if self.is_classification:
            return freeze(self.candidate.y_true_codes[self.rows])
        return self._candidate_values(self.candidate.schema.label)

    @cached_property
    def pred_candidate(self) -> np.ndarray:
        if self.is_classification:
            return freeze(self.candidate.y_pred_codes[self.rows])
        return self._candidate_values(self.candidate.schema.prediction)

    @cached_property
    def pred_baseline(self) -> np.ndarray:
        if self.is_classification:
            return self._baseline_codes(self.baseline.y_pred_codes)
        column = self.baseline.schema.prediction
        return freeze(self.baseline.frame[column].to_numpy(np.float64)[self.baseline_rows])

    @cached_property
    def abs_error_candidate(self) -> np.ndarray | None:
        if self.is_classification:
            return None
        return freeze(np.abs(self.pred_candidate - self.y_true))

    @cached_property
    def abs_error_baseline(self) -> np.ndarray | None:
        if self.is_classification:
            return None
        return freeze(np.abs(self.pred_baseline - self.y_true))

    @cached_property
    def wrong_candidate(self) -> np.ndarray:
        """Candidate errs: a wrong class, or ``|residual| >`` the baseline's threshold."""
        if self.is_classification:
            return freeze(self.pred_candidate != self.y_true)
        return freeze(_over(self.abs_error_candidate, self.error_threshold))

    @cached_property
    def wrong_baseline(self) -> np.ndarray:
        if self.is_classification:
            return freeze(self.pred_baseline != self.y_true)
        return freeze(_over(self.abs_error_baseline, self.error_threshold))

    @cached_property
    def proba_candidate(self) -> np.ndarray | None:
        """``(n, n_classes)`` probabilities in class order, or ``None``."""
        proba = self.candidate.proba_matrix
        return None if proba is None else freeze(proba[self.rows])

    @cached_property
    def proba_baseline(self) -> np.ndarray | None:
        """The baseline's probabilities, columns in the candidate's class order."""
        proba = self.baseline.proba_matrix
        if proba is None:
            return None
        out = np.empty((self.n, proba.shape[1]))
        out[:, self._class_map] = proba[self.baseline_rows]
        return freeze(out)

    @cached_property
    def outcome(self) -> np.ndarray:
        """One :data:`OUTCOME` code per pair (int8)."""
        if self.is_classification:
            return freeze(
                _class_outcome(
                    self.wrong_baseline,
                    self.wrong_candidate,
                    self.pred_baseline == self.pred_candidate,
                )
            )
        assert self.abs_error_candidate is not None and self.abs_error_baseline is not None
        change = self.abs_error_candidate - self.abs_error_baseline
        threshold = self.error_threshold or 0.0
        out = np.zeros(self.n, dtype=np.int8)
        out[change > threshold] = OUTCOME["broken"]
        out[change < -threshold] = OUTCOME["fixed"]
        same = self.wrong_baseline & self.wrong_candidate & (np.abs(change) <= threshold)
        out[same] = OUTCOME["both_wrong_same"]
        return freeze(out)

    @cached_property
    def broken(self) -> np.ndarray:
        """True where the pair broke (baseline right, candidate wrong)."""
        return freeze(self.outcome == OUTCOME["broken"])

    # ------------------------------------------------------------------ text

    def ids(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Candidate ids of the pairs (all, or at ``positions`` among the pairs)."""
        rows = self.rows if positions is None else self.rows[positions]
        column = self.candidate.schema.id
        if column is None:
            return rows.copy()
        return self.candidate.frame[column].to_numpy()[rows]

    def summary(self) -> str:
        """``19,990 rows compared; 5 only in baseline (e.g. 'a', 'b'); ...`` for pages, CLI."""
        how = " (paired by row order: neither table has an id column)" if self.by_position else ""
        word = "row" if self.n == 1 else "rows"
        parts = [f"{self.n:,} {word} compared{how}"]
        for ids, what in (
            (self.only_in_baseline, "only in baseline"),
            (self.only_in_candidate, "only in candidate"),
            (self.duplicated_baseline, "repeated in baseline"),
            (self.duplicated_candidate, "repeated in candidate"),
            (self.label_mismatches, "with different labels (left out)"),
        ):
            if len(ids):
                shown = ", ".join(repr(_plain(v)) for v in ids[:EXAMPLES].tolist())
                more = ", ..." if len(ids) > EXAMPLES else ""
                parts.append(f"{len(ids):,} {what} (e.g. {shown}{more})")
        return "; ".join(parts)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _over(abs_error: np.ndarray | None, threshold: float | None) -> np.ndarray:
    assert abs_error is not None
    return abs_error > (threshold or 0.0)


def _class_outcome(wrong_b: np.ndarray, wrong_c: np.ndarray, same: np.ndarray) -> np.ndarray:
    out = np.zeros(len(wrong_b), dtype=np.int8)
    out[~wrong_b & wrong_c] = OUTCOME["broken"]
    out[wrong_b & ~wrong_c] = OUTCOME["fixed"]
    both = wrong_b & wrong_c
    out[both & same] = OUTCOME["both_wrong_same"]
    out[both & ~same] = OUTCOME["both_wrong_different"]
    return out


# --------------------------------------------------------------------------- pairing


def pair_predictions(candidate: Predictions, baseline: Predictions) -> PairedPredictions:
    """Pair the candidate's rows with the baseline's (see the module docstring).

    Memoised on the candidate, keyed by the baseline's fingerprint. Raises
    :class:`~mlqa_debug.errors.CompareError` when the tasks or the class sets differ,
    when only one table has an id column, when neither has one and the row counts
    differ, or when no id is in both tables.
    """
    _check_compatible(candidate, baseline)
    key = f"compare.pair:{baseline.fingerprint}:{baseline.schema.id}:{candidate.schema.id}"
    return candidate.memo(key, lambda: _pair(candidate, baseline))


def _name(p: Predictions) -> str:
    return repr(p.source) if p.source else "(unnamed table)"


def _check_compatible(candidate: Predictions, baseline: Predictions) -> None:
    if candidate.task != baseline.task:
        raise CompareError(
            f"candidate {_name(candidate)} is {candidate.task}, baseline {_name(baseline)} is "
            f"{baseline.task}: two models can only be compared on the same task"
        )
    if not candidate.schema.is_classification:
        return
    c_keys = {id_key(c): c for c in candidate.schema.classes}
    b_keys = {id_key(c): c for c in baseline.schema.classes}
    if c_keys.keys() != b_keys.keys():
        only_c = [c_keys[k] for k in c_keys if k not in b_keys]
        only_b = [b_keys[k] for k in b_keys if k not in c_keys]
        raise CompareError(
            f"the class sets differ: candidate {_name(candidate)} also has "
            f"{_listed(only_c)}, baseline {_name(baseline)} also has {_listed(only_b)}"
        )
    if candidate.task == "binary" and id_key(candidate.schema.positive) != id_key(
        baseline.schema.positive
    ):
        raise CompareError(
            f"the positive class differs: {candidate.schema.positive!r} in candidate "
            f"{_name(candidate)}, {baseline.schema.positive!r} in baseline {_name(baseline)}; "
            "set the same `positive` role for both"
        )


def _listed(values: list[Any]) -> str:
    return ", ".join(repr(_plain(v)) for v in values) if values else "no other class"


def _pair(candidate: Predictions, baseline: Predictions) -> PairedPredictions:
    c_id, b_id = candidate.schema.id, baseline.schema.id
    if c_id is None and b_id is None:
        return _pair_by_position(candidate, baseline)
    if c_id is None or b_id is None:
        has, lacks = (baseline, candidate) if c_id is None else (candidate, baseline)
        raise CompareError(
            f"only one table has an id column: {_name(has)} has {(b_id or c_id)!r}, "
            f"{_name(lacks)} has none; give both an id column (or neither, with the rows "
            "in the same order)"
        )
    c_ids, b_ids = candidate.frame[c_id], baseline.frame[b_id]
    match = match_ids(c_ids, b_ids, unique=_ids_checked(candidate) and _ids_checked(baseline))
    if match.n_matched == 0:
        raise CompareError(
            f"no id is in both tables: candidate {_name(candidate)} has ids "
            f"{_examples(c_ids.to_numpy())}, baseline {_name(baseline)} has "
            f"{_examples(b_ids.to_numpy())}"
        )
    differ = _labels_differ(candidate, baseline, match.left, match.right)
    ids = c_ids.to_numpy()
    return PairedPredictions(
        candidate=candidate,
        baseline=baseline,
        rows=freeze(match.left[~differ]),
        baseline_rows=freeze(match.right[~differ]),
        only_in_baseline=freeze(match.only_right),
        only_in_candidate=freeze(match.only_left),
        duplicated_baseline=freeze(match.duplicated_right),
        duplicated_candidate=freeze(match.duplicated_left),
        label_mismatches=freeze(ids[match.left[differ]]),
    )


def _ids_checked(p: Predictions) -> bool:
    """Whether the loader found the table's ids unique (a table built by hand may repeat them)."""
    return any(r.name == "ids" and r.status == "pass" for r in p.checks())


def _examples(values: np.ndarray) -> str:
    shown = ", ".join(repr(_plain(v)) for v in values[:EXAMPLES].tolist())
    return f"{shown}, ..." if len(values) > EXAMPLES else shown or "(none)"


def _pair_by_position(candidate: Predictions, baseline: Predictions) -> PairedPredictions:
    if candidate.n_samples != baseline.n_samples:
        raise CompareError(
            f"neither table has an id column and their row counts differ (candidate "
            f"{_name(candidate)}: {candidate.n_samples:,} rows, baseline {_name(baseline)}: "
            f"{baseline.n_samples:,}); add an id column to both to pair the rows"
        )
    rows = np.arange(candidate.n_samples)
    differ = _labels_differ(candidate, baseline, rows, rows)
    return PairedPredictions(
        candidate=candidate,
        baseline=baseline,
        rows=freeze(rows[~differ]),
        baseline_rows=freeze(rows[~differ]),
        only_in_baseline=_empty(),
        only_in_candidate=_empty(),
        duplicated_baseline=_empty(),
        duplicated_candidate=_empty(),
        label_mismatches=freeze(rows[differ]),
        by_position=True,
    )


def _labels_differ(
    candidate: Predictions, baseline: Predictions, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Per matched pair: do the labels differ? (classes compare like ids, by their keys)."""
    if candidate.schema.is_classification:
        position = {id_key(c): i for i, c in enumerate(candidate.schema.classes)}
        mapping = np.asarray([position[id_key(c)] for c in baseline.schema.classes], np.int64)
        b_codes = baseline.y_true_codes[right]
        mapped = np.where(b_codes >= 0, mapping[np.maximum(b_codes, 0)], -1)
        return np.asarray(candidate.y_true_codes[left] != mapped)
    c_label = candidate.frame[candidate.schema.label].to_numpy(np.float64)[left]
    b_label = baseline.frame[baseline.schema.label].to_numpy(np.float64)[right]
    return np.asarray(~((c_label == b_label) | (np.isnan(c_label) & np.isnan(b_label))))
