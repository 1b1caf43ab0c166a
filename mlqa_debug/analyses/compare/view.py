"""Text for people on the Compare page: tables and sentences of a comparison, never ``nan``.

Every number goes through :mod:`mlqa_debug.stats.format`: rates read ``17.3%``,
differences of rates ``+0.6 pts``, other metrics three significant digits, an
undefined value ``–``. Plain strings only (the page makes user text inert).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlqa_debug.cases.conditions import RATE_METRICS, metric_base
from mlqa_debug.stats.format import MISSING, count, number, p_value, percent, points

if TYPE_CHECKING:
    from mlqa_debug.analyses.compare import (
        Flips,
        Headline,
        MetricDelta,
        NewFailures,
        PairedPredictions,
        SliceDeltas,
    )

__all__ = [
    "FLIP_LABELS",
    "SHORT_FLIP_LABELS",
    "MatchProblem",
    "deltas_frame",
    "difference_text",
    "flip_label",
    "flip_rows",
    "headline_frame",
    "interval_text",
    "is_rate",
    "lower_label",
    "match_problems",
    "newly_frame",
    "value_text",
    "verdict_sentence",
]

FLIP_LABELS = {
    "broken": "Broken: baseline right, candidate wrong",
    "fixed": "Fixed: baseline wrong, candidate right",
    "both_wrong_same": "Still wrong, same prediction",
    "both_wrong_different": "Still wrong, different prediction",
}
"""What each kind of flip means (classification)."""
REGRESSION_FLIP_LABELS = {
    "broken": "Broken: absolute error grew by more than the threshold",
    "fixed": "Fixed: absolute error shrank by more than the threshold",
    "both_wrong_same": "Still wrong: both over the threshold, change within it",
    "both_wrong_different": "Still wrong, different prediction",
}
"""What each kind of flip means (regression)."""
SHORT_FLIP_LABELS = {
    "broken": "Broken",
    "fixed": "Fixed",
    "both_wrong_same": "Still wrong, same",
    "both_wrong_different": "Still wrong, different",
}
EXAMPLES = 5
"""Ids shown per match problem."""
SIGNIFICANT_MARK = "▲"
"""Marks a slice where the candidate is significantly worse (after the correction)."""


def is_rate(metric: str) -> bool:
    """Rates (error rate, accuracy, precision ...) read as percentages, their changes in points."""
    return metric_base(metric) in RATE_METRICS


def value_text(value: float, metric: str) -> str:
    """One model's value of ``metric``: ``17.3%`` for rates, ``0.412`` otherwise."""
    return percent(value) if is_rate(metric) else number(value)


def difference_text(value: float, metric: str) -> str:
    """A difference of ``metric`` (candidate − baseline): ``+0.6 pts`` or ``+0.012``."""
    return points(value) if is_rate(metric) else number(value, signed=True)


def interval_text(low: float, high: float, metric: str) -> str:
    """``[+0.2 pts, +1.0 pts]``; ``–`` when either bound is undefined."""
    if not (_finite(low) and _finite(high)):
        return MISSING
    return f"[{difference_text(low, metric)}, {difference_text(high, metric)}]"


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _direction(delta: MetricDelta, alpha: float) -> str:
    if not _finite(delta.difference) or delta.difference == 0:
        return "same"
    word = "worse" if delta.worse else "better"
    significant = _finite(delta.p_value) and delta.p_value < alpha
    return word if significant else f"{word} (not significant)"


