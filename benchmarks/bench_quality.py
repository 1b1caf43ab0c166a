"""Data-quality checks on a 1,000,000-row table, against a bare pandas pass over it.

Generates (seeded, once, into ``benchmarks/out/``) a binary predictions table:
``id``, ``label``, ``prediction``, ``score`` and 30 features (10 string
categoricals of 3 to 1,000 values, 20 numeric ones, some with missing values,
outliers and planted duplicate rows), as Parquet. Then, in this process:

- reference: ``pandas.read_parquet`` of the file, ``df.isna().sum()`` and
  ``df.duplicated()`` (what a pandas user types for "missing and duplicates");
- ``load_predictions`` (read and validate, shown apart: every page pays it anyway);
- ``run_quality``: every registered quality check, per-check time from a second
  run with one check at a time;
- leakage: ``find_leakage`` between the 1M-row table and a 200,000-row one
  (a quarter of whose rows are copies), against its own reference run: both
  tables hashed with ``pd.util.hash_pandas_object`` and a bare ``np.isin`` (the
  exact copies alone), and scikit-learn's ``NearestNeighbors`` (one neighbour, the
  same scaled numeric arrays) on ``--nn-rows`` current rows, extrapolated to all
  of them (it would take minutes on a million); then the near-copy search alone
  on 20 numeric features without a categorical one, where every row is searched.

Each step runs ``--repeat`` times and the median is printed, with the ratio to the
reference. Target: ``run_quality`` and leakage each well under 10 s.

    python benchmarks/bench_quality.py                  # 1,000,000 rows
    python benchmarks/bench_quality.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OUT_DIR = Path(__file__).resolve().parent / "out"
CATEGORY_SIZES = (3, 5, 8, 12, 20, 30, 50, 100, 300, 1000)


def make_frame(rows: int, *, seed: int = 0, start: int = 0) -> pd.DataFrame:
    """The seeded table: ids from ``start``, 10 categorical and 20 numeric features."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {"id": np.arange(start, start + rows)}
    for i, size in enumerate(CATEGORY_SIZES):
        values = np.array([f"v{j}" for j in range(size)], dtype=object)
        data[f"cat_{i}"] = pd.Categorical(values[rng.integers(0, size, rows)])
    for i in range(20):
        x = rng.normal(i, 1 + i / 10, rows)
        if i % 4 == 0:
            x[rng.random(rows) < 0.05] = np.nan
        if i % 5 == 0:
            x[rng.random(rows) < 0.002] *= 10
        data[f"num_{i}"] = x
    frame = pd.DataFrame(data)
    logit = frame["num_1"].fillna(0) - 1 + 0.5 * (frame["cat_0"] == "v1")
    truth = 1 / (1 + np.exp(-logit.to_numpy()))
    label = (rng.random(rows) < truth).astype(np.int64)
    score = np.clip(truth + rng.normal(0, 0.05, rows), 0, 1)
    frame["label"] = label
    frame["score"] = score
    frame["prediction"] = (score >= 0.5).astype(np.int64)
    copies = rng.choice(rows, size=rows // 1000, replace=False)
    features = [c for c in frame.columns if c.startswith(("cat_", "num_"))]
    frame.loc[copies[: len(copies) // 2], features] = frame.loc[
        copies[len(copies) // 2 :], features
    ].to_numpy()
    return frame


def table(rows: int, name: str, **kwargs: Any) -> Path:
    """The Parquet file of ``make_frame(rows, **kwargs)``, written once."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"bench_quality_{name}_{rows}.parquet"
    if not path.exists():
        make_frame(rows, **kwargs).to_parquet(path, index=False)
    return path


def timed(step: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs of ``step``, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def reference(path: Path) -> None:
    df = pd.read_parquet(path)
    df.isna().sum()
    df.duplicated()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nn-rows", type=int, default=5_000, help="rows for the sklearn run")
    args = parser.parse_args()

    from mlqa_debug.analyses.quality import QUALITY_CHECKS, run_quality
    from mlqa_debug.data.predictions import load_predictions
    from mlqa_debug.stats import two_proportion_p_value

    two_proportion_p_value(1, 10, 2, 10)  # imports scipy.stats once, outside the timings
    path = table(args.rows, "current")
    ref, _ = timed(lambda: reference(path), args.repeat)
    load, predictions = timed(lambda: load_predictions(path), args.repeat)
    _ = predictions.metric_data, predictions.proba_matrix  # what any page has built already
    quality, report = timed(lambda: run_quality(predictions), args.repeat)
    print(f"{args.rows:,} rows x 30 features, median of {args.repeat}")
    print(f"{'step':<56}{'seconds':>9}{'x reference':>13}")
    print(f"{'reference: read_parquet + isna().sum() + duplicated()':<56}{ref:>9.2f}{1:>13.2f}")
    print(f"{'load_predictions (read + validate)':<56}{load:>9.2f}{load / ref:>13.2f}")
    print(f"{'run_quality (all checks)':<56}{quality:>9.2f}{quality / ref:>13.2f}")
    for check in QUALITY_CHECKS:
        seconds, _ = timed(lambda c=check: run_quality(predictions, checks=[c]), 1)
        print(f"  {check.name:<54}{seconds:>9.2f}")
    print(f"findings: {report.counts()}")
    leakage(predictions, args, ref)


def leakage(current: Any, args: argparse.Namespace, ref: float) -> None:
    """Leakage between the table and a 200,000-row one, against bare hashing and sklearn."""
    from mlqa_debug.analyses.quality.leakage import find_leakage, leakage_json
    from mlqa_debug.data.predictions import load_predictions

    rows = max(args.rows // 5, 1)
    path = OUT_DIR / f"bench_quality_reference_{rows}.parquet"
    if not path.exists():
        other = make_frame(rows, seed=1, start=args.rows)
        shared = pd.read_parquet(table(args.rows, "current")).sample(rows // 4, random_state=2)
        other.iloc[: len(shared)] = shared.to_numpy()
        other["id"] = np.arange(args.rows, args.rows + rows)
        other.to_parquet(path, index=False)
    reference_table = load_predictions(path)
    features = list(current.schema.features)
    frames = current.frame[features], reference_table.frame[features]
    bare, copies = timed(lambda: bare_exact(*frames), args.repeat)
    seconds, report = timed(lambda: find_leakage(current, reference_table), args.repeat)
    nn, per_row = timed(lambda: sklearn_nearest(*frames, args.nn_rows), 1)
    summary = {k: v["rows"] for k, v in leakage_json(report).items() if k != "leaky_features"}
    label = "1M vs 200k rows" if args.rows == 1_000_000 else f"{args.rows:,} vs {rows:,} rows"
    print(f"leakage ({label}), median of {args.repeat}")
    print(f"{'step':<56}{'seconds':>9}{'x reference':>13}")
    print(
        f"{'reference: hash_pandas_object both + np.isin (exact only)':<56}{bare:>9.2f}{1:>13.2f}"
    )
    print(f"{'find_leakage (all four checks)':<56}{seconds:>9.2f}{seconds / bare:>13.2f}")
    whole = per_row * current.n_samples
    print(
        f"{'sklearn NearestNeighbors, extrapolated to every row':<56}{whole:>9.1f}"
        f"{whole / bare:>13.1f}  ({args.nn_rows:,} rows took {nn:.2f} s)"
    )
    print(f"  vs the run_quality reference: {seconds / ref:.2f}x; bare copies found: {copies:,}")
    print(f"rows found: {summary}; near_sampled: {report.near_sampled}")
    worst, found = timed(lambda: numeric_only_near(args.rows, rows), 1)
    print(f"{'near-copy search alone, 20 numeric features, no categorical':<56}{worst:>9.2f}")
    print(f"  (the worst case: every row searched; 1,000 planted near copies, {found:,} found)")


def numeric_only_near(rows: int, reference_rows: int) -> int:
    """The near-copy search where no categorical value narrows it (seeded normal features)."""
    from mlqa_debug.analyses.quality.nearest import near_copies

    rng = np.random.default_rng(3)
    current, reference = rng.normal(size=(rows, 20)), rng.normal(size=(reference_rows, 20))
    planted = min(1000, reference_rows)
    current[:planted] = reference[:planted] + rng.normal(0, 1e-3, (planted, 20))
    found = near_copies(
        current,
        reference,
        np.zeros(rows, np.uint64),
        np.zeros(reference_rows, np.uint64),
        radius=0.01,
        skip=np.zeros(rows, dtype=bool),
        max_reference=250_000,
    )
    return int(found.mask.sum())


def bare_exact(current: pd.DataFrame, reference: pd.DataFrame) -> int:
    """What a pandas user types for "rows also in the training set"."""
    ours = pd.util.hash_pandas_object(current, index=False).to_numpy()
    theirs = pd.util.hash_pandas_object(reference, index=False).to_numpy()
    return int(np.isin(ours, theirs).sum())


def sklearn_nearest(current: pd.DataFrame, reference: pd.DataFrame, n_rows: int) -> float:
    """Seconds per current row of sklearn's 1-nearest-neighbour on the scaled numeric arrays."""
    from sklearn.neighbors import NearestNeighbors

    numeric = [c for c in current.columns if pd.api.types.is_numeric_dtype(current[c].dtype)]
    ref = reference[numeric].to_numpy(np.float64)
    centre = np.nanmedian(ref, axis=0)
    q1, q3 = np.nanpercentile(ref, [25, 75], axis=0)
    scale = np.where(q3 > q1, q3 - q1, 1.0)
    ref_z = np.nan_to_num((ref - centre) / scale)
    cur_z = np.nan_to_num((current[numeric].to_numpy(np.float64)[:n_rows] - centre) / scale)
    start = time.perf_counter()
    NearestNeighbors(n_neighbors=1, n_jobs=-1).fit(ref_z).kneighbors(cur_z)
    return (time.perf_counter() - start) / len(cur_z)


if __name__ == "__main__":
    main()
