"""The Data quality page (pages/quality.py) under Streamlit's AppTest, and its figures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.analyses.quality import compute_calibration, run_quality
from mlqa_debug.analyses.quality import figures as plots
from mlqa_debug.analyses.quality.drift import feature_drift, slice_error_drift
from mlqa_debug.analyses.quality.leakage import LEAKAGE_CHECKS, find_leakage
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.ui.links import page_url
from tests.conftest import DOTTED_NAME, NUMERIC_NAME, WriteTable, shown

Run = Callable[..., AppTest]
SAMPLES = ["loans", "loans_v2", "digits", "diabetes"]


@pytest.fixture
def app(page_runner: Callable[[str], Run]) -> Run:
    return page_runner("quality")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table_with(at: AppTest, *columns: str, lacking: str = "") -> pd.DataFrame:
    """The first table with all of ``columns`` (and without ``lacking``)."""
    return next(
        d.value
        for d in at.dataframe
        if set(columns) <= set(d.value.columns) and lacking not in d.value.columns
    )


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("error", "warning", "info", "success", "caption", "markdown")
             for e in getattr(at, kind)]  # fmt: skip
    return shown("\n".join(map(str, parts)))


def charts(at: AppTest) -> list[str]:
    """The keys of the page's plotly charts, in page order."""
    return [c.proto.id for c in at.get("plotly_chart")]


def no_nan(at: AppTest) -> None:
    for m in at.metric:
        assert "nan" not in m.value.lower(), m
    for d in at.dataframe:
        for column in d.value.columns:
            cells = d.value[column].astype(str)
            assert not cells.str.fullmatch("(?i)nan|none").any(), (column, d.value)
    assert " nan" not in texts(at).lower()


def register(workspace: Workspace, write_table: WriteTable, frame: pd.DataFrame, name: str) -> None:
    workspace.add(write_table(frame, f"{name}.csv"), name=name)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_renders_with_the_reports_counts(
    app: Run, workspace: Workspace, name: str
) -> None:
    at = app(ds=name)
    assert not at.exception, [e.value for e in at.exception]
    assert "Data quality" in at.title[0].value
    counts = run_quality(workspace.load(name)).counts()
    seen = metrics(at)
    assert (seen["Errors"], seen["Warnings"], seen["Info"]) == tuple(
        f"{counts[s]:,}" for s in ("error", "warning", "info")
    )
    no_nan(at)


