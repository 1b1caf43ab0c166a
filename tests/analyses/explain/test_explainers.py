"""Every explainer path against a reference: the model's own outputs (additivity), shap
called directly on the transformed matrix (one-hot columns mapped back), the closed
form of linear SHAP; and the fallback from a fast explainer to permutation SHAP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeClassifier

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.explain.explainers import _sample_rows
from mlqa_debug.data.predictions import Predictions, load_predictions
from tests.analyses.explain.helpers import (
    FEATURES,
    fitted_dataset,
    model_output,
    toy_frame,
)


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
    background_rows = _sample_rows(predictions, ex.LINEAR_BACKGROUND)
    columns = ex.model_columns(model, predictions)
    background = scaler.transform(predictions.frame.iloc[background_rows][columns])
    x = scaler.transform(predictions.frame.iloc[e.rows][columns])
    expected = (x - background.mean(axis=0))[:, :, None] * final.coef_.T[None]
    np.testing.assert_allclose(e.values, expected, atol=1e-10)


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


def test_regressor_without_proba_is_explained(tmp_path: Path) -> None:
    frame = toy_frame()
    target = frame["a"] * 2.0 + frame["b"]
    predictions, model = fitted_dataset(tmp_path, SVR(), label=target)
    e = ex.explain(predictions, np.arange(20), model=model, time_budget=60).explanation
    assert e.info.output_space == "prediction" and e.outputs == ("prediction",)
    expected = model.estimator.predict(ex.model_input(model, predictions, e.rows))
    np.testing.assert_allclose(e.output[:, 0], expected, atol=1e-12)
    assert e.info.additive


# --------------------------------------------------------------------- which explainer ran, and why


def multiclass_label() -> pd.Series:
    return pd.Series(np.digitize(toy_frame()["a"], [-0.5, 0.5]))


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("loans", "tree", "Pipeline(HistGradientBoostingClassifier) is a tree model"),
        ("digits", "linear", "Pipeline(LogisticRegression) is a linear model"),
    ],
)
def test_the_result_says_which_explainer_ran_and_why(
    sample: Callable, name: str, kind: str, reason: str
) -> None:
    predictions, model = sample(name)
    info = ex.explain(predictions, np.arange(5), model=model, time_budget=60).explanation.info
    assert (info.explainer, info.explainer_reason) == (kind, reason)
    assert ex.explainer_text(info) == f"{info.method}: {reason}"


def test_a_model_without_a_fast_explainer_says_so(tmp_path: Path) -> None:
    predictions, model = fitted_dataset(tmp_path, KNeighborsClassifier())
    info = ex.explain(predictions, np.arange(5), model=model).explanation.info
    assert info.explainer == "agnostic"
    assert info.explainer_reason == "no fast explainer supports Pipeline(KNeighborsClassifier)"


def test_an_unsupported_model_falls_back_and_the_reason_names_it(tmp_path: Path) -> None:
    """shap's TreeExplainer raises InvalidModelError for a multiclass GradientBoostingClassifier."""
    estimator = GradientBoostingClassifier(n_estimators=5, random_state=0)
    predictions, model = fitted_dataset(tmp_path, estimator, label=multiclass_label())
    info = ex.explain(predictions, np.arange(5), model=model).explanation.info
    assert info.explainer == "agnostic" and info.method == "permutation SHAP (model-agnostic)"
    assert info.explainer_reason.startswith(
        "TreeExplainer does not support Pipeline(GradientBoostingClassifier): "
    )
    assert "binary classification" in info.explainer_reason  # shap's own words


@pytest.mark.parametrize("refusal", ["InvalidModelError", "NotImplementedError"])
def test_what_shap_raises_for_unsupported_models_means_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    import shap
    from shap.utils._exceptions import InvalidModelError

    error = {"InvalidModelError": InvalidModelError, "NotImplementedError": NotImplementedError}
    predictions, model = fitted_dataset(tmp_path, LogisticRegression())

    def refuse(*args: object, **kwargs: object) -> None:
        raise error[refusal]("not for this one")

    monkeypatch.setattr(shap, "LinearExplainer", refuse)
    info = ex.explain(predictions, np.arange(5), model=model).explanation.info
    assert info.explainer == "agnostic"
    assert info.explainer_reason == (
        "LinearExplainer does not support Pipeline(LogisticRegression): not for this one"
    )


