"""The same counts, sums and metrics on numpy, DuckDB and Spark for the same tables.

Counts must be equal exactly; float sums (confidence, log loss, Brier, residual
powers) to a relative 1e-12, and so must every metric of the slice reports.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlqa_debug.engines import SliceSums
from mlqa_debug.slicing import parse_slice
from tests.engines.conftest import AGE, CITY, COLOR, ENGINES, FLAG, INJECTION, WHEN

CLASSIFICATION_SLICES = [
    "",
    "`colour ``tone``` == 'red'",
    "`âge (years)` >= 40 and `colour ``tone``` != 'blue'",
    "`âge (years)` is missing",
    "`it's flagged` == true",
    "error == true",
    "label == 'nothing'",  # matches nothing on string labels, nothing on ints
]
REGRESSION_SLICES = [
    "",
    "`colour ``tone``` in ('red', 'green')",
    "`âge (years)` between 30 and 50",
    "abs_error > 5",
    "error == true",
    "`city \"name\"; DROP TABLE t; --` == '東京'",
    "`seen at` < '2024-03-01'",
]


def _slices(kind: str) -> list[Any]:
    texts = REGRESSION_SLICES if kind == "regression" else list(CLASSIFICATION_SLICES)
    if kind == "regression":
        return [parse_slice(t) for t in texts]
    if kind != "plain":
        texts.append("confidence > 0.6")
    texts = [t.replace("label == 'nothing'", "label == 'nothing'") for t in texts]
    return [parse_slice(t) for t in texts if not (kind != "multiclass" and "'nothing'" in t)]


def _assert_sums_equal(got: Any, expected: Any, where: str) -> None:
    for name in ("n", "n_errors", "true_counts", "pred_counts"):
        if hasattr(expected, name):
            assert np.array_equal(getattr(got, name), getattr(expected, name)), (where, name)
    for name in (
        "confidence",
        "log_loss",
        "brier",
        "residual",
        "abs_residual",
        "sq_residual",
        "quad_residual",
        "sq_centred",
    ):
        if hasattr(expected, name):
            np.testing.assert_allclose(
                getattr(got, name),
                getattr(expected, name),
                rtol=1e-12,
                atol=1e-9,
                err_msg=f"{where}: {name}",
            )


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flat(v, f"{prefix}.{k}")
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out |= _flat(v, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def assert_reports_equal(got: Any, expected: Any) -> None:
    a, b = _flat(got.to_dict()), _flat(expected.to_dict())
    assert a.keys() == b.keys()
    for key, value in b.items():
        if isinstance(value, float) and not key.endswith("r2"):
            assert a[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        elif isinstance(value, float):  # R² divides by the centred sum of squares
            assert a[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert a[key] == value, key


@pytest.mark.parametrize("kind", ["binary", "multiclass", "plain", "regression"])
@pytest.mark.parametrize("engine_name", ENGINES)
def test_sums_and_reports_match_numpy(
    kind: str, engine_name: str, tables: dict[str, Path], open_on: Any
) -> None:
    reference = open_on(tables[kind], "numpy")
    engine = open_on(tables[kind], engine_name)
    assert engine.task == reference.task
    assert engine.schema.classes == reference.schema.classes
    assert engine.schema.positive == reference.schema.positive
    assert set(engine.column_kinds) == set(reference.column_kinds)
    slices = _slices(kind)
    expected: list[SliceSums] = reference.slice_sums(slices)
    got: list[SliceSums] = engine.slice_sums(slices)
    for s, g, e in zip(slices, got, expected, strict=True):
        for side in ("inside", "outside", "overall"):
            _assert_sums_equal(getattr(g, side), getattr(e, side), f"{s.text!r} {side}")
    for g, e in zip(engine.slice_reports(slices), reference.slice_reports(slices), strict=True):
        assert_reports_equal(g, e)
    assert any(0 < e.inside.n < reference.n_rows for e in expected)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_case_threshold_changes_regression_errors_alike(
    engine_name: str, tables: dict[str, Path], open_on: Any
) -> None:
    reference = open_on(tables["regression"], "numpy")
    engine = open_on(tables["regression"], engine_name)
    assert engine.default_threshold == pytest.approx(
        reference.predictions.schema.error_threshold, rel=1e-12
    )
    s = [parse_slice("`colour ``tone``` == 'red'")]
    for threshold in (1.0, 7.5):
        (g,) = engine.slice_reports(s, error_threshold=threshold)
        (e,) = reference.slice_reports(s, error_threshold=threshold)
        assert_reports_equal(g, e)
        assert g.slice.n_errors == e.slice.n_errors > 0


def test_metrics_from_sums_agree_with_scikit_learn(tables: dict[str, Path], open_on: Any) -> None:
    """The DuckDB numbers are right, not just equal to numpy's: a brute-force reference."""
    import pandas as pd
    from sklearn.metrics import brier_score_loss, f1_score, log_loss

    frame = pd.read_parquet(tables["binary"])
    engine = open_on(tables["binary"], "duckdb")
    (report,) = engine.slice_reports([parse_slice("`colour ``tone``` == 'red'")])
    rows = frame[frame[COLOR] == "red"]
    m = report.slice
    assert m.n == len(rows)
    assert m.n_errors == int((rows["label"] != rows["prediction"]).sum())
    assert m.value("f1[1]") == pytest.approx(f1_score(rows["label"], rows["prediction"]))
    assert m.log_loss == pytest.approx(log_loss(rows["label"], rows["score"], labels=[0, 1]))
    assert m.brier == pytest.approx(brier_score_loss(rows["label"], rows["score"]))
    assert math.isfinite(m.error_rate.low) and m.error_rate.low < m.error_rate.value


_ = (AGE, CITY, FLAG, INJECTION, WHEN)
