"""Regenerate the sample datasets bundled with mlqa-debug.

Usage::

    python sample_data/make_samples.py [--out DIR]

``DIR`` defaults to the folder this script lives in. Every random draw uses a
fixed seed and every float column is written with a fixed format, so running
the script twice gives byte-identical CSV and Parquet files. It needs only
numpy, pandas, pyarrow, scikit-learn and joblib, downloads nothing, and runs in
a few seconds on two cores.

What it builds (``README.md`` next to this script has the column-by-column
reference and the measured error rates):

``loans.csv`` (+ ``loans_v2.csv``)
    Synthetic binary credit-default task, 20,000 evaluation rows, odd column
    names (``loan amount``, ``credit.score``) and mixed types. The model is a
    scikit-learn ``Pipeline`` (one-hot encoding + HistGradientBoostingClassifier)
    fitted on 20,000 separately generated training rows that are not shipped.
    ``loans_v2.csv`` holds a second model's predictions on the same rows.

    Three failure modes are planted in the data-generating process, so that
    slice discovery has something true to find:

    a. ``employment == 'gig'``: 0.5 % of training rows but 5 % of evaluation
       rows, and gig workers default by a different rule (36-month terms and
       large loan amounts drive it; credit score and loan-to-income ratio do
       not matter). The v2
       model is trained on 5 % gig rows (but is shallower), so it does better
       there and somewhat worse elsewhere.
    b. ``region == 'coastal' and age < 25``: labels flipped with probability
       0.3 (in training and evaluation), i.e. label noise.
    c. ``income >= 150000``: training incomes are capped at 150,000; evaluation
       incomes reach 400,000, and above the cap the risk is driven by the
       loan-to-income ratio alone (credit score and income stop protecting), so
       the model extrapolates wrongly.

``digits.parquet``
    The real scikit-learn digits images (``load_digits``, bundled with
    scikit-learn), multiclass. A scaled logistic regression is fitted on a
    stratified half; the other half is shipped with pixels, class
    probabilities and a 16-d PCA embedding.

``diabetes.csv``
    The real scikit-learn diabetes data (``load_diabetes(scaled=False)``),
    regression, with a gradient-boosting regressor fitted on one half and the
    other half shipped.

Each data file has a ``<name>.mlqa.toml`` sidecar and a ``*_model.joblib``
pipeline that takes the raw feature columns and reproduces the shipped
predictions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# Seeds: one per independent draw, so changing one dataset never shifts another.
SEED_LOANS_TRAIN = 101
SEED_LOANS_TRAIN_V2 = 102
SEED_LOANS_EVAL = 103
SEED_SPLIT = 0

N_LOANS_TRAIN = 20_000
N_LOANS_EVAL = 20_000
GIG_SHARE_TRAIN = 0.005
GIG_SHARE_EVAL = 0.05
INCOME_CAP_TRAIN = 150_000.0
INCOME_MAX_EVAL = 400_000.0
INCOME_MIN = 12_000.0
NOISE_FLIP_PROBABILITY = 0.3

# name: (share of rows, income multiplier, shift of the default log-odds).
# The gig share is set per draw (GIG_SHARE_*); gig defaults follow their own rule.
EMPLOYMENT = {
    "salaried": (0.62, 1.0, 0.0),
    "self-employed": (0.15, 1.1, 0.35),
    "gig": (0.0, 0.75, 0.0),
    "unemployed": (0.07, 0.4, 1.3),
    "retired": (0.16, 0.7, 0.15),
}
# name: (share of rows, shift of the default log-odds)
REGIONS = {
    "north": (0.17, 0.0),
    "south": (0.17, 0.15),
    "east": (0.15, -0.1),
    "west": (0.16, 0.05),
    "central": (0.15, 0.1),
    "coastal": (0.20, 0.0),
}
PURPOSES = {
    "debt consolidation": (0.28, 0.2),
    "home improvement": (0.14, -0.2),
    "car": (0.15, -0.1),
    "education": (0.08, 0.1),
    "medical": (0.07, 0.3),
    "small business": (0.10, 0.5),
    "wedding": (0.06, 0.0),
    "vacation": (0.12, 0.25),
}

LOAN_FEATURES = [
    "age",
    "income",
    "loan amount",
    "term_months",
    "employment",
    "region",
    "credit.score",
    "home_owner",
    "applied_on",
    "purpose",
]
LOAN_CATEGORICALS = ["employment", "region", "purpose"]
LOAN_NUMERICS = ["age", "income", "loan amount", "term_months", "credit.score"]
LOAN_FORMATS = {"income": "%.2f", "loan amount": "%.2f", "score": "%.10g"}

DIABETES_FORMATS = {"prediction": "%.10g"}


# --------------------------------------------------------------------------- writing


def write_csv(frame: pd.DataFrame, path: Path, formats: Mapping[str, str]) -> None:
    """Write ``frame`` as CSV, the columns in ``formats`` with that printf format.

    Other float columns are written in their shortest exact form, which keeps a
    ``.0`` on whole numbers so they read back as floats.
    """
    out = frame.copy()
    for col, fmt in formats.items():
        out[col] = np.char.mod(fmt, out[col].to_numpy())
    out.to_csv(path, index=False, lineterminator="\n")


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def save_model(model: object, path: Path) -> None:
    joblib.dump(model, path, compress=3)


# --------------------------------------------------------------------------- loans: data


def _column(table: Mapping[str, tuple[float, ...]], i: int) -> dict[str, float]:
    """Column ``i`` of a ``{name: (share, ...)}`` table as ``{name: value}``."""
    return {name: row[i] for name, row in table.items()}


def _choice(rng: np.random.Generator, shares: Mapping[str, float], n: int) -> np.ndarray:
    p = np.array(list(shares.values()))
    return rng.choice(np.array(list(shares), dtype=object), size=n, p=p / p.sum())


def _employment(rng: np.random.Generator, n: int, gig_share: float) -> np.ndarray:
    shares = _column(EMPLOYMENT, 0)
    rest = sum(shares.values())
    shares = {k: gig_share if k == "gig" else v * (1 - gig_share) / rest for k, v in shares.items()}
    return _choice(rng, shares, n)


def _ages(rng: np.random.Generator, employment: np.ndarray) -> np.ndarray:
    age = np.clip(rng.normal(40, 11, len(employment)), 18, 70)
    gig = employment == "gig"
    age[gig] = np.clip(rng.normal(30, 8, gig.sum()), 18, 65)
    retired = employment == "retired"
    age[retired] = rng.integers(60, 81, retired.sum())
    return np.round(age).astype(np.int64)


def _incomes(rng: np.random.Generator, employment: np.ndarray, high: float) -> np.ndarray:
    """Log-normal annual incomes in [INCOME_MIN, high], redrawn until inside the range."""
    scale = pd.Series(employment).map(_column(EMPLOYMENT, 1)).to_numpy()
    income = np.full(len(employment), np.nan)
    todo = np.ones(len(employment), dtype=bool)
    while todo.any():
        income[todo] = scale[todo] * rng.lognormal(np.log(62_000), 0.6, todo.sum())
        todo = (income < INCOME_MIN) | (income > high)
    return np.round(income, 2)


def _credit_scores(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    mean = (
        660
        + 35 * np.log(frame["income"] / 60_000)
        + 0.8 * (frame["age"] - 40)
        - 40 * (frame["employment"] == "unemployed")
    )
    return np.clip(np.round(rng.normal(mean, 60)), 300, 850).astype(np.int64)


def _application_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    days = rng.integers(0, 731, n)  # 2024-01-01 .. 2025-12-31
    dates = np.datetime64("2024-01-01") + days.astype("timedelta64[D]")
    return np.datetime_as_string(dates, unit="D").astype(object)


def draw_applicants(
    rng: np.random.Generator, n: int, *, gig_share: float, income_max: float
) -> pd.DataFrame:
    """Loan applications (features only), in the column order of ``loans.csv``."""
    employment = _employment(rng, n, gig_share)
    frame = pd.DataFrame(
        {"age": _ages(rng, employment), "income": _incomes(rng, employment, income_max)}
    )
    ratio = np.clip(rng.lognormal(np.log(0.25), 0.45, n), 0.02, 1.0)
    frame["loan amount"] = np.maximum(np.round(frame["income"] * ratio, -2), 1000.0)
    frame["term_months"] = np.where(rng.random(n) < 0.2 + 0.4 * (ratio > 0.35), 60, 36)
    frame["employment"] = employment
    frame["region"] = _choice(rng, _column(REGIONS, 0), n)
    frame["credit.score"] = _credit_scores(rng, frame)
    owner_logit = -1.2 + 0.07 * (frame["age"] - 35) + 0.8 * np.log(frame["income"] / 60_000)
    frame["home_owner"] = rng.random(n) < 1 / (1 + np.exp(-owner_logit))
    frame["applied_on"] = _application_dates(rng, n)
    frame["purpose"] = _choice(rng, _column(PURPOSES, 0), n)
    return frame.astype({c: "str" for c in ["employment", "region", "applied_on", "purpose"]})


def default_logit(frame: pd.DataFrame) -> np.ndarray:
    """True log-odds of default: a general rule, a gig rule and a high-income rule."""
    dti = frame["loan amount"] / frame["income"]
    age, term60 = frame["age"], frame["term_months"] == 60
    general = (
        -2.9
        + 7.0 * (dti - 0.25)
        - 0.025 * (frame["credit.score"] - 660)
        + 0.6 * term60
        - 0.5 * frame["home_owner"]
        - 0.3 * np.log(frame["income"] / 60_000)
        - 0.02 * (age - 40)
        + frame["employment"].map(_column(EMPLOYMENT, 2))
        + frame["region"].map(_column(REGIONS, 1))
        + frame["purpose"].map(_column(PURPOSES, 1))
    )
    gig = -2.5 + 3.0 * (frame["term_months"] == 36) + 2.5e-4 * (frame["loan amount"] - 10_000)
    high_income = -0.4 + 10.0 * (dti - 0.25)
    return np.select(
        [frame["employment"] == "gig", frame["income"] >= INCOME_CAP_TRAIN],
        [gig, high_income],
        general,
    )


def draw_labels(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    """Defaults drawn from :func:`default_logit`, then label noise on young coastal rows."""
    p = 1 / (1 + np.exp(-default_logit(frame)))
    label = (rng.random(len(frame)) < p).astype(np.int64)
    noisy = (frame["region"] == "coastal") & (frame["age"] < 25)
    flip = noisy.to_numpy() & (rng.random(len(frame)) < NOISE_FLIP_PROBABILITY)
    return np.where(flip, 1 - label, label)


def draw_loans(seed: int, n: int, *, gig_share: float, income_max: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = draw_applicants(rng, n, gig_share=gig_share, income_max=income_max)
    frame["label"] = draw_labels(rng, frame)
    return frame


# --------------------------------------------------------------------------- loans: models


def loans_pipeline(classifier: HistGradientBoostingClassifier) -> Pipeline:
    """One-hot string categoricals, home_owner as 0/1, numerics as they are; drop the date."""
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                LOAN_CATEGORICALS,
            ),
            ("home_owner", OneHotEncoder(drop="if_binary", sparse_output=False), ["home_owner"]),
            ("numeric", "passthrough", LOAN_NUMERICS),
        ],
        remainder="drop",
    )
    return Pipeline([("encode", encode), ("classify", classifier)])


def fit_loans_v1(train: pd.DataFrame) -> Pipeline:
    classifier = HistGradientBoostingClassifier(
        max_iter=150, max_leaf_nodes=15, early_stopping=False, random_state=0
    )
    return loans_pipeline(classifier).fit(train[LOAN_FEATURES], train["label"])


def fit_loans_v2(train: pd.DataFrame) -> Pipeline:
    classifier = HistGradientBoostingClassifier(
        max_iter=40, max_depth=3, early_stopping=False, random_state=0
    )
    return loans_pipeline(classifier).fit(train[LOAN_FEATURES], train["label"])


def predict_loans(model: Pipeline, evaluation: pd.DataFrame) -> pd.DataFrame:
    """``id``, features, ``label``, ``prediction`` and ``score`` = P(label == 1)."""
    features = evaluation[LOAN_FEATURES]
    ids = [f"L{i:05d}" for i in range(1, len(evaluation) + 1)]
    positive = list(model.classes_).index(1)
    return pd.concat(
        [
            pd.DataFrame({"id": ids}),
            features.reset_index(drop=True),
            pd.DataFrame(
                {
                    "label": evaluation["label"].to_numpy(),
                    "prediction": model.predict(features),
                    "score": model.predict_proba(features)[:, positive],
                }
            ),
        ],
        axis=1,
    )


def failure_mode_masks(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Row masks of the planted failure modes, plus everything and the rest."""
    modes = {
        "employment == 'gig'": frame["employment"] == "gig",
        "region == 'coastal' and age < 25": (frame["region"] == "coastal") & (frame["age"] < 25),
        "income >= 150000": frame["income"] >= INCOME_CAP_TRAIN,
    }
    rest = ~pd.concat(modes, axis=1).any(axis=1)
    return {"overall": pd.Series(True, index=frame.index), **modes, "none of the three": rest}


