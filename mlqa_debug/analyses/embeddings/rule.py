"""A slice that describes a selection on the map, and how well it does.

The rule is the node of a depth-3 decision tree
(:func:`~mlqa_debug.analyses.discovery.tree.fit_error_tree`) on the features,
label and prediction with the best F1 for "selected", as an exact slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlqa_debug.analyses.discovery.tree import TreeNode, fit_error_tree
from mlqa_debug.analyses.embeddings.rule_columns import check_positions, rule_frame
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.slicing import EMPTY, Slice

__all__ = ["RuleSuggestion", "suggest_rule"]


@dataclass(frozen=True)
class RuleSuggestion:
    """A slice that describes the selection, and how well, on the points of the map.

    ``rule`` holds the tree's conditions, ``slice`` is the current slice and the
    rule. ``precision`` is the share of the map points the rule covers that are
    selected, ``recall`` the share of the selected points it covers.
    """

    rule: Slice
    slice: Slice
    n_covered: int
    n_selected_covered: int
    n_selected: int
    n_rows: int  # rows of the whole table in ``slice``

    @property
    def precision(self) -> float:
        return self.n_selected_covered / self.n_covered if self.n_covered else float("nan")

    @property
    def recall(self) -> float:
        return self.n_selected_covered / self.n_selected if self.n_selected else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def describe(self, *, within_slice: bool = False) -> str:
        """Precision and recall in words, and the rule's size in the whole table."""
        where = " within the current slice" if within_slice else ""
        return (
            f"Precision {self.precision:.0%}: {self.n_selected_covered:,} of the "
            f"{self.n_covered:,} map points it covers are selected. Recall {self.recall:.0%}: "
            f"it covers that share of the {self.n_selected:,} selected points. "
            f"{self.n_rows:,} rows of the table match it{where}."
        )


def suggest_rule(
    predictions: Predictions,
    selected: np.ndarray,
    *,
    shown: np.ndarray,
    base: Slice = EMPTY,
    max_depth: int = 3,
    random_state: int = 0,
) -> RuleSuggestion | None:
    """The best-F1 node of a small tree on the map's points predicting "selected".

    The tree (:func:`~mlqa_debug.analyses.discovery.tree.fit_error_tree`, greedy CART of
    depth ``max_depth``) runs on the features, label and prediction of the
    ``shown`` rows; every node is an exact slice. Precision and recall are counted
    with the slice's own mask on the shown rows. ``None`` when nothing is
    selected or no rule beats "all points".
    """
    n = predictions.n_samples
    shown = check_positions(shown, n, "shown")
    is_selected = np.isin(shown, check_positions(selected, n, "selected"))
    n_selected = int(is_selected.sum())
    if n_selected == 0 or n_selected == len(shown):
        return None
    frame = rule_frame(predictions).iloc[shown]
    tree = fit_error_tree(
        frame,
        is_selected.astype(np.float64),
        features=list(frame.columns),
        max_depth=max_depth,
        min_samples_leaf=max(2, math.ceil(0.02 * n_selected)),
        task="classification",
        random_state=random_state,
    )
    candidates = [node for node in tree.nodes if node.slice.predicates]
    if not candidates:
        return None
    best = max(candidates, key=lambda node: _rule_score(node, n_selected))
    covered = best.slice.mask(frame)
    full = base & best.slice
    return RuleSuggestion(
        rule=best.slice,
        slice=full,
        n_covered=int(covered.sum()),
        n_selected_covered=int((covered & is_selected).sum()),
        n_selected=n_selected,
        n_rows=int(full.mask(predictions.slice_frame).sum()),
    )


def _rule_score(node: TreeNode, n_selected: int) -> tuple[float, int, float]:
    """F1 (rounded so near ties go to shorter rules), then fewer predicates, then precision."""
    precision = node.error_sum / node.size if node.size else 0.0
    recall = node.error_sum / n_selected
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (round(f1, 2), -len(node.slice.predicates), precision)
