"""Explainer builders: one small builder per kind of model, and the fallback between them.

:func:`~mlqa_debug.analyses.explain.estimators.model_kind` picks a builder:

``tree``
    ``shap.TreeExplainer`` (scikit-learn decision trees, random forests, extra
    trees, gradient boosting and histogram gradient boosting): exact
    path-dependent TreeSHAP, or ``approximate=True`` (Saabas) when the runner
    measures that exact would not fit the time budget.
``linear``
    ``shap.LinearExplainer`` with an independent masker over a background
    sample of :data:`LINEAR_BACKGROUND` rows: exact for linear models.
``agnostic``
    Permutation SHAP (:func:`~mlqa_debug.analyses.explain.permutation.permutation_shap`)
    over an independent background of :data:`AGNOSTIC_BACKGROUND` rows, for
    every other model and when a fast explainer does not support the model.

The tree and linear explainers explain the final estimator of a ``Pipeline``
on the transformed matrix and map its columns back to the original columns
(:mod:`~mlqa_debug.analyses.explain.feature_map`). The model-agnostic explainer
wraps the whole pipeline, so that it sees one numeric code per original column
(:class:`~mlqa_debug.analyses.explain.codec.ColumnCodec`) and the pipeline sees
the original values; it never builds impossible one-hot rows.

Every estimator is called on data shaped as it was fitted (a frame with its
column names, or the pipeline's own transformed matrix), so no feature-name
warning arises and none is silenced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.explain.codec import ColumnCodec
from mlqa_debug.analyses.explain.estimators import (
    KIND_REASONS,
    ExplainerKind,
    describe_model,
    model_classes,
    model_columns,
    model_input,
    model_kind,
    split_pipeline,
)
from mlqa_debug.analyses.explain.feature_map import FeatureMap, feature_map, identity_map
from mlqa_debug.analyses.explain.models import LoadedModel
from mlqa_debug.analyses.explain.permutation import permutation_shap
from mlqa_debug.analyses.explain.plan import priority_order
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ModelError, SchemaError

logger = logging.getLogger(__name__)

LINEAR_BACKGROUND = 200
AGNOSTIC_BACKGROUND = 32
MAP_SAMPLE = 64

#: The explainer of each kind, as people name it.
EXPLAINER_NAMES: dict[ExplainerKind, str] = {
    "tree": "TreeExplainer",
    "linear": "LinearExplainer",
    "agnostic": "permutation SHAP",
}

#: ``(model input, row positions) -> (values (n, G, K), base (n, K), output (n, K))``
RunBatch = Callable[[pd.DataFrame, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Explainer:
    """A ready explainer: what it computes, why it was chosen, and the function that
    computes a batch."""

    kind: ExplainerKind
    approximate: bool
    method: str
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    output_space: str
    run: RunBatch = field(repr=False)
    #: The model's own output in ``output_space`` (for the additivity check), or ``None``
    #: when ``run`` returns it already; otherwise ``run`` returns base + values.
    model_output: Callable[[pd.DataFrame], np.ndarray] | None = field(default=None, repr=False)
    #: Why this explainer explains the model (for people).
    reason: str = ""


def _as_3d(values: Any) -> np.ndarray:
    if isinstance(values, list):
        return np.stack([np.asarray(v, dtype=np.float64) for v in values], axis=-1)
    array = np.asarray(values, dtype=np.float64)
    return array[..., None] if array.ndim == 2 else array


def _as_2d(values: Any, n: int) -> np.ndarray:
    """A model's ``(n,)`` or ``(n, K)`` output as ``(n, K)``."""
    return np.asarray(values, dtype=np.float64).reshape(n, -1)


def _base(expected: Any, n: int, width: int) -> np.ndarray:
    """An explainer's expected value(s) as ``(n, width)``."""
    return np.broadcast_to(np.atleast_1d(np.asarray(expected, np.float64)), (n, width)).copy()


def _dense(data: Any) -> Any:
    return data.toarray() if hasattr(data, "toarray") else data


def _numeric(data: Any) -> np.ndarray:
    return np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data, np.float64)


