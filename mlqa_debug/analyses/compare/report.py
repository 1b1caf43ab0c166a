"""A comparison of two model versions as one result: :func:`compare`, its JSON and its JUnit XML.

:func:`compare` pairs the candidate's rows with the baseline's by id, and runs
the headline metrics, the flips, the per-slice deltas and (optionally) the search
for slices where the candidate newly fails, all inside the user's slice. The
:class:`Comparison` it returns decides the verdict:

- **Regression**: the primary metric (error rate, MAE for regression) is worse
  with ``p < alpha``, or some slice is worse with an adjusted ``p < alpha``;
- **Improvement**: the primary metric is better with ``p < alpha`` and no slice
  is significantly worse;
- **No significant difference** otherwise.

:meth:`Comparison.to_dict` is the JSON of ``mlqa-debug compare --json`` (valid
JSON: nan and infinities are ``null``); :func:`comparison_junit` is one JUnit
test case for the overall comparison plus one per slice checked, failing where
the candidate is significantly worse, so Jenkins names the slice that regressed.
The Markdown review summary is :mod:`.summary`.
"""

from __future__ import annotations

import math
import socket
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from mlqa_debug.analyses.compare.deltas import SliceDeltas, candidate_encoding, slice_deltas
from mlqa_debug.analyses.compare.flips import Flips, flip_counts
from mlqa_debug.analyses.compare.headline import Headline, MetricDelta, headline
from mlqa_debug.analyses.compare.newly import NewFailures, newly_failing
from mlqa_debug.analyses.compare.pairing import PairedPredictions, pair_predictions
from mlqa_debug.analyses.compare.view import difference_text, interval_text, value_text
from mlqa_debug.cache import DiskCache
from mlqa_debug.cases.export import xml_text
from mlqa_debug.data.ids import plain_id
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import CompareError, ParameterError, SliceError
from mlqa_debug.files import write_atomic
from mlqa_debug.slicing import EMPTY, Slice, slice_mask
from mlqa_debug.stats.corrections import CORRECTIONS, Correction
from mlqa_debug.stats.format import count, p_value

__all__ = [
    "MAX_EXAMPLES",
    "VERDICTS",
    "WHOLE_KINDS",
    "Comparison",
    "TableInfo",
    "compare",
    "comparison_junit",
    "plain",
    "records",
    "slice_test_name",
    "write_comparison_junit",
]

MAX_EXAMPLES = 20
"""Example ids the JSON lists per match problem."""
VERDICTS = ("Regression", "Improvement", "No significant difference")
WHOLE_KINDS = frozenset({"all rows", "current slice"})
"""Kinds of the slice-deltas row that stands for every compared row (the headline's rows)."""
SUITE_NAME = "mlqa-debug compare"


