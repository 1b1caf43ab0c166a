"""The Labels page under Streamlit's AppTest: queue, actions, the link's position, export."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from mlqa_debug import cases
from mlqa_debug.analyses import labels as labels_lib
from mlqa_debug.analyses.labels import (
    append_decision,
    label_noise,
    new_decision,
    rank_suspects,
    read_log,
    review_log_path,
)
from mlqa_debug.analyses.labels.view import noise_text
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.slicing import parse_slice, slice_mask
from mlqa_debug.ui import labels as labels_ui
from mlqa_debug.ui import serving
from tests.conftest import shown

WRITERS = ("labels_keep", "labels_relabel", "labels_ambiguous", "labels_skip")


@pytest.fixture(autouse=True)
def writable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(serving.ENV_READ_ONLY, raising=False)
    monkeypatch.delenv(serving.ENV_USER_HEADER, raising=False)


@pytest.fixture
def app(page_runner):
    return page_runner("labels")


def heading(at: AppTest) -> str:
    return next(shown(h.value) for h in at.subheader if h.value.startswith("Example"))


def log_lines(workspace: Workspace, dataset: str) -> list[dict[str, object]]:
    path = review_log_path(workspace, dataset)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def as_reviewer(at: AppTest, name: str = "ana") -> AppTest:
    at.text_input(key="labels__author").input(name).run()
    return at


def test_queue_of_the_table(app, loans: Predictions) -> None:
    at = app(ds="loans")
    assert not at.exception
    expected = rank_suspects(loans).suspects
    assert heading(at) == f"Example 1 of {len(expected):,}: id {expected['id'].iloc[0]}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Given label"] == str(expected["given"].iloc[0])
    assert metrics["Suggested"] == str(expected["suggested"].iloc[0])
    assert at.get("progress")[0].proto.text == f"Reviewed 0 of {len(expected):,}"
    assert at.query_params["i"] == "1"
    assert any("Confident learning" in c.value and "Northcutt" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 1


def test_queue_is_the_slices_suspects(app, loans: Predictions) -> None:
    text = "employment == 'gig'"
    at = app(ds="loans", slice=text)
    mask = slice_mask(loans, parse_slice(text))
    expected = rank_suspects(loans, mask=mask).suspects
    assert 0 < len(expected) < rank_suspects(loans).n_issues
    assert heading(at) == f"Example 1 of {len(expected):,}: id {expected['id'].iloc[0]}"
    positions = expected["position"].to_numpy()
    assert mask[positions].all()


def test_keep_appends_and_advances(app, loans: Predictions, workspace: Workspace) -> None:
    at = as_reviewer(app(ds="loans"))
    at.button(key="labels_keep").click().run()
    assert not at.exception
    expected = rank_suspects(loans).suspects
    (line,) = log_lines(workspace, "loans")
    assert line["verdict"] == "keep"
    assert line["example_id"] == expected["id"].iloc[0]
    assert line["reviewer"] == "ana" and line["fingerprint"] == loans.fingerprint
    assert at.query_params["i"] == "2"
    assert heading(at).startswith("Example 2 of") and str(expected["id"].iloc[1]) in heading(at)
    assert at.get("progress")[0].proto.text == f"Reviewed 1 of {len(expected):,}"


def test_relabel_writes_the_new_label(app, digits: Predictions, workspace: Workspace) -> None:
    at = as_reviewer(app(ds="digits", i="2"))
    row = rank_suspects(digits).suspects.iloc[1]
    choice = next(c for c in digits.schema.classes if c not in (row["given"], row["suggested"]))
    at.selectbox(key=f"labels_new_{row['position']}").set_value(choice).run()
    at.text_input(key="labels_note").input("blurry stroke").run()
    at.button(key="labels_relabel").click().run()
    (line,) = log_lines(workspace, "digits")
    assert line["verdict"] == "relabel" and line["new_label"] == choice
    assert line["old_label"] == row["given"] and line["note"] == "blurry stroke"
    assert at.query_params["i"] == "3"
    assert at.text_input(key="labels_note").value == ""  # the note went with that decision


def test_no_reviewer_records_nothing(app, workspace: Workspace) -> None:
    at = app(ds="loans")
    at.button(key="labels_skip").click().run()
    assert any("Type your name under Reviewer" in shown(e.value) for e in at.error)
    assert log_lines(workspace, "loans") == []
    assert at.query_params["i"] == "1"


def test_link_position_opens_that_example(app, loans: Predictions) -> None:
    expected = rank_suspects(loans).suspects
    at = app(ds="loans", i="5")
    assert heading(at) == f"Example 5 of {len(expected):,}: id {expected['id'].iloc[4]}"
    at.button(key="labels_previous").click().run()
    assert at.query_params["i"] == "4" and str(expected["id"].iloc[3]) in heading(at)
    at.button(key="labels_next").click().run()
    at.button(key="labels_next").click().run()
    assert at.query_params["i"] == "6"


def test_position_past_the_end_is_corrected(app, digits: Predictions) -> None:
    n = rank_suspects(digits).n_issues
    at = app(ds="digits", i="99")
    assert not at.exception
    assert any(f"the queue has {n} examples" in shown(w.value) for w in at.warning)
    assert at.query_params["i"] == str(n)
    assert heading(at).startswith(f"Example {n} of {n}")


def test_queue_of_every_row_restarts_at_the_top(app, digits: Predictions) -> None:
    at = app(ds="digits", i="3")
    at.button_group[0].set_value("ranked").run()  # the Queue control
    assert at.query_params["queue"] == "ranked" and at.query_params["i"] == "1"
    assert heading(at).startswith(f"Example 1 of {digits.n_samples:,}")


def test_neighbours_of_image_data(app, digits: Predictions) -> None:
    at = app(ds="digits")
    assert any("nearest (embeddings)" in m.value for m in at.markdown)
    assert len(at.get("image")) == 1 + 10  # the example and its ten neighbours


def test_read_only_draws_no_writers(
    app, loans: Predictions, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    position = int(rank_suspects(loans).order[0])
    path = review_log_path(workspace, "loans")
    append_decision(path, new_decision(loans, position, verdict="relabel", new_label=0,
                                       reviewer="ana", dataset="loans"))  # fmt: skip
    monkeypatch.setenv(serving.ENV_READ_ONLY, "1")
    at = app(ds="loans")
    assert not at.exception
    keys = {b.key for b in at.button}
    assert not keys & {*WRITERS, "labels_register", "labels_case"}
    assert {"labels_next", "labels_reliability"} <= keys
    assert not any(t.key == "labels__author" for t in at.text_input)
    assert any("Read-only server" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [("diabetes", "label review needs a classification task"), ("plain", "needs prob_<class>")],
)
def test_table_without_probabilities_says_what_is_needed(
    app, workspace: Workspace, binary_frame, write_table, dataset: str, message: str
) -> None:
    if dataset == "plain":
        workspace.add(write_table(binary_frame.drop(columns=["score"])), name="plain")
    at = app(ds=dataset)
    assert not at.exception
    assert any(message in shown(w.value) for w in at.warning)
    assert any("prob_<class>" in c.value for c in at.caption)
    assert not [h for h in at.subheader if h.value.startswith("Example")]


def test_corrupt_log_line_is_a_warning(app, loans: Predictions, workspace: Workspace) -> None:
    path = review_log_path(workspace, "loans")
    position = int(rank_suspects(loans).order[0])
    append_decision(path, new_decision(loans, position, verdict="keep", reviewer="bo",
                                       dataset="loans"))  # fmt: skip
    with path.open("a") as handle:
        handle.write("{not json\n")
    at = app(ds="loans")
    assert not at.exception
    assert any(
        "line 2" in shown(w.value) and "not valid JSON" in shown(w.value) for w in at.warning
    )
    assert at.get("progress")[0].proto.text.startswith("Reviewed 1 of")


def test_reliability_behind_a_button(app, loans: Predictions) -> None:
    at = app(ds="loans")
    assert not any("planted flips" in m.value for m in at.markdown)
    at.button(key="labels_reliability").click().run()
    assert not at.exception
    sentence = next(m.value for m in at.markdown if "planted flips" in m.value)
    assert "seed 0" in shown(sentence) and "Worth reading down to about position" in shown(sentence)
    table = next(d.value for d in at.dataframe if "precision" in d.value)
    assert list(table["k"])[:2] == [10, 25] and (table["precision"] <= 1).all()


def test_export_csv_dataset_and_case(app, digits: Predictions, workspace: Workspace) -> None:
    at = as_reviewer(app(ds="digits"))
    at.button(key="labels_relabel").click().run()  # the suggested class
    at.button(key="labels_keep").click().run()
    first = rank_suspects(digits).suspects.iloc[0]
    download = at.get("download_button")
    assert download and not download[0].proto.disabled
    csv = labels_ui._corrections(digits, read_log(review_log_path(workspace, "digits")).latest())
    header, line = csv.splitlines()  # built on click: the one relabel
    assert header == "id,old_label,new_label,reviewer,time,note"
    assert line.startswith(f"{first['id']},{first['given']},")
    at.text_input(key="labels_register_name").input("digits-fixed").run()
    at.button(key="labels_register").click().run()
    assert not at.exception
    assert "digits-fixed" in workspace.names()
    corrected = workspace.load("digits-fixed")
    assert corrected.frame["label"].iloc[first["position"]] == first["suggested"]
    assert any("Open digits-fixed on the Slices page" in shown(m.value) for m in at.markdown)
    at.button(key="labels_case").click().run()
    assert not at.exception
    (case,) = cases.CaseStore(cases.resolve_cases_dir(None, workspace=workspace)).load().cases
    assert case.examples is not None and len(case.examples.ids) == 2
    assert any("Saved regression case" in shown(s.value) for s in at.success)


def test_slices_page_shows_confirmed_label_noise(
    page_runner, loans: Predictions, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    slices = page_runner("slices")
    with monkeypatch.context() as m:  # without a log, the note reads nothing
        m.setattr(labels_lib, "read_log", lambda path: pytest.fail("read without a log"))
        at = slices(ds="loans", slice="employment == 'gig'")
    assert not at.exception
    assert not any("Confirmed label noise" in c.value for c in at.caption)
    path = review_log_path(workspace, "loans")
    mask = slice_mask(loans, parse_slice("employment == 'gig'"))
    suspects = rank_suspects(loans, mask=mask).suspects.head(3)
    for row in suspects.itertuples():
        append_decision(path, new_decision(loans, row.position, verdict="relabel",
                                           new_label=row.suggested, reviewer="ana",
                                           dataset="loans"))  # fmt: skip
    at = slices(ds="loans", slice="employment == 'gig'")
    assert not at.exception
    expected = noise_text(label_noise(loans, mask, read_log(path).latest()))
    assert any(shown(c.value) == expected for c in at.caption)
    assert expected.startswith("Confirmed label noise: 3 of the slice's")


def test_reliability_points_past_a_short_queue(app, digits: Predictions) -> None:
    at = app(ds="digits")
    at.button(key="labels_reliability").click().run()
    assert any("Every row, most suspect first" in c.value for c in at.caption)


def test_compare_page_shows_the_candidates_confirmed_label_noise(
    page_runner, loans_v2: Predictions, workspace: Workspace
) -> None:
    compare = page_runner("compare")
    at = compare(ds="loans_v2", vs="loans")
    assert not at.exception
    assert not any("Confirmed label noise" in c.value for c in at.caption)
    path = review_log_path(workspace, "loans_v2")
    suspects = rank_suspects(loans_v2).suspects.head(4)
    for row in suspects.itertuples():
        append_decision(path, new_decision(loans_v2, row.position, verdict="relabel",
                                           new_label=row.suggested, reviewer="ana",
                                           dataset="loans_v2"))  # fmt: skip
    at = compare(ds="loans_v2", vs="loans")
    assert not at.exception
    mask = slice_mask(loans_v2, parse_slice(""))
    expected = noise_text(label_noise(loans_v2, mask, read_log(path).latest()), in_slice=False)
    assert any(shown(c.value) == f"loans_v2's errors: {expected}" for c in at.caption)
