"""The review log: concurrent appends lose nothing, restarts keep all, bad lines are skipped."""

from __future__ import annotations

import json
import multiprocessing
import warnings
from pathlib import Path

import pytest

from mlqa_debug.analyses.labels import (
    Decision,
    ReviewError,
    append_decision,
    latest_decisions,
    new_decision,
    read_log,
    review_log_path,
)
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import WorkspaceError

N_PROCESSES = 4
PER_PROCESS = 60


def _decision(example: str | int, verdict: str = "keep", **kw: object) -> Decision:
    fields: dict[str, object] = {
        "example_id": example,
        "verdict": verdict,
        "old_label": "ant",
        "reviewer": "ana",
        "time": "2026-01-02T03:04:05.000+00:00",
        "dataset": "planted",
        "fingerprint": "f" * 64,
        **kw,
    }
    return Decision(**fields)  # type: ignore[arg-type]


def _writer(path: str, worker: int) -> None:
    for i in range(PER_PROCESS):
        note = f"worker {worker} decision {i} " + "x" * 3000  # long lines: more chance to tear
        append_decision(path, _decision(f"w{worker}-{i}", reviewer=f"r{worker}", note=note))


def test_concurrent_appends_lose_no_decision(tmp_path: Path) -> None:
    path = tmp_path / "reviews" / "planted.jsonl"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(path), w)) for w in range(N_PROCESSES)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    log = read_log(path)
    assert log.problems == ()
    got = sorted(str(d.example_id) for d in log.decisions)
    assert got == sorted(f"w{w}-{i}" for w in range(N_PROCESSES) for i in range(PER_PROCESS))
    for w in range(N_PROCESSES):  # each writer's lines in the order it wrote them
        mine = [d.example_id for d in log.decisions if d.reviewer == f"r{w}"]
        assert mine == [f"w{w}-{i}" for i in range(PER_PROCESS)]


def test_restart_reads_every_decision_again(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first = [_decision(i) for i in range(5)]
    for d in first:
        append_decision(path, d)
    assert read_log(path).decisions == tuple(first)  # a new process would read the same
    append_decision(path, _decision(5, "ambiguous"))
    assert [d.example_id for d in read_log(path).decisions] == [0, 1, 2, 3, 4, 5]


def test_a_missing_log_is_empty(tmp_path: Path) -> None:
    log = read_log(tmp_path / "none.jsonl")
    assert log.decisions == () and log.problems == ()


def test_corrupt_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_decision(path, _decision("a"))
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
        handle.write(json.dumps({"example_id": "b", "verdict": "maybe"}).encode() + b"\n")
        handle.write(b"\xff\xfe\n")
    append_decision(path, _decision("c"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = read_log(path)
    assert [str(w.message).split(":")[0] for w in caught] == [
        f"log.jsonl, line {n}" for n in (2, 3, 4)
    ]
    assert all(issubclass(w.category, UserWarning) for w in caught)
    assert "not valid JSON" in str(caught[0].message)
    assert [d.example_id for d in log.decisions] == ["a", "c"]
    assert [(p.file, p.line) for p in log.problems] == [
        ("log.jsonl", 2),
        ("log.jsonl", 3),
        ("log.jsonl", 4),
    ]
    assert "missing field" in log.problems[1].message


def test_a_line_cut_short_by_a_crash_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_decision(path, _decision("a"))
    with path.open("ab") as handle:
        handle.write(_decision("torn").to_json().encode()[:40])  # no newline: a crash
    append_decision(path, _decision("b"))
    with pytest.warns(UserWarning, match="line 2"):
        log = read_log(path)
    assert [d.example_id for d in log.decisions] == ["a", "b"]
    assert len(log.problems) == 1


def test_the_later_decision_wins_and_both_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    append_decision(path, _decision("a", "relabel", new_label="bee", reviewer="ana"))
    append_decision(path, _decision("a", "keep", reviewer="ben"))
    append_decision(path, _decision(7, "keep"))
    append_decision(path, _decision(7.0, "skip"))  # the same example, as a float id
    log = read_log(path)
    assert len(log.decisions) == 4
    latest = latest_decisions(log.decisions)
    assert latest["a"].reviewer == "ben" and latest["a"].verdict == "keep"
    assert latest["7"].verdict == "keep"  # a skip does not replace a verdict


def test_a_skip_is_kept_when_nothing_else_was_decided() -> None:
    assert latest_decisions([_decision("z", "skip")])["z"].verdict == "skip"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"verdict": "maybe"}, "verdict must be one of"),
        ({"verdict": "relabel"}, "a relabel needs a new label"),
        ({"verdict": "keep", "new_label": "bee"}, "only a relabel has one"),
        ({"verdict": "relabel", "new_label": "ant"}, "is the label it has"),
        ({"reviewer": " "}, "needs a reviewer"),
        ({"time": "yesterday"}, "not an ISO 8601 time"),
    ],
)
def test_invalid_decisions_are_refused(kw: dict[str, object], match: str) -> None:
    verdict = str(kw.pop("verdict", "keep"))
    with pytest.raises(ReviewError, match=match):
        _decision("a", verdict, **kw)


def test_new_decision_records_the_table(planted_predictions: Predictions) -> None:
    d = new_decision(
        planted_predictions, 3, verdict="relabel", new_label="dog", reviewer="ana", dataset="p"
    )
    row = planted_predictions.frame.iloc[3]
    assert d.example_id == row["id"] and d.old_label == row["label"]
    assert d.fingerprint == planted_predictions.fingerprint and d.new_label == "dog"
    with pytest.raises(ReviewError, match="not one of the classes"):
        new_decision(
            planted_predictions, 3, verdict="relabel", new_label="emu", reviewer="a", dataset="p"
        )


def test_log_path_is_in_the_workspace(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert review_log_path(ws, "loans") == ws.root / "reviews" / "loans.jsonl"
    with pytest.raises(WorkspaceError):
        review_log_path(ws, "../etc")


def test_review_progress_counts_the_queue_rows_decided(
    planted_predictions: Predictions, tmp_path: Path
) -> None:
    from mlqa_debug.analyses.labels import review_progress

    path = tmp_path / "log.jsonl"
    for position, verdict in ((2, "keep"), (9, "skip"), (2, "ambiguous"), (500, "keep")):
        append_decision(
            path,
            new_decision(planted_predictions, position, verdict=verdict, reviewer="a", dataset="p"),  # type: ignore[arg-type]
        )
    latest = read_log(path).latest()
    assert review_progress(planted_predictions, [2, 9, 11, 12], latest) == (2, 4)
