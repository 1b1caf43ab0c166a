"""What the shared Predictions object keeps: bounded memos and read-only arrays.

One Predictions is shared by every session, so what is memoised on it must not
grow without bound (one discovery result per parameter set, one 8-byte-per-row
sort key per column) and no caller may write into an array another one reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug import Predictions, load_predictions
from mlqa_debug.data.memo import DEFAULT_MAX_ENTRIES, MAX_ENTRIES, BoundedMemo, kind_of
from tests.conftest import WriteTable


@pytest.fixture
def binary(binary_frame: pd.DataFrame, write_table: WriteTable) -> Predictions:
    return load_predictions(write_table(binary_frame))


def test_memo_keeps_a_bounded_number_per_kind(binary: Predictions) -> None:
    for i in range(3 * DEFAULT_MAX_ENTRIES):
        binary.memo(f"discovery:params-{i}", lambda i=i: i)
    for column in range(40):
        binary.memo(f"sort_key:col{column}", lambda: np.zeros(binary.n_samples))
    binary.memo("confusion.joint", lambda: 1)
    sizes = binary.memo_sizes()
    assert sizes["discovery"] == DEFAULT_MAX_ENTRIES == 8
    assert sizes["sort_key"] == MAX_ENTRIES["sort_key"] == 16
    assert sizes["confusion.joint"] == 1


def test_memo_evicts_the_least_recently_used() -> None:
    memo = BoundedMemo(max_entries=2)
    builds: list[str] = []

    def build(key: str) -> Callable[[], str]:
        return lambda: builds.append(key) or key

    for key in ("k:a", "k:b"):
        memo.get(key, build(key))
    memo.get("k:a", build("k:a"))  # a is now the most recent
    memo.get("k:c", build("k:c"))  # evicts b
    memo.get("k:a", build("k:a"))
    memo.get("k:b", build("k:b"))  # built again
    assert builds == ["k:a", "k:b", "k:c", "k:b"]
    assert memo.sizes() == {"k": 2}


def test_memo_bound_holds_under_concurrent_builds() -> None:
    memo = BoundedMemo(max_entries=4)
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def build(key: str) -> int:
        with lock:
            counts[key] = counts.get(key, 0) + 1
        return len(key)

    def worker(offset: int) -> None:
        for i in range(50):
            memo.get(f"job:{(i + offset) % 10}", lambda i=i: build(f"job:{(i + offset) % 10}"))
            memo.get("once", lambda: build("once"))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert memo.sizes() == {"job": 4, "once": 1}
    assert counts["once"] == 1
    assert not memo._building  # no build lock is left behind


def test_kind_is_the_text_before_the_first_colon() -> None:
    assert kind_of("tree:['a', 'b']:3:0.1") == "tree"
    assert kind_of("confusion.total") == "confusion.total"


# --- read-only arrays -------------------------------------------------------------------

CACHED_ARRAYS = {
    "binary": ["y_true_codes", "y_pred_codes", "proba_matrix", "confidence", "error"],
    "multiclass": ["y_true_codes", "y_pred_codes", "proba_matrix", "confidence", "error"],
    "regression": ["residual", "error"],
}


@pytest.fixture
def loaded(
    binary_frame: pd.DataFrame,
    multiclass_frame: pd.DataFrame,
    regression_frame: pd.DataFrame,
    write_table: WriteTable,
) -> dict[str, Predictions]:
    frames = {"binary": binary_frame, "multiclass": multiclass_frame}
    frames["regression"] = regression_frame
    return {k: load_predictions(write_table(f, f"{k}.csv")) for k, f in frames.items()}


def assert_read_only(array: np.ndarray, what: str) -> None:
    assert isinstance(array, np.ndarray), what
    assert not array.flags.writeable, what
    with pytest.raises(ValueError, match="read-only"):
        array[0] = array[0]


@pytest.mark.parametrize("kind", CACHED_ARRAYS)
def test_cached_arrays_are_read_only(loaded: dict[str, Predictions], kind: str) -> None:
    p = loaded[kind]
    for name in CACHED_ARRAYS[kind]:
        assert_read_only(getattr(p, name), name)
    for name, array in p.derived.items():
        assert_read_only(array, f"derived[{name!r}]")
    assert p.error is p.error  # cached, not rebuilt


def test_embedding_matrix_is_read_only(
    binary_frame: pd.DataFrame, write_table: WriteTable, tmp_path: Path
) -> None:
    frame = binary_frame.assign(emb_0=np.arange(len(binary_frame)) / 7, emb_1=0.5)
    assert_read_only(load_predictions(write_table(frame)).embedding_matrix, "embedding_matrix")


def test_memoised_arrays_are_read_only(binary: Predictions) -> None:
    key = binary.memo("sort_key:score", lambda: np.arange(binary.n_samples, dtype=np.float64))
    assert_read_only(key, "sort key")
    pool, index = binary.memo("pair", lambda: (np.arange(3), {"codes": np.zeros(3)}))
    assert_read_only(pool, "tuple item")
    assert_read_only(index["codes"], "dict value")
    picked = key[np.array([2, 0])]  # fancy indexing copies: callers can change their copy
    picked[0] = -1.0
    assert key[2] == 2.0
