"""The Discover page under Streamlit's AppTest."""

from __future__ import annotations

import pytest

from mlqa_debug.slicing import MAX_SLICE_LENGTH
from tests.conftest import shown


@pytest.fixture
def app(page_runner):
    return page_runner("discover")


@pytest.mark.parametrize("dataset", ["loans", "digits", "diabetes"])
def test_renders_results_and_tree(app, dataset: str) -> None:
    at = app(ds=dataset)
    assert not at.exception
    assert not at.error
    results, tree = at.dataframe[0].value, at.dataframe[1].value
    assert len(results) >= 1 and results["open"].str.startswith(f"/slices?ds={dataset}").all()
    assert tree["node"].iloc[0] == 0 and len(tree) >= 1


def test_parameters_from_the_url_and_back(app) -> None:
    at = app(ds="loans", alpha="0.98", k="3", level="1")
    assert at.slider(key="d_alpha").value == pytest.approx(0.98)
    results = at.dataframe[0].value
    assert len(results) == 3
    assert results["predicates"].max() == 1
    assert results["slice"].iloc[0] == "employment == 'gig'"
    at.number_input(key="d_k").set_value(4)
    at.button[0].click().run()
    assert at.query_params["k"] == "4"
    assert len(at.dataframe[0].value) == 4


def test_search_inside_the_current_slice(app) -> None:
    at = app(ds="loans", slice="region == 'coastal'")
    results = at.dataframe[0].value
    assert results["slice"].str.contains("region == 'coastal'").all()


@pytest.mark.parametrize("params", [{"alpha": "nan"}, {"k": "-5"}, {"level": "x" * 5000}])
def test_garbage_parameters_fall_back(app, params: dict[str, str]) -> None:
    at = app(ds="loans", **params)
    assert not at.exception
    assert len(at.dataframe[0].value) >= 1


def test_the_link_pins_the_search_and_out_of_range_values_are_said(app) -> None:
    at = app(ds="loans", k="500", alpha="5")
    assert not at.exception and not at.error
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "k '500': outside 1 to 100; '100' is shown" in warnings
    assert "α '5': outside 0.05 to 1; '1' is shown" in warnings
    assert (at.query_params["k"], at.query_params["alpha"]) == ("100", "1")
    link = next(c.value for c in at.code if "/discover?" in c.value)
    for part in ("alpha=1", "k=100", "level=2", "support=1", "bins=5", "measure=error"):
        assert part in link


@pytest.mark.parametrize(
    ("param", "raw", "message", "shown"),
    [
        ("k", "-1", "k '-1': outside 1 to 100; '1' is shown", "1"),
        ("alpha", "5", "α '5': outside 0.05 to 1; '1' is shown", "1"),
        ("level", "99", "Max predicates '99': outside 1 to 4; '4' is shown", "4"),
        ("bins", "0", "Bins per numeric '0': outside 2 to 20; '2' is shown", "2"),
    ],
)
def test_an_out_of_range_value_is_said_and_the_url_corrected(
    app, param: str, raw: str, message: str, shown: str
) -> None:
    at = app(ds="loans", **{param: raw})
    assert not at.exception and not at.error
    shown_text = [w.value.replace("\\", "") for w in at.warning]  # as read: no escapes
    assert any(message in w for w in shown_text), shown_text
    assert at.query_params[param] == shown
    link = next(c.value for c in at.code if "/discover?" in c.value)
    assert f"{param}={shown}&" in link + "&"


def test_a_slice_the_slices_page_accepts_can_be_searched(app) -> None:
    """Discover once refused slices over 10,000 characters (the Slices page takes 20,000)."""
    others = ", ".join(f"'r{i:06d}'" for i in range(1_400))
    at = app(ds="loans", slice=f"region in ('coastal', {others})")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert 10_000 < len(at.query_params["slice"]) <= MAX_SLICE_LENGTH
    results = at.dataframe[0].value
    assert len(results) >= 1 and results["slice"].str.contains("'coastal'").all()
