"""The row checks: duplicated rows, duplicated feature rows with different labels, repeated ids.

Rows are compared by hash: each feature column is hashed once
(:func:`column_hash`, ``pd.util.hash_array`` of its normalised values) and the
column hashes are combined into one 64-bit hash per row, so a 1,000,000-row table
costs one pass per column and one hash-table lookup per row. Two different rows
share a hash with probability about ``n² / 2⁶⁵`` (3e-8 at a million rows). The
normalisation makes values that are equal hash alike in any table (leakage
compares two, :mod:`.leakage`): numbers as float64 (``1 == 1.0``, ``-0.0 ==
0.0``; integers beyond 2⁵³ round), booleans as 0 and 1, datetimes as UTC
nanoseconds (any unit or time zone), categories by their values, text as it is
(not stripped: ``"red "`` is not ``"red"``, as in a slice), and every missing
value (NaN, None, ``pd.NA``, NaT) alike, as ``DataFrame.duplicated`` treats them.

- ``duplicate_rows``: rows whose features and label equal another row's (the id
  left out: a copied example under a new id is still a copy). Every row of such
  a group counts; ``info``, ``warning`` from ``duplicate_warning`` (1%) of the rows.
- ``conflicting_labels``: rows whose features equal another row's while the labels
  differ (``warning``: label noise, or features that cannot tell the classes apart).
- ``duplicate_ids``: values that occur more than once in the id column or in an
  id-like feature (``error``). The loader already refuses a table whose id column
  repeats a value, so on a loaded table this finds repeated values in id-like
  features (``customer_id`` kept as a feature).

Their rows are not a predicate on one column, so the slice lists the rows' ids
(``id in (3, 17, 90)``) when the table has an id column and there are at most
``max_slice_values`` of them; otherwise the finding has no slice and its rows
(``Finding.mask()``) open as an example set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlqa_debug.analyses.quality.checks import looks_like_id
from mlqa_debug.analyses.quality.registry import Draft, QualityContext, register_quality
from mlqa_debug.data.checks.registry import plain
from mlqa_debug.slicing import MAX_SLICE_LENGTH
from mlqa_debug.stats.format import count, percent

__all__ = [
    "combine_hashes",
    "conflicting_labels",
    "duplicate_ids",
    "duplicate_rows",
    "feature_hashes",
    "ids_slice",
    "value_hash",
]

_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: mixes the column hashes


def combine_hashes(hashes: list[np.ndarray]) -> np.ndarray:
    """One uint64 per row from per-column uint64 hashes (order matters, wraps around)."""
    out = np.full(len(hashes[0]) if hashes else 0, np.uint64(0xCBF29CE484222325), np.uint64)
    with np.errstate(over="ignore"):
        for h in hashes:
            out = (out ^ h) * _MULTIPLIER
    return out


_MISSING_HASH = np.uint64(0xFFFFFFFFFFFFFFFF)  # every missing value, whatever its type


def column_hash(frame: pd.DataFrame, column: str) -> np.ndarray:
    """One uint64 per row of one column's normalised values (see the module docstring)."""
    return value_hash(frame[column])


