"""Tests of mlqa_debug.analyses.compare.report: compare(), the verdict, its JSON and its JUnit.

References: pandas (a merge of the two tables by id) for the counts and rates,
scipy's exact binomial test for McNemar's p-value, and hand-built tables whose
outcome is known (a planted regression slice, identical models).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from mlqa_debug.analyses.compare.report import (
    WHOLE_KINDS,
    Comparison,
    compare,
    comparison_junit,
    plain,
    write_comparison_junit,
)
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.errors import CompareError, ParameterError, SliceError
from mlqa_debug.slicing import Predicate, Slice, parse_slice

HOSTILE_VALUE = "x|y`z <b>bold</b> [a](http://e.vil) @team **\nnext $1$ &amp;"
HOSTILE_COLUMN = "team `A`|<B>"
UNEMPLOYED = "employment == 'unemployed'"
GIG = "employment == 'gig'"


def planted_frames(
    n: int = 4000, seed: int = 7, *, fix_elsewhere: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(candidate, baseline): the same rows (candidate shuffled); the candidate breaks
    about half of the rows the baseline got right where the hostile group value is
    (and with ``fix_elsewhere`` fixes as many rows outside it, so overall it is even)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", HOSTILE_VALUE], n, p=[0.4, 0.3, 0.2, 0.1])
    label = rng.integers(0, 2, n)
    base_pred = np.where(rng.random(n) < 0.85, label, 1 - label)
    cand_pred = base_pred.copy()
    hit = (group == HOSTILE_VALUE) & (base_pred == label) & (rng.random(n) < 0.5)
    cand_pred[hit] = 1 - label[hit]
    if fix_elsewhere:
        wrong_outside = np.flatnonzero((group != HOSTILE_VALUE) & (base_pred != label))
        fixed = rng.choice(wrong_outside, int(hit.sum()), replace=False)
        cand_pred[fixed] = label[fixed]
    baseline = pd.DataFrame(
        {
            "id": [f"r{i:05d}" for i in range(n)],
            HOSTILE_COLUMN: group,
            "amount": np.round(rng.normal(size=n), 4),
            "label": label,
            "prediction": base_pred,
        }
    )
    candidate = baseline.assign(prediction=cand_pred).sample(frac=1.0, random_state=1)
    return candidate.reset_index(drop=True), baseline


def load_frame(frame: pd.DataFrame, path: Path) -> Predictions:
    frame.to_parquet(path, index=False)
    return load_predictions(path, sidecar=False)


def planted_tables(folder: Path, **kwargs: Any) -> tuple[Predictions, Predictions]:
    candidate, baseline = planted_frames(**kwargs)
    return load_frame(candidate, folder / "cand.parquet"), load_frame(
        baseline, folder / "base.parquet"
    )


def merged(candidate: Predictions, baseline: Predictions) -> pd.DataFrame:
    """The pandas reference: both tables joined by id, with each model's error indicator."""
    m = candidate.frame.merge(baseline.frame, on="id", suffixes=("", "_b"))
    m["wrong_c"] = m["prediction"] != m["label"]
    m["wrong_b"] = m["prediction_b"] != m["label_b"]
    return m


@pytest.fixture(scope="module")
def loans_comparison(loans: Predictions, loans_v2: Predictions) -> Comparison:
    return compare(loans_v2, loans, discover=False, names=("loans_v2", "loans"))


# --------------------------------------------------------------------------- the loans pair


def test_loans_pair_is_a_regression_with_unemployed_on_top(loans_comparison: Comparison) -> None:
    c = loans_comparison
    assert c.regression and c.verdict == "Regression"
    worse = c.worse_slices
    assert worse.iloc[0]["slice"] == UNEMPLOYED
    top = c.to_dict()["slices"][0]
    assert top["slice"] == UNEMPLOYED and top["size"] == 1343
    assert (top["broken"], top["fixed"]) == (96, 52)
    assert top["p_adjusted"] < 0.05 <= top["p_adjusted"] * 10  # Holm over ~43 slices
    assert {UNEMPLOYED, "employment == 'salaried'"} <= set(worse["slice"])


