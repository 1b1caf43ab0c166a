"""Text for people about residuals: a sentence comparing slice and rest, a readable table."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlqa_debug.stats.format import count, number, percent

__all__ = ["residual_frame", "residual_text"]

_COMPARED: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("MAE", "MAE", number),
    ("bias (mean residual)", "bias", lambda v: number(v, signed=True)),
    ("errors", "errors", percent),
)


def residual_text(summary: pd.DataFrame) -> str:
    """One sentence: the slice's residuals against the rest's (from ``residual_summary``)."""
    slice_row, rest_row = (
        dict(zip(summary.columns, summary.loc[name].to_numpy(np.float64), strict=True))
        for name in ("slice", "rest")
    )
    if not slice_row["rows"] or not rest_row["rows"]:
        return "The slice or the rest is empty: no comparison."
    text = "; ".join(
        f"{label} {fmt(slice_row[key])} against {fmt(rest_row[key])}"
        for label, key, fmt in _COMPARED
    )
    return f"Slice vs rest: {text}."


def residual_frame(summary: pd.DataFrame, *, threshold: float | None = None) -> pd.DataFrame:
    """``residual_summary`` as readable text (4 significant digits, percent errors, – for none)."""
    out = summary.apply(lambda column: column.map(lambda v: number(v, digits=4)))
    out["rows"] = summary["rows"].map(count)
    out["errors"] = summary["errors"].map(percent)
    if threshold is not None:
        out = out.rename(columns={"errors": f"|residual| > {number(threshold)}"})
    return out