def value_hash(series: pd.Series) -> np.ndarray:
    """One uint64 per value, equal for equal values in any table (see the module docstring)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # hash the categories once, then look up
        codes = series.cat.codes.to_numpy()
        out = value_hash(pd.Series(series.cat.categories))[codes]
        out[codes < 0] = _MISSING_HASH
        return out
    missing = series.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        values: np.ndarray = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=0.0) + 0.0  # -0.0 + 0.0 is 0.0
    else:
        values = series.to_numpy(dtype=object)
    out = pd.util.hash_array(values)
    out[missing] = _MISSING_HASH
    return out


def feature_hashes(context: QualityContext) -> np.ndarray:
    """One hash per row of its feature values (built once per run)."""

    def build() -> np.ndarray:
        frame = context.frame
        return combine_hashes([column_hash(frame, c) for c in context.features])

    return context.shared("hash:features", build)


def ids_slice(context: QualityContext, mask: np.ndarray) -> str | None:
    """``id in (...)`` for the rows of ``mask``, when the table has ids and they are few."""
    id_column = context.predictions.schema.id
    k = int(np.count_nonzero(mask))
    if id_column is None or k > context.thresholds.max_slice_values:
        return None
    ids = [plain(v) for v in context.frame[id_column].to_numpy()[mask]]
    text = context.slice_of(id_column, "in", ids)
    return text if text is not None and len(text) <= MAX_SLICE_LENGTH else None


def _repeated(values: np.ndarray) -> np.ndarray:
    """Where a value occurs more than once (every occurrence)."""
    return pd.Series(values).duplicated(keep=False).to_numpy()


@register_quality(
    "duplicate_rows",
    "Duplicated rows",
    severity="info",
    clean="no two rows have the same features and label",
    when=lambda c: None if c.features else "no feature columns",
)
def duplicate_rows(context: QualityContext) -> list[Draft]:
    label = context.predictions.schema.label
    rows = combine_hashes([feature_hashes(context), column_hash(context.frame, label)])
    mask = _repeated(rows)
    k = int(np.count_nonzero(mask))
    if not k:
        return []
    groups = int(pd.unique(rows[mask]).size)
    share = k / context.n_samples
    return [
        Draft(
            None,
            mask,
            f"{count(k)} rows ({percent(share)}) have an exact copy: {count(groups)} groups "
            f"of equal features and label, {count(k - groups)} extra copies",
            ids_slice(context, mask),
            severity="warning" if share >= context.thresholds.duplicate_warning else "info",
            value=share,
            threshold=context.thresholds.duplicate_warning,
        )
    ]


@register_quality(
    "conflicting_labels",
    "Equal features, different labels",
    severity="warning",
    clean="no two rows with the same features have different labels",
    when=lambda c: None if c.features else "no feature columns",
)
def conflicting_labels(context: QualityContext) -> list[Draft]:
    features = feature_hashes(context)
    label = context.predictions.schema.label
    pairs = combine_hashes([features, column_hash(context.frame, label)])
    first = ~pd.Series(pairs).duplicated(keep="first").to_numpy()  # one row per (features, label)
    distinct = features[first]
    conflicted = distinct[_repeated(distinct)]  # feature rows seen with 2+ labels
    if not len(conflicted):
        return []
    mask = pd.Series(features).isin(pd.unique(conflicted)).to_numpy()
    k = int(np.count_nonzero(mask))
    groups = int(pd.unique(conflicted).size)
    return [
        Draft(
            None,
            mask,
            f"{count(k)} rows in {count(groups)} groups have equal features but different "
            "labels: label noise, or features that cannot tell these classes apart",
            ids_slice(context, mask),
            value=k / context.n_samples,
        )
    ]


@register_quality(
    "duplicate_ids",
    "Repeated ids",
    severity="error",
    clean="no id or id-like feature repeats a value",
)
def duplicate_ids(context: QualityContext) -> list[Draft]:
    id_column = context.predictions.schema.id
    columns = [id_column] if id_column is not None else []
    columns += [c for c in context.features if looks_like_id(context, c)]
    drafts = []
    for column in columns:
        s = context.frame[column]
        mask = s.duplicated(keep=False).to_numpy() & s.notna().to_numpy()
        k = int(np.count_nonzero(mask))
        if not k:
            continue
        repeated = pd.unique(s[mask])
        shown = [plain(v) for v in repeated]
        text = (
            context.slice_of(column, "in", shown)
            if len(shown) <= context.thresholds.max_slice_values
            else None
        )
        drafts.append(
            Draft(
                column,
                mask,
                f"column {column!r} repeats {count(len(repeated))} values on {count(k)} rows "
                f"({', '.join(map(repr, shown[:3]))}{', ...' if len(shown) > 3 else ''})",
                text if text is not None and len(text) <= MAX_SLICE_LENGTH else None,
                value=k / context.n_samples,
            )
        )
    return drafts
