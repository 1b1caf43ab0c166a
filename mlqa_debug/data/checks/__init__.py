"""Data checks: an ordered registry of functions, each returning a :class:`CheckResult`.

The loader runs every registered check (:func:`run_checks`); a ``fail`` at severity
``error`` refuses the table with the :class:`~mlqa_debug.errors.SchemaError` built
from that result (:meth:`CheckResult.to_error`); ``warn`` results become
``Predictions.warnings``. ``Predictions.checks()`` returns the results, and every
report (the Data page, ``mlqa-debug validate``, ``--json``) is made from them, so
a check that did not run shows ``skipped`` with the reason, never a tick.

The built-in checks are the input contract (:mod:`.contract`, :mod:`.nested`, then
:mod:`.targets`).
A new check is one registered function; it runs after those registered before it::

    from mlqa_debug.data.checks import (
        CheckContext, CheckResult, failed, passed, register, slice_text,
    )

    @register("feature_missing", "Features mostly present", after=("feature_types",),
              severity="warning")
    def feature_missing(context: CheckContext) -> CheckResult:
        share = context.frame[list(context.features)].isna().mean()
        worst = share[share > 0.5]
        if worst.empty:
            return passed("no feature is more than half missing")
        column = str(worst.index[0])
        rows = context.frame[column].isna().to_numpy().nonzero()[0]
        return failed(f"feature {column!r} is {worst.iloc[0]:.0%} missing", column=column,
                      rows=rows, slice=slice_text(column, "is missing"))

Import the module that registers it before loading (e.g. from this package's
``__init__``). ``severity="warning"`` reports a failure without refusing the table;
``after=`` makes the check ``skipped`` when a check it needs failed; ``before=``
runs it ahead of registered checks that need it (:mod:`.nested` runs before the
label and id checks this way); ``role="id"``
skips it when the table has no id column; ``task="classification"`` or
``"regression"`` restricts it to one kind of task.
"""

from mlqa_debug.data.checks import contract as contract  # registers the column checks
from mlqa_debug.data.checks import nested as nested  # then one value per cell, before them
from mlqa_debug.data.checks import targets as targets  # then the target checks
from mlqa_debug.data.checks.registry import (
    CHECKS,
    MAX_ROWS,
    SEVERITIES,
    STATUS_MARKS,
    STATUSES,
    Check,
    CheckContext,
    CheckFunction,
    CheckResult,
    Severity,
    Status,
    failed,
    first_blocking,
    passed,
    plural,
    register,
    rows_text,
    run_checks,
    skipped,
    slice_text,
    warned,
)
from mlqa_debug.data.checks.report import report_json, report_line, report_text

__all__ = [
    "CHECKS",
    "MAX_ROWS",
    "SEVERITIES",
    "STATUSES",
    "STATUS_MARKS",
    "Check",
    "CheckContext",
    "CheckFunction",
    "CheckResult",
    "Severity",
    "Status",
    "contract",
    "failed",
    "first_blocking",
    "nested",
    "passed",
    "plural",
    "register",
    "report_json",
    "report_line",
    "report_text",
    "rows_text",
    "run_checks",
    "skipped",
    "slice_text",
    "targets",
    "warned",
]
