"""Fixtures of the explain tests: a workspace with the built-in samples and their models,
loaded once per session (treat as read-only), and a trusted model folder per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlqa_debug.analyses import explain as ex
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from tests.analyses.explain.helpers import make_trusted_dir


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("explain-ws"))


@pytest.fixture(scope="session")
def sample(workspace: Workspace) -> Callable[[str], tuple[Predictions, ex.LoadedModel]]:
    """A built-in sample and its model, loaded once per session (treat as read-only)."""
    loaded: dict[str, tuple[Predictions, ex.LoadedModel]] = {}

    def get(name: str) -> tuple[Predictions, ex.LoadedModel]:
        if name not in loaded:
            model = ex.dataset_model(workspace, name)
            assert model is not None
            loaded[name] = (workspace.load(name), model)
        return loaded[name]

    return get


@pytest.fixture
def trusted_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_trusted_dir(tmp_path, monkeypatch)
