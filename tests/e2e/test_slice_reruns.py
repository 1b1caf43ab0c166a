"""What a slice change reruns on the Slices page, read off the websocket in Chromium.

A slice change must update every part of the page that depends on the slice (the
numbers, the comparison table and chart, the breakdown, the examples); an
interaction that leaves the slice alone (ordering the examples, a pick in the filter
builder) must rerun its own part of the page and nothing else. The test records the
messages the server sends for each action, decodes them with Streamlit's protobuf
classes and names the elements each run drew.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from mlqa_debug import load_predictions
from mlqa_debug.analyses.examples import examples_page
from mlqa_debug.slicing import parse_slice, slice_mask
from tests.e2e.harness import REPO, wait_for_run

SLICE = "employment == 'gig'"
SLICE_DEPENDENT = {"metric", "plotly_chart", "table", "dataframe"}


class Sent:
    """The elements the server draws, per action: a count of element types."""

    def __init__(self, page: Page) -> None:
        self.types: Counter[str] = Counter()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: Any) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, bytes | bytearray):
            return
        message = ForwardMsg()
        message.ParseFromString(bytes(payload))
        if message.WhichOneof("type") != "delta":
            return
        delta = message.delta
        if delta.WhichOneof("type") == "new_element":
            self.types[delta.new_element.WhichOneof("type") or "?"] += 1

    def take(self) -> Counter[str]:
        taken, self.types = self.types, Counter()
        return taken


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    predictions = load_predictions(REPO / "sample_data" / "loans.csv")
    mask = slice_mask(predictions, parse_slice(SLICE))
    by_income = examples_page(predictions, mask, sort_by="income", descending=True)
    narrower = slice_mask(predictions, parse_slice(f"{SLICE} and age >= 30"))
    return {
        "rows": f"{int(mask.sum()):,}",
        "narrower_rows": f"{int(narrower.sum()):,}",
        "caption": f"Rows 1–50 of {int(mask.sum()):,}",
        "top_income_id": str(by_income.frame["id"].iloc[0]),
    }


def metric_value(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def pick(page: Page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.keyboard.type(option)  # filters the list to the one option
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")  # the list re-renders as it filters: a click can miss it


def test_slice_change_updates_what_depends_on_it_and_nothing_else_reruns(
    server, page: Page, expected: dict[str, str]
) -> None:
    sent = Sent(page)
    page.goto(f"{server.url}/slices?ds=loans")
    wait_for_run(page)
    rows = page.locator('[data-testid="stMetric"]').filter(has_text="Rows in slice")
    expect(rows).to_contain_text("20,000", timeout=60_000)
    wait_for_run(page)
    sent.take()

    box = page.get_by_label("Slice", exact=True)
    box.fill(SLICE)
    box.press("Enter")
    wait_for_run(page, expect_rerun=True)
    drawn = sent.take()
    assert metric_value(page, "Rows in slice") == expected["rows"]
    expect(page.get_by_text(expected["caption"])).to_be_visible()
    assert drawn["metric"] == 4 and drawn["plotly_chart"] >= 1
    assert drawn["table"] == 1  # the comparison with the rest
    assert drawn["dataframe"] == 2  # the breakdown and the examples

    pick(page, "Order by", "income")  # not the slice: the examples section reruns alone
    wait_for_run(page, expect_rerun=True)
    drawn = sent.take()
    assert drawn["dataframe"] == 1 and not drawn.keys() & {"metric", "plotly_chart"}
    grid = page.locator('[data-testid="stDataFrame"]').last
    expect(grid).to_contain_text(expected["top_income_id"])
    assert metric_value(page, "Rows in slice") == expected["rows"]

    page.get_by_text("Add a filter").click()  # the builder: column age, operator >=
    wait_for_run(page, expect_rerun=True)  # opening it runs the page, which draws the builder
    value = page.get_by_label("Value", exact=True)
    expect(value).to_be_visible(timeout=30_000)
    sent.take()
    value.fill("30")
    value.press("Tab")  # a pick in the builder reruns the builder alone
    wait_for_run(page, expect_rerun=True)
    drawn = sent.take()
    assert not drawn.keys() & SLICE_DEPENDENT, drawn
    assert metric_value(page, "Rows in slice") == expected["rows"]

    page.get_by_role("button", name="Add", exact=True).click()  # the slice changes: all reruns
    wait_for_run(page, expect_rerun=True)
    expect(page.get_by_label("Slice", exact=True)).to_have_value(f"age >= 30 and {SLICE}")
    drawn = sent.take()
    assert metric_value(page, "Rows in slice") == expected["narrower_rows"]
    assert drawn["metric"] == 4 and drawn["table"] == 1 and drawn["dataframe"] == 2
