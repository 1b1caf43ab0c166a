"""Mapping a pipeline's transformed columns back to the dataset's original columns.

The tree and linear explainers explain the final estimator on the *transformed*
matrix (``pipeline[:-1].transform``); :func:`feature_map` says which original
column each transformed column comes from: one-hot columns of a feature are
summed, passthrough and element-wise columns map one to one, and a step that
mixes columns (a PCA) makes one joint feature of the columns it mixes. Sums of
SHAP values are SHAP values of the group, so additivity is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.errors import ModelError


@dataclass(frozen=True)
class FeatureMap:
    """Transformed columns -> original features: ``matrix[p, g] = 1`` if column p is in group g."""

    features: tuple[str, ...]
    matrix: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``(n, P, K)`` attributions of transformed columns -> ``(n, G, K)`` per feature."""
        return np.einsum("npk,pg->ngk", values, self.matrix)


def identity_map(columns: Sequence[str]) -> FeatureMap:
    """Each column its own feature (a model without preprocessing)."""
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
