"""Reference tables: the training set or an earlier period that leakage and drift compare with.

A reference may hold labels and no predictions (a training set). The loader
refuses such a table ("no prediction column"), so :func:`load_labelled` loads it
again with its label column standing in for the prediction, which leakage and
drift of features and labels do not read. :func:`load_reference` names a
reference by workspace dataset name or by file path; ``mlqa-debug quality
--reference`` and quality cases (:mod:`mlqa_debug.cases.quality`) both use it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.schema import PREDICTION_NAMES, Roles, find_roles
from mlqa_debug.data.workspace import NAME_PATTERN, Workspace
from mlqa_debug.errors import SchemaError

__all__ = ["is_dataset_name", "load_labelled", "load_reference"]


def load_labelled(load: Callable[[Roles], Predictions], roles: Roles) -> Predictions:
    """``load(roles)``; a table with labels and no predictions gets its labels as predictions."""
    try:
        return load(roles)
    except SchemaError as e:
        if e.expected != PREDICTION_NAMES or not isinstance(e.received, list):
            raise
        label = find_roles(e.received, roles, require_label=False)["label"]
        if label is None:
            raise
        return load(dataclasses.replace(roles, prediction=label))


def is_dataset_name(reference: str) -> bool:
    """Whether ``reference`` names a workspace dataset (a safe id) rather than a file."""
    return NAME_PATTERN.fullmatch(reference) is not None


def load_reference(
    reference: str,
    *,
    workspace: Workspace | None = None,
    base: Path | None = None,
    roles: Roles | None = None,
) -> Predictions:
    """A reference by dataset name (``workspace``, else the default one) or by file path.

    A relative path is relative to ``base`` (default: the working directory).
    """
    chosen = roles or Roles()
    if is_dataset_name(reference):
        ws = workspace or Workspace()
        return load_labelled(lambda r: ws.load(reference, roles=r, cache=True), chosen)
    path = Path(reference).expanduser()
    if not path.is_absolute() and base is not None:
        path = (base / path).resolve()  # ``..`` out of a folder that may not exist yet
    return load_labelled(lambda r: load_predictions(path, roles=r), chosen)
