"""The Confusion page under Streamlit's AppTest, on the binary, multiclass and regression samples.

The page runs through ``app.py`` (as in the product): its links to the Slices page
(``st.page_link``) resolve against the app's navigation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.ui import pages
from tests.conftest import shown

REPO = Path(__file__).resolve().parents[1]
PAGE = "pages/confusion.py"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLQA_DEBUG_WORKSPACE", str(tmp_path))
    if not any(spec["page"] == PAGE for spec in pages.PAGES):  # until navigation lists the page
        entry = {"page": PAGE, "title": "Confusion", "url_path": "confusion"}
        monkeypatch.setattr(pages, "PAGES", [*pages.PAGES, entry])

    def open_page(**params: str) -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
        for key, value in params.items():
            at.query_params[key] = value
        at.switch_page(PAGE)
        return at.run()

    return open_page


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def elements(at: AppTest, kind: str) -> list[object]:
    return [e for e in at.main if type(e).__name__ == kind]


def link_targets(at: AppTest) -> list[str]:
    return [shown(e.proto.label) for e in elements(at, "PageLink")]  # type: ignore[attr-defined]


def test_digits_link_with_a_pair_shows_its_images(app) -> None:
    at = app(ds="digits", pair="8~1")
    assert not at.exception and not at.error
    assert metric(at, "Errors in slice") == "33"
    assert at.selectbox(key="pair").value == "8~1"
    assert "**true 8 → predicted 1**: 5 rows" in markdown(at)
    assert len(elements(at, "Image")) == 5
    table = at.dataframe[-1].value
    assert list(table["label"]) == [8] * 5 and list(table["prediction"]) == [1] * 5
    assert table["image"].str.startswith("data:image/png;base64,").all()
    assert "Open on Slices: label == 8 and prediction == 1" in link_targets(at)
    assert at.query_params["pair"] == "8~1"


def test_pairs_table_ranks_digits_confusions(app) -> None:
    at = app(ds="digits")
    pairs = at.dataframe[0].value
    assert (pairs.loc[0, "true"], pairs.loc[0, "predicted"], pairs.loc[0, "count"]) == ("8", "1", 5)
    assert pairs["count"].sum() == 33
    assert "Choose a pair" in "\n".join(i.value for i in at.info)


def test_choosing_a_pair_and_options_goes_into_the_url(app) -> None:
    at = app(ds="digits", slice="label in (3, 8, 9)")
    at.selectbox(key="pair").set_value("3~8").run()
    assert at.query_params["pair"] == "3~8"
    assert "**true 3 → predicted 8**: 3 rows in the slice" in markdown(at)
    at.radio(key="norm").set_value("recall").run()
    at.radio(key="compare").set_value("diff").run()
    assert (at.query_params["norm"], at.query_params["compare"]) == ("recall", "diff")
    assert at.selectbox(key="pair").value == "3~8"  # options change, the pair stays
    at.radio(key="norm").set_value("counts").run()
    assert "norm" not in at.query_params  # defaults stay out of the link
    assert not at.exception and not at.error
    link = next(c.value for c in at.code)
    assert "pair=3~8" in link and "compare=diff" in link and "norm" not in link


def test_loans_threshold_updates_matrix_and_metrics(app) -> None:
    at = app(ds="loans", slice="employment == 'gig'", thr="0.3", pair="1~0")
    assert not at.exception and not at.error
    assert at.slider(key="thr").value == pytest.approx(0.3)
    frame = pd.read_csv(REPO / "sample_data" / "loans.csv")
    gig = frame[frame["employment"] == "gig"]
    errors = int(((gig["score"] >= 0.3).astype(int) != gig["label"]).sum())
    assert metric(at, "Errors in slice at 0.30") == f"{errors:,}"
    metrics = at.dataframe[1].value
    tp = int(((gig["score"] >= 0.3) & (gig["label"] == 1)).sum())
    assert metrics.loc["true positives", "slice"] == f"{tp:,}"
    misses = int(((gig["score"] < 0.3) & (gig["label"] == 1)).sum())
    assert f"**true 1 → predicted 0** at 0.30: {misses:,} rows in the slice" in markdown(at)
    assert not any("score column cannot be used in slices" in c.value for c in at.caption)
    links = [shown(p.proto.label) for p in at.get("page_link")] + [m.value for m in at.markdown]
    opened = [text for text in links if "Open on Slices" in text]
    assert opened and "score < 0.3" in opened[0]  # the pair's slice is exactly the cell's rows
    at.slider(key="thr").set_value(0.5).run()
    assert "thr" not in at.query_params  # back to the default
    assert metric(at, "Errors in slice at 0.50") == "383"  # 38.2% of 1,002 (sample README)


def test_diabetes_shows_residuals(app) -> None:
    at = app(ds="diabetes", slice="bmi >= 30")
    assert not at.exception and not at.error
    summary = at.dataframe[0].value
    assert summary.loc["slice", "rows"] == "56"
    assert len(at.get("plotly_chart")) == 2
    assert "Slice vs rest: MAE" in markdown(at)
    assert len(at.dataframe[1].value) == 50  # the slice's rows, first page
    assert not elements(at, "Radio")  # no matrix options for a regression


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pair": "8~11"}, "does not name two classes"),
        ({"pair": "<script>alert(1)</script>"}, "not of the form"),
        ({"pair": "x" * 30_000}, None),  # over-long: ignored as absent
        ({"norm": "__import__('os')", "compare": "evil", "top": "-5"}, None),
        ({"slice": "nope == 1"}, "unknown column 'nope'"),
    ],
)
def test_tampered_digits_links(app, params: dict[str, str], message: str | None) -> None:
    at = app(ds="digits", **params)
    assert not at.exception
    messages = [shown(m.value) for m in [*at.error, *at.warning]]  # a fallback is a warning
    if message:
        assert any(message in m for m in messages), messages
    else:
        assert not at.error
    assert at.radio(key="norm").value == "counts"
    assert at.selectbox(key="pair").value is None
    assert not {"pair", "norm", "compare", "top"} & set(at.query_params)  # the link is cleaned


@pytest.mark.parametrize("thr", ["abc", "2", "nan", "-0.5"])
def test_tampered_threshold(app, thr: str) -> None:
    at = app(ds="loans", thr=thr)
    assert not at.exception
    assert any("not a number in [0, 1]" in shown(w.value) for w in at.warning)
    assert at.slider(key="thr").value == 0.5


def test_many_classes_fold_into_other(app, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, k = 3000, 30
    label = rng.integers(0, k, n)
    prediction = np.where(rng.random(n) < 0.7, label, rng.integers(0, k, n))
    prediction[(label == 7) & (rng.random(n) < 0.5)] = 13  # the planted confusion
    frame = pd.DataFrame(
        {"group": rng.choice(["a", "b"], n), "label": label, "prediction": prediction}
    )
    frame.to_csv(tmp_path / "many.csv", index=False)
    from mlqa_debug.data.workspace import Workspace

    Workspace(tmp_path).add(tmp_path / "many.csv", name="many")
    at = app(ds="many", slice="group == 'a'", top="6")
    assert not at.exception and not at.error
    assert at.number_input(key="top").value == 6
    assert any("classes fold into 'other'" in c.value for c in at.caption)
    assert at.dataframe[0].value.loc[0, ["true", "predicted"]].tolist() == ["7", "13"]
    at.number_input(key="top").set_value(12).run()
    assert "top" not in at.query_params
    at.number_input(key="top").set_value(20).run()
    assert at.query_params["top"] == "20"
