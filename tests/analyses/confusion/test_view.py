"""Tests of mlqa_debug.analyses.confusion.view: threshold metrics as text."""

from __future__ import annotations

from mlqa_debug.analyses import confusion as cf


def test_threshold_frame_text() -> None:
    frame = cf.threshold_frame({"slice": cf.ThresholdMetrics(0.3, tp=3, fp=1, fn=1, tn=1995)})
    assert frame.loc["precision", "slice"] == "0.750"
    assert frame.loc["true negatives", "slice"] == "1,995"
