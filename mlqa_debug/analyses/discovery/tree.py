"""Error tree: a shallow decision tree on the errors whose every node is a :class:`Slice`.

:func:`fit_error_tree` grows a CART tree top-down: each node's split is the
root split of a depth-1 scikit-learn tree (``DecisionTreeClassifier`` on a 0/1
error target, ``DecisionTreeRegressor`` on a residual) fitted on the node's
rows, so the tree is the greedy CART tree, grown by scikit-learn's splitter.
Growing it node by node is what makes every node an exact slice:

* **numeric** (and datetime) columns split as ``col <= t`` / ``col > t``, where
  ``t`` is the largest value of the column that scikit-learn's float32
  comparison sends left, so the slice routes every row of the table exactly as
  the tree does;
* **categorical** columns (category, string, object, boolean) are coded
  *ordinally*, ordered by the node's mean error (Breiman's ordering: the best
  threshold on it is the best two-way partition of the categories for Gini on
  0/1 errors and for squared error), and split as ``col in (...)`` /
  ``col not in (...)``; beyond ``max_categories`` values the rare ones share one
  code, ``col not in (the frequent values)``;
* **missing values** never match a value predicate in a slice, so a set mixing
  missing and present values of a column cannot be one conjunction. Missing
  values are passed to scikit-learn as NaN; when the chosen column has missing
  values in the node, they get a child of their own (``col is missing``) next
  to ``<= t`` / ``> t``: that node has three children. When scikit-learn's best
  split separates missing from present values, the children are ``col is not
  missing`` / ``col is missing``.

Conditions on one column along a path are merged (``x > 3 and x <= 9``, one
``in`` list), which leaves the rows unchanged.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from mlqa_debug.errors import SchemaError
from mlqa_debug.jobs import check_cancelled
from mlqa_debug.slicing import Predicate, Slice, Value
from mlqa_debug.slicing.encoding import Unsupported, categorical_codes, slice_value
from mlqa_debug.types import Progress

__all__ = ["ErrorTree", "TreeNode", "fit_error_tree"]

Task = Literal["auto", "classification", "regression"]
ColumnKind = Literal["numeric", "datetime", "categorical"]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class TreeNode:
    """One node: its slice, the condition added at it, and the errors in it.

    ``error_sum`` is the number of errors for a 0/1 target (the residual sum
    for regression), ``error_mean`` the error rate (mean residual) and
    ``error_share`` the node's part of all errors of the table.
    """

    id: int
    depth: int
    parent: int | None
    children: tuple[int, ...]
    slice: Slice
    condition: tuple[Predicate, ...]
    size: int
    error_sum: float
    error_mean: float
    error_share: float

    @property
    def is_leaf(self) -> bool:
        """Whether the node has no children."""
        return not self.children


@dataclass(frozen=True, eq=False)
class ErrorTree:
    """A fitted error tree; ``nodes[0]`` is the root, children follow their parent."""

    nodes: tuple[TreeNode, ...]
    task: Literal["classification", "regression"]
    features: tuple[str, ...]
    skipped: tuple[str, ...]
    n_samples: int
    node_rows: tuple[IntArray, ...] = field(repr=False)

    def decision_path(self) -> sparse.csr_matrix:
        """Indicator ``(n_samples, n_nodes)``: which nodes the tree routed each row through.

        Like scikit-learn's ``decision_path``, for the table the tree was fitted on;
        it comes from the split rules, not from the slices.
        """
        rows = np.concatenate(self.node_rows) if self.node_rows else np.zeros(0, np.intp)
        cols = np.repeat(np.arange(len(self.nodes)), [r.size for r in self.node_rows])
        data = np.ones(rows.size, dtype=bool)
        shape = (self.n_samples, len(self.nodes))
        return sparse.csr_matrix((data, (rows, cols)), shape=shape)

    def leaves(self) -> list[TreeNode]:
        """The leaf nodes, in tree order."""
        return [node for node in self.nodes if node.is_leaf]

    def to_frame(self) -> pd.DataFrame:
        """One row per node: id, depth, parent, slice text and error statistics."""
        return pd.DataFrame(
            {
                "id": [n.id for n in self.nodes],
                "depth": [n.depth for n in self.nodes],
                "parent": pd.array([n.parent for n in self.nodes], dtype="Int64"),
                "slice": [n.slice.text for n in self.nodes],
                "size": [n.size for n in self.nodes],
                "error_sum": [n.error_sum for n in self.nodes],
                "error_mean": [n.error_mean for n in self.nodes],
                "error_share": [n.error_share for n in self.nodes],
                "leaf": [n.is_leaf for n in self.nodes],
            }
        )


def fit_error_tree(
    frame: pd.DataFrame,
    target: npt.ArrayLike,
    *,
    features: Sequence[str],
    max_depth: int = 3,
    min_samples_leaf: int | float = 0.01,
    task: Task = "auto",
    max_categories: int = 30,
    random_state: int = 0,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ErrorTree:
    """Fit an error tree on ``target`` (0/1 errors or residuals) over ``features``.

    ``min_samples_leaf`` is a fraction of the rows if a float below 1, else a
    count. ``task="auto"`` is classification when the target only holds 0 and 1.
    ``progress`` is called before each node's split (share: rows split so far of
    at most ``max_depth`` passes over the rows); ``cancelled`` is read there too,
    and once true the fit raises :class:`~mlqa_debug.errors.Cancelled`.
    Raises :class:`~mlqa_debug.errors.SchemaError` for an unknown feature column;
    columns no slice can express are skipped with a ``UserWarning``.
    """
    y = _as_target(target, len(frame))
    kind = _resolve_task(task, y)
    columns, skipped = _tree_columns(frame, features, max_categories)
    grower = _Grower(
        columns=columns,
        y=y,
        task=kind,
        max_depth=max_depth,
        min_leaf=_min_leaf(min_samples_leaf, len(frame)),
        random_state=random_state,
        progress=progress,
        cancelled=cancelled,
    )
    nodes, rows = grower.grow()
    return ErrorTree(
        nodes=tuple(nodes),
        task=kind,
        features=tuple(c.name for c in columns),
        skipped=tuple(skipped),
        n_samples=len(frame),
        node_rows=tuple(rows),
    )


# --------------------------------------------------------------------------- input


def _as_target(target: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
    """Finite float target, one per row."""
    y = np.asarray(target, dtype=np.float64)
    if y.shape != (n,):
        raise ValueError(f"target must have one value per row ({n}), got shape {y.shape}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"target must be finite; rows {bad[:5].tolist()} are not")
    return y


def _resolve_task(
    task: Task, y: npt.NDArray[np.float64]
) -> Literal["classification", "regression"]:
    """``auto``: classification for a 0/1 target, else regression."""
    binary = bool(np.all((y == 0) | (y == 1)))
    if task == "auto":
        return "classification" if binary else "regression"
    if task == "classification" and not binary:
        raise ValueError("task='classification' needs a 0/1 error target")
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    return task


def _min_leaf(min_samples_leaf: int | float, n: int) -> int:
    """Smallest leaf in rows."""
    if min_samples_leaf <= 0:
        raise ValueError(f"min_samples_leaf must be > 0, got {min_samples_leaf}")
    if isinstance(min_samples_leaf, float) and min_samples_leaf < 1:
        return max(1, math.ceil(min_samples_leaf * n))
    return int(min_samples_leaf)


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True, eq=False)
class _Column:
    """One feature as the tree sees it.

    Numeric and datetime columns: ``values`` is each row's rank among the sorted
    distinct values ``order`` (int64 ns for datetimes), NaN when missing; the
    rank keeps scikit-learn's float32 comparisons exact. Categorical columns:
    ``values`` holds int64 codes into ``labels`` (rare values lumped into
    ``len(labels)`` when ``lumped``), -1 when missing.
    """

    name: str
    kind: ColumnKind
    values: npt.NDArray[Any]
    missing: npt.NDArray[np.bool_]
    order: npt.NDArray[Any] = field(default_factory=lambda: np.zeros(0))
    labels: tuple[Value, ...] = ()
    lumped: bool = False
    integer: bool = False
    tz: Any = None

    def as_float32(self, rows: IntArray) -> npt.NDArray[np.float32]:
        """The value scikit-learn compares (float32 rank, NaN = missing)."""
        return self.values[rows].astype(np.float32)

    def value_text(self, raw: Any) -> Value:
        """A threshold as a slice value."""
        if self.kind == "datetime":
            return _stamp(int(raw), self.tz).isoformat()
        if self.integer and float(raw).is_integer():
            return int(raw)
        return slice_value(raw)

    def cut(self, threshold: float) -> tuple[Any, Any]:
        """Largest value sent left (``rank <= threshold`` in float32) and smallest sent right."""
        left = np.arange(self.order.size).astype(np.float32) <= threshold
        n_left = int(left.sum())
        return self.order[n_left - 1], self.order[n_left]


def _stamp(ns: int, tz: Any) -> pd.Timestamp:
    """UTC nanoseconds as a Timestamp in the column's time zone."""
    stamp = pd.Timestamp(ns, unit="ns")
    return stamp.tz_localize("UTC").tz_convert(tz) if tz is not None else stamp


