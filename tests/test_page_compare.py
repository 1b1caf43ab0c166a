"""The Compare page under Streamlit's AppTest: loans_v2 (candidate) against loans (baseline)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.workspace import Workspace, samples_dir
from tests.conftest import shown

BROKEN, RELATIVE = "cmp_broken", "cmp_relative"


@pytest.fixture
def app(page_runner, workspace: Workspace, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    return page_runner("compare")


def problems(at: AppTest) -> list[str]:
    """The page's error messages, apart from a "Regression" verdict (shown in red)."""
    return [e.value for e in at.error if not e.value.startswith("Regression")]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def deltas(at: AppTest) -> pd.DataFrame:
    return table_with(at, "adjusted p")


def texts(at: AppTest) -> str:
    """Everything the page wrote as text (alerts, captions, Markdown), as a reader sees it."""
    parts = [e.value for kind in ("error", "warning", "info", "success", "caption", "markdown")
             for e in getattr(at, kind)]  # fmt: skip
    return shown("\n".join(map(str, parts)))


def no_nan(at: AppTest) -> None:
    """No 'nan' in any metric, table cell or text of the page."""
    for m in at.metric:
        assert "nan" not in m.value.lower() and "nan" not in str(m.delta).lower(), m
    for d in at.dataframe:
        frame = d.value
        for column in frame.columns:
            if frame[column].dtype == object:
                assert not frame[column].astype(str).str.fullmatch("(?i)nan").any(), column
    assert " nan" not in texts(at).lower()


def test_loans_v2_against_loans(app) -> None:
    at = app(ds="loans_v2", vs="loans")
    assert not at.exception, at.exception
    assert metric(at, "Verdict") == "Regression"
    assert metric(at, "Rows compared") == "20,000"
    assert metric(at, "Broken") == "766"
    assert metric(at, "Fixed") == "640"
    assert metric(at, "Baseline error rate") == "16.7%"
    assert metric(at, "Candidate error rate") == "17.3%"
    headline = table_with(at, "test")
    error = headline[headline["metric"] == "Error rate"].iloc[0]
    assert error["test"].startswith("McNemar exact") and error["p"] == "< 0.001"
    assert error["difference"] == "+0.6 pts"
    table = deltas(at)
    parts = table[~table["kind"].isin(["all rows", "current slice"])]
    assert parts["slice"].iloc[0] == "employment == 'unemployed'"
    top = parts.iloc[0]
    assert (top["rows"], top["baseline"], top["candidate"]) == ("1,343", "23.0%", "26.3%")
    assert (top["broken"], top["fixed"]) == ("96", "52")
    assert "slice=employment" in top["open here"] and top["open here"].startswith("/compare?")
    assert top["on Slices"].startswith("/slices?")
    assert "Regression" in texts(at)
    no_nan(at)


def test_the_review_summary_and_the_link(app) -> None:
    at = app(ds="loans_v2", vs="loans")
    codes = [c for c in at.code if c.language == "markdown"]
    assert len(codes) == 1
    summary = codes[0].value
    assert "Regression" in summary and "766" in summary and "employment" in summary
    assert any(s.value == "Copy review summary" for s in at.subheader)
    link = at.code[-1].value
    assert "/compare?" in link and "ds=loans_v2" in link and "vs=loans" in link


def test_the_slice_in_the_url_changes_the_numbers(app) -> None:
    at = app(ds="loans_v2", vs="loans", slice="employment == 'unemployed'")
    assert not at.exception
    assert metric(at, "Rows compared") == "1,343"
    assert metric(at, "Broken") == "96"
    assert metric(at, "Fixed") == "52"
    assert metric(at, "Baseline error rate") == "23.0%"
    table = deltas(at)
    assert table["kind"].iloc[0] == "current slice" or "current slice" in set(table["kind"])
    assert all("employment == 'unemployed'" in s for s in table["slice"])
    no_nan(at)


