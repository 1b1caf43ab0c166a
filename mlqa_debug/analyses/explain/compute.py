"""SHAP attributions: which features drive a slice's errors, and why one example went wrong.

Sources
-------
``precomputed``
    ``shap_<feature>`` columns of the predictions table (the input contract),
    with the base value from a ``shap_base_value`` / ``shap_base`` column. They
    are read as attributions toward the positive class (binary), the predicted
    class (multiclass) or the prediction (regression).
``model``
    A model file registered with the dataset (``mlqa-debug add FILE --model M``,
    or :func:`register_model` from the trusted folder). Loading a pickle or
    joblib file runs code, so models load only from trusted places
    (:func:`check_trusted`): the dataset's own folder (a built-in sample's
    folder, or the workspace copy made by ``add``), or the folder named by
    ``$MLQA_DEBUG_TRUSTED_MODELS``; never from an upload or a URL. ``.skops``
    files load with ``skops`` when it is installed.

Explainers
----------
:func:`model_kind` picks one of a dict of small builders:

``tree``
    ``shap.TreeExplainer`` (scikit-learn decision trees, random forests, extra
    trees, gradient boosting and histogram gradient boosting): exact
    path-dependent TreeSHAP, or ``approximate=True`` (Saabas) when the cost
    measured on the first rows says exact would not fit the time budget. The
    result is then flagged approximate.
``linear``
    ``shap.LinearExplainer`` with an independent masker over a background
    sample of :data:`LINEAR_BACKGROUND` rows: exact for linear models.
``agnostic``
    Permutation SHAP over an independent background of
    :data:`AGNOSTIC_BACKGROUND` rows (:func:`permutation_shap`: two antithetic
    pairs of feature orders per row, seeded by the row, every order for up to
    4 features), for every other model and as the fallback when a fast
    explainer refuses a model. It computes what ``shap.PermutationExplainer``
    with an ``Independent`` masker computes, vectorised in numpy with one
    model call per chunk of rows; shap's own version spends 8-9 s compiling
    numba code in every new server process before its first row, which would
    break "a first explanation within seconds".

Pipelines
---------
A scikit-learn ``Pipeline`` with a ``ColumnTransformer`` and string
categoricals is the common case. The tree and linear explainers explain the
final estimator on the *transformed* matrix (``pipeline[:-1].transform``) and
map its columns back to the original columns (:func:`feature_map`): one-hot
columns of a feature are summed, passthrough and element-wise columns map one
to one, and a step that mixes columns (a PCA) makes one joint feature of the
columns it mixes. Sums of SHAP values are SHAP values of the group, so
additivity is kept. The model-agnostic explainer instead wraps the whole
pipeline so that it sees one numeric code per original column (category
codes, 0/1, seconds for dates) and the pipeline sees the original values; it
never builds impossible one-hot rows.

Cost, budget and cache
----------------------
:func:`explain` computes only rows that are not stored yet, in batches with a
progress callback, until the time budget runs out (the rows are in priority
order, see :func:`plan_rows`, so what is done first is what the page needs
first). Attributions are stored per row in
``Workspace.cache_dir("shap")`` (a :class:`~mlqa_debug.cache.DiskCache`)
under a key of the model file's hash, the dataset fingerprint and the method,
so overlapping slices share rows and a second visit computes nothing (nor
imports shap). The first :data:`CHECK_ROWS` rows each call computes are checked
against the model itself: base value plus attributions must equal the model's
output in the explainer's output space (:func:`additivity_error`), and the
model must reproduce the table's predictions (``ExplainInfo.agreement``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd

from mlqa_debug.cache import DiskCache, cache_key
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import ModelSpec
from mlqa_debug.data.workspace import (
    ENV_TRUSTED_MODELS,
    MODEL_SUFFIXES,
    DatasetEntry,
    Workspace,
)
from mlqa_debug.errors import ModelError, SchemaError
from mlqa_debug.files import write_atomic

logger = logging.getLogger(__name__)

T = TypeVar("T")

Source = Literal["model", "precomputed"]
Kind = Literal["tree", "linear", "agnostic"]
Progress = Callable[[int, int], None]

STORE_VERSION = "explain-1"
DEFAULT_TIME_BUDGET = 6.0
DEFAULT_MAX_ROWS = 2_000
ROW_CHOICES = (500, 1_000, 2_000, 5_000, 10_000, 20_000)
PROBE_ROWS = 4
PROBE_SECONDS = 0.3
MIN_BATCH = 16
CHECK_ROWS = 256
BATCH_SECONDS = 0.5
MAX_BATCH = 4_096
LINEAR_BACKGROUND = 200
AGNOSTIC_BACKGROUND = 32
AGNOSTIC_PERMUTATIONS = 2
MAX_EXACT_PERMUTATIONS = 24
MAP_SAMPLE = 64
#: Largest relative ``|base + sum(attributions) - output|`` that counts as additive.
ADDITIVITY_TOLERANCE = 1e-4
PREDICTED = "predicted"
PREDICTED_CLASS_OUTPUT = "(predicted class)"


# ---------------------------------------------------------------------------
# Trusted model files
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class LoadedModel:
    """A model loaded from a trusted file, with its content hash and built explainers."""

    estimator: Any
    path: Path
    sha: str
    name: str
    version: str | None = None
    notes: tuple[str, ...] = ()
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A structure built once for this model (explainers), thread-safe and reentrant."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = build()
            return cast(T, self._memo[key])

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version else self.name


def trusted_models_dir() -> Path | None:
    """The folder named by ``$MLQA_DEBUG_TRUSTED_MODELS``, if set and a directory."""
    raw = os.environ.get(ENV_TRUSTED_MODELS)
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        logger.warning("%s=%r is not a directory; no trusted model folder", ENV_TRUSTED_MODELS, raw)
        return None
    return path


def check_trusted(path: str | os.PathLike[str], *, roots: Sequence[Path]) -> Path:
    """``path`` resolved (symlinks followed) if it is a model file inside one of ``roots``.

    Raises :class:`ModelError` otherwise: loading a pickle runs code, so a model
    is only ever loaded from a place the operator chose.
    """
    resolved = Path(path).expanduser().resolve()
    trusted = [Path(r).resolve() for r in roots]
    if not any(resolved.is_relative_to(r) for r in trusted):
        places = ", ".join(str(r) for r in trusted) or "(none)"
        raise ModelError(
            f"refusing to load the model {Path(path).name!r}: it is not in a trusted place "
            f"({places}). Loading a pickle runs code, so models load only from a dataset's "
            f"own folder or from ${ENV_TRUSTED_MODELS}, never from an upload or a link"
        )
    if resolved.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(
            f"model file {resolved.name!r}: expected one of {', '.join(MODEL_SUFFIXES)}"
        )
    if not resolved.is_file():
        raise ModelError(f"model file {resolved.name!r} not found in {resolved.parent}")
    return resolved


def _load_joblib(raw: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(raw))


def _load_skops(raw: bytes) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise ModelError(
            "this is a .skops model file; install skops (pip install skops) to load it"
        ) from None
    # The file sits in a trusted place; skops still builds only the types it lists.
    return sio.loads(raw, trusted=sio.get_untrusted_types(data=raw))


_LOADERS: dict[str, Callable[[bytes], Any]] = {
    ".joblib": _load_joblib,
    ".pkl": _load_joblib,
    ".skops": _load_skops,
}


def load_model(
    path: str | os.PathLike[str],
    *,
    roots: Sequence[Path],
    name: str | None = None,
    version: str | None = None,
) -> LoadedModel:
    """Load a model file that :func:`check_trusted` accepts; hash what is loaded."""
    resolved = check_trusted(path, roots=roots)
    raw = resolved.read_bytes()
    sha = hashlib.blake2b(raw, digest_size=16).hexdigest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = _LOADERS[resolved.suffix.lower()](raw)
        except ModelError:
            raise
        except Exception as e:  # unpickling can raise anything; say which file and why
            raise ModelError(
                f"model file {resolved.name!r} cannot be loaded: {type(e).__name__}: {e}"
            ) from e
    if not callable(getattr(estimator, "predict", None)):
        raise ModelError(
            f"model file {resolved.name!r} holds a {type(estimator).__name__}, "
            "not a fitted model with a predict method"
        )
    notes = tuple(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
    return LoadedModel(estimator, resolved, sha, name or resolved.stem, version, notes)


def dataset_model(workspace: Workspace, dataset: str) -> LoadedModel | None:
    """The model registered with ``dataset`` (from its own folder), or ``None``."""
    entry = workspace.entry(dataset)
    spec = entry.roles.model
    if spec is None:
        return None
    path = entry.model_path
    if path is None:
        raise ModelError(
            f"dataset {dataset!r} names the model file {spec.file!r}, which is missing "
            f"or outside the dataset's folder {entry.path.parent}"
        )
    return load_model(
        path,
        roots=[entry.path.parent],
        name=spec.name or Path(spec.file).stem,
        version=spec.version,
    )


def trusted_model_files() -> list[str]:
    """Names of the model files in the trusted folder (symlinks out of it excluded)."""
    root = trusted_models_dir()
    if root is None:
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.suffix.lower() in MODEL_SUFFIXES and p.is_file() and p.resolve().is_relative_to(root)
    )


def register_model(
    workspace: Workspace,
    dataset: str,
    filename: str,
    *,
    name: str | None = None,
    version: str | None = None,
) -> DatasetEntry:
    """Copy ``filename`` from the trusted folder into a registered dataset and record it.

    ``filename`` is a bare name that :func:`trusted_model_files` lists, never a
    path. The model is loaded (trusted) and applied to a few rows first, so a
    model that does not fit the data is refused before anything changes.
    """
    root = trusted_models_dir()
    if root is None:
        raise ModelError(
            f"no trusted model folder: set {ENV_TRUSTED_MODELS} to a folder of model files "
            "on the server, or register the model with `mlqa-debug add FILE --model MODEL`"
        )
    available = trusted_model_files()
    if filename not in available:
        raise ModelError(
            f"{filename!r} is not a model file in the trusted folder {root}; "
            f"available: {', '.join(available) or '(none)'}"
        )
    entry = workspace.entry(dataset)
    if entry.builtin:
        raise ModelError(
            f"{dataset!r} is a built-in sample with its own model; register a copy of it "
            "to attach another model"
        )
    model = load_model(root / filename, roots=[root], name=name, version=version)
    check_model(model, workspace.load(dataset))
    raw = model.path.read_bytes()
    if hashlib.blake2b(raw, digest_size=16).hexdigest() != model.sha:
        raise ModelError(f"model file {filename!r} changed while it was being registered")
    target = entry.path.parent / f"model{model.path.suffix.lower()}"
    write_atomic(target, raw)
    roles = replace(entry.roles, model=ModelSpec(target.name, name or model.path.stem, version))
    updated = workspace.save_roles(dataset, roles)
    old = entry.roles.model
    if old is not None and old.file != target.name:
        (entry.path.parent / Path(old.file).name).unlink(missing_ok=True)
    return updated


# ---------------------------------------------------------------------------
# The model's input and kind
# ---------------------------------------------------------------------------


def split_pipeline(estimator: Any) -> tuple[Any | None, Any]:
    """``(preprocessing, final estimator)``; preprocessing is ``None`` for a bare model."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        return (estimator[:-1] if len(estimator.steps) > 1 else None), final
    return None, estimator


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
        _class_outputs(_model_classes(model.estimator), predictions)


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