@dataclass(frozen=True)
class TableInfo:
    """Which table one side of the comparison is: name, file, fingerprint and model."""

    name: str
    file: str | None
    fingerprint: str
    model: str | None
    model_version: str | None

    @classmethod
    def of(cls, predictions: Predictions, name: str | None = None) -> TableInfo:
        model = predictions.schema.model
        file = Path(predictions.source).name if predictions.source else None
        return cls(
            name=name or file or "table",
            file=file,
            fingerprint=predictions.fingerprint,
            model=None if model is None else model.name,
            model_version=None if model is None or model.version is None else str(model.version),
        )

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:8]

    @property
    def model_text(self) -> str:
        """``loans-hgb 2``, or ``""`` without a model."""
        return f"{self.model} {self.model_version or ''}".strip() if self.model else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "fingerprint": self.fingerprint,
            "model": self.model,
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare`` found: pairing, headline, flips, slice deltas, new failures."""

    paired: PairedPredictions
    where: Slice
    headline: Headline
    flips: Flips
    deltas: SliceDeltas
    newly: NewFailures | None
    alpha: float
    candidate_name: str | None = None
    baseline_name: str | None = None

    @property
    def candidate(self) -> TableInfo:
        return TableInfo.of(self.paired.candidate, self.candidate_name)

    @property
    def baseline(self) -> TableInfo:
        return TableInfo.of(self.paired.baseline, self.baseline_name)

    @property
    def primary_worse(self) -> bool:
        """The primary metric is worse with ``p < alpha``."""
        return _significant(self.headline.primary, self.alpha) and self.headline.primary.worse

    @property
    def primary_better(self) -> bool:
        p = self.headline.primary
        return _significant(p, self.alpha) and not p.worse and p.difference != 0

    @property
    def worse_slices(self) -> pd.DataFrame:
        """The slices significantly worse after adjustment, worst first.

        Leaves out the row of all compared rows (or of the user's slice): the
        headline stands for it, with the same test before adjustment.
        """
        frame = self.deltas.frame
        if not len(frame):
            return frame
        return frame[frame["significant"].astype(bool) & ~frame["kind"].isin(WHOLE_KINDS)]

    @property
    def regression(self) -> bool:
        """The primary metric significantly worse, or any slice worse after adjustment."""
        return self.primary_worse or len(self.worse_slices) > 0

    @property
    def verdict(self) -> str:
        if self.regression:
            return "Regression"
        return "Improvement" if self.primary_better else "No significant difference"

    @property
    def correction(self) -> Correction:
        return self.deltas.correction

    def tests_text(self) -> str:
        """Which tests gave the numbers, and how the slices' p-values were adjusted."""
        by_test: dict[str, list[str]] = {}
        for d in self.headline.rows:
            by_test.setdefault(d.test, []).append(d.label)
        metrics = "; ".join(f"{', '.join(labels)}: {test}" for test, labels in by_test.items())
        per_slice = (
            "McNemar exact test with a Newcombe paired interval"
            if self.deltas.metric == "error_rate"
            else "paired t test and interval on the change of absolute error"
        )
        return (
            f"Headline (95% intervals, two-sided p): {metrics}. Slices: {per_slice} per "
            f"feature value (numeric features in quantile bins), p-values adjusted with "
            f"{CORRECTIONS[self.correction]} over {count(self.deltas.n_compared)} slices of "
            f"at least {count(self.deltas.min_size)} rows; significant: worse with adjusted "
            f"p < {self.alpha:g}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``mlqa-debug compare --json``); nan and infinities are None."""
        paired = self.paired
        data: dict[str, Any] = {
            "verdict": self.verdict,
            "regression": self.regression,
            "candidate": self.candidate.to_dict(),
            "baseline": self.baseline.to_dict(),
            "where": self.where.text,
            "rows": paired.n,
            "slice_rows": self.headline.n,
            "paired_by": "position" if paired.by_position else "id",
            "only_in_baseline": len(paired.only_in_baseline),
            "only_in_candidate": len(paired.only_in_candidate),
            "duplicated_baseline": len(paired.duplicated_baseline),
            "duplicated_candidate": len(paired.duplicated_candidate),
            "label_mismatches": len(paired.label_mismatches),
            "examples": {name: _examples(ids) for name, ids in _match_problems(paired).items()},
            "flips": _flips_dict(self.flips),
            "overall": {d.metric: _metric_dict(d, self.alpha) for d in self.headline.rows},
            "primary_metric": self.headline.primary.metric,
            "slice_metric": self.deltas.metric,
            "slices": [_slice_dict(row) for row in records(self.deltas.frame)],
            "slices_compared": self.deltas.n_compared,
            "slices_hidden": self.deltas.n_hidden,
            "alpha": self.alpha,
            "correction": self.correction,
            "min_size": self.deltas.min_size,
            "tests": self.tests_text(),
        }
        if self.newly is not None:
            data["newly_failing"] = _newly_dict(self.newly)
        return cast(dict[str, Any], plain(data))


def _significant(delta: MetricDelta, alpha: float) -> bool:
    return math.isfinite(delta.p_value) and delta.p_value < alpha


def _match_problems(paired: PairedPredictions) -> dict[str, np.ndarray]:
    return {
        "only_in_baseline": paired.only_in_baseline,
        "only_in_candidate": paired.only_in_candidate,
        "duplicated_baseline": paired.duplicated_baseline,
        "duplicated_candidate": paired.duplicated_candidate,
        "label_mismatches": paired.label_mismatches,
    }


def _examples(ids: np.ndarray) -> list[Any]:
    return [plain_id(v) for v in list(ids[:MAX_EXAMPLES])]


def _flips_dict(flips: Flips) -> dict[str, Any]:
    kinds = ("broken", "fixed", "both_wrong_same", "both_wrong_different")
    counts = {kind: getattr(flips, kind) for kind in kinds}
    return {
        "n": flips.n,
        "both_right": flips.both_right,
        **counts,
        "rates": {kind: None if n is None else flips.rate(kind) for kind, n in counts.items()},
    }


def _metric_dict(d: MetricDelta, alpha: float) -> dict[str, Any]:
    return {
        "label": d.label,
        "baseline": d.baseline,
        "candidate": d.candidate,
        "difference": d.difference,
        "ci_low": d.ci_low,
        "ci_high": d.ci_high,
        "p_value": d.p_value,
        "test": d.test,
        "higher_is_better": d.higher_is_better,
        "worse": d.worse,
        "significant": _significant(d, alpha),
    }


_SLICE_KEYS = ("feature", "kind", "baseline", "candidate", "difference", "ci_low", "ci_high",
               "p_value", "p_adjusted", "worse", "significant", "broken", "fixed")  # fmt: skip


def _slice_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = {"slice": row["slice"], "size": row["rows"]}
    return out | {k: row[k] for k in _SLICE_KEYS if k in row}


def _newly_dict(newly: NewFailures) -> dict[str, Any]:
    return {
        "rows": newly.n_rows,
        "broken": newly.n_broken,
        "cached": newly.cached,
        "slices": [
            {
                "slice": f.slice.text,
                "size": f.size,
                "broken": f.broken,
                "broken_rate": f.broken_rate,
                "score": f.score,
                "baseline": f.baseline_error,
                "candidate": f.candidate_error,
                "difference": f.difference,
                "p_value": f.p_value,
            }
            for f in newly.slices
        ],
    }


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python values, tuples as lists and nan/inf as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


# --------------------------------------------------------------------------- compare


def _check_options(alpha: float, min_size: int, correction: str) -> None:
    if isinstance(alpha, bool) or not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ParameterError(
            f"alpha must be a number between 0 and 1 (exclusive), got {alpha!r}",
            name="alpha",
            value=alpha,
        )
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ParameterError(
            f"the minimum slice size must be a whole number of rows >= 1, got {min_size!r}",
            name="min_size",
            value=min_size,
        )
    if correction not in CORRECTIONS:
        raise ParameterError(
            f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}",
            name="correction",
            value=correction,
        )


def _pair_mask(paired: PairedPredictions, where: Slice) -> np.ndarray | None:
    """The pairs inside ``where`` (None: all); SliceError when the slice holds no pair."""
    if where == EMPTY:
        return None
    mask = paired.pair_mask(slice_mask(paired.candidate, where))
    if not mask.any():
        raise SliceError(
            f"the slice {where.text!r} selects none of the {count(paired.n)} compared rows",
            text=where.text,
        )
    return mask


def compare(
    candidate: Predictions,
    baseline: Predictions,
    *,
    where: Slice = EMPTY,
    alpha: float = 0.05,
    min_size: int = 30,
    correction: Correction = "holm",
    discover: bool = True,
    cache: DiskCache | None = None,
    names: tuple[str | None, str | None] = (None, None),
) -> Comparison:
    """Compare ``candidate`` (the new model) with ``baseline`` (the old one) inside ``where``.

    ``names`` are (candidate, baseline) names for reports (default: the file names).
    ``discover`` also runs the search for slices where the candidate newly fails
    (SliceLine; cached in ``cache``). Raises :class:`CompareError` for tables that
    cannot be paired, :class:`SliceError` for a slice that does not fit the
    candidate or selects no compared row, :class:`ParameterError` for bad options.
    """
    _check_options(alpha, min_size, correction)
    with ThreadPoolExecutor(max_workers=1) as pool:  # code the features while pairing the ids
        coded = pool.submit(candidate_encoding, candidate)
        paired = pair_predictions(candidate, baseline)
        coded.result()
    if paired.n == 0:
        raise CompareError("no row pairs up between the candidate and the baseline")
    mask = _pair_mask(paired, where)
    deltas = slice_deltas(
        paired, mask, within=where, min_size=min_size, correction=correction, alpha=alpha
    )
    return Comparison(
        paired=paired,
        where=where,
        headline=headline(paired, mask, alpha=alpha),
        flips=flip_counts(paired, mask),
        deltas=deltas,
        newly=newly_failing(paired, mask, within=where, cache=cache) if discover else None,
        alpha=float(alpha),
        candidate_name=names[0],
        baseline_name=names[1],
    )


# --------------------------------------------------------------------------- JUnit XML


def slice_test_name(text: str) -> str:
    """A slice's JUnit test name: its text, ``all rows`` for the empty slice."""
    return text or "all rows"


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        node.text = xml_text(text)
    return node


def _metric_line(d: MetricDelta) -> str:
    return (
        f"{d.label}: {value_text(d.baseline, d.metric)} -> {value_text(d.candidate, d.metric)} "
        f"({difference_text(d.difference, d.metric)}, 95% CI "
        f"{interval_text(d.ci_low, d.ci_high, d.metric)}, p {p_value(d.p_value)}, {d.test})"
    )


def _overall_case(suite: ET.Element, comparison: Comparison) -> bool:
    primary = comparison.headline.primary
    details = "\n".join(
        [
            f"{count(comparison.headline.n)} paired rows in "
            f"{slice_test_name(comparison.where.text)}",
            comparison.paired.summary(),
            "",
            *(_metric_line(d) for d in comparison.headline.rows),
        ]
    )
    node = _element(suite, "testcase", classname="mlqa_debug.compare", name="overall", time="0")
    failed = comparison.primary_worse
    if failed:
        message = f"significantly worse (alpha {comparison.alpha:g}): {_metric_line(primary)}"
        _element(node, "failure", details, message=message, type="SignificantRegression")
    else:
        _element(node, "system-out", details)
    return failed


def _slice_line(row: dict[str, Any], metric: str, correction: Correction) -> str:
    return (
        f"{slice_test_name(row['slice'])}: {value_text(row['baseline'], metric)} -> "
        f"{value_text(row['candidate'], metric)} ({difference_text(row['difference'], metric)}, "
        f"95% CI {interval_text(row['ci_low'], row['ci_high'], metric)}) on "
        f"{count(row['rows'])} rows; p {p_value(row['p_value'])}, "
        f"{CORRECTIONS[correction]}-adjusted p {p_value(row['p_adjusted'])}"
    )


def _slice_case(suite: ET.Element, row: dict[str, Any], comparison: Comparison) -> bool:
    deltas = comparison.deltas
    line = _slice_line(row, deltas.metric, deltas.correction)
    extra = (
        f"\nbroken {count(row['broken'])}, fixed {count(row['fixed'])}" if "broken" in row else ""
    )
    node = _element(
        suite,
        "testcase",
        classname=f"mlqa_debug.compare.{row.get('feature') or 'slice'}",
        name=slice_test_name(row["slice"]),
        time="0",
    )
    failed = bool(row["significant"])
    if failed:
        message = f"significantly worse (alpha {comparison.alpha:g}): {line}"
        _element(node, "failure", line + extra, message=message, type="SignificantRegression")
    else:
        _element(node, "system-out", line + extra)
    return failed


def comparison_junit(comparison: Comparison) -> bytes:
    """JUnit XML (UTF-8): a testcase ``overall`` plus one per slice checked (above min size)."""
    root = ET.Element("testsuites", {"name": SUITE_NAME})
    suite = _element(
        root,
        "testsuite",
        name=f"{SUITE_NAME}: {comparison.candidate.name} vs {comparison.baseline.name}",
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )
    props = _element(suite, "properties")
    for key, value in _properties(comparison).items():
        if value is not None:
            _element(props, "property", name=key, value=value)
    failures = [_overall_case(suite, comparison)]
    for row in records(comparison.deltas.frame):
        if row["kind"] not in WHOLE_KINDS:
            failures.append(_slice_case(suite, row, comparison))
    counts = {"tests": len(failures), "failures": sum(failures), "errors": 0, "skipped": 0}
    for node in (root, suite):
        node.attrib.update({k: str(v) for k, v in counts.items()} | {"time": "0"})
    ET.indent(root)
    return cast(bytes, ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _properties(comparison: Comparison) -> dict[str, Any]:
    out: dict[str, Any] = {"verdict": comparison.verdict, "where": comparison.where.text}
    for side, info in (("candidate", comparison.candidate), ("baseline", comparison.baseline)):
        out |= {f"{side}.{k}": v for k, v in info.to_dict().items()}
    return out | {
        "rows": comparison.paired.n,
        "alpha": comparison.alpha,
        "correction": comparison.correction,
        "min_size": comparison.deltas.min_size,
        "slices_compared": comparison.deltas.n_compared,
    }


def write_comparison_junit(path: str | Path, comparison: Comparison) -> Path:
    """Write :func:`comparison_junit` to ``path`` atomically (parent folders are created)."""
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, comparison_junit(comparison))
    except OSError as e:
        raise ParameterError(
            f"cannot write the JUnit report {str(target)!r}: {e}", name="junit", value=str(path)
        ) from e
    return target
