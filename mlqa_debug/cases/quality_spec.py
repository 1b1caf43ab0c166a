"""What a quality case checks (:class:`QualitySpec`): a quality check, its column, a reference.

A quality case (see :mod:`mlqa_debug.cases.model` and :mod:`mlqa_debug.cases.quality`)
names a registered data-quality check or one of the leakage checks
(:data:`LEAKAGE_CHECKS`), which compare the table with a reference table and need
one. Check names are validated as names here, not against the registry, so a case
naming a check this version lacks still loads (and cannot be checked: status
``error``). :data:`CHECK_PHRASES` is how the case's target names its check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PureWindowsPath
from typing import Any

from mlqa_debug.cases.fields import check_text
from mlqa_debug.data.workspace import NAME_PATTERN
from mlqa_debug.errors import CaseError

MAX_REFERENCE_LENGTH = 1_000
LEAKAGE_CHECKS = ("exact_duplicates", "near_duplicates", "shared_ids", "leaky_feature")
"""The quality checks between the table and a reference (``find_leakage``); they need one."""
CHECK_PHRASES = {
    "missing_values": "missing values",
    "constant": "constant values",
    "high_cardinality": "high cardinality",
    "identifier_like": "identifier-like values",
    "outliers": "outliers",
    "duplicate_rows": "duplicated rows",
    "conflicting_labels": "conflicting labels",
    "duplicate_ids": "repeated ids",
    "class_balance": "rare classes",
    "never_predicted": "never-predicted classes",
    "calibration": "miscalibrated probabilities",
    "slice_calibration": "miscalibrated slices",
    "exact_duplicates": "exact duplicates",
    "near_duplicates": "near duplicates",
    "shared_ids": "shared ids",
    "leaky_feature": "label leakage",
}
"""How a quality case's target names its check (others: the name, ``_`` as spaces)."""
_CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class QualitySpec:
    """What a quality case checks: a quality check, its column (or None), the reference.

    ``reference`` (leakage checks only, required there) is a workspace dataset name
    or a file path, relative to the case directory (see the module docstring).
    """

    check: str
    column: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.check, str) or not _CHECK_NAME.fullmatch(self.check):
            raise CaseError(
                f"field 'quality.check' must name a quality check (lowercase letters, digits "
                f"and '_'), got {self.check!r:.80}"
            )
        if self.column is not None:
            check_text(self.column, "quality.column", MAX_REFERENCE_LENGTH)
            if not self.column:
                raise CaseError("field 'quality.column' must be a column name or null, not ''")
        if self.reference is not None:
            check_text(self.reference, "quality.reference", MAX_REFERENCE_LENGTH)
        if self.leakage and not self.reference:
            raise CaseError(
                f"the leakage check {self.check!r} compares with a reference table: field "
                "'quality.reference' must name a workspace dataset or a file"
            )
        if not self.leakage and self.reference is not None:
            raise CaseError(
                "field 'quality.reference' is for the leakage checks "
                f"({', '.join(LEAKAGE_CHECKS)}); {self.check!r} looks at one table"
            )

    @property
    def leakage(self) -> bool:
        """Whether the check compares the table with a reference table."""
        return self.check in LEAKAGE_CHECKS

    @property
    def reference_label(self) -> str:
        """The reference as people name it: the dataset name or the file's name."""
        if self.reference is None:
            return ""
        if NAME_PATTERN.fullmatch(self.reference):
            return self.reference
        return PureWindowsPath(self.reference).name or self.reference  # either separator

    def describe(self) -> str:
        """``missing values in income``, ``exact duplicates against train``."""
        text = CHECK_PHRASES.get(self.check, self.check.replace("_", " "))
        if self.column is not None:
            text += f" in {self.column}"
        if self.reference is not None:
            text += f" against {self.reference_label}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "column": self.column, "reference": self.reference}