_KINDS: dict[Kind, Callable[[Any], bool]] = {"tree": _is_tree, "linear": _is_linear}


def model_kind(estimator: Any) -> Kind:
    """Which explainer fits the final estimator: ``tree``, ``linear`` or ``agnostic``."""
    final = split_pipeline(estimator)[1]
    return next((kind for kind, test in _KINDS.items() if test(final)), "agnostic")


def _model_classes(estimator: Any) -> list[str]:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ModelError(
            f"the model ({type(estimator).__name__}) has no classes_; expected a fitted classifier"
        )
    return [str(c) for c in classes]


# ---------------------------------------------------------------------------
# Mapping transformed columns back to the original columns
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureMap:
    """Transformed columns -> original features: ``matrix[p, g] = 1`` if column p is in group g."""

    features: tuple[str, ...]
    matrix: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``(n, P, K)`` attributions of transformed columns -> ``(n, G, K)`` per feature."""
        return np.einsum("npk,pg->ngk", values, self.matrix)


def identity_map(columns: Sequence[str]) -> FeatureMap:
    return FeatureMap(tuple(columns), np.eye(len(columns)))


def feature_map(preprocess: Any, sample: pd.DataFrame) -> FeatureMap:
    """How the outputs of ``preprocess`` (fitted) depend on the columns of ``sample``.

    Walks the steps (a ``Pipeline`` or one transformer), composing per-step
    dependency matrices; a ``ColumnTransformer`` maps each transformer's block
    (one-hot blocks per input column, passthrough and element-wise steps one to
    one, others all-to-all). Original columns that share an output column form
    one joint feature; columns nothing reads are left out.
    """
    steps = [s for _, s in getattr(preprocess, "steps", [("only", preprocess)])]
    dependency = np.eye(sample.shape[1], dtype=bool)  # (original, current column)
    current: Any = sample
    for step in steps:
        if step is None or step == "passthrough":
            continue
        transformed = step.transform(current)
        local = _step_map(step, current, _width(transformed))
        dependency = (dependency.astype(np.int64) @ local.astype(np.int64)) > 0
        current = transformed
    return _groups(list(sample.columns), dependency)


def _width(data: Any) -> int:
    return int(data.shape[1])


def _step_map(step: Any, data: Any, width_out: int) -> np.ndarray:
    from sklearn.compose import ColumnTransformer

    width_in = _width(data)
    if isinstance(step, ColumnTransformer):
        names = [str(c) for c in data.columns] if isinstance(data, pd.DataFrame) else None
        return _column_transformer_map(step, names, width_in, width_out)
    return _block_map(step, width_in, width_out)


def _column_transformer_map(
    ct: Any, names: list[str] | None, width_in: int, width_out: int
) -> np.ndarray:
    out = np.zeros((width_in, width_out), dtype=bool)
    for name, transformer, columns in ct.transformers_:
        block = ct.output_indices_.get(name, slice(0, 0))
        if transformer == "drop" or block.stop <= block.start:
            continue
        inputs = _column_indices(columns, names, width_in)
        local = _block_map(transformer, len(inputs), block.stop - block.start)
        out[np.ix_(inputs, np.arange(block.start, block.stop))] = local
    return out


def _column_indices(columns: Any, names: list[str] | None, width: int) -> np.ndarray:
    """Positions of a ColumnTransformer column specifier (names, ints, mask or slice)."""
    if isinstance(columns, slice):
        return np.arange(width)[columns]
    items = [columns] if isinstance(columns, str | int | np.integer) else list(columns)
    if items and all(isinstance(c, bool | np.bool_) for c in items):
        return np.flatnonzero(np.asarray(items, dtype=bool))
    if all(isinstance(c, int | np.integer) for c in items):
        return np.asarray(items, dtype=np.int64)
    if names is None:
        raise ModelError("a ColumnTransformer selects columns by name after a step without names")
    return np.asarray([names.index(str(c)) for c in items], dtype=np.int64)


def _block_map(transformer: Any, width_in: int, width_out: int) -> np.ndarray:
    """Dependencies of one transformer's outputs on its inputs."""
    last = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
    mixes = hasattr(last, "components_")
    if transformer == "passthrough" or (width_in == width_out and not mixes):
        return np.eye(width_in, dtype=bool)
    if width_in == 1:
        return np.ones((1, width_out), dtype=bool)
    sizes = _one_hot_sizes(last, width_in)
    if sizes is not None and sum(sizes) == width_out:
        out = np.zeros((width_in, width_out), dtype=bool)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for i in range(width_in):
            out[i, starts[i] : starts[i + 1]] = True
        return out
    return np.ones((width_in, width_out), dtype=bool)


def _one_hot_sizes(encoder: Any, width_in: int) -> list[int] | None:
    from sklearn.preprocessing import OneHotEncoder

    if not isinstance(encoder, OneHotEncoder):
        return None
    sizes = getattr(encoder, "_n_features_outs", None)  # per input, after drop / infrequent
    if sizes is None or len(sizes) != width_in:
        return None
    return [int(s) for s in sizes]


