"""Ranking suspected label errors on 1,000,000 rows x 20 classes, against bare cleanlab.

    .venv/bin/python benchmarks/bench_labels.py [--rows N] [--classes K] [--repeat R]

Data (seeded, written once to ``benchmarks/out/``, which git ignores): string ids,
string labels ``c00 ... c19``, ``prob_<class>`` columns from a softmax of noisy
logits favouring the true class, a numeric feature, and 2 % of the labels flipped
to another class. The table is loaded once with ``load_predictions`` (not timed).

Timed, median of ``--repeat`` runs, each on a fresh ``Predictions`` of the same
frame (so nothing memoised carries over): ``rank_suspects`` (probability matrix
and label codes from the frame, cleanlab's ``find_label_issues`` and
``get_label_quality_scores``, the review-order frame of every row). Reference, same
run, same arrays: bare ``cleanlab.filter.find_label_issues(labels, pred_probs,
return_indices_ranked_by="self_confidence")`` with cleanlab's default ``n_jobs``.
Target (issue 15): under 10 s at 1M x 20. The top of the ranking is checked
against the planted flips (precision at 1,000). Then, with the ranking memoised, a
slice change as a page makes it: ``rank_suspects(mask=..., limit=50)`` on slices
``f0 >= t`` (median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO))

TARGET_S = 10.0


def make_table(path: Path, n: int, k: int, seed: int = 0) -> np.ndarray:
    """Write the seeded table; return the flipped rows' positions."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)).astype(np.float64)
    logits[np.arange(n), true] += 3.0
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    given = true.copy()
    flipped = np.sort(rng.choice(n, n // 50, replace=False))
    given[flipped] = (true[flipped] + rng.integers(1, k, len(flipped))) % k
    names = np.array([f"c{j:02d}" for j in range(k)])
    columns: dict[str, object] = {
        "id": pd.array([f"r{i:07d}" for i in range(n)], dtype="string"),
        "f0": rng.normal(size=n),
        "label": names[given],
        "prediction": names[logits.argmax(axis=1)],
    }
    columns.update({f"prob_{c}": logits[:, j] for j, c in enumerate(names)})
    pd.DataFrame(columns).to_parquet(path, index=False)
    np.save(path.with_suffix(".flipped.npy"), flipped)
    return flipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from cleanlab.filter import find_label_issues

    from mlqa_debug.analyses.labels import rank_suspects
    from mlqa_debug.data.predictions import Predictions, load_predictions

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"labels_{args.rows}x{args.classes}.parquet"
    flipped_file = path.with_suffix(".flipped.npy")
    if path.exists() and flipped_file.exists():
        flipped = np.load(flipped_file)
    else:
        flipped = make_table(path, args.rows, args.classes)
    loaded = load_predictions(path)

    ours: list[float] = []
    for _ in range(args.repeat):
        fresh = Predictions(loaded.frame, loaded.schema, loaded.fingerprint, loaded.source)
        start = time.perf_counter()
        result = rank_suspects(fresh)
        ours.append(time.perf_counter() - start)

    labels = np.asarray(loaded.y_true_codes, dtype=np.int64)
    probs = np.ascontiguousarray(loaded.proba_matrix)
    reference: list[float] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            issues = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence")
        reference.append(time.perf_counter() - start)

    f0 = loaded.frame["f0"].to_numpy()
    changes: list[float] = []
    for threshold in (-1.0, -0.5, 0.0, 0.5, 1.0):
        start = time.perf_counter()
        rank_suspects(fresh, mask=f0 >= threshold, limit=50)
        changes.append(time.perf_counter() - start)

    same = np.array_equal(result.suspects["position"].to_numpy(), np.asarray(issues))
    precision = np.isin(result.order[:1000], flipped).mean()
    t_ours, t_ref = statistics.median(ours), statistics.median(reference)
    print(f"{args.rows:,} rows x {args.classes} classes, median of {args.repeat}")
    print(f"rank_suspects:                    {t_ours:6.2f} s  (target < {TARGET_S:.0f} s)")
    print(f"bare cleanlab find_label_issues:  {t_ref:6.2f} s")
    print(f"ratio (ours / bare cleanlab):     {t_ours / t_ref:6.2f}")
    print(f"slice change (memoised, limit 50): {statistics.median(changes) * 1000:6.0f} ms")
    print(f"issues flagged: {result.n_issues:,}; same order as bare cleanlab: {same}")
    print(f"precision at 1,000 (planted flips): {precision:.3f}")
    if t_ours >= TARGET_S or not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
