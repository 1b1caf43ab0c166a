"""SliceLine: exact top-K slice finding on integer-coded features.

A *slice* is a conjunction of predicates ``feature == code`` over distinct
features. :func:`find_slices` returns the ``k`` slices with the highest
SliceLine score (Sagadeeva & Boehm, *SliceLine: Fast, Linear-Algebra-based
Slice Finding for ML Model Debugging*, SIGMOD 2021)::

    sc(S) = alpha * ((se / |S|) / e_mean - 1) - (1 - alpha) * (n / |S| - 1)

where ``n`` is the number of rows, ``e_mean`` the mean error, ``|S|`` the slice
size and ``se`` the slice's error sum. Only slices with ``sc > 0`` and
``|S| >= min_support`` qualify.

How it works
------------
The lattice is enumerated level by level, as in the paper: level-L slices
extend surviving level-(L-1) slices, only along feature combinations whose
(L-1)-subsets all have survivors. Slices over one feature combination are
disjoint, so all children of the survivors of a combination ``F`` along a later
feature ``g`` are evaluated with ONE pass over the rows those survivors cover:
the int64 key ``parent_index * card(g) + code_g`` goes through ``np.bincount``
(sizes; error sums with ``weights=errors`` over the rows with a non-zero error
only; maxima with ``np.maximum.at``, or ``se > 0`` for 0/1 errors); when those
cells would not fit a dense count, through ``np.unique`` of the keys. No
``n x candidates`` matrix is ever built; the rows a level scans are those of the
surviving parents, so deep levels on big tables touch few rows. A child with a
pruned parent may be counted in that pass, but it never enters the top K nor
survives: its bound (below) is at most its pruned parent's, so the paper's
"all parents must survive" rule holds for every kept slice.

Counts from an engine
---------------------
:func:`find_slices_from_counts` runs the same lattice, bound, pruning and top K
on counts computed elsewhere (:mod:`mlqa_debug.engines.discover`: group-bys on
DuckDB or Spark): the single predicates' statistics, then per level one batch
of requests for the children of the surviving slices.

Pruning bound
-------------
A slice ``P`` with size ``s``, error sum ``e`` and largest error ``m`` bounds
every slice ``C`` below it (every conjunction that contains ``P``'s predicates):
``|C| <= s``, ``se(C) <= e`` and ``se(C) <= |C| * m``. The score grows with
``se`` at a fixed size, so ``sc(C) <= f(|C|)`` with
``f(x) = alpha * (min(x * m, e) / (x * e_mean) - 1) - (1 - alpha) * (n / x - 1)``.
``f`` is monotone on ``[lo, e / m]`` and on ``[e / m, s]`` (``lo =
max(min_support, 1)``), so its maximum over ``[lo, s]`` is at ``lo``,
``clip(e / m, lo, s)`` or ``s``; that maximum is the bound. A survivor whose
bound is below the current K-th best score ``tau`` (or not positive) is dropped
together with its whole sub-lattice: ``tau`` never decreases, so no descendant
can reach the final top K. Ties at ``tau`` are kept (a small relative slack
guards rounding), so every slice scoring exactly the K-th score is returned.

This is tighter than the ``sliceline`` package (0.3.0) in three ways, none of
which can drop a true top-K slice by the argument above:

* the package evaluates the size term with the number of one-hot columns
  instead of ``n`` (``(1 - alpha) * (n_col - x)``), a much looser bound (and no
  bound at all when there are more one-hot columns than rows);
* it bounds a candidate by the minimum of its parents' statistics; here each
  survivor is also bounded by its *own* (exact) statistics, which are smaller;
* it probes ``e / m`` without clipping to ``s``; here the probe is clipped.

Differences from the package's results
--------------------------------------
The result is the exact top K: every qualifying slice up to ``max_level``
whose score is at least the K-th best score (so ties at the K-th score can make
it longer than ``k``, as in the package). The package can return less in corner
cases: (a) while it holds fewer than ``k`` slices it prunes candidates whose
bound does not exceed the *lowest* score it holds; (b) it keeps a candidate
only if its bound is *strictly* above the K-th score, which can drop exact ties
when that bound is tight; (c) with more one-hot columns than rows its bound is
not a bound. Its loose bound makes (a) and (b) rare: the tests compare both on
many seeded inputs (and a brute-force enumeration) and find no difference. The
order is the package's too: score descending, ties by the one-hot encoded slice
vectors (see :func:`_tie_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.jobs import check_cancelled
from mlqa_debug.types import Progress

__all__ = [
    "Cells",
    "CountChildren",
    "Extension",
    "FoundSlice",
    "find_slices",
    "find_slices_from_counts",
    "resolve_min_support",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.integer]
FloatArray = npt.NDArray[np.float64]
Items = tuple[tuple[int, int], ...]

#: Largest number of bins evaluated with a dense ``np.bincount``.
_DENSE_BINS = 1 << 23
#: Relative slack on the pruning threshold, so rounding never drops a tie.
_SLACK = 1e-9


@dataclass(frozen=True)
class FoundSlice:
    """One slice found by :func:`find_slices`.

    ``items`` are ``(feature index, code)`` pairs sorted by feature; the slice is
    the conjunction ``codes[f] == c`` over them.
    """

    items: Items
    size: int
    error_sum: float
    error_max: float
    score: float

    @property
    def level(self) -> int:
        """Number of predicates."""
        return len(self.items)

    @property
    def error_mean(self) -> float:
        """Average error in the slice (the error rate for 0/1 errors)."""
        return self.error_sum / self.size


def find_slices(
    codes: Sequence[npt.ArrayLike] | npt.NDArray[np.integer] | pd.DataFrame,
    errors: npt.ArrayLike,
    *,
    cardinalities: Sequence[int] | None = None,
    alpha: float = 0.95,
    k: int = 10,
    max_level: int = 2,
    min_support: int | float = 0.01,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[FoundSlice]:
    """Find the top-``k`` slices by SliceLine score, exactly.

    Parameters
    ----------
    codes:
        One integer array per feature (codes ``0 .. cardinality - 1``), or a 2-D
        array or DataFrame of shape ``(n_samples, n_features)``.
    errors:
        Per-row error, ``>= 0`` (0/1 for classification, a residual otherwise).
    cardinalities:
        Number of codes per feature; defaults to ``max(code) + 1``.
    alpha:
        Weight of the error term against the size term, ``0 < alpha <= 1``.
    k:
        Number of slices; all slices tied with the K-th score are returned too.
    max_level:
        Largest number of predicates in a slice.
    min_support:
        Smallest slice size: a fraction of the rows if a float below 1
        (``int(min_support * n)``, as the ``sliceline`` package does), else a count.
    progress:
        Called with the level, the feature combinations evaluated of that level's
        and the candidate slices scored so far, and that level's share done.
    cancelled:
        Read between levels and between feature combinations; once true, the search
        raises :class:`~mlqa_debug.errors.Cancelled`. Neither changes the result.

    Returns
    -------
    list[FoundSlice]
        Best first: score descending, ties in the ``sliceline`` package's order.
        Empty when no slice has a positive score (e.g. no errors at all).
    """
    _check_options(alpha, k, max_level)
    columns, cards = _as_columns(codes, cardinalities)
    error_array = _as_errors(errors, columns)
    n = error_array.shape[0]
    total = float(np.mean(error_array)) if n else 0.0
    if n == 0 or not columns or total <= 0.0:
        return []
    ctx = _Context(
        n=n,
        mean_error=total,
        alpha=float(alpha),
        k=int(k),
        min_support=resolve_min_support(min_support, n),
        errors=error_array,
        error_rows=np.flatnonzero(error_array > 0).astype(_row_dtype(n)),
        binary=bool(np.all((error_array == 0.0) | (error_array == 1.0))),
        max_level=int(max_level),
        progress=progress,
        cancelled=cancelled,
    )
    ctx.checkpoint(1, 0, len(columns))
    groups = _level_one(columns, cards, ctx, keep_groups=max_level > 1)
    for level in range(2, max_level + 1):
        if not groups:
            break
        groups = _next_level(groups, ctx, level=level, keep_groups=level < max_level)
        logger.debug("level %d: top-K threshold %.6g, %d groups", level, ctx.top.tau, len(groups))
    return ctx.top.results()


@dataclass(frozen=True)
class Cells:
    """Statistics of the non-empty slices over one feature combination.

    ``items[i]`` holds slice ``i``'s codes, one column per feature of the
    combination (in its order); the other arrays hold one value per slice.
    """

    items: IntArray
    size: IntArray
    error_sum: FloatArray
    error_max: FloatArray


Extension = tuple[tuple[int, ...], IntArray, int]
"""A request for children: parent combination, its surviving slices' codes, the new feature."""

