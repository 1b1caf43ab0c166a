"""The Confusion and Cases pages on an external dataset: exact counts and checks over every row.

The log has 6,000 rows and the pages see a sample of 1,500, so every number the
tests compare (from numpy on the whole table, its Parquet parts concatenated)
differs from the sample's: a page that counted the sample would fail them.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases as lib
from mlqa_debug.analyses.confusion import binary_predictions, class_confusion
from mlqa_debug.cases.relative import build_relative_case
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.stats import count, percent
from tests.conftest import shown
from tests.external_data import N_ROWS, REGION, SAMPLE_ROWS, register_logs

NORTH = f"`{REGION}` == 'north'"
NORTH_OLDER = f"{NORTH} and age >= 40"
EXACT = f"Exact: computed by DuckDB over all {N_ROWS:,} rows."


@pytest.fixture
def logs(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``logs`` (default baseline ``logs_old``, both external on DuckDB); its files' folder."""
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    entry = register_logs(workspace, tmp_path, monkeypatch, baseline=True)
    assert entry.external is not None
    return Path(entry.external.path)


def whole(path: Path, tmp_path: Path) -> Predictions:
    """Every row of the external table, loaded in memory (what numpy would say)."""
    out = tmp_path / f"{path.name}-whole.parquet"
    parts = sorted(path.glob("day=*/*.parquet"))
    pd.concat(pd.read_parquet(p) for p in parts).to_parquet(out, index=False)
    return load_predictions(out)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def captions(at: AppTest) -> str:
    return " ".join(shown(c.value) for c in at.caption)


def heatmap_counts(chart: Any) -> np.ndarray:
    """The cell counts a confusion heatmap draws (its diagonal and off-diagonal traces)."""
    traces = json.loads(chart.proto.spec)["data"]
    z = [_array(t["z"]) for t in traces if t.get("type") == "heatmap"]
    return np.nansum(np.stack(z), axis=0).astype(np.int64)


def _array(z: Any) -> np.ndarray:
    """A plotly array: a nested list, or the typed form ``{"dtype", "bdata", "shape"}``."""
    if not isinstance(z, dict):
        return np.asarray(z, dtype=np.float64)
    shape = tuple(int(n) for n in str(z["shape"]).split(","))
    return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)


# --------------------------------------------------------------------------- Confusion


@pytest.mark.parametrize(("text", "thr"), [(NORTH_OLDER, "0.3"), ("", "0.5")])
def test_confusion_page_counts_every_row(
    page_runner, logs: Path, tmp_path: Path, text: str, thr: str
) -> None:
    at = page_runner("confusion")(ds="logs", slice=text, thr=thr)
    assert not at.exception and not at.error
    predictions = whole(logs, tmp_path)
    mask = slice_mask(predictions, parse_slice(text))
    y_pred = binary_predictions(predictions, threshold=float(thr))
    inside = class_confusion(predictions, mask, y_pred=y_pred)
    overall = class_confusion(predictions, y_pred=y_pred)
    assert inside.n_samples != round(mask.sum() * SAMPLE_ROWS / N_ROWS)  # not the sample's
    at_ = f" at {float(thr):.2f}"
    assert metric(at, "Rows in slice") == count(inside.n_samples)
    assert metric(at, f"Errors in slice{at_}") == count(inside.n_errors)
    assert metric(at, f"Overall error rate{at_}") == percent(overall.error_rate)
    charts = at.get("plotly_chart")
    assert np.array_equal(heatmap_counts(charts[0]), inside.counts if text else overall.counts)
    if text:  # the slice beside all rows
        assert np.array_equal(heatmap_counts(charts[1]), overall.counts)
    pairs = at.dataframe[0].value
    off = ~np.eye(2, dtype=bool)
    assert sorted(pairs["count"]) == sorted(inside.counts[off][inside.counts[off] > 0])
    if text:
        assert sorted(pairs["overall count"]) == sorted(overall.counts[off])
    notes = captions(at)
    assert EXACT in notes
    assert "This precision and recall table is sampled" in notes
    assert f"computed on {SAMPLE_ROWS:,} of the {N_ROWS:,} rows" in notes