def _ranked(
    values: npt.NDArray[Any], missing: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any]]:
    """Rank of each present value among the distinct ones (NaN when missing), and those values."""
    order, inverse = np.unique(values[~missing], return_inverse=True)
    ranks = np.full(missing.shape, np.nan)
    ranks[~missing] = inverse
    return ranks, order


def _tree_columns(
    frame: pd.DataFrame, features: Sequence[str], max_categories: int
) -> tuple[list[_Column], list[str]]:
    """Tree columns for the features; unsupported ones skipped with a warning."""
    columns: list[_Column] = []
    skipped: list[str] = []
    for name in features:
        if name not in frame.columns:
            raise SchemaError(f"feature column {name!r} is not in the table", column=name)
        try:
            columns.append(_tree_column(frame[name], name, max_categories))
        except Unsupported as exc:
            warnings.warn(
                f"column {name!r} left out of the error tree: {exc}", UserWarning, stacklevel=3
            )
            skipped.append(name)
    return columns, skipped


def _tree_column(series: pd.Series, name: str, max_categories: int) -> _Column:
    """Numeric, datetime or categorical column (see the module docstring)."""
    types = pd.api.types
    dtype = series.dtype
    missing = series.isna().to_numpy()
    if types.is_datetime64_any_dtype(dtype):
        tz = getattr(series.dt, "tz", None)
        utc = series.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else series
        try:
            ns = utc.dt.as_unit("ns").to_numpy().view(np.int64)
        except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
            raise Unsupported(f"dates out of the nanosecond range ({exc})") from None
        ranks, order = _ranked(ns, missing)
        return _Column(name, "datetime", ranks, missing, order=order, tz=tz)
    numeric = types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype)
    if numeric and not types.is_complex_dtype(dtype):
        integer = types.is_integer_dtype(dtype)
        present = series[~missing].to_numpy(dtype=np.int64 if integer else np.float64)
        values = np.zeros(missing.shape, dtype=present.dtype)
        values[~missing] = present
        ranks, order = _ranked(values, missing)
        return _Column(name, "numeric", ranks, missing, order=order, integer=integer)
    if _is_categorical(dtype):
        codes, labels = categorical_codes(series)
        return _lumped(name, codes, labels, max_categories)
    raise Unsupported(f"dtype {dtype} has no slice predicates")


