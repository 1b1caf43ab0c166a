"""SHAP attributions: trusted loading, every explainer path, mapping back, cache, aggregations.

References: the model's own outputs (additivity), shap called directly on the
transformed matrix (mapping one-hot columns back), the closed form of linear
SHAP, brute-force Shapley values (permutation path) and brute-force nearest
neighbours and group means.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR

from mlqa_debug.analyses.explain import compute as ex
from mlqa_debug.analyses.explain import figures as plots_explain
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace
from mlqa_debug.errors import MlqaError, ModelError, SchemaError
from mlqa_debug.slicing.slices import parse_slice
from mlqa_debug.stats.report import slice_mask

SAMPLES = ("loans", "digits", "diabetes")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("explain-ws"))


@pytest.fixture(scope="module")
def sample(workspace: Workspace) -> Callable[[str], tuple[Predictions, ex.LoadedModel]]:
    """A built-in sample and its model, loaded once per module (treat as read-only)."""
    loaded: dict[str, tuple[Predictions, ex.LoadedModel]] = {}

    def get(name: str) -> tuple[Predictions, ex.LoadedModel]:
        if name not in loaded:
            model = ex.dataset_model(workspace, name)
            assert model is not None
            loaded[name] = (workspace.load(name), model)
        return loaded[name]

    return get


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


# --------------------------------------------------------------------------- trusted models


def test_every_sample_model_loads_from_its_own_folder(workspace: Workspace) -> None:
    for name in SAMPLES:
        model = ex.dataset_model(workspace, name)
        assert model is not None
        assert model.path.parent == workspace.entry(name).path.parent
        assert len(model.sha) == 32
    assert ex.dataset_model(workspace, "loans").label == "loans-hgb v1"  # type: ignore[union-attr]


def test_model_outside_trusted_places_is_refused(tmp_path: Path) -> None:
    trusted, outside = tmp_path / "trusted", tmp_path / "outside"
    trusted.mkdir()
    outside.mkdir()
    joblib.dump(LogisticRegression(), outside / "evil.joblib")
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(outside / "evil.joblib", roots=[trusted])
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(trusted / ".." / "outside" / "evil.joblib", roots=[trusted])
    (trusted / "link.joblib").symlink_to(outside / "evil.joblib")
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(trusted / "link.joblib", roots=[trusted])
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(outside / "evil.joblib", roots=[])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.txt", b"x", "expected one of"),
        ("missing.joblib", None, "not found"),
        ("broken.joblib", b"not a joblib file", "cannot be loaded"),
    ],
)
def test_bad_model_files_give_messages(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ModelError, match=message):
        ex.load_model(tmp_path / name, roots=[tmp_path])


def test_a_pickled_non_model_is_refused(tmp_path: Path) -> None:
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    with pytest.raises(ModelError, match="not a fitted model"):
        ex.load_model(tmp_path / "dict.joblib", roots=[tmp_path])


def test_skops_files_load_when_skops_is_installed(tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    frame = toy_frame()
    fitted = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    sio.dump(fitted, tmp_path / "m.skops")
    loaded = ex.load_model(tmp_path / "m.skops", roots=[tmp_path])
    np.testing.assert_array_equal(loaded.estimator.coef_, fitted.coef_)


def test_registered_model_missing_from_its_folder(workspace: Workspace, tmp_path: Path) -> None:
    frame = toy_frame()
    model = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    frame.assign(prediction=model.predict(frame[["a", "b"]])).to_csv(
        tmp_path / "d.csv", index=False
    )
    joblib.dump(model, tmp_path / "m.joblib")
    entry = workspace.add(tmp_path / "d.csv", name="with-model", model=tmp_path / "m.joblib")
    assert ex.dataset_model(workspace, "with-model") is not None
    (entry.path.parent / "model.joblib").unlink()
    with pytest.raises(ModelError, match="missing or outside"):
        ex.dataset_model(workspace, "with-model")


@pytest.fixture
def trusted_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "trusted-models"
    folder.mkdir()
    monkeypatch.setenv(ENV_TRUSTED_MODELS, str(folder))
    return folder


def test_register_model_from_the_trusted_folder(trusted_dir: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    model.fit(frame[FEATURES], frame["label"])
    frame.assign(prediction=model.predict(frame[FEATURES])).to_csv(tmp_path / "d.csv", index=False)
    ws.add(tmp_path / "d.csv", name="toy")
    joblib.dump(model, trusted_dir / "logreg.joblib")
    (trusted_dir / "notes.txt").write_text("not a model")
    outside = tmp_path / "elsewhere.joblib"
    joblib.dump(model, outside)
    (trusted_dir / "escape.joblib").symlink_to(outside)
    assert ex.trusted_model_files() == ["logreg.joblib"]

    entry = ex.register_model(ws, "toy", "logreg.joblib", version="3")
    assert entry.roles.model is not None and entry.roles.model.file == "model.joblib"
    loaded = ex.dataset_model(ws, "toy")
    assert loaded is not None and loaded.label == "logreg v3"
    assert loaded.path.parent == entry.path.parent  # a copy inside the dataset's folder


@pytest.mark.parametrize(
    ("dataset", "filename", "message"),
    [
        ("toy", "../elsewhere.joblib", "not a model file in the trusted folder"),
        ("toy", "/etc/passwd", "not a model file in the trusted folder"),
        ("toy", "escape.joblib", "not a model file in the trusted folder"),
        ("loans", "logreg.joblib", "built-in sample"),
        ("toy", "other.joblib", "reads column"),
    ],
)
def test_register_model_refusals(
    trusted_dir: Path, tmp_path: Path, dataset: str, filename: str, message: str
) -> None:
    ws = Workspace(tmp_path / "ws")
    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    model.fit(frame[FEATURES], frame["label"])
    frame.assign(prediction=model.predict(frame[FEATURES])).to_csv(tmp_path / "d.csv", index=False)
    ws.add(tmp_path / "d.csv", name="toy")
    joblib.dump(model, trusted_dir / "logreg.joblib")
    other = LogisticRegression().fit(frame[["a"]].rename(columns={"a": "zzz"}), frame["label"])
    joblib.dump(other, trusted_dir / "other.joblib")
    joblib.dump(model, tmp_path / "elsewhere.joblib")
    (trusted_dir / "escape.joblib").symlink_to(tmp_path / "elsewhere.joblib")
    with pytest.raises(MlqaError, match=message):
        ex.register_model(ws, dataset, filename)
    assert ws.entry("toy").roles.model is None


def test_register_model_needs_the_trusted_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_TRUSTED_MODELS, raising=False)
    assert ex.trusted_model_files() == []
    with pytest.raises(ModelError, match=ENV_TRUSTED_MODELS):
        ex.register_model(Workspace(tmp_path), "toy", "m.joblib")


# --------------------------------------------------------------------------- explainer paths


@pytest.mark.parametrize(
    ("name", "kind", "space", "n_outputs"),
    [
        ("loans", "tree", "log-odds", 1),
        ("digits", "linear", "logit (softmax input)", 10),
        ("diabetes", "tree", "prediction", 1),
    ],
)
def test_sample_models_are_additive(
    sample: Callable, name: str, kind: str, space: str, n_outputs: int
) -> None:
    predictions, model = sample(name)
    rows = np.arange(0, predictions.n_samples, max(1, predictions.n_samples // 300))
    result = ex.explain(predictions, rows, model=model, time_budget=60)
    e = result.explanation
    assert result.complete and e.n_rows == len(rows)
    assert ex.model_kind(model.estimator) == kind
    assert (e.info.output_space, len(e.outputs)) == (space, n_outputs)
    assert e.info.approximate is False and e.info.agreement == 1.0
    reference = model_output(model, predictions, e.rows)
    np.testing.assert_allclose(e.output, reference, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(e.base + e.values.sum(axis=1), reference, rtol=1e-7, atol=1e-7)
    assert e.info.additive and ex.additivity_error(e.values, e.base, e.output) < 1e-9


def test_pipeline_with_string_categoricals_maps_one_hot_columns_back(sample: Callable) -> None:
    import shap

    predictions, model = sample("loans")
    rows = np.arange(40)
    e = ex.explain(predictions, rows, model=model, time_budget=60).explanation
    assert set(e.features) == {
        "age", "income", "loan amount", "term_months", "employment", "region",
        "credit.score", "home_owner", "purpose",
    }  # fmt: skip  # applied_on is dropped by the pipeline, so it is not a feature
    preprocess, final = ex.split_pipeline(model.estimator)
    data = preprocess.transform(ex.model_input(model, predictions, rows))
    raw = shap.TreeExplainer(final).shap_values(data)
    names = list(preprocess.get_feature_names_out())
    for feature, prefix in [
        ("employment", "categorical__employment_"),
        ("region", "categorical__region_"),
        ("purpose", "categorical__purpose_"),
        ("home_owner", "home_owner__"),
        ("credit.score", "numeric__credit.score"),
    ]:
        columns = [i for i, n in enumerate(names) if n.startswith(prefix)]
        expected = raw[:, columns].sum(axis=1)
        np.testing.assert_allclose(e.values[:, e.features.index(feature), 0], expected, atol=1e-12)


def test_linear_attributions_match_the_closed_form(sample: Callable) -> None:
    """For a linear model, SHAP = coef * (x - mean of the background), in the model's input."""
    predictions, model = sample("digits")
    e = ex.explain(predictions, np.arange(50), model=model, time_budget=60).explanation
    scaler, final = model.estimator[0], model.estimator[-1]
    background_rows = ex._sample_rows(predictions, ex.LINEAR_BACKGROUND)
    columns = ex.model_columns(model, predictions)
    background = scaler.transform(predictions.frame.iloc[background_rows][columns])
    x = scaler.transform(predictions.frame.iloc[e.rows][columns])
    expected = (x - background.mean(axis=0))[:, :, None] * final.coef_.T[None]
    np.testing.assert_allclose(e.values, expected, atol=1e-10)


