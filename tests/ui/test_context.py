"""The page context: one call sets a page up from its URL (datasets, slice, mask, options, link)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import shown


def options_page() -> None:
    """A page with one option of each kind, over an optional second dataset."""
    import streamlit as st

    from mlqa_debug.ui.context import open_page
    from mlqa_debug.ui.options import choice, flag, number, text

    def declare(ctx):
        yield choice("color", ["error", "label"], what="the colouring")
        second = ["a", "b"] if ctx.options["color"] == "error" else ["c"]
        yield choice("shade", second, what="the shade")  # depends on the option before it
        yield number("k", 10, low=1, high=100, integer=True, what="k")
        yield flag("clusters", what="clusters")
        yield text("example", what="the example", max_length=10)

    ctx = open_page("slices", options=declare, second="optional")
    st.session_state["_ctx"] = {
        "name": ctx.name,
        "second": ctx.second.name if ctx.second else None,
        "slice": ctx.slice.text,
        "rows": int(ctx.mask.sum()),
        "options": dict(ctx.options.values),
        "link": ctx.link(),
        "other": ctx.link("confusion"),
    }


@pytest.fixture
def run(function_runner) -> Callable[..., AppTest]:
    return function_runner(options_page)


def context(at: AppTest) -> dict:
    assert not at.exception, at.exception
    return at.session_state["_ctx"]


def test_defaults_stay_out_of_the_link(run) -> None:
    at = run(ds="loans")
    ctx = context(at)
    assert ctx["options"] == {"color": "error", "shade": "a", "k": 10, "clusters": False,
                              "example": ""}  # fmt: skip
    assert not at.warning and not at.error
    assert set(at.query_params) == {"ds", "fp"}
    assert "color=" not in ctx["link"] and "ds=loans" in ctx["link"] and "fp=" in ctx["link"]


def test_values_from_the_url_and_the_slice(run) -> None:
    at = run(ds="loans", color="label", shade="c", k="7", clusters="1", example="L1",
             slice="employment == 'gig'")  # fmt: skip
    ctx = context(at)
    assert ctx["options"] == {"color": "label", "shade": "c", "k": 7, "clusters": True,
                              "example": "L1"}  # fmt: skip
    assert ctx["slice"] == "employment == 'gig'" and 0 < ctx["rows"] < 20_000
    assert "shade=" not in ctx["link"]  # "c" is the only shade, so the default, with label
    for part in ("color=label", "k=7", "clusters=1", "example=L1", "slice=employment"):
        assert part in ctx["link"]
    # a link to another page carries the datasets and the slice, not this page's options
    assert "slice=employment" in ctx["other"] and "color=" not in ctx["other"]
    assert ctx["other"].split("?")[0].endswith("/confusion")


@pytest.mark.parametrize(
    ("params", "message", "fallback"),
    [
        ({"color": "<script>"}, "the colouring '<script>': not offered here", {"color": "error"}),
        ({"color": "label", "shade": "a"}, "the shade 'a': not offered here", {"shade": "c"}),
        ({"k": "500"}, "k '500': outside 1 to 100; '100' is shown", {"k": 100}),
        ({"k": "-3"}, "k '-3': outside 1 to 100; '1' is shown", {"k": 1}),
        ({"k": "nan"}, "k 'nan': not a finite number", {"k": 10}),
        ({"k": "2.5"}, "not a whole number", {"k": 2}),
        ({"clusters": "yes"}, "clusters 'yes': not 0 or 1", {"clusters": False}),
        ({"example": "x" * 11}, "longer than 10 characters", {"example": ""}),
    ],
)
def test_an_unusable_value_is_named_replaced_and_corrected_in_the_url(
    run, params: dict[str, str], message: str, fallback: dict
) -> None:
    at = run(ds="loans", **params)
    ctx = context(at)
    warnings = [shown(w.value) for w in at.warning]
    assert any(message in w for w in warnings), warnings
    assert not at.error
    for key, value in fallback.items():
        assert ctx["options"][key] == value
        in_url = at.query_params.get(key)
        assert in_url in (None, str(value)) or (key == "k" and in_url == str(int(value)))


def test_parameters_no_one_reads_leave_the_url(run) -> None:
    at = run(ds="loans", stale="1", norm="recall")
    context(at)
    assert "stale" not in at.query_params and "norm" not in at.query_params


def test_an_over_long_value_counts_as_absent_and_leaves(run) -> None:
    at = run(ds="loans", color="x" * 30_000)
    assert context(at)["options"]["color"] == "error"
    assert "color" not in at.query_params and not at.warning


def test_the_second_dataset_is_loaded_and_carried(run) -> None:
    at = run(ds="loans", vs="loans_v2")
    ctx = context(at)
    assert (ctx["name"], ctx["second"]) == ("loans", "loans_v2")
    assert "vs=loans_v2" in ctx["link"] and "vs=loans_v2" in ctx["other"]
    assert at.query_params["vs"] == "loans_v2"


@pytest.mark.parametrize(
    ("vs", "message"),
    [("../../etc/passwd", "not a valid dataset name"), ("nosuch", "nosuch")],
)
def test_a_bad_second_dataset_gives_a_message(run, vs: str, message: str) -> None:
    at = run(ds="loans", vs=vs)
    ctx = context(at)
    assert ctx["second"] is None
    assert any("second dataset" in e.value and message in e.value for e in at.error)


def test_a_page_can_require_a_second_dataset(function_runner) -> None:
    def page() -> None:
        from mlqa_debug.ui.context import open_page

        open_page("slices", second="required")
        import streamlit as st

        st.markdown("past the context")

    at = function_runner(page)(ds="loans")
    assert not at.exception
    assert any("compare with" in i.value for i in at.info)
    assert not any("past the context" in m.value for m in at.markdown)


def test_sidebar_links_carry_what_belongs_in_a_link(run) -> None:
    at = run(ds="loans", vs="loans_v2", slice="age >= 40", color="label")
    links = [m.value for m in at.sidebar.markdown]
    assert links, "no sidebar links"
    assert all("ds=loans" in v and "vs=loans_v2" in v and "slice=age" in v for v in links)
    assert not any("color=" in v for v in links)


@pytest.mark.parametrize("page", ["slices", "confusion", "explanations", "embeddings"])
def test_the_slice_is_parsed_checked_and_evaluated_once_per_run(
    page_runner, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    from mlqa_debug.slicing import Slice

    calls = {"check": 0, "mask": 0}
    check, mask = Slice.check, Slice.mask

    def counted_check(self, *args, **kwargs):
        calls["check"] += 1
        return check(self, *args, **kwargs)

    def counted_mask(self, *args, **kwargs):
        calls["mask"] += 1
        return mask(self, *args, **kwargs)

    monkeypatch.setattr(Slice, "check", counted_check)
    monkeypatch.setattr(Slice, "mask", counted_mask)
    at = page_runner(page)(ds="loans", proj="pca", slice="employment == 'gig'")
    assert not at.exception
    assert calls == {"check": 1, "mask": 1}, calls


def test_the_mask_of_all_rows_is_read_only(loans) -> None:
    from mlqa_debug.ui.slice_state import _all_rows

    mask = _all_rows(loans)
    assert mask.all() and len(mask) == loans.n_samples
    with pytest.raises(ValueError, match="read-only"):
        mask[0] = False
    assert isinstance(mask, np.ndarray)
