"""Drift between a reference table (training, an earlier period) and the current one.

Per feature, and for the label and the prediction: the population stability
index (PSI) over bins of the reference, and a two-sample test, Kolmogorov-Smirnov
for numeric columns (``scipy.stats.ks_2samp``, asymptotic) and chi-squared for
categorical ones (``scipy.stats.chi2_contingency`` on the two tables' counts).

At a million rows any test rejects for a negligible shift, so a column is called
*drifted* by its effect size, the PSI, with the usual conventions: under
:data:`PSI_MODERATE` (0.1) stable, up to :data:`PSI_MAJOR` (0.25) moderate, above
major; drifted means at least moderate. The p-value is reported beside it, not
used to flag. Results are ranked by PSI, largest first.

Drift of the error rate per slice (:func:`slice_error_drift`) needs a reference
with predictions: the one-predicate slices of each feature that both tables have
(the current table's bins from :func:`mlqa_debug.slicing.encode_features`, as the
breakdown and discovery use them, applied to both tables by the slices' own
masks), each slice's error rate on both with Wilson intervals, the difference
(current minus reference) with Newcombe's interval and the test of the Slices
page (:func:`mlqa_debug.stats.two_proportion_p_value`), Holm-adjusted over every
slice compared. Slices with fewer than :data:`MIN_SLICE_ROWS` rows in either
table are left out. Ranked by effect size, the significant slices (after Holm)
first: the smallest change the 95% interval allows (0 when it covers 0), then
the difference. A regression reference's
errors use the current table's error threshold, so both count the same misses.

Bins: numeric columns are cut at the reference's deciles (:data:`N_BINS`, fewer
when values repeat), categorical ones keep the reference's
:data:`MAX_CATEGORIES` most common values and pool the rest as "(other)". Missing
values are a bin of their own in both. An empty bin's share is raised to
:data:`EPSILON` in the PSI so that it stays finite. Each result keeps both
tables' bin shares, for one chart per column.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import SliceError
from mlqa_debug.slicing import Slice, encode_features, parse_slice
from mlqa_debug.stats import (
    Estimate,
    adjust_p_values,
    newcombe_difference,
    proportion_estimate,
    two_proportion_p_value,
)

PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
N_BINS = 10
MAX_CATEGORIES = 20
EPSILON = 1e-4
MISSING = "(missing)"
OTHER = "(other)"
SLICE_BINS = 5
"""Quantile bins per numeric feature in the error-rate drift (the breakdown's)."""
MIN_SLICE_ROWS = 30
"""Fewest rows a slice needs in each table for its error-rate drift to be compared."""
MAX_DRIFT_SLICES = 50
"""Slices :func:`slice_error_drift` returns by default (the most drifted)."""
ALPHA = 0.05
"""Significance level of the error-rate drift, after Holm's correction."""

Level = Literal["stable", "moderate", "major"]


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift: effect size, test, verdict and both distributions."""

    column: str
    role: Literal["feature", "label", "prediction"]
    kind: Literal["numeric", "categorical"]
    psi: float
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    bins: tuple[str, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]

    @property
    def level(self) -> Level:
        """``stable`` under 0.1, ``moderate`` up to 0.25, ``major`` above (PSI)."""
        if self.psi >= PSI_MAJOR:
            return "major"
        return "moderate" if self.psi >= PSI_MODERATE else "stable"

    @property
    def drifted(self) -> bool:
        return self.level != "stable"


def population_stability_index(
    reference_share: Sequence[float] | np.ndarray,
    current_share: Sequence[float] | np.ndarray,
    *,
    epsilon: float = EPSILON,
) -> float:
    """``sum((current - reference) * ln(current / reference))`` over the bins."""
    ref = np.maximum(np.asarray(reference_share, dtype=np.float64), epsilon)
    cur = np.maximum(np.asarray(current_share, dtype=np.float64), epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def feature_drift(
    current: Predictions,
    reference: Predictions,
    *,
    columns: Sequence[str] | None = None,
    n_bins: int = N_BINS,
) -> list[FeatureDrift]:
    """Drift of every feature both tables have (or ``columns``), the label and the prediction.

    Ranked by PSI, largest first. A column's kind is the current table's
    (numeric and datetime columns are compared as numbers, the rest as categories).
    """
    shared = [c for c in current.schema.features if c in reference.frame.columns]
    chosen = list(columns) if columns is not None else shared
    kinds = current.column_kinds
    roles: list[tuple[str, Literal["feature", "label", "prediction"]]] = [
        (c, "feature") for c in chosen
    ]
    for role, name in (("label", current.schema.label), ("prediction", current.schema.prediction)):
        if name is not None and name in reference.frame.columns and name not in chosen:
            roles.append((name, role))  # type: ignore[arg-type]
    results = []
    for column, role in roles:
        ref, cur = reference.frame[column], current.frame[column]
        if role == "feature":
            numeric = kinds.get(column) in ("numeric", "datetime")
        else:  # the label and the prediction: classes, or a regression target
            numeric = not current.schema.is_classification
        compare = _numeric_drift if numeric else _categorical_drift
        results.append(compare(column, role, ref, cur, n_bins))
    return sorted(results, key=lambda d: (-d.psi, d.column))


def _as_numbers(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        values[series.isna().to_numpy()] = np.nan
        return values
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric_drift(
    column: str, role: Any, ref: pd.Series, cur: pd.Series, n_bins: int
) -> FeatureDrift:
    a, b = _as_numbers(ref), _as_numbers(cur)
    a_ok, b_ok = a[~np.isnan(a)], b[~np.isnan(b)]
    inner = np.linspace(0, 1, n_bins + 1)[1:-1]  # the reference's deciles by default
    edges = np.unique(np.quantile(a_ok, inner)) if len(a_ok) else np.empty(0)
    labels = _interval_labels(edges)
    ref_counts, cur_counts = _bin_counts(a, edges), _bin_counts(b, edges)
    statistic, p = (
        _ks_2samp(np.sort(a_ok), np.sort(b_ok))
        if len(a_ok) and len(b_ok)
        else (
            math.nan,
            math.nan,
        )
    )
    return _result(column, role, "numeric", "ks", labels, ref_counts, cur_counts, statistic, p)


def _ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov-Smirnov on sorted samples: D and its asymptotic p.

    The same statistic and p-value as ``scipy.stats.ks_2samp(a, b, method="asymp")``
    (Smirnov's distribution at the effective size ``n1 n2 / (n1 + n2)``), computed
    with the pooled values sorted, so each lookup walks the samples in order: about
    4x faster at a million rows, where scipy looks up the unsorted pooled values.
    """
    from scipy import stats  # lazily: the CLI's import time

    pooled = np.sort(np.concatenate([a, b]), kind="mergesort")
    gap = np.searchsorted(a, pooled, side="right") / len(a)
    gap -= np.searchsorted(b, pooled, side="right") / len(b)
    d = float(np.clip(np.abs(gap).max(), 0.0, 1.0))
    m, n = sorted((float(len(a)), float(len(b))), reverse=True)
    p = float(stats.kstwo.sf(d, np.round(m * n / (m + n))))
    return d, float(np.clip(p, 0.0, 1.0))


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e1], (e1, e2] ... (ek, inf)`` and a last bin for missing values."""
    missing = np.isnan(values)
    codes = np.searchsorted(edges, values[~missing], side="left")
    counts = np.bincount(codes, minlength=len(edges) + 1)
    return np.append(counts, missing.sum())


def _interval_labels(edges: np.ndarray) -> list[str]:
    if not len(edges):
        return ["all values", MISSING]
    shown = [f"{e:.4g}" for e in edges]
    labels = [f"≤ {shown[0]}"]
    labels += [f"{lo} – {hi}" for lo, hi in itertools.pairwise(shown)]
    return [*labels, f"> {shown[-1]}", MISSING]


def _categorical_drift(
    column: str, role: Any, ref: pd.Series, cur: pd.Series, n_bins: int
) -> FeatureDrift:
    from scipy import stats

    ref_values, cur_values = _value_counts(ref), _value_counts(cur)
    bins = list(ref_values.index[:MAX_CATEGORIES])
    ref_counts = _category_counts(ref_values, bins, int(ref.isna().sum()))
    cur_counts = _category_counts(cur_values, bins, int(cur.isna().sum()))
    labels = [*bins, OTHER, MISSING]
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1 and table.sum(axis=1).all():
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(chi2), float(p)
    else:
        statistic, p_value = 0.0, 1.0  # one category in all: nothing to test
    return _result(
        column, role, "categorical", "chi2", labels, ref_counts, cur_counts, statistic, p_value
    )


def _value_counts(series: pd.Series) -> pd.Series:
    """Counts of the non-missing values keyed by their text (so 1 and "1" meet), most first."""
    counts = series.value_counts(dropna=True, sort=False)
    counts.index = counts.index.map(str)
    return counts.groupby(level=0).sum().sort_values(ascending=False, kind="stable")


def _category_counts(counts: pd.Series, bins: list[str], missing: int) -> np.ndarray:
    """Counts of ``bins``, then of every other value, then of the missing values."""
    known = counts.reindex(bins, fill_value=0).to_numpy(dtype=np.int64)
    return np.append(known, [int(counts.sum()) - int(known.sum()), missing])


def _result(
    column: str,
    role: Any,
    kind: Literal["numeric", "categorical"],
    test: Literal["ks", "chi2"],
    labels: list[str],
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    statistic: float,
    p_value: float,
) -> FeatureDrift:
    ref_share = ref_counts / max(int(ref_counts.sum()), 1)
    cur_share = cur_counts / max(int(cur_counts.sum()), 1)
    return FeatureDrift(
        column=column,
        role=role,
        kind=kind,
        psi=population_stability_index(ref_share, cur_share),
        test=test,
        statistic=statistic,
        p_value=p_value,
        bins=tuple(labels),
        reference_share=tuple(float(x) for x in ref_share),
        current_share=tuple(float(x) for x in cur_share),
    )


def drift_json(drifts: Sequence[FeatureDrift]) -> list[dict[str, Any]]:
    """``[{"column", "role", "psi", "level", "statistic", "p_value", "test", "drifted"}]``."""
    return [
        {
            "column": d.column,
            "role": d.role,
            "psi": d.psi,
            "level": d.level,
            "statistic": None if math.isnan(d.statistic) else d.statistic,
            "p_value": None if math.isnan(d.p_value) else d.p_value,
            "test": d.test,
            "drifted": d.drifted,
        }
        for d in drifts
    ]


@dataclass(frozen=True)
class SliceErrorDrift:
    """One slice's error rate on both tables and how it moved (current minus reference)."""

    slice: str
    n_reference: int
    n_current: int
    reference: Estimate
    current: Estimate
    difference: Estimate
    p_value: float
    adjusted_p: float
    significant: bool

    @property
    def effect(self) -> float:
        """The smallest change the 95% interval allows: 0 when it covers 0."""
        d = self.difference
        return max(d.low, -d.high, 0.0)


