"""The Explanations page's figures build from the aggregations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.explain import figures as plots_explain


def test_figures_build_for_each_view(sample: Callable) -> None:
    predictions, model = sample("digits")
    e = ex.explain(predictions, np.arange(120), model=model, time_budget=60).explanation
    att = ex.toward(e, predictions)
    inside = predictions.frame["label"].iloc[att.rows].to_numpy() == 8
    table = ex.importance_table(att, inside)
    features = ex.top_features(table, n=5)
    swarm = ex.beeswarm_frame(att, predictions, features=features, rows_mask=inside)
    assert set(swarm["feature"]) == set(features) and swarm["colour"].between(0, 1).all()
    for colour in ("error", "value"):
        assert plots_explain.beeswarm(swarm, features=features, colour=colour).data
    dep = ex.dependence_frame(att, predictions, features[0], rows_mask=inside)
    assert len(dep) == int(inside.sum())
    assert plots_explain.dependence(dep, feature=features[0]).data
    assert plots_explain.importance_bars(table).data
    position = int(att.rows[np.flatnonzero(predictions.error[att.rows])[0]])
    image = ex.image_attributions(att, predictions, position)
    assert image is not None and image[0].shape == (8, 8) == image[1].shape
    assert plots_explain.attribution_image(*image, target="class 1").data