def test_deep_forest_switches_to_approximate_when_exact_is_too_slow(tmp_path: Path) -> None:
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


@pytest.mark.parametrize(
    ("estimator", "space"),
    [
        (KNeighborsClassifier(n_neighbors=15), "probability"),
        (GradientBoostingClassifier(n_estimators=15, random_state=0), "probability"),
    ],
    ids=["knn", "multiclass-gb-fallback"],
)
def test_model_agnostic_path(tmp_path: Path, estimator: object, space: str) -> None:
    multiclass = isinstance(estimator, GradientBoostingClassifier)
    label = pd.Series(np.digitize(toy_frame()["a"], [-0.5, 0.5])) if multiclass else None
    predictions, model = fitted_dataset(tmp_path, estimator, label=label)
    rows = np.arange(0, 300, 7)
    result = ex.explain(predictions, rows, model=model, time_budget=120)
    e = result.explanation
    assert result.complete
    assert e.info.method == "permutation SHAP (model-agnostic)"
    assert e.features == tuple(FEATURES)  # the original columns, one value each
    assert e.info.output_space == space and e.info.agreement == 1.0
    expected = model.estimator.predict_proba(ex.model_input(model, predictions, e.rows))
    np.testing.assert_allclose(e.output, expected, atol=1e-12)
    np.testing.assert_allclose(e.base + e.values.sum(axis=1), expected, atol=1e-10)