def test_typing_a_slice_updates_the_page(app) -> None:
    at = app(ds="loans_v2", vs="loans")
    at.text_input(key="slice").input("employment == 'gig'").run()
    assert not at.exception
    assert at.query_params["slice"] == "employment == 'gig'"
    assert metric(at, "Rows compared") == "1,002"
    assert metric(at, "Baseline error rate") == "38.2%"
    assert metric(at, "Candidate error rate") == "28.2%"


def test_options_in_the_url_are_respected(app) -> None:
    at = app(ds="loans_v2", vs="loans", min="500", adjust="bh", alpha="0.01", flip="fixed",
             fpage="2")  # fmt: skip
    assert not at.exception
    assert not at.warning
    assert at.number_input(key="cmp_min").value == 500
    assert at.selectbox(key="cmp_adjust").value == "bh"
    assert at.number_input(key="cmp_alpha").value == pytest.approx(0.01)
    assert at.number_input(key="cmp_fpage").value == 2
    assert "Rows 51–100 of 640" in texts(at)
    assert "Benjamini-Hochberg" in texts(at)
    rows = [int(r.replace(",", "")) for r in deltas(at)["rows"]]
    assert min(rows) >= 500
    link = at.code[-1].value
    for part in ("min=500", "adjust=bh", "alpha=0.01", "flip=fixed", "fpage=2"):
        assert part in link


def test_a_flip_choice_the_browser_cleared_falls_back_to_the_link(app) -> None:
    """The segmented control can come back empty without its on_change.

    The page then shows the link's choice, not a KeyError (a traceback seen in the
    server logs of bench_paint.py runs at 1M rows, on some slice changes).
    """
    at = app(ds="loans_v2", vs="loans", flip="fixed")
    at.session_state["cmp_flip"] = None
    at.run()
    assert not at.exception
    assert "Rows 1–50 of 640" in texts(at)
    assert "flip=fixed" in at.code[-1].value


def test_the_significance_level_changes_what_counts(app) -> None:
    loose = app(ds="loans_v2", vs="loans")
    strict = app(ds="loans_v2", vs="loans", alpha="0.001")
    assert metric(strict, "Verdict") == "Regression"  # McNemar p ~ 0.0009 < 0.001
    n_loose, n_strict = significant_slices(loose), significant_slices(strict)
    assert 0 < n_strict < n_loose


def significant_slices(at: AppTest) -> int:
    """The number of significantly worse slices the verdict names."""
    match = re.search(r"(\d+) of \d+ slices? (?:are|is) significantly worse", texts(at))
    assert match, texts(at)
    return int(match.group(1))


def test_an_out_of_range_page_is_said_and_clamped(app) -> None:
    at = app(ds="loans_v2", vs="loans", fpage="999")
    assert not at.exception
    assert any("the page of flips '999'" in w.value for w in at.warning)
    assert at.number_input(key="cmp_fpage").value == 16  # 766 broken rows, 50 a page


def test_changing_the_baseline_with_the_selectbox(app) -> None:
    at = app(ds="loans_v2", vs="loans")
    assert "loans_v2" not in at.selectbox(key="cmp_baseline").options  # not itself
    at.selectbox(key="cmp_baseline").set_value("digits").run()
    assert not at.exception
    assert at.query_params["vs"] == "digits"
    assert any("cannot be compared" in shown(e.value) for e in at.error)
    at.selectbox(key="cmp_baseline").set_value("loans").run()
    assert at.query_params["vs"] == "loans"
    assert metric(at, "Verdict") == "Regression"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vs": "nope"}, "no dataset named 'nope'"),
        ({"vs": "../../etc"}, "not a valid dataset name"),
        ({"vs": "loans_v2"}, "the candidate itself"),
        ({"vs": "diabetes"}, "binary"),
        ({"vs": "digits"}, "cannot be compared"),
    ],
)
def test_bad_baselines_give_messages(app, params: dict[str, str], message: str) -> None:
    at = app(ds="loans_v2", **params)
    assert not at.exception
    assert any(message in shown(e.value) for e in at.error), [e.value for e in at.error]
    assert at.selectbox(key="cmp_baseline") is not None  # a way out: pick another