def slice_drift_skipped(current: Predictions, reference: Predictions) -> str | None:
    """Why the error rate per slice cannot be compared, or ``None`` when it can."""
    if reference.schema.prediction == reference.schema.label:
        return "the reference has no predictions (a training set): its error rate is unknown"
    if current.schema.is_classification != reference.schema.is_classification:
        return "one table is a regression and the other a classification"
    return None


def slice_error_drift(
    current: Predictions,
    reference: Predictions,
    *,
    slices: Sequence[str | Slice] | None = None,
    max_slices: int = MAX_DRIFT_SLICES,
    min_rows: int = MIN_SLICE_ROWS,
    alpha: float = ALPHA,
) -> list[SliceErrorDrift]:
    """The slices whose error rate moved most from the reference to the current table.

    ``slices`` defaults to the one-predicate slices of every shared, non-text
    feature (module docstring). Empty when :func:`slice_drift_skipped` gives a
    reason. Holm adjusts over every slice compared; the first ``max_slices`` of the
    ranking (significant first, then by effect size) are returned.
    """
    if slice_drift_skipped(current, reference) is not None:
        return []
    errors = current.error, _reference_errors(current, reference)
    counts: list[tuple[str, int, int, int, int]] = []
    for text, mask, other in _slice_masks(current, reference, slices):
        n_cur, n_ref = int(mask.sum()), int(other.sum())
        if min(n_cur, n_ref) >= max(min_rows, 1):
            k_cur, k_ref = int(errors[0][mask].sum()), int(errors[1][other].sum())
            counts.append((text, k_cur, n_cur, k_ref, n_ref))
    raw = [two_proportion_p_value(k1, n1, k2, n2) for _, k1, n1, k2, n2 in counts]
    adjusted = adjust_p_values(raw, method="holm") if raw else np.zeros(0)
    drifts = [
        SliceErrorDrift(
            slice=text,
            n_reference=n2,
            n_current=n1,
            reference=proportion_estimate(k2, n2),
            current=proportion_estimate(k1, n1),
            difference=newcombe_difference(k1, n1, k2, n2),
            p_value=p,
            adjusted_p=float(adj),
            significant=bool(adj < alpha),
        )
        for (text, k1, n1, k2, n2), p, adj in zip(counts, raw, adjusted, strict=True)
    ]
    drifts.sort(key=lambda d: (not d.significant, -d.effect, -abs(d.difference.value), d.slice))
    return drifts[:max_slices]