def test_permutation_shap_equals_brute_force_shapley_values() -> None:
    """With up to 4 features every order is used: the exact interventional Shapley values."""
    rng = np.random.default_rng(3)
    rows, background = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))

    def f(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, 0] * x[:, 1] + np.sin(x[:, 2]), np.maximum(x[:, 3], x[:, 0])])

    values, base, output = ex.permutation_shap(f, rows, background, seeds=range(5))

    def v(row: np.ndarray, subset: tuple[int, ...]) -> np.ndarray:
        x = background.copy()
        x[:, list(subset)] = row[list(subset)]
        return f(x).mean(axis=0)

    n = 4
    for i, row in enumerate(rows):
        for j in range(n):
            others = [k for k in range(n) if k != j]
            phi = sum(
                math.factorial(len(s)) * math.factorial(n - len(s) - 1) / math.factorial(n)
                * (v(row, (*s, j)) - v(row, s))
                for size in range(n) for s in itertools.combinations(others, size)
            )  # fmt: skip
            np.testing.assert_allclose(values[i, j], phi, atol=1e-12)
        np.testing.assert_allclose(base[i], f(background).mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(output[i], f(row[None])[0], atol=1e-12)


def test_permutation_shap_of_a_row_does_not_depend_on_its_batch() -> None:
    rng = np.random.default_rng(4)
    rows, background = rng.normal(size=(6, 9)), rng.normal(size=(5, 9))

    def f(x: np.ndarray) -> np.ndarray:
        return x[:, 0] * x[:, 1] - x[:, 2] * x[:, 8] + x[:, 4] ** 2

    together = ex.permutation_shap(f, rows, background, seeds=range(10, 16), chunk_rows=100)[0]
    alone = ex.permutation_shap(f, rows[3:4], background, seeds=[13])[0]
    np.testing.assert_array_equal(together[3], alone[0])
    np.testing.assert_allclose(together.sum(axis=1)[:, 0], f(rows) - f(background).mean(), 1e-10)


def test_regressor_without_proba_is_explained(tmp_path: Path) -> None:
    frame = toy_frame()
    target = frame["a"] * 2.0 + frame["b"]
    predictions, model = fitted_dataset(tmp_path, SVR(), label=target)
    e = ex.explain(predictions, np.arange(20), model=model, time_budget=60).explanation
    assert e.info.output_space == "prediction" and e.outputs == ("prediction",)
    expected = model.estimator.predict(ex.model_input(model, predictions, e.rows))
    np.testing.assert_allclose(e.output[:, 0], expected, atol=1e-12)
    assert e.info.additive


# --------------------------------------------------------------------------- mapping back


def mapped(transformer: object, frame: pd.DataFrame) -> ex.FeatureMap:
    preprocess = Pipeline([("t", transformer)]).fit(frame)
    return ex.feature_map(preprocess, frame)


def test_feature_map_of_column_transformers() -> None:
    frame = toy_frame()[FEATURES].assign(size=np.tile(["S", "M", "L"], 100))
    ct = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(drop="first"), ["colour", "size"]),
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), [0, 1]),
        ],
        remainder="passthrough",
    )
    fmap = mapped(ct, frame)
    assert fmap.features == ("a", "b", "colour", "flag", "size")
    counts = dict(zip(fmap.features, fmap.matrix.sum(axis=0), strict=True))
    assert counts == {"a": 1, "b": 1, "colour": 2, "flag": 1, "size": 2}  # drop="first"
    assert (fmap.matrix.sum(axis=1) == 1).all()  # every output column belongs to one feature


