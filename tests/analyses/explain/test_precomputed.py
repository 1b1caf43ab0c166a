"""Precomputed shap_<feature> columns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import explain as ex
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import ModelError, SchemaError


def precomputed(tmp_path: Path, *, task: str, base: bool = True) -> Predictions:
    rng = np.random.default_rng(1)
    n = 200
    x = pd.DataFrame({"u": rng.normal(size=n), "v": rng.choice(["p", "q"], n)})
    shap_u, shap_v = 0.8 * x["u"], np.where(x["v"] == "p", 0.5, -0.5)
    frame = x.assign(shap_u=shap_u, shap_v=shap_v)
    logit = -0.2 + shap_u + shap_v
    if task == "regression":
        frame = frame.assign(prediction=logit, label=logit + rng.normal(0, 0.3, n))
    else:
        score = 1 / (1 + np.exp(-logit))
        frame = frame.assign(score=score, label=(rng.random(n) < score).astype(int))
    if base:
        frame["shap_base_value"] = -0.2
    frame.to_csv(tmp_path / "pre.csv", index=False)
    return load_predictions(tmp_path / "pre.csv")


@pytest.mark.parametrize(("task", "space"), [("binary", "log-odds"), ("regression", "prediction")])
def test_precomputed_columns_are_used_directly(tmp_path: Path, task: str, space: str) -> None:
    predictions = precomputed(tmp_path, task=task)
    assert ex.available_sources(predictions, has_model=False) == ["precomputed"]
    result = ex.explain(predictions, np.arange(50), source="precomputed")
    e = result.explanation
    assert e.features == ("u", "v") and result.computed == 0
    assert e.info.source == "precomputed" and e.info.output_space == space and e.info.additive
    np.testing.assert_allclose(e.values[:, 0, 0], 0.8 * predictions.frame["u"].iloc[:50])


def test_precomputed_without_base_is_not_checkable(tmp_path: Path) -> None:
    predictions = precomputed(tmp_path, task="binary", base=False)
    e = ex.explain(predictions, np.arange(10), source="precomputed").explanation
    assert e.info.additive is None
    assert any("base values are unknown" in note for note in e.info.notes)


def test_no_source_gives_a_message(sample: Callable) -> None:
    predictions, _ = sample("diabetes")
    with pytest.raises(SchemaError, match="no shap_"):
        ex.explain(predictions, [0], source="precomputed")
    with pytest.raises(ModelError, match="no model"):
        ex.explain(predictions, [0], model=None)
