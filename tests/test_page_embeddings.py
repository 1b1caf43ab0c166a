"""The Embeddings page under Streamlit's AppTest (UMAP replaced by a fast stand-in)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import jobs, umap_layout
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.types import Progress
from tests.conftest import REPO, shown


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """UMAP stand-in that reports progress, then waits for the test (or its end) to release it."""
    gate = threading.Event()

    def fit(matrix: np.ndarray, params: emb.ProjectionParams, progress: Progress) -> np.ndarray:
        progress("laying out the map", 0.5)
        gate.wait(30)
        return np.asarray(matrix[:, :2], dtype=np.float32) * 2

    monkeypatch.setattr(umap_layout, "fit_umap", fit)
    monkeypatch.setattr(jobs, "_JOBS", emb.ProjectionJobs())  # no job leaks between tests
    yield gate
    gate.set()


@pytest.fixture
def app(page_runner, release: threading.Event) -> Callable[..., AppTest]:
    """The Embeddings page, run with UMAP replaced by the stand-in of ``release``."""
    return page_runner("embeddings")


def captions(at: AppTest) -> list[str]:
    return [shown(c.value) for c in at.caption]


def figure(at: AppTest) -> dict[str, Any]:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def trace_names(at: AppTest) -> list[str]:
    return [t["name"] for t in figure(at)["data"]]


def progress_text(at: AppTest) -> str:
    return " ".join(p.proto.text for p in at.get("progress"))


def wait_for_job(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(emb.projection_jobs()._jobs.values())
        if jobs and not any(job.running for job in jobs):
            return
        time.sleep(0.05)
    raise AssertionError("the background projection did not finish")


@pytest.mark.parametrize(
    ("ds", "groups"),
    [("loans", ["correct (16,668)", "error (3,332)"]), ("digits", None), ("diabetes", None)],
)
def test_pca_map_of_every_sample(app, ds: str, groups: list[str] | None) -> None:
    at = app(ds=ds, proj="pca")
    assert not at.exception and not at.error
    assert captions(at)[0].startswith("PCA (")
    assert at.info[0].value.startswith("Select points on the map")
    names = trace_names(at)
    assert names == groups or [n.split(" ")[0] for n in names] == ["correct", "error"]
    assert all(t["type"] == "scattergl" for t in figure(at)["data"])
    assert "proj=pca" in at.code[-1].value and f"ds={ds}" in at.code[-1].value


def test_umap_is_computed_in_the_background_while_pca_shows(app, release: threading.Event) -> None:
    at = app(ds="digits")
    assert not at.exception
    assert captions(at)[0].startswith("PCA (")  # the first map is there at once
    assert progress_text(at).startswith("UMAP: ")
    assert "PCA shown meanwhile" in progress_text(at)
    (job,) = emb.projection_jobs()._jobs.values()
    deadline = time.monotonic() + 30
    while job.fraction is None and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert "UMAP: laying out the map, 50%" in progress_text(at)
    assert captions(at)[0].startswith("PCA (")
    release.set()
    wait_for_job()
    at.run()
    assert captions(at)[0].startswith("UMAP of the 16 embedding columns")
    assert not at.get("progress")
    assert figure(at)["layout"]["xaxis"]["title"]["text"] == "UMAP 1"


def test_a_cached_umap_shows_at_once(app, workspace: Workspace, release: threading.Event) -> None:
    release.set()
    cache = DiskCache(workspace.cache_dir("embeddings"))
    emb.get_projection(workspace.load("diabetes"), method="umap", cache=cache)
    at = app(ds="diabetes")
    assert captions(at)[0].startswith("UMAP of 10 features")
    assert not at.get("progress") and not emb.projection_jobs()._jobs


def test_a_failed_umap_says_why_and_offers_a_retry(app, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> np.ndarray:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(umap_layout, "fit_umap", broken)
    app(ds="diabetes")
    wait_for_job()
    at = app(ds="diabetes")
    assert any("UMAP could not be computed: out of memory" in shown(e.value) for e in at.error)
    assert captions(at)[0].startswith("PCA (")
    at.button(key="emb_retry").click().run()
    assert not at.exception


def test_choosing_a_cluster_summarises_it(app) -> None:
    at = app(ds="digits", proj="pca", clusters="1", color="label")
    assert not at.exception
    assert any(s.value == "Error clusters" for s in at.subheader)
    clusters = at.selectbox(key="emb_cluster")
    assert clusters.options[0] == "C1"
    at = clusters.set_value("C1").run()
    assert not at.exception and not at.error
    title = next(s.value for s in at.subheader if s.value.startswith("Cluster C1"))
    rows = int(title.split(": ")[1].split(" ")[0].replace(",", ""))
    assert next(m.value for m in at.metric if m.label == "Rows") == f"{rows:,}"
    rule = at.code[0].value
    assert rule and " " in rule  # e.g. "label == 0"
    assert any("Precision" in c for c in captions(at))
    assert list(at.dataframe[0].value["cluster"][:2]) == ["C1", "C2"]
    features = at.dataframe[1].value
    assert list(features.columns[:2]) == ["feature", "strength"] and len(features) > 0
    assert at.query_params["clusters"] == "1"


def test_colour_by_slice_shows_all_rows_and_the_slice(app) -> None:
    at = app(ds="loans", proj="pca", slice="employment == 'gig'", color="slice")
    assert not at.exception and not at.error
    assert trace_names(at) == ["rest (18,998)", "in slice (1,002)"]
    assert "all rows" in captions(at)[0]
    at.selectbox(key="color").set_value("error").run()
    assert at.query_params["color"] == "error"
    assert "the slice `employment == 'gig'`" in captions(at)[0]
    assert sum(int(n.split("(")[1].rstrip(")").replace(",", "")) for n in trace_names(at)) == 1_002


def test_switching_map_and_colour_goes_into_the_link(app) -> None:
    at = app(ds="digits", proj="pca")
    at.selectbox(key="color").set_value("label").run()
    assert at.query_params["color"] == "label"
    assert [n.split(" ")[0] for n in trace_names(at)] == [str(c) for c in range(10)]
    at.toggle(key="clusters").set_value(True).run()
    assert at.query_params["clusters"] == "1"
    assert "color=label" in at.code[-1].value and "clusters=1" in at.code[-1].value


def test_given_coordinates_are_the_default_map(app, workspace: Workspace, tmp_path: Path) -> None:
    frame = pd.read_csv(REPO / "sample_data" / "diabetes.csv")
    frame["proj_x"], frame["proj_y"] = frame["bmi"], frame["bp"]
    path = tmp_path / "given.csv"
    frame.to_csv(path, index=False)
    workspace.add(path, name="given")
    at = app(ds="given")
    assert not at.exception and not at.error
    assert captions(at)[0].startswith("Given coordinates")
    assert at.radio(key="proj").value == "given"
    spec = figure(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "proj_x"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ds": "digits", "proj": "tsne"}, "the map 'tsne'"),
        ({"ds": "digits", "proj": "pca", "color": "<script>"}, "the colouring '<script>'"),
        ({"ds": "diabetes", "proj": "pca", "color": "confidence"}, "the colouring 'confidence'"),
        ({"ds": "loans", "proj": "pca", "color": "slice"}, "the colouring 'slice'"),
    ],
)
def test_unknown_view_options_fall_back_with_a_message(
    app, params: dict[str, str], message: str
) -> None:
    at = app(**params)
    assert not at.exception and not at.error
    warnings = [shown(w.value) for w in at.warning]
    assert any(message in w for w in warnings), warnings
    assert at.get("plotly_chart")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ds": "loans", "proj": "pca", "slice": "nope == 1"}, "unknown column 'nope'"),
        ({"ds": "../../etc/passwd"}, "not a valid dataset name"),
        ({"ds": "loans", "proj": "pca", "slice": "__import__('os')"}, "cannot be used"),
    ],
)
def test_tampered_links_give_messages(app, params: dict[str, str], message: str) -> None:
    at = app(**params)
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize("color", ["error", "slice"])
def test_an_empty_slice_is_said_instead_of_a_map(app, color: str) -> None:
    """Once a TypeError from the hover text of zero rows."""
    at = app(ds="loans", proj="pca", slice="region == 'nowhere'", color=color)
    assert not at.exception and not at.error
    assert any("No rows match this slice" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart")