def test_flips_and_headline_match_pandas_and_scipy(
    loans: Predictions, loans_v2: Predictions, loans_comparison: Comparison
) -> None:
    m = merged(loans_v2, loans)
    both = m["wrong_b"] & m["wrong_c"]
    expected = {
        "broken": int((~m["wrong_b"] & m["wrong_c"]).sum()),
        "fixed": int((m["wrong_b"] & ~m["wrong_c"]).sum()),
        "both_wrong_same": int((both & (m["prediction"] == m["prediction_b"])).sum()),
        "both_wrong_different": int((both & (m["prediction"] != m["prediction_b"])).sum()),
    }
    data = loans_comparison.to_dict()
    assert {k: data["flips"][k] for k in expected} == expected == {
        "broken": 766, "fixed": 640, "both_wrong_same": expected["both_wrong_same"],
        "both_wrong_different": 0,
    }  # fmt: skip
    assert data["rows"] == len(m) == 20_000
    error = data["overall"]["error_rate"]
    assert error["baseline"] == pytest.approx(m["wrong_b"].mean())
    assert error["candidate"] == pytest.approx(m["wrong_c"].mean())
    assert error["difference"] == pytest.approx(m["wrong_c"].mean() - m["wrong_b"].mean())
    assert error["ci_low"] < error["difference"] < error["ci_high"]
    reference = binomtest(expected["broken"], expected["broken"] + expected["fixed"]).pvalue
    assert error["p_value"] == pytest.approx(reference, rel=1e-9)


def test_slice_rows_match_pandas(
    loans: Predictions, loans_v2: Predictions, loans_comparison: Comparison
) -> None:
    m = merged(loans_v2, loans)
    rows = {s["slice"]: s for s in loans_comparison.to_dict()["slices"]}
    for value in ("unemployed", "gig", "retired"):
        part = m[m["employment"] == value]
        got = rows[f"employment == {value!r}"]
        assert got["size"] == len(part)
        assert got["baseline"] == pytest.approx(part["wrong_b"].mean())
        assert got["candidate"] == pytest.approx(part["wrong_c"].mean())
        broken = int((~part["wrong_b"] & part["wrong_c"]).sum())
        fixed = int((part["wrong_b"] & ~part["wrong_c"]).sum())
        assert got["p_value"] == pytest.approx(binomtest(broken, broken + fixed).pvalue)
        assert got["p_value"] <= got["p_adjusted"] <= 1


def test_json_has_the_issue_keys_and_is_strict_json(loans_comparison: Comparison) -> None:
    data = loans_comparison.to_dict()
    text = json.dumps(data, allow_nan=False)  # nan would raise here
    assert json.loads(text) == data
    for key in ("rows", "only_in_baseline", "only_in_candidate", "label_mismatches", "flips",
                "overall", "slices", "regression", "verdict", "baseline", "candidate", "alpha",
                "correction", "min_size"):  # fmt: skip
        assert key in data, key
    assert {"fixed", "broken", "both_wrong_same", "both_wrong_different"} <= set(data["flips"])
    for metric in data["overall"].values():
        assert {"baseline", "candidate", "difference", "ci_low", "ci_high", "p_value"} <= set(
            metric
        )
    for row in data["slices"]:
        assert {"slice", "size", "baseline", "candidate", "difference", "p_value",
                "p_adjusted"} <= set(row)  # fmt: skip
    assert data["regression"] is True and data["verdict"] == "Regression"
    assert data["candidate"]["name"] == "loans_v2" and data["baseline"]["name"] == "loans"
    assert data["candidate"]["fingerprint"] != data["baseline"]["fingerprint"]
    assert data["candidate"]["model_version"] == "2"
    assert (data["alpha"], data["correction"], data["min_size"]) == (0.05, "holm", 30)


def test_plain_turns_nan_and_numpy_into_json() -> None:
    value = {"a": np.float64("nan"), "b": [np.int64(3), float("inf")], "c": (np.bool_(True),)}
    assert plain(value) == {"a": None, "b": [3, None], "c": [True]}
    json.dumps(plain(value), allow_nan=False)


def test_where_gig_is_an_improvement(loans: Predictions, loans_v2: Predictions) -> None:
    c = compare(loans_v2, loans, where=parse_slice(GIG), discover=False)
    assert not c.regression and c.verdict == "Improvement"
    data = c.to_dict()
    assert data["where"] == GIG and (data["rows"], data["slice_rows"]) == (20_000, 1002)
    error = data["overall"]["error_rate"]
    assert error["difference"] < 0 and error["p_value"] < 0.05
    assert all(GIG in row["slice"] for row in data["slices"])


def test_the_same_model_twice_is_no_difference(loans: Predictions) -> None:
    c = compare(loans, loans, discover=False)
    assert c.verdict == "No significant difference" and not c.regression
    data = c.to_dict()
    assert data["flips"]["broken"] == data["flips"]["fixed"] == 0
    assert data["overall"]["error_rate"]["difference"] == 0
    json.dumps(data, allow_nan=False)


