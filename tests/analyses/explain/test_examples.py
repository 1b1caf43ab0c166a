"""Single examples: ids and nearest correct neighbours (against brute force)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlqa_debug.analyses import explain as ex


def test_nearest_correct_neighbours_match_brute_force(sample: Callable) -> None:
    predictions, _ = sample("digits")
    position = int(np.flatnonzero(predictions.error)[0])
    found = ex.nearest_correct(predictions, position, k=5)
    assert found is not None and len(found) == 5
    embedding = predictions.embedding_matrix
    same = ~predictions.error & (predictions.y_true_codes == predictions.y_true_codes[position])
    candidates = np.flatnonzero(same)
    distance = np.linalg.norm(embedding[candidates] - embedding[position], axis=1)
    expected = candidates[np.argsort(distance, kind="stable")[:5]]
    assert found["position"].tolist() == expected.tolist()
    np.testing.assert_allclose(found["distance"], np.sort(distance)[:5], rtol=1e-5)
    assert ex.nearest_correct(sample("loans")[0], 0) is None  # no embedding columns


def test_examples_are_found_by_id_and_hostile_ids_are_not(sample: Callable) -> None:
    predictions, _ = sample("digits")
    assert ex.find_example(predictions, "D0037") == 17
    assert ex.example_id(predictions, 17) == "D0037"
    for hostile in ("", None, "../../etc/passwd", "D0037' or 1=1", "x" * 10_000, "17"):
        assert ex.find_example(predictions, hostile) is None
