"""External datasets for tests: partitioned Parquet logs registered by reference.

``write_logs(root)`` writes a binary predictions log as Hive partitions
(``day=<k>/part.parquet``): an integer ``id``, a categorical ``région`` with a
quote in one value, a numeric ``age`` with gaps, ``label``, ``prediction`` and
``score``; the model is wrong far more often in ``région == 'north'``.
``register_logs(ws, tmp_path)`` registers it (and, with ``baseline``, a second
model's log on the same ids) on DuckDB; pages then see ``sample_rows`` of the
rows through ``$MLQA_EXTERNAL_SAMPLE_ROWS``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.data.external import ENV_SAMPLE_ROWS
from mlqa_debug.data.workspace import DatasetEntry, Workspace

REGION = "région"
REGIONS = ("north", "south", "east", "o'west")
N_PARTS, PART_ROWS = 3, 2_000
N_ROWS = N_PARTS * PART_ROWS
SAMPLE_ROWS = 1_500


def logs_frame(model: int = 0, *, n: int = N_ROWS, noise: float = 0.1) -> pd.DataFrame:
    """The log's rows: errors at ``noise`` overall and about 45% in the north.

    Every ``model`` sees the same rows and labels; its predictions are drawn with
    its own seed.
    """
    rng = np.random.default_rng(0)
    region = rng.choice(np.array(REGIONS, dtype=object), n, p=[0.25, 0.35, 0.25, 0.15])
    age = np.round(rng.normal(45, 12, n), 1)
    age[rng.random(n) < 0.05] = np.nan
    label = rng.integers(0, 2, n)
    rng = np.random.default_rng(100 + model)
    wrong = rng.random(n) < np.where(region == "north", 0.45, noise)
    prediction = np.where(wrong, 1 - label, label)
    confidence = rng.uniform(0.55, 0.99, n)
    score = np.where(prediction == 1, confidence, 1 - confidence)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            REGION: region,
            "age": age,
            "label": label,
            "prediction": prediction,
            "score": score,
        }
    )


def write_logs(root: Path, model: int = 0, *, noise: float = 0.1) -> Path:
    """The log as ``root/day=<k>/part.parquet`` partitions; returns ``root``."""
    frame = logs_frame(model, noise=noise)
    for k in range(N_PARTS):
        part = root / f"day={k}"
        part.mkdir(parents=True, exist_ok=True)
        rows = frame.iloc[k * PART_ROWS : (k + 1) * PART_ROWS]
        rows.to_parquet(part / "part.parquet", index=False)
    return root


def register_logs(
    ws: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    name: str = "logs",
    baseline: bool = False,
    sample_rows: int = SAMPLE_ROWS,
) -> DatasetEntry:
    """``name`` registered by reference on DuckDB; with ``baseline``, ``<name>_old`` too
    (an older model on the same rows, fewer errors outside the north: the default
    baseline of ``name``)."""
    monkeypatch.setenv(ENV_SAMPLE_ROWS, str(sample_rows))
    old = None
    if baseline:
        old = f"{name}_old"
        ws.add_external(write_logs(tmp_path / f"{old}-files", model=1, noise=0.05), name=old)
    return ws.add_external(write_logs(tmp_path / f"{name}-files"), name=name, baseline=old)
