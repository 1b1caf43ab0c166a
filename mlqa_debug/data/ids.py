"""Matching the rows of two tables by id: one function for cases, model and dataset comparison.

Ids compare as text, with integral numbers written as integers (:func:`id_key`), so
``7``, ``7.0``, ``np.int64(7)`` and ``'7'`` are one id: a CSV read with integer ids
matches a Parquet file whose ids are strings, and a case saved with ``7`` finds
row ``'7'``. :func:`id_keys` does the same for a whole column, vectorised.

:func:`match_ids` pairs the rows of a left and a right table by id and reports,
rather than drops, what does not pair up: ids present on one side only, ids
repeated on a side (the first row of each id is the one matched) and, when labels
are given, matched ids whose labels disagree (labels compare like ids)::

    m = match_ids(candidate.frame["id"], baseline.frame["id"])
    both = candidate.frame.iloc[m.left], baseline.frame.iloc[m.right]   # row for row
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ExampleId: TypeAlias = str | int
"""An id as a case stores it in JSON: text or an integer."""

_INT64_LIMIT = 2.0**63


def _plain_number(value: object) -> object:
    """NumPy scalars as Python values, integral floats as ints; anything else unchanged."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def id_key(value: object) -> str:
    """How ids compare: as text, with integral numbers written as integers."""
    return str(_plain_number(value))


