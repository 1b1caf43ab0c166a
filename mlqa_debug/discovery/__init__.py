"""Automatic slice discovery: SliceLine lattice search and an error tree.

Both work on integer codes from :func:`encode_features` and return exact
:class:`~mlqa_debug.slices.Slice` objects, so every result opens on the Slices page.
"""

from mlqa_debug.discovery.encoding import Encoding, encode_features
from mlqa_debug.discovery.sliceline import FoundSlice, find_slices
from mlqa_debug.discovery.tree import ErrorTree, fit_error_tree

__all__ = [
    "Encoding",
    "ErrorTree",
    "FoundSlice",
    "encode_features",
    "find_slices",
    "fit_error_tree",
]
