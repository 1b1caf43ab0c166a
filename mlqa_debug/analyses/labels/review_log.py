"""The review log: an append-only JSON-lines file of reviewers' decisions on labels.

One file per dataset in the workspace, ``<workspace>/reviews/<dataset>.jsonl``
(:func:`review_log_path`). Each line is one :class:`Decision`: reviewer, time (UTC,
ISO 8601), example id, dataset name and fingerprint, old label, verdict (``keep``,
``relabel``, ``ambiguous``, ``skip``), the new label of a relabel, and a note.

Safe with several writers (:func:`mlqa_debug.files.append_lines`): it opens the file with
``O_APPEND``, takes an exclusive ``fcntl.flock`` and writes the whole line with one ``os.write``
(looping only on a short write), then fsyncs; so lines from several processes never
interleave and none is lost. A line left without its newline by a crash is closed
before the next one is written, so it costs only itself. Nothing is ever rewritten:
restarting just reads the file again.

Reading never stops at a bad line: :func:`read_log` returns the decisions and one
:class:`LogProblem` per line that is not valid JSON or not a valid decision, and
warns (``UserWarning`` naming the file and line). :func:`latest_decisions` keeps one
decision per example: the one appended last, except that a ``skip`` never replaces
an earlier verdict (it records that a reviewer passed, not a judgement). Every
decision stays in the log.

Without an id column, an example's id is its row position (0-based), meaningful only
for the table of the recorded fingerprint.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlqa_debug.data.ids import ExampleId, id_key, plain_id
from mlqa_debug.data.workspace import validate_name
from mlqa_debug.errors import MlqaError
from mlqa_debug.files import append_lines

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions
    from mlqa_debug.data.workspace import Workspace

__all__ = [
    "VERDICTS",
    "Decision",
    "LogProblem",
    "ReviewError",
    "ReviewLog",
    "Verdict",
    "append_decision",
    "example_id",
    "latest_decisions",
    "new_decision",
    "read_log",
    "review_log_path",
    "review_progress",
]

Verdict = Literal["keep", "relabel", "ambiguous", "skip"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
MAX_NOTE_LENGTH = 10_000
_FIELDS = (
    "example_id",
    "verdict",
    "old_label",
    "new_label",
    "reviewer",
    "time",
    "dataset",
    "fingerprint",
    "note",
)


class ReviewError(MlqaError, ValueError):
    """A decision that is not valid (unknown verdict, relabel without a new label ...)."""


def review_log_path(workspace: Workspace, dataset: str) -> Path:
    """``<workspace>/reviews/<dataset>.jsonl``; the dataset name must be a safe id."""
    return workspace.root / "reviews" / f"{validate_name(dataset)}.jsonl"


def _label(value: Any) -> Any:
    """A label as JSON keeps it: NumPy scalars as Python values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