def _is_categorical(dtype: Any) -> bool:
    """Category, boolean, string or object dtype."""
    types = pd.api.types
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or types.is_bool_dtype(dtype)
        or types.is_object_dtype(dtype)
        or types.is_string_dtype(dtype)
    )


def _lumped(
    name: str, codes: npt.NDArray[np.int64], labels: list[Value], max_categories: int
) -> _Column:
    """Categorical column; beyond ``max_categories`` values the rare ones share a code."""
    missing = codes < 0
    if len(labels) <= max_categories:
        return _Column(name, "categorical", codes, missing, labels=tuple(labels))
    counts = np.bincount(codes[~missing], minlength=len(labels))
    top = np.sort(np.argsort(-counts, kind="stable")[: max_categories - 1])
    remap = np.full(len(labels) + 1, len(top), dtype=np.int64)
    remap[top] = np.arange(len(top))
    kept = tuple(labels[i] for i in top)
    return _Column(name, "categorical", remap[codes], missing, labels=kept, lumped=True)


# --------------------------------------------------------------------------- path conditions


@dataclass(frozen=True)
class _Constraint:
    """What a path requires of one column: a value range or set, or missingness."""

    missing: bool | None = None  # True: is missing; False: is not missing
    low: Any = None  # exclusive (``col > low``)
    high: Any = None  # inclusive (``col <= high``)
    codes: frozenset[int] | None = None  # allowed categorical codes

    def merge(self, other: _Constraint) -> _Constraint:
        """Both constraints at once."""
        low = (
            self.low
            if other.low is None
            else other.low
            if self.low is None
            else max(self.low, other.low)
        )
        high = (
            self.high
            if other.high is None
            else other.high
            if self.high is None
            else min(self.high, other.high)
        )
        codes = (
            self.codes
            if other.codes is None
            else other.codes
            if self.codes is None
            else self.codes & other.codes
        )
        missing = other.missing if other.missing is not None else self.missing
        return _Constraint(missing, low, high, codes)

    def predicates(self, column: _Column) -> tuple[Predicate, ...]:
        """The constraint as slice predicates (exact under the slice semantics)."""
        name = column.name
        if self.missing:
            return (Predicate(name, "is missing"),)
        preds: list[Predicate] = []
        if self.low is not None:
            preds.append(Predicate(name, ">", (column.value_text(self.low),)))
        if self.high is not None:
            preds.append(Predicate(name, "<=", (column.value_text(self.high),)))
        if self.codes is not None:
            preds.append(_set_predicate(column, self.codes))
        if not preds and self.missing is False:
            preds.append(Predicate(name, "is not missing"))
        return tuple(preds)


