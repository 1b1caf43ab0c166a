"""The validation report in words and as JSON, made from check results only.

The Data page, ``mlqa-debug validate`` and ``validate --json`` all render a list
of :class:`~.registry.CheckResult` (``Predictions.checks()``) through these, so
they cannot disagree with what the loader ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlqa_debug.data.checks.registry import CheckResult


def report_line(result: CheckResult) -> str:
    """``[ok] No missing labels: label column 'label': no missing values`` (its ``str``)."""
    return str(result)


def report_text(results: Iterable[CheckResult]) -> str:
    """The report as text: a ``checks:`` header, then one indented line per result."""
    return "\n".join(["checks:", *(f"  {report_line(r)}" for r in results)])


def report_json(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """The report as JSON-safe dicts, one per result, in run order."""
    return [r.to_dict() for r in results]
