"""Integer codes for slice discovery, and the way back from codes to slices.

:func:`encode_features` codes every feature column once, so that the search in
:mod:`mlqa_debug.analyses.discovery.sliceline` works on small integers, and every code
stands for an exact conjunction of predicates on the original column. The rule:

* **categorical** columns (pandas ``category`` dtype through ``.cat.codes``;
  ``object``/string and boolean columns; numeric columns with at most
  ``n_bins`` distinct finite values) get one code per value, predicate
  ``col == value``. Beyond ``max_categories`` values the ``max_categories - 1``
  most frequent keep their own code and the rest share one, ``col not in
  (the kept values)``.
* **numeric** columns get quantile bins: the edges are the ``1/n_bins ..
  (n_bins-1)/n_bins`` quantiles of the finite values, rounded to 3 significant
  digits (more if rounding would merge edges; whole numbers for integer
  columns), deduplicated, and those not strictly inside ``(min, max]`` dropped.
  Bin ``i`` is ``edge[i-1] <= col < edge[i]``: the first bin is only
  ``col < edge[0]``, the last only ``col >= edge[-1]`` (infinities fall there).
* **datetime** columns are binned the same way, edges rounded to the day (to
  the second for spans under two days) and written as ISO strings.
* a missing value (NaN, None, ``pd.NA``, NaT) gets its own code, ``col is
  missing``; under the slice semantics no other predicate matches it, so the
  codes of one column partition the rows exactly like their predicates do.

Columns whose values a slice cannot name (timedeltas, complex numbers, objects
that are not str/int/float/bool) are skipped with a ``UserWarning`` and listed
in :attr:`Encoding.skipped`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing.model import Predicate, Slice
from mlqa_debug.slicing.terms import Value

__all__ = [
    "EncodedFeature",
    "Encoding",
    "FeatureKind",
    "Unsupported",
    "encode_features",
    "feature_kind",
    "slice_value",
]

FeatureKind = Literal["categorical", "numeric", "datetime"]
_DAY_NS = 86_400 * 10**9


class Unsupported(Exception):
    """A column or value that no slice predicate can express; ``args[0]`` says why."""


@dataclass(frozen=True, eq=False)
class EncodedFeature:
    """One coded column: ``codes[i]`` is row ``i``'s code, ``predicates[c]`` what ``c`` means."""

    column: str
    kind: FeatureKind
    codes: npt.NDArray[np.integer]
    predicates: tuple[tuple[Predicate, ...], ...]

    @property
    def cardinality(self) -> int:
        """Number of codes (``codes`` lie in ``0 .. cardinality - 1``)."""
        return len(self.predicates)

    def label(self, code: int) -> str:
        """Readable text of one code, e.g. ``age < 45 and age >= 30``."""
        return Slice(self.predicates[code]).text