def _set_predicate(column: _Column, codes: frozenset[int]) -> Predicate:
    """``col in (...)`` or ``col not in (...)``, whichever is shorter and exact."""
    n_labels = len(column.labels)
    inside = sorted(c for c in codes if c < n_labels)
    outside = [c for c in range(n_labels) if c not in codes]
    lumped_in = column.lumped and n_labels in codes
    if lumped_in or (not column.lumped and len(outside) < len(inside)):
        if not outside:
            return Predicate(column.name, "is not missing")
        return Predicate(column.name, "not in", tuple(column.labels[c] for c in outside))
    return Predicate(column.name, "in", tuple(column.labels[c] for c in inside))


# --------------------------------------------------------------------------- growing


@dataclass(frozen=True)
class _Child:
    """A child produced by a split: its condition on the split column and its rows."""

    column: int
    constraint: _Constraint
    rows: IntArray


@dataclass
class _Grower:
    """Grows the tree node by node with depth-1 scikit-learn trees."""

    columns: list[_Column]
    y: npt.NDArray[np.float64]
    task: Literal["classification", "regression"]
    max_depth: int
    min_leaf: int
    random_state: int
    progress: Progress | None = None
    cancelled: Callable[[], bool] | None = None
    nodes: list[TreeNode] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    split_rows: int = 0  # rows of the nodes split so far

    def checkpoint(self, depth: int) -> None:
        """Stop here if the fit was cancelled; else report the share of rows split."""
        check_cancelled(self.cancelled)
        if self.progress is not None:
            work = max(self.max_depth * self.y.size, 1)
            self.progress(
                f"error tree: splitting nodes at depth {depth + 1} of {self.max_depth}",
                min(self.split_rows / work, 1.0),
            )

    def grow(self) -> tuple[list[TreeNode], list[IntArray]]:
        """All nodes, breadth first."""
        total = float(self.y.sum())
        queue: list[tuple[int | None, dict[int, _Constraint], tuple[Predicate, ...], IntArray]] = [
            (None, {}, (), np.arange(self.y.size, dtype=np.intp))
        ]
        while queue:
            parent, path, condition, rows = queue.pop(0)
            node_id = len(self.nodes)
            depth = 0 if parent is None else self.nodes[parent].depth + 1
            self.nodes.append(self._node(node_id, depth, parent, path, condition, rows, total))
            self.rows.append(rows)
            if parent is not None:
                siblings = (*self.nodes[parent].children, node_id)
                self.nodes[parent] = replace(self.nodes[parent], children=siblings)
            if depth < self.max_depth:
                self.checkpoint(depth)
                self.split_rows += int(rows.size)
                for child in self._split(rows):
                    merged = dict(path)
                    merged[child.column] = path.get(child.column, _Constraint()).merge(
                        child.constraint
                    )
                    added = child.constraint.predicates(self.columns[child.column])
                    queue.append((node_id, merged, added, child.rows))
        return self.nodes, self.rows

    def _node(
        self,
        node_id: int,
        depth: int,
        parent: int | None,
        path: dict[int, _Constraint],
        condition: tuple[Predicate, ...],
        rows: IntArray,
        total: float,
    ) -> TreeNode:
        """Statistics and slice of one node."""
        preds = tuple(p for j, c in sorted(path.items()) for p in c.predicates(self.columns[j]))
        error_sum = float(self.y[rows].sum())
        return TreeNode(
            id=node_id,
            depth=depth,
            parent=parent,
            children=(),
            slice=Slice(preds),
            condition=condition,
            size=int(rows.size),
            error_sum=error_sum,
            error_mean=error_sum / rows.size if rows.size else float("nan"),
            error_share=error_sum / total if total else 0.0,
        )

    def _split(self, rows: IntArray) -> list[_Child]:
        """Children of the best depth-1 split of these rows, or none."""
        y = self.y[rows]
        if rows.size < 2 * self.min_leaf or np.all(y == y[0]) or not self.columns:
            return []
        matrix, orders = self._design(rows, y)
        stump = self._stump().fit(matrix, y)
        tree = stump.tree_
        if tree.node_count < 3:
            return []
        j, threshold = int(tree.feature[0]), float(tree.threshold[0])
        x = matrix[:, j]
        if self.columns[j].kind == "categorical":
            return _categorical_children(j, rows, x, threshold, orders[j])
        return _numeric_children(j, self.columns[j], rows, x, threshold)

    def _design(
        self, rows: IntArray, y: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float32], list[Any]]:
        """Float32 feature matrix of the node (categoricals ranked by the node's mean error)."""
        matrix = np.empty((rows.size, len(self.columns)), dtype=np.float32)
        orders: list[Any] = []
        for j, column in enumerate(self.columns):
            if column.kind == "categorical":
                rank = _rank_by_error(column, rows, y)
                codes = column.values[rows]
                matrix[:, j] = np.where(column.missing[rows], np.nan, rank[np.maximum(codes, 0)])
                orders.append(rank)
            else:
                matrix[:, j] = column.as_float32(rows)
                orders.append(None)
        return matrix, orders

    def _stump(self) -> Any:
        """Depth-1 scikit-learn tree for the task."""
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        cls = DecisionTreeClassifier if self.task == "classification" else DecisionTreeRegressor
        return cls(max_depth=1, min_samples_leaf=self.min_leaf, random_state=self.random_state)


