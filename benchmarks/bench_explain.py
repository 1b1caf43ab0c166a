"""SHAP attributions: time to a page's attributions, first visit and cached visit.

Every measurement runs in its own subprocess, one at a time, so a "first
visit" pays what a fresh server pays (importing shap, building the explainer,
measuring the cost on a few rows) and a "cached visit" reads only the disk
cache a first visit left (a new process, as after a server restart). "warm"
is a second call in the same process (what the next rerun of the page costs).
A visit computes at most one time budget's worth of rows: where that is not
enough (the model-agnostic case), the cached visit computes the next rows.
Times are of :func:`mlqa_debug.analyses.explain.explain` with the page's time budget
unless ``--budget`` says otherwise; loading the dataset and the model file is
not counted (the page caches both per process).

Cases:

- ``loans-1k``, ``loans-10k``: the bundled loans pipeline (one-hot encoding of
  string categoricals + HistGradientBoostingClassifier, 150 iterations),
  rows from one fixed random order;
- ``forest``: a 100-tree full-depth RandomForestClassifier fitted here on
  10,000 synthetic rows x 10 features (not timed), 1,000 rows explained: the
  exact cost per row is measured and TreeSHAP switches to ``approximate=True``;
- ``agnostic``: a k-nearest-neighbours pipeline on the loans features (fitted
  here on 5,000 rows), explained by permutation SHAP, 1,000 rows requested.

    python benchmarks/bench_explain.py                  # all cases
    python benchmarks/bench_explain.py --cases loans-1k,forest --budget 600

The table is also written to ``benchmarks/out/bench_explain.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]
CASES = {"loans-1k": 1_000, "loans-10k": 10_000, "forest": 1_000, "agnostic": 1_000}


def _loans(workdir: Path) -> tuple[Any, Any]:
    from mlqa_debug.analyses import explain as ex
    from mlqa_debug.data.workspace import Workspace

    ws = Workspace(workdir / "ws")
    return ws.load("loans"), ex.dataset_model(ws, "loans")


def _forest(workdir: Path) -> tuple[Any, Any]:
    """A deep random forest and its predictions on synthetic data, written to ``workdir``."""
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from mlqa_debug.analyses import explain as ex
    from mlqa_debug.data.predictions import load_predictions

    path = workdir / "forest.csv"
    if not path.exists():
        rng = np.random.default_rng(0)
        x = pd.DataFrame(rng.normal(size=(10_000, 10)), columns=[f"f{i}" for i in range(10)])
        y = ((x["f0"] * x["f1"] + np.sin(3 * x["f2"]) + rng.normal(0, 0.5, len(x))) > 0).astype(int)
        forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=-1).fit(x, y)
        forest.set_params(n_jobs=1)
        x.assign(label=y, prediction=forest.predict(x)).to_csv(path, index=False)
        joblib.dump(forest, workdir / "forest.joblib")
    model = ex.load_model(workdir / "forest.joblib", roots=[workdir])
    return load_predictions(path), model


def _agnostic(workdir: Path) -> tuple[Any, Any]:
    """A KNN pipeline on the loans features (no fast explainer applies)."""
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlqa_debug.analyses import explain as ex
    from mlqa_debug.data.predictions import load_predictions
    from mlqa_debug.data.workspace import samples_dir

    path = workdir / "knn.csv"
    if not path.exists():
        frame = pd.read_csv(samples_dir() / "loans.csv")
        features = ["age", "income", "loan amount", "term_months", "employment", "credit.score"]
        encode = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["employment"]),
                ("num", StandardScaler(), [c for c in features if c != "employment"]),
            ]
        )
        model = Pipeline([("encode", encode), ("knn", KNeighborsClassifier(25))])
        model.fit(frame[features].iloc[:5_000], frame["label"].iloc[:5_000])
        out = frame[["id", *features, "label"]].iloc[5_000:]
        out.assign(prediction=model.predict(out[features])).to_csv(path, index=False)
        joblib.dump(model, workdir / "knn.joblib")
    return load_predictions(path), ex.load_model(workdir / "knn.joblib", roots=[workdir])


DATASETS = {"loans-1k": _loans, "loans-10k": _loans, "forest": _forest, "agnostic": _agnostic}


def worker(case: str, workdir: Path, cache: Path, budget: float, repeat: bool) -> None:
    """Explain the case's rows in this process; print the measurements as JSON."""
    from mlqa_debug.analyses import explain as ex

    predictions, model = DATASETS[case](workdir)
    rows = ex.priority_order(predictions)[: CASES[case]]
    start = time.perf_counter()
    result = ex.explain(predictions, rows, model=model, cache_dir=cache, time_budget=budget)
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "seconds": seconds,
        "computed": result.computed,
        "explained": result.explanation.n_rows,
        "method": result.explanation.info.method,
        "additive": result.explanation.info.additive,
        "per_row_ms": None if result.cost is None else 1000 * result.cost.per_row,
    }
    if repeat:
        start = time.perf_counter()
        ex.explain(predictions, rows, model=model, cache_dir=cache, time_budget=budget)
        out["warm"] = time.perf_counter() - start
    if case == "forest":
        out["exact_per_row_ms"] = _exact_cost(predictions, model)
    print(json.dumps(out))


