"""Slices: conjunctions of column predicates, their text form, their masks and feature codes.

- :mod:`.model`: :class:`Predicate`, :class:`Slice` (canonical, with a stable ``id``)
  and the canonical text, :func:`format_slice`;
- :mod:`.text`: the text form's tokenizer and parser, :func:`parse_slice`;
- :mod:`.masks`: which rows a slice selects (``Slice.mask``, :func:`slice_mask`);
- :mod:`.terms`: operators, value types and how values and names are written;
- :mod:`.encoding`: integer codes of feature columns and the slices behind them.
"""

from mlqa_debug.slicing.encoding import (
    EncodedFeature,
    Encoding,
    FeatureKind,
    Unsupported,
    encode_features,
    feature_kind,
    slice_value,
)
from mlqa_debug.slicing.masks import check_mask, slice_mask
from mlqa_debug.slicing.model import EMPTY, Predicate, Slice, format_predicate, format_slice
from mlqa_debug.slicing.terms import COLUMN_KINDS, OPS, ColumnKind, Op, Value
from mlqa_debug.slicing.text import MAX_SLICE_LENGTH, parse_slice

__all__ = [
    "COLUMN_KINDS",
    "EMPTY",
    "MAX_SLICE_LENGTH",
    "OPS",
    "ColumnKind",
    "EncodedFeature",
    "Encoding",
    "FeatureKind",
    "Op",
    "Predicate",
    "Slice",
    "Unsupported",
    "Value",
    "check_mask",
    "encode_features",
    "feature_kind",
    "format_predicate",
    "format_slice",
    "parse_slice",
    "slice_mask",
    "slice_value",
]
