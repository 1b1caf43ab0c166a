"""Leakage between two tables: planted copies, near copies, shared ids and leaky features."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlqa_debug.analyses.quality.leakage import (
    DEFAULT_LEAKAGE_THRESHOLDS,
    LEAKAGE_CHECKS,
    LeakageThresholds,
    find_leakage,
    leakage_json,
    leakage_threshold_table,
)
from mlqa_debug.analyses.quality.separation import feature_separation
from mlqa_debug.slicing import parse_slice
from mlqa_debug.stats import adjust_p_values
from tests.analyses.quality.helpers import clean_frame, predictions
from tests.conftest import NUMERIC_NAME, QUOTED_NAME, UNICODE_NAME

CHECK_KEYS = {"rows", "slice", "error_rate", "message"}


def wide_frame(rng: np.random.Generator, n: int, *, start: int = 0) -> pd.DataFrame:
    """A binary table with six numeric features and a categorical one, string ids."""
    frame = clean_frame(rng, n).drop(columns=["size", "weight"])
    for j in range(6):
        frame[f"x{j}"] = rng.normal(j, 1 + j, n)
    frame["id"] = [f"r{start + i}" for i in range(n)]
    return frame


def splits(frame: pd.DataFrame, current: slice, reference: slice) -> tuple:
    """Two tables from row ranges of one frame; the reference's ids renamed apart."""
    ref = frame.iloc[reference].reset_index(drop=True)
    ref["id"] = [f"train{i}" for i in range(len(ref))]
    return predictions(frame.iloc[current].reset_index(drop=True)), predictions(ref)


def test_planted_exact_duplicates_are_all_found(rng: np.random.Generator) -> None:
    frame = wide_frame(rng, 3000)
    current, reference = splits(frame, slice(0, 2000), slice(1500, 3000))
    report = find_leakage(current, reference)
    (found,) = report.by_check("exact_duplicates")
    expected = np.zeros(2000, dtype=bool)
    expected[1500:] = True
    np.testing.assert_array_equal(found.mask(), expected)
    assert found.severity == "error" and found.n_rows == 500
    features = list(current.schema.features)
    merged = current.frame[features].merge(reference.frame[features].drop_duplicates(), "inner")
    assert len(merged) == 500  # pandas agrees
    assert not report.by_check("near_duplicates")  # exact copies are not counted twice
    assert not report.by_check("shared_ids")


def test_disjoint_splits_have_no_duplicates(rng: np.random.Generator) -> None:
    current, reference = splits(wide_frame(rng, 3000), slice(0, 1500), slice(1500, 3000))
    report = find_leakage(current, reference)
    assert report.findings == ()
    data = leakage_json(report)
    assert set(data) == {"exact_duplicates", "near_duplicates", "shared_ids", "leaky_features"}
    for key in ("exact_duplicates", "near_duplicates", "shared_ids"):
        assert set(data[key]) == CHECK_KEYS and data[key]["rows"] == 0
    assert data["leaky_features"] == []
    assert report.to_json() == data


def test_values_equal_across_dtypes_are_copies(rng: np.random.Generator) -> None:
    """1 == 1.0, -0.0 == 0.0, category == str, missing == missing, µs == ns datetimes."""
    n = 50
    base = pd.DataFrame(
        {
            "id": np.arange(n),
            "count": rng.integers(0, 5, n),
            "zero": np.where(rng.random(n) < 0.5, 0.0, -0.0),
            "colour": rng.choice(["red", "blue"], n),
            "gap": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), "D"),
            "label": rng.integers(0, 2, n),
            "prediction": rng.integers(0, 2, n),
        }
    )
    other = base.assign(
        id=base["id"] + 1000,
        count=base["count"].astype(np.float64),
        zero=-base["zero"],
        colour=base["colour"].astype("category"),
        when=base["when"].astype("datetime64[ns]"),
    )
    report = find_leakage(predictions(base), predictions(other))
    (found,) = report.by_check("exact_duplicates")
    assert found.n_rows == n
    ragged = other.assign(colour=other["colour"].astype(str) + " ")  # not stripped: differs
    assert not find_leakage(predictions(base), predictions(ragged)).by_check("exact_duplicates")


