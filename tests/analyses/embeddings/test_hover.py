"""Tests of analyses.embeddings.hover: escaped, short hover texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import hover
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import load
from tests.conftest import QUOTED_NAME


def test_hover_text_is_escaped_and_short(binary_frame: pd.DataFrame, write_table) -> None:
    frame = binary_frame.assign(**{QUOTED_NAME: "<img src=x onerror=alert(1)>"})
    frame["id"] = [f"<b>{i}</b>" for i in range(len(frame))]
    predictions = load(frame, write_table)
    text = emb.hover_texts(predictions, np.arange(3))
    assert "<img" not in text[0] and "&lt;img" in text[0]
    assert text[0].startswith("<b>&lt;b&gt;0&lt;/b&gt;</b>")
    assert "confidence" in text[0] and len(text[0]) < 400


def test_hover_text_stays_short_on_big_maps(write_table) -> None:
    n = hover.HOVER_FULL_POINTS + 1
    long_name, long_value = "a very long feature name " * 4, "<&>" * 12
    frame = pd.DataFrame(
        {
            "id": [f"{'x' * 60}{i}" for i in range(n)],
            long_name: [long_value] * n,
            "other": np.arange(n) * 1.5,
            "label": np.arange(n) % 2,
            "prediction": np.zeros(n, dtype=int),
        }
    )
    predictions = load(frame, write_table)
    big = emb.hover_texts(predictions, np.arange(n))
    small = emb.hover_texts(predictions, np.arange(10))
    assert max(len(t) for t in big) <= 160 < max(len(t) for t in small)
    assert big[0].count("<br>") == 3  # label line + 2 features


def test_hover_numbers_are_readable(loans: Predictions) -> None:
    text = emb.hover_texts(loans, np.arange(1))[0]
    assert "income 32,345<br>" in text and "loan amount 9800<br>" in text


@pytest.mark.parametrize("name", ["loans", "digits", "diabetes"])
def test_no_points_no_hover_texts(name: str, request: pytest.FixtureRequest) -> None:
    """An empty view (a slice matching no row) once raised pandas' 'add' TypeError."""
    predictions: Predictions = request.getfixturevalue(name)
    text = emb.hover_texts(predictions, np.array([], dtype=np.intp))
    assert text.shape == (0,) and text.dtype == object
