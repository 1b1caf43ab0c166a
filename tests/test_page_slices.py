"""The Slices page under Streamlit's AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import shown


@pytest.fixture
def app(page_runner):
    return page_runner("slices")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_link_with_slice_shows_its_metrics(app) -> None:
    at = app(ds="loans", slice="employment == 'gig'")
    assert not at.exception
    assert metric(at, "Rows in slice") == "1,002"
    assert metric(at, "Slice error rate") == "38.2%"
    assert at.text_input(key="slice").value == "employment == 'gig'"


def test_build_a_slice_with_widgets(app) -> None:
    at = app(ds="loans")
    at.selectbox(key="b_column").set_value("employment").run()
    at.multiselect(key="b_values").set_value(["gig"]).run()
    at.button(key="b_add").click().run()
    assert not at.exception
    assert at.query_params["slice"] == "employment == 'gig'"
    assert metric(at, "Rows in slice") == "1,002"
    assert at.text_input(key="slice").value == "employment == 'gig'"


def test_numeric_filter_from_builder(app) -> None:
    at = app(ds="loans")
    at.selectbox(key="b_column").set_value("age").run()
    at.selectbox(key="b_op_numeric").set_value(">=").run()
    at.number_input(key="b_num").set_value(40).run()
    at.button(key="b_add").click().run()
    assert at.query_params["slice"] == "age >= 40"
    assert not at.exception


def test_typing_text_updates_url_and_metrics(app) -> None:
    at = app(ds="loans")
    for text, canonical in [
        ("income >= 150000", "income >= 150000"),
        ("age < 25 and region == 'coastal'", "age < 25 and region == 'coastal'"),
        ("region == 'coastal'  AND  age<25", "age < 25 and region == 'coastal'"),
    ]:
        at.text_input(key="slice").input(text).run()
        assert not at.exception
        assert at.query_params["slice"] == canonical
        assert at.text_input(key="slice").value == canonical
    assert metric(at, "Rows in slice") == "298"


def test_bad_text_keeps_last_slice_and_explains(app) -> None:
    at = app(ds="loans", slice="age >= 40")
    at.text_input(key="slice").input("age >= ").run()
    assert not at.exception
    assert any("expected a value after '>='" in shown(e.value) for e in at.error)
    assert at.query_params["slice"] == "age >= 40"
    assert at.text_input(key="slice").value == "age >= "


def test_remove_predicate_chip(app) -> None:
    at = app(ds="loans", slice="age >= 40 and employment == 'gig'")
    chip = next(b for b in at.button if shown(b.label) == "✕ employment == 'gig'")
    chip.click().run()
    assert at.query_params["slice"] == "age >= 40"


@pytest.mark.parametrize(
    ("ds", "slice_text", "message"),
    [
        ("loans", "nope == 1", "unknown column 'nope'"),
        ("loans", "employment < 'a'", "does not apply"),
        ("loans", "x" * 100_000, "too long"),
        ("loans", "<script>alert(1)</script>", "cannot be used"),
        ("loans", "__import__('os').system('id')", "cannot be used"),
        ("../../etc/passwd", "", "not a valid dataset name"),
        ("nope", "", "no dataset named 'nope'"),
    ],
)
def test_tampered_links_give_messages(app, ds: str, slice_text: str, message: str) -> None:
    at = app(ds=ds, slice=slice_text)
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize(
    ("ds", "slice_text"),
    [("digits", "label in (3, 8, 9)"), ("diabetes", "bmi >= 30 and sex == 'male'")],
)
def test_other_tasks_render(app, ds: str, slice_text: str) -> None:
    at = app(ds=ds, slice=slice_text)
    assert not at.exception
    assert not at.error
    assert int(metric(at, "Rows in slice").replace(",", "")) > 0


def test_changed_dataset_version_is_announced(app) -> None:
    at = app(ds="loans", fp="00000000", slice="age >= 40")
    assert any("different version of 'loans'" in w.value for w in at.warning)
    assert metric(at, "Rows in slice") != "20,000"


def test_all_rows_show_no_difference_instead_of_nan(app) -> None:
    at = app(ds="loans")
    assert not at.exception
    rate = next(m for m in at.metric if m.label == "Slice error rate")
    assert not rate.delta  # nothing to compare with: not "+nan pts vs rest"
    assert metric(at, "Rest error rate") == "–"
    assert not any("nan" in m.value.lower() or "nan" in str(m.delta).lower() for m in at.metric)


@pytest.mark.parametrize(
    ("before", "after", "rows"),
    [
        ("", "employment == 'gig'", "1,002"),  # fewer pages
        ("employment == 'self-employed'", "region == 'central'", "2,946"),  # as many pages
    ],
)
def test_the_examples_page_goes_back_to_the_first_when_the_slice_changes(
    app, before: str, after: str, rows: str
) -> None:
    at = app(ds="loans", slice=before)
    at.number_input(key="ex_page").set_value(20).run()
    assert at.number_input(key="ex_page").value == 20
    at.text_input(key="slice").input(after).run()
    assert not at.exception
    assert at.number_input(key="ex_page").value == 1
    assert at.caption[-1].value == f"Rows 1–50 of {rows}"


@pytest.mark.parametrize("params", [{"ds": "loans", "slice": "age < 30"}, {}, {"ds": "nope"}])
def test_the_navigation_is_drawn_after_the_numbers_and_on_every_stop(
    page_runner, params: dict[str, str]
) -> None:
    """The Slices page draws its sidebar links late (open_page(navigation="late")): after
    the row count, and also when the page stops early (no dataset, a bad one)."""
    at = page_runner("slices")(**params)
    assert not at.exception
    links = " ".join(m.value for m in at.sidebar.markdown)
    for title in ("Slices", "Confusion", "Compare", "Cases"):
        assert f"[{title}](" in links
    if params.get("ds") == "loans":
        assert "slice=age" in links  # the links carry the slice


def test_the_builder_runs_only_while_its_expander_is_open(app) -> None:
    """Open on an empty slice; closed (and not run) once the slice has a filter, so a slice
    change does not redraw it; opening it draws it; a new slice closes it again."""
    at = app(ds="loans")
    assert at.session_state["slices_builder_open"] and at.selectbox(key="b_column")
    at.selectbox(key="b_column").set_value("employment").run()
    at.multiselect(key="b_values").set_value(["gig"]).run()
    at.button(key="b_add").click().run()
    assert not at.exception and metric(at, "Rows in slice") == "1,002"
    assert not at.session_state["slices_builder_open"]
    assert "b_column" not in [s.key for s in at.selectbox]  # closed: not run
    at.session_state["slices_builder_open"] = True  # the reader opens it
    at.run()
    assert at.selectbox(key="b_column") is not None
    at.text_input(key="slice").input("age >= 40").run()  # a new slice closes it
    assert "b_column" not in [s.key for s in at.selectbox]
    at.text_input(key="slice").input("").run()  # all rows: open again
    assert at.selectbox(key="b_column") is not None