def test_near_duplicates_found_and_far_rows_not(rng: np.random.Generator) -> None:
    current = wide_frame(rng, 2000)
    reference = wide_frame(rng, 2000, start=5000)
    numeric = [f"x{j}" for j in range(6)]
    near, far = np.arange(100), np.arange(100, 200)
    for rows, jitter in ((near, 1e-3), (far, 1.0)):
        copied = current.loc[rows, [*numeric, "colour"]].to_numpy()
        reference.loc[rows, [*numeric, "colour"]] = copied
        reference.loc[rows, numeric] += rng.normal(0, jitter, (len(rows), len(numeric)))
    report = find_leakage(predictions(current), predictions(reference))
    (found,) = report.by_check("near_duplicates")
    expected = np.zeros(2000, dtype=bool)
    expected[near] = True
    np.testing.assert_array_equal(found.mask(), expected)
    assert found.severity == "warning" and not report.by_check("exact_duplicates")
    assert "0 come as near by chance" in found.message
    assert "at most 0.01 reference IQRs over the 6 numeric features" in found.message
    assert report.near_threshold == DEFAULT_LEAKAGE_THRESHOLDS.near_distance
    assert report.near_sampled is None and "sampled" not in found.message
    # a copy with another colour is not near: categorical values must be equal
    recoloured = reference.copy()
    recoloured.loc[near, "colour"] = np.where(current.loc[near, "colour"] == "red", "blue", "red")
    assert not find_leakage(predictions(current), predictions(recoloured)).by_check(
        "near_duplicates"
    )


