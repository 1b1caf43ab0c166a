"""No process-wide warning state is swapped while loading or explaining a model.

``warnings.catch_warnings()`` replaces the warnings module's filters and
``showwarning`` for the whole process: under Streamlit's server threads another
session's warnings would be lost or misfiled while it is active.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from mlqa_debug.analyses import explain as ex
from tests.analyses.explain.helpers import fitted_dataset, toy_frame

PACKAGE = Path(ex.__file__).parent


def catch_warnings_uses(path: Path) -> list[int]:
    """Lines of ``path`` that name ``catch_warnings`` in code (not in text)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        named = (isinstance(node, ast.Attribute) and node.attr == "catch_warnings") or (
            isinstance(node, ast.Name) and node.id == "catch_warnings"
        )
        imported = isinstance(node, ast.ImportFrom) and any(
            a.name == "catch_warnings" for a in node.names
        )
        if named or imported:
            lines.append(node.lineno)
    return lines


def test_the_explain_package_never_uses_catch_warnings() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) > 10
    found = {f.name: catch_warnings_uses(f) for f in files}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_check_sees_catch_warnings(tmp_path: Path) -> None:
    code = tmp_path / "m.py"
    code.write_text("import warnings\nwith warnings.catch_warnings():\n    pass\n")
    assert catch_warnings_uses(code) == [2]


@pytest.fixture
def spied_catch_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Modules of mlqa_debug that enter ``warnings.catch_warnings`` while the test runs."""
    callers: list[str] = []
    real = warnings.catch_warnings

    def spy(*args: Any, **kwargs: Any) -> Any:
        caller = str(sys._getframe(1).f_globals.get("__name__", ""))
        if caller.startswith("mlqa_debug"):
            callers.append(caller)
        return real(*args, **kwargs)

    monkeypatch.setattr(warnings, "catch_warnings", spy)
    yield callers


@pytest.mark.parametrize(
    ("estimator", "multiclass"),
    [
        (RandomForestClassifier(n_estimators=5, random_state=0), False),
        (LogisticRegression(), False),
        (KNeighborsClassifier(), False),
        (GradientBoostingClassifier(n_estimators=5, random_state=0), True),
    ],
    ids=["tree", "linear", "agnostic", "fallback"],
)
def test_loading_and_explaining_leave_the_warning_state_alone(
    tmp_path: Path, spied_catch_warnings: list[str], estimator: object, multiclass: bool
) -> None:
    label = pd.Series(np.digitize(toy_frame()["a"], [-0.5, 0.5])) if multiclass else None
    filters = warnings.filters
    predictions, model = fitted_dataset(tmp_path, estimator, label=label)  # loads the model
    result = ex.explain(predictions, np.arange(30), model=model, time_budget=60)
    assert result.complete
    assert spied_catch_warnings == []
    assert warnings.filters is filters
