"""Automatic slice discovery: SliceLine lattice search and an error tree.

Both work on integer codes from :func:`encode_features` and return exact
:class:`~mlqa_debug.slicing.Slice` objects, so every result opens on the Slices page.
"""

from mlqa_debug.analyses.discovery.sliceline import FoundSlice, find_slices
from mlqa_debug.analyses.discovery.tree import ErrorTree, fit_error_tree
from mlqa_debug.slicing.encoding import Encoding, encode_features

__all__ = [
    "Encoding",
    "ErrorTree",
    "FoundSlice",
    "encode_features",
    "find_slices",
    "fit_error_tree",
]
