"""``mlqa-debug quality``: the findings as text and JSON, ``--fail-on`` and bad input."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.cli.main import main
from tests.analyses.quality.helpers import clean_frame

needs_reference_modules = pytest.mark.skipif(
    importlib.util.find_spec("mlqa_debug.analyses.quality.leakage") is None
    or importlib.util.find_spec("mlqa_debug.analyses.quality.drift") is None,
    reason="the leakage and drift modules are not there yet",
)

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
    assert set(data) == {"findings", "leakage", "drift"}
    assert data["leakage"] is None and data["drift"] is None
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


@needs_reference_modules
def test_reference_with_labels_and_no_predictions(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = clean_frame(rng)
    training = clean_frame(rng).drop(columns=["prediction", "score"])
    training["id"] += 10_000
    training.iloc[:50, 1:] = current.iloc[:50][training.columns[1:]].to_numpy()
    current_path, training_path = tmp_path / "eval.parquet", tmp_path / "train.parquet"
    current.to_parquet(current_path, index=False)
    training.to_parquet(training_path, index=False)
    code, data = run_json(capsys, str(current_path), "--reference", str(training_path))
    assert code == 0
    assert set(data["leakage"]) == {
        "exact_duplicates",
        "near_duplicates",
        "shared_ids",
        "leaky_features",
    }
    assert {d["column"] for d in data["drift"]} >= {"colour", "size", "weight"}
    assert all(
        set(d) == {"column", "psi", "statistic", "p_value", "test", "drifted"}
        for d in data["drift"]
    )


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


def test_reference_branch_calls_the_agreed_api(
    rng: np.random.Generator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The wiring alone, with stand-ins for the leakage and drift modules' agreed functions."""
    import types

    seen: list[tuple[str, str, str]] = []

    def find_leakage(current, reference):  # type: ignore[no-untyped-def]
        seen.append(("leakage", current.source, reference.schema.prediction))
        return "report"

    def feature_drift(current, reference):  # type: ignore[no-untyped-def]
        seen.append(("drift", current.source, reference.schema.prediction))
        return ["drifts"]

    leakage = types.ModuleType("mlqa_debug.analyses.quality.leakage")
    leakage.find_leakage = find_leakage  # type: ignore[attr-defined]
    leakage.leakage_json = lambda report: {  # type: ignore[attr-defined]
        "exact_duplicates": 3,
        "near_duplicates": 1,
        "shared_ids": 0,
        "leaky_features": [],
    }
    drift = types.ModuleType("mlqa_debug.analyses.quality.drift")
    drift.feature_drift = feature_drift  # type: ignore[attr-defined]
    drift.drift_json = lambda drifts: [  # type: ignore[attr-defined]
        {
            "column": "size",
            "psi": 0.4,
            "statistic": 0.2,
            "p_value": 1e-9,
            "test": "ks",
            "drifted": True,
        },
        {
            "column": "colour",
            "psi": 0.0,
            "statistic": 1.0,
            "p_value": 0.6,
            "test": "chi2",
            "drifted": False,
        },
    ]
    monkeypatch.setitem(sys.modules, leakage.__name__, leakage)
    monkeypatch.setitem(sys.modules, drift.__name__, drift)
    current, training = tmp_path / "eval.parquet", tmp_path / "train.parquet"
    clean_frame(rng).to_parquet(current, index=False)
    clean_frame(rng).drop(columns=["prediction", "score"]).to_parquet(training, index=False)
    code, data = run_json(capsys, str(current), "--reference", str(training))
    assert code == 0
    assert seen == [("leakage", "eval.parquet", "label"), ("drift", "eval.parquet", "label")]
    assert data["leakage"]["exact_duplicates"] == 3
    assert [d["column"] for d in data["drift"]] == ["size", "colour"]
    assert main(["quality", str(current), "--reference", str(training)]) == 0
    out = capsys.readouterr().out
    assert "exact_duplicates: 3" in out and "drift: 1 of 2 features drifted" in out
    assert "size: PSI 0.4, ks statistic 0.2, p < 0.001" in out


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
    assert main(["quality", str(cur_path), "--reference", str(ref_path)]) == 0
    assert "drift: 1 of" in capsys.readouterr().out