def test_without_a_baseline_the_page_asks_for_one(app) -> None:
    at = app(ds="loans")  # loans has no default baseline
    assert not at.exception
    assert any("Choose a baseline" in shown(i.value) for i in at.info)


def test_the_default_baseline_is_used_without_vs(app) -> None:
    at = app(ds="loans_v2")  # the built-in loans_v2 has the default baseline loans
    assert not at.exception
    assert at.selectbox(key="cmp_baseline").value == "loans"
    assert at.query_params["vs"] == "loans"
    assert metric(at, "Broken") == "766"


def test_a_registered_default_baseline(app, workspace: Workspace) -> None:
    perturbed(workspace, "diabetes", "diabetes_v2", baseline="diabetes")
    at = app(ds="diabetes_v2")
    assert not at.exception
    assert at.query_params["vs"] == "diabetes"
    assert metric(at, "Rows compared") == "221"  # every row of the sample


def perturbed(
    workspace: Workspace, sample: str, name: str, *, seed: int = 0, baseline: str | None = None
) -> None:
    """Register a copy of a sample whose predictions moved: a second model's table."""
    rng = np.random.default_rng(seed)
    source = next(p for p in samples_dir().iterdir() if p.stem == sample and p.suffix in
                  (".csv", ".parquet"))  # fmt: skip
    frame = pd.read_csv(source) if source.suffix == ".csv" else pd.read_parquet(source)
    if sample == "diabetes":
        frame["prediction"] = frame["prediction"] + rng.normal(0, 25, len(frame))
    else:
        probs = frame[[c for c in frame.columns if c.startswith("prob_")]].to_numpy()
        probs = probs + rng.random(probs.shape) * 0.6
        probs = probs / probs.sum(axis=1, keepdims=True)
        for j, column in enumerate(c for c in frame.columns if c.startswith("prob_")):
            frame[column] = probs[:, j]
        classes = [c.removeprefix("prob_") for c in frame.columns if c.startswith("prob_")]
        frame["prediction"] = np.asarray(classes, dtype=object)[probs.argmax(axis=1)]
        frame["prediction"] = frame["prediction"].astype(frame["label"].dtype)
    path = workspace.root / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    workspace.add(path, name=name, baseline=baseline)


def test_regression_against_a_perturbed_copy(app, workspace: Workspace) -> None:
    perturbed(workspace, "diabetes", "diabetes_v2")
    at = app(ds="diabetes_v2", vs="diabetes")
    assert not at.exception, at.exception
    assert not problems(at), problems(at)
    assert metric(at, "Verdict") == "Regression"  # noise of sd 25 on every prediction
    headline = table_with(at, "test")
    assert "MAE" in set(headline["metric"]) or any("absolute" in m for m in headline["metric"])
    assert "Still wrong, different" not in [m.label for m in at.metric]
    no_nan(at)


def test_multiclass_digits_against_a_perturbed_copy(app, workspace: Workspace) -> None:
    perturbed(workspace, "digits", "digits_v2")
    at = app(ds="digits_v2", vs="digits", slice="label in (3, 8)")
    assert not at.exception, at.exception
    assert not problems(at), problems(at)
    assert metric(at, "Verdict") in ("Regression", "No significant difference", "Improvement")
    assert int(metric(at, "Broken").replace(",", "")) > 0
    assert "Still wrong, different" in [m.label for m in at.metric]
    no_nan(at)


# --------------------------------------------------------------------------- saving


def saved(workspace: Workspace) -> tuple[lib.Case, ...]:
    return lib.CaseStore(workspace.cases_dir).load().cases


