"""SHAP attributions: which features drive a slice's errors, and why one example went wrong.

Attributions come from one of two sources (:data:`AttributionSource`):
``precomputed`` ``shap_<feature>`` columns of the predictions table
(:mod:`.precomputed`), or the ``model`` registered with the dataset, loaded only
from trusted places (:mod:`.models`) and explained by a tree, linear or
model-agnostic explainer (:mod:`.explainers`, :mod:`.permutation`), with
pipeline columns mapped back to the dataset's (:mod:`.feature_map`).
:func:`explain` (:mod:`.runner`) computes the rows :func:`plan_rows` asks for
within a time budget and keeps them in a disk cache (:mod:`.store`);
:func:`toward` (:mod:`.targets`) picks a target, :mod:`.aggregate` builds the
page's tables and frames, :mod:`.view` its text and options, and
:mod:`.figures` (not imported here: it needs plotly) draws them.

Modules: ``estimators`` (a model's columns, classes, kind), ``models``,
``feature_map``, ``codec``, ``permutation``, ``explainers``, ``result``,
``store``, ``runner``, ``precomputed``, ``plan``, ``targets``, ``aggregate``,
``examples``, ``view``, ``figures``.
"""

from mlqa_debug.analyses.explain.aggregate import (
    Waterfall,
    beeswarm_frame,
    dependence_frame,
    image_attributions,
    importance_table,
    neighbour_contrast,
    push_table,
    top_features,
    waterfall,
)
from mlqa_debug.analyses.explain.estimators import (
    ExplainerKind,
    check_model,
    describe_model,
    model_columns,
    model_input,
    model_kind,
    split_pipeline,
)
from mlqa_debug.analyses.explain.examples import example_id, find_example, nearest_correct
from mlqa_debug.analyses.explain.explainers import (
    AGNOSTIC_BACKGROUND,
    LINEAR_BACKGROUND,
    Explainer,
    build_explainer,
)
from mlqa_debug.analyses.explain.feature_map import FeatureMap, feature_map, identity_map
from mlqa_debug.analyses.explain.models import (
    LoadedModel,
    check_trusted,
    dataset_model,
    load_model,
    register_model,
    trusted_model_files,
    trusted_models_dir,
)
from mlqa_debug.analyses.explain.permutation import permutation_shap
from mlqa_debug.analyses.explain.plan import (
    DEFAULT_MAX_ROWS,
    ROW_CHOICES,
    RowPlan,
    plan_rows,
    priority_order,
)
from mlqa_debug.analyses.explain.precomputed import precomputed_explanation
from mlqa_debug.analyses.explain.result import (
    ADDITIVITY_TOLERANCE,
    AttributionSource,
    ExplainInfo,
    Explanation,
    additivity_error,
)
from mlqa_debug.analyses.explain.runner import (
    DEFAULT_TIME_BUDGET,
    Cost,
    ExplainResult,
    explain,
)
from mlqa_debug.analyses.explain.targets import (
    PREDICTED,
    PREDICTED_CLASS_OUTPUT,
    Attributions,
    toward,
    toward_error,
)
from mlqa_debug.analyses.explain.view import (
    available_sources,
    example_target,
    explainer_text,
    format_value,
    target_options,
)

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "AGNOSTIC_BACKGROUND",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIME_BUDGET",
    "LINEAR_BACKGROUND",
    "PREDICTED",
    "PREDICTED_CLASS_OUTPUT",
    "ROW_CHOICES",
    "AttributionSource",
    "Attributions",
    "Cost",
    "ExplainInfo",
    "ExplainResult",
    "Explainer",
    "ExplainerKind",
    "Explanation",
    "FeatureMap",
    "LoadedModel",
    "RowPlan",
    "Waterfall",
    "additivity_error",
    "available_sources",
    "beeswarm_frame",
    "build_explainer",
    "check_model",
    "check_trusted",
    "dataset_model",
    "dependence_frame",
    "describe_model",
    "example_id",
    "example_target",
    "explain",
    "explainer_text",
    "feature_map",
    "find_example",
    "format_value",
    "identity_map",
    "image_attributions",
    "importance_table",
    "load_model",
    "model_columns",
    "model_input",
    "model_kind",
    "nearest_correct",
    "neighbour_contrast",
    "permutation_shap",
    "plan_rows",
    "precomputed_explanation",
    "priority_order",
    "push_table",
    "register_model",
    "split_pipeline",
    "target_options",
    "top_features",
    "toward",
    "toward_error",
    "trusted_model_files",
    "trusted_models_dir",
    "waterfall",
]