def _raw_output(final: Any, predictions: Predictions) -> tuple[Callable[[Any], np.ndarray], str]:
    """The estimator's output in its explainer's space, and that space's name."""
    if not predictions.schema.is_classification:
        return final.predict, "prediction"
    if hasattr(final, "decision_function"):
        if not hasattr(final, "predict_proba"):
            return final.decision_function, "margin"
        binary = len(model_classes(final)) == 2
        return final.decision_function, "log-odds" if binary else "logit (softmax input)"
    return final.predict_proba, "probability"


def _outputs(estimator: Any, predictions: Predictions, width: int) -> tuple[str, ...]:
    if not predictions.schema.is_classification:
        return ("prediction",)
    classes = model_classes(estimator)
    if width == len(classes):
        return tuple(classes)
    if width == 1 and len(classes) == 2:
        return (classes[1],)
    raise ModelError(f"the explainer gave {width} outputs for the model's {len(classes)} classes")


def _sample_rows(predictions: Predictions, n: int, *, offset: int = 0) -> np.ndarray:
    order = priority_order(predictions)
    return np.sort(order[offset : offset + n])


def _prepared(model: LoadedModel, predictions: Predictions) -> tuple[Any | None, Any, FeatureMap]:
    """Preprocessing, final estimator and the map back to the dataset's columns."""
    preprocess, final = split_pipeline(model.estimator)

    def build() -> FeatureMap:
        sample = model_input(model, predictions, _sample_rows(predictions, MAP_SAMPLE))
        if preprocess is None:
            return identity_map([str(c) for c in sample.columns])
        return feature_map(preprocess, sample)

    return preprocess, final, model.memo(f"feature-map:{predictions.fingerprint}", build)


def _transform(preprocess: Any | None, frame: pd.DataFrame) -> Any:
    """What the final estimator receives inside the pipeline (the frame for a bare model)."""
    return frame if preprocess is None else _dense(preprocess.transform(frame))


def _probe_frame(model: LoadedModel, predictions: Predictions) -> pd.DataFrame:
    return model_input(model, predictions, _sample_rows(predictions, 1))


def _build_tree(model: LoadedModel, predictions: Predictions, *, approximate: bool) -> Explainer:
    import shap

    preprocess, final, fmap = _prepared(model, predictions)
    explainer = model.memo("tree-explainer", lambda: shap.TreeExplainer(final))
    output_fn, space = _raw_output(final, predictions)

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data = _transform(preprocess, frame)
        raw = explainer.shap_values(data, approximate=approximate, check_additivity=False)
        values = _as_3d(raw)
        base = _base(explainer.expected_value, len(rows), values.shape[2])
        return fmap.apply(values), base, base + values.sum(axis=1)

    def model_output(frame: pd.DataFrame) -> np.ndarray:
        return _as_2d(output_fn(_transform(preprocess, frame)), len(frame))

    # shap raises here for models it does not support: build_explainer falls back
    probe = _transform(preprocess, _probe_frame(model, predictions))
    width = _as_3d(explainer.shap_values(probe, check_additivity=False)).shape[2]
    method = "TreeExplainer (approximate, Saabas)" if approximate else "TreeExplainer (exact)"
    outputs = _outputs(final, predictions, width)
    return Explainer(
        "tree", approximate, method, fmap.features, outputs, space, run, model_output=model_output
    )


def _build_linear(model: LoadedModel, predictions: Predictions, *, approximate: bool) -> Explainer:
    import shap

    preprocess, final, fmap = _prepared(model, predictions)
    rows = _sample_rows(predictions, LINEAR_BACKGROUND)
    transformed = _transform(preprocess, model_input(model, predictions, rows))
    background = _numeric(transformed)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.LinearExplainer(final, masker)
    output_fn, space = _raw_output(final, predictions)

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = _as_3d(explainer.shap_values(_numeric(_transform(preprocess, frame))))
        base = _base(explainer.expected_value, len(rows), values.shape[2])
        return fmap.apply(values), base, base + values.sum(axis=1)

    def model_output(frame: pd.DataFrame) -> np.ndarray:
        return _as_2d(output_fn(_transform(preprocess, frame)), len(frame))

    width = _as_2d(output_fn(transformed[:1]), 1).shape[1]  # as fitted: names kept
    outputs = _outputs(final, predictions, width)
    return Explainer(
        "linear", False, "LinearExplainer", fmap.features, outputs, space, run,
        model_output=model_output,
    )  # fmt: skip