def test_feature_map_joins_columns_a_step_mixes() -> None:
    frame = toy_frame()[["a", "b", "colour"]]
    ct = ColumnTransformer(
        [("pca", PCA(n_components=2), ["a", "b"]), ("oh", OneHotEncoder(), ["colour"])]
    )
    fmap = mapped(ct, frame)
    assert fmap.features == ("a + b", "colour")
    selector = ColumnTransformer(
        [("oh", OneHotEncoder(sparse_output=True), make_column_selector(pattern="^colour$"))],
        remainder="drop",
    )
    assert mapped(selector, frame).features == ("colour",)


def test_feature_map_through_a_scaler_is_the_identity(sample: Callable) -> None:
    predictions, model = sample("digits")
    preprocess, _ = ex.split_pipeline(model.estimator)
    sample_frame = ex.model_input(model, predictions, np.arange(10))
    fmap = ex.feature_map(preprocess, sample_frame)
    assert fmap.features == tuple(f"px_{i}" for i in range(64))
    np.testing.assert_array_equal(fmap.matrix, np.eye(64))


def test_codec_round_trips_odd_columns(binary_frame: pd.DataFrame, tmp_path: Path) -> None:
    binary_frame.to_csv(tmp_path / "odd.csv", index=False)
    frame = load_predictions(tmp_path / "odd.csv").frame
    features = frame.drop(columns=["id", "label", "prediction", "score"])
    codec = ex._Codec(features)
    back = codec.decode(codec.encode(features))
    pd.testing.assert_frame_equal(back, features.reset_index(drop=True), check_exact=False)


