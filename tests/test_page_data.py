"""The Data page (pages/data.py) and the app's entry point, through Streamlit's AppTest.

Every test points ``$MLQA_DEBUG_WORKSPACE`` at a temporary folder (the ``workspace``
fixture) before the script runs, so nothing touches the user's workspace.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from mlqa_debug import Roles, SchemaError
from mlqa_debug import jobs as job_limits
from mlqa_debug.data.workspace import Workspace, validate_name
from mlqa_debug.ui.pages import PAGES
from mlqa_debug.ui.widgets import suggest_name
from tests.conftest import WriteTable, shown

REPO = Path(__file__).resolve().parents[1]
DATA_PAGE = str(REPO / "pages" / "data.py")
APP = str(REPO / "app.py")
TIMEOUT = 60

BUILTIN_ROWS = {"loans": "20,000", "loans_v2": "20,000", "digits": "899", "diabetes": "221"}

OpenPage = Callable[..., AppTest]


@pytest.fixture
def open_page(workspace: Workspace) -> OpenPage:
    """``open_page(ds=...)`` runs the Data page with those query parameters."""

    def run(script: str = DATA_PAGE, **params: str) -> AppTest:
        at = AppTest.from_file(script, default_timeout=TIMEOUT)
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return run


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def selectbox(at: AppTest, label: str) -> Any:
    return next(s for s in at.selectbox if s.label == label)


def apply_remap(at: AppTest, name: str, **choices: str) -> AppTest:
    for label, value in choices.items():
        selectbox(at, label).set_value(value)
    return at.button(key=f"FormSubmitter:remap_{name}-Apply").click().run()


# --- opening datasets from the link ----------------------------------------------------


def test_opens_loans_from_the_link(open_page: OpenPage, workspace: Workspace) -> None:
    at = open_page(ds="loans")
    assert not at.exception
    assert errors(at) == []
    assert metrics(at) == {
        "Rows": "20,000",
        "Task": "binary",
        "Classes": "2",
        "Error rate": "16.66%",
        "Features": "10",
    }
    assert at.title[0].value == "Data"
    assert at.subheader[0].value.startswith("loans — Synthetic loan defaults")
    assert at.query_params["ds"] == "loans"
    fingerprint = workspace.load("loans").short_fingerprint
    assert at.query_params["fp"] == fingerprint
    assert at.sidebar.selectbox(key="ds_picker").value == "loans"


@pytest.mark.parametrize("name", BUILTIN_ROWS)
def test_every_builtin_renders(open_page: OpenPage, name: str) -> None:
    at = open_page(ds=name)
    assert not at.exception
    assert errors(at) == []
    assert metrics(at)["Rows"] == BUILTIN_ROWS[name]
    report = next(d.value for d in at.dataframe if "check" in d.value.columns)
    assert report["result"].str.contains("no missing values").any()  # validation report


def test_without_a_link_opens_the_first_dataset(open_page: OpenPage) -> None:
    at = open_page()
    assert not at.exception
    assert metrics(at)["Rows"] == "20,000"
    assert at.query_params["ds"] == "loans"


def test_unknown_dataset_gives_a_message(open_page: OpenPage) -> None:
    at = open_page(ds="nope")
    assert not at.exception
    assert len(errors(at)) == 1
    message = errors(at)[0]
    assert "cannot be opened" in message
    assert "no dataset named 'nope'" in message
    assert "loans" in message  # lists what is available
    assert at.metric.len == 0
    assert any("Choose a dataset" in i.value for i in at.info)


@pytest.mark.parametrize(
    "ds",
    ["../etc", "a" * 100_000, "<script>alert(1)</script>", "", "%2e%2e", "LOANS", "loans/../x"],
    ids=["parent", "very long", "script", "empty", "encoded dots", "upper", "path"],
)
def test_malformed_dataset_parameter_gives_a_message(open_page: OpenPage, ds: str) -> None:
    at = open_page(ds=ds)
    assert not at.exception
    assert len(errors(at)) == 1
    assert "cannot be opened" in errors(at)[0]
    assert "not a valid dataset name" in errors(at)[0]
    assert len(errors(at)[0]) < 500
    assert at.metric.len == 0


def test_link_made_on_another_version_warns(open_page: OpenPage) -> None:
    at = open_page(ds="diabetes", fp="deadbeef")
    assert not at.exception
    assert any("different version of 'diabetes'" in w.value for w in at.warning)
    assert metrics(at)["Rows"] == "221"


def test_registered_dataset_with_a_broken_file(
    open_page: OpenPage, workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    entry = workspace.add(write_table(binary_frame), name="rotten")
    entry.path.write_text("id,label\n1,1\n")  # edited behind the workspace's back
    at = open_page(ds="rotten")
    assert not at.exception
    assert any(
        "Dataset 'rotten' cannot be loaded" in e and "no prediction column" in e for e in errors(at)
    )


# --- sidebar picker -------------------------------------------------------------------


def test_picking_another_dataset_updates_the_link(open_page: OpenPage) -> None:
    at = open_page(ds="loans")
    at.sidebar.selectbox(key="ds_picker").set_value("diabetes").run()
    assert not at.exception
    assert at.query_params["ds"] == "diabetes"
    assert metrics(at)["Rows"] == "221"
    assert metrics(at)["Task"] == "regression"


def test_picker_lists_registered_datasets(
    open_page: OpenPage, workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    workspace.add(write_table(binary_frame), name="mine")
    at = open_page(ds="mine")
    assert not at.exception
    assert at.sidebar.selectbox(key="ds_picker").options == [*BUILTIN_ROWS, "mine"]
    assert metrics(at)["Rows"] == str(len(binary_frame))


# --- remapping roles ------------------------------------------------------------------


def test_remap_task_shows_the_result(open_page: OpenPage) -> None:
    at = apply_remap(open_page(ds="loans"), "loans", Task="regression")
    assert not at.exception
    assert errors(at) == []
    assert len(at.success) == 1
    assert "regression" in at.success[0].value
    assert any("Built-in samples keep their roles" in c.value for c in at.caption)


def test_remap_label_shows_the_validation_error(open_page: OpenPage) -> None:
    at = apply_remap(open_page(ds="loans"), "loans", Label="employment", Task="binary")
    assert not at.exception
    assert len(errors(at)) == 1
    assert errors(at)[0].startswith("With these roles the data does not validate:")
    assert "task is binary but label and prediction hold" in errors(at)[0]
    assert metrics(at)["Rows"] == "20,000"  # the page itself still shows the dataset


def test_remap_and_save_roles_of_a_registered_dataset(
    open_page: OpenPage, workspace: Workspace, binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.assign(truth=1 - binary_frame["label"])
    workspace.add(write_table(frame), name="remap-me")
    at = apply_remap(open_page(ds="remap-me"), "remap-me", Label="truth")
    assert not at.exception
    assert "With label 'truth'" in at.success[0].value
    next(b for b in at.button if b.label == "Save these roles for the dataset").click().run()
    assert not at.exception
    assert workspace.entry("remap-me").roles.label == "truth"
    meta = json.loads((workspace.datasets_dir / "remap-me" / "dataset.json").read_text())
    assert meta["roles"]["label"] == "truth"
    assert selectbox(at, "Label").value == "truth"  # the page now shows the saved roles


# --- uploads --------------------------------------------------------------------------


def test_upload_of_a_bad_file_shows_the_message(open_page: OpenPage, workspace: Workspace) -> None:
    at = open_page(ds="loans")
    at.file_uploader(key="upload_file").set_value(("my bad file.csv", b"a,b\n1,2\n", "text/csv"))
    at.run()
    assert at.text_input[0].value == "my-bad-file"
    at.button(key="upload_register").click().run()
    assert not at.exception
    assert any(e.startswith("my bad file.csv: no label column") for e in errors(at))
    assert workspace.names() == list(BUILTIN_ROWS)
    assert not workspace.datasets_dir.exists() or list(workspace.datasets_dir.iterdir()) == []


def test_upload_of_a_good_file_registers_it(
    open_page: OpenPage, workspace: Workspace, multiclass_frame: pd.DataFrame
) -> None:
    at = open_page(ds="loans")
    content = multiclass_frame.to_csv(index=False).encode()
    at.file_uploader(key="upload_file").set_value(("Zoo Run #3.csv", content, "text/csv")).run()
    at.button(key="upload_register").click().run()
    assert not at.exception
    assert errors(at) == []
    assert "zoo-run-3" in workspace.names()
    assert at.query_params["ds"] == "zoo-run-3"
    assert metrics(at)["Task"] == "multiclass"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "upload.csv: the file is empty"),
        (b"id,label,prediction\nA,1,1\nA,0,1\n", "upload.csv: id column 'id' has 1 duplicate"),
        (b"label,prediction\n1,\n", "upload.csv: prediction column 'prediction' has 1 missing"),
    ],
    ids=["empty", "duplicate ids", "missing prediction"],
)
def test_workspace_add_of_a_bad_upload(workspace: Workspace, content: bytes, message: str) -> None:
    upload = io.BytesIO(content)
    upload.name = "upload.csv"  # what st.file_uploader's UploadedFile looks like
    with pytest.raises(SchemaError, match=message):
        workspace.add(upload, name=suggest_name(upload.name), filename=upload.name)
    assert workspace.names() == list(BUILTIN_ROWS)
    assert not workspace.root.exists()


def test_workspace_add_of_an_upload_with_an_unsupported_type(workspace: Workspace) -> None:
    upload = io.BytesIO(b"PK\x03\x04")
    upload.name = "book.xlsx"
    with pytest.raises(SchemaError, match=r"book\.xlsx: unsupported file type '\.xlsx'"):
        workspace.add(upload, name="book", filename=upload.name, roles=Roles())
    assert not workspace.root.exists()


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("predictions.csv", "predictions"),
        ("My Model v2.parquet", "my-model-v2"),
        ("run.2024.01.csv", "run-2024-01"),
        ("../../etc/passwd.csv", "etc-passwd"),
        ("données été.csv", "donn-es-t"),
        ("名前.csv", "dataset"),
        ("---.csv", "dataset"),
        ("", "dataset"),
        ("noext", "noext"),
        ("_private_.csv", "private"),
        ("x" * 100 + ".csv", "x" * 48),
    ],
)
def test_suggest_name(filename: str, name: str) -> None:
    assert suggest_name(filename) == name
    assert validate_name(suggest_name(filename)) == name


@given(st.text(max_size=120))
def test_suggest_name_is_always_valid(filename: str) -> None:
    validate_name(suggest_name(filename))


# --- the app's entry point ------------------------------------------------------------


def test_app_opens_on_the_data_page(open_page: OpenPage) -> None:
    at = open_page(APP)
    assert not at.exception
    assert at.title[0].value == "Data"
    assert metrics(at)["Rows"] == "20,000"


def test_app_with_a_link(open_page: OpenPage) -> None:
    at = open_page(APP, ds="digits")
    assert not at.exception
    assert metrics(at)["Classes"] == "10"


@pytest.mark.parametrize("page", [p["page"] for p in PAGES])
def test_app_navigates_to_every_page(
    open_page: OpenPage, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own job limit: a background UMAP an earlier page started must not hold the one
    # worker a 2-core machine has while this page's SHAP run waits for it.
    monkeypatch.setattr(job_limits, "_LIMIT", job_limits.JobLimit(1))
    at = open_page(APP, ds="loans")
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = next(p for p in PAGES if p["page"] == page)
    assert spec["title"].lower() in at.title[0].value.lower()


def test_the_validation_report_shows_what_ran(open_page: OpenPage) -> None:
    """Each check the loader ran, with its real status: a check that did not run is no tick."""
    at = open_page(ds="loans")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "check" in d.value.columns)
    checks = Workspace().load("loans").checks()
    assert list(table["check"]) == [r.title for r in checks]
    marks = dict(zip(table["check"], table[""], strict=True))
    for r in checks:
        assert marks[r.title] == {"pass": "✓", "warn": "!", "fail": "✗", "skipped": "–"}[r.status]
    assert any(r.status == "skipped" for r in checks)  # loans has no image columns, say
    assert "–" in set(table[""]) and "✓" in set(table[""])
