"""The History page's status grid: every status a record can hold has its colour and label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlqa_debug.history.figures import (
    STATUS_CODES,
    STATUS_COLOURS,
    STATUS_LABELS,
    status_grid_figure,
)
from mlqa_debug.history.series import RUN_COLUMN
from mlqa_debug.history.store import STATUSES


def test_every_status_has_a_code_a_colour_and_a_label() -> None:
    assert list(STATUS_CODES) == list(STATUSES)
    assert sorted(STATUS_CODES.values()) == list(range(len(STATUSES)))
    assert len(STATUS_COLOURS) == len(STATUS_LABELS) == len(STATUSES)


def test_the_grid_draws_a_case_that_could_not_be_checked() -> None:
    tidied = pd.DataFrame(
        {
            RUN_COLUMN: [0, 0, 1, 1],
            "run_id": ["r1", "r1", "r2", "r2"],
            "case_id": ["a", "b", "a", "b"],
            "status": ["pass", "error", "fail", "not_applicable"],
        }
    )
    figure = status_grid_figure(tidied, {"a": "case a", "b": "case b"})
    z = np.asarray(figure.data[0].z, dtype=float)
    assert z.tolist() == [[0.0, 1.0], [4.0, 3.0]]
    assert list(figure.data[0].colorbar.ticktext) == list(STATUS_LABELS)
