"""Cells holding lists, structs or maps (Parquet's nested types), and the embedding columns.

A Parquet file may hold a list, a struct or a map in a cell; pandas reads them as
arrays, dicts and lists of pairs, which no role and no feature can use (they are
not one value per row, and not hashable). Two checks:

- ``nested_columns`` runs right after the roles are found, before the label and id
  checks (``before=``): a label, prediction, id, score, probability or SHAP column
  of nested values refuses the table, naming the column and its rows; a feature
  column of them is left out of the features with a warning naming it (the rest of
  the table stays usable: slicing on a list means nothing, refusing the file for a
  column no analysis reads would block all of them), and shown as "left out" in the
  roles table. A column the user typed (``[types]``) is refused instead: they asked
  for it as a feature.
- ``embedding_columns``: ``emb_*`` columns hold numbers; a list column
  ``embedding`` holds lists of numbers of one length. A row of another length
  refuses the table (the error names the rows and the lengths); a missing row is
  a missing embedding, warned about and treated as the missing values of ``emb_*``
  columns are (see :mod:`mlqa_debug.analyses.embeddings.vectors`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from mlqa_debug.data.checks.contract import role_columns
from mlqa_debug.data.checks.registry import (
    CheckContext,
    CheckResult,
    failed,
    passed,
    plural,
    register,
    rows_text,
    warned,
)
from mlqa_debug.errors import SchemaError

__all__ = ["embedding_list_matrix", "find_nested", "nested_kind"]

#: Python types pandas gives a nested Parquet value (list and map: arrays or lists; struct: dict).
NESTED_TYPES = (list, tuple, dict, set, np.ndarray)
_HEAD_ROWS = 1000  # rows searched for each column's first value


def nested_kind(value: object) -> str | None:
    """``"list"``, ``"struct"`` or ``"map"`` for a nested cell value, else ``None``."""
    if isinstance(value, dict):
        return "struct"
    if not isinstance(value, NESTED_TYPES):
        return None
    first = next(iter(value), None) if len(value) else None
    return "map" if isinstance(first, tuple) and len(first) == 2 else "list"


def find_nested(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, str]:
    """``{column: kind}`` for the columns whose values are lists, structs or maps.

    A column's kind is its first present value's (a Parquet column has one type);
    object columns are looked at together, so a table of 50,000 columns costs one
    pass over its first rows, not one Python call per column.
    """
    chosen = list(frame.columns) if columns is None else list(columns)
    out: dict[str, str] = {}
    objects: list[str] = []
    for col, dtype in zip(chosen, frame.dtypes[chosen].tolist(), strict=True):
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            out[col] = "struct" if pa.types.is_struct(dtype.pyarrow_dtype) else "list"
        elif dtype == np.dtype(object):
            objects.append(col)
    if not objects or frame.empty:
        return out
    head = frame.iloc[:_HEAD_ROWS][objects]
    present = head.notna().to_numpy()
    first = present.argmax(axis=0)
    values = head.to_numpy()
    for j, col in enumerate(objects):
        if present[first[j], j]:
            value = values[first[j], j]
        else:  # nothing in the first rows: look further down this column only
            position = frame[col].notna().to_numpy().argmax()
            value = frame[col].iloc[position]
        kind = nested_kind(value)
        if kind is not None:
            out[col] = kind
    return out


def nested_rows(series: pd.Series) -> np.ndarray:
    """Positions of the rows of ``series`` holding a nested value."""
    return np.flatnonzero([isinstance(v, NESTED_TYPES) for v in series.to_numpy()])


def _shown(series: pd.Series, rows: np.ndarray) -> list[str]:
    return [_clip(repr(_plain_cell(v))) for v in series.iloc[rows[:3]].tolist()]


def _plain_cell(value: object) -> object:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@register(
    "nested_columns",
    "Columns hold one value per row",
    after=("roles",),
    before=("label_column", "ids"),
)
def nested_columns(context: CheckContext) -> CheckResult:
    frame, roles = context.frame, context.roles
    skip = set(context.embedding) | set(roles.ignore)
    found = find_nested(frame, [c for c in context.columns if c not in skip])
    if not found:
        return passed("no column holds lists, structs or maps")
    in_roles = role_columns(context)
    for col, kind in found.items():
        if col in in_roles or col in roles.types:
            return _refused(frame[col], col, kind, role=_role_of(context, col))
    context.left_out = dict(found)
    names = ", ".join(f"{c!r} ({k})" for c, k in list(found.items())[:8])
    more = f" and {len(found) - 8} more" if len(found) > 8 else ""
    return warned(
        f"{plural(len(found), 'column')} of nested values left out of the features: "
        f"{names}{more}; flatten them into one value per column to slice on them",
        column=next(iter(found)),
    )


def _role_of(context: CheckContext, column: str) -> str:
    for role in ("label", "id"):
        if getattr(context, role) == column:
            return role
    if column in context.roles.types:
        return f"feature (typed {context.roles.types[column]})"
    for role in ("prediction", "score", "shap_base"):
        if context.found.get(role) == column:
            return role
    if column in context.proba_by_suffix.values():
        return "probability"
    return "SHAP" if column in context.found.get("shap", {}).values() else "role"


def _refused(series: pd.Series, column: str, kind: str, *, role: str) -> CheckResult:
    rows = nested_rows(series)
    shown = _shown(series, rows)
    return failed(
        f"{role} column {column!r} holds {kind}s, not one value per row "
        f"({plural(len(rows), 'row')}: {rows_text(rows)}: {', '.join(shown)}); "
        "expected a number or a name in each cell",
        column=column,
        rows=rows,
        expected="one number or name per row",
        received=f"{kind} values such as {shown[0]}" if shown else kind,
    )


@register("embedding_columns", "Embedding columns", after=("roles",), role="embedding")
def embedding_columns(context: CheckContext) -> CheckResult:
    frame, columns = context.frame, context.embedding
    if len(columns) == 1 and not pd.api.types.is_numeric_dtype(frame[columns[0]].dtype):
        column = columns[0]  # a list column (or text, which the matrix refuses)
        matrix = embedding_list_matrix(frame[column], column=column)
        missing = np.flatnonzero(np.isnan(matrix).all(axis=1))
        if len(missing):
            return warned(
                f"embedding column {column!r} is missing on {plural(len(missing), 'row')} "
                f"({rows_text(missing)}); their embedding is taken as missing values "
                "(the embedding's mean on the map)",
                column=column,
                rows=missing,
            )
        return passed(f"embedding: list column {column!r} of {matrix.shape[1]} numbers per row")
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if text:
        bad = np.flatnonzero(pd.to_numeric(frame[text[0]], errors="coerce").isna().to_numpy())
        return failed(
            f"embedding column {text[0]!r} should hold numbers ({rows_text(bad)}: "
            f"{_shown(frame[text[0]], bad)})",
            column=text[0],
            rows=bad,
            expected="numbers",
            received=str(frame[text[0]].dtype),
        )
    return passed(f"embedding: {len(columns)} column(s)")


def embedding_list_matrix(series: pd.Series, *, column: str) -> np.ndarray:
    """``(n_samples, dim)`` float64 from a list column; a missing row is a row of NaN.

    Raises :class:`SchemaError` naming the rows when a row is not a list of numbers
    or the lists have different lengths.
    """
    cells = series.to_numpy(dtype=object)
    present = np.array([isinstance(v, NESTED_TYPES) for v in cells], dtype=bool)
    missing = pd.isna(series).to_numpy()
    other = np.flatnonzero(~present & ~missing)
    if len(other):
        raise _list_error(series, column, other, "is not a list of numbers")
    if not present.any():
        raise SchemaError(
            f"embedding column {column!r} has no values; expected a list of numbers per row",
            column=column,
            expected="lists of numbers",
            received="no values",
        )
    lengths = np.full(len(cells), -1, dtype=np.int64)
    lengths[present] = [len(v) for v in cells[present]]
    counts = Counter(lengths[present].tolist())
    dim = counts.most_common(1)[0][0]
    if len(counts) > 1:
        raise _ragged_error(column, lengths, counts, dim)
    if dim == 0:
        raise _list_error(series, column, np.flatnonzero(present), "holds empty lists")
    matrix = np.full((len(cells), dim), np.nan)
    try:
        matrix[present] = np.array([np.asarray(v, dtype=np.float64) for v in cells[present]])
    except (TypeError, ValueError):
        bad = [i for i in np.flatnonzero(present) if not _numeric_list(cells[i])]
        raise _list_error(
            series, column, np.asarray(bad), "holds values that are not numbers"
        ) from None
    return matrix


def _numeric_list(value: object) -> bool:
    try:
        return np.asarray(value, dtype=np.float64).ndim == 1
    except (TypeError, ValueError):
        return False


def _ragged_error(column: str, lengths: np.ndarray, counts: Counter[int], dim: int) -> SchemaError:
    rows = np.flatnonzero((lengths >= 0) & (lengths != dim))
    found = ", ".join(f"{n} on {plural(k, 'row')}" for n, k in sorted(counts.items()))
    return SchemaError(
        f"embedding column {column!r} holds lists of different lengths ({found}); "
        f"{rows_text(rows)} differ from the usual {dim}: {lengths[rows[:3]].tolist()}; "
        "every row needs the same length",
        column=column,
        rows=rows.tolist(),
        expected=dim,
        received=sorted(counts),
    )


def _list_error(series: pd.Series, column: str, rows: np.ndarray, what: str) -> SchemaError:
    return SchemaError(
        f"embedding column {column!r} {what} on {plural(len(rows), 'row')} "
        f"({rows_text(rows)}: {', '.join(_shown(series, rows))}); expected a list of numbers "
        "per row (a Parquet list column), or one number per column emb_0, emb_1, ...",
        column=column,
        rows=rows.tolist(),
        expected="lists of numbers",
        received=_shown(series, rows),
    )