@pytest.mark.parametrize("n_features", [3, 12])
def test_near_duplicates_agree_with_brute_force(rng: np.random.Generator, n_features: int) -> None:
    """Pairs within and beyond the radius: the search equals a full distance matrix.

    12 features take the two-tree path (candidates on 7, checked on all); a cluster
    of 20 reference rows around one point makes rows with more candidates than asked.
    """
    numeric = [f"x{j}" for j in range(n_features)]

    def table(n: int) -> pd.DataFrame:
        values = {c: rng.normal(0, 1, n) for c in numeric}
        return pd.DataFrame({**values, "label": rng.integers(0, 2, n), "prediction": 0})

    current, reference = table(600), table(400)
    reference.loc[:19, numeric] = rng.normal(0, 1, n_features) + rng.normal(
        0, 1e-3, (20, n_features)
    )
    chosen = rng.choice(400, 200, replace=False)
    scale = rng.choice([0.001, 0.005, 0.02], (200, 1))
    jitter = rng.normal(0, 1, (200, n_features)) * scale
    current.loc[:199, numeric] = reference.loc[chosen, numeric].to_numpy() + jitter
    current.loc[200:209, numeric] = reference.loc[0, numeric].to_numpy()  # in the cluster
    current.loc[200:209, numeric] += rng.normal(0, 1e-3, (10, n_features))
    threshold = 0.01
    report = find_leakage(
        predictions(current),
        predictions(reference),
        thresholds=LeakageThresholds(near_distance=threshold),
    )
    ref = reference[numeric].to_numpy()
    q1, q3 = np.percentile(ref, [25, 75], axis=0)
    a = (current[numeric].to_numpy() - np.median(ref, axis=0)) / (q3 - q1)
    b = (ref - np.median(ref, axis=0)) / (q3 - q1)
    rms = np.sqrt((((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=2)).min(axis=1))
    (found,) = report.by_check("near_duplicates")
    np.testing.assert_array_equal(found.mask(), rms <= threshold)
    assert 20 < found.n_rows < 210  # both sides of the radius are exercised
    assert found.mask()[200:210].all()


def test_a_large_reference_is_sampled_and_says_so(rng: np.random.Generator) -> None:
    current, reference = wide_frame(rng, 500), wide_frame(rng, 2000, start=900)
    reference.loc[:99, [f"x{j}" for j in range(6)]] = current.loc[:99, [f"x{j}" for j in range(6)]]
    reference.loc[:99, "colour"] = current.loc[:99, "colour"].to_numpy()
    reference.loc[:99, "x0"] += 1e-4
    limits = LeakageThresholds(near_max_reference=1000)
    report = find_leakage(predictions(current), predictions(reference), thresholds=limits)
    assert report.near_sampled == 1000
    (found,) = report.by_check("near_duplicates")
    assert "sampled 1,000 of 2,000 reference rows" in found.message
    assert 20 < found.n_rows < 90  # about half the copies were in the sample
    again = find_leakage(predictions(current), predictions(reference), thresholds=limits)
    assert again.by_check("near_duplicates")[0].n_rows == found.n_rows  # seeded


@pytest.mark.parametrize("numeric_ids", [False, True])
def test_shared_ids(rng: np.random.Generator, numeric_ids: bool) -> None:
    current, reference = wide_frame(rng, 400), wide_frame(rng, 300, start=380)
    if numeric_ids:
        current["id"], reference["id"] = np.arange(400), np.arange(380, 680)
    report = find_leakage(predictions(current), predictions(reference))
    (found,) = report.by_check("shared_ids")
    assert found.severity == "error" and found.column == "id"
    np.testing.assert_array_equal(np.flatnonzero(found.mask()), np.arange(380, 400))
    if numeric_ids:  # numeric ids are text on the Slices page: no slice fits
        assert found.slice is None
    else:
        table = predictions(current)
        assert found.slice is not None
        mask = parse_slice(found.slice).mask(table.slice_frame)
        np.testing.assert_array_equal(mask, found.mask())


def test_ids_compare_as_text_when_one_side_is_text(rng: np.random.Generator) -> None:
    current, reference = wide_frame(rng, 100), wide_frame(rng, 100)
    current["id"] = np.arange(100)
    reference["id"] = [str(i) for i in range(50, 150)]
    (found,) = find_leakage(predictions(current), predictions(reference)).by_check("shared_ids")
    assert found.n_rows == 50


def test_shared_ids_need_ids_on_both_sides(rng: np.random.Generator) -> None:
    current = predictions(wide_frame(rng, 200))
    reference = predictions(wide_frame(rng, 200).drop(columns=["id"]))
    report = find_leakage(current, reference)
    assert report.status["shared_ids"] == ("skipped", "the reference has no id column")
    item = leakage_json(report)["shared_ids"]
    assert item["rows"] is None and item["message"].startswith("not checked")


def leaky_frame(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    frame = clean_frame(rng, n)
    label = frame["label"].to_numpy()
    frame["leak"] = label * 3.0 + rng.normal(0, 0.3, n)
    frame["reversed"] = -frame["leak"]
    frame["refund"] = np.where(label ^ (rng.random(n) < 0.01), "yes", "no")
    frame["ticket"] = [f"t{i}" for i in range(n)]  # unique: perfect in-sample, nothing out of it
    return frame


def test_a_leaky_feature_is_flagged_and_noise_is_not(rng: np.random.Generator) -> None:
    frame = leaky_frame(rng)
    table = predictions(frame)
    report = find_leakage(table, predictions(leaky_frame(rng)))
    flagged = {f.column: f for f in report.by_check("leaky_feature")}
    assert set(flagged) == {"leak", "reversed", "refund"}
    leak = flagged["leak"]
    assert leak.severity == "warning" and leak.slice is None and leak.comparison is None
    assert leak.n_rows == table.n_samples
    y = frame["label"].to_numpy()
    assert leak.value == pytest.approx(roc_auc_score(y, frame["leak"]))
    assert flagged["reversed"].value == pytest.approx(1 - roc_auc_score(y, frame["reversed"]))
    scores = {s.column: s.score for s in report.separations}
    assert scores["weight"] < 0.6 and scores["ticket"] < 0.6
    assert leakage_json(report)["leaky_features"][0] == {
        "column": "leak",
        "score": leak.value,
        "measure": "auc",
        "threshold": 0.95,
    }


def test_single_feature_auc_matches_sklearn(rng: np.random.Generator) -> None:
    frame = leaky_frame(rng, 1500)
    frame["size"] = frame["size"].round(0)  # ties count half, as in sklearn
    table = predictions(frame)
    y, rows = frame["label"].to_numpy(), np.arange(len(frame))
    for column in ("size", "weight", "leak"):
        auc = roc_auc_score(y, frame[column])
        assert feature_separation(table, column, rows).score == pytest.approx(max(auc, 1 - auc))
    # a value's rate is learnt on the other fold: the two folds' rates keep the values'
    # order but break each value's tie in two, which moves the AUC by less than 0.01 here
    binary = roc_auc_score(y, frame["refund"] == "yes")
    assert feature_separation(table, "refund", rows).score == pytest.approx(binary, abs=0.01)


def test_multiclass_auc_is_the_one_vs_rest_macro_mean(rng: np.random.Generator) -> None:
    n = 900
    label = rng.choice(["a", "b", "c"], n)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n) + (label == "b") * 1.0,
            "label": label,
            "prediction": rng.choice(["a", "b", "c"], n),
        }
    )
    table = predictions(frame)
    result = feature_separation(table, "x", np.arange(n))
    per_class = [roc_auc_score(label == c, frame["x"]) for c in "abc"]
    assert result.measure == "auc_ovr_macro"
    assert result.score == pytest.approx(np.mean([max(a, 1 - a) for a in per_class]))


def test_regression_separates_the_label_above_its_median(rng: np.random.Generator) -> None:
    n = 800
    label = rng.normal(100, 30, n)
    frame = pd.DataFrame(
        {
            "leak": label + rng.normal(0, 1, n),
            "noise": rng.normal(0, 1, n),
            "label": label,
            "prediction": label + rng.normal(0, 5, n),
        }
    )
    table = predictions(frame)
    above = label > np.median(label)
    result = feature_separation(table, "leak", np.arange(n))
    assert result.measure == "auc_above_median"
    assert result.score == pytest.approx(roc_auc_score(above, frame["leak"]))
    report = find_leakage(table, predictions(frame.sample(frac=1.0, random_state=1)))
    assert [f.column for f in report.by_check("leaky_feature")] == ["leak"]