@dataclass(frozen=True, eq=False)
class Encoding:
    """Coded features, in the order of :attr:`columns`; ``skipped`` lists columns left out."""

    features: tuple[EncodedFeature, ...]
    skipped: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the coded columns (feature index ``j`` is ``columns[j]``)."""
        return tuple(f.column for f in self.features)

    @property
    def codes(self) -> list[npt.NDArray[np.integer]]:
        """One code array per feature, as ``find_slices`` takes them."""
        return [f.codes for f in self.features]

    @property
    def cardinalities(self) -> list[int]:
        """Number of codes per feature."""
        return [f.cardinality for f in self.features]

    def predicates(self, feature: int, code: int) -> tuple[Predicate, ...]:
        """The predicates (one or two) that code ``code`` of feature ``feature`` stands for."""
        return self.features[feature].predicates[code]

    def to_slice(self, items: Iterable[tuple[int, int]]) -> Slice:
        """The slice of a conjunction of ``(feature index, code)`` items."""
        return Slice(tuple(p for f, c in items for p in self.predicates(f, c)))

    def code_mask(self, items: Iterable[tuple[int, int]]) -> npt.NDArray[np.bool_]:
        """Rows whose codes match every item (equals ``to_slice(items).mask(frame)``)."""
        n = self.features[0].codes.shape[0] if self.features else 0
        out = np.ones(n, dtype=bool)
        for f, c in items:
            out &= self.features[f].codes == c
        return out


def encode_features(
    frame: pd.DataFrame,
    features: Sequence[str],
    *,
    n_bins: int = 5,
    max_categories: int = 30,
) -> Encoding:
    """Code each feature column once (rules in the module docstring).

    Raises :class:`~mlqa_debug.errors.SchemaError` for a feature that is not a
    column of ``frame``; warns and skips columns no slice can express.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if max_categories < 2:
        raise ValueError(f"max_categories must be >= 2, got {max_categories}")
    for column in features:
        _column(frame, column)  # a missing column is an error before any work starts

    def encode(column: str) -> EncodedFeature | Unsupported:
        try:
            return _encode(frame[column], column, n_bins, max_categories)
        except Unsupported as exc:
            return exc

    workers = _THREADS if len(frame) * len(features) >= _THREADED_CELLS else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:  # NumPy lets go of the GIL
        results = list(pool.map(encode, features))
    encoded: list[EncodedFeature] = []
    skipped: list[str] = []
    for column, result in zip(features, results, strict=True):
        if isinstance(result, Unsupported):
            warnings.warn(
                f"column {column!r} left out of slice discovery: {result}",
                UserWarning,
                stacklevel=2,
            )
            skipped.append(column)
        else:
            encoded.append(result)
    return Encoding(tuple(encoded), tuple(skipped))


_THREADS = min(4, os.cpu_count() or 1)
_THREADED_CELLS = 2_000_000  # below this many values, threads cost more than they save


_KIND_PREFIX = 10_000  # rows feature_kind reads before deciding a column is numeric


def feature_kind(series: pd.Series, *, n_bins: int = 5) -> FeatureKind:
    """How :func:`encode_features` treats a column; raises :class:`Unsupported`."""
    dtype = series.dtype
    types = pd.api.types
    if isinstance(dtype, pd.CategoricalDtype) or types.is_bool_dtype(dtype):
        return "categorical"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_timedelta64_dtype(dtype) or types.is_complex_dtype(dtype):
        raise Unsupported(f"dtype {dtype} has no slice predicates")
    if types.is_numeric_dtype(dtype):
        # More than n_bins distinct values in a prefix settles it without a pass
        # over a million rows; only columns that look categorical there are read whole.
        head = series.iloc[:_KIND_PREFIX].to_numpy(dtype=np.float64, na_value=np.nan)
        if len(pd.unique(head[~np.isnan(head)])) > n_bins:
            return "numeric"
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        few = pd.unique(values[~np.isnan(values)])
        return "categorical" if len(few) <= n_bins and np.isfinite(few).all() else "numeric"
    if types.is_string_dtype(dtype) or types.is_object_dtype(dtype):
        return "categorical"
    raise Unsupported(f"dtype {dtype} has no slice predicates")


def slice_value(value: Any) -> Value:
    """A category value as a slice value (str/int/float/bool, ISO text for timestamps)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise Unsupported(f"value {value!r} is not finite")
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp | np.datetime64):
        return _iso(pd.Timestamp(value))
    raise Unsupported(f"values of type {type(value).__name__} cannot appear in a slice")


# --------------------------------------------------------------------------- per kind


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column, or a SchemaError naming it."""
    if column not in frame.columns:
        shown = ", ".join(repr(str(c)) for c in list(frame.columns)[:10])
        raise SchemaError(
            f"feature column {column!r} is not in the table (columns: {shown})",
            column=column,
            expected="a column of the table",
            received=column,
        )
    selected = frame[column]
    if isinstance(selected, pd.DataFrame):
        raise SchemaError(
            f"feature column {column!r} is ambiguous: the name is repeated", column=column
        )
    return selected


