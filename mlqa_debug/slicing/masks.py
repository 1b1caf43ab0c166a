"""Which rows a slice selects: checks against column kinds and vectorised masks.

:meth:`Slice.check <mlqa_debug.slicing.model.Slice.check>` asks :func:`check_predicate`
whether a predicate fits columns of given kinds; :meth:`Slice.mask
<mlqa_debug.slicing.model.Slice.mask>` asks :func:`predicate_mask` for its rows, and
:func:`slice_mask` does both on a loaded :class:`~mlqa_debug.data.predictions.Predictions`;
:func:`check_mask` checks a row mask that any analysis receives.

Masks are vectorised (category columns go through their integer codes) and
follow SQL's rule for missing values: a missing value (NaN, None, ``pd.NA``,
NaT) matches no predicate except ``is missing``, not even ``!=`` or ``not in``.
So for one column, ``== v``, ``!= v`` and ``is missing`` split the rows into
three disjoint parts that cover them all.

Values compare by type: a string never equals a number, a boolean never equals
a number, an int equals a float of the same value. Numeric, boolean and datetime
columns raise :class:`SliceError` for a value of the wrong type (``age == 'x'``,
``flag == 1``); string, object and category columns hold labels of any type, so a
value of another type simply matches nothing. ``<``, ``<=``, ``>``, ``>=`` and
``between`` need numeric or datetime data (or categories that are). Datetime
columns compare against ISO date/time strings parsed with ``pd.Timestamp``
(``'2024-05-01'`` is midnight; a naive value on a tz-aware column is taken in the
column's time zone).
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlqa_debug.errors import SliceError
from mlqa_debug.slicing.terms import (
    COLUMN_KINDS,
    MISSING_OPS,
    ORDER_KINDS,
    ORDER_OPS,
    ColumnKind,
    Value,
    format_value,
    shorten,
)

if TYPE_CHECKING:
    from mlqa_debug.data.predictions import Predictions
    from mlqa_debug.slicing.model import Predicate, Slice

__all__ = ["check_mask", "check_predicate", "predicate_mask", "slice_mask"]

_DIGITS = frozenset("0123456789")


def slice_mask(predictions: Predictions, s: Slice) -> np.ndarray:
    """Rows of ``predictions`` in slice ``s``; :class:`SliceError` if it doesn't fit the data."""
    s.check(predictions.column_kinds)
    return s.mask(predictions.slice_frame)


def check_mask(mask: npt.ArrayLike, n_rows: int) -> npt.NDArray[np.bool_]:
    """``mask`` as an array if it is a boolean row mask of ``n_rows`` rows, else ValueError."""
    array = np.asarray(mask)
    expected = f"mask must be a boolean array of {n_rows} rows"
    if array.dtype != np.bool_:
        raise ValueError(f"{expected}, got dtype {array.dtype}")
    if array.shape != (n_rows,):
        raise ValueError(f"{expected}: it must have shape ({n_rows},), got {array.shape}")
    return array


# --------------------------------------------------------------------------- check


class _Mismatch(Exception):
    """A value that does not fit a column; ``args[0]`` says what was expected."""


def _unknown_column(column: str, available: Iterable[str]) -> SliceError:
    names = [str(c) for c in available]
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        shown = ", ".join(repr(c) for c in names[:10]) + (", ..." if len(names) > 10 else "")
        hint = f"the columns are: {shown}" if names else "there are no columns"
    return SliceError(f"unknown column {column!r}; {hint}", column=column)


def _parse_timestamp(value: Value) -> pd.Timestamp:
    """An ISO date/time string as a Timestamp; :class:`_Mismatch` otherwise."""
    expected = "expected an ISO date/time string such as '2024-05-01' or '2024-05-01T12:30'"
    if not isinstance(value, str) or not (len(value) >= 4 and set(value[:4]) <= _DIGITS):
        raise _Mismatch(expected)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Mismatch(f"{expected} ({shorten(str(exc), 80)})") from None
    if pd.isna(stamp):
        raise _Mismatch(expected)
    return stamp


