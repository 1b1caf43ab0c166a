"""What a selection on the map is: its metrics against the rest, what separates it, a rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug import stats as metrics
from mlqa_debug.analyses.embeddings.rule import RuleSuggestion, suggest_rule
from mlqa_debug.analyses.embeddings.rule_columns import check_positions
from mlqa_debug.analyses.embeddings.separation import separating_features
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import EMPTY, Slice

__all__ = ["SelectionSummary", "summarize_selection"]


@dataclass(frozen=True, eq=False)
class SelectionSummary:
    """What a selection on the map is.

    ``selected``: the selected points (row positions); ``mask``: the rows the
    metrics cover (on a sampled map, every mapped row of the view inside the drawn
    region, not only the drawn points). ``report``: those rows vs all other rows.
    ``map_rest``: the metrics of the other rows of the view. ``features`` and
    ``rule`` compare the selected points with the other points on the map.
    """

    selected: np.ndarray
    mask: np.ndarray
    report: metrics.SliceReport[Any]
    map_rest: metrics.ClassificationMetrics | metrics.RegressionMetrics
    features: pd.DataFrame
    rule: RuleSuggestion | None
    ids: tuple[Any, ...] | None

    @property
    def n_rows(self) -> int:
        return int(self.mask.sum())

    def headline(self) -> list[tuple[str, str, str | None]]:
        """(label, value, delta) of the four numbers above a summary."""
        inside, rest = self.report.slice.error_rate.value, self.map_rest.error_rate.value
        points = len(self.selected)
        gap = (
            f"{(inside - rest) * 100:+.1f} pts vs the rest of the map" if self.map_rest.n else None
        )
        return [
            (
                "Rows",
                f"{self.n_rows:,}",
                f"{points:,} points drawn" if points != self.n_rows else None,
            ),
            ("Error rate", f"{inside:.1%}", gap),
            ("Rest of the map", f"{rest:.1%}" if self.map_rest.n else "–", None),
            ("Overall error rate", f"{self.report.overall.error_rate.value:.1%}", None),
        ]


def _selected_ids(predictions: Predictions, selected: np.ndarray) -> tuple[Any, ...] | None:
    """The id column's values of the selected rows (plain Python values), if there is one."""
    if predictions.schema.id is None:
        return None
    values = predictions.frame[predictions.schema.id].to_numpy(dtype=object)[selected]
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def summarize_selection(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    candidates: np.ndarray | None = None,
    region: np.ndarray | None = None,
    base: Slice = EMPTY,
) -> SelectionSummary:
    """Metrics, separating features and a rule for the selected points of a map.

    ``candidates`` are the rows of the view (the slice's mapped rows) and
    ``region`` the rows inside the drawn selection (see
    :func:`~mlqa_debug.analyses.embeddings.selection.region_mask`); on a
    sampled map the metrics use ``region & candidates``, otherwise the points.
    """
    n = predictions.n_samples
    selected = check_positions(selected, n, "selected")
    view = np.ones(n, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[selected] = True
    if region is not None and len(shown) < int(view.sum()):
        mask |= region & view
    return SelectionSummary(
        selected=selected,
        mask=mask,
        report=metrics.slice_report(predictions.metric_data, mask),
        map_rest=metrics.evaluate(predictions.metric_data, view & ~mask),
        features=separating_features(predictions, selected, shown=shown),
        rule=suggest_rule(predictions, selected, shown=shown, base=base),
        ids=_selected_ids(predictions, selected),
    )
