"""Applying a review log to a table: corrected labels, a corrected table, a regression case.

:func:`apply_reviews` matches each example's latest decision
(:func:`~mlqa_debug.analyses.labels.review_log.latest_decisions`) to the table's rows
by id (by row position, and only on the same fingerprint, for a table without ids)
and returns an :class:`AppliedReview`:

- ``corrections``: one row per relabel applied, the CSV export (``id``, ``old_label``,
  ``new_label``, ``reviewer``, ``time``, ``note``; :func:`corrections_csv`);
- ``reviewed``: every matched decision (``position``, ``id``, ``verdict`` ...);
- ``frame``: a copy of the table with the relabelled rows' labels replaced (write it
  with :func:`write_table`, register it with :func:`register_corrected`);
- ``problems``: decisions not applied and why (an id not in the table, an old label
  that is not the table's label, another table's row positions).

Decisions recorded on another fingerprint apply when the example and its old label
match: a label belongs to the example, not to one model's predictions.
:func:`review_case` freezes the reviewed examples (keep and relabel verdicts) of the
corrected table as an example-set regression case.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.labels.review_log import Decision
from mlqa_debug.data.export_csv import safe_csv
from mlqa_debug.data.ids import id_key, id_keys
from mlqa_debug.errors import CaseError, SchemaError
from mlqa_debug.files import write_atomic

if TYPE_CHECKING:
    from mlqa_debug.cases.build import NewCase
    from mlqa_debug.data.predictions import Predictions
    from mlqa_debug.data.schema import Roles
    from mlqa_debug.data.workspace import DatasetEntry, Workspace

__all__ = [
    "CORRECTION_COLUMNS",
    "AppliedReview",
    "apply_reviews",
    "corrections_csv",
    "register_corrected",
    "review_case",
    "write_table",
]

CORRECTION_COLUMNS = ("id", "old_label", "new_label", "reviewer", "time", "note")
_REVIEWED_COLUMNS = ("position", "id", "verdict", "old_label", "new_label", "reviewer", "time")


@dataclass(frozen=True)
class AppliedReview:
    """A review log applied to one table (see the module docstring)."""

    corrections: pd.DataFrame
    reviewed: pd.DataFrame
    frame: pd.DataFrame
    problems: tuple[str, ...]
    label: str

    @property
    def n_relabelled(self) -> int:
        return len(self.corrections)


def apply_reviews(predictions: Predictions, decisions: Mapping[str, Decision]) -> AppliedReview:
    """Apply the latest decision per example (``{id key: decision}``) to ``predictions``."""
    s = predictions.schema
    positions, problems = _match(predictions, decisions)
    labels = predictions.frame[s.label]
    reviewed: list[dict[str, Any]] = []
    for key, position in positions.items():
        d = decisions[key]
        if id_key(d.old_label) != id_key(labels.iloc[position]):
            problems.append(
                f"example {d.example_id!r}: the log's old label {d.old_label!r} is not the "
                f"table's label {labels.iloc[position]!r}; not applied"
            )
            continue
        reviewed.append({"position": position, "id": d.example_id, **_decision_fields(d)})
    # object columns: labels keep their type (a column of 1s and Nones is not 1.0s and NaNs)
    frame_reviewed = pd.DataFrame(reviewed, columns=[*_REVIEWED_COLUMNS, "note"], dtype=object)
    frame_reviewed["position"] = frame_reviewed["position"].astype(np.int64)
    relabel = frame_reviewed[frame_reviewed["verdict"] == "relabel"]
    corrections = relabel[list(CORRECTION_COLUMNS)].reset_index(drop=True)
    corrected = _corrected_frame(predictions, relabel)
    return AppliedReview(corrections, frame_reviewed, corrected, tuple(problems), s.label)


def _decision_fields(d: Decision) -> dict[str, Any]:
    return {
        "verdict": d.verdict,
        "old_label": d.old_label,
        "new_label": d.new_label,
        "reviewer": d.reviewer,
        "time": d.time,
        "note": d.note,
    }


def _match(
    predictions: Predictions, decisions: Mapping[str, Decision]
) -> tuple[dict[str, int], list[str]]:
    """Row positions of the decided examples, and the decisions that match no row."""
    problems: list[str] = []
    column = predictions.schema.id
    keys = list(decisions)
    if column is not None:
        index = id_keys(predictions.frame[column])
        found = pd.Index(index).get_indexer(keys) if index.is_unique else _first(index, keys)
    else:
        found = np.array([_position(decisions[k], predictions, problems) for k in keys], np.int64)
    out: dict[str, int] = {}
    for key, position in zip(keys, found.tolist(), strict=True):
        if position < 0:
            if column is not None:
                problems.append(f"example {decisions[key].example_id!r} is not in the table")
            continue
        out[key] = int(position)
    return out, problems


def _first(index: pd.Index, keys: list[str]) -> np.ndarray:
    first = pd.Series(np.arange(len(index)), index=index)
    first = first[~first.index.duplicated()]
    return pd.Index(first.index).get_indexer(keys).astype(np.int64)


def _position(d: Decision, predictions: Predictions, problems: list[str]) -> int:
    """A row position from a table without ids: valid only on the fingerprint it was made on."""
    if d.fingerprint != predictions.fingerprint:
        problems.append(
            f"row {d.example_id!r}: decided on another table (fingerprint {d.fingerprint[:8]}) "
            "and this table has no id column to match it by; not applied"
        )
        return -1
    position = d.example_id
    if not isinstance(position, int) or not 0 <= position < predictions.n_samples:
        problems.append(f"row {position!r} is not a row of the table")
        return -1
    return position


def _corrected_frame(predictions: Predictions, relabel: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table with the relabelled rows' labels, categories back to plain values."""
    frame = predictions.frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(frame[column].cat.categories.dtype)
    label = predictions.schema.label
    if len(relabel):
        values = frame[label].to_numpy(dtype=object, copy=True)
        values[relabel["position"].to_numpy(np.int64)] = relabel["new_label"].to_numpy(object)
        frame[label] = pd.Series(values, index=frame.index).astype(frame[label].dtype)
    return frame


