"""Computing attributions within a time budget: exact or approximate, cache, batches,
progress, cost, and the checks against the model."""

from __future__ import annotations

import math
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.explain import runner
from mlqa_debug.data.predictions import load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import ModelError
from tests.analyses.explain.helpers import (
    FEATURES,
    encoder,
    fitted_dataset,
    model_output,
    toy_frame,
)


def test_deep_forest_switches_to_approximate_when_exact_is_too_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # probe batches of MIN_BATCH rows: a fast machine must not finish all 300 rows exactly
    # while it measures the cost
    monkeypatch.setattr(runner, "PROBE_SECONDS", 0.0)
    forest = RandomForestClassifier(n_estimators=60, random_state=0)  # full depth
    predictions, model = fitted_dataset(tmp_path, forest)
    rows = np.arange(predictions.n_samples)
    tight = ex.explain(predictions, rows, model=model, time_budget=1e-4)
    assert tight.explanation.info.approximate
    assert tight.explanation.info.method == "TreeExplainer (approximate, Saabas)"
    relaxed = ex.explain(predictions, rows, model=model, time_budget=120, approximate=False)
    assert relaxed.complete and not relaxed.explanation.info.approximate
    for result in (tight, relaxed):
        e = result.explanation
        assert e.info.output_space == "probability" and e.outputs == ("0", "1")
        np.testing.assert_allclose(e.output, model_output(model, predictions, e.rows), atol=1e-9)
        assert e.info.additive
    assert tight.cost is not None and tight.cost.per_row > 0


def test_disk_cache_makes_a_second_visit_free(workspace: Workspace, tmp_path: Path) -> None:
    predictions = workspace.load("diabetes")
    model = ex.dataset_model(workspace, "diabetes")
    first = ex.explain(predictions, np.arange(100), model=model, cache_dir=tmp_path)
    assert first.computed == 100
    again = workspace.load("diabetes")  # a new process would start like this: no memo
    second = ex.explain(again, np.arange(50, 150), model=model, cache_dir=tmp_path)
    assert second.computed == 50  # rows 50..99 come from the cache
    fresh_model = ex.dataset_model(workspace, "diabetes")
    assert fresh_model is not None
    third = ex.explain(
        workspace.load("diabetes"), np.arange(150), model=fresh_model, cache_dir=tmp_path
    )
    assert third.computed == 0
    assert not fresh_model._memo  # stored rows are served without building an explainer
    assert (
        third.explanation.info.method == "TreeExplainer (exact)" and third.explanation.info.additive
    )
    np.testing.assert_array_equal(third.explanation.values[:100], first.explanation.values)


def test_corrupt_cache_is_recomputed(workspace: Workspace, tmp_path: Path) -> None:
    model = ex.dataset_model(workspace, "diabetes")
    ex.explain(workspace.load("diabetes"), np.arange(10), model=model, cache_dir=tmp_path)
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"garbage")
    result = ex.explain(workspace.load("diabetes"), np.arange(10), model=model, cache_dir=tmp_path)
    assert result.computed == 10 and result.explanation.info.additive


def test_time_budget_stops_after_a_batch_and_says_what_remains(tmp_path: Path) -> None:
    predictions, model = fitted_dataset(tmp_path, KNeighborsClassifier())
    progress: list[tuple[str, float | None]] = []
    result = ex.explain(
        predictions,
        np.arange(300),
        model=model,
        time_budget=0,
        progress=lambda *a: progress.append(a),
    )
    assert 0 < result.computed < 300 and not result.complete
    assert len(result.remaining) == 300 - result.computed
    assert progress and progress[-1] == (
        f"explaining rows: {result.computed:,} of 300",
        result.computed / 300,
    )
    np.testing.assert_array_equal(result.explanation.rows, np.arange(result.computed))


def test_cost_model_fits_fixed_and_per_row_time() -> None:
    cost = ex.Cost.fit([(4, 0.1 + 4 * 0.002), (16, 0.1 + 16 * 0.002)])
    assert cost.per_row == pytest.approx(0.002) and cost.per_batch == pytest.approx(0.1)
    assert cost.seconds(1000) == pytest.approx(1000 * 0.002 + math.ceil(1000 / 200) * 0.1)


def test_a_model_that_did_not_make_the_predictions_is_flagged(tmp_path: Path) -> None:
    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    model.fit(frame[FEATURES], frame["label"])
    wrong = 1 - model.predict(frame[FEATURES])  # a table made by some other model
    frame.assign(prediction=wrong).to_csv(tmp_path / "d.csv", index=False)
    joblib.dump(model, tmp_path / "m.joblib")
    predictions = load_predictions(tmp_path / "d.csv")
    loaded = ex.load_model(tmp_path / "m.joblib", roots=[tmp_path])
    e = ex.explain(predictions, np.arange(100), model=loaded).explanation
    assert e.info.agreement == 0.0 and e.info.checked_rows == 100
    assert e.info.additive  # the attributions still explain the model itself


def test_a_model_that_fails_gives_a_message(tmp_path: Path) -> None:
    predictions, model = fitted_dataset(tmp_path, KNeighborsClassifier())
    model.estimator.set_params(model__n_neighbors=10_000)  # more neighbours than rows: it raises
    with pytest.raises(ModelError, match="cannot be explained: ValueError"):
        ex.explain(predictions, np.arange(5), model=model)