@dataclass(frozen=True)
class Decision:
    """One reviewer's verdict on one example's label; invalid values raise ReviewError."""

    example_id: ExampleId
    verdict: Verdict
    old_label: Any
    reviewer: str
    time: str
    dataset: str
    fingerprint: str
    new_label: Any = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")
        if (self.verdict == "relabel") != (self.new_label is not None):
            raise ReviewError("a relabel needs a new label, and only a relabel has one")
        if self.verdict == "relabel" and id_key(self.new_label) == id_key(self.old_label):
            raise ReviewError(f"relabel to {self.new_label!r} is the label it has; use keep")
        for name in ("reviewer", "dataset", "fingerprint", "time", "note"):
            if not isinstance(getattr(self, name), str):
                raise ReviewError(f"{name} must be text, got {getattr(self, name)!r}")
        if not self.reviewer.strip():
            raise ReviewError("a decision needs a reviewer name")
        if len(self.note) > MAX_NOTE_LENGTH:
            raise ReviewError(f"the note is longer than {MAX_NOTE_LENGTH:,} characters")
        try:
            datetime.fromisoformat(self.time)
        except ValueError:
            raise ReviewError(f"time {self.time!r} is not an ISO 8601 time") from None
        object.__setattr__(self, "example_id", plain_id(self.example_id))
        object.__setattr__(self, "old_label", _label(self.old_label))
        object.__setattr__(self, "new_label", _label(self.new_label))

    @property
    def key(self) -> str:
        """How examples compare (:func:`~mlqa_debug.data.ids.id_key` of the id)."""
        return id_key(self.example_id)

    @property
    def label_was_wrong(self) -> bool:
        return self.verdict == "relabel"

    def to_json(self) -> str:
        """One line of the log (no newline), keys in a fixed order."""
        data = asdict(self)
        return json.dumps({k: data[k] for k in _FIELDS}, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        if not isinstance(data, Mapping):
            raise ReviewError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in _FIELDS if k not in data and k not in ("new_label", "note")]
        if missing:
            raise ReviewError(f"missing field(s) {', '.join(missing)}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ReviewError(f"unknown field(s) {', '.join(unknown)}")
        return cls(**{k: data[k] for k in _FIELDS if k in data})


def example_id(predictions: Predictions, position: int) -> ExampleId:
    """The id of the row at ``position``: its id column's value, else the position itself."""
    column = predictions.schema.id
    if column is None:
        return int(position)
    return plain_id(predictions.frame[column].iloc[int(position)])


def new_decision(
    predictions: Predictions,
    position: int,
    *,
    verdict: Verdict,
    reviewer: str,
    dataset: str,
    new_label: Any = None,
    note: str = "",
    time: datetime | None = None,
) -> Decision:
    """A decision on the row at ``position`` of ``predictions``, stamped now (UTC)."""
    s = predictions.schema
    if new_label is not None:
        new_label = _as_class(new_label, s.classes)
    stamp = (time or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return Decision(
        example_id=example_id(predictions, position),
        verdict=verdict,
        old_label=predictions.frame[s.label].iloc[int(position)],
        reviewer=reviewer,
        time=stamp,
        dataset=dataset,
        fingerprint=predictions.fingerprint,
        new_label=new_label,
        note=note,
    )


def _as_class(value: Any, classes: Iterable[Any]) -> Any:
    for c in classes:
        if c == value or str(c) == str(value):
            return c
    raise ReviewError(f"new label {value!r} is not one of the classes {list(classes)}")


def append_decision(path: str | os.PathLike[str], decision: Decision) -> None:
    """Append one decision as a line; safe with other processes appending at once."""
    append_lines(Path(path), [(decision.to_json() + "\n").encode("utf-8")])


@dataclass(frozen=True)
class LogProblem:
    """A line of a review log that could not be read: file, line number (from 1), why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}; the line is skipped"


@dataclass(frozen=True)
class ReviewLog:
    """The decisions of a log in the order appended, and its unreadable lines."""

    decisions: tuple[Decision, ...]
    problems: tuple[LogProblem, ...]

    def latest(self) -> dict[str, Decision]:
        return latest_decisions(self.decisions)


def read_log(path: str | os.PathLike[str]) -> ReviewLog:
    """Every readable decision of the log (none if the file does not exist yet)."""
    target = Path(path)
    decisions: list[Decision] = []
    problems: list[LogProblem] = []
    with contextlib.suppress(FileNotFoundError), target.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                decisions.append(Decision.from_dict(json.loads(raw.decode("utf-8"))))
            except (UnicodeDecodeError, json.JSONDecodeError, ReviewError, TypeError) as e:
                problems.append(LogProblem(target.name, number, _reason(e)))
    for problem in problems:
        warnings.warn(str(problem), UserWarning, stacklevel=2)
    return ReviewLog(tuple(decisions), tuple(problems))


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg})"
    return f"not a valid decision ({error})"


def latest_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """One decision per example (by id key): the last appended; a skip never replaces a verdict."""
    latest: dict[str, Decision] = {}
    for d in decisions:
        previous = latest.get(d.key)
        if d.verdict == "skip" and previous is not None and previous.verdict != "skip":
            continue
        latest[d.key] = d
    return latest


def review_progress(
    predictions: Predictions, positions: Iterable[int], latest: Mapping[str, Decision]
) -> tuple[int, int]:
    """``(reviewed, total)`` over the queue ``positions``: rows with a decision in ``latest``.

    A skip counts as reviewed (the reviewer saw the example and moved on).
    """
    rows = [int(p) for p in positions]
    done = sum(id_key(example_id(predictions, p)) in latest for p in rows)
    return done, len(rows)
