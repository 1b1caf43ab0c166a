"""Reading and validating predictions files (mlqa_debug.data.predictions).

Every way a file can be refused has a case here, with the message a user sees
and, for some, the data the error carries (file, column, rows, expected). Rows
in messages are numbered from 1 (the first data row); ``SchemaError.rows`` holds
0-based positions.
"""

from __future__ import annotations

import io
import re
import string
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlqa_debug import Predictions, Roles, SchemaError, load_predictions
from mlqa_debug.data.predictions import max_file_bytes
from mlqa_debug.data.schema import TASKS
from tests.conftest import FEATURE_TYPES, MULTICLASSES, NUMERIC_NAME, QUOTED_NAME, WriteTable

#: A case builds (source, keyword arguments) from the three fixture frames and tmp_path.
Case = Callable[[dict[str, pd.DataFrame], WriteTable, Path], tuple[Any, dict[str, Any]]]

MISSING_LABEL_ROWS = [3, 16, 89, 120, 150, 200]  # 0-based; shown as rows 4, 17, 90, ...


def raw_file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def garbage(n: int = 4000) -> bytes:
    return bytes(np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8))


def truncated_parquet(frames: dict[str, pd.DataFrame], tmp_path: Path) -> Path:
    buf = io.BytesIO()
    frames["binary"].to_parquet(buf)
    return raw_file(tmp_path, "cut.parquet", buf.getvalue()[: len(buf.getvalue()) // 2])


def with_missing_labels(frame: pd.DataFrame) -> pd.DataFrame:
    big = pd.concat([frame] * 2, ignore_index=True).assign(id=lambda f: [f"X{i}" for i in f.index])
    big["label"] = big["label"].astype(float)
    big.loc[MISSING_LABEL_ROWS, "label"] = np.nan
    return big


def set_cell(frame: pd.DataFrame, rows: list[int], column: str, value: object) -> pd.DataFrame:
    out = frame.copy()
    if isinstance(value, str) and not pd.api.types.is_string_dtype(out[column].dtype):
        out[column] = out[column].astype(object)
    for r in rows:
        out.loc[r, column] = value
    return out


def sidecar_case(text: str) -> Case:
    def build(
        frames: dict[str, pd.DataFrame], write: WriteTable, tmp_path: Path
    ) -> tuple[Any, dict[str, Any]]:
        path = write(frames["binary"])
        (tmp_path / "preds.mlqa.toml").write_text(text, encoding="utf-8")
        return path, {}

    return build


def frame_case(kind: str, change: Callable[[pd.DataFrame], pd.DataFrame], **kw: Any) -> Case:
    def build(
        frames: dict[str, pd.DataFrame], write: WriteTable, tmp_path: Path
    ) -> tuple[Any, dict[str, Any]]:
        return write(change(frames[kind])), kw

    return build


def options_case(kind: str, **kw: Any) -> Case:
    """The ``kind`` frame as it is, read with the options ``kw``."""
    return frame_case(kind, lambda f: f, **kw)


def prob_rows_off(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[[4, 8], "prob_cat"] += 0.2  # still within [0, 1] ...
    out.loc[[4, 8], "prob_cat"] = out.loc[[4, 8], "prob_cat"].clip(upper=1.0)
    out.loc[[4, 8], "prob_dog"] = 0.0  # ... and now rows 5 and 9 do not sum to 1
    out.loc[[4, 8], "prob_émeu"] = 0.5
    return out


def duplicate_ids(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[2, "id"] = "E001"
    out.loc[6, "id"] = "E002"
    return out


ERROR_CASES: dict[str, tuple[Case, str]] = {
    "garbled csv": (
        lambda f, w, t: (raw_file(t, "x.csv", garbage()), {}),
        r"x\.csv: cannot read the file as CSV",
    ),
    "garbled parquet": (
        lambda f, w, t: (raw_file(t, "x.parquet", garbage()), {}),
        r"x\.parquet: cannot read the file as PARQUET",
    ),
    "csv named parquet": (
        lambda f, w, t: (raw_file(t, "x.parquet", b"label,prediction\n1,1\n"), {}),
        "cannot read the file as PARQUET",
    ),
    "truncated parquet": (
        lambda f, w, t: (truncated_parquet(f, t), {}),
        "cannot read the file as PARQUET",
    ),
    "ragged csv": (
        lambda f, w, t: (raw_file(t, "x.csv", b"label,prediction\n1,1\n0,1,5,6\n"), {}),
        "cannot read the file as CSV",
    ),
    "latin-1 csv": (
        lambda f, w, t: (
            raw_file(t, "x.csv", "label,prediction,café\n1,1,é\n".encode("cp1252")),
            {},
        ),
        "cannot read the file as CSV",
    ),
    "empty csv": (lambda f, w, t: (raw_file(t, "x.csv", b""), {}), r"x\.csv: the file is empty"),
    "empty parquet": (lambda f, w, t: (raw_file(t, "x.parquet", b""), {}), "the file is empty"),
    "blank lines": (lambda f, w, t: (raw_file(t, "x.csv", b"\n\n\n"), {}), "cannot read"),
    "header only": (
        lambda f, w, t: (raw_file(t, "x.csv", b"id,label,prediction\n"), {}),
        "the table has no rows",
    ),
    "header only parquet": (
        frame_case("binary", lambda f: f.iloc[:0]),
        "the table has no rows",
    ),
    "not found": (lambda f, w, t: (t / "nope.csv", {}), "file not found"),
    "a directory": (lambda f, w, t: (t, {}), "not a regular file"),
    "no label column": (
        frame_case("binary", lambda f: f.drop(columns="label")),
        r"no label column: expected one named label / y_true / target",
    ),
    "label column named but absent": (
        options_case("binary", label="truth"),
        r"label column 'truth' not found; the table has 'id', 'loan amount'",
    ),
    "prediction column named but absent": (
        options_case("binary", prediction="guess"),
        r"prediction column 'guess' not found",
    ),
    "no prediction, no probabilities": (
        frame_case("binary", lambda f: f.drop(columns=["prediction", "score"])),
        r"no prediction column: expected one named prediction / y_pred / pred",
    ),
    "no prediction for regression": (
        frame_case("regression", lambda f: f.drop(columns="prediction")),
        "no prediction column",
    ),
    "labels missing": (
        frame_case("binary", with_missing_labels),
        r"label column 'label' has 6 missing values \(rows 4, 17, 90, 121, 151, \.\.\.\); "
        "fill or drop them",
    ),
    "one label missing": (
        frame_case("multiclass", lambda f: set_cell(f, [0], "label", None)),
        r"label column 'label' has 1 missing value \(row 1\)",
    ),
    "predictions missing": (
        frame_case("regression", lambda f: set_cell(f, [1, 119], "prediction", np.nan)),
        r"prediction column 'prediction' has 2 missing values \(rows 2, 120\)",
    ),
    "probability not a number": (
        frame_case("multiclass", lambda f: set_cell(f, [2], "prob_dog", "high")),
        r"probability column 'prob_dog' has 1 value that are not numbers in \[0, 1\] "
        r"\(row 3: \['high'\]\)",
    ),
    "probability above 1": (
        frame_case("multiclass", lambda f: set_cell(f, [9, 10], "prob_cat", 1.5)),
        r"probability column 'prob_cat' has 2 values .* \(rows 10, 11: \[1\.5, 1\.5\]\)",
    ),
    "probability missing": (
        frame_case("multiclass", lambda f: set_cell(f, [0], "prob_cat", np.nan)),
        r"probability column 'prob_cat' has 1 value .* \(row 1",
    ),
    "score below 0": (
        frame_case("binary", lambda f: set_cell(f, [5], "score", -0.25)),
        r"probability column 'score' has 1 value .* \(row 6: \[-0\.25\]\)",
    ),
    "rows not summing to 1": (
        frame_case("multiclass", prob_rows_off),
        r"probability columns do not sum to 1 on 2 rows \(rows 5, 9: sums",
    ),
    "probabilities not covering the classes": (
        frame_case("multiclass", lambda f: f.drop(columns="prob_émeu")),
        r"probability columns cover 2 of 3 classes; no prob_<class> column for 'émeu'",
    ),
    "probability suffix not a numeric class": (
        frame_case("binary", lambda f: f.assign(prob_yes=0.5)),
        r"probability column for class 'yes' does not match the numeric labels",
    ),
    "duplicate ids": (
        frame_case("binary", duplicate_ids),
        r"id column 'id' has 2 duplicate values \(rows 3, 7: 'E001', 'E002'\); ids must be unique",
    ),
    "id missing": (
        frame_case("binary", lambda f: set_cell(f, [4], "id", None)),
        r"id column 'id' has 1 missing value \(row 5\); every row needs an id",
    ),
    "xlsx": (
        lambda f, w, t: (raw_file(t, "preds.xlsx", b"PK\x03\x04 not really"), {}),
        r"preds\.xlsx: unsupported file type '\.xlsx'; expected a \.csv or \.parquet file",
    ),
    "json": (
        lambda f, w, t: (raw_file(t, "preds.json", b'[{"label": 1}]'), {}),
        r"unsupported file type '\.json'",
    ),
    "no suffix": (
        lambda f, w, t: (raw_file(t, "preds", b"label,prediction\n1,1\n"), {}),
        r"unsupported file type '\(none\)'",
    ),
    "over max_bytes": (
        options_case("binary", max_bytes=1000),
        r"the file is 0\.0 MB, over the 0 MB limit \(set MLQA_DEBUG_MAX_FILE_MB to raise it\)",
    ),
    "task not binary": (
        options_case("multiclass", task="binary"),
        "task is binary but label and prediction hold 3 classes",
    ),
    "regression of strings": (
        options_case("multiclass", task="regression"),
        r"regression column 'label' has 120 non-numeric values \(rows 1, 2, 3, 4, 5, \.\.\.",
    ),
    "positive class not a class": (
        options_case("binary", positive="maybe"),
        r"positive class 'maybe' is not among the classes \[0, 1\]",
    ),
    "numeric type override on text": (
        options_case("binary", roles=Roles(types={QUOTED_NAME: "numeric"})),
        re.escape(
            f"column {QUOTED_NAME!r} should hold numbers, but 120 of its values do not convert"
        ),
    ),
    "datetime type override on text": (
        options_case("binary", roles=Roles(types={QUOTED_NAME: "datetime"})),
        "should hold ISO dates",
    ),
    "boolean type override on text": (
        options_case("binary", roles=Roles(types={QUOTED_NAME: "boolean"})),
        r"should hold booleans \(True / False or 0 / 1\)",
    ),
    "score with a single class cannot give predictions": (
        frame_case("binary", lambda f: f.drop(columns="prediction").assign(label=1)),
        r"the score column 'score' cannot give one: the labels hold 1 class, a score needs 2",
    ),
    "image columns of the wrong count": (
        options_case(
            "binary", roles=Roles.from_dict({"image": {"columns": "l*", "shape": [2, 2]}})
        ),
        r"image columns \['l\*'\] match 2 columns; expected 2x2 = 4",
    ),
    "sidecar: invalid TOML": (
        sidecar_case("[roles\nlabel = 'x'\n"),
        r"preds\.mlqa\.toml: cannot read the sidecar file",
    ),
    "sidecar: not UTF-8": (
        lambda f, w, t: (
            w(f["binary"]),
            {"sidecar": raw_file(t, "s.toml", "[roles]\nlabel = 'é'\n".encode("cp1252"))},
        ),
        "cannot read the sidecar file",
    ),
    "sidecar: missing file given": (
        lambda f, w, t: (w(f["binary"]), {"sidecar": t / "absent.toml"}),
        "cannot read the sidecar file",
    ),
    "sidecar: unknown table": (
        sidecar_case("[roles]\n[colours]\nlabel = 'red'\n"),
        r"unknown table\(s\) 'colours'; expected roles, types, image, model",
    ),
    "sidecar: unknown role": (
        sidecar_case("[roles]\nlable = 'label'\n"),
        r"unknown role setting\(s\) 'lable'; expected some of",
    ),
    "sidecar: bad task": (
        sidecar_case("[roles]\ntask = 'ternary'\n"),
        r"task 'ternary' is not one of binary, multiclass, regression",
    ),
    "sidecar: bad type": (
        sidecar_case("[types]\n'loan amount' = 'money'\n"),
        r"type 'money' for column 'loan amount' is not one of categorical, numeric",
    ),
    "sidecar: roles not a table": (
        sidecar_case("roles = 3\n"),
        r"'roles' must be a table",
    ),
    "sidecar: image without shape": (
        sidecar_case("[image]\ncolumns = 'px_*'\n"),
        r"role setting 'image' must be a table with columns .* and shape",
    ),
    "sidecar: model with unknown key": (
        sidecar_case("[model]\nfile = 'm.joblib'\nurl = 'http://x'\n"),
        r"role setting 'model' must be a table with file",
    ),
    "sidecar: label not a string": (
        sidecar_case("[roles]\nlabel = 3\n"),
        r"role setting 'label' must be a column name \(a string\), got 3",
    ),
    "sidecar: threshold not a number": (
        sidecar_case("[roles]\nerror_threshold = 'big'\n"),
        r"role setting 'error_threshold' must be a number, got 'big'",
    ),
    "sidecar: ignore not names": (
        sidecar_case("[roles]\nignore = [1, 2]\n"),
        r"role setting 'ignore' must be a column name or a list of column names",
    ),
    "sidecar: names a column that is absent": (
        sidecar_case("[roles]\nlabel = 'truth'\n"),
        r"preds\.csv: label column 'truth' not found",
    ),
}


@pytest.fixture
def frames(
    binary_frame: pd.DataFrame, multiclass_frame: pd.DataFrame, regression_frame: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    return {"binary": binary_frame, "multiclass": multiclass_frame, "regression": regression_frame}


@pytest.mark.parametrize(("case", "match"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_validation_error(
    frames: dict[str, pd.DataFrame],
    write_table: WriteTable,
    tmp_path: Path,
    case: Case,
    match: str,
) -> None:
    source, kwargs = case(frames, write_table, tmp_path)
    with pytest.raises(SchemaError, match=match) as info:
        load_predictions(source, **kwargs)
    assert isinstance(info.value, ValueError)  # domain errors are ValueErrors too


def test_missing_labels_error_carries_the_data(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    with pytest.raises(SchemaError) as info:
        load_predictions(write_table(with_missing_labels(binary_frame)))
    err = info.value
    assert err.file == "preds.csv"
    assert err.column == "label"
    assert err.rows == MISSING_LABEL_ROWS
    assert err.expected == "no missing values"
    assert err.received == "6 missing"
    assert str(err).startswith("preds.csv: label column 'label' has 6 missing values")


def test_duplicate_ids_error_carries_rows_and_values(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    with pytest.raises(SchemaError) as info:
        load_predictions(write_table(duplicate_ids(binary_frame)))
    assert (info.value.column, info.value.rows) == ("id", [2, 6])
    assert info.value.received == ["E001", "E002"]


def test_probability_error_carries_rows(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    with pytest.raises(SchemaError) as info:
        load_predictions(write_table(prob_rows_off(multiclass_frame)))
    assert info.value.rows == [4, 8]
    assert info.value.expected == "1 ± 0.001"


def test_unsupported_type_error_carries_expected(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as info:
        load_predictions(raw_file(tmp_path, "p.xlsx", b"x"))
    assert info.value.expected == [".csv", ".parquet", ".pq", ".txt"]
    assert info.value.received == ".xlsx"


def test_size_cap_error_carries_sizes(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    path = write_table(binary_frame)
    with pytest.raises(SchemaError) as info:
        load_predictions(path, max_bytes=100)
    assert (info.value.expected, info.value.received) == (100, path.stat().st_size)
    assert load_predictions(path, max_bytes=path.stat().st_size).n_samples == len(binary_frame)


@pytest.mark.parametrize("file_like", [False, True])
def test_size_cap_from_environment(
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    monkeypatch: pytest.MonkeyPatch,
    file_like: bool,
) -> None:
    path = write_table(pd.concat([binary_frame] * 40, ignore_index=True).drop(columns="id"))
    assert path.stat().st_size > 2**20 // 100
    monkeypatch.setenv("MLQA_DEBUG_MAX_FILE_MB", "0.01")
    assert max_file_bytes() == int(0.01 * 2**20)
    source: Any = io.BytesIO(path.read_bytes()) if file_like else path
    if file_like:
        source.name = "upload.csv"
    with pytest.raises(SchemaError, match=r"over the 0 MB limit \(set MLQA_DEBUG_MAX_FILE_MB"):
        load_predictions(source)
    monkeypatch.setenv("MLQA_DEBUG_MAX_FILE_MB", "5")
    assert load_predictions(path).n_samples == 40 * len(binary_frame)


@pytest.mark.parametrize("value", ["abc", "-1", "nan", ""])
def test_bad_size_cap_in_environment(
    binary_frame: pd.DataFrame, write_table: WriteTable, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MLQA_DEBUG_MAX_FILE_MB", value)
    with pytest.raises(SchemaError, match=rf"MLQA_DEBUG_MAX_FILE_MB={value!r} is not a size"):
        load_predictions(write_table(binary_frame))


# --- odd but valid input: warnings ----------------------------------------------------


def test_predicted_class_no_label_has_warns(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = multiclass_frame.copy()
    frame.loc[[1, 4], "prediction"] = "zèbre"
    with pytest.warns(UserWarning, match=r"class 'zèbre' that no label has \(rows 2, 5\)"):
        p = load_predictions(write_table(frame.drop(columns=[f"prob_{c}" for c in MULTICLASSES])))
    assert p.schema.classes == ("cat", "dog", "zèbre", "émeu")  # sorted as text
    assert len(p.warnings) == 1
    assert "zèbre" in p.warnings[0] and "they count as errors" in p.warnings[0]
    assert p.error[[1, 4]].all()
    assert p.summary()["warnings"] == list(p.warnings)


def test_predicted_class_warning_is_not_an_error(write_table: WriteTable) -> None:
    frame = pd.DataFrame({"label": [0, 1, 0, 1], "prediction": [0, 1, 2, 7]})
    with pytest.warns(UserWarning, match=r"classes 2, 7 that no label has \(rows 3, 4\)"):
        p = load_predictions(write_table(frame))
    assert p.schema.classes == (0, 1, 2, 7)
    assert p.task == "multiclass"


# --- odd names and sources ------------------------------------------------------------

ODD_LABEL = 'vérité "✓"'
ODD_PREDICTION = "the model's guess 🤖"
ODD_ID = "row id.v2"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_odd_role_names_end_to_end(
    multiclass_frame: pd.DataFrame, write_table: WriteTable, fmt: str
) -> None:
    frame = multiclass_frame.rename(
        columns={"label": ODD_LABEL, "prediction": ODD_PREDICTION, "id": ODD_ID}
    )
    path = write_table(frame, f"données 🚀.{fmt}")
    p = load_predictions(path, label=ODD_LABEL, prediction=ODD_PREDICTION, id=ODD_ID)
    assert (p.schema.label, p.schema.prediction, p.schema.id) == (ODD_LABEL, ODD_PREDICTION, ODD_ID)
    assert dict(p.schema.features) == FEATURE_TYPES
    assert p.source == f"données 🚀.{fmt}"
    expected = (frame[ODD_LABEL] != frame[ODD_PREDICTION]).to_numpy()
    np.testing.assert_array_equal(p.error, expected)
    summary = p.summary()
    assert {r["column"] for r in summary["roles"]} == set(frame.columns)
    assert summary["rows"] == len(frame)


def test_odd_names_in_errors(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    frame = binary_frame.rename(columns={"label": ODD_LABEL})
    frame[ODD_LABEL] = frame[ODD_LABEL].astype(float)
    frame.loc[7, ODD_LABEL] = np.nan
    with pytest.raises(
        SchemaError, match=r"label column 'vérité \"✓\"' has 1 missing value \(row 8"
    ):
        load_predictions(write_table(frame), label=ODD_LABEL)


def test_file_like_source_named_like_an_upload(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    raw = write_table(binary_frame).read_bytes()
    upload = io.BytesIO(raw)
    upload.name = "C:\\Users\\me\\uploaded preds.csv"  # only the name part is shown
    p = load_predictions(upload, name="uploaded preds.csv")
    assert p.source == "uploaded preds.csv"
    assert p.schema == load_predictions(io.BytesIO(raw), name="x.csv").schema


def test_file_like_without_a_supported_name_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"upload: unsupported file type '\(none\)'"):
        load_predictions(io.BytesIO(b"label,prediction\n1,1\n"))


def test_txt_is_read_as_csv(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    assert load_predictions(write_table(binary_frame, "preds.txt")).n_samples == len(binary_frame)


def test_summary_is_json_safe(multiclass_frame: pd.DataFrame, write_table: WriteTable) -> None:
    import json

    summary = load_predictions(write_table(multiclass_frame)).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["feature_types"] == {
        "numeric": 2,
        "categorical": 2,
        "boolean": 1,
        "datetime": 1,
        "text": 1,
    }


def test_checks_describe_what_was_validated(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    checks = [r.message for r in load_predictions(write_table(binary_frame)).checks()]
    assert "label column 'label': no missing values" in checks
    assert "id column 'id': present on every row and unique" in checks
    assert "score column 'score': numbers in [0, 1] (P[1])" in checks


# --- fingerprint ---------------------------------------------------------------------


def test_fingerprint_depends_on_bytes_only(
    binary_frame: pd.DataFrame, write_table: WriteTable, tmp_path: Path
) -> None:
    path = write_table(binary_frame)
    raw = path.read_bytes()
    first = load_predictions(path).fingerprint
    assert load_predictions(path).fingerprint == first
    copy = raw_file(tmp_path, "copy with another name.csv", raw)
    assert load_predictions(copy).fingerprint == first
    upload = io.BytesIO(raw)
    upload.name = "up.csv"
    assert load_predictions(upload).fingerprint == first
    assert len(first) == 32 and all(c in string.hexdigits for c in first)
    assert load_predictions(path).short_fingerprint == first[:8]


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.replace(b"E001", b"E999", 1),  # one value
        lambda raw: raw + b"\n",  # trailing newline only
        lambda raw: raw.replace(b"\n", b"\r\n"),  # line endings
        lambda raw: raw.rsplit(b"\n", 2)[0] + b"\n",  # one row fewer
    ],
    ids=["value", "trailing newline", "line endings", "row removed"],
)
def test_fingerprint_changes_with_any_byte(
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    tmp_path: Path,
    change: Callable[[bytes], bytes],
) -> None:
    path = write_table(binary_frame)
    raw = path.read_bytes()
    changed = raw_file(tmp_path, "changed.csv", change(raw))
    assert changed.read_bytes() != raw
    assert load_predictions(changed).fingerprint != load_predictions(path).fingerprint


def test_fingerprint_of_parquet_file_like(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(multiclass_frame, "preds.parquet")
    upload = io.BytesIO(path.read_bytes())
    upload.name = "preds.parquet"
    assert load_predictions(upload).fingerprint == load_predictions(path).fingerprint


# --- property: CSV and Parquet give the same schema -----------------------------------

RESERVED_NAMES = {
    "id",
    "example_id",
    "label",
    "y_true",
    "target",
    "prediction",
    "y_pred",
    "pred",
    "score",
    "embedding",
    "proj_x",
    "proj_y",
    "shap_base",
    "shap_base_value",
}
RESERVED_PREFIXES = ("prob_", "proba_", "shap_", "emb_")
# Strings a CSV reader turns into something else (missing, booleans, infinities).
# CSV has no types: "1" the string and 1 the number, "" and a missing value, "True"
# and True are the same bytes, so string values start with a letter and avoid these.
# An inherent limit of the format, not something the loader could recover.
CSV_SPECIAL = {"na", "n/a", "nan", "null", "none", "true", "false", "inf", "infinity"}


def _free_name(name: str) -> bool:
    low = name.lower()
    return low not in RESERVED_NAMES and not low.startswith(RESERVED_PREFIXES)


# Column names: any printable text, tabs and newlines included. Not "\r": pandas'
# CSV writer does not quote a lone carriage return, so no reader can get it back
# (a limit of the writer); not NUL. Names that are roles by convention are excluded,
# the property is about features.
column_names = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs", "Cc"), exclude_characters="\x00\r"),
    min_size=1,
    max_size=12,
).filter(_free_name)
csv_safe_text = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=8
).filter(lambda s: s[:1].isalpha() and s.strip().lower() not in CSV_SPECIAL)


def _feature(draw: st.DrawFn, kind: str, rng: np.random.Generator, n: int) -> Any:
    missing = rng.random(n) < 0.3
    missing[0] = False  # a column of nothing but blanks has no type in CSV
    if kind == "int":
        values: Any = pd.array(rng.integers(-1000, 1000, n), dtype="Int64")
    elif kind == "float":
        values = rng.normal(size=n) * 1000
    elif kind == "bool":
        values = pd.array(rng.random(n) < 0.5, dtype="boolean")
    elif kind == "date":
        values = (np.datetime64("2024-01-01") + rng.integers(0, 900, n)).astype(str).astype(object)
    else:
        pool = draw(st.lists(csv_safe_text, min_size=1, max_size=6))
        values = np.array(pool, dtype=object)[rng.integers(0, len(pool), n)]
    values[missing] = None if kind in ("str", "date") else pd.NA if kind != "float" else np.nan
    return values


@st.composite
def prediction_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, str]]:
    n = draw(st.integers(4, 30))
    names = draw(st.lists(column_names, min_size=3, max_size=8, unique_by=str.lower))
    label, prediction, id_name, *features = names
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["int classes", "str classes", "regression"]))
    data: dict[str, Any] = {id_name: [f"r{i}" for i in range(n)]}
    if kind == "regression":
        y = rng.normal(size=n) * 10
        data[label], data[prediction] = y, y + rng.normal(size=n)
    else:
        k = draw(st.integers(2, 5))
        strategy = st.integers(-5, 60) if kind == "int classes" else csv_safe_text
        classes = draw(st.lists(strategy, min_size=k, max_size=k, unique=True))
        pool = np.array(classes, dtype=object if kind == "str classes" else np.int64)
        data[label], data[prediction] = pool[rng.integers(0, k, n)], pool[rng.integers(0, k, n)]
        if draw(st.booleans()):
            probs = rng.random((n, k))
            probs /= probs.sum(axis=1, keepdims=True)
            data.update({f"prob_{c}": probs[:, j] for j, c in enumerate(classes)})
    for name in features:
        data[name] = _feature(
            draw, draw(st.sampled_from(["int", "float", "bool", "str", "date"])), rng, n
        )
    return pd.DataFrame(data), {"label": label, "prediction": prediction, "id": id_name}


@pytest.mark.slow
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=prediction_tables())
def test_csv_and_parquet_give_the_same_schema(
    tmp_path_factory: pytest.TempPathFactory, table: tuple[pd.DataFrame, dict[str, str]]
) -> None:
    frame, roles = table
    folder = tmp_path_factory.mktemp("roundtrip")
    frame.to_csv(folder / "t.csv", index=False)
    frame.to_parquet(folder / "t.parquet", index=False)
    loaded: list[Predictions] = []
    for name in ("t.csv", "t.parquet"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # predicted classes no label has
            loaded.append(load_predictions(folder / name, **roles))
    from_csv, from_parquet = loaded
    assert from_csv.schema == from_parquet.schema
    assert from_csv.task in TASKS
    assert set(from_csv.schema.features) == set(frame.columns) - set(roles.values()) - {
        c for c in frame.columns if c.startswith("prob_")
    }
    np.testing.assert_array_equal(from_csv.error, from_parquet.error)
    assert from_csv.warnings == tuple(
        w.replace("t.parquet", "t.csv") for w in from_parquet.warnings
    )


def test_numeric_feature_name(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    """A column named like a number stays a string name."""
    p = load_predictions(write_table(binary_frame.rename(columns={NUMERIC_NAME: "2024"})))
    assert p.schema.features["2024"] == "numeric"


def test_memo_builds_once_and_allows_nested_keys(tmp_path) -> None:
    import threading

    from mlqa_debug.data.workspace import Workspace

    predictions = Workspace(tmp_path).load("diabetes")
    calls: list[str] = []

    def inner() -> int:
        calls.append("inner")
        return 1

    def outer() -> int:
        calls.append("outer")
        return predictions.memo("inner", inner) + 1

    threads = [threading.Thread(target=predictions.memo, args=("outer", outer)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert predictions.memo("outer", outer) == 2
    assert calls == ["outer", "inner"]
