"""Options out of range raise ParameterError, not SliceError: the slice was never the problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlqa_debug.analyses import confusion as cf
from mlqa_debug.analyses.discovery.service import (
    DiscoveryParams,
    error_vector,
    feature_encoding,
)
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import MlqaError, ParameterError, SliceError


def test_parameter_error_is_a_value_error_with_the_parameter() -> None:
    error = ParameterError("alpha must be in (0, 1], got 2", name="alpha", value=2)
    assert isinstance(error, MlqaError) and isinstance(error, ValueError)
    assert not isinstance(error, SliceError)
    assert (error.name, error.value, str(error)) == ("alpha", 2, "alpha must be in (0, 1], got 2")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: DiscoveryParams(alpha=1.5), "alpha"),
        (lambda p: error_vector(p, "abs_error"), "needs a regression task"),
        (lambda p: feature_encoding(p, ["nope"], 5), "not features of this dataset: 'nope'"),
        (lambda p: cf.binary_predictions(p, threshold=0.5), "needs a binary task"),
        (lambda p: cf.parse_pair("8~x", p.schema.classes), "does not name two classes"),
    ],
)
def test_options_that_do_not_fit_raise_parameter_error(
    digits: Predictions, call: Callable[[Predictions], object], match: str
) -> None:
    with pytest.raises(ParameterError, match=match) as info:
        call(digits)
    assert not isinstance(info.value, SliceError)


def test_log_loss_without_probabilities_is_a_parameter_error(diabetes: Predictions) -> None:
    with pytest.raises(ParameterError, match="log loss needs probability columns"):
        error_vector(diabetes, "log_loss")