# --------------------------------------------------------------------------- precomputed


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


# --------------------------------------------------------------------------- cache and budget


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
    progress: list[tuple[int, int]] = []
    result = ex.explain(
        predictions,
        np.arange(300),
        model=model,
        time_budget=0,
        progress=lambda *a: progress.append(a),
    )
    assert 0 < result.computed < 300 and not result.complete
    assert len(result.remaining) == 300 - result.computed
    assert progress and progress[-1] == (result.computed, 300)
    np.testing.assert_array_equal(result.explanation.rows, np.arange(result.computed))


def test_cost_model_fits_fixed_and_per_row_time() -> None:
    cost = ex.Cost.fit([(4, 0.1 + 4 * 0.002), (16, 0.1 + 16 * 0.002)])
    assert cost.per_row == pytest.approx(0.002) and cost.per_batch == pytest.approx(0.1)
    assert cost.seconds(1000) == pytest.approx(1000 * 0.002 + math.ceil(1000 / 200) * 0.1)


# --------------------------------------------------------------------------- rows to explain


def test_plan_rows_samples_slice_and_rest_within_the_budget(sample: Callable) -> None:
    predictions, _ = sample("loans")
    mask = slice_mask(predictions, parse_slice("employment == 'gig'"))
    plan = ex.plan_rows(predictions, mask, max_rows=600, required=[5, 7])
    assert list(plan.rows[:2]) == [5, 7]
    assert len(plan.slice_rows) + len(plan.rest_rows) == 600 and plan.sampled
    assert mask[plan.slice_rows].all() and not mask[plan.rest_rows].any()
    assert len(plan.rest_rows) == 200 and plan.n_slice == 1002
    assert len(set(plan.rows.tolist())) == len(plan.rows)
    mixed = mask[plan.rows[2:102]].mean()
    assert 0.5 < mixed < 0.85  # slice and rest interleave: a prefix holds both
    narrower = slice_mask(predictions, parse_slice("employment == 'gig' and age < 30"))
    nested = ex.plan_rows(predictions, narrower, max_rows=600)
    in_both = plan.slice_rows[narrower[plan.slice_rows]]
    assert len(in_both) and np.isin(in_both, nested.slice_rows).all()  # nested slices reuse rows


def test_plan_rows_of_all_rows_has_no_rest(sample: Callable) -> None:
    predictions, _ = sample("diabetes")
    plan = ex.plan_rows(predictions, np.ones(predictions.n_samples, bool), max_rows=2000)
    assert len(plan.slice_rows) == predictions.n_samples and len(plan.rest_rows) == 0
    assert not plan.sampled


# --------------------------------------------------------------------------- targets


def test_binary_targets_are_signed_views_of_one_output(sample: Callable) -> None:
    predictions, model = sample("loans")
    e = ex.explain(predictions, np.arange(60), model=model, time_budget=60).explanation
    one, zero = ex.toward(e, predictions, "1"), ex.toward(e, predictions, "0")
    np.testing.assert_allclose(one.values, -zero.values)
    predicted = ex.toward(e, predictions, ex.PREDICTED)
    positive = predictions.y_pred_codes[e.rows] == 1
    np.testing.assert_allclose(predicted.values[positive], one.values[positive])
    np.testing.assert_allclose(predicted.values[~positive], zero.values[~positive])
    assert ex.target_options(predictions) == ["1", "0", ex.PREDICTED]
    with pytest.raises(SchemaError, match="not one of the dataset's classes"):
        ex.toward(e, predictions, "7")


def test_multiclass_targets_pick_one_output(sample: Callable) -> None:
    predictions, model = sample("digits")
    e = ex.explain(predictions, np.arange(30), model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, "3")
    np.testing.assert_allclose(att.values, e.values[:, :, 3])
    predicted = ex.toward(e, predictions, ex.PREDICTED)
    codes = predictions.y_pred_codes[e.rows]
    np.testing.assert_allclose(predicted.output, e.output[np.arange(30), codes])
    position = int(np.flatnonzero(predictions.error)[0])
    assert ex.example_target(predictions, position) == str(
        predictions.schema.classes[predictions.y_pred_codes[position]]
    )