def corrections_csv(applied: AppliedReview) -> str:
    """The corrected labels as CSV text (id, old_label, new_label, reviewer, time, note)."""
    return safe_csv(applied.corrections)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically as ``.csv`` or ``.parquet`` (by the file's suffix)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_atomic(target, buffer.getvalue())
    elif suffix == ".csv":
        write_atomic(target, frame.to_csv(index=False))
    else:
        raise SchemaError(
            f"cannot write a {suffix or 'suffix-less'} file; expected .csv or .parquet",
            file=str(target),
            expected=(".csv", ".parquet"),
            received=suffix,
        )
    return target


def register_corrected(
    workspace: Workspace,
    applied: AppliedReview,
    *,
    name: str,
    roles: Roles | None = None,
    overwrite: bool = False,
) -> DatasetEntry:
    """Register the corrected table as a new dataset ``name`` (Parquet, same roles)."""
    buffer = io.BytesIO()
    applied.frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    return workspace.add(
        buffer, name=name, roles=roles, filename=f"{name}.parquet", overwrite=overwrite
    )


def review_case(
    corrected: Predictions,
    applied: AppliedReview,
    *,
    name: str,
    dataset: str | None = None,
    author: str | None = None,
    note: str = "",
) -> NewCase:
    """An example-set case of the reviewed examples (keep or relabel) on the corrected table.

    Save it with ``CaseStore.save(new.case, rows=new.rows)``. Needs an id column.
    """
    from mlqa_debug.cases.build import build_case

    if corrected.schema.id is None:
        raise CaseError("an example-set case needs an id column; this table has none")
    chosen = applied.reviewed[applied.reviewed["verdict"].isin(["keep", "relabel"])]
    if chosen.empty:
        raise CaseError("no example was kept or relabelled; nothing to save as a case")
    text = note or f"{len(chosen):,} examples whose labels were reviewed"
    return build_case(
        corrected,
        name=name,
        ids=chosen["id"].tolist(),
        note=text,
        dataset=dataset,
        page="labels",
        author=author,
    )
