"""Shared fixtures: small seeded predictions frames with odd column names, and writers.

Every frame follows the input contract (DESIGN.md) with conventional role names
(``id``, ``label``, ``prediction``, ``score`` / ``prob_<class>``) and feature
columns whose names have spaces, quotes, dots and non-ASCII characters, so every
test that uses them also checks that odd names survive. Each fixture builds a
fresh frame (function scope): tests may modify it freely.

Use ``write_table(frame, "name.csv")`` (or ``.parquet``) to get a file on disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import ENV_WORKSPACE, Workspace

REPO = Path(__file__).resolve().parents[1]

#: Odd but valid feature names used by the frames below.
NUMERIC_NAME = "loan amount"  # space
DOTTED_NAME = "credit.score"  # dot
QUOTED_NAME = 'it\'s "quoted"'  # both quote characters
UNICODE_NAME = "région ☀"  # accent and a symbol
EMOJI_NAME = "flag 🚩"  # emoji (astral plane)
DATE_NAME = "applied on"
TEXT_NAME = "note, free text"  # comma: must be quoted in CSV

N_ROWS = 120
MULTICLASSES = ("cat", "dog", "émeu")

WriteTable = Callable[..., Path]


def _features(rng: np.random.Generator, n: int) -> dict[str, object]:
    """Feature columns of every kind: numeric, categorical, boolean, datetime, text."""
    days = rng.integers(0, 730, n)
    dates = (np.datetime64("2024-01-01") + days).astype(str)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
    notes = [
        " ".join(rng.choice(words, 8)) + f" #{i}" for i in range(n)
    ]  # long, unique strings: text
    return {
        NUMERIC_NAME: np.round(rng.lognormal(9, 0.5, n), 2),
        DOTTED_NAME: rng.integers(300, 851, n),
        QUOTED_NAME: rng.choice(["a", "b 'b'", 'c "c"'], n),
        UNICODE_NAME: rng.choice(["nord", "süd", "東"], n),
        EMOJI_NAME: rng.random(n) < 0.3,
        DATE_NAME: dates,
        TEXT_NAME: notes,
    }


#: The feature types the frames' features must get.
FEATURE_TYPES = {
    NUMERIC_NAME: "numeric",
    DOTTED_NAME: "numeric",
    QUOTED_NAME: "categorical",
    UNICODE_NAME: "categorical",
    EMOJI_NAME: "boolean",
    DATE_NAME: "datetime",
    TEXT_NAME: "text",
}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def binary_frame(rng: np.random.Generator) -> pd.DataFrame:
    """Binary 0/1 labels, ``prediction`` = ``score >= 0.5``, string ids ``E001``..."""
    n = N_ROWS
    score = np.round(rng.random(n), 6)
    label = (rng.random(n) < score).astype(np.int64)
    return pd.DataFrame(
        {
            "id": [f"E{i:03d}" for i in range(1, n + 1)],
            **_features(rng, n),
            "label": label,
            "prediction": (score >= 0.5).astype(np.int64),
            "score": score,
        }
    )


@pytest.fixture
def multiclass_frame(rng: np.random.Generator) -> pd.DataFrame:
    """String classes ``cat``/``dog``/``émeu``, ``prob_<class>`` rows summing to 1,
    ``prediction`` = the argmax; integer ids."""
    n = N_ROWS
    k = len(MULTICLASSES)
    label = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), label] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array(MULTICLASSES, dtype=object)
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            **_features(rng, n),
            "label": classes[label],
            "prediction": classes[probs.argmax(axis=1)],
        }
    )
    for j, c in enumerate(MULTICLASSES):
        frame[f"prob_{c}"] = probs[:, j]
    return frame


@pytest.fixture
def regression_frame(rng: np.random.Generator) -> pd.DataFrame:
    """Float labels with many values, predictions = label + noise (one big miss per 10)."""
    n = N_ROWS
    label = np.round(rng.normal(100, 30, n), 3)
    noise = rng.normal(0, 5, n)
    noise[::10] += 60
    return pd.DataFrame(
        {
            "id": [f"R{i}" for i in range(n)],
            **_features(rng, n),
            "label": label,
            "prediction": np.round(label + noise, 3),
        }
    )


@pytest.fixture
def write_table(tmp_path: Path) -> WriteTable:
    """``write_table(frame, "preds.csv")`` writes CSV or Parquet by suffix into tmp_path."""

    def write(frame: pd.DataFrame, name: str = "preds.csv") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return path

    return write


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """An empty workspace serving the built-in samples, shared by the whole session."""
    return Workspace(tmp_path_factory.mktemp("samples"))


def _sample_fixture(name: str, doc: str) -> Any:
    """A session fixture called ``name``: the built-in sample ``name``, loaded once."""

    def load(sample_workspace: Workspace) -> Predictions:
        return sample_workspace.load(name)

    load.__doc__ = f"{doc} Loaded once, shared by every test (read-only)."
    return pytest.fixture(scope="session", name=name)(load)


loans = _sample_fixture("loans", "The bundled binary sample.")
loans_v2 = _sample_fixture("loans_v2", "The second model's predictions on the loans sample.")
digits = _sample_fixture("digits", "The bundled multiclass sample with 8x8 images.")
diabetes = _sample_fixture("diabetes", "The bundled regression sample.")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An empty workspace in tmp_path, also set as ``$MLQA_DEBUG_WORKSPACE``."""
    root = tmp_path / "workspace"
    monkeypatch.setenv(ENV_WORKSPACE, str(root))
    return Workspace(root)


def _run_app(at: AppTest, params: dict[str, str]) -> AppTest:
    """Run ``at`` with ``params`` as its query parameters."""
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


@pytest.fixture
def page_runner(workspace: Workspace) -> Callable[[str], Callable[..., AppTest]]:
    """``page_runner("slices")(ds="loans")`` runs ``pages/slices.py`` under AppTest.

    The page runs with those query parameters and the test's empty workspace.
    """

    def for_page(stem: str) -> Callable[..., AppTest]:
        def run(**params: str) -> AppTest:
            page = str(REPO / "pages" / f"{stem}.py")
            return _run_app(AppTest.from_file(page, default_timeout=120), params)

        return run

    return for_page


@pytest.fixture
def function_runner(
    workspace: Workspace,
) -> Callable[[Callable[[], None]], Callable[..., AppTest]]:
    """``function_runner(script)(ds="loans")`` runs the function ``script`` as a page.

    Like :func:`page_runner`: under AppTest, with those query parameters and the
    test's empty workspace. ``script`` imports what it uses: AppTest runs its
    source alone.
    """

    def for_function(script: Callable[[], None]) -> Callable[..., AppTest]:
        def run(**params: str) -> AppTest:
            return _run_app(AppTest.from_function(script, default_timeout=120), params)

        return run

    return for_function


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(text: str) -> str:
    """What a reader sees of Markdown made by ``md()``: ``\\X`` is ``X``, no word joiners.

    AppTest gives an element's Markdown source; messages quoting user text are
    escaped there, so assertions about what the page says compare ``shown(value)``.
    """
    return _ESCAPED.sub(r"\1", text).replace("\u2060", "").replace("  \n", "\n")