def test_odd_column_names_and_columns_on_one_side(rng: np.random.Generator) -> None:
    n = 300
    frame = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(n)],
            NUMERIC_NAME: rng.normal(10, 2, n),
            QUOTED_NAME: rng.choice(["a", "b 'b'", 'c "c"'], n),
            UNICODE_NAME: rng.choice(["nord", "süd", "東"], n),
            "only here": rng.random(n),
            "typed": rng.random(n),
            "label": rng.integers(0, 2, n),
            "prediction": rng.integers(0, 2, n),
        }
    )
    other = frame.iloc[:120].assign(id=[f"t{i}" for i in range(120)]).drop(columns=["only here"])
    other["typed"] = [f"v{i % 7}" for i in range(120)]  # text in the reference
    other["extra 🚩"] = 1.0
    report = find_leakage(predictions(frame), predictions(other))
    assert report.columns == (NUMERIC_NAME, QUOTED_NAME, UNICODE_NAME)
    assert any("'typed' is numeric here and categorical" in note for note in report.notes)
    assert any("only in this table ('only here')" in note for note in report.notes)
    assert any("only in the reference ('extra 🚩')" in note for note in report.notes)
    assert "'typed' is numeric here" in leakage_json(report)["exact_duplicates"]["message"]
    (found,) = report.by_check("exact_duplicates")
    assert found.n_rows >= 120  # the copies (and rows equal on the compared features)
    assert found.slice is not None and parse_slice(found.slice).text == found.slice


def test_reference_without_predictions(rng: np.random.Generator) -> None:
    current = clean_frame(rng)
    training = clean_frame(rng).drop(columns=["prediction", "score"])
    training["id"] += 10_000
    training.iloc[:50, 1:4] = current.iloc[:50, 1:4].to_numpy()
    reference = predictions(training, prediction="label")  # as the CLI loads a training set
    report = find_leakage(predictions(current), reference)
    (found,) = report.by_check("exact_duplicates")
    assert found.n_rows == 50 and found.comparison is not None


def test_error_rates_are_compared_with_holm_over_the_leakage_findings(
    rng: np.random.Generator,
) -> None:
    current, reference = wide_frame(rng, 3000), wide_frame(rng, 1000, start=7000)
    current.loc[:299, "prediction"] = current.loc[:299, "label"]  # copies the model gets right
    reference.loc[:299, current.columns[1:6]] = current.loc[:299, current.columns[1:6]].to_numpy()
    reference.loc[:299, [f"x{j}" for j in range(6)]] = current.loc[
        :299, [f"x{j}" for j in range(6)]
    ].to_numpy()
    reference.loc[300:349, "id"] = current.loc[300:349, "id"].to_numpy()
    report = find_leakage(predictions(current), predictions(reference))
    exact, shared = report.by_check("exact_duplicates")[0], report.by_check("shared_ids")[0]
    assert exact.n_rows == 300 and shared.n_rows == 50
    assert exact.comparison is not None and shared.comparison is not None
    assert exact.comparison.inside.value == 0.0 and exact.comparison.significant
    assert exact.comparison.difference.value < 0  # right for the wrong reason
    raw = [exact.comparison.p_value, shared.comparison.p_value]
    adjusted = adjust_p_values(raw, method="holm")
    assert exact.comparison.adjusted_p == pytest.approx(adjusted[0])
    assert shared.comparison.adjusted_p == pytest.approx(adjusted[1])
    item = leakage_json(report)["exact_duplicates"]
    assert item["error_rate"]["significant"] and "here vs" in item["message"]


def test_near_rows_no_more_than_chance_are_info(rng: np.random.Generator) -> None:
    """One numeric feature and one colour: independent rows come within the radius."""
    current = pd.DataFrame(
        {"x": rng.normal(0, 1, 2000), "label": rng.integers(0, 2, 2000), "prediction": 0}
    )
    reference = current.assign(x=rng.normal(0, 1, 2000))
    (found,) = find_leakage(predictions(current), predictions(reference)).by_check(
        "near_duplicates"
    )
    assert found.n_rows > 10 and found.severity == "info"
    assert "no more than chance gives" in found.message


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="leaky_auc"):
        LeakageThresholds(leaky_auc=0.4)
    with pytest.raises(ValueError, match="near_distance"):
        LeakageThresholds(near_distance=-1)
    assert dataclasses.replace(DEFAULT_LEAKAGE_THRESHOLDS, alpha=0.01).alpha == 0.01


def test_docs_list_every_leakage_threshold_and_check() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "quality.md").read_text()
    for row in leakage_threshold_table():
        assert f"| `{row['name']}` | {row['value']:g} | {row['meaning']} |" in docs
    for check in LEAKAGE_CHECKS.values():
        assert f"| `{check.name}` | {check.title} | {check.severity} |" in docs