def test_confusion_page_examples_are_the_samples(page_runner, logs: Path) -> None:
    at = page_runner("confusion")(ds="logs", slice=NORTH, pair="1~0")
    assert not at.exception and not at.error
    assert "This list of rows is sampled" in captions(at)
    markdown = "\n".join(shown(m.value) for m in at.markdown)
    assert "rows in the slice of the sample" in markdown


def test_regression_residuals_say_they_are_sampled(
    page_runner, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "reg"
    rng = np.random.default_rng(0)
    for k in range(2):
        (root / f"day={k}").mkdir(parents=True)
        y = rng.normal(50, 10, 2_000)
        rows = {"x": rng.normal(size=2_000), "y_true": y, "y_pred": y + rng.normal(0, 3, 2_000)}
        pd.DataFrame(rows).to_parquet(root / f"day={k}" / "part.parquet", index=False)
    monkeypatch.setenv("MLQA_EXTERNAL_SAMPLE_ROWS", "500")
    workspace.add_external(root, name="reg")
    at = page_runner("confusion")(ds="reg", slice="x > 0")
    assert not at.exception and not at.error
    assert "This residual view is sampled: computed on 500 of the 4,000 rows" in captions(at)


# --------------------------------------------------------------------------- Cases


def _library(workspace: Workspace, candidate: Predictions) -> lib.CaseListing:
    """Slice cases, a relative case and an example set, saved as on the whole table."""
    store = lib.CaseStore(workspace.cases_dir)
    for name, where, metric in (
        ("north", NORTH, "error_rate"),
        ("north older", NORTH_OLDER, "recall[1]"),
        ("all", "", "accuracy"),
    ):
        new = lib.build_case(candidate, name=name, where=parse_slice(where), metric=metric)
        store.save(new.case)
    relative = build_relative_case(  # stored against itself: passes unless logs_old is measured
        candidate,
        candidate,
        where=parse_slice(f"`{REGION}` == 'south'"),
        metric="error_rate",
        margin=0.001,
        name="south vs old",
    )
    store.save(relative)
    ids = list(range(0, 6_000, 97))  # mostly rows the sample lacks
    new = lib.build_case(candidate, name="examples", ids=ids)
    store.save(new.case, rows=new.rows)
    return store.load()


def test_cases_page_checks_every_row_on_duckdb(
    page_runner, workspace: Workspace, logs: Path, tmp_path: Path
) -> None:
    candidate = whole(logs, tmp_path)
    old = whole(logs.parent / "logs_old-files", tmp_path)
    listing = _library(workspace, candidate)
    expected = lib.check_cases(candidate, listing, baseline=old)
    at = page_runner("cases")(ds="logs")
    assert not at.exception and not at.error
    frame = at.dataframe[0].value.set_index("name")
    for r in expected.results:
        row = frame.loc[r.case.name]
        assert row["status"] == r.status, r.case.name
        assert math.isclose(row["value"], r.value, rel_tol=1e-12), r.case.name
        assert row["rows"] == f"{r.rows:,} / {r.case.baseline_rows:,}"
    assert any("south" in name for name in frame.index)
    south = next(r for r in expected.results if r.case.relative)
    assert south.baseline_from == "table" and south.status == "fail"  # logs_old's rows
    notes = captions(at)
    assert EXACT in notes
    assert f"({N_ROWS:,} rows," in notes
    assert "measured on the default baseline" in notes


# --------------------------------------------------------------------------- saving


def _save_page() -> None:
    import streamlit as st

    from mlqa_debug.ui.cases import save_case_form
    from mlqa_debug.ui.context import open_page

    ctx = open_page("slices")
    ids = st.session_state.get("ids")
    save_case_form(ctx.predictions, slice=ctx.slice, ids=ids, source_page="slices", key="k",
                   external=ctx.external)  # fmt: skip


def _open_form(at: AppTest) -> AppTest:
    at.session_state["k__open"] = True  # what clicking the button does
    return at.run()


def _sample(path: Path) -> Predictions:
    """The sample the pages see: the engine's seeded draw of SAMPLE_ROWS rows."""
    from mlqa_debug.engines import open_engine

    engine = open_engine(str(path), "duckdb")
    return engine.sample_predictions(SAMPLE_ROWS, 0)  # type: ignore[union-attr]


def test_a_slice_case_records_the_whole_tables_baseline(
    function_runner, workspace: Workspace, logs: Path, tmp_path: Path
) -> None:
    at = _open_form(function_runner(_save_page)(ds="logs", slice=NORTH))
    assert not at.exception and not at.error
    predictions = whole(logs, tmp_path)
    expected = lib.measure(predictions, metric="error_rate", where=parse_slice(NORTH))
    on_sample = lib.measure(_sample(logs), metric="error_rate", where=parse_slice(NORTH))
    assert on_sample.rows != expected.rows and on_sample.value != expected.value
    text = "\n".join(m.value for m in at.markdown)
    assert f"on {expected.rows:,} rows" in text
    assert EXACT in captions(at)
    at.button(key="k__save").click().run()
    assert not at.exception and not at.error
    (case,) = lib.CaseStore(workspace.cases_dir).load().cases
    assert case.baseline_rows == expected.rows
    assert case.baseline == pytest.approx(expected.value, rel=1e-5)
    draft = lib.draft_case(predictions, where=parse_slice(NORTH))
    assert case.threshold == pytest.approx(draft.threshold, rel=1e-9)  # the whole table's


def test_the_confusion_pages_form_saves_the_exact_baseline(
    page_runner, workspace: Workspace, logs: Path, tmp_path: Path
) -> None:
    at = page_runner("confusion")(ds="logs", slice=NORTH, pair="1~0")
    at.session_state["confusion_case__open"] = True
    at.run()
    assert not at.exception and not at.error
    at.button(key="confusion_case__save").click().run()
    assert not at.exception and not at.error
    (case,) = lib.CaseStore(workspace.cases_dir).load().cases
    assert case.where is not None and f"{REGION} == 'north'" in case.where
    expected = lib.measure(
        whole(logs, tmp_path), metric="error_rate", where=parse_slice(case.where)
    )
    assert case.baseline_rows == expected.rows > 0


def test_an_example_set_is_measured_on_the_sample_only_when_it_holds_every_id(
    function_runner, workspace: Workspace, logs: Path
) -> None:
    sample = _sample(logs)
    run = function_runner(_save_page)
    at = run(ds="logs")
    at.session_state["ids"] = list(range(N_ROWS))  # most are not in the sample
    at = _open_form(at)
    assert not at.exception
    warning = " ".join(shown(w.value) for w in at.warning)
    assert f"are not in the sample of {SAMPLE_ROWS:,} rows this page shows" in warning
    ids = sample.frame["id"].head(40).tolist()
    at.session_state["ids"] = ids
    at.run()
    assert not at.exception and not at.warning
    assert "The baseline of these examples is sampled" in captions(at)
    at.button(key="k__save").click().run()
    (case,) = lib.CaseStore(workspace.cases_dir).load().cases
    assert case.examples is not None and list(case.examples.ids) == ids
    wrong = sample.frame.set_index("id").loc[ids]
    assert case.baseline == (wrong["label"] != wrong["prediction"]).sum()


def test_exact_matrices_are_laid_out_on_the_samples_classes() -> None:
    """A class the sample lacks folds into "other"; the others keep the sample's codes."""
    from mlqa_debug.analyses.confusion import OTHER
    from mlqa_debug.analyses.confusion.compute import confusion_from_counts
    from mlqa_debug.ui.confusion import _on_classes

    counts = np.array([[5, 1, 2], [0, 7, 3], [4, 0, 9]])
    matrix = confusion_from_counts(counts, ("a", "b", "rare"))
    folded = _on_classes(matrix, ("a", "b"))
    assert folded.labels == ("a", "b", OTHER) and folded.codes == (0, 1, -1)
    assert folded.n_samples == counts.sum() and folded.n_errors == matrix.n_errors
    reordered = _on_classes(matrix, ("rare", "a", "b"))  # same classes, another order
    assert reordered.codes == (1, 2, 0) and np.array_equal(reordered.counts, counts)
    assert _on_classes(matrix, ("a", "b", "rare")) is matrix