def _groups(columns: list[str], dependency: np.ndarray) -> FeatureMap:
    """Join original columns that share an output; one group per component."""
    parent = list(range(len(columns)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p in range(dependency.shape[1]):
        inputs = np.flatnonzero(dependency[:, p])
        for i in inputs[1:]:
            parent[find(int(i))] = find(int(inputs[0]))
    used = np.asarray(dependency.any(axis=1), dtype=bool)
    roots = list(dict.fromkeys(find(i) for i in range(len(columns)) if used[i]))
    members = {
        r: [columns[i] for i in range(len(columns)) if used[i] and find(i) == r] for r in roots
    }
    names = [_group_name(members[r]) for r in roots]
    matrix = np.zeros((dependency.shape[1], len(roots) + 1))
    for p in range(dependency.shape[1]):
        inputs = np.flatnonzero(dependency[:, p])
        g = roots.index(find(int(inputs[0]))) if len(inputs) else len(roots)
        matrix[p, g] = 1.0
    if not matrix[:, -1].any():
        return FeatureMap(tuple(names), matrix[:, :-1])
    return FeatureMap((*names, "(constant)"), matrix)


def _group_name(members: list[str]) -> str:
    if len(members) <= 3:
        return " + ".join(members)
    return f"{members[0]} + {members[1]} + … ({len(members)} columns)"


# ---------------------------------------------------------------------------
# Explainers
# ---------------------------------------------------------------------------

#: ``(model input, row positions) -> (values (n, G, K), base (n, K), output (n, K))``
RunBatch = Callable[[pd.DataFrame, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Explainer:
    """A ready explainer: what it computes and the function that computes a batch."""

    kind: Kind
    approximate: bool
    method: str
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    output_space: str
    run: RunBatch = field(repr=False)
    #: The model's own output in ``output_space`` (for the additivity check), or ``None``
    #: when ``run`` returns it already; otherwise ``run`` returns base + values.
    model_output: Callable[[pd.DataFrame], np.ndarray] | None = field(default=None, repr=False)


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


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the feature-name warnings of estimators called on arrays."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*feature names.*", category=UserWarning)
        yield


def _raw_output(final: Any, predictions: Predictions) -> tuple[Callable[[Any], np.ndarray], str]:
    """The estimator's output in its explainer's space, and that space's name."""
    if not predictions.schema.is_classification:
        return final.predict, "prediction"
    if hasattr(final, "decision_function"):
        if not hasattr(final, "predict_proba"):
            return final.decision_function, "margin"
        binary = len(_model_classes(final)) == 2
        return final.decision_function, "log-odds" if binary else "logit (softmax input)"
    return final.predict_proba, "probability"


def _outputs(estimator: Any, predictions: Predictions, width: int) -> tuple[str, ...]:
    if not predictions.schema.is_classification:
        return ("prediction",)
    classes = _model_classes(estimator)
    if width == len(classes):
        return tuple(classes)
    if width == 1 and len(classes) == 2:
        return (classes[1],)
    raise ModelError(f"the explainer gave {width} outputs for the model's {len(classes)} classes")


def _sample_rows(predictions: Predictions, n: int, *, offset: int = 0) -> np.ndarray:
    order = _priority_order(predictions)
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
    return frame if preprocess is None else _dense(preprocess.transform(frame))


def _build_tree(model: LoadedModel, predictions: Predictions, *, approximate: bool) -> Explainer:
    import shap

    preprocess, final, fmap = _prepared(model, predictions)
    explainer = model.memo("tree-explainer", lambda: shap.TreeExplainer(final))
    output_fn, space = _raw_output(final, predictions)

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data = _transform(preprocess, frame)
        with _quiet():
            raw = explainer.shap_values(data, approximate=approximate, check_additivity=False)
        values = _as_3d(raw)
        base = _base(explainer.expected_value, len(rows), values.shape[2])
        return fmap.apply(values), base, base + values.sum(axis=1)

    def model_output(frame: pd.DataFrame) -> np.ndarray:
        with _quiet():
            return _as_2d(output_fn(_transform(preprocess, frame)), len(frame))

    probe = _transform(preprocess, _probe_frame(model, predictions))
    with _quiet():  # shap raises here for models it cannot explain: the caller falls back
        width = _as_3d(explainer.shap_values(probe, check_additivity=False)).shape[2]
    method = "TreeExplainer (approximate, Saabas)" if approximate else "TreeExplainer (exact)"
    outputs = _outputs(final, predictions, width)
    return Explainer("tree", approximate, method, fmap.features, outputs, space, run, model_output)


def _probe_frame(model: LoadedModel, predictions: Predictions) -> pd.DataFrame:
    return model_input(model, predictions, _sample_rows(predictions, 1))


def _build_linear(model: LoadedModel, predictions: Predictions, *, approximate: bool) -> Explainer:
    import shap

    preprocess, final, fmap = _prepared(model, predictions)
    rows = _sample_rows(predictions, LINEAR_BACKGROUND)
    background = _numeric(_transform(preprocess, model_input(model, predictions, rows)))
    masker = shap.maskers.Independent(background, max_samples=len(background))
    with _quiet():
        explainer = shap.LinearExplainer(final, masker)
    output_fn, space = _raw_output(final, predictions)

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with _quiet():
            values = _as_3d(explainer.shap_values(_numeric(_transform(preprocess, frame))))
        base = _base(explainer.expected_value, len(rows), values.shape[2])
        return fmap.apply(values), base, base + values.sum(axis=1)

    def model_output(frame: pd.DataFrame) -> np.ndarray:
        with _quiet():
            return _as_2d(output_fn(_numeric(_transform(preprocess, frame))), len(frame))

    with _quiet():
        width = _as_2d(output_fn(background[:1]), 1).shape[1]
    outputs = _outputs(final, predictions, width)
    return Explainer(
        "linear", False, "LinearExplainer", fmap.features, outputs, space, run, model_output
    )


class _Codec:
    """Original columns <-> one float per column, for explainers that need numbers.

    Categories and strings become integer codes (missing: NaN), booleans 0/1,
    dates seconds since the epoch; decoding gives back the original dtypes.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes.to_dict()
        self.categories: dict[str, pd.Index] = {}
        for col in self.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.categories[col] = s.cat.categories
            elif not _is_number_like(s):
                self.categories[col] = pd.Index(pd.unique(s.dropna()))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([self._encode(col, frame[col]) for col in self.columns])

    def _encode(self, col: str, s: pd.Series) -> np.ndarray:
        if col in self.categories:
            codes = self.categories[col].get_indexer(pd.Index(s.astype(object)))
            codes = codes.astype(np.float64)
            codes[codes < 0] = np.nan
            return codes
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            seconds = s.to_numpy("datetime64[ns]").astype(np.int64) / 1e9
            return np.where(s.isna().to_numpy(), np.nan, seconds)
        return s.to_numpy(np.float64, na_value=np.nan)

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {col: self._decode(col, matrix[:, i]) for i, col in enumerate(self.columns)}
        )

    def _decode(self, col: str, values: np.ndarray) -> Any:
        dtype = self.dtypes[col]
        if col in self.categories:
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            if isinstance(dtype, pd.CategoricalDtype):
                return pd.Categorical.from_codes(codes, dtype=dtype)
            return pd.Series(self.categories[col].take(np.maximum(codes, 0))).where(codes >= 0)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.Series(pd.to_datetime(values, unit="s")).astype(dtype)
        if pd.api.types.is_bool_dtype(dtype):
            flags = pd.Series(values > 0.5, dtype="boolean").mask(np.isnan(values))
            return flags if flags.hasnans else flags.astype(dtype)
        return pd.Series(values).astype(dtype)  # values come from real rows: casts are exact


def _is_number_like(s: pd.Series) -> bool:
    dtype = s.dtype
    return bool(
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
    )


def _permutations(n_features: int, n_pairs: int, seed: int) -> np.ndarray:
    """Feature orders for permutation SHAP: all of them for a few features, else
    ``n_pairs`` random orders and their reverses (antithetic), seeded."""
    if math.factorial(n_features) <= MAX_EXACT_PERMUTATIONS:
        return np.array(list(itertools.permutations(range(n_features))), dtype=np.int64)
    rng = np.random.default_rng(seed)
    forward = np.stack([rng.permutation(n_features) for _ in range(n_pairs)])
    return np.concatenate([forward, forward[:, ::-1]])


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    *,
    seeds: Sequence[int],
    n_pairs: int = AGNOSTIC_PERMUTATIONS,
    chunk_rows: int = 50_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interventional SHAP values of ``f`` by permutation sampling, vectorised.

    For each row and feature order, features are switched from background to
    the row's values one by one; each switch's change in the background-mean
    output is that feature's part, averaged over the orders. Base + values
    equals ``f`` exactly for every order, so additivity is exact; with at most
    4 features every order is used and the values are the exact Shapley values.
    ``f`` maps ``(N, F)`` to ``(N,)`` or ``(N, K)``; returns values ``(n, F, K)``,
    base ``(n, K)`` and output ``(n, K)``. Row i's orders come from ``seeds[i]``,
    so a row's values do not depend on the other rows.
    """
    n, n_features = rows.shape
    per_row = len(_permutations(n_features, n_pairs, 0)) * (n_features + 1) * len(background)
    step = max(1, chunk_rows // per_row)
    parts = [
        _permutation_block(f, rows[i : i + step], background, seeds[i : i + step], n_pairs)
        for i in range(0, n, step)
    ]
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(3))  # type: ignore[return-value]


def _permutation_block(
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    seeds: Sequence[int],
    n_pairs: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_features = rows.shape[1]
    orders = np.stack([_permutations(n_features, n_pairs, int(s)) for s in seeds])  # (b, P, F)
    rank = np.argsort(orders, axis=-1)  # position of each feature in each order
    masks = rank[:, :, None, :] < np.arange(n_features + 1)[:, None]  # (b, P, F+1, F)
    inputs = np.where(masks[:, :, :, None, :], rows[:, None, None, None, :], background)
    out = np.asarray(f(inputs.reshape(-1, n_features)), dtype=np.float64)
    out = out.reshape(*inputs.shape[:4], -1).mean(axis=3)  # (b, P, F+1, K)
    steps = out[:, :, 1:] - out[:, :, :-1]  # steps[..., k, :] is the part of orders[..., k]
    values = np.take_along_axis(steps, rank[..., None], axis=2).mean(axis=1)
    return values, out[:, :, 0].mean(axis=1), out[:, :, -1].mean(axis=1)


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


def _build_agnostic(
    model: LoadedModel, predictions: Predictions, *, approximate: bool
) -> Explainer:
    columns = model_columns(model, predictions)
    codec = model.memo(
        f"codec:{predictions.fingerprint}", lambda: _Codec(predictions.frame[columns])
    )
    predict, space = _agnostic_output(model.estimator, predictions)

    def f(matrix: np.ndarray) -> np.ndarray:
        with _quiet():
            return np.asarray(predict(codec.decode(matrix)), dtype=np.float64)

    rows = _sample_rows(predictions, AGNOSTIC_BACKGROUND, offset=LINEAR_BACKGROUND)
    background = codec.encode(predictions.frame.iloc[rows][columns])

    def run(frame: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # the output is the model's own: the last step of every feature order
        return permutation_shap(f, codec.encode(frame), background, seeds=rows.tolist())

    width = _as_2d(f(background[:1]), 1).shape[1]
    outputs = _outputs(model.estimator, predictions, width)
    method = "permutation SHAP (model-agnostic)"
    return Explainer("agnostic", False, method, tuple(columns), outputs, space, run)


_BUILDERS: dict[Kind, Callable[..., Explainer]] = {
    "tree": _build_tree,
    "linear": _build_linear,
    "agnostic": _build_agnostic,
}


def build_explainer(
    model: LoadedModel,
    predictions: Predictions,
    *,
    kind: Kind | None = None,
    approximate: bool = False,
) -> Explainer:
    """The explainer for ``model`` on this dataset, built once per model and dataset.

    A fast explainer that refuses the model (shap raises for estimators it does
    not support, e.g. multiclass ``GradientBoostingClassifier``) falls back to
    the model-agnostic one, with a log message.
    """
    chosen = kind or model_kind(model.estimator)
    key = f"explainer:{predictions.fingerprint}:{chosen}:{approximate}"

    def build() -> Explainer:
        try:
            return _BUILDERS[chosen](model, predictions, approximate=approximate)
        except (ModelError, SchemaError):
            raise
        except Exception as e:  # shap raises many types for unsupported models
            if chosen == "agnostic":
                raise ModelError(
                    f"model {model.name!r} cannot be explained: {type(e).__name__}: {e}"
                ) from e
            logger.info(
                "%s explainer refused %s (%s); model-agnostic instead", chosen, model.name, e
            )
            return build_explainer(model, predictions, kind="agnostic")

    return model.memo(key, build)  # the lock is reentrant: the fallback may build inside


# ---------------------------------------------------------------------------
# Explanations and their store
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainInfo:
    """How attributions were made: source, method, output space, checks."""

    source: Source
    method: str
    output_space: str
    approximate: bool = False
    model: str | None = None
    additivity_error: float = math.nan
    agreement: float | None = None
    checked_rows: int = 0
    per_row_class: bool = False
    notes: tuple[str, ...] = ()

    @property
    def additive(self) -> bool | None:
        """Whether base + attributions matched the output (``None``: not checkable)."""
        return (
            None
            if math.isnan(self.additivity_error)
            else self.additivity_error <= ADDITIVITY_TOLERANCE
        )


@dataclass(frozen=True)
class Explanation:
    """Attributions of some rows: ``values[i, g, k]`` is feature g's part of output k at rows[i]."""

    rows: np.ndarray
    values: np.ndarray
    base: np.ndarray
    output: np.ndarray
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    info: ExplainInfo

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def index(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """Index into this explanation of dataset ``positions`` (-1 where not explained)."""
        return _index(self.rows, positions)

    def take(self, positions: np.ndarray) -> Explanation:
        """The explained rows among ``positions``."""
        idx = self.index(positions)
        idx = np.unique(idx[idx >= 0])
        return replace(
            self, rows=self.rows[idx], values=self.values[idx], base=self.base[idx],
            output=self.output[idx],
        )  # fmt: skip


def additivity_error(values: np.ndarray, base: np.ndarray, output: np.ndarray) -> float:
    """Largest ``|base + sum(values) - output|``, relative to the output's scale.

    ``values`` is ``(n, G[, K])``; ``base`` and ``output`` ``(n[, K])``. Zero rows give 0.
    """
    if values.size == 0:
        return 0.0
    total = base + values.sum(axis=1)
    scale = max(1.0, float(np.nanmax(np.abs(output)))) if output.size else 1.0
    return float(np.nanmax(np.abs(total - output))) / scale


@dataclass(frozen=True)
class _Meta:
    """What a store's attributions are: features, outputs, method and output space."""

    features: tuple[str, ...]
    outputs: tuple[str, ...]
    method: str
    output_space: str
    approximate: bool

    @classmethod
    def of(cls, explainer: Explainer) -> _Meta:
        return cls(
            explainer.features,
            explainer.outputs,
            explainer.method,
            explainer.output_space,
            explainer.approximate,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "features": np.asarray(self.features, dtype=str),
            "outputs": np.asarray(self.outputs, dtype=str),
            "meta": np.asarray([self.method, self.output_space, str(self.approximate)], dtype=str),
        }

    @classmethod
    def from_arrays(cls, stored: dict[str, np.ndarray]) -> _Meta:
        method, space, approximate = stored["meta"].tolist()
        features, outputs = stored["features"].tolist(), stored["outputs"].tolist()
        return cls(tuple(features), tuple(outputs), method, space, approximate == "True")


class _Store:
    """Attributions of one (model, dataset, method), per row, in memory and on disk.

    It keeps its own description (:class:`_Meta`), so reading stored rows needs
    no explainer: a cached visit never imports shap.
    """

    def __init__(self, cache: DiskCache | None, key: str) -> None:
        self.cache, self.key = cache, key
        self.meta: _Meta | None = None
        self.rows = np.empty(0, np.int64)
        self.values = np.empty((0, 0, 0))
        self.base = np.empty((0, 0))
        self.output = np.empty((0, 0))
        self.agree = np.empty(0)
        self.lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        stored = self.cache.get_arrays(self.key) if self.cache is not None else None
        if stored is None:
            return
        try:
            meta = _Meta.from_arrays(stored)
            arrays = [stored[k] for k in ("rows", "values", "base", "output", "agree")]
        except (KeyError, ValueError) as e:
            logger.warning("ignoring SHAP cache entry %s: %s", self.key, e)
            return
        self.meta = meta
        self.rows, self.values, self.base, self.output, self.agree = arrays

    def missing(self, rows: np.ndarray) -> np.ndarray:
        with self.lock:
            return rows[~np.isin(rows, self.rows)]

    def add(self, meta: _Meta, rows: np.ndarray, arrays: Sequence[np.ndarray]) -> None:
        """Merge ``values, base, output, agree`` of ``rows`` (rows already stored are kept)."""
        with self.lock:
            if self.meta is None or len(self.rows) == 0:
                self.meta = meta
                g, k = len(meta.features), len(meta.outputs)
                self.values, self.base, self.output = (
                    np.empty((0, g, k)), np.empty((0, k)), np.empty((0, k))
                )  # fmt: skip
            keep = ~np.isin(rows, self.rows)
            merged = np.concatenate([self.rows, rows[keep]])
            order = np.argsort(merged, kind="stable")
            self.rows = merged[order]
            old = (self.values, self.base, self.output, self.agree)
            new = [np.concatenate([a, b[keep]])[order] for a, b in zip(old, arrays, strict=True)]
            self.values, self.base, self.output, self.agree = new

    def save(self) -> None:
        if self.cache is None or self.meta is None:
            return
        with self.lock:
            arrays = {
                "rows": self.rows, "values": self.values, "base": self.base,
                "output": self.output, "agree": self.agree, **self.meta.arrays(),
            }  # fmt: skip
        self.cache.put_arrays(self.key, arrays)

    def select(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """``rows, values, base, output, agree`` of the stored ``rows``, in row order."""
        with self.lock:
            idx = np.flatnonzero(np.isin(self.rows, rows))
            arrays = (self.rows, self.values, self.base, self.output, self.agree)
            return tuple(a[idx] for a in arrays)

    def update(self, rows: np.ndarray, *, output: np.ndarray, agree: np.ndarray) -> None:
        """Replace the output and agreement of stored ``rows`` (given in row order)."""
        with self.lock:
            idx = np.flatnonzero(np.isin(self.rows, rows))
            self.output[idx], self.agree[idx] = output, agree


@dataclass(frozen=True)
class ExplainResult:
    """The explanation of the requested rows, and what it took."""

    explanation: Explanation
    requested: int
    computed: int
    remaining: np.ndarray
    seconds: float
    cost: Cost | None

    @property
    def complete(self) -> bool:
        return len(self.remaining) == 0


def explain(
    predictions: Predictions,
    rows: np.ndarray | Sequence[int],
    *,
    model: LoadedModel | None = None,
    source: Source = "model",
    cache_dir: str | os.PathLike[str] | None = None,
    time_budget: float = DEFAULT_TIME_BUDGET,
    approximate: bool | None = None,
    progress: Progress | None = None,
) -> ExplainResult:
    """Attributions of ``rows`` (positions, in priority order), computing what is missing.

    Rows already stored (memory, then ``cache_dir``) cost nothing; the rest are
    computed in batches until done or until ``time_budget`` seconds have passed
    (at least one batch always runs). For tree models ``approximate=None``
    chooses: exact TreeSHAP unless its measured cost per row times
    ``len(rows)`` exceeds the budget. ``progress(done, total)`` follows the batches.
    """
    positions = _positions(rows, predictions.n_samples)
    started = time.perf_counter()
    if source == "precomputed":
        full = precomputed_explanation(predictions)
        return ExplainResult(full.take(positions), len(positions), 0, positions[:0], 0.0, None)
    if model is None:
        raise ModelError("no model is registered with this dataset, so nothing can be explained")
    cache = DiskCache(cache_dir) if cache_dir is not None else None
    runner = _Runner(model, predictions, cache, progress, time_budget=time_budget)
    method = runner.choose(model_kind(model.estimator), positions, approximate)
    store = runner.store(method)
    runner.compute(method, store, store.missing(positions))
    explanation = _from_store(store, positions, runner, method)
    remaining = store.missing(positions)
    seconds = time.perf_counter() - started
    return ExplainResult(
        explanation, len(positions), runner.computed, remaining, seconds, runner.cost(method)
    )


def _positions(rows: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    positions = np.asarray(rows, dtype=np.int64).ravel()
    bad = positions[(positions < 0) | (positions >= n)]
    if len(bad):
        raise ValueError(f"row positions out of range [0, {n}): {bad[:5].tolist()}")
    _, first = np.unique(positions, return_index=True)
    return positions[np.sort(first)]


def _from_store(store: _Store, positions: np.ndarray, runner: _Runner, method: str) -> Explanation:
    rows, values, base, output, agree = store.select(positions)
    meta = store.meta or _Meta.of(runner.explainer(method))  # no rows at all: describe anyway
    checked = agree[~np.isnan(agree)]
    info = ExplainInfo(
        source="model",
        method=meta.method,
        output_space=meta.output_space,
        approximate=meta.approximate,
        model=runner.model.label,
        additivity_error=additivity_error(values, base, output),
        agreement=float(checked.mean()) if len(checked) else None,
        checked_rows=len(checked),
        notes=runner.model.notes,
    )
    if len(rows) == 0:
        g, k = len(meta.features), len(meta.outputs)
        values, base, output = np.empty((0, g, k)), np.empty((0, k)), np.empty((0, k))
    return Explanation(rows, values, base, output, meta.features, meta.outputs, info)


@dataclass(frozen=True)
class Cost:
    """Measured time of an explainer: ``per_batch + n * per_row`` seconds for a batch of n."""

    per_row: float
    per_batch: float

    @classmethod
    def fit(cls, timings: Sequence[tuple[int, float]]) -> Cost:
        """From two or more ``(rows, seconds)`` batches of different sizes (least squares)."""
        n = np.array([t[0] for t in timings], dtype=np.float64)
        seconds = np.array([t[1] for t in timings], dtype=np.float64)
        slope = float(np.polyfit(n, seconds, 1)[0]) if len(set(n)) > 1 else 0.0
        floor = 0.1 * float(seconds.sum() / n.sum())  # noise guard: never near-free rows
        per_row = max(float(slope), floor)
        per_batch = max(0.0, float(np.mean(seconds - per_row * n)))
        return cls(per_row, per_batch)

    def seconds(self, n_rows: int) -> float:
        """Time to explain ``n_rows`` in batches of :meth:`batch_size`."""
        return n_rows * self.per_row + math.ceil(n_rows / self.batch_size()) * self.per_batch

    def batch_size(self) -> int:
        rows = (BATCH_SECONDS - self.per_batch) / max(self.per_row, 1e-9)
        return int(np.clip(math.floor(rows + 1e-6), MIN_BATCH, MAX_BATCH))

    def updated(self, n_rows: int, seconds: float) -> Cost:
        """Blend in one more batch's time (weight grows with its size)."""
        weight = min(1.0, n_rows / 512)
        measured = max(seconds - self.per_batch, 0.0) / n_rows
        return replace(self, per_row=(1 - weight) * self.per_row + weight * measured)


@contextlib.contextmanager
def _model_errors(model: LoadedModel, what: str) -> Iterator[None]:
    """A foreign model (or shap on it) can fail in any way: say so as a :class:`ModelError`."""
    try:
        yield
    except (ModelError, SchemaError):
        raise
    except Exception as e:
        raise ModelError(f"model {model.name!r} failed in {what}: {type(e).__name__}: {e}") from e


#: Method ids: what a store holds. A tree model is "tree" or "tree-approx".
_METHODS: dict[str, tuple[Kind, bool]] = {
    "tree": ("tree", False),
    "tree-approx": ("tree", True),
    "linear": ("linear", False),
    "agnostic": ("agnostic", False),
}


class _Runner:
    """One call of :func:`explain`: method choice, cost measurement, batches.

    Methods are named by id (:data:`_METHODS`); explainers are built only when
    rows must be computed, so serving stored rows needs no shap import.
    """

    def __init__(
        self,
        model: LoadedModel,
        predictions: Predictions,
        cache: DiskCache | None,
        progress: Progress | None,
        *,
        time_budget: float,
    ) -> None:
        self.model, self.predictions, self.cache = model, predictions, cache
        self.progress, self.time_budget = progress, time_budget
        self.deadline = time.perf_counter() + time_budget
        self._costs: dict[str, Cost] = {}
        self._provisional: set[str] = set()
        self._checked = 0
        self.computed = 0

    def explainer(self, method: str) -> Explainer:
        kind, approximate = _METHODS[method]
        return build_explainer(self.model, self.predictions, kind=kind, approximate=approximate)

    def _cost_key(self, method: str) -> str:
        parts = (self.model.sha, self.predictions.fingerprint, method)
        return cache_key("explain-cost", STORE_VERSION, *parts)

    def cost(self, method: str) -> Cost | None:
        """Measured cost of ``method`` (this call, else the cache)."""
        if method not in self._costs and self.cache is not None:
            stored = self.cache.get_json(self._cost_key(method))
            if isinstance(stored, dict):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self._costs[method] = Cost(float(stored["per_row"]), float(stored["per_batch"]))
        return self._costs.get(method)

    def choose(self, kind: Kind, rows: np.ndarray, approximate: bool | None) -> str:
        """Exact, unless exact TreeSHAP of the rows it lacks would not fit the time budget."""
        if kind != "tree" or approximate is False:
            return kind
        if approximate:
            return "tree-approx"
        todo = self.store("tree").missing(rows)
        if self.cost("tree") is None and len(todo):  # measure on two batches, kept in the store
            todo = todo[self.compute("tree", self.store("tree"), todo, probe=True) :]
        cost = self.cost("tree")
        if cost is not None and cost.seconds(len(todo)) > self.time_budget:
            logger.info("exact TreeSHAP: %.1f s for %d rows", cost.seconds(len(todo)), len(todo))
            return "tree-approx"
        return "tree"

    def store(self, method: str) -> _Store:
        parts = (self.model.sha, self.predictions.fingerprint, method)
        key = cache_key("explain-store", STORE_VERSION, *parts)
        return self.predictions.memo(f"explain-store:{key}", lambda: _Store(self.cache, key))

    def compute(self, method: str, store: _Store, todo: np.ndarray, *, probe: bool = False) -> int:
        """Explain ``todo`` in batches until done or past the deadline; returns rows done."""
        if len(todo) == 0:
            return 0
        explainer = self.explainer(method)
        done, timings = 0, list[tuple[int, float]]()
        try:
            while done < len(todo) and (
                (len(timings) < 2) if probe else (done == 0 or time.perf_counter() < self.deadline)
            ):
                batch = todo[done : done + self._batch_size(method, len(timings))]
                timings.append((len(batch), self._run_batch(explainer, store, batch)))
                self._learn(method, timings)
                done += len(batch)
                self.computed += len(batch)
                if self.progress is not None and not probe:
                    self.progress(done, len(todo))
            if self._checked < CHECK_ROWS:
                self._check(explainer, store, np.sort(todo[:done][: CHECK_ROWS - self._checked]))
        finally:
            if done:
                store.save()
                self._save_cost(method)
        return done

    def _batch_size(self, method: str, n_batches: int) -> int:
        """:data:`PROBE_ROWS` rows first; then a batch of about :data:`PROBE_SECONDS` by the
        first one's time (an upper bound: it includes the fixed cost), so the per-row
        and fixed costs separate; then batches of about :data:`BATCH_SECONDS`."""
        cost = self.cost(method)
        if cost is None:
            return PROBE_ROWS
        if method in self._provisional and n_batches == 1:
            return int(np.clip(PROBE_SECONDS / max(cost.per_row, 1e-9), MIN_BATCH, MAX_BATCH))
        return cost.batch_size()

    def _learn(self, method: str, timings: list[tuple[int, float]]) -> None:
        """First batch: a provisional cost; second: fixed and per-row parts; then refine."""
        if method not in self._costs:
            rows, seconds = timings[-1]
            self._costs[method] = Cost(seconds / rows, 0.0)
            self._provisional.add(method)
        elif method in self._provisional and len({n for n, _ in timings}) > 1:
            self._costs[method] = Cost.fit(timings)
            self._provisional.discard(method)
        else:
            self._costs[method] = self._costs[method].updated(*timings[-1])

    def _save_cost(self, method: str) -> None:
        cost = self._costs.get(method)
        if self.cache is not None and cost is not None:
            value = {"per_row": cost.per_row, "per_batch": cost.per_batch}
            self.cache.put_json(self._cost_key(method), value)

    def _run_batch(self, explainer: Explainer, store: _Store, batch: np.ndarray) -> float:
        """Explain a batch and store it; returns the explainer's seconds."""
        frame = model_input(self.model, self.predictions, batch)
        started = time.perf_counter()
        with _model_errors(self.model, explainer.method):
            values, base, output = explainer.run(frame, batch)
        seconds = time.perf_counter() - started
        agree = np.full(len(batch), np.nan)
        store.add(_Meta.of(explainer), batch, (values, base, output, agree))
        return seconds

    def _check(self, explainer: Explainer, store: _Store, rows: np.ndarray) -> None:
        """Check stored rows against the model itself, with one model call.

        Its output must equal base + attributions (additivity) and imply the
        table's prediction (``agreement``). A call checks its first
        :data:`CHECK_ROWS` computed rows; the other rows skip the model call,
        which (sklearn's threaded predict on a busy machine) can cost more
        than TreeSHAP itself.
        """
        frame = model_input(self.model, self.predictions, rows)
        _, values, base, output, _ = store.select(rows)
        if explainer.model_output is not None:
            with _model_errors(self.model, "the additivity check"):
                output = explainer.model_output(frame)
        error = additivity_error(values, base, output)
        if error > ADDITIVITY_TOLERANCE:
            logger.warning("%s: base + attributions misses by %.2g", explainer.method, error)
        store.update(rows, output=output, agree=self._agreement(output, rows, explainer))
        self._checked += len(rows)

    def _agreement(self, output: np.ndarray, rows: np.ndarray, explainer: Explainer) -> np.ndarray:
        """1 where the model's output implies the table's prediction, else 0."""
        s = self.predictions.schema
        shipped = self.predictions.frame[s.prediction].to_numpy()[rows]
        if not s.is_classification:
            shipped = shipped.astype(np.float64)
            tolerance = 1e-6 * np.maximum(1.0, np.abs(shipped))
            return (np.abs(output[:, 0] - shipped) <= tolerance).astype(np.float64)
        classes = np.asarray(_model_classes(self.model.estimator), dtype=object)
        if output.shape[1] == 1:  # a binary margin or probability of classes[1]
            threshold = 0.5 if explainer.output_space == "probability" else 0.0
            predicted = np.where(output[:, 0] > threshold, classes[1], classes[0])
        else:
            predicted = np.asarray(explainer.outputs, dtype=object)[output.argmax(axis=1)]
        return (predicted.astype(str) == shipped.astype(str)).astype(np.float64)


# ---------------------------------------------------------------------------
# Precomputed attributions
# ---------------------------------------------------------------------------


def precomputed_explanation(predictions: Predictions) -> Explanation:
    """Every row's ``shap_<feature>`` columns as an :class:`Explanation` (memoised)."""
    if not predictions.schema.shap:
        raise SchemaError(
            "the dataset has no shap_<feature> columns",
            file=predictions.source,
            expected="columns named shap_<feature>",
        )
    return predictions.memo("explain-precomputed", lambda: _precomputed(predictions))


def _precomputed(predictions: Predictions) -> Explanation:
    s = predictions.schema
    features = tuple(s.shap)
    raw = predictions.frame[[s.shap[f] for f in features]].apply(pd.to_numeric, errors="coerce")
    values = raw.to_numpy(np.float64)
    notes: list[str] = []
    if np.isnan(values).any():
        notes.append(f"{int(np.isnan(values).sum()):,} missing attribution values count as 0")
        values = np.nan_to_num(values)
    n = len(values)
    if s.shap_base is not None:
        base = pd.to_numeric(predictions.frame[s.shap_base], errors="coerce").to_numpy(np.float64)
    else:
        base = np.full(n, np.nan)
        notes.append("no shap_base_value column: base values are unknown")
    output = base + values.sum(axis=1)
    space, error = _precomputed_space(predictions, output)
    if space is None:
        notes.append("base + attributions matches none of the model's outputs in the table")
    if s.task == "regression":
        outputs: tuple[str, ...] = ("prediction",)
    elif s.task == "binary":
        outputs = (str(s.positive),)
    else:
        outputs = (PREDICTED_CLASS_OUTPUT,)
    info = ExplainInfo(
        source="precomputed",
        method="precomputed shap_ columns",
        output_space=space or "as provided",
        additivity_error=error,
        checked_rows=n if space is not None else 0,
        per_row_class=s.task == "multiclass",
        notes=tuple(notes),
    )
    return Explanation(
        np.arange(n), values[:, :, None], base[:, None], output[:, None], features, outputs, info
    )


def _precomputed_space(predictions: Predictions, total: np.ndarray) -> tuple[str | None, float]:
    """Which of the table's outputs base + attributions reproduces, and how closely."""
    if np.isnan(total).all():
        return None, math.nan
    candidates: dict[str, np.ndarray] = {}
    s = predictions.schema
    if not s.is_classification:
        candidates["prediction"] = predictions.frame[s.prediction].to_numpy(np.float64)
    elif predictions.proba_matrix is not None:
        proba = predictions.proba_matrix
        target = (
            proba[:, list(s.classes).index(s.positive)]
            if s.task == "binary"
            else proba[np.arange(len(proba)), np.maximum(predictions.y_pred_codes, 0)]
        )
        clipped = np.clip(target, 1e-12, 1 - 1e-12)
        candidates["probability"] = target
        candidates["log-odds"] = np.log(clipped / (1 - clipped))
    best: tuple[str | None, float] = (None, math.nan)
    for name, reference in candidates.items():
        scale = max(1.0, float(np.nanmax(np.abs(reference))))
        error = float(np.nanmax(np.abs(total - reference))) / scale
        if error <= 1e-3 and (best[0] is None or error < best[1]):
            best = (name, error)
    return best


# ---------------------------------------------------------------------------
# Which rows to explain
# ---------------------------------------------------------------------------


def _priority_order(predictions: Predictions) -> np.ndarray:
    """A fixed random order of all rows: samples are prefixes, so slices share rows."""
    return predictions.memo(
        "explain-order", lambda: np.random.default_rng(0).permutation(predictions.n_samples)
    )


@dataclass(frozen=True)
class RowPlan:
    """Rows to explain, in priority order: required rows, then slice and rest interleaved."""

    rows: np.ndarray
    required: np.ndarray
    slice_rows: np.ndarray
    rest_rows: np.ndarray
    n_slice: int
    n_rest: int

    @property
    def sampled(self) -> bool:
        return len(self.slice_rows) < self.n_slice or len(self.rest_rows) < self.n_rest


def plan_rows(
    predictions: Predictions,
    mask: np.ndarray,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    required: Sequence[int] | np.ndarray = (),
) -> RowPlan:
    """The slice's rows and a reference sample of the rest, within ``max_rows``.

    The rest gets at least a third of the budget (when it has rows), the slice
    the remainder; both are prefixes of one fixed random order, so a row keeps
    its place across slices and stored attributions are reused.
    """
    order = _priority_order(predictions)
    in_slice = np.asarray(mask, dtype=bool)[order]
    slice_all, rest_all = order[in_slice], order[~in_slice]
    n_rest = min(len(rest_all), max(max_rows // 3, max_rows - len(slice_all)))
    n_slice = min(len(slice_all), max_rows - n_rest)
    slice_rows, rest_rows = slice_all[:n_slice], rest_all[:n_rest]
    rank = np.concatenate(
        [(np.arange(n_slice) + 0.5) / max(n_slice, 1), (np.arange(n_rest) + 0.5) / max(n_rest, 1)]
    )
    mixed = np.concatenate([slice_rows, rest_rows])[np.argsort(rank, kind="stable")]
    needed = np.asarray(required, dtype=np.int64)
    rows = _positions(np.concatenate([needed, mixed]), predictions.n_samples)
    return RowPlan(rows, needed, slice_rows, rest_rows, len(slice_all), len(rest_all))


# ---------------------------------------------------------------------------
# Attributions toward one class per row
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attributions:
    """One attribution per row and feature toward one target (a class, the prediction)."""

    rows: np.ndarray
    values: np.ndarray
    base: np.ndarray
    output: np.ndarray
    features: tuple[str, ...]
    target: str

    def index(self, positions: np.ndarray | Sequence[int]) -> np.ndarray:
        """Index into these attributions of dataset ``positions`` (-1 where absent)."""
        return _index(self.rows, positions)


def _index(rows: np.ndarray, positions: np.ndarray | Sequence[int]) -> np.ndarray:
    """Where each of ``positions`` sits in the sorted ``rows`` (-1 where absent)."""
    wanted = np.asarray(positions, dtype=np.int64)
    if len(rows) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)
    return np.where(rows[at] == wanted, at, -1)


def _class_outputs(
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


def _toward_codes(
    expl: Explanation, codes: np.ndarray, predictions: Predictions, target: str
) -> Attributions:
    if expl.info.per_row_class:
        return Attributions(
            expl.rows,
            expl.values[:, :, 0],
            expl.base[:, 0],
            expl.output[:, 0],
            expl.features,
            target,
        )
    index, sign = _class_outputs(expl.outputs, predictions)
    k, s = index[codes], sign[codes]
    n = np.arange(len(codes))
    values = expl.values[n, :, k] * s[:, None]
    return Attributions(
        expl.rows, values, expl.base[n, k] * s, expl.output[n, k] * s, expl.features, target
    )


def toward(expl: Explanation, predictions: Predictions, target: str = PREDICTED) -> Attributions:
    """Attributions toward ``target``: ``"predicted"`` (each row's predicted class) or a class.

    Regression has one target, the prediction. Precomputed multiclass
    attributions explain the predicted class only.
    """
    if not predictions.schema.is_classification:
        return Attributions(
            expl.rows,
            expl.values[:, :, 0],
            expl.base[:, 0],
            expl.output[:, 0],
            expl.features,
            "the prediction",
        )
    if target == PREDICTED:
        codes = np.maximum(predictions.y_pred_codes[expl.rows], 0)
        return _toward_codes(expl, codes, predictions, "the predicted class")
    classes = [str(c) for c in predictions.schema.classes]
    if target not in classes:
        raise SchemaError(
            f"class {target!r} is not one of the dataset's classes {classes}",
            expected=classes,
            received=target,
        )
    if expl.info.per_row_class:
        raise SchemaError(
            "the precomputed shap_ columns explain the predicted class only; "
            f"choose '{PREDICTED}' or register a model to explain class {target!r}",
            expected=PREDICTED,
            received=target,
        )
    codes = np.full(expl.n_rows, classes.index(target))
    return _toward_codes(expl, codes, predictions, f"class {target}")


def toward_error(expl: Explanation, predictions: Predictions) -> Attributions:
    """Attributions that push toward the model's mistake.

    Classification: toward the predicted class (on an error, the wrong class).
    Regression: in the direction of the residual (up where the model predicts
    too high, down where too low).
    """
    if predictions.schema.is_classification:
        return toward(expl, predictions, PREDICTED)
    base = toward(expl, predictions)
    direction = np.sign(predictions.residual[base.rows])
    direction[direction == 0] = 1.0
    return replace(
        base,
        values=base.values * direction[:, None],
        base=base.base * direction,
        output=base.output * direction,
        target="the direction of the error",
    )


# ---------------------------------------------------------------------------
# Aggregations behind the page
# ---------------------------------------------------------------------------


def importance_table(att: Attributions, in_slice: np.ndarray) -> pd.DataFrame:
    """Mean |attribution| per feature in the slice and in the rest, ranked by the difference.

    ``in_slice`` is a boolean per explained row. Columns: ``feature``,
    ``slice``, ``rest``, ``difference`` (slice - rest), ``ratio``; sorted by
    difference (by ``slice`` when the rest is empty).
    """
    in_slice = np.asarray(in_slice, dtype=bool)
    magnitude = np.abs(att.values)
    inside = (
        magnitude[in_slice].mean(axis=0) if in_slice.any() else np.full(len(att.features), np.nan)
    )
    outside = (
        magnitude[~in_slice].mean(axis=0)
        if (~in_slice).any()
        else np.full(len(att.features), np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = inside / outside
    table = pd.DataFrame(
        {
            "feature": att.features,
            "slice": inside,
            "rest": outside,
            "difference": inside - outside,
            "ratio": ratio,
        }
    )
    key = "difference" if (~in_slice).any() and in_slice.any() else "slice"
    return table.sort_values(key, ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def push_table(att: Attributions, error: np.ndarray, in_slice: np.ndarray) -> pd.DataFrame:
    """Mean signed push toward the mistake, on the slice's errors vs its correct rows.

    ``att`` comes from :func:`toward_error`. Columns: ``feature``, ``errors``,
    ``correct``, ``difference``; sorted by ``errors`` (largest push toward the
    wrong class first).
    """
    error, in_slice = np.asarray(error, bool), np.asarray(in_slice, bool)
    nan = np.full(len(att.features), np.nan)
    wrong, right = in_slice & error, in_slice & ~error
    on_errors = att.values[wrong].mean(axis=0) if wrong.any() else nan
    on_correct = att.values[right].mean(axis=0) if right.any() else nan
    table = pd.DataFrame(
        {
            "feature": att.features,
            "errors": on_errors,
            "correct": on_correct,
            "difference": on_errors - on_correct,
        }
    )
    key = "errors" if wrong.any() else "correct"
    return table.sort_values(key, ascending=False, kind="stable", na_position="last").reset_index(
        drop=True
    )


def _display_values(predictions: Predictions, feature: str, rows: np.ndarray) -> pd.Series:
    if feature not in predictions.frame.columns:
        return pd.Series(["–"] * len(rows))
    values = predictions.frame[feature].iloc[rows].reset_index(drop=True)
    return values.map(format_value)


def format_value(value: Any) -> str:
    """A feature value as the page shows it: 4 significant digits, thousands separated."""
    if (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or value is pd.NaT
    ):
        return "missing"
    if isinstance(value, float | np.floating):
        number = float(value)
        if number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.0f}"
        return f"{number:.4g}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()[:19].removesuffix("T00:00:00")
    return str(value)


def _colour_scale(predictions: Predictions, feature: str, rows: np.ndarray) -> np.ndarray:
    """Feature values as 0..1 (rank for numbers, code for categories); NaN where missing."""
    if feature not in predictions.frame.columns:
        return np.full(len(rows), np.nan)
    s = predictions.frame[feature].iloc[rows]
    if isinstance(s.dtype, pd.CategoricalDtype) or not _is_number_like(s):
        codes = pd.Categorical(s.astype(object)).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        top = np.nanmax(codes) if not np.isnan(codes).all() else 0.0
        return codes / top if top > 0 else np.where(np.isnan(codes), np.nan, 0.5)
    numbers = _Codec(s.to_frame()).encode(s.to_frame())[:, 0]
    return pd.Series(numbers).rank(pct=True).to_numpy()


def top_features(table: pd.DataFrame, *, n: int = 12, column: str = "slice") -> list[str]:
    """The ``n`` features with the largest ``column`` in an importance table."""
    return list(table.nlargest(n, column)["feature"]) if len(table) else []


def beeswarm_frame(
    att: Attributions,
    predictions: Predictions,
    *,
    features: Sequence[str],
    rows_mask: np.ndarray,
    max_points: int = 600,
) -> pd.DataFrame:
    """Long frame for a beeswarm: one row per (explained row, feature).

    Columns ``feature``, ``shap``, ``value`` (as text), ``colour`` (0..1),
    ``error``, ``id``; at most ``max_points`` rows per feature (a seeded sample).
    """
    chosen = np.flatnonzero(np.asarray(rows_mask, bool))
    if len(chosen) > max_points:
        chosen = np.sort(np.random.default_rng(0).choice(chosen, max_points, replace=False))
    positions = att.rows[chosen]
    parts = []
    for feature in features:
        g = att.features.index(feature)
        parts.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "shap": att.values[chosen, g],
                    "value": _display_values(predictions, feature, positions).to_numpy(),
                    "colour": _colour_scale(predictions, feature, positions),
                    "error": predictions.error[positions],
                    "id": _ids(predictions, positions),
                }
            )
        )
    columns = ["feature", "shap", "value", "colour", "error", "id"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _ids(predictions: Predictions, positions: np.ndarray) -> np.ndarray:
    s = predictions.schema
    if s.id is None:
        return np.asarray([f"row {p + 1}" for p in positions], dtype=object)
    return predictions.frame[s.id].iloc[positions].astype(str).to_numpy(dtype=object)


def dependence_frame(
    att: Attributions,
    predictions: Predictions,
    feature: str,
    *,
    rows_mask: np.ndarray,
    max_points: int = 3_000,
) -> pd.DataFrame:
    """``x`` (the feature's value), ``shap``, ``error``, ``id`` for a dependence plot.

    At most ``max_points`` rows (a seeded sample), so a browser can draw it.
    """
    chosen = np.flatnonzero(np.asarray(rows_mask, bool))
    if len(chosen) > max_points:
        chosen = np.sort(np.random.default_rng(0).choice(chosen, max_points, replace=False))
    positions = att.rows[chosen]
    g = att.features.index(feature)
    if feature in predictions.frame.columns:
        x = predictions.frame[feature].iloc[positions].reset_index(drop=True)
        if isinstance(x.dtype, pd.CategoricalDtype) or not _is_number_like(x):
            x = x.astype(object).map(format_value)
    else:
        x = pd.Series(np.full(len(positions), np.nan))
    return pd.DataFrame(
        {
            "x": x,
            "shap": att.values[chosen, g],
            "error": predictions.error[positions],
            "id": _ids(predictions, positions),
        }
    )


@dataclass(frozen=True)
class Waterfall:
    """One row's attributions, largest first, with the rest summed into one bar."""

    position: int
    base: float
    output: float
    frame: pd.DataFrame
    target: str


def waterfall(
    att: Attributions, predictions: Predictions, position: int, *, max_features: int = 10
) -> Waterfall:
    """The waterfall of row ``position`` (which must be explained)."""
    i = int(att.index([position])[0])
    if i < 0:
        raise ValueError(f"row {position} has no attributions")
    values = att.values[i]
    order = np.argsort(-np.abs(values), kind="stable")
    top, rest = order[:max_features], order[max_features:]
    frame = pd.DataFrame(
        {
            "feature": [att.features[g] for g in top],
            "value": [
                _display_values(predictions, att.features[g], np.array([position]))[0] for g in top
            ],
            "shap": values[top],
        }
    )
    if len(rest):
        other = pd.DataFrame(
            {
                "feature": [f"{len(rest)} other features"],
                "value": [""],
                "shap": [values[rest].sum()],
            }
        )
        frame = pd.concat([frame, other], ignore_index=True)
    return Waterfall(position, float(att.base[i]), float(att.output[i]), frame, att.target)


def find_example(predictions: Predictions, raw: str | None) -> int | None:
    """The position of the row whose id is ``raw`` (without an id column: ``row N``, 1-based)."""
    if not raw:
        return None
    s = predictions.schema
    if s.id is None:
        text = raw.strip().removeprefix("row").strip()
        return int(text) - 1 if text.isdigit() and 0 < int(text) <= predictions.n_samples else None
    lookup = predictions.memo(
        "explain-ids",
        lambda: pd.Series(
            np.arange(predictions.n_samples), index=predictions.frame[s.id].astype(str)
        ),
    )
    position = lookup.get(raw)
    return None if position is None else int(position)


def example_id(predictions: Predictions, position: int) -> str:
    """The link form of a row: its id, or ``row N`` without an id column."""
    return str(_ids(predictions, np.array([position]))[0])


def nearest_correct(
    predictions: Predictions, position: int, *, k: int = 5, same_label: bool = True
) -> pd.DataFrame | None:
    """The ``k`` nearest correctly predicted rows in embedding space (``None`` without one).

    With ``same_label`` (classification), only rows of the example's true class:
    similar examples the model got right. Columns ``position``, ``id``,
    ``distance``, ``label``, ``prediction``.
    """
    embedding = predictions.embedding_matrix
    if embedding is None:
        return None
    label = -1
    if same_label and predictions.schema.is_classification:
        label = int(predictions.y_true_codes[position])
    pool, finder = predictions.memo(
        f"explain-neighbours:{label}", lambda: _neighbour_index(predictions, embedding, label)
    )
    if len(pool) == 0:
        return pd.DataFrame(columns=["position", "id", "distance", "label", "prediction"])
    distance, index = finder.kneighbors(
        embedding[position : position + 1], n_neighbors=min(k + 1, len(pool))
    )
    keep = pool[index[0]] != position
    found, distance = pool[index[0]][keep][:k], distance[0][keep][:k]
    s = predictions.schema
    return pd.DataFrame(
        {
            "position": found,
            "id": _ids(predictions, found),
            "distance": distance,
            "label": predictions.frame[s.label].iloc[found].to_numpy(),
            "prediction": predictions.frame[s.prediction].iloc[found].to_numpy(),
        }
    )


def _neighbour_index(
    predictions: Predictions, embedding: np.ndarray, label: int
) -> tuple[np.ndarray, Any]:
    """Correct rows (of true class code ``label``, or any class for -1) and their index."""
    from sklearn.neighbors import NearestNeighbors

    candidates = ~predictions.error
    if label >= 0 and (candidates & (predictions.y_true_codes == label)).any():
        candidates = candidates & (predictions.y_true_codes == label)
    pool = np.flatnonzero(candidates)
    return pool, NearestNeighbors().fit(embedding[pool]) if len(pool) else None


def neighbour_contrast(
    att: Attributions, position: int, neighbours: Sequence[int], *, top: int = 10
) -> pd.DataFrame:
    """The example's attributions next to its neighbours' mean, largest differences first."""
    i = int(att.index([position])[0])
    idx = att.index(neighbours)
    idx = idx[idx >= 0]
    if i < 0 or len(idx) == 0:
        return pd.DataFrame(columns=["feature", "example", "neighbours", "difference"])
    example, others = att.values[i], att.values[idx].mean(axis=0)
    table = pd.DataFrame(
        {
            "feature": att.features,
            "example": example,
            "neighbours": others,
            "difference": example - others,
        }
    )
    order = np.argsort(-np.abs(table["difference"].to_numpy()), kind="stable")[:top]
    return table.iloc[order].reset_index(drop=True)


def image_attributions(
    att: Attributions, predictions: Predictions, position: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(pixels, attributions)`` as image-shaped arrays, when the dataset declares an image."""
    spec = predictions.schema.image
    i = int(att.index([position])[0])
    if spec is None or i < 0 or not all(c in att.features for c in spec.columns):
        return None
    pixels = predictions.frame[list(spec.columns)].iloc[position].to_numpy(np.float64)
    values = att.values[i, [att.features.index(c) for c in spec.columns]]
    return pixels.reshape(spec.shape), values.reshape(spec.shape)


# ---------------------------------------------------------------------------
# View options
# ---------------------------------------------------------------------------


def target_options(predictions: Predictions, source: Source | None = None) -> list[str]:
    """Targets a view may explain, the default first.

    Binary: the positive class first (one direction for every row, as in shap's
    own plots), then the other class and each row's predicted class.
    Multiclass: the predicted class, then every class. Regression: the prediction.
    """
    s = predictions.schema
    if not s.is_classification:
        return ["prediction"]
    if source == "precomputed" and s.task == "multiclass":
        return [PREDICTED]
    classes = [str(c) for c in s.classes]
    if s.task == "binary" and s.positive is not None:
        positive = str(s.positive)
        return [positive, *(c for c in classes if c != positive), PREDICTED]
    return [PREDICTED, *classes]


def example_target(predictions: Predictions, position: int, source: Source | None = None) -> str:
    """The target that says why row ``position`` went wrong: its predicted class."""
    s = predictions.schema
    if not s.is_classification:
        return "prediction"
    if source == "precomputed" and s.task == "multiclass":
        return PREDICTED
    return str(s.classes[max(int(predictions.y_pred_codes[position]), 0)])


def available_sources(predictions: Predictions, *, has_model: bool) -> list[Source]:
    """Where attributions can come from for this dataset, preferred first."""
    out: list[Source] = []
    if predictions.schema.shap:
        out.append("precomputed")
    if has_model:
        out.append("model")
    return out