def _rank_by_error(
    column: _Column, rows: IntArray, y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rank of each code by the node's mean target (absent codes: NaN)."""
    present = ~column.missing[rows]
    codes = column.values[rows][present]
    size = len(column.labels) + 1
    counts = np.bincount(codes, minlength=size)
    sums = np.bincount(codes, weights=y[present], minlength=size)
    seen = np.flatnonzero(counts)
    order = seen[np.lexsort((seen, sums[seen] / counts[seen]))]
    rank = np.full(size, np.nan)
    rank[order] = np.arange(order.size)
    return rank


def _numeric_children(
    j: int, column: _Column, rows: IntArray, x: npt.NDArray[np.float32], threshold: float
) -> list[_Child]:
    """``<= t`` / ``> t`` (and ``is missing``), or ``is not missing`` / ``is missing``."""
    missing = np.isnan(x)
    left = ~missing & (x <= threshold)
    if math.isinf(threshold) or not left.any() or left.sum() == (~missing).sum():
        return _missing_children(j, rows, missing)
    t = _nice_cut(column, *column.cut(threshold))
    if t is None:  # only -inf on the left: no slice value for it
        return []
    children = [
        _Child(j, _Constraint(high=t), rows[left]),
        _Child(j, _Constraint(low=t), rows[~missing & ~left]),
    ]
    if missing.any():
        children.append(_Child(j, _Constraint(missing=True), rows[missing]))
    return children


def _nice_cut(column: _Column, low: Any, high: Any) -> Any:
    """A short value ``t`` with ``low <= t < high``: ``col <= t`` then splits like the tree.

    No value of the column lies strictly between ``low`` and ``high``, so any such
    ``t`` routes every row of the table the same way. ``None`` if ``low`` is -inf.
    """
    if column.kind == "datetime":
        return _nice_instant(int(low), int(high), column.tz)
    if not math.isfinite(low):
        return None
    for digits in range(-18, 18):
        if column.integer and digits > 0:
            break
        scale = 10.0**digits
        t = round(math.ceil(low * scale) / scale, max(digits, 0))
        if low <= t < high and math.isfinite(t):
            return int(t) if column.integer else float(t)
    return low


def _nice_instant(low: int, high: int, tz: Any) -> int:
    """The coarsest round instant (day, hour, minute, second) in ``[low, high)``, as ns."""
    stamp = _stamp(low, tz)
    for unit in ("D", "h", "min", "s"):
        try:
            t = int(stamp.ceil(unit).value)
        except (ValueError, OverflowError):  # DST gaps and repeats
            continue
        if low <= t < high:
            return t
    return low


def _categorical_children(
    j: int,
    rows: IntArray,
    x: npt.NDArray[np.float32],
    threshold: float,
    rank: npt.NDArray[np.float64],
) -> list[_Child]:
    """``in`` / ``not in`` the codes ranked at most ``threshold`` (and ``is missing``)."""
    missing = np.isnan(x)
    left = ~missing & (x <= threshold)
    if math.isinf(threshold) or not left.any() or left.sum() == (~missing).sum():
        return _missing_children(j, rows, missing)
    seen = ~np.isnan(rank)
    low = frozenset(np.flatnonzero(seen & (rank.astype(np.float32) <= threshold)).tolist())
    high = frozenset(np.flatnonzero(seen).tolist()) - low
    children = [
        _Child(j, _Constraint(codes=low), rows[left]),
        _Child(j, _Constraint(codes=high), rows[~missing & ~left]),
    ]
    if missing.any():
        children.append(_Child(j, _Constraint(missing=True), rows[missing]))
    return children


def _missing_children(j: int, rows: IntArray, missing: npt.NDArray[np.bool_]) -> list[_Child]:
    """``is not missing`` / ``is missing`` (no split if one side is empty)."""
    if missing.all() or not missing.any():
        return []
    return [
        _Child(j, _Constraint(missing=False), rows[~missing]),
        _Child(j, _Constraint(missing=True), rows[missing]),
    ]
