"""Attributions toward one target per row."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mlqa_debug.analyses import explain as ex
from mlqa_debug.errors import SchemaError


def test_binary_targets_are_signed_views_of_one_output(sample: Callable) -> None:
    predictions, model = sample("loans")
    e = ex.explain(predictions, np.arange(60), model=model, time_budget=60).explanation
    one, zero = ex.toward(e, predictions, "1"), ex.toward(e, predictions, "0")
    np.testing.assert_allclose(one.values, -zero.values)
    predicted = ex.toward(e, predictions, ex.PREDICTED)
    positive = predictions.y_pred_codes[e.rows] == 1
    np.testing.assert_allclose(predicted.values[positive], one.values[positive])
    np.testing.assert_allclose(predicted.values[~positive], zero.values[~positive])
    assert ex.target_options(predictions) == ["1", "0", ex.PREDICTED]
    with pytest.raises(SchemaError, match="not one of the dataset's classes"):
        ex.toward(e, predictions, "7")


def test_multiclass_targets_pick_one_output(sample: Callable) -> None:
    predictions, model = sample("digits")
    e = ex.explain(predictions, np.arange(30), model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, "3")
    np.testing.assert_allclose(att.values, e.values[:, :, 3])
    predicted = ex.toward(e, predictions, ex.PREDICTED)
    codes = predictions.y_pred_codes[e.rows]
    np.testing.assert_allclose(predicted.output, e.output[np.arange(30), codes])
    position = int(np.flatnonzero(predictions.error)[0])
    assert ex.example_target(predictions, position) == str(
        predictions.schema.classes[predictions.y_pred_codes[position]]
    )


def test_regression_push_follows_the_residual(sample: Callable) -> None:
    predictions, model = sample("diabetes")
    e = ex.explain(predictions, np.arange(80), model=model, time_budget=60).explanation
    plain, push = ex.toward(e, predictions), ex.toward_error(e, predictions)
    sign = np.sign(predictions.residual[e.rows])
    np.testing.assert_allclose(push.values, plain.values * sign[:, None])
