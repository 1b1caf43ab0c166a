"""Builders of small predictions tables for the quality-check tests."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality import Finding, QualityReport, run_quality
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.slicing import parse_slice


def predictions(frame: pd.DataFrame, **roles: Any) -> Predictions:
    """A validated table from a frame (written to Parquet in memory, as a file would be)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    buffer.name = "table.parquet"
    return load_predictions(buffer, sidecar=False, **roles)


def clean_frame(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    """A binary table built to trigger nothing: varied features, balanced, calibrated."""
    p1 = rng.random(n)
    label = (rng.random(n) < p1).astype(np.int64)
    score = p1
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "colour": rng.choice(["red", "green", "blue", "grey"], n),
            "size": rng.normal(10.0, 2.0, n),
            "weight": rng.normal(0.0, 1.0, n),
            "label": label,
            "score": score,
            "prediction": (score >= 0.5).astype(np.int64),
        }
    )


def findings(frame: pd.DataFrame, check: str, **roles: Any) -> list[Finding]:
    """The findings of one check on a table made from ``frame``."""
    return run_quality(predictions(frame, **roles)).by_check(check)


def assert_slices_match(report: QualityReport, table: Predictions) -> None:
    """Every finding's slice parses and selects exactly the finding's rows."""
    for f in report.findings:
        assert f.n_rows == int(f.mask().sum())
        assert list(f.rows) == np.flatnonzero(f.mask())[: len(f.rows)].tolist()
        if f.slice is None:
            continue
        parsed = parse_slice(f.slice)
        assert parsed.text == f.slice
        parsed.check(table.column_kinds)
        np.testing.assert_array_equal(parsed.mask(table.slice_frame), f.mask(), err_msg=f.slice)