def test_discovery_runs_when_asked(loans: Predictions, loans_v2: Predictions) -> None:
    data = compare(loans_v2, loans, discover=True).to_dict()
    newly = data["newly_failing"]
    assert newly["broken"] == 766 and newly["slices"]
    assert all(s["broken"] >= 1 and s["size"] >= s["broken"] for s in newly["slices"])
    assert "newly_failing" not in compare(loans_v2, loans, discover=False).to_dict()


# --------------------------------------------------------------------------- planted tables


HOSTILE_SLICE = Slice((Predicate(HOSTILE_COLUMN, "==", (HOSTILE_VALUE,)),))


def test_planted_slice_is_found_in_shuffled_tables(tmp_path: Path) -> None:
    candidate, baseline = planted_tables(tmp_path)
    c = compare(candidate, baseline, discover=False)
    assert c.regression
    top = c.worse_slices.iloc[0]
    assert parse_slice(top["slice"]) == HOSTILE_SLICE
    m = merged(candidate, baseline)
    part = m[m[HOSTILE_COLUMN] == HOSTILE_VALUE]
    assert top["rows"] == len(part)
    assert top["candidate"] == pytest.approx(part["wrong_c"].mean())
    assert top["baseline"] == pytest.approx(part["wrong_b"].mean())


def test_a_slice_alone_makes_a_regression(tmp_path: Path) -> None:
    cand_frame, base_frame = planted_frames(fix_elsewhere=True)
    candidate = load_frame(cand_frame, tmp_path / "c.parquet")
    baseline = load_frame(base_frame, tmp_path / "b.parquet")
    c = compare(candidate, baseline, discover=False)
    primary = c.headline.primary
    assert primary.difference == 0 and not c.primary_worse and not c.primary_better
    assert c.regression and c.verdict == "Regression"
    assert parse_slice(c.worse_slices.iloc[0]["slice"]) == HOSTILE_SLICE
    failed = [
        case.get("name")
        for case in ET.fromstring(comparison_junit(c)).iter("testcase")
        if case.find("failure") is not None
    ]
    assert "overall" not in failed and HOSTILE_SLICE.text in failed


def test_match_problems_are_counted_with_examples(tmp_path: Path) -> None:
    cand_frame, base_frame = planted_frames(n=600)
    cand_frame = cand_frame[~cand_frame["id"].isin(["r00001", "r00002"])]  # only in baseline
    extra = base_frame.iloc[:3].assign(id=["new1", "new2", "new3"])  # only in candidate
    cand_frame = pd.concat([cand_frame, extra], ignore_index=True)
    relabelled = cand_frame["id"].isin(["r00010", "r00011"])
    cand_frame.loc[relabelled, "label"] = 1 - cand_frame.loc[relabelled, "label"]
    candidate = load_frame(cand_frame, tmp_path / "c.parquet")
    baseline = load_frame(base_frame, tmp_path / "b.parquet")
    data = compare(candidate, baseline, discover=False).to_dict()
    assert data["only_in_baseline"] == 2 and data["only_in_candidate"] == 3
    assert data["label_mismatches"] == 2
    assert data["rows"] == 600 - 2 - 2
    assert sorted(data["examples"]["only_in_baseline"]) == ["r00001", "r00002"]
    assert sorted(data["examples"]["only_in_candidate"]) == ["new1", "new2", "new3"]
    assert sorted(data["examples"]["label_mismatches"]) == ["r00010", "r00011"]


def test_examples_are_capped(tmp_path: Path) -> None:
    cand_frame, base_frame = planted_frames(n=600)
    candidate = load_frame(cand_frame.iloc[:500], tmp_path / "c.parquet")
    baseline = load_frame(base_frame, tmp_path / "b.parquet")
    data = compare(candidate, baseline, discover=False).to_dict()
    assert data["only_in_baseline"] == 100 and len(data["examples"]["only_in_baseline"]) == 20


def regression_pair(diabetes: Predictions, folder: Path) -> tuple[Predictions, Predictions]:
    """(candidate, diabetes): the candidate's predictions are 25 further off for women."""
    frame = diabetes.frame.copy()
    women = frame["sex"] == "female"
    frame.loc[women, "prediction"] += np.sign(frame["prediction"] - frame["label"]) * 25
    return load_frame(frame, folder / "worse.parquet"), diabetes