def lower_label(label: str) -> str:
    """A metric's label inside a sentence: ``Error rate`` -> ``error rate``; ``MAE`` stays."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def headline_frame(headline: Headline) -> pd.DataFrame:
    """One row per metric: both values, the difference, its 95% CI, p, the reading, the test."""
    rows = [
        {
            "metric": d.label,
            "baseline": value_text(d.baseline, d.metric),
            "candidate": value_text(d.candidate, d.metric),
            "difference": difference_text(d.difference, d.metric),
            "95% CI": interval_text(d.ci_low, d.ci_high, d.metric),
            "p": p_value(d.p_value),
            "reading": _direction(d, headline.alpha),
            "test": d.test,
        }
        for d in headline.rows
    ]
    return pd.DataFrame(rows, columns=["metric", "baseline", "candidate", "difference",
                                       "95% CI", "p", "reading", "test"])  # fmt: skip


def verdict_sentence(verdict: str, headline: Headline, deltas: SliceDeltas | None) -> str:
    """What the verdict rests on: the primary metric's change and the significant slices."""
    d = headline.primary
    change = (
        f"{d.label} {value_text(d.baseline, d.metric)} → {value_text(d.candidate, d.metric)} "
        f"({difference_text(d.difference, d.metric)}, 95% CI "
        f"{interval_text(d.ci_low, d.ci_high, d.metric)}, p {_p_phrase(d.p_value)}; {d.test})"
    )
    parts = [f"{verdict}: {change} on {count(headline.n)} paired rows"]
    if deltas is not None:
        worse = int(deltas.frame["significant"].sum()) if len(deltas.frame) else 0
        slices = "slice is" if worse == 1 else "slices are"
        parts.append(
            f"{count(worse)} of {count(deltas.n_compared)} {slices} significantly worse "
            f"(adjusted p < {deltas.alpha:g}, {_correction_name(deltas.correction)})"
        )
    return "; ".join(parts) + "."


def _p_phrase(p: float) -> str:
    text = p_value(p)
    return text if text.startswith("<") or text == MISSING else f"= {text}"


def _correction_name(correction: str) -> str:
    return {"holm": "Holm", "bh": "Benjamini-Hochberg"}.get(correction, correction)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchProblem:
    """One way the two tables fail to pair up: how many, and a few of the ids."""

    problem: str
    count: int
    examples: str


def _examples(ids: Sequence[Any] | Any) -> str:
    values = list(ids[:EXAMPLES])
    text = ", ".join(map(str, values))
    return text + (", …" if len(ids) > EXAMPLES else "")


def match_problems(paired: PairedPredictions) -> list[MatchProblem]:
    """Rows only in one table, duplicated ids and label mismatches (those that occur)."""
    found = [
        ("Only in the baseline (not compared)", paired.only_in_baseline),
        ("Only in the candidate (not compared)", paired.only_in_candidate),
        ("Duplicated ids in the baseline", paired.duplicated_baseline),
        ("Duplicated ids in the candidate", paired.duplicated_candidate),
        ("Labels differ between the tables (not compared)", paired.label_mismatches),
    ]
    return [MatchProblem(what, len(ids), _examples(ids)) for what, ids in found if len(ids)]


def match_frame(problems: Iterable[MatchProblem]) -> pd.DataFrame:
    """The problems as a table: problem, rows, example ids."""
    return pd.DataFrame(
        [{"problem": p.problem, "rows": count(p.count), "examples": p.examples} for p in problems],
        columns=["problem", "rows", "examples"],
    )


# --------------------------------------------------------------------------- flips


def flip_label(kind: str, *, regression: bool = False) -> str:
    """What a kind of flip means, for a selector or a caption."""
    return (REGRESSION_FLIP_LABELS if regression else FLIP_LABELS)[kind]


def flip_rows(
    flips: Flips, kinds: Iterable[str] = tuple(SHORT_FLIP_LABELS)
) -> list[tuple[str, str, str]]:
    """``(label, count, rate)`` of each of ``kinds`` that applies, in that order."""
    rows = []
    for kind in kinds:
        n = getattr(flips, kind)
        if n is None:
            continue
        rows.append((SHORT_FLIP_LABELS[kind], count(n), percent(flips.rate(kind), digits=2)))
    return rows