def loans_error_table(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows, error rate and error rate / overall of each failure-mode slice, per model."""
    columns: dict[str, dict[str, float]] = {}
    for model_name, frame in results.items():
        errors = frame["prediction"] != frame["label"]
        masks = failure_mode_masks(frame)
        columns["rows"] = {name: int(mask.sum()) for name, mask in masks.items()}
        columns[f"{model_name} error"] = {name: errors[mask].mean() for name, mask in masks.items()}
        columns[f"{model_name} x overall"] = {
            name: errors[mask].mean() / errors.mean() for name, mask in masks.items()
        }
    return pd.DataFrame(columns).rename_axis("slice")


def loans_sidecar(model_file: str, version: str) -> str:
    return (
        "[roles]\n"
        'positive = 1          # the class "score" is the probability of\n'
        "\n[model]\n"
        f'file = "{model_file}"\n'
        'name = "loans-hgb"\n'
        f'version = "{version}"\n'
    )


def build_loans(out: Path) -> pd.DataFrame:
    """Write loans*.csv, loans*_model.joblib and sidecars; return the error table."""
    train = draw_loans(
        SEED_LOANS_TRAIN, N_LOANS_TRAIN, gig_share=GIG_SHARE_TRAIN, income_max=INCOME_CAP_TRAIN
    )
    train_v2 = draw_loans(
        SEED_LOANS_TRAIN_V2, N_LOANS_TRAIN, gig_share=GIG_SHARE_EVAL, income_max=INCOME_CAP_TRAIN
    )
    evaluation = draw_loans(
        SEED_LOANS_EVAL, N_LOANS_EVAL, gig_share=GIG_SHARE_EVAL, income_max=INCOME_MAX_EVAL
    )
    models = {"loans": fit_loans_v1(train), "loans_v2": fit_loans_v2(train_v2)}
    results = {}
    for version, (name, model) in enumerate(models.items(), start=1):
        results[name] = predict_loans(model, evaluation)
        write_csv(results[name], out / f"{name}.csv", LOAN_FORMATS)
        save_model(model, out / f"{name}_model.joblib")
        write_text(out / f"{name}.mlqa.toml", loans_sidecar(f"{name}_model.joblib", str(version)))
    return loans_error_table(results)


# --------------------------------------------------------------------------- digits

DIGITS_SIDECAR = """\
[image]
columns = "px_*"      # glob over column names, in numeric order
shape = [8, 8]

[model]
file = "digits_model.joblib"
name = "digits-logreg"
"""


def build_digits(out: Path) -> float:
    """Write digits.parquet, digits_model.joblib and the sidecar; return the error rate."""
    bunch = load_digits()
    pixels = pd.DataFrame(
        bunch.data.astype(np.int64), columns=[f"px_{i}" for i in range(bunch.data.shape[1])]
    )
    train_idx, test_idx = train_test_split(
        np.arange(len(pixels)), test_size=0.5, stratify=bunch.target, random_state=SEED_SPLIT
    )
    test_idx = np.sort(test_idx)
    model = Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=2000))])
    model.fit(pixels.iloc[train_idx], bunch.target[train_idx])
    embedder = PCA(n_components=16, random_state=0).fit(pixels.iloc[train_idx])

    test = pixels.iloc[test_idx].reset_index(drop=True)
    proba = model.predict_proba(test)
    frame = pd.concat(
        [
            pd.DataFrame({"id": [f"D{i:04d}" for i in test_idx]}),
            test,
            pd.DataFrame(
                {
                    "label": bunch.target[test_idx].astype(np.int64),
                    "prediction": model.predict(test).astype(np.int64),
                }
            ),
            pd.DataFrame(proba, columns=[f"prob_{c}" for c in model.classes_]),
            pd.DataFrame(embedder.transform(test), columns=[f"emb_{i}" for i in range(16)]),
        ],
        axis=1,
    )
    frame.to_parquet(out / "digits.parquet", index=False, compression="zstd")
    save_model(model, out / "digits_model.joblib")
    write_text(out / "digits.mlqa.toml", DIGITS_SIDECAR)
    return float((frame["prediction"] != frame["label"]).mean())


# --------------------------------------------------------------------------- diabetes

DIABETES_SIDECAR = """\
[model]
file = "diabetes_model.joblib"
name = "diabetes-gbr"
"""
DIABETES_NUMERICS = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
SEX_CODES = {1: "female", 2: "male"}  # the source does not document the coding


def diabetes_features() -> tuple[pd.DataFrame, np.ndarray]:
    """The raw diabetes features (integer-valued columns as int, sex as a string)."""
    bunch = load_diabetes(scaled=False, as_frame=True)
    features = bunch.data.astype({"age": np.int64, "s1": np.int64, "s6": np.int64})
    features["sex"] = features["sex"].astype(np.int64).map(SEX_CODES).astype("str")
    return features, bunch.target.to_numpy()


def build_diabetes(out: Path) -> float:
    """Write diabetes.csv, diabetes_model.joblib and the sidecar; return the test MAE."""
    features, target = diabetes_features()
    train_idx, test_idx = train_test_split(
        np.arange(len(features)), test_size=0.5, random_state=SEED_SPLIT
    )
    test_idx = np.sort(test_idx)
    encode = ColumnTransformer(
        [
            ("sex", OneHotEncoder(drop="if_binary", sparse_output=False), ["sex"]),
            ("numeric", "passthrough", DIABETES_NUMERICS),
        ]
    )
    regressor = GradientBoostingRegressor(
        n_estimators=200, max_depth=2, learning_rate=0.05, random_state=0
    )
    model = Pipeline([("encode", encode), ("regress", regressor)])
    model.fit(features.iloc[train_idx], target[train_idx])

    test = features.iloc[test_idx].reset_index(drop=True)
    frame = pd.concat(
        [
            pd.DataFrame({"id": [f"P{i:03d}" for i in test_idx]}),
            test,
            pd.DataFrame({"label": target[test_idx], "prediction": model.predict(test)}),
        ],
        axis=1,
    )
    write_csv(frame, out / "diabetes.csv", DIABETES_FORMATS)
    save_model(model, out / "diabetes_model.joblib")
    write_text(out / "diabetes.mlqa.toml", DIABETES_SIDECAR)
    return float(np.abs(frame["prediction"] - frame["label"]).mean())


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write into (default: the folder of this script)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    table = build_loans(args.out)
    digits_error = build_digits(args.out)
    diabetes_mae = build_diabetes(args.out)

    print("loans: error rate per planted failure mode (v1 = loans.csv, v2 = loans_v2.csv)")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"digits: error rate {digits_error:.3f}")
    print(f"diabetes: mean absolute error {diabetes_mae:.1f}")
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
