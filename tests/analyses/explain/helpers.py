"""Small datasets and models for the explain tests: a toy frame with a string
categorical and a boolean, a pipeline fitted on it, and the model's own outputs."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlqa_debug.analyses import explain as ex
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace

SAMPLES = ("loans", "digits", "diabetes")


def toy_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numbers, a string categorical, a boolean; label 1 when a + colour effect is high."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": [f"T{i:04d}" for i in range(n)],
            "a": rng.normal(size=n).round(4),
            "b": rng.normal(size=n).round(4),
            "colour": rng.choice(["red", "green", "blue"], n),
            "flag": rng.random(n) < 0.4,
        }
    )
    signal = frame["a"] + 1.5 * (frame["colour"] == "red") + rng.normal(0, 0.7, n)
    frame["label"] = (signal > 0.5).astype(int)
    return frame


FEATURES = ["a", "b", "colour", "flag"]


def encoder() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("scale", StandardScaler(), ["a", "b"]),
            ("flag", "passthrough", ["flag"]),
        ]
    )


def fitted_dataset(
    tmp_path: Path, estimator: object, *, label: pd.Series | None = None, proba: bool = False
) -> tuple[Predictions, ex.LoadedModel]:
    """Fit ``Pipeline(encoder, estimator)`` on the toy frame; write predictions and model."""
    frame = toy_frame()
    y = frame["label"] if label is None else label
    model = Pipeline([("encode", encoder()), ("model", estimator)]).fit(frame[FEATURES], y)
    out = frame.assign(label=y, prediction=model.predict(frame[FEATURES]))
    out.to_csv(tmp_path / "toy.csv", index=False)
    joblib.dump(model, tmp_path / "toy.joblib")
    predictions = load_predictions(tmp_path / "toy.csv")
    return predictions, ex.load_model(tmp_path / "toy.joblib", roots=[tmp_path])


def model_output(model: ex.LoadedModel, predictions: Predictions, rows: np.ndarray) -> np.ndarray:
    """The model's own output in the tree/linear explainers' space, ``(n, K)``."""
    preprocess, final = ex.split_pipeline(model.estimator)
    data = ex.model_input(model, predictions, rows)
    if preprocess is not None:
        data = preprocess.transform(data)
    if not predictions.schema.is_classification:
        out = final.predict(data)
    elif hasattr(final, "decision_function"):
        out = final.decision_function(data)
    else:
        out = final.predict_proba(data)
    return np.asarray(out, dtype=np.float64).reshape(len(rows), -1)


def make_trusted_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder named by ``$MLQA_DEBUG_TRUSTED_MODELS`` for this test."""
    folder = tmp_path / "trusted-models"
    folder.mkdir()
    monkeypatch.setenv(ENV_TRUSTED_MODELS, str(folder))
    return folder


def toy_workspace(tmp_path: Path, trusted_dir: Path) -> tuple[Workspace, Pipeline]:
    """A workspace in ``tmp_path / "ws"`` holding the toy frame as ``toy`` (no model yet).

    The pipeline fitted on it (returned too) waits in the trusted folder as ``logreg.joblib``.
    """
    ws = Workspace(tmp_path / "ws")
    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    model.fit(frame[FEATURES], frame["label"])
    frame.assign(prediction=model.predict(frame[FEATURES])).to_csv(tmp_path / "d.csv", index=False)
    ws.add(tmp_path / "d.csv", name="toy")
    joblib.dump(model, trusted_dir / "logreg.joblib")
    return ws, model