def test_regression_push_follows_the_residual(sample: Callable) -> None:
    predictions, model = sample("diabetes")
    e = ex.explain(predictions, np.arange(80), model=model, time_budget=60).explanation
    plain, push = ex.toward(e, predictions), ex.toward_error(e, predictions)
    sign = np.sign(predictions.residual[e.rows])
    np.testing.assert_allclose(push.values, plain.values * sign[:, None])


# --------------------------------------------------------------------------- aggregations


def test_importance_and_push_tables_match_group_means(sample: Callable) -> None:
    predictions, model = sample("loans")
    mask = slice_mask(predictions, parse_slice("income >= 150000"))
    plan = ex.plan_rows(predictions, mask, max_rows=800)
    e = ex.explain(predictions, plan.rows, model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, "1")
    inside = mask[att.rows]
    table = ex.importance_table(att, inside).set_index("feature")
    frame = pd.DataFrame(np.abs(att.values), columns=att.features).assign(inside=inside)
    means = frame.groupby("inside").mean().T
    np.testing.assert_allclose(table.loc[means.index, "slice"], means[True])
    np.testing.assert_allclose(table.loc[means.index, "rest"], means[False])
    assert table["difference"].is_monotonic_decreasing
    assert table.index[0] in ("income", "loan amount")  # the planted extrapolation failure

    push = ex.push_table(ex.toward_error(e, predictions), predictions.error[att.rows], inside)
    assert push["errors"].is_monotonic_decreasing
    signed = ex.toward_error(e, predictions).values
    wrong = inside & predictions.error[att.rows]
    expected = pd.Series(signed[wrong].mean(axis=0), index=att.features)
    np.testing.assert_allclose(push.set_index("feature")["errors"], expected[push["feature"]])


def test_waterfall_adds_up_and_shows_values(sample: Callable) -> None:
    predictions, model = sample("loans")
    e = ex.explain(predictions, [1, 2, 3], model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, ex.example_target(predictions, 1))
    wf = ex.waterfall(att, predictions, 1, max_features=4)
    assert len(wf.frame) == 5 and wf.frame["feature"].iloc[-1] == "5 other features"
    assert wf.base + wf.frame["shap"].sum() == pytest.approx(wf.output, abs=1e-9)
    assert (np.abs(wf.frame["shap"].iloc[:4]).diff().dropna() <= 0).all()
    values = dict(zip(wf.frame["feature"], wf.frame["value"], strict=True))
    row = predictions.frame.iloc[1]
    if "income" in values:
        assert values["income"] == f"{row['income']:,.0f}"
    with pytest.raises(ValueError, match="no attributions"):
        ex.waterfall(att, predictions, 999)
    figure = plots_explain.waterfall(wf, output_space=e.info.output_space)
    assert figure.data[0].base == pytest.approx(wf.base)


def test_nearest_correct_neighbours_match_brute_force(sample: Callable) -> None:
    predictions, _ = sample("digits")
    position = int(np.flatnonzero(predictions.error)[0])
    found = ex.nearest_correct(predictions, position, k=5)
    assert found is not None and len(found) == 5
    embedding = predictions.embedding_matrix
    same = ~predictions.error & (predictions.y_true_codes == predictions.y_true_codes[position])
    candidates = np.flatnonzero(same)
    distance = np.linalg.norm(embedding[candidates] - embedding[position], axis=1)
    expected = candidates[np.argsort(distance, kind="stable")[:5]]
    assert found["position"].tolist() == expected.tolist()
    np.testing.assert_allclose(found["distance"], np.sort(distance)[:5], rtol=1e-5)
    assert ex.nearest_correct(sample("loans")[0], 0) is None  # no embedding columns


def test_examples_are_found_by_id_and_hostile_ids_are_not(sample: Callable) -> None:
    predictions, _ = sample("digits")
    assert ex.find_example(predictions, "D0037") == 17
    assert ex.example_id(predictions, 17) == "D0037"
    for hostile in ("", None, "../../etc/passwd", "D0037' or 1=1", "x" * 10_000, "17"):
        assert ex.find_example(predictions, hostile) is None


