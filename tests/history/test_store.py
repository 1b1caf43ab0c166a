"""The history file: round trip across processes, concurrent appends, corrupt lines, full disk."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.history import Build, HistoryError, HistoryStore, HistoryWarning, Record

REPO = Path(__file__).resolve().parents[2]


def make_record(i: int, *, run: str = "r1", case: str = "c1") -> Record:
    return Record(
        time=f"2026-01-01T00:00:{i % 60:02d}.000000Z",
        run_id=run,
        case_id=case,
        case_name=f'case {case} ✓ "quoted"',
        metric="error_rate",
        op="<=",
        status="pass" if i % 3 else "fail",
        threshold=0.12,
        value=0.1 + i * 1e-4,
        low=0.09,
        high=0.11 + i * 1e-4,
        baseline=0.1,
        rows=100 + i,
        where="employment == 'gig'",
        dataset="loans",
        fingerprint="f" * 32,
        model="m",
        model_version=f"v{i}",
        build=Build("jenkins", id=str(i), url="https://ci/job/1"),
    )


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    records = [make_record(i) for i in range(5)]
    assert store.append(records) == 5
    frame = HistoryStore(tmp_path).read().frame  # a fresh store: as after a restart
    assert len(frame) == 5
    first = frame.iloc[1]
    r = records[1]
    assert (first["case_name"], first["value"], first["low"], first["high"]) == (
        r.case_name,
        r.value,
        r.low,
        r.high,
    )
    assert (first["build_system"], first["build_id"], first["model_version"]) == (
        "jenkins",
        "1",
        "v1",
    )
    assert first["rows"] == 101 and first["status"] == "pass"


def test_records_written_by_another_process_are_read_back(tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from tests.history.test_store import make_record\n"
        "from mlqa_debug.history import HistoryStore\n"
        f"store = HistoryStore({str(tmp_path)!r})\n"
        "store.append([make_record(i, run='other') for i in range(3)])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
    HistoryStore(tmp_path).append([make_record(9, run="mine")])
    frame = HistoryStore(tmp_path).read().frame
    assert list(frame["run_id"]) == ["other", "other", "other", "mine"]


def _writer(directory: str, worker: int, n: int) -> None:
    store = HistoryStore(Path(directory))
    for i in range(n):
        store.append([make_record(i, run=f"w{worker}-{i}", case=f"c{j}") for j in range(3)])


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    workers, n = 4, 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, n)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lines = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == workers * n * 3
    assert all(json.loads(line)["schema_version"] == 1 for line in lines)  # none interleaved
    frame = HistoryStore(tmp_path).read().frame
    assert len(set(zip(frame["run_id"], frame["case_id"], strict=True))) == workers * n * 3
    # a run's three records are contiguous: appended under one lock
    runs = list(frame["run_id"])
    assert all(runs[k] == runs[k + 1] == runs[k + 2] for k in range(0, len(runs), 3))


def test_corrupt_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append([make_record(0)])
    with (tmp_path / "history.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"schema_version": 1, "time": "x"\n')  # cut short
        f.write('{"schema_version": 1, "status": "maybe"}\n')  # not a record
        f.write("\n")  # blank: ignored
    store.append([make_record(1)])
    with pytest.warns(HistoryWarning) as caught:
        listing = store.read()
    assert len(listing.frame) == 2
    assert [(p.file, p.line) for p in listing.problems] == [
        ("history.jsonl", 2),
        ("history.jsonl", 3),
    ]
    messages = [str(w.message) for w in caught]
    assert "history.jsonl, line 2: not valid JSON" in messages[0]
    assert "line 3: not a history record" in messages[1]


def test_a_line_cut_short_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append([make_record(0)])
    with (tmp_path / "history.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"schema_version": 1, "ti')  # a crash mid-write, no newline
    store.append([make_record(1, run="r2")])
    with pytest.warns(HistoryWarning):
        listing = store.read()
    assert list(listing.frame["run_id"]) == ["r1", "r2"]
    assert [p.line for p in listing.problems] == [2]


def test_a_full_disk_fails_loudly_and_keeps_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HistoryStore(tmp_path)
    store.append([make_record(i) for i in range(3)])
    before = (tmp_path / "history.jsonl").read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def full_disk(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:10])  # a short write lands first ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(
        HistoryError, match=r"No space left on device.*earlier history is unchanged"
    ):
        store.append([make_record(i, run="r2") for i in range(3)])
    monkeypatch.undo()
    assert (tmp_path / "history.jsonl").read_bytes() == before
    assert len(store.read().frame) == 3


def test_missing_history_folder_is_an_error_only_when_asked(tmp_path: Path) -> None:
    assert HistoryStore(tmp_path / "none").read().empty
    with pytest.raises(HistoryError, match="no history folder"):
        HistoryStore(tmp_path / "none", create=False).read()


def test_quick_reader_gives_the_line_by_line_frame(tmp_path: Path) -> None:
    from mlqa_debug.history.store import fast_frame, parse_lines, records_frame

    store = HistoryStore(tmp_path)
    records = [make_record(i, run=f"r{i}") for i in range(6)]
    records[2] = Record(
        **{
            **records[2].__dict__,
            "value": None,
            "low": None,
            "high": None,
            "build": None,
            "model": None,
            "status": "empty",
        }
    )
    store.append(records)
    quick = fast_frame(store.path)
    rows, problems = parse_lines(store.path.read_text().splitlines(), file="h")
    assert quick is not None and not problems
    pd.testing.assert_frame_equal(quick, records_frame(rows), check_dtype=False)
    with store.path.open("a") as f:
        f.write("{broken\n")
    assert fast_frame(store.path) is None  # the careful reader takes over
