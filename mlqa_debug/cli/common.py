"""What every ``mlqa-debug`` command group shares.

Exit codes, the column-role flags, the engine flags (``--engine``, ``--spark-master``)
and opening a table on one, loading a dataset by name or a predictions file by path,
and printing JSON. This module imports no command module: the
groups (:mod:`.data`, :mod:`.slices`, :mod:`.cases`, :mod:`.embed`,
:mod:`.explain`) import it, :mod:`.main` imports the groups, and nothing imports
:mod:`.main`, so the import graph has no loop.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from mlqa_debug.data.external import check_unchanged
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.schema import TASKS, Roles
from mlqa_debug.data.workspace import ENV_WORKSPACE, Workspace
from mlqa_debug.engines import ENGINE_CHOICES, Engine, NumpyEngine, open_engine
from mlqa_debug.engines.spark_engine import MASTER_ENV
from mlqa_debug.errors import MlqaError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
"""A command succeeded; a regression check failed; the input was unusable."""

EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT, what a shell reports."""

EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``| head``): 128 + SIGPIPE, what a shell reports
for ``cat`` or ``grep`` in the same pipe. Not 0, because the output was cut short
(and ``check``'s verdict never reached its reader)."""

WORKSPACE_HELP = f"workspace directory (default: ${ENV_WORKSPACE} or ~/.mlqa-debug)"

Handler: TypeAlias = Callable[[argparse.Namespace], int]
"""What a sub-command runs: parsed arguments in, exit code out."""

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""The ``add_subparsers()`` object each command group adds its commands to."""


def add_role_options(parser: argparse.ArgumentParser) -> None:
    """``--label``, ``--prediction``, ``--id``, ``--task`` and ``--positive``."""
    group = parser.add_argument_group("column roles (default: by convention, then sidecar)")
    group.add_argument("--label", help="label column (default: label / y_true / target)")
    group.add_argument("--prediction", help="prediction column (default: prediction / y_pred)")
    group.add_argument("--id", dest="id_column", help="id column (default: id / example_id)")
    group.add_argument("--task", choices=TASKS, help="task (default: inferred)")
    group.add_argument("--positive", help="positive class of a binary task")


def roles_from_args(args: argparse.Namespace) -> Roles:
    """The column roles given by :func:`add_role_options` flags (unset ones are None).

    On an external dataset named on the command line, its stored roles with the
    flags' on top (:func:`resolve_external`).
    """
    flags = Roles(
        id=args.id_column,
        label=args.label,
        prediction=args.prediction,
        task=args.task,
        positive=args.positive,
    )
    stored = getattr(args, "external_roles", None)
    return flags if stored is None else stored.merged(flags)


def workspace_from_args(args: argparse.Namespace) -> Workspace:
    """``--workspace``, else ``$MLQA_DEBUG_WORKSPACE``, else ``~/.mlqa-debug``."""
    return Workspace(getattr(args, "workspace", None))


def is_file_target(target: str) -> bool:
    """Whether ``target`` names an existing file (with a suffix) rather than a dataset."""
    path = Path(target)
    return bool(path.suffix) and path.exists()


def load_dataset_or_file(target: str, args: argparse.Namespace) -> Predictions:
    """A registered dataset's name, or a path to a predictions file.

    A dataset goes through the load cache, so a second command on an unchanged
    dataset skips reading and validating it; a file given by path is read afresh.
    """
    roles = roles_from_args(args) if hasattr(args, "label") else None
    if is_file_target(target):
        return load_predictions(Path(target), roles=roles)
    return workspace_from_args(args).load(target, roles=roles, cache=True)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--spark-master``: where the aggregates run."""
    group = parser.add_argument_group("engine (see mlqa_debug.engines)")
    group.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="numpy",
        help="numpy (in process, default), duckdb (out of core), spark, or auto (duckdb when "
        "the table would not fit in memory); duckdb and spark take a Parquet file, "
        "directory or glob",
    )
    group.add_argument(
        "--spark-master",
        metavar="URL",
        help=f"Spark master (default: ${MASTER_ENV}, else local[2])",
    )
    parser.set_defaults(resolves_external=True)


EXTERNAL_TARGETS = ("dataset", "predictions", "candidate", "baseline")
"""The arguments of the engine commands that may name a workspace dataset."""


def resolve_external(args: argparse.Namespace) -> None:
    """Names of external datasets become their files, on their registered engine.

    On the commands with :func:`add_engine_options` only: a workspace dataset
    registered by reference (``add --external``) is checked unchanged since it was
    registered (else :class:`~mlqa_debug.data.external.ExternalChangedError`), its
    argument is replaced by its path, ``--engine numpy`` (the default) or ``auto``
    by its engine, and its stored roles apply under the role flags. Paths and other
    names are left alone.
    """
    if not getattr(args, "resolves_external", False):
        return
    ws = workspace_from_args(args)
    for attr in EXTERNAL_TARGETS:
        target = getattr(args, attr, None)
        if not isinstance(target, str) or Path(target).exists() or not _is_name(target):
            continue
        try:
            entry = ws.entry(target)
        except MlqaError:
            continue  # not a dataset: the command says what it is not, as before
        if entry.external is None:
            continue
        check_unchanged(entry.name, entry.external)
        setattr(args, attr, entry.external.path)
        if args.engine in ("numpy", "auto"):
            args.engine = entry.external.engine
        if getattr(args, "external_roles", None) is None:
            args.external_roles = entry.roles


def _is_name(target: str) -> bool:
    return not any(ch in target for ch in "*?[/\\") and not Path(target).suffix


def uses_loader(target: str, engine: str) -> bool:
    """Whether ``target`` loads as before (a dataset name, or one file on numpy)."""
    is_path = Path(target).exists() or any(ch in target for ch in "*?[")
    return not is_path or (engine == "numpy" and Path(target).is_file())


def open_engine_from_args(target: str, args: argparse.Namespace) -> Engine:
    """The table at ``target`` on ``--engine``; dataset names and files load as before."""
    if uses_loader(target, args.engine):
        return NumpyEngine(load_dataset_or_file(target, args))
    return open_engine(
        target, args.engine, roles=roles_from_args(args), spark_master=args.spark_master
    )


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (dates and paths as strings)."""
    print(json.dumps(data, indent=2, default=str))
