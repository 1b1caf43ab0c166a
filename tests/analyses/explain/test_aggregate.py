"""The page's aggregations against group means computed directly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.explain import figures as plots_explain
from mlqa_debug.slicing import parse_slice, slice_mask


def test_importance_and_push_tables_match_group_means(sample: Callable) -> None:
    predictions, model = sample("loans")
    mask = slice_mask(predictions, parse_slice("income >= 150000"))
    plan = ex.plan_rows(predictions, mask, max_rows=800)
    e = ex.explain(predictions, plan.rows, model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, "1")
    inside = mask[att.rows]
    table = ex.importance_table(att, inside).set_index("feature")
    frame = pd.DataFrame(np.abs(att.values), columns=att.features).assign(inside=inside)
    means = frame.groupby("inside").mean().T
    np.testing.assert_allclose(table.loc[means.index, "slice"], means[True])
    np.testing.assert_allclose(table.loc[means.index, "rest"], means[False])
    assert table["difference"].is_monotonic_decreasing
    assert table.index[0] in ("income", "loan amount")  # the planted extrapolation failure

    push = ex.push_table(ex.toward_error(e, predictions), predictions.error[att.rows], inside)
    assert push["errors"].is_monotonic_decreasing
    signed = ex.toward_error(e, predictions).values
    wrong = inside & predictions.error[att.rows]
    expected = pd.Series(signed[wrong].mean(axis=0), index=att.features)
    np.testing.assert_allclose(push.set_index("feature")["errors"], expected[push["feature"]])


def test_waterfall_adds_up_and_shows_values(sample: Callable) -> None:
    predictions, model = sample("loans")
    e = ex.explain(predictions, [1, 2, 3], model=model, time_budget=60).explanation
    att = ex.toward(e, predictions, ex.example_target(predictions, 1))
    wf = ex.waterfall(att, predictions, 1, max_features=4)
    assert len(wf.frame) == 5 and wf.frame["feature"].iloc[-1] == "5 other features"
    assert wf.base + wf.frame["shap"].sum() == pytest.approx(wf.output, abs=1e-9)
    assert (np.abs(wf.frame["shap"].iloc[:4]).diff().dropna() <= 0).all()
    values = dict(zip(wf.frame["feature"], wf.frame["value"], strict=True))
    row = predictions.frame.iloc[1]
    if "income" in values:
        assert values["income"] == f"{row['income']:,.0f}"
    with pytest.raises(ValueError, match="no attributions"):
        ex.waterfall(att, predictions, 999)
    figure = plots_explain.waterfall(wf, output_space=e.info.output_space)
    assert figure.data[0].base == pytest.approx(wf.base)
