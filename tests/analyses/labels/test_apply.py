"""Applying a review log: corrected labels CSV, corrected table round trip, dataset, case; noise."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.labels import (
    CORRECTION_COLUMNS,
    append_decision,
    apply_reviews,
    corrections_csv,
    label_noise,
    new_decision,
    noise_by_slice,
    read_log,
    register_corrected,
    review_case,
    write_table,
)
from mlqa_debug.cases.store import CaseStore
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import SchemaError


def _review(predictions: Predictions, path: Path) -> None:
    """Relabel rows 0 and 1, keep 2, mark 3 ambiguous, relabel 4 then keep it (the later wins)."""
    labels = predictions.frame["label"]
    other = {c: next(o for o in predictions.schema.classes if o != c) for c in labels.unique()}

    def add(position: int, verdict: str, reviewer: str = "ana", **kw: object) -> None:
        d = new_decision(
            predictions,
            position,
            verdict=verdict,
            reviewer=reviewer,  # type: ignore[arg-type]
            dataset="planted",
            **kw,
        )  # type: ignore[arg-type]
        append_decision(path, d)

    add(0, "relabel", new_label=other[labels.iloc[0]], note="clearly wrong")
    add(1, "relabel", new_label=other[labels.iloc[1]])
    add(2, "keep")
    add(3, "ambiguous")
    add(4, "relabel", new_label=other[labels.iloc[4]])
    add(4, "keep", reviewer="ben")


def test_apply_and_export_round_trip(planted_predictions: Predictions, tmp_path: Path) -> None:
    log_path = tmp_path / "planted.jsonl"
    _review(planted_predictions, log_path)
    applied = apply_reviews(planted_predictions, read_log(log_path).latest())
    assert applied.problems == ()
    assert list(applied.corrections.columns) == list(CORRECTION_COLUMNS)
    assert applied.corrections["id"].tolist() == planted_predictions.frame["id"].iloc[:2].tolist()
    assert applied.reviewed["verdict"].tolist() == [
        "relabel",
        "relabel",
        "keep",
        "ambiguous",
        "keep",
    ]
    csv = pd.read_csv(io.StringIO(corrections_csv(applied)))
    assert csv["note"].fillna("").tolist() == ["clearly wrong", ""]

    out = write_table(applied.frame, tmp_path / "corrected.parquet")
    corrected = load_predictions(out)
    before = planted_predictions.frame["label"].to_numpy(object)
    after = corrected.frame["label"].to_numpy(object)
    changed = np.flatnonzero(before != after)
    assert changed.tolist() == [0, 1]
    assert after[:2].tolist() == applied.corrections["new_label"].tolist()
    pd.testing.assert_frame_equal(
        corrected.frame.drop(columns="label").iloc[:, :3],
        planted_predictions.frame.drop(columns="label").iloc[:, :3],
        check_dtype=False,
        check_categorical=False,
    )


def test_decisions_that_do_not_fit_are_reported(
    planted_predictions: Predictions, tmp_path: Path
) -> None:
    path = tmp_path / "log.jsonl"
    d = new_decision(planted_predictions, 0, verdict="keep", reviewer="a", dataset="p")
    append_decision(path, d)
    wrong_old = new_decision(planted_predictions, 1, verdict="keep", reviewer="a", dataset="p")
    append_decision(path, type(wrong_old)(**{**wrong_old.__dict__, "old_label": "zebra"}))
    append_decision(path, type(d)(**{**d.__dict__, "example_id": "nope"}))
    applied = apply_reviews(planted_predictions, read_log(path).latest())
    assert len(applied.reviewed) == 1
    assert any("'zebra' is not the table's label" in p for p in applied.problems)
    assert any("'nope' is not in the table" in p for p in applied.problems)


def test_register_and_case(planted_predictions: Predictions, tmp_path: Path) -> None:
    log_path = tmp_path / "planted.jsonl"
    _review(planted_predictions, log_path)
    applied = apply_reviews(planted_predictions, read_log(log_path).latest())
    ws = Workspace(tmp_path / "ws")
    entry = register_corrected(ws, applied, name="planted-reviewed")
    corrected = ws.load(entry.name)
    assert (
        corrected.frame["label"].astype(str).iloc[:2].tolist()
        == applied.corrections["new_label"].tolist()
    )
    new = review_case(corrected, applied, name="reviewed labels", dataset=entry.name, author="ana")
    assert new.case.examples is not None
    assert sorted(new.case.examples.ids) == sorted(  # keep and relabel, not ambiguous
        planted_predictions.frame["id"].iloc[[0, 1, 2, 4]].tolist()
    )
    assert new.rows is not None and len(new.rows) == 4
    store = CaseStore(tmp_path / "cases")
    saved = store.save(new.case, rows=new.rows)
    assert store.rows(saved)["label"].tolist() == new.rows["label"].tolist()


def test_write_table_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"expected \.csv or \.parquet"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")


def test_confirmed_label_noise_per_slice(planted_predictions: Predictions, tmp_path: Path) -> None:
    p = planted_predictions
    errors = np.flatnonzero(p.error)
    correct = np.flatnonzero(~p.error)
    path = tmp_path / "log.jsonl"
    for pos in errors[:6]:  # relabel to the predicted class: confirmed noise
        new = p.frame["prediction"].iloc[pos]
        append_decision(
            path, new_decision(p, pos, verdict="relabel", new_label=new, reviewer="a", dataset="p")
        )
    for pos in errors[6:9]:
        append_decision(path, new_decision(p, pos, verdict="keep", reviewer="a", dataset="p"))
    append_decision(path, new_decision(p, correct[0], verdict="keep", reviewer="a", dataset="p"))
    latest = read_log(path).latest()
    everything = np.ones(p.n_samples, bool)
    noise = label_noise(p, everything, latest)
    assert (noise.errors, noise.reviewed, noise.reviewed_errors, noise.confirmed_noise) == (
        len(errors),
        10,
        9,
        6,
    )
    assert noise.noise_share == pytest.approx(6 / len(errors))
    assert noise.corrected_error_rate == pytest.approx((len(errors) - 6) / p.n_samples)
    north = (p.frame["group"] == "north").to_numpy()
    table = noise_by_slice(p, {"all": everything, "north": north}, latest)
    expected = int(np.isin(np.flatnonzero(north), errors[:6]).sum())
    assert table.loc["north", "confirmed_noise"] == expected
    assert table.loc["all", "errors"] == len(errors)


def test_a_table_without_ids_matches_by_position_on_its_own_fingerprint(
    planted_predictions: Predictions, tmp_path: Path
) -> None:
    path = tmp_path / "noid.csv"
    planted_predictions.frame.drop(columns="id").to_csv(path, index=False)
    table = load_predictions(path)
    old = table.frame["label"].iloc[5]
    new = next(c for c in table.schema.classes if c != old)
    log = tmp_path / "log.jsonl"
    d = new_decision(table, 5, verdict="relabel", new_label=new, reviewer="a", dataset="p")
    assert d.example_id == 5
    append_decision(log, d)
    applied = apply_reviews(table, read_log(log).latest())
    assert applied.frame["label"].iloc[5] == new and applied.n_relabelled == 1
    other = load_predictions(tmp_path / "noid.csv", name="other.csv")
    other_fp = type(other)(other.frame, other.schema, "0" * 64, other.source)
    refused = apply_reviews(other_fp, read_log(log).latest())
    assert refused.n_relabelled == 0
    assert "no id column" in refused.problems[0]


def test_integer_classes_stay_integers_in_the_corrections_csv(tmp_path) -> None:
    """A log with keep and relabel verdicts: new_label is "1", not "1.0"."""
    import pandas as pd

    from mlqa_debug import load_predictions
    from mlqa_debug.analyses.labels import apply_reviews, corrections_csv, new_decision

    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(6)],
            "label": [0, 1, 0, 1, 0, 1],
            "prediction": [0, 1, 1, 1, 0, 0],
            "prob_0": [0.9, 0.2, 0.3, 0.1, 0.8, 0.6],
            "prob_1": [0.1, 0.8, 0.7, 0.9, 0.2, 0.4],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    predictions = load_predictions(path)
    kw = {"reviewer": "ana", "dataset": "t"}
    latest = {
        "r0": new_decision(predictions, 0, verdict="keep", **kw),
        "r2": new_decision(predictions, 2, verdict="relabel", new_label=1, **kw),
    }
    applied = apply_reviews(predictions, latest)
    text = corrections_csv(applied)
    row = pd.read_csv(__import__("io").StringIO(text), dtype=str).iloc[0]
    assert (row["id"], row["old_label"], row["new_label"]) == ("r2", "0", "1")
    assert applied.frame["label"].tolist() == [0, 1, 1, 1, 0, 1]