def _reference_errors(current: Predictions, reference: Predictions) -> np.ndarray:
    """The reference's errors; for regression, misses beyond the current table's threshold."""
    if reference.schema.is_classification:
        return np.asarray(reference.error)
    return np.abs(reference.residual) > float(current.schema.error_threshold or 0.0)


def _slice_masks(
    current: Predictions, reference: Predictions, slices: Sequence[str | Slice] | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(text, current rows, reference rows)`` of each slice that fits both tables."""
    if slices is None:
        slices = _feature_slices(current, reference)
    out = []
    for item in slices:
        s = parse_slice(item) if isinstance(item, str) else item
        try:
            s.check(current.column_kinds)
            s.check(reference.column_kinds)
        except SliceError:
            continue  # a column one table lacks, or of another type there
        out.append((s.text, s.mask(current.slice_frame), s.mask(reference.slice_frame)))
    return out


def _feature_slices(current: Predictions, reference: Predictions) -> list[Slice]:
    """One slice per value or bin of every shared non-text feature, the current table's bins."""
    theirs = reference.schema.features
    features = [
        c
        for c, kind in current.schema.features.items()
        if kind != "text" and c in theirs and theirs[c] != "text"
    ]
    encoding = encode_features(current.frame, features, n_bins=SLICE_BINS)
    return [Slice(p) for f in encoding.features for p in f.predicates]


def slice_drift_json(drifts: Sequence[SliceErrorDrift]) -> list[dict[str, Any]]:
    """``[{"slice", "rows_reference", "rows_current", "error_reference", "error_current",
    "difference", "p_value", "adjusted_p", "significant"}]`` (estimates as dicts)."""
    return [
        {
            "slice": d.slice,
            "rows_reference": d.n_reference,
            "rows_current": d.n_current,
            "error_reference": d.reference.to_dict(),
            "error_current": d.current.to_dict(),
            "difference": d.difference.to_dict(),
            "p_value": _finite(d.p_value),
            "adjusted_p": _finite(d.adjusted_p),
            "significant": d.significant,
        }
        for d in drifts
    ]


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
