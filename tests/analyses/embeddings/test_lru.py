"""Tests of analyses.embeddings.lru: the per-dataset LRU shared by every session's thread."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from mlqa_debug.analyses.embeddings.lru import LruCache, array_digest, remembered
from mlqa_debug.data.predictions import Predictions

N_THREADS, N_CALLS, N_KEYS, SIZE = 8, 2_000, 32, 8


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every microsecond, so unlocked check-then-act races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def hammer(call: Callable[[random.Random], None]) -> list[BaseException]:
    """``call`` N_CALLS times in each of N_THREADS threads started together; what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(N_THREADS)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(N_CALLS):
            try:
                call(rng)
            except BaseException as e:  # collected, asserted on below
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.usefixtures("fast_switching")
def test_the_shared_lru_survives_threads(diabetes: Predictions) -> None:
    """The per-dataset LRU (the old unlocked OrderedDict raised KeyError here)."""

    def call(rng: random.Random) -> None:
        key = str(rng.randrange(N_KEYS))
        assert remembered(diabetes, "test.lru", key, lambda: key, size=SIZE) == key

    assert hammer(call) == []
    store = diabetes.memo("test.lru", lambda: None)
    assert isinstance(store, LruCache) and len(store) == SIZE


@pytest.mark.usefixtures("fast_switching")
def test_get_and_put_keep_the_bound_under_threads() -> None:
    cache: LruCache[int] = LruCache(SIZE)

    def call(rng: random.Random) -> None:
        key = rng.randrange(N_KEYS)
        if rng.random() < 0.5:
            assert cache.put(key, key) == key
        else:
            assert cache.get(key) in (None, key)
        assert len(cache) <= SIZE

    assert hammer(call) == []
    assert len(cache) == SIZE


def test_least_recently_used_goes_first() -> None:
    cache: LruCache[str] = LruCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # "b" is now the oldest
    cache.put("c", "C")
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C"
    assert cache.put("a", "other") == "A"  # the first stored value wins
    assert cache.get_or_build("d", lambda: "D") == "D" and len(cache) == 2
    with pytest.raises(ValueError, match="size must be >= 1"):
        LruCache(0)


def test_digests_tell_arrays_apart() -> None:
    a, b = np.arange(5), np.arange(1, 6)
    assert array_digest(a) == array_digest(a.copy()) != array_digest(b)
    assert array_digest(a, b) != array_digest(b, a)


def test_projections_kept_in_memory_are_bounded(digits) -> None:
    from mlqa_debug.analyses.embeddings import ProjectionParams, get_projection
    from mlqa_debug.analyses.embeddings.projection_cache import MAX_IN_MEMORY, _memory

    for seed in range(MAX_IN_MEMORY + 3):
        get_projection(digits, method="pca", cache=None, params=ProjectionParams(random_state=seed))
    assert len(_memory(digits)) == MAX_IN_MEMORY