def plain_id(value: object) -> ExampleId:
    """``value`` as JSON can store an id: an int or a str (``7.0`` -> ``7``, others as text)."""
    value = _plain_number(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return str(value)
    return value


def _as_array(values: Iterable[Any]) -> np.ndarray:
    """A 1-D array of the values, by position (a Series' index is ignored)."""
    if isinstance(values, pd.Series | pd.Index):
        return np.asarray(values.to_numpy())
    if isinstance(values, np.ndarray):
        return values.reshape(-1)
    items = list(values)
    return np.fromiter(items, dtype=object, count=len(items))


def _float_keys(values: np.ndarray) -> np.ndarray:
    """Integral floats as integers (``7.0`` -> ``'7'``), others as Python writes them."""
    values = values.astype(np.float64, copy=False)  # float32 ids compare as their Python float
    keys = np.asarray(values.astype(str), dtype=object)  # NumPy writes floats as Python does
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(values) & (np.floor(values) == values)
    small = integral & (np.abs(values) < _INT64_LIMIT)
    keys[small] = values[small].astype(np.int64).astype(str)
    huge = np.flatnonzero(integral & ~small)
    keys[huge] = [id_key(v) for v in values[huge].tolist()]
    return keys


def _array_keys(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "iu":
        return values.astype(str).astype(object)
    if values.dtype.kind == "f":
        return _float_keys(values)
    if values.dtype.kind == "U":
        return values.astype(object)
    kind = pd.api.types.infer_dtype(values, skipna=False) if values.dtype == object else ""
    if kind == "string":
        return values
    if kind == "integer":
        return values.astype(str).astype(object)
    return np.array([id_key(v) for v in values.tolist()], dtype=object)


def _pandas_array(values: pd.Series | pd.Index) -> np.ndarray:
    """The values of a column as NumPy holds them, or as Python objects (dates, nullable types)."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iufUO":
        return np.asarray(values.to_numpy())
    return np.fromiter(values.tolist(), dtype=object, count=len(values))


def id_keys(values: Iterable[Any]) -> pd.Index:
    """The :func:`id_key` of every value, vectorised, as an Index (by position).

    An Index of keys comes back as it is (its lookup table, once built, is kept),
    so a table's keys can be computed once and matched many times.
    """
    if isinstance(values, pd.Index) and values.dtype == object:
        if pd.api.types.infer_dtype(values, skipna=False) == "string":
            return values
    if isinstance(values, pd.Series | pd.Index):
        if isinstance(values.dtype, pd.CategoricalDtype):
            return _categorical_keys(pd.Categorical(values))
        if isinstance(values.dtype, pd.StringDtype) and not values.hasnans:
            return pd.Index(values.array)  # text is its own key; Arrow-backed text stays so
        return pd.Index(_array_keys(_pandas_array(values)), dtype=object)
    return pd.Index(_array_keys(_as_array(values)), dtype=object)


def _categorical_keys(values: pd.Categorical[Any]) -> pd.Index:
    categories = id_keys(pd.Index(values.categories)).to_numpy()
    codes = values.codes
    keys = np.full(len(codes), id_key(math.nan), dtype=object)
    present = codes >= 0
    keys[present] = categories[codes[present]]
    return pd.Index(keys, dtype=object)


@dataclass(frozen=True)
class IdMatch:
    """The rows of two tables paired by id, and what did not pair up.

    ``left`` and ``right`` are positions (0-based, into each table as given), one
    pair per id found on both sides, in the order of the left table; the first
    row of a repeated id is the one paired. The other fields hold id values as
    their own table writes them, each id once, in table order.
    """

    left: np.ndarray
    right: np.ndarray
    only_left: np.ndarray
    only_right: np.ndarray
    duplicated_left: np.ndarray
    duplicated_right: np.ndarray
    labels_differ: np.ndarray

    @property
    def n_matched(self) -> int:
        return len(self.left)

    @property
    def complete(self) -> bool:
        """Every id on both sides, once each (labels aside)."""
        return not (
            len(self.only_left)
            or len(self.only_right)
            or len(self.duplicated_left)
            or len(self.duplicated_right)
        )

    def summary(self, left_name: str = "left", right_name: str = "right") -> str:
        """``1,000 ids matched; 3 only in left (e.g. 'a', 'b', 'c'); ...`` for messages."""
        parts = [f"{self.n_matched:,} id{'s' if self.n_matched != 1 else ''} matched"]
        for ids, what in (
            (self.only_left, f"only in {left_name}"),
            (self.only_right, f"only in {right_name}"),
            (self.duplicated_left, f"repeated in {left_name}"),
            (self.duplicated_right, f"repeated in {right_name}"),
            (self.labels_differ, "with different labels"),
        ):
            if len(ids):
                shown = ", ".join(repr(v) for v in ids[:3].tolist())
                parts.append(f"{len(ids):,} {what} (e.g. {shown})")
        return "; ".join(parts)


def _first_rows(keys: pd.Index) -> np.ndarray:
    """Positions of the first row of every id (all rows when the ids are unique)."""
    if keys.is_unique:
        return np.arange(len(keys))
    return np.flatnonzero(~keys.duplicated(keep="first"))


def _unique(keys: pd.Index, firsts: np.ndarray) -> pd.Index:
    """The keys of the first rows: ``keys`` itself when it is unique (its lookup table kept)."""
    return keys if len(firsts) == len(keys) else keys[firsts]


def _repeated(keys: pd.Index, firsts: np.ndarray) -> np.ndarray:
    """First rows of the ids that occur more than once, each once, by first occurrence."""
    if len(firsts) == len(keys):
        return firsts[:0]
    repeated = keys.duplicated(keep=False)
    return firsts[repeated[firsts]]


def _values(ids: Iterable[Any]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The ids by position; text columns stay in their own array (read only where reported)."""
    if isinstance(ids, pd.Series | pd.Index) and isinstance(ids.dtype, pd.StringDtype):
        return ids.array
    return _as_array(ids)


def _at(values: np.ndarray | pd.api.extensions.ExtensionArray, rows: np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values[rows]
    return np.asarray(values[rows], dtype=object)


def _keys(ids: Iterable[Any], values: np.ndarray | pd.api.extensions.ExtensionArray) -> pd.Index:
    return id_keys(ids if isinstance(ids, pd.Series | pd.Index) else values)


def match_ids(
    left_ids: Iterable[Any],
    right_ids: Iterable[Any],
    *,
    left_labels: Iterable[Any] | None = None,
    right_labels: Iterable[Any] | None = None,
    unique: bool = False,
) -> IdMatch:
    """Pair the rows of two tables by id (see :class:`IdMatch`); labels, if given, are compared.

    Ids compare as :func:`id_key` text. ``left_labels`` and ``right_labels`` (one
    per row of each table, given together) fill ``labels_differ`` with the left
    ids of paired rows whose labels differ (labels compare like ids). ``unique``
    says the caller knows no id repeats on either side (a loaded table's ids, see
    the ``ids`` check), which skips the search for repeats.
    """
    if (left_labels is None) != (right_labels is None):
        raise ValueError("give labels for both tables or for neither")
    left_values, right_values = _values(left_ids), _values(right_ids)
    if left_values.dtype.kind == right_values.dtype.kind == "i":  # as their text compares
        left_keys, right_keys = pd.Index(left_values), pd.Index(right_values)
    else:
        left_keys, right_keys = _keys(left_ids, left_values), _keys(right_ids, right_values)
    if unique or min(len(left_keys), len(right_keys)) * _LOOKUP_RATIO < max(
        len(left_keys), len(right_keys)
    ):
        pairing = _pair_by_lookup(left_keys, right_keys, unique=unique)
    else:
        pairing = _pair_by_codes(left_keys, right_keys)
    left, right = pairing.left, pairing.right
    differ = left[:0]
    if left_labels is not None and right_labels is not None:
        labels = id_keys(left_labels).to_numpy(), id_keys(right_labels).to_numpy()
        _check_lengths(labels, (len(left_values), len(right_values)))
        differ = left[labels[0][left] != labels[1][right]]
    return IdMatch(
        left=left,
        right=right,
        only_left=_at(left_values, pairing.only_left),
        only_right=_at(right_values, pairing.only_right),
        duplicated_left=_at(left_values, pairing.repeated_left),
        duplicated_right=_at(right_values, pairing.repeated_right),
        labels_differ=_at(left_values, differ),
    )


_LOOKUP_RATIO = 8
"""Tables this many times apart in size are paired by lookup, the larger side's hash
table kept (a few case ids against a dataset); tables of similar size by one
factorisation of both (two million-row tables, three times faster)."""


@dataclass(frozen=True)
class _Pairing:
    """Positions: the pairs, and the first rows of ids on one side only or repeated."""

    left: np.ndarray
    right: np.ndarray
    only_left: np.ndarray
    only_right: np.ndarray
    repeated_left: np.ndarray
    repeated_right: np.ndarray


def _pair_by_lookup(left_keys: pd.Index, right_keys: pd.Index, *, unique: bool) -> _Pairing:
    if unique:
        left_firsts, right_firsts = np.arange(len(left_keys)), np.arange(len(right_keys))
    else:
        left_firsts, right_firsts = _first_rows(left_keys), _first_rows(right_keys)
    if unique:
        found = _positions(right_keys, left_keys)
    else:  # get_indexer keeps the table it builds: a dataset's keys are matched many times
        found = _unique(right_keys, right_firsts).get_indexer(_unique(left_keys, left_firsts))
    hit = found >= 0
    paired_right = np.zeros(len(right_firsts), dtype=bool)
    paired_right[found[hit]] = True
    return _Pairing(
        left=left_firsts[hit],
        right=right_firsts[found[hit]],
        only_left=left_firsts[~hit],
        only_right=right_firsts[~paired_right],
        repeated_left=_repeated(left_keys, left_firsts),
        repeated_right=_repeated(right_keys, right_firsts),
    )


def _positions(keys: pd.Index, wanted: pd.Index) -> np.ndarray:
    """Per wanted key, its position in ``keys`` (unique), or -1, for a one-off lookup.

    Arrow-backed text is looked up in Arrow, twice as fast as pandas' object table
    for a million ids; anything else with ``get_indexer``.
    """
    if _is_arrow_text(keys) and _is_arrow_text(wanted):
        found = pc.fill_null(
            pc.index_in(pa.array(wanted.array), value_set=pa.array(keys.array)), -1
        )
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    return keys.get_indexer(wanted)


def _is_arrow_text(keys: pd.Index) -> bool:
    return isinstance(keys.dtype, pd.StringDtype) and keys.dtype.storage == "pyarrow"


def _pair_by_codes(left_keys: pd.Index, right_keys: pd.Index) -> _Pairing:
    """One hash pass over both sides' keys; the rest is integer arithmetic on the codes."""
    n_left = len(left_keys)
    codes, uniques = pd.factorize(left_keys.append(right_keys))
    codes = codes.astype(np.int64, copy=False)
    left_codes, right_codes = codes[:n_left], codes[n_left:]
    k = len(uniques)
    left_firsts, _ = _first_occurrences(left_codes, k)
    right_firsts, first_right = _first_occurrences(right_codes, k)
    found = first_right[left_codes[left_firsts]]
    hit = found >= 0
    count_left = np.bincount(left_codes, minlength=k)
    count_right = np.bincount(right_codes, minlength=k)
    return _Pairing(
        left=left_firsts[hit],
        right=found[hit],
        only_left=left_firsts[~hit],
        only_right=right_firsts[count_left[right_codes[right_firsts]] == 0],
        repeated_left=left_firsts[count_left[left_codes[left_firsts]] > 1],
        repeated_right=right_firsts[count_right[right_codes[right_firsts]] > 1],
    )


def _first_occurrences(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of each code's first occurrence, and per code that position or -1."""
    firsts = np.flatnonzero(~pd.Series(codes).duplicated(keep="first").to_numpy())
    where = np.full(k, -1, dtype=np.int64)
    where[codes[firsts]] = firsts
    return firsts, where


def _check_lengths(labels: tuple[np.ndarray, np.ndarray], n_rows: tuple[int, int]) -> None:
    for side, got, want in zip(("left", "right"), map(len, labels), n_rows, strict=True):
        if got != want:
            raise ValueError(f"{got:,} {side} labels for {want:,} {side} ids; give one per row")
