"""The disk cache: round trips, atomic writes, corrupt entries."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.cache import DiskCache, cache_key


def test_key_is_stable_and_sensitive() -> None:
    assert cache_key("abc", {"k": 1, "a": 2}) == cache_key("abc", {"a": 2, "k": 1})
    assert cache_key("abc", 1) != cache_key("abc", 2)
    assert cache_key("x").isalnum() and len(cache_key("x")) == 32


def test_round_trips(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    arrays = {"xy": np.arange(6.0).reshape(3, 2), "ids": np.array([3, 1, 2])}
    cache.put_arrays("a1", arrays)
    got = cache.get_arrays("a1")
    assert got is not None
    np.testing.assert_array_equal(got["xy"], arrays["xy"])
    cache.put_json("j1", {"slices": ["a == 1"], "n": 3})
    assert cache.get_json("j1") == {"slices": ["a == 1"], "n": 3}
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    cache.put_frame("f1", frame)
    pd.testing.assert_frame_equal(cache.get_frame("f1"), frame)


def test_missing_and_corrupt_entries_read_as_none(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    assert cache.get_arrays("nope") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    (tmp_path / "bad.json").write_text("{")
    assert cache.get_arrays("bad") is None
    assert cache.get_json("bad") is None


def test_keys_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        DiskCache(tmp_path).get_json("../x")


def test_concurrent_writers_leave_a_whole_file(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    big = {"v": np.arange(200_000.0)}
    threads = [threading.Thread(target=cache.put_arrays, args=("k", big)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = cache.get_arrays("k")
    assert got is not None and got["v"].shape == (200_000,)
    assert [p.name for p in tmp_path.iterdir()] == ["k.npz"]
