"""Reliability diagrams and ECE against a brute-force computation; the calibration checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.quality import compute_calibration, reliability, run_quality
from mlqa_debug.stats import evaluate
from tests.analyses.quality.helpers import assert_slices_match, clean_frame, predictions


def brute_force_ece(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """ECE by looping over rows and bins, bins [i/B, (i+1)/B), the last one closed."""
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = [
            i for i in range(len(p)) if low <= p[i] < high or (b == n_bins - 1 and p[i] == 1.0)
        ]
        if inside:
            gap = abs(np.mean([y[i] for i in inside]) - np.mean([p[i] for i in inside]))
            total += len(inside) / len(p) * gap
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_reliability_ece_matches_brute_force(rng: np.random.Generator, n_bins: int) -> None:
    p = rng.random(700) ** 2
    p[:5] = [0.0, 1.0, 0.5, 0.2, 0.8]  # bin edges
    y = rng.random(700) < np.sqrt(p)
    curve = reliability(p, y, n_bins=n_bins)
    assert curve.ece == pytest.approx(brute_force_ece(p, y, n_bins), abs=1e-12)
    assert curve.counts.sum() == 700
    for b in np.flatnonzero(curve.counts):
        assert curve.low[b] <= curve.observed[b] <= curve.high[b]
    table = curve.frame()
    assert len(table) == np.count_nonzero(curve.counts) and not table.isna().any().any()


def test_top_label_ece_is_the_metrics_ece(rng: np.random.Generator) -> None:
    n = 3000
    label = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 2.0 * np.eye(3)[label]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "label": label, "prediction": proba.argmax(axis=1)}
        | {f"prob_{k}": proba[:, k] for k in range(3)}
    )
    table = predictions(frame)
    found = compute_calibration(table)
    assert found is not None
    assert found.top_label.ece == pytest.approx(evaluate(table.metric_data).ece, abs=1e-12)
    assert [c.name for c in found.per_class] == ["0", "1", "2"]
    for k, curve in enumerate(found.per_class):
        assert curve.ece == pytest.approx(brute_force_ece(proba[:, k], label == k, 10), abs=1e-12)
    mask = frame["x"].to_numpy() > 0
    inside = compute_calibration(table, mask)
    assert inside is not None and inside.n == mask.sum()
    assert inside.top_label.ece == pytest.approx(evaluate(table.metric_data, mask).ece, abs=1e-12)


def test_binary_shows_the_positive_class_only(rng: np.random.Generator) -> None:
    found = compute_calibration(predictions(clean_frame(rng)))
    assert found is not None and [c.name for c in found.per_class] == ["1"]


def test_no_probabilities_no_calibration(rng: np.random.Generator) -> None:
    frame = clean_frame(rng).drop(columns="score")
    assert compute_calibration(predictions(frame)) is None
    report = run_quality(predictions(frame))
    assert report.checks["calibration"][1:] == ("skipped", "no probabilities")


def test_calibration_check_on_over_confident_scores(rng: np.random.Generator) -> None:
    frame = clean_frame(rng)
    truth = frame["score"].to_numpy()
    frame["score"] = np.clip((truth - 0.5) * 3 + 0.5, 0, 1)  # pushed towards 0 and 1
    report = run_quality(predictions(frame))
    found = report.by_check("calibration")
    assert {f.column for f in found} == {None, "score"}
    assert all(f.severity in ("warning", "error") and f.slice == "" for f in found)
    assert "over-confident" in found[0].message
    assert report.by_check("calibration") and not run_quality(
        predictions(clean_frame(rng))
    ).by_check("calibration")


def test_slice_calibration_finds_the_planted_slice(rng: np.random.Generator) -> None:
    frame = clean_frame(rng, n=8000)
    red = (frame["colour"] == "red").to_numpy()
    s = frame["score"].to_numpy()
    frame.loc[red, "score"] = np.clip(s[red] * 0.4 + 0.6, 0, 1)  # too high on red rows
    frame["prediction"] = (frame["score"] >= 0.5).astype(int)
    table = predictions(frame)
    report = run_quality(table)
    (finding,) = report.by_check("slice_calibration")
    assert finding.slice == "colour == 'red'" and finding.n_rows == red.sum()
    expected = compute_calibration(table, red)
    assert expected is not None and finding.value == pytest.approx(expected.top_label.ece)
    assert_slices_match(report, table)
    assert run_quality(predictions(clean_frame(rng, n=8000))).by_check("slice_calibration") == []
