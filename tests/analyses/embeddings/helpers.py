"""Helpers shared by the embeddings tests: loading a frame, a PCA map, a fast UMAP stand-in."""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import umap_layout
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.types import Progress

PACKAGE = Path(emb.__file__).parent


def load(frame: pd.DataFrame, write_table) -> Predictions:
    return load_predictions(write_table(frame, "preds.csv"))


def pca_map(predictions: Predictions) -> emb.Projection:
    return emb.get_projection(predictions, method="pca", cache=None)


def trace_positions(trace: Any) -> np.ndarray:
    """A trace's row positions: its 1-D ``customdata``, or the first column of a 2-D one."""
    data = np.asarray(trace.customdata)
    return (data if data.ndim == 1 else data[:, 0]).astype(np.int64)


def install_fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a fast stand-in (first two input columns); records each call's size."""
    calls: list[int] = []

    def fit(matrix: np.ndarray, params: emb.ProjectionParams, progress: Progress) -> np.ndarray:
        calls.append(len(matrix))
        progress("laying out the map", 1.0)
        return np.asarray(matrix[:, :2], dtype=np.float32) * 2

    monkeypatch.setattr(umap_layout, "fit_umap", fit)
    return calls


def wait_for(job: emb.ProjectionJob, timeout: float = 30) -> None:
    """Until the background job is no longer running (or fail after ``timeout`` seconds)."""
    done = threading.Event()
    for _ in range(int(timeout * 20)):
        if not job.running:
            return
        done.wait(0.05)
    raise AssertionError(f"job still running: {job.status_text()}")


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def code_uses(dotted: str) -> list[str]:
    """``file:line`` wherever the package's code (not its prose) names ``dotted``.

    ``dotted`` is e.g. ``sys.modules`` or ``warnings.catch_warnings``; a
    ``from warnings import catch_warnings`` counts too.
    """
    module, _, name = dotted.rpartition(".")
    found: list[str] = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = isinstance(node, ast.Attribute) and _dotted(node) == dotted
            imported = isinstance(node, ast.ImportFrom) and node.module == module
            if named or (imported and any(a.name == name for a in node.names)):
                found.append(f"{path.name}:{node.lineno}")
    return found