def test_save_a_relative_case(app, workspace: Workspace) -> None:
    at = app(ds="loans_v2", vs="loans", slice="employment == 'unemployed'")
    at.session_state[f"{RELATIVE}__open"] = True  # what clicking the popover's button does
    at.run()
    assert not at.exception
    assert at.number_input(key=f"{RELATIVE}__margin").value == pytest.approx(0.01)
    assert any("baseline **23.0%**" in m.value for m in at.markdown)
    at.number_input(key=f"{RELATIVE}__margin").set_value(0.02).run()
    at.text_input(key=f"{RELATIVE}__name").input("unemployed no worse").run()
    at.button(key=f"{RELATIVE}__save").click().run()
    assert not at.exception and not problems(at), problems(at)
    (case,) = saved(workspace)
    assert (case.name, case.where, case.metric) == (
        "unemployed no worse", "employment == 'unemployed'", "error_rate")  # fmt: skip
    assert case.margin == pytest.approx(0.02)
    assert case.reference is not None and case.reference.dataset == "loans"
    assert case.source.dataset == "loans_v2" and case.source.page == "compare"
    assert case.condition == "error_rate <= baseline + 0.02"
    assert any("Saved regression case “unemployed no worse”" in s.value for s in at.success)


def test_save_the_broken_rows_as_an_example_set(app, workspace: Workspace) -> None:
    at = app(ds="loans_v2", vs="loans", slice="employment == 'unemployed'")
    at.session_state[f"{BROKEN}__open"] = True
    at.run()
    assert not at.exception
    assert at.text_input(key=f"{BROKEN}__name").value.startswith("broken by loans_v2")
    at.text_area(key=f"{BROKEN}__note").input("v2 broke these").run()
    at.button(key=f"{BROKEN}__save").click().run()
    assert not at.exception and not problems(at), problems(at)
    (case,) = saved(workspace)
    assert case.examples is not None and len(case.examples.ids) == 96
    assert (case.metric, case.threshold, case.baseline) == ("n_wrong", 0.0, 0.0)
    assert case.source.dataset == "loans"  # saved on the baseline: it got them right
    assert "v2 broke these" in case.note and "loans_v2" in case.note


def test_read_only_mode_hides_the_save_forms(app, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlqa_debug.ui import serving

    monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = app(ds="loans_v2", vs="loans")
    assert not at.exception
    assert not any("Save" in s.value for s in at.subheader)
    assert metric(at, "Verdict") == "Regression"


def test_new_failures_are_searched_and_linked(app) -> None:
    at = app(ds="loans_v2", vs="loans")
    table = table_with(at, "broken rate")
    assert len(table) > 0
    assert all(link.startswith("/compare?") for link in table["open here"])
    assert "SliceLine" in texts(at)


def test_on_a_large_table_new_failures_wait_for_a_click(app, monkeypatch) -> None:
    from mlqa_debug.ui import compare as ui

    monkeypatch.setattr(ui, "AUTO_NEWLY_CELLS", 0)  # every table counts as large
    at = app(ds="loans_v2", vs="loans")
    assert not any("broken rate" in d.value.columns for d in at.dataframe)
    at.button(key="cmp_newly_run").click().run()
    assert not at.exception
    assert at.query_params["newly"] == "1"  # the link asks for the search, for a reviewer
    assert len(table_with(at, "broken rate")) > 0
    assert "newly=1" in at.code[-1].value


@pytest.mark.parametrize(
    "params",
    [
        {"ds": "loans_v2", "vs": "loans", "slice": "age < 30"},  # the whole page
        {"ds": "loans"},  # stops: no baseline
        {"ds": "loans_v2", "vs": "nope"},  # stops: a bad baseline
        {"ds": "loans_v2", "vs": "loans", "slice": "age < 0"},  # stops: no compared row
    ],
)
def test_the_navigation_is_drawn_after_the_numbers_and_on_every_stop(
    app, params: dict[str, str]
) -> None:
    """Compare draws its sidebar links late (after the headline numbers), and still
    draws them when it stops early."""
    at = app(**params)
    assert not at.exception
    links = " ".join(m.value for m in at.sidebar.markdown)
    for title in ("Slices", "Confusion", "Compare", "Cases"):
        assert f"[{title}](" in links
    if "slice" in params and params["slice"] == "age < 30":
        assert "slice=age" in links and metric(at, "Rows compared")