def _expect_number(value: Value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Mismatch("expected a number")


def _expect_bool(value: Value) -> None:
    if not isinstance(value, bool):
        raise _Mismatch("expected true or false")


def _expect_string(value: Value) -> None:
    if not isinstance(value, str):
        raise _Mismatch("expected a string")


def _expect_anything(value: Value) -> None:
    """Categorical columns hold labels of any type (strings, ints, bools)."""


_KIND_CHECKS: dict[str, Callable[[Value], object]] = {
    "categorical": _expect_anything,
    "numeric": _expect_number,
    "boolean": _expect_bool,
    "datetime": _parse_timestamp,
    "text": _expect_string,
}


def check_predicate(p: Predicate, kinds: Mapping[str, ColumnKind]) -> None:
    """Raise :class:`SliceError` if ``p`` does not fit columns of these kinds."""
    if p.column not in kinds:
        raise _unknown_column(p.column, kinds)
    kind = kinds[p.column]
    if kind not in _KIND_CHECKS:
        raise SliceError(
            f"column {p.column!r} has unknown kind {kind!r}; expected one of "
            + ", ".join(COLUMN_KINDS),
            column=p.column,
        )
    if p.op in ORDER_OPS and kind not in ORDER_KINDS:
        raise SliceError(
            f"operator {p.op!r} does not apply to {kind} column {p.column!r}", column=p.column
        )
    for value in p.values:
        try:
            _KIND_CHECKS[kind](value)
        except _Mismatch as exc:
            raise SliceError(
                f"value {format_value(value)} does not fit {kind} column {p.column!r}; {exc}",
                column=p.column,
            ) from None


# --------------------------------------------------------------------------- mask

DataClass = Literal["bool", "number", "datetime", "string", "object"]
_TYPED_CLASSES = frozenset({"bool", "number", "datetime"})
_ORDER_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _data_class(dtype: Any) -> DataClass:
    """How a (non-category) column's values compare with slice values."""
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        return "number"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_string_dtype(dtype) and not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        return "string"
    return "object"


def _match_class(value: object) -> int:
    """0 bool, 1 number, 2 string, 3 anything else; ints and floats compare with each other."""
    if isinstance(value, bool | np.bool_):
        return 0
    if isinstance(value, int | float | np.integer | np.floating):
        return 1
    return 2 if isinstance(value, str) else 3


_match_classes = np.frompyfunc(_match_class, 1, 1)


def _as_bool(result: Any) -> np.ndarray:
    """A comparison result (numpy or nullable) as a plain bool array; NA -> False."""
    if isinstance(result, np.ndarray):
        return result.astype(bool, copy=False)
    if isinstance(result, pd.Series) and result.dtype == bool:
        return result.to_numpy()
    return np.asarray(result.to_numpy(dtype=bool, na_value=False))


def _coerce_datetime(s: pd.Series, value: Value) -> pd.Timestamp:
    stamp = _parse_timestamp(value)
    tz = s.dt.tz
    if tz is None and stamp.tzinfo is not None:
        raise _Mismatch("the value has a time zone but the column has none")
    if tz is not None and stamp.tzinfo is None:
        try:
            return stamp.tz_localize(tz)
        except (ValueError, TypeError) as exc:
            raise _Mismatch(f"it does not exist in time zone {tz}: {exc}") from None
    return stamp


def _checked(expect: Callable[[Value], object]) -> Callable[[pd.Series, Value], Any]:
    """A coercer that keeps the value as it is once ``expect`` accepts it."""

    def coerce(s: pd.Series, value: Value) -> Value:
        expect(value)
        return value

    return coerce


_COERCERS: dict[DataClass, Callable[[pd.Series, Value], Any]] = {
    "bool": _checked(_expect_bool),
    "number": _checked(_expect_number),
    "datetime": _coerce_datetime,
    "string": _checked(_expect_string),
    "object": _checked(_expect_anything),
}


def _coerce(s: pd.Series, p: Predicate, cls: DataClass, *, strict: bool, dtype: str) -> list[Any]:
    """Slice values in the column's terms; a misfit raises if ``strict``, else is dropped."""
    out = []
    for value in p.values:
        try:
            out.append(_COERCERS[cls](s, value))
        except _Mismatch as exc:
            if strict:
                raise SliceError(
                    f"value {format_value(value)} does not fit column {p.column!r} "
                    f"of dtype {dtype}; {exc}",
                    column=p.column,
                ) from None
    return out


def _object_isin(s: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Typed membership for object columns: Python ``==``, then drop matches of another class.

    Only a string equals a string, so string values need no class check; a number
    or boolean value also matches its cross-class twins (``1 == 1.0 == True``), so
    those matches, and only those, are classified one by one.
    """
    arr = s.to_numpy(dtype=object)
    missing = pd.isna(arr)
    if missing.any():  # pd.NA refuses ``==``; None just compares unequal
        arr = arr.copy()
        arr[missing] = None
    out = np.zeros(len(arr), dtype=bool)
    for value in values:
        where = np.flatnonzero(np.asarray(arr == value, dtype=bool))
        if not isinstance(value, str) and len(where):
            classes = _match_classes(arr[where]).astype(np.int8)
            where = where[classes == _match_class(value)]
        out[where] = True
    return out


def _isin(s: pd.Series, cls: DataClass, values: Sequence[Any]) -> np.ndarray:
    if not values:
        return np.zeros(len(s), dtype=bool)
    if cls == "object":
        return _object_isin(s, values)
    if len(values) > 8:
        return _as_bool(s.isin(values))
    out = _as_bool(s == values[0]).copy()
    for value in values[1:]:
        out |= _as_bool(s == value)
    return out


def _values_mask(s: pd.Series, p: Predicate, *, strict: bool, dtype: str) -> np.ndarray:
    """Mask of a non-missing predicate over a non-category series; missing rows are False."""
    cls = _data_class(s.dtype)
    if p.op in ORDER_OPS:
        if cls not in ("number", "datetime"):
            raise SliceError(
                f"operator {p.op!r} does not apply to column {p.column!r} of dtype {dtype}",
                column=p.column,
            )
        bounds = _coerce(s, p, cls, strict=True, dtype=dtype)
        if p.op == "between":
            return _as_bool(s >= bounds[0]) & _as_bool(s <= bounds[1])
        return _as_bool(_ORDER_FUNCS[p.op](s, bounds[0]))
    strict = strict and cls in _TYPED_CLASSES  # labels of another type just don't match
    hit = _isin(s, cls, _coerce(s, p, cls, strict=strict, dtype=dtype))
    if p.op in ("==", "in"):
        return hit
    return ~hit & s.notna().to_numpy()


def _categorical_mask(s: pd.Series, p: Predicate) -> np.ndarray:
    """Evaluate on the categories once, then look every row's code up (code -1 = missing)."""
    categories = pd.Series(s.cat.categories)
    dtype = f"category (categories {categories.dtype})"
    table = _values_mask(categories, p, strict=False, dtype=dtype)
    return _lookup(table, s.array.codes)


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` with code -1 -> False.

    A few ``==`` passes over the small-int codes beat a gather by about 10x.
    """
    hits, misses = np.flatnonzero(table), np.flatnonzero(~table)
    if len(hits) <= 4:
        out = np.zeros(len(codes), dtype=bool)
        for code in hits.tolist():
            out |= codes == code
        return out
    if len(misses) <= 4:
        out = codes >= 0
        for code in misses.tolist():
            out &= codes != code
        return out
    return np.append(table, False)[codes]


def _series_mask(s: pd.Series, p: Predicate) -> np.ndarray:
    if p.op in MISSING_OPS:
        missing = s.isna().to_numpy()
        return missing if p.op == "is missing" else ~missing
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _categorical_mask(s, p)
    return _values_mask(s, p, strict=True, dtype=str(s.dtype))


def _get_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise _unknown_column(column, frame.columns)
    selected = frame[column]
    if isinstance(selected, pd.DataFrame):
        raise SliceError(
            f"column {column!r} is ambiguous: it names {selected.shape[1]} columns of the frame",
            column=column,
        )
    return selected


def predicate_mask(frame: pd.DataFrame, p: Predicate) -> np.ndarray:
    """The rows of ``frame`` that ``p`` selects; pandas refusing a comparison is a SliceError."""
    s = _get_column(frame, p.column)
    try:
        return _series_mask(s, p)
    except SliceError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # pandas/numpy refusing a comparison
        raise SliceError(
            f"cannot evaluate {shorten(p.text, 80)!r} on column {p.column!r} "
            f"of dtype {s.dtype}: {exc}",
            column=p.column,
        ) from exc