def flip_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A page of flipped rows for display: probabilities and errors as text, ``–`` for none."""
    shown = frame.copy()
    for column in shown.columns:
        if not isinstance(column, str) or not pd.api.types.is_float_dtype(shown[column]):
            continue
        if column in _FLIP_NUMBERS or column.startswith(("baseline P(", "candidate P(")):
            signed = column == "change"
            shown[column] = [number(v, signed=signed) for v in shown[column]]
    return shown


#: Float columns of a flips page written as text (regression labels and predictions too).
_FLIP_NUMBERS = frozenset({
    "label", "baseline prediction", "candidate prediction", "baseline confidence",
    "candidate confidence", "baseline abs error", "candidate abs error", "change",
})  # fmt: skip


# --------------------------------------------------------------------------- slices


def deltas_frame(
    deltas: SliceDeltas,
    *,
    here: Callable[[str], str],
    on_slices: Callable[[str], str],
) -> pd.DataFrame:
    """The slice deltas as text, worst first, with a link to each slice here and on Slices.

    ``worse`` marks the significantly worse rows; the boolean ``significant`` is kept (not to show).
    """
    f = deltas.frame
    metric = deltas.metric
    marks = f["significant"].astype(bool).to_numpy()
    table = pd.DataFrame(
        {
            "worse": np.where(marks, SIGNIFICANT_MARK, ""),
            "slice": [text or "all rows" for text in f["slice"]],
            "kind": f["kind"],
            "rows": [count(n) for n in f["rows"]],
            "baseline": [value_text(v, metric) for v in f["baseline"]],
            "candidate": [value_text(v, metric) for v in f["candidate"]],
            "difference": [difference_text(v, metric) for v in f["difference"]],
            "95% CI": [
                interval_text(lo, hi, metric)
                for lo, hi in zip(f["ci_low"], f["ci_high"], strict=True)
            ],
            "p": [p_value(p) for p in f["p_value"]],
            "adjusted p": [p_value(p) for p in f["p_adjusted"]],
        }
    )
    if "broken" in f.columns:
        table["broken"] = [count(n) for n in f["broken"]]
        table["fixed"] = [count(n) for n in f["fixed"]]
    table["open here"] = [here(text) for text in f["slice"]]
    table["on Slices"] = [on_slices(text) for text in f["slice"]]
    table["significant"] = marks
    return table


def deltas_caption(deltas: SliceDeltas) -> str:
    """How the table was made: metric, tests, correction, what was hidden."""
    what = "error rate" if deltas.metric == "error_rate" else "mean absolute error"
    tests = (
        "McNemar exact p, Newcombe paired 95% interval"
        if deltas.metric == "error_rate"
        else "paired t test and interval on |e_candidate| − |e_baseline|"
    )
    hidden = (
        f"; {count(deltas.n_hidden)} {'slice' if deltas.n_hidden == 1 else 'slices'} under "
        f"{count(deltas.min_size)} rows hidden"
        if deltas.n_hidden
        else ""
    )
    return (
        f"Candidate − baseline {what} per feature value (numeric features in quantile bins); "
        f"{tests}; p adjusted for the {count(deltas.n_compared)} slices compared "
        f"({_correction_name(deltas.correction)}). {SIGNIFICANT_MARK}: worse with adjusted p < "
        f"{deltas.alpha:g}{hidden}."
    )


# --------------------------------------------------------------------------- newly failing


def newly_frame(
    newly: NewFailures,
    *,
    here: Callable[[str], str],
    on_slices: Callable[[str], str],
) -> pd.DataFrame:
    """The slices where the candidate broke rows, ranked, with links."""
    rows = [
        {
            "rank": rank,
            "slice": f.slice.text or "all rows",
            "rows": count(f.size),
            "broken": count(f.broken),
            "broken rate": percent(f.broken_rate),
            "baseline error": percent(f.baseline_error),
            "candidate error": percent(f.candidate_error),
            "difference": points(f.difference),
            "p": p_value(f.p_value),
            "score": number(f.score),
            "open here": here(f.slice.text),
            "on Slices": on_slices(f.slice.text),
        }
        for rank, f in enumerate(newly.slices, start=1)
    ]
    columns = ["rank", "slice", "rows", "broken", "broken rate", "baseline error",
               "candidate error", "difference", "p", "score", "open here", "on Slices"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
