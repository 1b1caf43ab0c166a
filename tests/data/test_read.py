"""Reading a predictions file (mlqa_debug.data.read): column names given twice are refused.

pandas renames a second ``label`` to ``label.1`` and reads on; the table would then
have a numeric feature ``label.1`` that is really a second label, so the reader
checks the header row as written and refuses repeated names, naming them.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlqa_debug import SchemaError, load_predictions
from mlqa_debug.data.read import csv_header, read_table


def write(tmp_path: Path, text: str, name: str = "preds.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "message", "repeated"),
    [
        ("id,label,prediction,label", r"repeats 'label' \(2 times\)", ["label"]),
        ("id,label,prediction,prediction", r"repeats 'prediction' \(2 times\)", ["prediction"]),
        ("id,label,prediction,age,age,age", r"repeats 'age' \(3 times\)", ["age"]),
        (
            'id,label,prediction,"a,b","a,b",x,x',
            r"repeats 'a,b' \(2 times\), 'x' \(2 times\)",
            ["a,b", "x"],
        ),
    ],
)
def test_repeated_csv_column_names_are_refused_by_name(
    tmp_path: Path, header: str, message: str, repeated: list[str]
) -> None:
    n = header.count(",") + 1
    path = write(tmp_path, header + "\n" + "\n".join([",".join(["1"] * n)] * 3) + "\n")
    with pytest.raises(
        SchemaError, match=rf"^preds\.csv: column names must be unique; the header {message}"
    ):
        load_predictions(path)
    with pytest.raises(SchemaError) as info:
        read_table(path)
    assert (info.value.column, info.value.received) == (repeated[0], repeated)
    assert info.value.expected == "unique column names"


def test_blank_names_and_similar_names_are_not_repeats(tmp_path: Path) -> None:
    path = write(tmp_path, "label,prediction,,,Label,label.1\n1,1,a,b,1,2\n0,0,c,d,0,1\n")
    frame = read_table(path).frame
    assert list(frame.columns)[-2:] == ["Label", "label.1"]


def test_the_header_is_read_as_written(tmp_path: Path) -> None:
    raw = '\ufeff"a ""quoted"" name","multi\nline",label\n1,2,3\n'.encode()
    assert csv_header(raw) == ['a "quoted" name', "multi\nline", "label"]
    assert csv_header(b"\xff\xfe,label\n") == ["\ufffd\ufffd", "label"]


def test_repeated_parquet_column_names_are_refused(tmp_path: Path) -> None:
    table = pa.table([pa.array([0, 1]), pa.array([0, 1]), pa.array([1, 1])],
                     names=["label", "prediction", "label"])  # fmt: skip
    pq.write_table(table, tmp_path / "preds.parquet")
    with pytest.raises(SchemaError, match=r"preds\.parquet: "):
        load_predictions(tmp_path / "preds.parquet")