def _encode(series: pd.Series, column: str, n_bins: int, max_categories: int) -> EncodedFeature:
    """Dispatch on the column's kind."""
    kind = feature_kind(series, n_bins=n_bins)
    if kind == "categorical":
        codes, labels = categorical_codes(series)
        return _categorical(column, codes, labels, max_categories)
    if kind == "datetime":
        ns, missing = _datetime_ns(series)
        stamps = _datetime_edges(ns[~missing], n_bins, getattr(series.dt, "tz", None))
        iso: list[Value] = [_iso(_stamp(e, series)) for e in stamps]
        return _binned(column, "datetime", ns, missing, stamps, iso)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    integer = pd.api.types.is_integer_dtype(series.dtype)
    edges = _numeric_edges(values[~missing & np.isfinite(values)], n_bins, integer=integer)
    bounds: list[Value] = [int(e) if integer else float(e) for e in edges]
    return _binned(column, "numeric", values, missing, edges, bounds)


def categorical_codes(series: pd.Series) -> tuple[npt.NDArray[np.int64], list[Value]]:
    """Codes ``0 .. len(values) - 1`` per row (-1 = missing) and the slice value of each code.

    Category columns use ``.cat.codes``; other columns are factorised, keeping
    values apart that the slice semantics keeps apart (``True`` is not ``1``).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.cat.codes.to_numpy(), dtype=np.int64)
        return codes, [slice_value(v) for v in series.cat.categories]
    keyed = pd.api.types.is_object_dtype(series.dtype) and _bools_and_numbers(series)
    if keyed:  # Python says True == 1; slices do not
        series = pd.Series(
            [None if pd.isna(v) else (isinstance(v, bool | np.bool_), v) for v in series],
            index=series.index,
            dtype=object,
        )
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:  # values of several types do not sort
        codes, uniques = pd.factorize(series, sort=False)
    values = [slice_value(v[1] if keyed else v) for v in uniques]
    return np.asarray(codes, dtype=np.int64), values


def _bools_and_numbers(series: pd.Series) -> bool:
    """Whether an object column holds both booleans and numbers."""
    kinds = {
        "bool" if isinstance(v, bool | np.bool_) else "number"
        for v in series.dropna().unique()
        if isinstance(v, bool | int | float | np.bool_ | np.integer | np.floating)
    }
    return len(kinds) == 2


def _categorical(
    column: str, codes: npt.NDArray[np.int64], values: list[Value], max_categories: int
) -> EncodedFeature:
    """One code per value (the rare ones lumped together), then the missing code."""
    counts = np.bincount(codes[codes >= 0], minlength=len(values))
    if len(values) > max_categories:
        top = np.sort(np.argsort(-counts, kind="stable")[: max_categories - 1])
    else:
        top = np.arange(len(values))
    remap = np.full(len(values) + 1, len(top), dtype=np.int64)  # lumped values -> len(top)
    remap[top] = np.arange(len(top))
    kept = [values[i] for i in top]
    preds: list[tuple[Predicate, ...]] = [(Predicate(column, "==", (v,)),) for v in kept]
    if len(top) < len(values):
        preds.append((Predicate(column, "not in", tuple(kept)),))
    out = remap[codes]  # code -1 (missing) reads remap[-1], fixed below
    missing = codes < 0
    if missing.any():
        out[missing] = len(preds)
        preds.append((Predicate(column, "is missing"),))
    return EncodedFeature(column, "categorical", _small(out, len(preds)), tuple(preds))


def _binned(
    column: str,
    kind: FeatureKind,
    values: npt.NDArray[Any],
    missing: npt.NDArray[np.bool_],
    edges: npt.NDArray[Any],
    bounds: list[Value],
) -> EncodedFeature:
    """Codes by ``searchsorted(edges, value, 'right')``; predicates from the readable bounds."""
    codes = np.searchsorted(edges, values, side="right").astype(np.int64)
    preds: list[tuple[Predicate, ...]] = []
    for i in range(len(bounds) + 1):
        low = (Predicate(column, ">=", (bounds[i - 1],)),) if i > 0 else ()
        high = (Predicate(column, "<", (bounds[i],)),) if i < len(bounds) else ()
        preds.append(low + high or (Predicate(column, "is not missing"),))
    if missing.any():
        codes[missing] = len(preds)
        preds.append((Predicate(column, "is missing"),))
    return EncodedFeature(column, kind, _small(codes, len(preds)), tuple(preds))


def _numeric_edges(
    finite: npt.NDArray[np.float64], n_bins: int, *, integer: bool
) -> npt.NDArray[np.float64]:
    """Quantile edges, rounded readably, strictly inside ``(min, max]`` of the values."""
    if finite.size == 0 or n_bins < 2:
        return np.zeros(0)
    raw = np.unique(np.quantile(finite, np.arange(1, n_bins) / n_bins))
    edges = raw
    for digits in range(3, 18):
        edges = np.unique([_round_significant(x, digits, integer=integer) for x in raw])
        if edges.size == raw.size:
            break
    low, high = finite.min(), finite.max()
    return edges[(edges > low) & (edges <= high)]


def _round_significant(x: float, digits: int, *, integer: bool) -> float:
    """``x`` to ``digits`` significant digits (a whole number for integer columns)."""
    rounded = float(f"{x:.{digits}g}")
    return float(round(rounded)) if integer else rounded


def _datetime_ns(series: pd.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Instants as int64 nanoseconds since the epoch (UTC) and the missing mask."""
    s = series
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        ns = s.dt.as_unit("ns").to_numpy().view(np.int64)
    except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise Unsupported(f"dates out of the nanosecond range ({exc})") from None
    return ns, series.isna().to_numpy()


