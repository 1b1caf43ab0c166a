"""Each quality check on a table built to trigger it and on one built not to."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.quality import (
    DEFAULT_THRESHOLDS,
    QUALITY_CHECKS,
    Thresholds,
    run_quality,
    threshold_table,
)
from mlqa_debug.analyses.quality.checks import robust_fences
from tests.analyses.quality.helpers import assert_slices_match, clean_frame, findings, predictions


@pytest.fixture
def clean(rng: np.random.Generator) -> pd.DataFrame:
    return clean_frame(rng)


def test_clean_table_has_no_findings(clean: pd.DataFrame) -> None:
    report = run_quality(predictions(clean))
    assert report.findings == ()
    assert report.worst() is None
    assert report.counts() == {"info": 0, "warning": 0, "error": 0}
    assert {r.status for r in report.results()} == {"pass"}
    assert [r.name for r in report.results()] == [c.name for c in QUALITY_CHECKS]


def test_missing_values_severity_by_share_and_error_rate(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    n = len(frame)
    frame.loc[: int(0.6 * n) - 1, "size"] = np.nan  # 60%: error
    frame.loc[n - 20 :, "weight"] = np.nan  # 1%: info, unless the errors differ there
    found = {f.column: f for f in findings(frame, "missing_values")}
    assert set(found) == {"size", "weight"}
    assert found["size"].severity == "error"
    assert found["size"].n_rows == int(0.6 * n)
    assert found["size"].slice == "size is missing"
    assert found["weight"].severity == "info"
    assert found["weight"].value == pytest.approx(20 / n)


def test_missing_values_where_the_model_errs_more_is_a_warning(
    clean: pd.DataFrame, rng: np.random.Generator
) -> None:
    frame = clean.copy()
    wrong = frame["prediction"] != frame["label"]
    chosen = rng.choice(np.flatnonzero(wrong.to_numpy()), size=40, replace=False)
    frame.loc[chosen, "weight"] = np.nan  # 2% missing, every one of them an error
    (finding,) = findings(frame, "missing_values")
    comparison = finding.comparison
    assert comparison is not None and comparison.significant
    assert comparison.inside.value == 1.0
    assert comparison.adjusted_p <= 0.05
    assert finding.severity == "warning"  # raised from info: the errors cluster there
    assert "error rate 100.0% here" in finding.sentence()


def test_holm_adjustment_over_the_report(clean: pd.DataFrame) -> None:
    from mlqa_debug.stats import adjust_p_values

    frame = clean.copy()
    frame.loc[:99, "size"] = np.nan
    frame.loc[500:549, "weight"] = np.nan
    report = run_quality(predictions(frame))
    compared = [f.comparison for f in report.findings if f.comparison is not None]
    raw = [c.p_value for c in compared]
    np.testing.assert_allclose([c.adjusted_p for c in compared], adjust_p_values(raw))


def test_constant_and_near_constant(clean: pd.DataFrame) -> None:
    frame = clean.assign(flat=3.0, mostly="a", varied=clean["colour"])
    frame.loc[:4, "mostly"] = "b"  # 5 of 2,000 differ: near-constant
    frame.loc[:99, "varied"] = "x"
    found = {f.column: f for f in findings(frame, "constant")}
    assert set(found) == {"flat", "mostly"}
    assert found["flat"].severity == "warning" and found["flat"].slice == "flat == 3.0"
    assert found["mostly"].severity == "info"
    assert found["mostly"].slice == "mostly != 'a'" and found["mostly"].n_rows == 5


def test_high_cardinality(clean: pd.DataFrame, rng: np.random.Generator) -> None:
    n = len(clean)
    frame = clean.assign(city=[f"c{i}" for i in rng.integers(0, 300, n)])
    (finding,) = findings(frame, "high_cardinality")
    assert finding.column == "city" and finding.value == frame["city"].nunique()
    assert finding.slice == "city is not missing"
    few = clean.assign(city=[f"c{i}" for i in rng.integers(0, 50, n)])
    assert findings(few, "high_cardinality") == []


def test_identifier_like(clean: pd.DataFrame, rng: np.random.Generator) -> None:
    n = len(clean)
    frame = clean.assign(
        customer_id=rng.permutation(n) * 7,  # whole numbers, all distinct
        code=[f"k{i}" for i in rng.permutation(n)],  # text, all distinct
        orderKey=rng.integers(0, n // 2, n),  # named like an id, about 43% distinct: no
        amount=rng.normal(size=n),  # measurements are distinct too: not an id
    )
    found = {f.column for f in findings(frame, "identifier_like")}
    assert found == {"customer_id", "code"}
    half = clean.assign(orderKey=rng.permutation(n) % (n * 3 // 4))  # 75% distinct
    assert {f.column for f in findings(half, "identifier_like")} == {"orderKey"}
    # an id-like categorical is not also reported as high-cardinality
    assert findings(frame, "high_cardinality") == []


def test_outliers_two_sides_exact_fences(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    frame.loc[:29, "size"] = 100.0  # 1.5%: a warning above
    frame.loc[30:32, "size"] = -100.0  # 0.15%: info below
    found = {f.slice: f for f in findings(frame, "outliers")}
    low, high = robust_fences(frame["size"].to_numpy(), z=DEFAULT_THRESHOLDS.outlier_z)
    assert set(found) == {f"size < {low!r}", f"size > {high!r}"}
    assert found[f"size > {high!r}"].severity == "warning"
    assert found[f"size > {high!r}"].n_rows == 30
    assert found[f"size < {low!r}"].severity == "info"
    assert found[f"size < {low!r}"].n_rows == 3


def test_robust_fences_against_the_definition(rng: np.random.Generator) -> None:
    x = rng.standard_t(3, 5001)
    low, high = robust_fences(x, z=3.5)
    median = np.median(x)
    mad = np.median(np.abs(x - median))
    z = 0.6745 * (x - median) / mad
    # the fences are the z = 3.5 points, to 4 significant digits
    assert high == pytest.approx(median + 3.5 * mad / 0.6745, rel=1e-3)
    assert low == pytest.approx(median - 3.5 * mad / 0.6745, rel=1e-3)
    assert np.count_nonzero(x > high) == pytest.approx(np.count_nonzero(z > 3.5), abs=3)
    assert robust_fences(np.ones(10), z=3.5) is None
    spiky = np.zeros(100)
    spiky[:3] = 1.0  # MAD 0: the mean absolute deviation gives the scale
    assert robust_fences(spiky, z=3.5) == (
        pytest.approx(-3.5 * 1.253314 * 0.03, rel=1e-3),
        pytest.approx(3.5 * 1.253314 * 0.03, rel=1e-3),
    )


def test_duplicate_rows_and_conflicting_labels(clean: pd.DataFrame) -> None:
    frame = clean.assign(id=[f"r{i}" for i in range(len(clean))])
    features = ["colour", "size", "weight"]
    frame.loc[100:104, [*features, "label"]] = frame.loc[0:4, [*features, "label"]].to_numpy()
    frame.loc[200:202, features] = frame.loc[10:12, features].to_numpy()
    frame.loc[200:202, "label"] = 1 - frame.loc[10:12, "label"].to_numpy()
    table = predictions(frame)
    report = run_quality(table)
    (dup,) = report.by_check("duplicate_rows")
    assert np.flatnonzero(dup.mask()).tolist() == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
    shown = ", ".join(f"'r{i}'" for i in sorted([0, 1, 2, 3, 4, 100, 101, 102, 103, 104], key=str))
    assert dup.slice == f"id in ({shown})"
    expected = frame[[*features, "label"]].duplicated(keep=False).to_numpy()
    np.testing.assert_array_equal(dup.mask(), expected)
    (conflict,) = report.by_check("conflicting_labels")
    assert np.flatnonzero(conflict.mask()).tolist() == [10, 11, 12, 200, 201, 202]
    assert_slices_match(report, table)


@pytest.mark.parametrize("ids", ["none", "numeric"])
def test_duplicates_without_text_ids_have_no_slice(clean: pd.DataFrame, ids: str) -> None:
    # numeric ids are text on the Slices page: `id in (0, 100)` would not fit
    frame = clean.drop(columns="id") if ids == "none" else clean.copy()
    columns = [c for c in frame.columns if c != "id"]
    frame.loc[100:104, columns] = frame.loc[0:4, columns].to_numpy()
    (dup,) = findings(frame, "duplicate_rows")
    assert dup.slice is None and dup.n_rows == 10


def test_duplicate_ids_in_an_id_like_feature(clean: pd.DataFrame, rng: np.random.Generator) -> None:
    n = len(clean)
    ids = rng.permutation(n) + 1000
    ids[5:8] = ids[0:3]
    (finding,) = findings(clean.assign(customer_id=ids), "duplicate_ids")
    assert finding.column == "customer_id" and finding.n_rows == 6
    assert finding.severity == "error"
    assert findings(clean.assign(customer_id=rng.permutation(n)), "duplicate_ids") == []


def test_class_balance_and_never_predicted(rng: np.random.Generator) -> None:
    n = 3000
    label = np.where(rng.random(n) < 0.005, "rare", np.where(rng.random(n) < 0.5, "a", "b"))
    prediction = np.where(label == "rare", "a", label)
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": label, "prediction": prediction})
    table = predictions(frame)
    report = run_quality(table)
    (rare,) = report.by_check("class_balance")
    assert rare.slice == "label == 'rare'" and rare.n_rows == int((label == "rare").sum())
    (never,) = report.by_check("never_predicted")
    assert never.slice == "label == 'rare'"
    assert never.comparison is not None and never.comparison.inside.value == 1.0
    assert_slices_match(report, table)
    balanced = frame.assign(label=np.where(label == "rare", "b", label))
    balanced["prediction"] = balanced["label"]
    assert findings(balanced, "class_balance") == findings(balanced, "never_predicted") == []


def test_imbalance_ratio_names_the_smallest_class(rng: np.random.Generator) -> None:
    n = 2200
    label = np.r_[np.zeros(2000, int), np.ones(150, int), np.full(50, 2)]
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": label, "prediction": label})
    (finding,) = findings(frame, "class_balance")
    assert finding.slice == "label == 2"  # 2.3% of rows (not rare), but 2000 / 50 = 40 > 10


def test_regression_skips_the_label_and_calibration_checks(rng: np.random.Generator) -> None:
    y = rng.normal(size=500)
    frame = pd.DataFrame({"x": rng.normal(size=500), "label": y, "prediction": y + 0.1})
    report = run_quality(predictions(frame))
    skipped = {name for name, (_, status, _) in report.checks.items() if status == "skipped"}
    assert skipped == {"class_balance", "never_predicted", "calibration", "slice_calibration"}
    assert {r.status for r in report.results() if r.name == "calibration"} == {"skipped"}


def test_thresholds_change_what_is_found(clean: pd.DataFrame) -> None:
    frame = clean.copy()
    frame.loc[:29, "size"] = np.nan  # 1.5%
    strict = dataclasses.replace(DEFAULT_THRESHOLDS, missing_warning=0.01)
    report = run_quality(predictions(frame), thresholds=strict)
    assert report.by_check("missing_values")[0].severity == "warning"
    with pytest.raises(ValueError, match="warning threshold"):
        Thresholds(missing_warning=0.6, missing_error=0.5)
    with pytest.raises(ValueError, match="alpha"):
        Thresholds(alpha=1.0)


def test_threshold_table_documents_every_field() -> None:
    rows = threshold_table()
    assert [r["name"] for r in rows] == [f.name for f in dataclasses.fields(Thresholds)]
    assert all(r["meaning"] for r in rows)


def test_every_slice_parses_and_selects_exactly_the_rows(
    clean: pd.DataFrame, rng: np.random.Generator
) -> None:
    n = len(clean)
    frame = clean.assign(
        flat=1,
        mostly=np.where(np.arange(n) < 4, "odd value's", "common"),
        **{"odd name": rng.normal(size=n)},
        customer_id=rng.permutation(n),
        flag=rng.random(n) < 0.5,
    )
    frame.loc[:60, "odd name"] = 1e6
    frame.loc[100:150, "colour"] = None
    copied = [c for c in frame.columns if c != "id"]
    frame.loc[300:310, copied] = frame.loc[0:10, copied].to_numpy()
    table = predictions(frame)
    report = run_quality(table)
    assert {f.check for f in report.findings} >= {
        "missing_values",
        "constant",
        "identifier_like",
        "outliers",
        "duplicate_rows",
    }
    assert_slices_match(report, table)


def test_results_render_as_check_results(clean: pd.DataFrame) -> None:
    from mlqa_debug.data.checks import report_json, report_text

    frame = clean.assign(flat=2.0)
    frame.loc[:1000, "size"] = np.nan
    results = run_quality(predictions(frame)).results()
    statuses = {r.name: r.status for r in results}
    assert statuses["missing_values"] == "fail" and statuses["constant"] == "warn"
    assert statuses["outliers"] == "pass"
    assert "size is missing" in report_text(results)
    assert report_json(results)[0]["slice"] == "size is missing"


def test_docs_list_every_threshold_and_check() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[3] / "docs" / "quality.md").read_text()
    for row in threshold_table():
        assert f"| `{row['name']}` | {row['value']:g} | {row['meaning']} |" in docs
    for check in QUALITY_CHECKS:
        assert f"| `{check.name}` | {check.title} | {check.severity} |" in docs


def test_registration_order_is_the_documented_one() -> None:
    assert [c.name for c in QUALITY_CHECKS] == [
        "missing_values",
        "constant",
        "high_cardinality",
        "identifier_like",
        "outliers",
        "duplicate_rows",
        "conflicting_labels",
        "duplicate_ids",
        "class_balance",
        "never_predicted",
        "calibration",
        "slice_calibration",
    ]


def test_slices_of_dates_booleans_and_whole_numbers(rng: np.random.Generator) -> None:
    n = 3000
    frame = pd.DataFrame(
        {
            "when": pd.Timestamp("2024-01-01"),
            "flag": np.r_[np.ones(n - 3, bool), np.zeros(3, bool)],
            "grade": np.r_[np.full(n - 5, 3), np.arange(5)],
            "x": rng.normal(size=n),
            "label": rng.choice(["x", "y", "z"], n),
        }
    )
    frame["prediction"] = frame["label"]
    table = predictions(frame)
    report = run_quality(table)
    found = {f.column: f.slice for f in report.by_check("constant")}
    assert found == {
        "when": "when == '2024-01-01T00:00:00'",
        "flag": "flag != true",
        "grade": "grade != 3",
    }
    assert_slices_match(report, table)
