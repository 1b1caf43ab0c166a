"""A slice's examples, one page at a time, in any order (:mod:`.compute`)."""

from mlqa_debug.analyses.examples.compute import (
    ERRORS_FIRST,
    ExamplesPage,
    Paging,
    example_positions,
    examples_page,
    reading_columns,
    sort_options,
)

__all__ = [
    "ERRORS_FIRST",
    "ExamplesPage",
    "Paging",
    "example_positions",
    "examples_page",
    "reading_columns",
    "sort_options",
]