def _datetime_edges(ns: npt.NDArray[np.int64], n_bins: int, tz: Any) -> npt.NDArray[np.int64]:
    """Quantile edges (UTC ns) rounded to the local day (second for short spans).

    Only edges strictly inside ``(min, max]`` are kept.
    """
    if ns.size == 0 or n_bins < 2:
        return np.zeros(0, dtype=np.int64)
    raw = np.quantile(ns.astype(np.float64), np.arange(1, n_bins) / n_bins)
    wall = pd.DatetimeIndex(raw.astype(np.int64)).as_unit("ns")
    if tz is not None:
        wall = wall.tz_localize("UTC").tz_convert(tz).tz_localize(None)
    wall = wall.round("D" if ns.max() - ns.min() >= 2 * _DAY_NS else "s")
    if tz is not None:  # back to instants; DST gaps move forward, repeats take standard time
        ambiguous = np.zeros(len(wall), dtype=bool)
        wall = wall.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
    edges = np.unique(wall.as_unit("ns").asi8)
    return edges[(edges > ns.min()) & (edges <= ns.max())]


def _stamp(ns: int, series: pd.Series) -> pd.Timestamp:
    """An edge as a Timestamp in the column's time zone (if it has one)."""
    stamp = pd.Timestamp(int(ns), unit="ns")
    tz = getattr(series.dt, "tz", None)
    return stamp.tz_localize("UTC").tz_convert(tz) if tz is not None else stamp


def _iso(stamp: pd.Timestamp) -> str:
    """ISO text the slice parser reads back; a bare date for naive midnights."""
    if stamp.tzinfo is None and stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d") if stamp.year >= 1000 else stamp.isoformat()
    return stamp.isoformat()


def _small(codes: npt.NDArray[np.int64], cardinality: int) -> npt.NDArray[np.integer]:
    """Codes in the smallest signed integer type that holds them."""
    for dtype in (np.int8, np.int16, np.int32):
        if cardinality <= np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes
