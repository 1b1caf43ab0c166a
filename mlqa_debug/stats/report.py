"""Slice reports as tables: what the Slices page, the CLI and cases show.

:func:`evaluate_slice` is the one call behind every "metrics of this slice"
view: it checks the slice against the dataset, builds its mask and returns the
:class:`~mlqa_debug.stats.metrics.SliceReport`. :func:`report_frame` lays a report
out as rows of metrics by columns slice / rest / overall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing.slices import Slice
from mlqa_debug.stats.metrics import (
    ClassificationMetrics,
    Estimate,
    RegressionMetrics,
    SliceReport,
    slice_report,
)


@dataclass(frozen=True)
class SliceEvaluation:
    """A slice, its row mask and its report on one dataset."""

    slice: Slice
    mask: np.ndarray
    report: SliceReport[Any]

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.slice.text, "slice_id": self.slice.id, **self.report.to_dict()}


def slice_mask(predictions: Predictions, s: Slice) -> np.ndarray:
    """Rows of ``predictions`` in slice ``s``; :class:`SliceError` if it doesn't fit the data."""
    s.check(predictions.column_kinds)
    return s.mask(predictions.slice_frame)


def evaluate_slice(predictions: Predictions, s: Slice) -> SliceEvaluation:
    """Metrics of ``s`` vs the rest vs all rows."""
    mask = slice_mask(predictions, s)
    return SliceEvaluation(s, mask, slice_report(predictions.metric_data, mask))


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def _interval(e: Estimate, fmt: Any) -> str:
    if math.isnan(e.low):
        return fmt(e.value)
    return f"{fmt(e.value)} [{fmt(e.low)}, {fmt(e.high)}]"


def _classification_rows(m: ClassificationMetrics) -> dict[str, str]:
    rows = {
        "rows": f"{m.n:,}",
        "share of rows": _pct(m.share),
        "errors": f"{m.n_errors:,}",
        "error rate [95% CI]": _interval(m.error_rate, _pct),
        "accuracy": _pct(m.accuracy),
        "macro precision": _num(m.macro_precision),
        "macro recall": _num(m.macro_recall),
        "macro F1": _num(m.macro_f1),
    }
    if m.log_loss is not None:
        rows |= {"log loss": _num(m.log_loss), "Brier": _num(m.brier), "ECE": _num(m.ece)}
    for c in m.per_class if len(m.per_class) <= 12 else ():
        rows[f"P / R / F1 [{c.name}]"] = f"{_num(c.precision)} / {_num(c.recall)} / {_num(c.f1)}"
    return rows


def _regression_rows(m: RegressionMetrics) -> dict[str, str]:
    return {
        "rows": f"{m.n:,}",
        "share of rows": _pct(m.share),
        f"errors (|residual| > {m.threshold:.3g})": f"{m.n_errors:,}",
        "error rate [95% CI]": _interval(m.over_threshold, _pct),
        "MAE [95% CI]": _interval(m.mae, _num),
        "RMSE [95% CI]": _interval(m.rmse, _num),
        "bias (mean pred − label)": _interval(m.bias, _num),
        "R²": _num(m.r2),
    }


def report_frame(report: SliceReport[Any]) -> pd.DataFrame:
    """Rows of formatted metrics; columns ``slice``, ``rest``, ``overall``."""
    layout = (
        _classification_rows
        if isinstance(report.overall, ClassificationMetrics)
        else _regression_rows
    )
    parts = {name: layout(getattr(report, name)) for name in ("slice", "rest", "overall")}
    frame = pd.DataFrame(parts)
    frame.index.name = "metric"
    return frame


def difference_text(report: SliceReport[Any]) -> str:
    """One sentence: slice vs rest error rate, its interval and p-value."""
    d = report.difference
    if math.isnan(d.error_rate_diff.value):
        return "The slice or the rest is empty: no comparison."
    sign = "higher" if d.error_rate_diff.value > 0 else "lower"
    p = "< 0.001" if d.p_value < 0.001 else f"{d.p_value:.3f}"
    return (
        f"Error rate {abs(d.error_rate_diff.value):.1%} {sign} than the rest "
        f"(95% CI {d.error_rate_diff.low:+.1%} to {d.error_rate_diff.high:+.1%}; p {p}); "
        f"lift over overall {_num(d.lift)}x."
    )
