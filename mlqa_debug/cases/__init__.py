"""Regression cases: failure slices and example sets that a new model must not make worse.

One module per job:

- :mod:`~mlqa_debug.cases.conditions`: the metrics a case can use, their
  :data:`Direction`, :func:`passes`, values written for people;
- :mod:`~mlqa_debug.cases.model`: :class:`Case` (slice or :class:`ExampleSet`,
  condition, baseline, :class:`Provenance`) and its JSON form;
- :mod:`~mlqa_debug.cases.store`: :class:`CaseStore`, a directory of case files
  written atomically under a lock, and where it lives (:func:`resolve_cases_dir`);
- :mod:`~mlqa_debug.cases.measurement`: a metric measured on a slice or on an
  example set matched by id;
- :mod:`~mlqa_debug.cases.tolerance`: the default threshold of a new case;
- :mod:`~mlqa_debug.cases.build`: a new case (draft, baseline, frozen rows, name);
- :mod:`~mlqa_debug.cases.quality_spec`: what a quality case checks (:class:`QualitySpec`);
- :mod:`~mlqa_debug.cases.quality`: quality cases, a data-quality finding kept as a
  case (:class:`QualitySession`, :func:`build_quality_case`);
- :mod:`~mlqa_debug.cases.check`: cases checked on new predictions
  (:class:`CaseResult`, :class:`CheckReport`);
- :mod:`~mlqa_debug.cases.export`: JUnit XML for CI and a pytest module to drop in.

Everything the pages, the command line and the exported pytest module use is
importable from this package: ``from mlqa_debug import cases``.
"""

from __future__ import annotations

from mlqa_debug.cases.build import (
    Draft,
    NewCase,
    build_case,
    draft_case,
    frozen_rows,
    suggest_name,
)
from mlqa_debug.cases.check import (
    RESULT_COLUMNS,
    STATUSES,
    CaseResult,
    CheckReport,
    Status,
    check_cases,
    evaluate_case,
    predictions_info,
    results_frame,
)
from mlqa_debug.cases.conditions import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    N_WRONG,
    PER_CLASS,
    QUALITY_METRICS,
    RATE_METRICS,
    ROWS,
    ROWS_SHARE,
    Direction,
    default_metric,
    describe_metric,
    format_delta,
    format_value,
    metric_base,
    metric_choices,
    metric_class,
    metric_direction,
    passes,
    resolve_metric,
)
from mlqa_debug.cases.export import (
    ExportResult,
    PredictFunction,
    check_with_predict,
    export_cases,
    import_predict,
    junit_xml,
    write_junit,
)
from mlqa_debug.cases.measurement import Measurement, example_mask, measure
from mlqa_debug.cases.model import (
    CASE_ID_PATTERN,
    ENV_AUTHOR,
    MAX_EXAMPLES,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    SCHEMA_VERSION,
    Case,
    ExampleSet,
    Provenance,
    case_json,
    default_author,
    new_case_id,
    now_text,
    validate_case_id,
    validate_case_name,
)
from mlqa_debug.cases.quality import (
    QualityDraft,
    QualityMeasurement,
    QualitySession,
    build_quality_case,
    draft_quality_case,
    finding_spec,
    quality_case_name,
)
from mlqa_debug.cases.quality_spec import LEAKAGE_CHECKS, QualitySpec
from mlqa_debug.cases.store import (
    ENV_CASES,
    CaseListing,
    CaseProblem,
    CaseStore,
    resolve_cases_dir,
)
from mlqa_debug.cases.tolerance import (
    default_threshold,
    default_tolerance,
    round_outward,
    tolerance_rule,
)
from mlqa_debug.data.ids import ExampleId, id_key

__all__ = [
    "CASE_ID_PATTERN",
    "ENV_AUTHOR",
    "ENV_CASES",
    "HIGHER_IS_BETTER",
    "LEAKAGE_CHECKS",
    "LOWER_IS_BETTER",
    "MAX_EXAMPLES",
    "MAX_NAME_LENGTH",
    "MAX_NOTE_LENGTH",
    "N_WRONG",
    "PER_CLASS",
    "QUALITY_METRICS",
    "RATE_METRICS",
    "RESULT_COLUMNS",
    "ROWS",
    "ROWS_SHARE",
    "SCHEMA_VERSION",
    "STATUSES",
    "Case",
    "CaseListing",
    "CaseProblem",
    "CaseResult",
    "CaseStore",
    "CheckReport",
    "Direction",
    "Draft",
    "ExampleId",
    "ExampleSet",
    "ExportResult",
    "Measurement",
    "NewCase",
    "PredictFunction",
    "Provenance",
    "QualityDraft",
    "QualityMeasurement",
    "QualitySession",
    "QualitySpec",
    "Status",
    "build_case",
    "build_quality_case",
    "case_json",
    "check_cases",
    "check_with_predict",
    "default_author",
    "default_metric",
    "default_threshold",
    "default_tolerance",
    "describe_metric",
    "draft_case",
    "draft_quality_case",
    "evaluate_case",
    "example_mask",
    "export_cases",
    "finding_spec",
    "format_delta",
    "format_value",
    "frozen_rows",
    "id_key",
    "import_predict",
    "junit_xml",
    "measure",
    "metric_base",
    "metric_choices",
    "metric_class",
    "metric_direction",
    "new_case_id",
    "now_text",
    "passes",
    "predictions_info",
    "quality_case_name",
    "resolve_cases_dir",
    "resolve_metric",
    "results_frame",
    "round_outward",
    "suggest_name",
    "tolerance_rule",
    "validate_case_id",
    "validate_case_name",
    "write_junit",
]