def test_figures_build_for_each_view(sample: Callable) -> None:
    predictions, model = sample("digits")
    e = ex.explain(predictions, np.arange(120), model=model, time_budget=60).explanation
    att = ex.toward(e, predictions)
    inside = predictions.frame["label"].iloc[att.rows].to_numpy() == 8
    table = ex.importance_table(att, inside)
    features = ex.top_features(table, n=5)
    swarm = ex.beeswarm_frame(att, predictions, features=features, rows_mask=inside)
    assert set(swarm["feature"]) == set(features) and swarm["colour"].between(0, 1).all()
    for colour in ("error", "value"):
        assert plots_explain.beeswarm(swarm, features=features, colour=colour).data
    dep = ex.dependence_frame(att, predictions, features[0], rows_mask=inside)
    assert len(dep) == int(inside.sum())
    assert plots_explain.dependence(dep, feature=features[0]).data
    assert plots_explain.importance_bars(table).data
    position = int(att.rows[np.flatnonzero(predictions.error[att.rows])[0]])
    image = ex.image_attributions(att, predictions, position)
    assert image is not None and image[0].shape == (8, 8) == image[1].shape
    assert plots_explain.attribution_image(*image, target="class 1").data


# --------------------------------------------------------------------------- the CLI


def run_cli(argv: list[str]) -> int:
    from mlqa_debug.cli import explain as cli_explain

    parser = argparse.ArgumentParser()
    cli_explain.add_commands(parser.add_subparsers(dest="command"), ws_help="workspace")
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_explain_prints_the_slice_importance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["explain", "diabetes", "--where", "bmi >= 30", "--workspace", str(tmp_path), "--json"]
    assert run_cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["slice"] == "bmi >= 30" and out["method"] == "TreeExplainer (exact)"
    assert out["additive"] is True and out["rows"]["slice"] == 56
    assert {row["feature"] for row in out["importance"]} >= {"bmi", "s5"}
    assert run_cli(argv[:-1]) == 0
    assert "What matters more in the slice" in capsys.readouterr().out


def test_cli_attach_model_lists_and_registers(
    trusted_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = Workspace(tmp_path / "ws")
    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    model.fit(frame[FEATURES], frame["label"])
    frame.assign(prediction=model.predict(frame[FEATURES])).to_csv(tmp_path / "d.csv", index=False)
    ws.add(tmp_path / "d.csv", name="toy")
    joblib.dump(model, trusted_dir / "logreg.joblib")
    assert run_cli(["attach-model", "toy", "--workspace", str(ws.root)]) == 0
    assert "logreg.joblib" in capsys.readouterr().out
    assert run_cli(["attach-model", "toy", "logreg.joblib", "--workspace", str(ws.root)]) == 0
    assert ws.entry("toy").roles.model is not None
    with pytest.raises(ModelError, match="not a model file"):
        run_cli(["attach-model", "toy", "../x.joblib", "--workspace", str(ws.root)])


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


def test_additivity_error_sees_a_mismatch() -> None:
    values = np.array([[[0.5], [0.25]], [[1.0], [-1.0]]])
    base = np.array([[1.0], [1.0]])
    assert ex.additivity_error(values, base, np.array([[1.75], [1.0]])) == 0.0
    mismatch = ex.additivity_error(values, base, np.array([[1.75], [1.5]]))
    assert mismatch == pytest.approx(0.5 / 1.75)  # relative to the output scale
    info = ex.ExplainInfo("model", "m", "log-odds", additivity_error=0.5)
    assert info.additive is False


def test_a_model_that_fails_gives_a_message(tmp_path: Path) -> None:
    predictions, model = fitted_dataset(tmp_path, KNeighborsClassifier())
    model.estimator.set_params(model__n_neighbors=10_000)  # more neighbours than rows: it raises
    with pytest.raises(ModelError, match="cannot be explained: ValueError"):
        ex.explain(predictions, np.arange(5), model=model)
