"""What a loaded model reads and what it is: its columns, pipeline parts, classes and kind.

:func:`model_kind` decides which explainer fits the final estimator (``tree``,
``linear`` or ``agnostic``, see :mod:`~mlqa_debug.analyses.explain.explainers`);
:func:`check_model` applies a model to a few rows before it is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ModelError, SchemaError

if TYPE_CHECKING:
    from mlqa_debug.analyses.explain.models import LoadedModel

ExplainerKind: TypeAlias = Literal["tree", "linear", "agnostic"]
"""Which explainer computes a model's attributions (one builder each)."""


def split_pipeline(estimator: Any) -> tuple[Any | None, Any]:
    """``(preprocessing, final estimator)``; preprocessing is ``None`` for a bare model."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        return (estimator[:-1] if len(estimator.steps) > 1 else None), final
    return None, estimator


def describe_model(estimator: Any) -> str:
    """A model as people name it: ``LogisticRegression``, ``Pipeline(KNeighborsClassifier)``."""
    final = split_pipeline(estimator)[1]
    name = type(final).__name__
    return name if final is estimator else f"{type(estimator).__name__}({name})"


def model_columns(model: LoadedModel, predictions: Predictions) -> list[str]:
    """The dataset columns the model reads, in the order it was fitted on."""
    names = getattr(model.estimator, "feature_names_in_", None)
    if names is None:
        raise ModelError(
            f"model {model.name!r} was fitted without column names, so its columns cannot "
            "be matched to the dataset's; fit it on a pandas DataFrame"
        )
    columns = [str(c) for c in names]
    missing = [c for c in columns if c not in predictions.frame.columns]
    if missing:
        raise SchemaError(
            f"model {model.name!r} reads column(s) {', '.join(map(repr, missing[:5]))} "
            "that the dataset does not have",
            file=predictions.source,
            expected=columns,
            received=list(predictions.frame.columns),
        )
    return columns


def model_input(model: LoadedModel, predictions: Predictions, rows: np.ndarray) -> pd.DataFrame:
    """The model's input frame for ``rows`` (positions), columns as it was fitted on."""
    return predictions.frame.iloc[rows][model_columns(model, predictions)]


def check_model(model: LoadedModel, predictions: Predictions) -> None:
    """Apply ``model`` to a few rows; :class:`ModelError` if it cannot explain this dataset."""
    rows = np.arange(min(8, predictions.n_samples))
    try:
        model.estimator.predict(model_input(model, predictions, rows))
    except (SchemaError, ModelError):
        raise
    except Exception as e:  # a foreign model can fail in any way; report it, don't crash
        raise ModelError(
            f"model {model.name!r} cannot be applied to the dataset's columns: "
            f"{type(e).__name__}: {e}"
        ) from e
    if predictions.schema.is_classification:
        class_outputs(model_classes(model.estimator), predictions)


def model_classes(estimator: Any) -> list[str]:
    """A fitted classifier's ``classes_`` as text."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ModelError(
            f"the model ({type(estimator).__name__}) has no classes_; expected a fitted classifier"
        )
    return [str(c) for c in classes]


def class_outputs(
    outputs: Sequence[str], predictions: Predictions
) -> tuple[np.ndarray, np.ndarray]:
    """Per dataset class code: the output index and sign that explain it."""
    classes = [str(c) for c in predictions.schema.classes]
    index, sign = np.zeros(len(classes), np.int64), np.ones(len(classes))
    for code, name in enumerate(classes):
        if name in outputs:
            index[code] = list(outputs).index(name)
        elif len(outputs) == 1 and len(classes) == 2:
            sign[code] = -1.0  # a binary margin: the other class is its negative
        else:
            raise ModelError(
                f"the model has no output for class {name!r}; its classes are {list(outputs)}"
            )
    return index, sign


def _tree_classes() -> tuple[type, ...]:
    from sklearn import ensemble, tree

    return (
        tree.BaseDecisionTree,
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.GradientBoostingClassifier,
        ensemble.GradientBoostingRegressor,
        ensemble.HistGradientBoostingClassifier,
        ensemble.HistGradientBoostingRegressor,
    )


def _is_tree(estimator: Any) -> bool:
    return isinstance(estimator, _tree_classes())


def _is_linear(estimator: Any) -> bool:
    module = type(estimator).__module__
    linear_svm = type(estimator).__name__ in ("LinearSVC", "LinearSVR")
    return (
        (module.startswith("sklearn.linear_model") or linear_svm)
        and hasattr(estimator, "coef_")
        and hasattr(estimator, "intercept_")
    )


_KINDS: dict[ExplainerKind, Callable[[Any], bool]] = {"tree": _is_tree, "linear": _is_linear}

#: Why a kind was picked, given :func:`describe_model` of the model.
KIND_REASONS: dict[ExplainerKind, str] = {
    "tree": "{model} is a tree model",
    "linear": "{model} is a linear model",
    "agnostic": "no fast explainer supports {model}",
}


def model_kind(estimator: Any) -> ExplainerKind:
    """Which explainer fits the final estimator: ``tree``, ``linear`` or ``agnostic``."""
    final = split_pipeline(estimator)[1]
    return next((kind for kind, test in _KINDS.items() if test(final)), "agnostic")
