"""Original columns <-> one float per column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlqa_debug.analyses.explain.codec import ColumnCodec
from mlqa_debug.data.predictions import load_predictions


def test_codec_round_trips_odd_columns(binary_frame: pd.DataFrame, tmp_path: Path) -> None:
    binary_frame.to_csv(tmp_path / "odd.csv", index=False)
    frame = load_predictions(tmp_path / "odd.csv").frame
    features = frame.drop(columns=["id", "label", "prediction", "score"])
    codec = ColumnCodec(features)
    back = codec.decode(codec.encode(features))
    pd.testing.assert_frame_equal(back, features.reset_index(drop=True), check_exact=False)
