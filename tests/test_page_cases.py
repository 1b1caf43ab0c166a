"""Saving a case from the Slices page and the Cases page, under Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice
from mlqa_debug.ui import cases as case_ui

REPO = Path(__file__).resolve().parents[1]
SLICES = str(REPO / "pages" / "slices.py")
CASES = str(REPO / "pages" / "cases.py")
FORM = "slices_case"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path))
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    return Workspace(tmp_path)


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(page, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def open_form(at: AppTest) -> AppTest:
    at.session_state[f"{FORM}__open"] = True  # what clicking the popover's button does
    return at.run()


def saved(workspace: Workspace) -> tuple[lib.Case, ...]:
    return lib.CaseStore(workspace.cases_dir).load().cases


# --------------------------------------------------------------------------- saving


def test_save_from_the_slices_page(workspace: Workspace) -> None:
    at = open_form(open_page(SLICES, ds="loans", slice="employment == 'gig'"))
    assert not at.exception
    assert at.text_input(key=f"{FORM}__name").value == "employment == 'gig'"
    assert at.number_input(key=f"{FORM}__threshold").value == 0.3973
    assert any("Baseline now: **0.3822**" in m.value for m in at.markdown)
    at.selectbox(key=f"{FORM}__metric").set_value("recall[1]").run()
    assert at.number_input(key=f"{FORM}__threshold").value == 0.6003  # the new default
    at.text_input(key=f"{FORM}__name").input("gig recall").run()
    at.text_area(key=f"{FORM}__note").input("planted failure (a)").run()
    at.button(key=f"{FORM}__save").click().run()
    assert not at.exception and not at.error
    (case,) = saved(workspace)
    assert (case.name, case.where, case.metric, case.op) == (
        "gig recall", "employment == 'gig'", "recall[1]", ">=")  # fmt: skip
    assert (case.threshold, case.note) == (0.6003, "planted failure (a)")
    assert (case.source.dataset, case.source.page, case.source.model) == (
        "loans", "slices", "loans-hgb")  # fmt: skip
    assert any("Saved regression case “gig recall”" in s.value for s in at.success)
    assert at.session_state[f"{FORM}__open"] is False  # the popover closed


def test_edited_threshold_is_saved(workspace: Workspace) -> None:
    at = open_form(open_page(SLICES, ds="loans", slice="income >= 150000"))
    at.number_input(key=f"{FORM}__threshold").set_value(0.44).run()
    at.button(key=f"{FORM}__save").click().run()
    (case,) = saved(workspace)
    assert (case.where, case.threshold, case.metric) == ("income >= 150000", 0.44, "error_rate")


def test_save_errors_stay_in_the_form(workspace: Workspace) -> None:
    lib.CaseStore(workspace.cases_dir).save(
        lib.build_case(workspace.load("loans"), name="taken", where=parse_slice("")).case
    )
    at = open_form(open_page(SLICES, ds="loans", slice="age < 25"))
    at.text_input(key=f"{FORM}__name").input("TAKEN").run()
    at.button(key=f"{FORM}__save").click().run()
    assert not at.exception
    assert any("a case named 'taken' exists already" in e.value for e in at.error)
    assert at.session_state[f"{FORM}__open"] is not False
    assert len(saved(workspace)) == 1


def test_the_default_name_is_unused(workspace: Workspace) -> None:
    store = lib.CaseStore(workspace.cases_dir)
    store.save(
        lib.build_case(workspace.load("loans"), name="age < 25", where=parse_slice("age < 25")).case
    )
    at = open_form(open_page(SLICES, ds="loans", slice="age < 25"))
    assert at.text_input(key=f"{FORM}__name").value == "age < 25 (2)"


def test_an_empty_slice_cannot_be_saved(workspace: Workspace) -> None:
    at = open_form(open_page(SLICES, ds="diabetes", slice="bmi > 1000"))
    assert not at.exception
    assert any("cannot be saved as a case" in w.value for w in at.warning)


# --------------------------------------------------------------------------- the Cases page


@pytest.fixture
def library(workspace: Workspace) -> dict[str, lib.Case]:
    loans = workspace.load("loans")
    store = lib.CaseStore(workspace.cases_dir)
    made = {}
    for name, where in [("gig", "employment == 'gig'"), ("overall", ""),
                        ("long loans", "term_months == 60")]:  # fmt: skip
        made[name] = store.save(lib.build_case(loans, name=name, where=parse_slice(where)).case)
    golden = lib.build_case(loans, name="golden", ids=["L00001", "L00003"])
    made["golden"] = store.save(golden.case, rows=golden.rows)
    return made


def plain(markdown: str) -> str:
    """Markdown as shown: user text on the page is backslash-escaped."""
    return markdown.replace("\\", "")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at: AppTest) -> dict[str, str]:
    frame = at.dataframe[0].value
    return dict(zip(frame["name"], frame["status"], strict=True))


def test_empty_library(workspace: Workspace) -> None:
    at = open_page(CASES, ds="loans")
    assert not at.exception
    assert any("No cases yet" in i.value for i in at.info)


def test_library_against_the_second_model(library: dict[str, lib.Case]) -> None:
    at = open_page(CASES, ds="loans_v2")
    assert not at.exception and not at.error
    assert metrics(at) == {"Cases": "4", "Pass": "2", "Fail": "2", "Not applicable": "0"}
    assert table(at) == {
        "gig": "pass",
        "overall": "fail",
        "long loans": "fail",
        "golden": "pass",
    }
    frame = at.dataframe[0].value
    row = frame.set_index("name").loc["overall"]
    assert row["Δ"] == "+0.0063" and row["rows"] == "20,000 / 20,000"
    assert row["open"].endswith("/slices?ds=loans_v2")  # all rows: no slice parameter
    gig = frame.set_index("name").loc["gig"]
    assert "slice=employment+%3D%3D+%27gig%27" in gig["open"]


def test_filter_by_status_goes_into_the_link(library: dict[str, lib.Case]) -> None:
    at = open_page(CASES, ds="loans_v2")
    at.segmented_control(key="status").set_value("fail").run()
    assert set(table(at)) == {"overall", "long loans"}
    assert at.query_params["status"] == "fail"
    again = open_page(CASES, ds="loans_v2", status="pass")
    assert set(table(again)) == {"gig", "golden"}
    at.text_input(key="case_search").input("LONG").run()
    assert set(table(at)) == {"long loans"}


def test_open_edit_and_delete_a_case(workspace: Workspace, library: dict[str, lib.Case]) -> None:
    case = library["long loans"]
    at = open_page(CASES, ds="loans_v2", case=case.id)
    assert not at.exception
    assert plain(at.subheader[0].value) == "long loans"
    assert any(
        "'long loans' failed: error_rate = 0.2189 > threshold" in plain(e.value) for e in at.error
    )
    form_inputs = [t for t in at.text_input if t.label == "Name"]
    form_inputs[0].input("sixty months")
    next(n for n in at.number_input if n.label.startswith("Pass when")).set_value(0.25)
    next(t for t in at.text_area if t.label == "Note").input("v2 regressed here")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert not at.exception
    edited = lib.CaseStore(workspace.cases_dir).get(case.id)
    assert (edited.id, edited.name, edited.threshold, edited.note) == (
        case.id, "sixty months", 0.25, "v2 regressed here")  # fmt: skip
    assert table(at)["sixty months"] == "pass"

    delete = at.button(key=f"delete_{case.id}")
    assert delete.disabled  # confirmation first
    at.checkbox(key=f"confirm_{case.id}").check().run()
    at.button(key=f"delete_{case.id}").click().run()
    assert not at.exception
    assert case.id not in {c.id for c in saved(workspace)}
    assert "sixty months" not in table(at)
    assert "case" not in at.query_params


def test_pick_a_case_from_the_list(library: dict[str, lib.Case]) -> None:
    at = open_page(CASES, ds="loans")
    at.selectbox(key="case").set_value(library["golden"].id).run()
    assert at.query_params["case"] == library["golden"].id
    assert at.subheader[0].value == "golden"
    assert any("L00001, L00003" in c.value for c in at.code)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"case": "../../etc/passwd"}, "not in this library"),
        ({"case": "0123456789ab"}, "not in this library"),
        ({"case": "x" * 30_000}, None),
        ({"status": "<script>"}, None),
    ],
)
def test_tampered_links(library: dict[str, lib.Case], params: dict, message: str | None) -> None:
    at = open_page(CASES, ds="loans", **params)
    assert not at.exception
    if message:
        assert any(message in e.value for e in at.error)
    assert len(table(at)) == 4


def test_unreadable_case_file_is_named(workspace: Workspace, library: dict[str, lib.Case]) -> None:
    (workspace.cases_dir / "hand-edited.json").write_text("{oops")
    at = open_page(CASES, ds="loans")
    assert not at.exception
    assert any("hand-edited.json cannot be read" in plain(w.value) for w in at.warning)
    assert len(table(at)) == 4


def test_run_all_with_a_click(
    library: dict[str, lib.Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_ui, "AUTO_RUN_ROWS", 0)  # as if the data were too big to auto-run
    at = open_page(CASES, ds="loans_v2")
    assert set(table(at).values()) == {"not run"}
    assert metrics(at)["Status"] == "not run"
    at.button(key="run_all").click().run()
    assert not at.exception
    assert metrics(at)["Fail"] == "2"
    assert table(at)["overall"] == "fail"


def test_cases_directory_from_the_environment(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "model_repo" / "golden_cases"
    lib.CaseStore(elsewhere).save(
        lib.build_case(workspace.load("loans"), name="from the repo", where=parse_slice("")).case
    )
    monkeypatch.setenv(lib.ENV_CASES, str(elsewhere))
    at = open_page(CASES, ds="loans")
    assert list(table(at)) == ["from the repo"]
    assert any("--cases golden_cases " in c.value for c in at.code)  # named, not its path
    assert not any(str(tmp_path) in c.value for c in [*at.code, *at.caption, *at.markdown])


def selection_page(ids: list[str]) -> None:
    """A page with a selection of examples, as the Embeddings page has (ids of a lasso)."""
    from mlqa_debug.ui.cases import save_case_form
    from mlqa_debug.ui.context import open_page

    ctx = open_page("embeddings", slice_box=False)
    save_case_form(ctx.predictions, ids=ids, source_page="embeddings", key="emb")


def test_save_a_selection_as_an_example_set(workspace: Workspace) -> None:
    ids = ["L00002", "L00004", "L00006", "L00001"]
    at = AppTest.from_function(selection_page, args=(ids,), default_timeout=60)
    at.query_params["ds"] = "loans"
    at.run()
    at.session_state["emb__open"] = True
    at.run()
    assert not at.exception
    assert any("4 selected examples" in m.value for m in at.markdown)
    assert any("Now **2** of 4 predicted wrong" in m.value for m in at.markdown)
    assert at.text_input(key="emb__name").value == "4 examples from embeddings"
    assert at.number_input(key="emb__threshold").value == 2  # no new wrong example
    at.number_input(key="emb__threshold").set_value(0).run()
    at.button(key="emb__save").click().run()
    assert not at.exception and not at.error
    (case,) = saved(workspace)
    assert case.examples is not None and case.examples.ids == tuple(ids)
    assert (case.metric, case.threshold, case.baseline, case.source.page) == (
        "n_wrong", 0.0, 2.0, "embeddings")  # fmt: skip
    rows = lib.CaseStore(workspace.cases_dir).rows(case)
    assert list(rows["id"]) == sorted(ids)


def test_nothing_selected_gives_a_disabled_button(workspace: Workspace) -> None:
    at = AppTest.from_function(selection_page, args=([],), default_timeout=60)
    at.query_params["ds"] = "loans"
    at.run()
    assert not at.exception
    assert at.button(key="emb__none").disabled


def test_saved_message_follows_the_slice(workspace: Workspace) -> None:
    at = open_form(open_page(SLICES, ds="loans", slice="age < 25"))
    at.button(key=f"{FORM}__save").click().run()
    assert any("Saved regression case" in s.value for s in at.success)
    at.text_input(key="slice").input("age >= 60").run()
    assert not any("Saved regression case" in s.value for s in at.success)
    open_form(at)
    assert at.text_input(key=f"{FORM}__name").value == "age >= 60"  # a fresh default
