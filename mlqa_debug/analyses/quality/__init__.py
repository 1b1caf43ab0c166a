"""Data quality of one predictions table: registered checks whose findings are slices.

:func:`run_quality` runs every registered quality check on a loaded
:class:`~mlqa_debug.data.predictions.Predictions` and returns a
:class:`QualityReport`: findings worst first, each with its check, column,
severity, rows, a sentence, a slice selecting exactly its rows and the error rate
there against the rest (Holm-adjusted over the report). The checks and their
default thresholds (:data:`DEFAULT_THRESHOLDS`) are in :mod:`.checks` (columns),
:mod:`.rows` (duplicates), :mod:`.targets` (labels) and :mod:`.calibration`;
``docs/quality.md`` lists them. Leakage and drift between two tables are
:mod:`.leakage` and :mod:`.drift`, imported on their own.
"""

# Importing the check modules registers their checks; this order is the report's.
# isort: off
from mlqa_debug.analyses.quality import checks as checks
from mlqa_debug.analyses.quality import rows as rows
from mlqa_debug.analyses.quality import targets as targets
from mlqa_debug.analyses.quality import calibration as calibration

# isort: on
from mlqa_debug.analyses.quality.calibration import (
    Calibration,
    ReliabilityCurve,
    reliability,
)
from mlqa_debug.analyses.quality.calibration import (
    calibration as compute_calibration,
)
from mlqa_debug.analyses.quality.findings import (
    SEVERITY_RANK,
    ErrorComparison,
    Finding,
    QualityReport,
    at_least,
)
from mlqa_debug.analyses.quality.registry import (
    QUALITY_CHECKS,
    Draft,
    QualityCheck,
    QualityContext,
    register_quality,
    run_quality,
)
from mlqa_debug.analyses.quality.targets import label_distribution
from mlqa_debug.analyses.quality.thresholds import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    threshold_table,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "QUALITY_CHECKS",
    "SEVERITY_RANK",
    "Calibration",
    "Draft",
    "ErrorComparison",
    "Finding",
    "QualityCheck",
    "QualityContext",
    "QualityReport",
    "ReliabilityCurve",
    "Thresholds",
    "at_least",
    "calibration",
    "checks",
    "compute_calibration",
    "label_distribution",
    "register_quality",
    "reliability",
    "rows",
    "run_quality",
    "targets",
    "threshold_table",
]