def _agnostic_output(estimator: Any, predictions: Predictions) -> tuple[Callable[[Any], Any], str]:
    """What the model-agnostic explainer explains: probabilities, else the margin."""
    if not predictions.schema.is_classification:
        return estimator.predict, "prediction"
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba, "probability"
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function, "margin"
    raise ModelError(
        f"the model ({type(estimator).__name__}) has neither predict_proba nor "
        "decision_function, so its classes cannot be explained"
    )


def _build_agnostic(model: LoadedModel, predictions: Predictions) -> Explainer:
    columns = model_columns(model, predictions)
    codec = model.memo(
        f"codec:{predictions.fingerprint}", lambda: ColumnCodec(predictions.frame[columns])
    )
    predict, space = _agnostic_output(model.estimator, predictions)

    def f(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(predict(codec.decode(matrix)), dtype=np.float64)  # named columns

    rows = _sample_rows(predictions, AGNOSTIC_BACKGROUND, offset=LINEAR_BACKGROUND)
    background = codec.encode(predictions.frame.iloc[rows][columns])

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # the output is the model's own: the last step of every feature order
        return permutation_shap(f, codec.encode(frame), background, seeds=rows.tolist())

    width = _as_2d(f(background[:1]), 1).shape[1]
    outputs = _outputs(model.estimator, predictions, width)
    method = "permutation SHAP (model-agnostic)"
    return Explainer("agnostic", False, method, tuple(columns), outputs, space, run)


#: The fast explainers; every other model gets :func:`_build_agnostic`.
_FAST_BUILDERS: dict[ExplainerKind, Callable[..., Explainer]] = {
    "tree": _build_tree,
    "linear": _build_linear,
}


def _refusals() -> tuple[type[Exception], ...]:
    """What shap raises for a model an explainer does not support (and nothing else)."""
    from shap.utils._exceptions import InvalidModelError

    return (InvalidModelError, NotImplementedError)


def _reason(model: LoadedModel, kind: ExplainerKind) -> str:
    described = describe_model(model.estimator)
    if kind != model_kind(model.estimator):
        return f"{EXPLAINER_NAMES[kind]} was asked for {described}"
    return KIND_REASONS[kind].format(model=described)


def _build_agnostic_checked(model: LoadedModel, predictions: Predictions) -> Explainer:
    """The model-agnostic explainer; the model failing on its own rows is a :class:`ModelError`."""
    try:
        return _build_agnostic(model, predictions)
    except (ModelError, SchemaError):
        raise
    except Exception as e:  # the model's own predict ran on its own rows: say how it failed
        raise ModelError(
            f"model {model.name!r} cannot be explained: {type(e).__name__}: {e}"
        ) from e


def build_explainer(
    model: LoadedModel,
    predictions: Predictions,
    *,
    kind: ExplainerKind | None = None,
    approximate: bool = False,
) -> Explainer:
    """The explainer for ``model`` on this dataset, built once per model and dataset.

    A fast explainer that does not support the model (shap raises
    ``InvalidModelError`` or ``NotImplementedError``, e.g. for a multiclass
    ``GradientBoostingClassifier``) falls back to the model-agnostic one, and
    :attr:`Explainer.reason` says so; any other error raises.
    """
    chosen = kind or model_kind(model.estimator)
    key = f"explainer:{predictions.fingerprint}:{chosen}:{approximate}"

    def build() -> Explainer:
        if chosen == "agnostic":
            built = _build_agnostic_checked(model, predictions)
            return replace(built, reason=_reason(model, chosen))
        try:
            built = _FAST_BUILDERS[chosen](model, predictions, approximate=approximate)
        except _refusals() as e:
            reason = f"{EXPLAINER_NAMES[chosen]} does not support {describe_model(model.estimator)}"
            logger.info("%s (%s); permutation SHAP instead", reason, e)
            fallback = build_explainer(model, predictions, kind="agnostic")
            return replace(fallback, reason=f"{reason}: {e}")
        return replace(built, reason=_reason(model, chosen))

    return model.memo(key, build)  # the lock is reentrant: the fallback may build inside
