"""Explanations: the additivity check."""

from __future__ import annotations

import numpy as np
import pytest

from mlqa_debug.analyses import explain as ex


def test_additivity_error_sees_a_mismatch() -> None:
    values = np.array([[[0.5], [0.25]], [[1.0], [-1.0]]])
    base = np.array([[1.0], [1.0]])
    assert ex.additivity_error(values, base, np.array([[1.75], [1.0]])) == 0.0
    mismatch = ex.additivity_error(values, base, np.array([[1.75], [1.5]]))
    assert mismatch == pytest.approx(0.5 / 1.75)  # relative to the output scale
    info = ex.ExplainInfo("model", "m", "log-odds", additivity_error=0.5)
    assert info.additive is False
