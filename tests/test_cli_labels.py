"""``mlqa-debug labels``: ranked suspects, --where, --json, --apply, exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlqa_debug.analyses.labels import append_decision, new_decision
from mlqa_debug.cli.main import main
from mlqa_debug.data.predictions import load_predictions

from .analyses.labels.conftest import make_planted


@pytest.fixture
def planted_file(tmp_path: Path) -> Path:
    path = tmp_path / "planted.csv"
    make_planted().frame.to_csv(path, index=False)
    return path


def test_prints_the_top_suspects(planted_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["labels", str(planted_file), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "suspected label errors among 2,000 ranked rows" in out
    assert "Northcutt" in out and "neighbours differ" in out
    lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(lines) == 5 and "nan" not in out


def test_json_matches_the_library(planted_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlqa_debug.analyses.labels import rank_suspects

    assert main(["labels", str(planted_file), "--where", "group == 'north'", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    predictions = load_predictions(planted_file)
    mask = (predictions.frame["group"] == "north").to_numpy()
    expected = rank_suspects(predictions, mask=mask).suspects.head(20)
    assert [s["id"] for s in data["suspects"]] == expected["id"].tolist()
    assert data["rows"] == int(mask.sum())
    assert {"given", "suggested", "score", "neighbours_differ"} <= set(data["suspects"][0])


def test_apply_writes_the_corrected_table(planted_file: Path, tmp_path: Path) -> None:
    predictions = load_predictions(planted_file)
    log = tmp_path / "reviews.jsonl"
    old = predictions.frame["label"].iloc[0]
    new = next(c for c in predictions.schema.classes if c != old)
    append_decision(
        log,
        new_decision(
            predictions, 0, verdict="relabel", new_label=new, reviewer="ana", dataset="planted"
        ),
    )
    append_decision(
        log, new_decision(predictions, 1, verdict="keep", reviewer="ana", dataset="planted")
    )
    out, corrections = tmp_path / "fixed.csv", tmp_path / "corrections.csv"
    argv = ["labels", str(planted_file), "--apply", str(log), "--out", str(out)]
    assert main([*argv, "--corrections", str(corrections)]) == 0
    fixed = pd.read_csv(out)
    assert fixed["label"].iloc[0] == new
    assert (fixed["label"].iloc[1:] == predictions.frame["label"].iloc[1:].to_numpy()).all()
    assert pd.read_csv(corrections)["new_label"].tolist() == [new]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--apply", "missing.jsonl", "--out", "x.csv"], "review log not found"),
        (["--apply", "missing.jsonl"], "--apply needs --out"),
        (["--out", "x.csv"], "go with --apply"),
        (["--where", "nope == 1"], "nope"),
    ],
)
def test_bad_input_exits_2(
    planted_file: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["labels", str(planted_file), *extra]) == 2
    assert message in capsys.readouterr().err


def test_a_table_without_probabilities_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bare.csv"
    pd.DataFrame({"label": ["a", "b"] * 5, "prediction": ["a"] * 10}).to_csv(path, index=False)
    assert main(["labels", str(path)]) == 2
    assert "needs prob_<class> columns" in capsys.readouterr().err


def test_top_must_be_positive(planted_file: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["labels", str(planted_file), "--top", "0"])
    assert info.value.code == 2