CountChildren = Callable[[Sequence[Extension]], Sequence[Cells]]
"""Counts every non-empty child ``parent and g == v`` of each request's listed parents.

Returns one :class:`Cells` per request (columns: the parent's features, then ``g``);
cells whose parent is not listed may be left out or not, they are dropped.
"""


def find_slices_from_counts(
    level_one: Sequence[Cells],
    count_children: CountChildren,
    *,
    n_rows: int,
    mean_error: float,
    binary: bool,
    alpha: float = 0.95,
    k: int = 10,
    max_level: int = 2,
    min_support: int | float = 0.01,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[FoundSlice]:
    """:func:`find_slices` on counts computed elsewhere (a DuckDB or Spark group-by).

    ``level_one[f]`` holds the single predicates of feature ``f``; each level's
    children are asked of ``count_children`` in one batch (so an engine can count
    them in few passes), for the slices that survive the pruning of the levels
    before. Lattice, bound, pruning and top K are :func:`find_slices`'s, so on the
    same counts the result is the same: the exact top K in the same order.
    ``binary`` says the errors are 0/1 (then ``error_max`` is 1 wherever there is an
    error). ``progress`` and ``cancelled`` work as in :func:`find_slices`.
    """
    _check_options(alpha, k, max_level)
    if n_rows == 0 or not level_one or mean_error <= 0.0:
        return []
    empty = np.zeros(0, dtype=np.int64)
    ctx = _Context(
        n=n_rows,
        mean_error=float(mean_error),
        alpha=float(alpha),
        k=int(k),
        min_support=resolve_min_support(min_support, n_rows),
        errors=np.zeros(0),
        error_rows=empty,
        binary=binary,
        max_level=int(max_level),
        progress=progress,
        cancelled=cancelled,
    )
    ctx.checkpoint(1, 0, len(level_one))
    groups: dict[tuple[int, ...], Cells] = {}
    for f, cells in enumerate(level_one):
        groups |= _score_cells(ctx, (f,), cells, keep=max_level > 1)
    ctx.checkpoint(1, len(level_one), len(level_one))
    for level in range(2, max_level + 1):
        tasks = [(feats, g) for _, feats, g in _tasks(groups, ctx, len(level_one))]
        if not tasks:
            break
        requests: list[Extension] = []
        for feats, g in tasks:
            parent = groups[feats]
            alive = _survives(ctx, parent.size, parent.error_sum, parent.error_max)
            if alive.any():  # tau may have overtaken a group since it was kept
                requests.append((feats, parent.items[alive], g))
        ctx.checkpoint(level, 0, len(tasks))
        counted = count_children(requests)
        new_groups: dict[tuple[int, ...], Cells] = {}
        for (feats, parents, g), cells in zip(requests, counted, strict=True):
            known = _rows_of(cells.items[:, :-1], parents)
            sums, maxima = cells.error_sum[known], cells.error_max[known]
            kept = Cells(cells.items[known], cells.size[known], sums, maxima)
            new_groups |= _score_cells(ctx, (*feats, g), kept, keep=level < max_level)
        ctx.checkpoint(level, len(tasks), len(tasks))
        groups = new_groups
    return ctx.top.results()


def _score_cells(
    ctx: _Context, feats: tuple[int, ...], cells: Cells, *, keep: bool
) -> dict[tuple[int, ...], Cells]:
    """Offer the cells to the top K; the survivors as a group (if ``keep`` and any)."""
    size, sums, maxima = cells.size, cells.error_sum, cells.error_max

    def items_of(i: int) -> Items:
        return tuple((f, int(c)) for f, c in zip(feats, cells.items[i].tolist(), strict=True))

    ctx.top.add(_qualifying(ctx, size, sums, maxima, items_of))
    ctx.scored += int(size.size)
    if not keep:
        return {}
    alive = _survives(ctx, size, sums, maxima)
    if not alive.any():
        return {}
    return {feats: Cells(cells.items[alive], size[alive], sums[alive], maxima[alive])}


def _rows_of(items: IntArray, parents: IntArray) -> npt.NDArray[np.bool_]:
    """Which rows of ``items`` are rows of ``parents`` (both 2-D code arrays)."""
    if items.shape[0] == 0 or parents.shape[0] == 0:
        return np.zeros(items.shape[0], dtype=bool)
    both = np.ascontiguousarray(np.vstack([parents, items]).astype(np.int64))
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return np.isin(inverse[parents.shape[0] :], inverse[: parents.shape[0]])


def resolve_min_support(min_support: int | float, n: int) -> int:
    """Minimum slice size in rows: ``int(min_support * n)`` for a fraction, else the count."""
    if isinstance(min_support, bool) or not isinstance(min_support, int | float):
        raise TypeError(f"min_support must be an int or a float, got {min_support!r}")
    if not np.isfinite(min_support) or min_support < 0:
        raise ValueError(
            f"min_support must be a count >= 0 or a fraction in [0, 1), got {min_support}"
        )
    if isinstance(min_support, float) and min_support < 1:
        return int(min_support * n)
    return int(np.ceil(min_support))


# --------------------------------------------------------------------------- input


def _check_options(alpha: float, k: int, max_level: int) -> None:
    """Reject options outside their domain."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if max_level < 1:
        raise ValueError(f"max_level must be >= 1, got {max_level}")


def _as_columns(
    codes: Sequence[npt.ArrayLike] | npt.NDArray[np.integer] | pd.DataFrame,
    cardinalities: Sequence[int] | None,
) -> tuple[list[IntArray], list[int]]:
    """Validate the codes; return one 1-D integer array per feature and the cardinalities.

    A 2-D array (or DataFrame) is ``(n_samples, n_features)``; a list holds one
    array per feature.
    """
    if isinstance(codes, pd.DataFrame):
        raw = [codes[c].to_numpy() for c in codes.columns]
    elif isinstance(codes, np.ndarray) and codes.ndim == 2:
        by_feature = np.ascontiguousarray(codes.T)  # one copy; strided columns are slow
        raw = list(by_feature)
    else:
        raw = [np.asarray(c) for c in codes]
    columns: list[IntArray] = []
    for j, col in enumerate(raw):
        if col.ndim != 1 or (col.size and not np.issubdtype(col.dtype, np.integer)):
            raise ValueError(f"codes of feature {j} must be a 1-D integer array, got {col.dtype}")
        unsafe = col.dtype.kind == "u" and col.dtype.itemsize == 8  # no safe cast to intp
        columns.append(col.astype(np.int64) if unsafe or not col.size else col)
    if len({c.shape[0] for c in columns}) > 1:
        raise ValueError(
            f"all code arrays must have the same length, got {[len(c) for c in columns]}"
        )
    cards = _cardinalities(columns, cardinalities)
    return columns, cards


def _cardinalities(columns: list[IntArray], given: Sequence[int] | None) -> list[int]:
    """Check codes against ``0 .. cardinality - 1``."""
    observed = [int(c.max()) + 1 if c.size else 0 for c in columns]
    if given is None:
        cards = observed
    elif len(given) != len(columns):
        raise ValueError(f"expected {len(columns)} cardinalities, got {len(given)}")
    else:
        cards = [int(g) for g in given]
    for j, col in enumerate(columns):
        if col.size and (int(col.min()) < 0 or observed[j] > cards[j]):
            raise ValueError(
                f"codes of feature {j} must lie in 0..{cards[j] - 1}, "
                f"got {int(col.min())}..{observed[j] - 1}"
            )
    return cards


def _as_errors(errors: npt.ArrayLike, columns: list[IntArray]) -> FloatArray:
    """Validate the error vector: finite, non-negative, one per row."""
    array = np.asarray(errors, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"errors must be 1-D, got shape {array.shape}")
    if columns and array.shape[0] != columns[0].shape[0]:
        raise ValueError(f"errors has {array.shape[0]} rows, codes have {columns[0].shape[0]}")
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        raise ValueError(
            f"errors must be finite and >= 0; rows {bad[:5].tolist()} are {array[bad[:5]].tolist()}"
        )
    return array


def _row_dtype(n: int) -> type[np.signedinteger]:
    """Smallest index dtype for row numbers."""
    return np.int32 if n < 2**31 - 1 else np.int64


# --------------------------------------------------------------------------- scoring


@dataclass
class _TopK:
    """The best slices so far: every qualifying slice scoring >= the K-th best."""

    k: int
    scores: list[float] = field(default_factory=list)
    entries: list[FoundSlice] = field(default_factory=list)
    tau: float = -np.inf

    def add(self, found: Iterator[FoundSlice]) -> None:
        """Merge new qualifying slices, keep the ties at the K-th score, update ``tau``."""
        for item in found:
            if item.score >= self.tau:
                self.entries.append(item)
        if len(self.entries) >= self.k:
            scores = np.array([e.score for e in self.entries])
            kth = float(-np.partition(-scores, self.k - 1)[self.k - 1])
            self.entries = [e for e in self.entries if e.score >= kth]
            self.tau = kth

    def threshold(self) -> float:
        """Score a bound must reach for its slice (or sub-lattice) to matter."""
        base = max(self.tau, 0.0)
        return base - _SLACK * max(1.0, base)

    def results(self) -> list[FoundSlice]:
        """Best first, ties in the ``sliceline`` package's order."""
        return sorted(self.entries, key=_tie_key)


def _tie_key(found: FoundSlice) -> tuple[float, tuple[tuple[int, int], ...]]:
    """Sort key: score descending, then the package's order of one-hot slice vectors.

    The package sorts tied slices by their one-hot vectors (columns ordered by
    feature, then code; ``0 < 1``), first column most significant. The slice that
    holds the smallest item in the symmetric difference sorts *later*, which is
    lexicographic order on the items negated.
    """
    return (-found.score, tuple((-f, -c) for f, c in found.items))


@dataclass
class _Context:
    """Data and options shared by every level of one search."""

    n: int
    mean_error: float
    alpha: float
    k: int
    min_support: int
    errors: FloatArray
    error_rows: IntArray
    binary: bool
    max_level: int = 1
    progress: Progress | None = None
    cancelled: Callable[[], bool] | None = None
    codes: list[IntArray] = field(default_factory=list)
    original: list[IntArray] = field(default_factory=list)
    top: _TopK = field(init=False)
    scored: int = 0  # candidate slices scored so far

    def __post_init__(self) -> None:
        self.top = _TopK(self.k)

    def checkpoint(self, level: int, done: int, total: int) -> None:
        """Stop here if the search was cancelled; else report the level's progress."""
        check_cancelled(self.cancelled)
        if self.progress is not None:
            what = "features" if level == 1 else "feature combinations"
            self.progress(
                f"level {level} of {self.max_level}: {done:,} of {total:,} {what}, "
                f"{self.scored:,} candidate slices scored",
                done / total if total else 1.0,
            )

    def score(self, sizes: npt.ArrayLike, sums: npt.ArrayLike) -> FloatArray:
        """SliceLine score, with the same operation order as the ``sliceline`` package."""
        size = np.asarray(sizes, dtype=np.float64)
        error = np.asarray(sums, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = self.alpha * ((error / size) / self.mean_error - 1) - (1 - self.alpha) * (
                self.n / size - 1
            )
        return np.where(size > 0, sc, -np.inf)

    def bound(self, sizes: npt.ArrayLike, sums: FloatArray, maxima: FloatArray) -> FloatArray:
        """Largest score any slice below one with these statistics can reach (module doc)."""
        size = np.asarray(sizes, dtype=np.float64)
        low = float(max(self.min_support, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            knee = np.clip(np.where(maxima > 0, sums / maxima, low), low, np.maximum(size, low))
        best = np.full(size.shape, -np.inf)
        for x in (np.full(size.shape, low), knee, size):
            with np.errstate(divide="ignore", invalid="ignore"):
                error = np.minimum(x * maxima, sums)
                value = self.alpha * (error / x / self.mean_error - 1) - (1 - self.alpha) * (
                    self.n / x - 1
                )
            best = np.fmax(best, np.where((x >= low) & (x <= size), value, -np.inf))
        return best


# --------------------------------------------------------------------------- lattice


@dataclass
class _Group:
    """Surviving slices over one feature combination, with the rows they cover.

    Slices of one combination are disjoint, so ``pid`` (parent index per row)
    is well defined. ``rows is None`` means every row, with ``pid`` possibly
    holding the sentinel ``len(items)`` for rows outside every survivor.
    """

    features: tuple[int, ...]
    items: IntArray  # (n_slices, len(features)) compact codes
    size: IntArray
    error_sum: FloatArray
    error_max: FloatArray
    rows: IntArray | None
    pid: IntArray
    error_rows: IntArray
    error_pid: IntArray

    @property
    def n_slices(self) -> int:
        """Number of surviving slices."""
        return int(self.items.shape[0])


def _level_one(
    columns: list[IntArray], cards: list[int], ctx: _Context, *, keep_groups: bool
) -> dict[tuple[int, ...], _Group]:
    """Score all single predicates; compact each feature's codes to its survivors."""
    stats = [_single_stats(col, card, ctx) for col, card in zip(columns, cards, strict=True)]
    for f, (size, sums, maxima) in enumerate(stats):
        ctx.top.add(_qualifying(ctx, size, sums, maxima, _single_items(f)))
        ctx.scored += int(size.size)
    ctx.checkpoint(1, len(columns), len(columns))
    groups: dict[tuple[int, ...], _Group] = {}
    for f, (size, sums, maxima) in enumerate(stats):
        alive = _survives(ctx, size, sums, maxima)
        ctx.original.append(np.flatnonzero(alive))
        n_alive = int(ctx.original[f].size)
        compact = np.full(cards[f] + 1, n_alive, dtype=np.int16 if n_alive < 2**15 else np.int32)
        compact[ctx.original[f]] = np.arange(n_alive)
        ctx.codes.append(
            np.take(compact, columns[f]) if keep_groups and alive.any() else columns[f]
        )
        if keep_groups and alive.any():
            groups[(f,)] = _single_group(f, ctx, size[alive], sums[alive], maxima[alive])
    return groups


def _single_items(f: int) -> Callable[[int], Items]:
    """Items of the single predicate ``feature f == code``."""

    def items_of(code: int) -> Items:
        return ((f, int(code)),)

    return items_of


def _single_stats(
    col: IntArray, card: int, ctx: _Context
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Size, error sum and largest error of every code of one feature."""
    size = np.bincount(col, minlength=card)
    err_codes = col[ctx.error_rows]
    sums, maxima = _error_stats(err_codes, ctx, card)
    return size, sums, maxima


def _error_stats(
    keys: IntArray, ctx: _Context, length: int, rows: IntArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """Error sums and maxima per key over the error rows (``rows``: their row numbers)."""
    rows = ctx.error_rows if rows is None else rows
    if ctx.binary:
        counts = np.bincount(keys, minlength=length).astype(np.float64)
        return counts, (counts > 0).astype(np.float64)
    values = ctx.errors[rows]
    sums = np.bincount(keys, weights=values, minlength=length).astype(np.float64, copy=False)
    maxima = np.zeros(length)
    np.maximum.at(maxima, keys, values)
    return sums, maxima


def _single_group(
    f: int, ctx: _Context, size: IntArray, sums: FloatArray, maxima: FloatArray
) -> _Group:
    """Group of the surviving single predicates of feature ``f`` (rows: all)."""
    pid = ctx.codes[f]
    return _Group(
        features=(f,),
        items=np.arange(size.size, dtype=np.int64)[:, None],
        size=size,
        error_sum=sums,
        error_max=maxima,
        rows=None,
        pid=pid,
        error_rows=ctx.error_rows,
        error_pid=pid[ctx.error_rows],
    )


def _qualifying(
    ctx: _Context,
    size: IntArray,
    sums: FloatArray,
    maxima: FloatArray,
    items_of: Callable[[int], Items],
) -> Iterator[FoundSlice]:
    """Slices that enter the top K: size >= min support, score > 0 and >= tau."""
    scores = ctx.score(size, sums)
    ok = (size >= ctx.min_support) & (scores > 0) & (scores >= ctx.top.tau)
    if np.count_nonzero(ok) > ctx.k:  # only this batch's own top K (and ties) can matter
        kth = -np.partition(-scores[ok], ctx.k - 1)[ctx.k - 1]
        ok &= scores >= kth
    for i in np.flatnonzero(ok):
        yield FoundSlice(
            items=items_of(int(i)),
            size=int(size[i]),
            error_sum=float(sums[i]),
            error_max=float(maxima[i]),
            score=float(scores[i]),
        )


def _survives(
    ctx: _Context, size: IntArray, sums: FloatArray, maxima: FloatArray
) -> npt.NDArray[np.bool_]:
    """Slices whose sub-lattice can still hold a top-K slice."""
    valid = (size >= max(ctx.min_support, 1)) & (sums > 0)
    return valid & (ctx.bound(size, sums, maxima) >= ctx.top.threshold())


def _next_level(
    groups: dict[tuple[int, ...], _Group], ctx: _Context, *, level: int, keep_groups: bool
) -> dict[tuple[int, ...], _Group]:
    """Evaluate every child of the surviving slices along each later feature."""
    tasks = _tasks(groups, ctx, len(ctx.codes))
    new_groups: dict[tuple[int, ...], _Group] = {}
    for done, (_, feats, g) in enumerate(tasks):
        ctx.checkpoint(level, done, len(tasks))
        refreshed = _refresh(groups[feats], ctx)
        if refreshed is None:
            continue
        groups[feats] = refreshed
        child = _extend(refreshed, g, ctx, keep_group=keep_groups)
        if child is not None:
            new_groups[(*feats, g)] = child
    ctx.checkpoint(level, len(tasks), len(tasks))
    return new_groups


def _tasks(
    groups: Mapping[tuple[int, ...], _Group | Cells], ctx: _Context, n_features: int
) -> list[tuple[float, tuple[int, ...], int]]:
    """``(best bound, combination, later feature)`` of every child combination, best first.

    A child combination is evaluated only if all its parent combinations have survivors.
    """
    tasks: list[tuple[float, tuple[int, ...], int]] = []
    for feats, group in groups.items():
        best = float(ctx.bound(group.size, group.error_sum, group.error_max).max())
        for g in range(feats[-1] + 1, n_features):
            parents = [(*(h for h in feats if h != dropped), g) for dropped in feats]
            if all(p in groups for p in parents):
                tasks.append((best, feats, g))
    tasks.sort(key=lambda t: -t[0])  # promising first: tau rises sooner
    return tasks


def _refresh(group: _Group, ctx: _Context) -> _Group | None:
    """Drop the slices of a group that ``tau`` has overtaken since it was built."""
    alive = _survives(ctx, group.size, group.error_sum, group.error_max)
    if alive.all():
        return group
    if not alive.any():
        return None
    remap = np.full(group.n_slices + 1, -1, dtype=np.int32)
    remap[np.flatnonzero(alive)] = np.arange(int(alive.sum()), dtype=np.int32)
    rows, pid = _select_rows(group.rows, remap[group.pid])
    error_rows, error_pid = _select_rows(group.error_rows, remap[group.error_pid])
    return _Group(
        features=group.features,
        items=group.items[alive],
        size=group.size[alive],
        error_sum=group.error_sum[alive],
        error_max=group.error_max[alive],
        rows=rows,
        pid=pid,
        error_rows=error_rows,
        error_pid=error_pid,
    )


def _select_rows(rows: IntArray | None, new_pid: IntArray) -> tuple[IntArray, IntArray]:
    """Keep the rows whose new parent index is not ``-1``."""
    keep = new_pid >= 0
    positions = np.flatnonzero(keep)
    kept_rows = positions.astype(_row_dtype(new_pid.size)) if rows is None else rows[keep]
    return kept_rows, new_pid[keep]


def _extend(group: _Group, g: int, ctx: _Context, *, keep_group: bool) -> _Group | None:
    """Evaluate all children ``parent and g == v`` of a group with one pass over its rows."""
    code_g = ctx.codes[g]
    stride = int(ctx.original[g].size) + 1  # compact codes of g plus the sentinel
    keys = _keys(group.pid, code_g if group.rows is None else code_g[group.rows], stride)
    error_keys = _keys(group.error_pid, code_g[group.error_rows], stride)
    cells = _Cells.count(keys, error_keys, (group.n_slices + 1) * stride, group, ctx)
    parent, value = np.divmod(cells.cells, stride)
    real = (parent < group.n_slices) & (value < stride - 1)
    parent, value = parent[real], value[real]
    size, sums, maxima = cells.size[real], cells.sums[real], cells.maxima[real]
    ctx.scored += int(size.size)
    feats = (*group.features, g)

    def items_of(i: int) -> Items:
        codes = (*group.items[parent[i]].tolist(), int(value[i]))
        return tuple((f, int(ctx.original[f][c])) for f, c in zip(feats, codes, strict=True))

    ctx.top.add(_qualifying(ctx, size, sums, maxima, items_of))
    if not keep_group:
        return None
    alive = _survives(ctx, size, sums, maxima)
    if not alive.any():
        return None
    # non-empty cell -> index of the surviving child, or -1
    remap = np.full(cells.cells.size, -1, dtype=np.int32)
    remap[np.flatnonzero(real)[alive]] = np.arange(int(alive.sum()), dtype=np.int32)
    rows, pid = _select_rows(group.rows, remap[cells.index(keys)])
    error_rows, error_pid = _select_rows(group.error_rows, remap[cells.index(error_keys)])
    items = np.column_stack([group.items[parent[alive]], value[alive]])
    return _Group(
        feats, items, size[alive], sums[alive], maxima[alive], rows, pid, error_rows, error_pid
    )


def _keys(pid: IntArray, code: IntArray, stride: int) -> IntArray:
    """Cell of each row: ``parent_index * stride + code``, as int64."""
    keys = pid.astype(np.int64)
    keys *= stride
    keys += code
    return keys


@dataclass
class _Cells:
    """Statistics of the non-empty cells of one pass, and the way back from keys to cells."""

    cells: IntArray
    size: IntArray
    sums: FloatArray
    maxima: FloatArray
    dense_length: int | None  # number of cells counted densely, None for the unique path

    @classmethod
    def count(
        cls, keys: IntArray, error_keys: IntArray, length: int, group: _Group, ctx: _Context
    ) -> _Cells:
        """Dense ``np.bincount`` over all cells when they fit, else over the unique keys."""
        if length <= min(_DENSE_BINS, 16 * keys.size + (1 << 16)):
            counts = np.bincount(keys, minlength=length)
            sums, maxima = _error_stats(error_keys, ctx, length, group.error_rows)
            cells = np.flatnonzero(counts)
            return cls(cells, counts[cells], sums[cells], maxima[cells], length)
        cells, counts = np.unique(keys, return_counts=True)
        sums, maxima = _error_stats(
            np.searchsorted(cells, error_keys), ctx, cells.size, group.error_rows
        )
        return cls(cells, counts, sums, maxima, None)

    def index(self, keys: IntArray) -> IntArray:
        """Position in ``cells`` of each key (every key is a non-empty cell)."""
        if self.dense_length is None:
            return np.searchsorted(self.cells, keys)
        lookup = np.zeros(self.dense_length, dtype=np.int64)
        lookup[self.cells] = np.arange(self.cells.size)
        return lookup[keys]
