"""Quality cases in the app: "Save as regression case" for a finding, and the Cases page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import Slice
from mlqa_debug.ui import serving
from tests.analyses.quality.helpers import clean_frame
from tests.conftest import shown

FORM = "qf"
FEATURES = ["colour", "size", "weight"]
Runner = Callable[..., AppTest]


@pytest.fixture
def datasets(workspace: Workspace, rng: np.random.Generator, tmp_path: Path) -> Workspace:
    """``eval``: 20 of 2,000 rows (1%) miss ``size`` and 30 are copies of ``train`` rows."""
    current, training = clean_frame(rng), clean_frame(rng)
    training["id"] += 10_000
    current.loc[:19, "size"] = np.nan
    current.loc[100:129, FEATURES] = training.loc[:29, FEATURES].to_numpy()
    for name, frame in (("eval", current), ("train", training)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        workspace.add(tmp_path / f"{name}.parquet", name=name)
    return workspace


def finding_page() -> None:
    """A page showing the form of one finding: ``?check=`` (and ``?vs=`` for leakage)."""
    import streamlit as st

    from mlqa_debug.analyses.quality import run_quality
    from mlqa_debug.analyses.quality.leakage import find_leakage
    from mlqa_debug.ui import state
    from mlqa_debug.ui.quality_case import save_finding_form

    ws = state.get_workspace()
    table = state.load_dataset(ws, "eval")
    check, reference = st.query_params["check"], st.query_params.get("vs")
    if reference is None:
        finding = run_quality(table).by_check(check)[0]
    else:
        finding = find_leakage(table, state.load_dataset(ws, reference)).by_check(check)[0]
    save_finding_form(table, finding, dataset="eval", reference=reference, key="qf")


@pytest.fixture
def form(datasets: Workspace, function_runner: Callable[..., Runner]) -> Runner:
    return function_runner(finding_page)


def open_form(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at.button(key=f"{FORM}__button").click().run()


def saved(workspace: Workspace) -> tuple[lib.Case, ...]:
    return lib.CaseStore(workspace.cases_dir).load().cases


def test_save_a_missing_values_finding(form: Runner, datasets: Workspace) -> None:
    at = open_form(form(check="missing_values"))
    assert not at.exception
    assert any("Now **20** of 2,000 rows (1%)" in m.value for m in at.markdown)
    assert at.radio(key=f"{FORM}__metric").value == "rows_share"
    assert at.number_input(key=f"{FORM}__threshold").value == 1.0  # percent: 1% rounded up
    name = at.text_input(key=f"{FORM}__name")
    assert name.value == "no more than 1% missing values in size"
    at.radio(key=f"{FORM}__metric").set_value("rows").run()
    assert at.number_input(key=f"{FORM}__threshold").value == 20
    assert at.text_input(key=f"{FORM}__name").value == "no more than 20 missing values in size"
    at.radio(key=f"{FORM}__metric").set_value("rows_share").run()
    at.number_input(key=f"{FORM}__threshold").set_value(2.0).run()
    at.text_area(key=f"{FORM}__note").input("imputation broke once").run()
    at.text_input(key=f"{FORM}__author").input("Ana").run()
    at.button(key=f"{FORM}__save").click().run()
    assert not at.exception and not at.error
    (case,) = saved(datasets)
    assert case.quality == lib.QualitySpec("missing_values", "size")
    assert (case.metric, case.threshold, case.baseline, case.baseline_rows) == (
        "rows_share", 0.02, 0.01, 2000)  # fmt: skip
    assert (case.name, case.note, case.author) == (
        "no more than 1% missing values in size", "imputation broke once", "Ana")  # fmt: skip
    assert (case.source.dataset, case.source.page) == ("eval", "quality")
    assert at.session_state[f"{FORM}__open"] is False
    assert any("Saved regression case" in shown(s.value) for s in at.success)
    assert any("rows_share <= 2%" in shown(s.value) for s in at.success)


def test_save_an_exact_duplicates_finding_against_the_reference(
    form: Runner, datasets: Workspace
) -> None:
    at = open_form(form(check="exact_duplicates", vs="train"))
    assert not at.exception
    assert at.radio(key=f"{FORM}__metric").value == "rows"
    assert at.number_input(key=f"{FORM}__threshold").value == 0  # no exact duplicates
    assert at.text_input(key=f"{FORM}__name").value == "no exact duplicates against train"
    at.button(key=f"{FORM}__save").click().run()
    assert not at.exception and not at.error
    (case,) = saved(datasets)
    assert case.quality == lib.QualitySpec("exact_duplicates", None, "train")
    assert (case.metric, case.threshold, case.baseline) == ("rows", 0, 30)


def test_a_read_only_server_draws_a_note(form: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = form(check="missing_values")
    assert not at.exception
    assert not [b for b in at.button if b.label == "Save as regression case"]
    assert any("Read-only server" in c.value for c in at.caption)


def test_the_cases_page_checks_quality_cases(
    datasets: Workspace, page_runner: Callable[[str], Runner]
) -> None:
    store = lib.CaseStore(datasets.cases_dir)
    table = datasets.load("eval")
    missing = lib.build_quality_case(
        table, name="missing size", check="missing_values", column="size", dataset="eval"
    )
    copies = lib.build_quality_case(
        table, name="no copies", check="exact_duplicates", reference="train", threshold=10,
        workspace=datasets,
    )  # fmt: skip
    gone = lib.build_quality_case(
        table, name="gone", check="missing_values", column="size", dataset="eval"
    )
    for case in (missing, copies):
        store.save(case)
    broken = lib.Case.from_dict(
        gone.to_dict() | {"quality": {"check": "missing_values", "column": "no such column"}}
    )
    store.save(broken)
    store.save(lib.build_case(table, name="overall", where=Slice()).case)
    at = page_runner("cases")(ds="eval")
    assert not at.exception
    frame = at.dataframe[0].value.set_index("name")
    assert dict(frame["status"]) == {
        "missing size": "pass", "no copies": "fail", "gone": "error", "overall": "pass"
    }  # fmt: skip
    assert frame.loc["missing size", "slice / examples"] == "missing values in size"
    assert frame.loc["missing size", "pass when"] == "rows_share <= 1%"
    assert frame.loc["missing size", "rows"] == "20 flagged / 2,000"
    assert frame.loc["no copies", "slice / examples"] == "exact duplicates against train"
    assert frame.loc["no copies", "rows"] == "30 flagged / 2,000"
    assert frame.loc["no copies", "value"] == 30
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Error"] == "1" and metrics["Fail"] == "1"

    at = page_runner("cases")(ds="eval", case=broken.id)
    assert not at.exception
    assert any(
        "'gone' cannot be checked: column 'no such column' is not in data.parquet" in shown(w.value)
        for w in at.warning
    )
    facts = dict(at.dataframe[1].value.itertuples(index=False))
    assert (facts["check"], facts["column"]) == ("missing_values", "no such column")
    assert any(m.value == "**Quality check**" for m in at.markdown)


def test_status_filter_has_errors(
    datasets: Workspace, page_runner: Callable[[str], Runner]
) -> None:
    table = datasets.load("eval")
    case = lib.build_quality_case(table, name="m", check="missing_values", column="size")
    store = lib.CaseStore(datasets.cases_dir)
    store.save(lib.Case.from_dict(case.to_dict() | {"quality": {"check": "missing_values",
                                                                 "column": "zzz"}}))  # fmt: skip
    at = page_runner("cases")(ds="eval", status="error")
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["m"]
    assert at.dataframe[0].value["status"].tolist() == ["error"]
    assert "Error (1)" in at.segmented_control(key="status").options


def test_the_error_filter_shows_only_with_errors(
    datasets: Workspace, page_runner: Callable[[str], Runner]
) -> None:
    table = datasets.load("eval")
    lib.CaseStore(datasets.cases_dir).save(
        lib.build_quality_case(table, name="m", check="missing_values", column="size")
    )
    at = page_runner("cases")(ds="eval", status="error")
    assert not at.exception
    options = at.segmented_control(key="status").options
    assert options == ["All", "Fail (0)", "Empty (0)", "N/A (0)", "Pass (1)"]  # no "Error"
    assert at.segmented_control(key="status").value == "all"
    assert list(at.dataframe[0].value["name"]) == ["m"]


def test_another_finding_in_the_same_form_gets_its_own_defaults(form: Runner) -> None:
    at = open_form(form(check="exact_duplicates", vs="train"))
    assert at.radio(key=f"{FORM}__metric").value == "rows"
    at.text_input(key=f"{FORM}__name").input("my own name").run()
    at.session_state[f"{FORM}__open"] = False  # the dialog dismissed
    at.query_params["check"] = "missing_values"
    del at.query_params["vs"]
    at = open_form(at.run())
    assert not at.exception
    assert at.radio(key=f"{FORM}__metric").value == "rows_share"
    assert at.number_input(key=f"{FORM}__threshold").value == 1.0
    assert at.text_input(key=f"{FORM}__name").value == "no more than 1% missing values in size"