@pytest.mark.parametrize(
    ("estimator", "explainer_class"),
    [
        (RandomForestClassifier(n_estimators=5, random_state=0), "TreeExplainer"),
        (LogisticRegression(), "LinearExplainer"),
    ],
    ids=["tree", "linear"],
)
def test_an_unexpected_error_in_a_fast_explainer_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, estimator: object, explainer_class: str
) -> None:
    """A bug must not turn into the slow path: only shap's "not supported" errors fall back."""
    import shap

    predictions, model = fitted_dataset(tmp_path, estimator)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug inside the explainer")

    monkeypatch.setattr(shap, explainer_class, broken)
    with pytest.raises(RuntimeError, match="a bug inside the explainer"):
        ex.explain(predictions, np.arange(5), model=model)


def test_the_reason_is_kept_in_the_cache(tmp_path: Path) -> None:
    estimator = GradientBoostingClassifier(n_estimators=5, random_state=0)
    predictions, model = fitted_dataset(tmp_path, estimator, label=multiclass_label())
    cache = tmp_path / "cache"
    first = ex.explain(predictions, np.arange(5), model=model, cache_dir=cache)
    fresh = ex.load_model(model.path, roots=[tmp_path])
    again = ex.explain(load_predictions(tmp_path / "toy.csv"), np.arange(5), model=fresh,
                       cache_dir=cache)  # fmt: skip
    assert again.computed == 0 and not fresh._memo  # served from the cache, nothing built
    assert again.explanation.info.explainer == "agnostic"
    assert again.explanation.info.explainer_reason == first.explanation.info.explainer_reason


def test_precomputed_attributions_name_their_source(tmp_path: Path) -> None:
    frame = toy_frame()[["id", "a", "b", "label"]]
    frame = frame.assign(prediction=frame["label"], shap_a=0.1 * frame["a"], shap_b=0.0)
    frame.to_csv(tmp_path / "pre.csv", index=False)
    predictions = load_predictions(tmp_path / "pre.csv")
    info = ex.explain(predictions, [0, 1], source="precomputed").explanation.info
    assert info.explainer is None
    assert info.explainer_reason == "the table has shap_<feature> columns"


# --------------------------------------------------------------------------- feature-name warnings


def bare_dataset(tmp_path: Path, estimator: object) -> tuple[ex.LoadedModel, Predictions]:
    """``estimator`` fitted on a frame of two numeric columns (feature names recorded)."""
    frame = toy_frame()[["id", "a", "b", "label"]]
    fitted = estimator.fit(frame[["a", "b"]], frame["label"])  # type: ignore[attr-defined]
    frame.assign(prediction=fitted.predict(frame[["a", "b"]])).to_csv(
        tmp_path / "bare.csv", index=False
    )
    joblib.dump(fitted, tmp_path / "bare.joblib")
    model = ex.load_model(tmp_path / "bare.joblib", roots=[tmp_path])
    return model, load_predictions(tmp_path / "bare.csv")


@pytest.mark.filterwarnings("error:.*feature names:UserWarning")
@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(),
        DecisionTreeClassifier(max_depth=3, random_state=0),
        Pipeline([("scale", StandardScaler().set_output(transform="pandas")),
                  ("m", LogisticRegression())]),
        KNeighborsClassifier(),
    ],
    ids=["linear", "tree", "pandas-pipeline", "agnostic"],
)  # fmt: skip
def test_models_are_called_as_fitted_so_no_feature_name_warning_arises(
    tmp_path: Path, estimator: object
) -> None:
    """Estimators fitted on named columns get named columns (nothing silences the warning)."""
    model, predictions = bare_dataset(tmp_path, estimator)
    e = ex.explain(predictions, np.arange(40), model=model, time_budget=60).explanation
    assert e.n_rows == 40 and e.info.additive