def _exact_cost(predictions: Any, model: Any) -> float:
    """Exact TreeSHAP milliseconds per row, on 8 rows (no cache)."""
    from mlqa_debug.analyses import explain as ex

    exact = ex.build_explainer(model, predictions, approximate=False)
    rows = np.arange(8)
    frame = ex.model_input(model, predictions, rows)
    start = time.perf_counter()
    exact.run(frame, rows)
    return 1000 * (time.perf_counter() - start) / len(rows)


def measure(case: str, workdir: Path, cache: Path, budget: float, repeat: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", case, "--workdir", str(workdir),
           "--cache", str(cache), "--budget", str(budget)]  # fmt: skip
    cmd += ["--repeat"] if repeat else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} failed: {proc.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


HEADER = (
    "| case | rows asked | method | first visit s | rows computed | cached visit s "
    "| rows computed | warm s | ms per row | additive |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"
)


def row(case: str, first: dict[str, Any], cached: dict[str, Any]) -> str:
    per_row = f"{first['per_row_ms']:.3f}" if first["per_row_ms"] else "-"
    if "exact_per_row_ms" in first:
        per_row += f" (exact: {first['exact_per_row_ms']:.1f})"
    return (
        f"| {case} | {CASES[case]:,} | {first['method']} | {first['seconds']:.2f} | "
        f"{first['computed']:,} | {cached['seconds']:.3f} | {cached['computed']:,} | "
        f"{cached.get('warm', 0):.3f} | "
        f"{per_row} | {first['additive']} |"
    )


def main(argv: list[str] | None = None) -> None:
    from mlqa_debug.analyses.explain import DEFAULT_TIME_BUDGET

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"subset of {', '.join(CASES)}")
    parser.add_argument("--budget", type=float, default=DEFAULT_TIME_BUDGET, help="seconds")
    parser.add_argument("--worker", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, Path(args.workdir), Path(args.cache), args.budget, args.repeat)
        return
    lines = [f"time budget {args.budget:g} s per call\n", HEADER]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as tmp:
        for case in args.cases.split(","):
            workdir, cache = Path(tmp) / case, Path(tmp) / case / "cache"
            workdir.mkdir()
            measure(case, workdir, Path(tmp) / "warmup-cache", args.budget, False)  # data, model
            first = measure(case, workdir, cache, args.budget, False)
            cached = measure(case, workdir, cache, args.budget, True)
            lines.append(row(case, first, cached))
            print(lines[-1], flush=True)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "bench_explain.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