def test_regression_tables(diabetes: Predictions, tmp_path: Path) -> None:
    candidate, baseline = regression_pair(diabetes, tmp_path)
    c = compare(candidate, baseline, discover=False)
    data = c.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["primary_metric"] == data["slice_metric"] == "mae"
    assert data["flips"]["both_wrong_different"] is None
    assert data["flips"]["rates"]["both_wrong_different"] is None
    m = candidate.frame.merge(baseline.frame, on="id", suffixes=("", "_b"))
    mae = data["overall"]["mae"]
    assert mae["baseline"] == pytest.approx((m["prediction_b"] - m["label"]).abs().mean())
    assert mae["candidate"] == pytest.approx((m["prediction"] - m["label"]).abs().mean())
    assert c.regression and data["slices"][0]["slice"] == "sex == 'female'"


def test_different_tasks_are_refused(loans: Predictions, diabetes: Predictions) -> None:
    with pytest.raises(CompareError, match=r"binary.*regression|regression.*binary"):
        compare(loans, diabetes, discover=False)


# --------------------------------------------------------------------------- bad options


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"alpha": True}, "alpha"),
        ({"min_size": 0}, "min_size"),
        ({"min_size": 2.5}, "min_size"),
        ({"correction": "bonferroni"}, "correction"),
    ],
)
def test_bad_options_are_refused(
    loans: Predictions, loans_v2: Predictions, options: dict[str, Any], name: str
) -> None:
    with pytest.raises(ParameterError) as info:
        compare(loans_v2, loans, discover=False, **options)
    assert info.value.name == name


@pytest.mark.parametrize(
    ("text", "message"),
    [("nosuch == 1", "nosuch"), ("age > 1000", "selects none of the 20,000 compared rows")],
)
def test_bad_slices_are_refused(
    loans: Predictions, loans_v2: Predictions, text: str, message: str
) -> None:
    with pytest.raises(SliceError, match=message):
        compare(loans_v2, loans, where=parse_slice(text), discover=False)


def test_bh_is_at_most_as_strict_as_holm(loans: Predictions, loans_v2: Predictions) -> None:
    holm = compare(loans_v2, loans, discover=False).deltas.frame.set_index("slice")
    bh = compare(loans_v2, loans, correction="bh", discover=False).deltas.frame.set_index("slice")
    assert (bh["p_adjusted"].reindex(holm.index) <= holm["p_adjusted"] + 1e-12).all()


# --------------------------------------------------------------------------- JUnit


def junit_cases(xml: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_junit_has_overall_and_one_case_per_slice(loans_comparison: Comparison) -> None:
    xml = comparison_junit(loans_comparison)
    root = ET.fromstring(xml)
    cases = junit_cases(xml)
    frame = loans_comparison.deltas.frame
    checked = frame[~frame["kind"].isin(WHOLE_KINDS)]
    assert len(cases) == len(checked) + 1 == int(root.get("tests", "0"))
    assert set(cases) == {"overall", *checked["slice"]}
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {"overall", *checked.loc[checked["significant"].astype(bool), "slice"]}
    assert UNEMPLOYED in failed and GIG not in failed
    assert int(root.get("failures", "0")) == len(failed)
    message = cases[UNEMPLOYED].find("failure").get("message", "")  # type: ignore[union-attr]
    assert "1,343 rows" in message and "Holm-adjusted p" in message
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["candidate.name"] == "loans_v2" and props["verdict"] == "Regression"


def test_junit_without_regression_has_no_failure(loans: Predictions) -> None:
    xml = comparison_junit(compare(loans, loans, discover=False))
    assert all(case.find("failure") is None for case in junit_cases(xml).values())


def test_junit_survives_hostile_names(tmp_path: Path) -> None:
    candidate, baseline = planted_tables(tmp_path)
    c = compare(candidate, baseline, discover=False, names=("a\x00<b>&\ud800", "]]>"))
    path = write_comparison_junit(tmp_path / "out" / "compare.xml", c)
    root = ET.parse(path).getroot()
    names = [case.get("name", "") for case in root.iter("testcase")]
    assert HOSTILE_SLICE.text in names
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["candidate.name"] == "a\ufffd<b>&\ufffd" and props["baseline.name"] == "]]>"


def test_junit_unwritable_path_is_a_parameter_error(
    loans_comparison: Comparison, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ParameterError, match="cannot write the JUnit report"):
        write_comparison_junit(blocker / "x.xml", loans_comparison)


def test_tests_text_names_tests_and_correction(loans_comparison: Comparison) -> None:
    text = loans_comparison.tests_text()
    assert "McNemar" in text and "Holm" in text and "slices of at least 30 rows" in text
    assert not math.isnan(loans_comparison.alpha)
