"""The neighbour signal (against brute force) and the reliability check (planted flips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.labels import (
    label_neighbours,
    plant_flips,
    ranking_reliability,
    table_inputs,
)
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import ParameterError


def test_neighbour_disagreement_matches_brute_force(planted_predictions: Predictions) -> None:
    p = planted_predictions
    asked = np.array([0, 5, 17, 1999])
    result = label_neighbours(p, asked, k=7)
    assert result is not None
    emb = np.asarray(p.embedding_matrix, dtype=np.float64)
    labels = p.y_true_codes
    for i, pos in enumerate(asked):
        d = np.linalg.norm(emb - emb[pos], axis=1)
        d[pos] = np.inf
        nearest = np.argsort(d, kind="stable")[:7]
        assert set(result.neighbours[i]) == set(nearest)
        assert result.disagreement[i] == pytest.approx((labels[nearest] != labels[pos]).mean())


def test_flipped_labels_disagree_with_their_neighbours_more(
    planted_predictions: Predictions,
) -> None:
    from .conftest import make_planted

    flipped = make_planted().flipped
    others = np.setdiff1d(np.arange(planted_predictions.n_samples), flipped)[:200]
    result_f = label_neighbours(planted_predictions, flipped)
    result_o = label_neighbours(planted_predictions, others)
    assert result_f is not None and result_o is not None
    assert result_f.disagreement.mean() > result_o.disagreement.mean() + 0.3


def test_no_embeddings_no_signal(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "label": ["a", "b"] * 5,
            "prediction": ["a"] * 10,
            "prob_a": [0.6] * 10,
            "prob_b": [0.4] * 10,
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert label_neighbours(load_predictions(tmp_path / "t.csv"), [0, 1]) is None


def test_reliability_finds_the_planted_flips(tmp_path: Path) -> None:
    """On labels without real errors, the planted flips are what ranks first."""
    from .conftest import make_planted

    path = tmp_path / "clean.csv"
    make_planted(share=0.0).frame.to_csv(path, index=False)
    clean = load_predictions(path)
    result = ranking_reliability(clean, share=0.05, ks=(10, 25, 50), random_state=3)
    assert result.n_planted == round(0.05 * result.candidates)
    print(result.table.to_string())
    table = result.table.set_index("k")
    assert (table["found"] <= table.index).all()
    assert table.loc[10, "precision"] >= 0.8  # real flips also rank high: a lower bound
    assert result.flagged_recall >= 0.9
    again = ranking_reliability(clean, share=0.05, ks=(10, 25, 50), random_state=3)
    assert again.planted.tolist() == result.planted.tolist()  # seeded


def test_flips_go_to_the_second_class_of_confident_rows(planted_predictions: Predictions) -> None:
    inputs = table_inputs(planted_predictions)
    flipped, chosen, candidates = plant_flips(inputs, share=0.1, random_state=0)
    probs = inputs.pred_probs
    assert (probs[chosen].argmax(axis=1) == inputs.labels[chosen]).all()
    assert (flipped[chosen] == np.argsort(probs[chosen], axis=1)[:, -2]).all()
    untouched = np.setdiff1d(np.arange(inputs.n_samples), chosen)
    assert (flipped[untouched] == inputs.labels[untouched]).all()
    assert len(chosen) == round(0.1 * candidates)


def test_reliability_within_a_slice_plants_only_there(planted_predictions: Predictions) -> None:
    mask = (planted_predictions.frame["group"] == "north").to_numpy()
    result = ranking_reliability(planted_predictions, mask=mask, ks=(10,))
    assert mask[result.planted].all()


def test_reliability_share_must_be_a_fraction(planted_predictions: Predictions) -> None:
    with pytest.raises(ParameterError, match=r"share must be in \(0, 1\)"):
        ranking_reliability(planted_predictions, share=1.5)
