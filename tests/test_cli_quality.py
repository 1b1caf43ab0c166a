"""``mlqa-debug quality``: the findings as text and JSON, ``--fail-on`` and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.cli.main import main
from tests.analyses.quality.helpers import clean_frame

LEAKAGE_KEYS = {"exact_duplicates", "near_duplicates", "shared_ids", "leaky_features"}
DRIFT_KEYS = {"column", "psi", "statistic", "p_value", "test", "drifted"}
FINDING_KEYS = {"check", "column", "severity", "rows", "message", "slice", "error_rate"}


@pytest.fixture
def clean_file(rng: np.random.Generator, tmp_path: Path) -> Path:
    path = tmp_path / "clean.parquet"
    clean_frame(rng).to_parquet(path, index=False)
    return path


@pytest.fixture
def dirty_file(rng: np.random.Generator, tmp_path: Path) -> Path:
    """A table with a constant feature (warning) and a 60%-missing one (error)."""
    frame = clean_frame(rng).assign(flat=1.0)
    frame.loc[:1199, "size"] = np.nan
    path = tmp_path / "dirty.csv"
    frame.to_csv(path, index=False)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["quality", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_json_shape_without_reference(dirty_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, str(dirty_file))
    assert code == 0
    assert set(data) == {"findings", "leakage", "drift", "slice_drift"}
    assert data["leakage"] is None and data["drift"] is None and data["slice_drift"] is None
    by_check = {(f["check"], f["column"]): f for f in data["findings"]}
    assert all(set(f) == FINDING_KEYS for f in data["findings"])
    missing = by_check["missing_values", "size"]
    assert missing["severity"] == "error" and missing["rows"] == 1200
    assert missing["slice"] == "size is missing"
    assert set(missing["error_rate"]) == {
        "inside",
        "outside",
        "difference",
        "p_value",
        "adjusted_p",
        "significant",
    }
    assert by_check["constant", "flat"]["slice"] == "flat == 1.0"
    assert data["findings"][0]["severity"] == "error"  # worst first


@pytest.mark.parametrize(
    ("fail_on", "dirty", "expected"),
    [
        (None, True, 0),
        ("warning", True, 1),
        ("error", True, 1),
        ("warning", False, 0),
        ("error", False, 0),
    ],
)
def test_fail_on_exit_codes(
    dirty_file: Path, clean_file: Path, fail_on: str | None, dirty: bool, expected: int
) -> None:
    argv = ["quality", str(dirty_file if dirty else clean_file)]
    assert main(argv + (["--fail-on", fail_on] if fail_on else [])) == expected


def test_fail_on_error_ignores_warnings(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "warned.parquet"
    clean_frame(rng).assign(flat=1.0).to_parquet(path, index=False)
    assert main(["quality", str(path), "--fail-on", "error"]) == 0
    assert main(["quality", str(path), "--fail-on", "warning"]) == 1
    out = capsys.readouterr().out
    assert "[warning] constant 'flat'" in out and "slice: flat == 1.0" in out


def test_text_output(dirty_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", str(dirty_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("findings: 1 error, 1 warning, 0 info")
    assert "slice: size is missing" in out and "nan" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.csv"], "file not found"),
        (["{file}", "--fail-on", "info"], None),
    ],
)
def test_bad_input_exits_2(
    dirty_file: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str | None,
) -> None:
    args = [a.replace("{file}", str(dirty_file)) for a in argv]
    if message is None:  # argparse refuses the choice
        with pytest.raises(SystemExit) as exit_info:
            main(["quality", *args])
        assert exit_info.value.code == 2
        return
    assert main(["quality", *args]) == 2
    assert message in capsys.readouterr().err


def test_unloadable_table_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nolabel.csv"
    pd.DataFrame({"x": [1, 2], "prediction": [0, 1]}).to_csv(path, index=False)
    assert main(["quality", str(path)]) == 2
    assert "label" in capsys.readouterr().err


@pytest.fixture
def eval_and_training(rng: np.random.Generator, tmp_path: Path) -> tuple[Path, Path]:
    """An evaluation table and a training set (labels, no predictions) sharing 50 rows."""
    current = clean_frame(rng)
    training = clean_frame(rng).drop(columns=["prediction", "score"])
    training["id"] += 10_000
    training.iloc[:50, 1:] = current.iloc[:50][training.columns[1:]].to_numpy()
    training.loc[60:69, "id"] = current.loc[60:69, "id"].to_numpy()  # and 10 ids
    current_path, training_path = tmp_path / "eval.parquet", tmp_path / "train.parquet"
    current.to_parquet(current_path, index=False)
    training.to_parquet(training_path, index=False)
    return current_path, training_path


def test_reference_with_labels_and_no_predictions(
    eval_and_training: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    current, training = eval_and_training
    code = main(["quality", str(current), "--reference", str(training), "--json"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 0
    leakage = data["leakage"]
    assert set(leakage) == LEAKAGE_KEYS
    for key in ("exact_duplicates", "near_duplicates", "shared_ids"):
        assert set(leakage[key]) == {"rows", "slice", "error_rate", "message"}
    assert leakage["exact_duplicates"]["rows"] == 50
    assert leakage["shared_ids"]["rows"] == 10
    # two numeric features: independent rows come near by chance, and the message says so
    assert "no more than chance gives" in leakage["near_duplicates"]["message"]
    assert set(leakage["exact_duplicates"]["error_rate"]) >= {"inside", "adjusted_p"}
    assert leakage["leaky_features"] == []
    assert {d["column"] for d in data["drift"]} >= {"colour", "size", "weight"}
    assert all(set(d) >= DRIFT_KEYS for d in data["drift"])
    assert data["slice_drift"] is None  # a training set has no error rate
    assert "error rate per slice not compared: the reference has no predictions" in captured.err


def test_reference_text_output(
    eval_and_training: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    current, training = eval_and_training
    assert main(["quality", str(current), "--reference", str(training)]) == 0
    out = capsys.readouterr().out
    assert "leakage against the reference:" in out
    assert "exact_duplicates: 50 rows: 50 rows (2.5%) have an exact copy in the reference" in out
    assert "shared_ids: 10 rows:" in out and "near_duplicates: " in out
    assert "leaky_features: 0" in out and "drift: " in out
    assert "error rate per slice: not compared: the reference has no predictions" in out
    assert "{" not in out  # no dict printed raw


def test_leakage_counts_for_fail_on(
    eval_and_training: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exact copies and shared ids are errors: with the reference, --fail-on error fails."""
    current, training = eval_and_training
    assert main(["quality", str(current), "--fail-on", "error"]) == 0  # clean on its own
    capsys.readouterr()
    argv = ["quality", str(current), "--reference", str(training), "--json"]
    assert main([*argv, "--fail-on", "error"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["leakage"]["exact_duplicates"]["rows"] == 50
    assert main(["quality", str(current), "--reference", "missing.parquet"]) == 2


def test_leaky_feature_in_the_text_output(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current, reference = clean_frame(rng), clean_frame(rng)
    current["refund"] = current["label"] * 2.0 + rng.normal(0, 0.1, len(current))
    reference["refund"] = reference["label"] * 2.0
    cur_path, ref_path = tmp_path / "cur.parquet", tmp_path / "ref.parquet"
    current.to_parquet(cur_path, index=False)
    reference.to_parquet(ref_path, index=False)
    code, data = run_json(capsys, str(cur_path), "--reference", str(ref_path))
    assert code == 0
    (leaky,) = data["leakage"]["leaky_features"]
    assert leaky["column"] == "refund" and leaky["measure"] == "auc" and leaky["score"] > 0.99
    assert main(["quality", str(cur_path), "--reference", str(ref_path)]) == 0
    assert "'refund': auc 1" in capsys.readouterr().out


def test_quality_is_a_registered_command() -> None:
    from mlqa_debug.cli import quality
    from mlqa_debug.cli.main import COMMAND_GROUPS

    assert quality in COMMAND_GROUPS


def test_reference_without_predictions_loads_with_labels_standing_in(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    from argparse import Namespace

    from mlqa_debug.cli.quality import load_reference
    from mlqa_debug.data.predictions import load_predictions
    from mlqa_debug.errors import SchemaError

    path = tmp_path / "train.csv"
    clean_frame(rng).drop(columns=["prediction", "score"]).to_csv(path, index=False)
    with pytest.raises(SchemaError, match="no prediction column"):
        load_predictions(path)  # what the loader does with such a table
    args = Namespace(label=None, prediction=None, id_column=None, task=None, positive=None)
    reference = load_reference(str(path), args)
    assert reference.schema.prediction == reference.schema.label == "label"
    assert set(reference.schema.features) == {"colour", "size", "weight"}
    unlabelled = tmp_path / "nolabel.csv"
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(unlabelled, index=False)
    with pytest.raises(SchemaError, match="label"):
        load_reference(str(unlabelled), args)


def test_reference_gives_drift_ranked_by_psi(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = clean_frame(rng, 5_000), clean_frame(rng, 5_000)
    current["size"] = current["size"] + 2.0  # one sd: a major shift
    ref_path, cur_path = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    reference.to_parquet(ref_path, index=False)
    current.to_parquet(cur_path, index=False)
    code, out = run_json(capsys, str(cur_path), "--reference", str(ref_path))
    assert code == 0
    drift = out["drift"]
    assert drift[0]["column"] == "size" and drift[0]["drifted"] and drift[0]["test"] == "ks"
    assert [d["psi"] for d in drift] == sorted((d["psi"] for d in drift), reverse=True)
    assert not any(d["drifted"] for d in drift[1:])
    assert isinstance(out["slice_drift"], list) and out["slice_drift"]  # both have predictions
    assert main(["quality", str(cur_path), "--reference", str(ref_path)]) == 0
    text = capsys.readouterr().out
    assert "drift: 1 of" in text and "error rate per slice: " in text
