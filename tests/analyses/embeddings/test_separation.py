"""Tests of analyses.embeddings.separation: features that separate a selection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import separation
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import parse_slice


def test_separating_features_rank_the_planted_feature_first(loans: Predictions) -> None:
    selected = np.flatnonzero(parse_slice("employment == 'gig'").mask(loans.slice_frame))
    table = emb.separating_features(loans, selected, shown=np.arange(loans.n_samples))
    top = table.iloc[0]
    assert top["feature"] == "employment"
    assert top["most over-represented"] == "employment == 'gig'"
    assert top["in selection"] == 1.0 and top["strength"] == pytest.approx(1.0)
    assert list(table["strength"]) == sorted(table["strength"], reverse=True)


def test_separation_strength_is_cramers_v(diabetes: Predictions) -> None:
    shown = np.arange(diabetes.n_samples)
    selected = np.flatnonzero(diabetes.frame["bmi"].to_numpy() > 30)
    table = emb.separating_features(diabetes, selected, shown=shown, limit=50).set_index("feature")
    sex = diabetes.frame["sex"].astype(str).to_numpy()
    crosstab = pd.crosstab(sex, np.isin(shown, selected)).to_numpy()
    chi2, p_value, _, _ = stats.chi2_contingency(crosstab, correction=False)
    assert table.loc["sex", "strength"] == pytest.approx(math.sqrt(chi2 / crosstab.sum()))
    assert table.loc["sex", "p-value"] == separation._p_text(p_value)
    assert table.index[0] == "bmi"


@pytest.mark.parametrize(
    ("p_value", "text"), [(0.2134, "0.21"), (0.01, "0.01"), (3.2e-19, "3e-19"), (0.0, "< 1e-300")]
)
def test_p_values_read_well(p_value: float, text: str) -> None:
    assert separation._p_text(p_value) == text
