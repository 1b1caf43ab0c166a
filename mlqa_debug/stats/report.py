"""Slice reports as tables: what the Slices page, the CLI and cases show.

:func:`evaluate_slice` is the one call behind every "metrics of this slice"
view: it checks the slice against the dataset, builds its mask and returns the
:class:`~mlqa_debug.stats.results.SliceReport`. :func:`report_frame` lays a report
out as rows of metrics by columns slice / rest / overall, :func:`difference_text`
says in one sentence how the slice differs from the rest (numbers through
:mod:`.format`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlqa_debug.slicing import Slice, slice_mask
from mlqa_debug.stats.evaluation import slice_report
from mlqa_debug.stats.format import count, interval, number, p_value, percent
from mlqa_debug.stats.results import ClassificationMetrics, RegressionMetrics, SliceReport

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions

__all__ = ["SliceEvaluation", "difference_text", "evaluate_slice", "report_frame"]


@dataclass(frozen=True)
class SliceEvaluation:
    """A slice, its row mask and its report on one dataset."""

    slice: Slice
    mask: np.ndarray
    report: SliceReport[Any]

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.slice.text, "slice_id": self.slice.id, **self.report.to_dict()}


def evaluate_slice(predictions: Predictions, s: Slice) -> SliceEvaluation:
    """Metrics of ``s`` vs the rest vs all rows."""
    mask = slice_mask(predictions, s)
    return SliceEvaluation(s, mask, slice_report(predictions.metric_data, mask))


def _classification_rows(m: ClassificationMetrics) -> dict[str, str]:
    rows = {
        "rows": count(m.n),
        "share of rows": percent(m.share),
        "errors": count(m.n_errors),
        "error rate [95% CI]": interval(m.error_rate),
        "accuracy": percent(m.accuracy),
        "macro precision": number(m.macro_precision),
        "macro recall": number(m.macro_recall),
        "macro F1": number(m.macro_f1),
    }
    if m.log_loss is not None:
        rows |= {"log loss": number(m.log_loss), "Brier": number(m.brier), "ECE": number(m.ece)}
    for c in m.per_class if len(m.per_class) <= 12 else ():
        rows[f"P / R / F1 [{c.name}]"] = (
            f"{number(c.precision)} / {number(c.recall)} / {number(c.f1)}"
        )
    return rows


def _regression_rows(m: RegressionMetrics) -> dict[str, str]:
    return {
        "rows": count(m.n),
        "share of rows": percent(m.share),
        f"errors (|residual| > {number(m.threshold)})": count(m.n_errors),
        "error rate [95% CI]": interval(m.over_threshold),
        "MAE [95% CI]": interval(m.mae, number),
        "RMSE [95% CI]": interval(m.rmse, number),
        "bias (mean pred − label)": interval(m.bias, number),
        "R²": number(m.r2),
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
    diff = d.error_rate_diff
    sign = "higher" if diff.value > 0 else "lower"
    return (
        f"Error rate {percent(abs(diff.value))} {sign} than the rest "
        f"(95% CI {percent(diff.low, signed=True)} to {percent(diff.high, signed=True)}; "
        f"p {p_value(d.p_value)}); lift over overall {number(d.lift)}x."
    )