def test_planted_missing_values_show_with_their_slice_link(
    app: Run, workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    binary_frame.loc[::4, NUMERIC_NAME] = np.nan  # 30 of 120 rows: a warning (over 5%)
    register(workspace, write_table, binary_frame, "holes")
    at = app(ds="holes")
    assert not at.exception, [e.value for e in at.exception]
    table = table_with(at, "severity")
    row = table[
        (table["check"] == "Missing values per feature") & (table["column"] == NUMERIC_NAME)
    ]
    assert len(row) == 1
    assert row["rows"].iloc[0] == "30 (25.0%)"
    expected = page_url("slices", {"ds": "holes", "slice": f"`{NUMERIC_NAME}` is missing"})
    assert row["open"].iloc[0] == expected
    assert metrics(at)["Warnings"] == f"{run_quality(workspace.load('holes')).counts()['warning']}"


def test_choosing_a_finding_shows_its_detail(app: Run) -> None:
    at = app(ds="loans")
    picker = next(s for s in at.selectbox if s.label == "Finding")
    picker.set_value(2).run()
    assert not at.exception
    assert at.query_params["finding"] == "2"
    second = run_quality(Workspace().load("loans")).findings[1]
    assert second.slice is not None
    assert any(second.slice in shown(m.value) for m in at.markdown)  # the "Open these rows" link
    assert "95% intervals" in texts(at)
    assert at.button(key="quality_case__button").label == "Save as regression case"


def _pair(rng: np.random.Generator, n: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and a current table; the current's ``loan amount`` shifted, 20 rows shared."""

    def table(shift: float, start: int) -> pd.DataFrame:
        score = rng.random(n)
        return pd.DataFrame(
            {
                "id": [f"R{i}" for i in range(start, start + n)],
                NUMERIC_NAME: rng.normal(100, 10, n) + shift,
                DOTTED_NAME: rng.integers(300, 851, n),
                "colour": rng.choice(["red", "green", "blue"], n),
                "label": (rng.random(n) < score).astype(int),
                "prediction": (score >= 0.5).astype(int),
                "score": score,
            }
        )

    reference, current = table(0.0, 0), table(15.0, 10_000)
    current.iloc[:20, 1:] = reference.iloc[:20, 1:].to_numpy()  # same rows, other ids
    return reference, current


def test_with_a_reference_the_shifted_feature_ranks_first(
    app: Run, workspace: Workspace, write_table: WriteTable, rng: np.random.Generator
) -> None:
    reference, current = _pair(rng)
    register(workspace, write_table, reference, "train")
    register(workspace, write_table, current, "eval")
    at = app(ds="eval", vs="train")
    assert not at.exception, [e.value for e in at.exception]
    drift = table_with(at, "PSI")
    assert drift["column"].iloc[0] == NUMERIC_NAME
    assert drift["level"].iloc[0] == "major"
    expected = feature_drift(workspace.load("eval"), workspace.load("train"))
    assert list(drift["column"]) == [d.column for d in expected]
    leakage = table_with(at, "check", "Holm p", lacking="severity")
    exact = leakage[leakage["check"] == LEAKAGE_CHECKS["exact_duplicates"].title]
    assert list(exact["rows"]) == ["20 (3.3%)"]  # the 20 rows copied from the reference
    assert set(LEAKAGE_CHECKS[c].title for c in LEAKAGE_CHECKS) <= set(leakage["check"])
    assert any(key.endswith("quality_drift_chart") for key in charts(at))
    assert "flags a negligible shift" in texts(at)
    slices = table_with(at, "slice", "error rate")
    moved = slice_error_drift(workspace.load("eval"), workspace.load("train"))
    assert list(slices["slice"]) == [d.slice for d in moved][: len(slices)]
    assert slices["open"].iloc[0] == page_url("slices", {"ds": "eval", "slice": moved[0].slice})
    no_nan(at)


def test_a_leakage_finding_opens_its_rows_and_saves_as_a_case(
    app: Run, workspace: Workspace, write_table: WriteTable, rng: np.random.Generator
) -> None:
    reference, current = _pair(rng)
    register(workspace, write_table, reference, "train")
    register(workspace, write_table, current, "eval")
    at = app(ds="eval", vs="train")
    report = find_leakage(workspace.load("eval"), workspace.load("train"))
    exact = report.by_check("exact_duplicates")[0]
    assert exact.slice is not None and exact.slice.startswith("id in (")
    picker = next(s for s in at.selectbox if s.label == "Leakage finding")
    assert picker.value == 1 and report.findings[0] == exact  # exact copies come first
    url = page_url("slices", {"ds": "eval", "slice": exact.slice})
    link = next(m.value for m in at.markdown if m.value.endswith(f"]({url})"))
    assert shown(link).startswith("[Open these rows: id in (")  # the label shortened to a line
    assert at.button(key="quality_leak_case__button").label == "Save as regression case"


def test_choosing_another_column_draws_it(
    app: Run, workspace: Workspace, write_table: WriteTable, rng: np.random.Generator
) -> None:
    reference, current = _pair(rng)
    register(workspace, write_table, reference, "train")
    register(workspace, write_table, current, "eval")
    at = app(ds="eval", vs="train", col="colour")
    assert not at.exception
    assert next(s for s in at.selectbox if s.label == "Column to draw").value == "colour"
    at = app(ds="eval", vs="train", col="no such column")
    assert not at.exception
    assert "no such column in both tables" in texts(at)
    assert next(s for s in at.selectbox if s.label == "Column to draw").value == NUMERIC_NAME


def test_an_unknown_reference_gets_a_message(app: Run) -> None:
    at = app(ds="loans", vs="nope")
    assert not at.exception
    assert any("nope" in shown(e.value) for e in at.error)
    assert metrics(at)["Rows"] == "20,000"  # the one-table part still shows


def test_a_reference_without_shared_columns_gets_a_message(
    app: Run, workspace: Workspace, write_table: WriteTable, binary_frame: pd.DataFrame
) -> None:
    other = binary_frame[["id", "label", "prediction", "score"]].assign(height=np.arange(120.0))
    register(workspace, write_table, binary_frame, "current")
    register(workspace, write_table, other, "other")
    at = app(ds="current", vs="other")
    assert not at.exception
    assert any("has none of the feature columns" in shown(e.value) for e in at.error)


def test_a_regression_table_has_no_calibration(app: Run) -> None:
    at = app(ds="diabetes")
    assert not at.exception
    assert "no calibration" in texts(at)
    assert not any("reliability" in key for key in charts(at))


def test_the_data_page_links_to_the_quality_page(page_runner: Callable[[str], Run]) -> None:
    at = page_runner("data")(ds="loans")
    assert not at.exception
    counts = run_quality(Workspace().load("loans")).counts()
    assert f"{counts['warning']} warnings" in texts(at)
    assert any(
        m.value.startswith("[Open the Data quality page](/quality?ds=loans)") for m in at.markdown
    )


# --- figures ----------------------------------------------------------------------------


def test_drift_figure_draws_both_distributions(loans: object, loans_v2: object) -> None:
    drift = feature_drift(loans_v2, loans)[0]  # type: ignore[arg-type]
    fig = plots.drift_figure(drift, names=("loans", "loans_v2"))
    reference, current = fig.data
    assert (reference.name, current.name) == ("loans", "loans_v2")
    kept = [
        i
        for i, (r, c) in enumerate(zip(drift.reference_share, drift.current_share, strict=True))
        if r or c
    ]
    assert list(reference.y) == [drift.reference_share[i] for i in kept]
    assert list(current.y) == [drift.current_share[i] for i in kept]
    assert list(reference.x) == [drift.bins[i] for i in kept]


def test_reliability_figure_has_the_diagonal_and_every_curve(digits: object) -> None:
    found = compute_calibration(digits)  # type: ignore[arg-type]
    assert found is not None
    fig = plots.reliability_figure(found)
    assert len(fig.data) == 2 + len(found.per_class)  # diagonal, top label, one per class
    top = fig.data[1]
    keep = found.top_label.counts > 0
    assert np.allclose(np.asarray(top.y, dtype=float), found.top_label.observed[keep])
    assert all(t.visible == "legendonly" for t in fig.data[2:])  # ten classes: hidden at first


def test_a_training_set_without_predictions_is_a_reference(
    app: Run,
    page_runner: Callable[[str], Run],
    workspace: Workspace,
    write_table: WriteTable,
    rng: np.random.Generator,
) -> None:
    reference, current = _pair(rng)
    training = reference.drop(columns=["prediction", "score"])  # labels only
    register(workspace, write_table, training, "train")
    register(workspace, write_table, current, "eval")
    entry = workspace.entry("train")
    assert entry.reference_only and not workspace.entry("eval").reference_only
    at = app(ds="eval", vs="train")
    assert not at.exception, [e.value for e in at.exception]
    leakage = table_with(at, "check", "Holm p", lacking="severity")
    exact = leakage[leakage["check"] == LEAKAGE_CHECKS["exact_duplicates"].title]
    assert list(exact["rows"]) == ["20 (3.3%)"]
    assert table_with(at, "PSI")["column"].iloc[0] == NUMERIC_NAME
    assert "no predictions" in texts(at)  # why there is no error rate per slice to compare
    no_nan(at)

    slices = page_runner("slices")(ds="train")  # not a model's predictions: nothing to debug
    assert not slices.exception
    assert any("is a reference table" in i.value for i in slices.info)
    assert not slices.metric


def test_without_vs_the_page_opens_with_no_reference(app: Run) -> None:
    at = app(ds="loans_v2")  # its default baseline is loans: another model, not a reference
    assert not at.exception
    assert "vs" not in at.query_params
    assert not any(t.value == "Leakage" for t in at.subheader)
