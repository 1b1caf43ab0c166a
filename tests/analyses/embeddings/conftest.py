"""Fixtures of the embeddings tests: a disk cache and a fast UMAP stand-in.

The samples are the session-wide ones of tests/conftest.py. Projections are
remembered with the dataset, so a test that must not find one computed by
another test (one counting UMAP fits, say) loads its own copy from
``sample_workspace``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlqa_debug.cache import DiskCache
from tests.analyses.embeddings.helpers import install_fake_umap


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache(tmp_path / "cache")


@pytest.fixture
def fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a fast stand-in; the list records each call's number of rows."""
    return install_fake_umap(monkeypatch)
