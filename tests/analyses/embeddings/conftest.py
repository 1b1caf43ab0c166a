"""Fixtures of the embeddings tests: the samples, loaded once per test module, and a disk cache.

The samples are module-scoped here (not the session-wide ones of tests/conftest.py):
projections are remembered with the dataset, and a test that counts UMAP fits
must not find one computed by another module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from tests.analyses.embeddings.helpers import install_fake_umap


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="module")
def loans(samples: Workspace) -> Predictions:
    return samples.load("loans")


@pytest.fixture(scope="module")
def digits(samples: Workspace) -> Predictions:
    return samples.load("digits")


@pytest.fixture(scope="module")
def diabetes(samples: Workspace) -> Predictions:
    return samples.load("diabetes")


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache(tmp_path / "cache")


@pytest.fixture
def fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a fast stand-in; the list records each call's number of rows."""
    return install_fake_umap(monkeypatch)
