"""Regression cases: the model, the store (round trip, concurrency, corrupt files), checking."""

from __future__ import annotations

import concurrent.futures
import json
import math
import multiprocessing
import os
import stat
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from mlqa_debug import cases as lib
from mlqa_debug import files
from mlqa_debug.cases import store as case_store
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import CaseError
from mlqa_debug.slicing import Predicate, Slice, parse_slice

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture
def store(tmp_path: Path) -> lib.CaseStore:
    return lib.CaseStore(tmp_path / "cases")


def slice_case(predictions: Predictions, where: str, **options: Any) -> lib.Case:
    options.setdefault("name", where or "all rows")
    return lib.build_case(predictions, where=parse_slice(where), **options).case


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("metric", "op"),
    [
        ("error_rate", "<="),
        ("log_loss", "<="),
        ("mae", "<="),
        ("n_wrong", "<="),
        ("accuracy", ">="),
        ("macro_f1", ">="),
        ("r2", ">="),
        ("recall[1]", ">="),
        ("precision[émeu]", ">="),
        ("f1[a]b]", ">="),
    ],
)
def test_metric_direction(metric: str, op: str) -> None:
    assert lib.metric_direction(metric) == op


@pytest.mark.parametrize("metric", ["bias", "n", "share", "recall", "speed", ""])
def test_unsupported_metrics_are_refused(metric: str) -> None:
    with pytest.raises(CaseError, match="cannot be a regression case"):
        lib.metric_direction(metric)


def test_metric_choices_follow_the_task(
    loans: Predictions, digits: Predictions, diabetes: Predictions
) -> None:
    binary = lib.metric_choices(loans)
    assert binary[0] == "error_rate" and "log_loss" in binary
    assert binary.index("recall[1]") < binary.index("recall[0]")  # positive class first
    assert {f"recall[{d}]" for d in range(10)} <= set(lib.metric_choices(digits))
    assert lib.metric_choices(diabetes) == ["mae", "rmse", "error_rate", "r2"]
    assert lib.default_metric(diabetes) == "mae"


def test_resolve_metric(loans: Predictions, digits: Predictions) -> None:
    assert lib.resolve_metric("recall[positive]", loans) == "recall[1]"
    with pytest.raises(CaseError, match="no positive class"):
        lib.resolve_metric("recall[positive]", digits)
    with pytest.raises(CaseError, match="not available on this binary dataset"):
        lib.resolve_metric("recall[7]", loans)
    with pytest.raises(CaseError, match="cannot be a regression case"):
        lib.resolve_metric("bias", loans)


# --------------------------------------------------------------------------- the case model


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "..", "a/b", "A1", "", "x" * 49, "-x", "a b", "é", None, 12]
)
def test_case_ids_are_validated(bad: object) -> None:
    with pytest.raises(CaseError, match="not a valid case id"):
        lib.validate_case_id(bad)


def test_new_case_ids_are_valid_and_distinct() -> None:
    ids = {lib.new_case_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(lib.CASE_ID_PATTERN.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "needs a name"), ("   ", "needs a name"), ("a\x01b", "control characters"),
     ("x" * 121, "at most 120"), ("a\ud800", "cannot be stored"), (3, "must be text")],
)  # fmt: skip
def test_case_names_are_validated(name: object, message: str) -> None:
    with pytest.raises(CaseError, match=message):
        lib.validate_case_name(name)


def test_case_name_is_stripped(loans: Predictions) -> None:
    assert slice_case(loans, "age < 25", name="  young  ").name == "young"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"op": ">="}, "lower is better"),
        ({"metric": "accuracy"}, "higher is better"),
        ({"metric": "n_wrong"}, "metric of example sets"),
        ({"where": "age >="}, "not valid"),
        ({"threshold": math.nan}, "finite"),
        ({"threshold": "0.3"}, "must be a number"),
        ({"baseline_rows": 0}, "positive integer"),
        ({"task": "ranking"}, "task must be one of"),
        ({"note": "x" * 10_001}, "at most 10,000"),
    ],
)
def test_invalid_cases_are_refused(loans: Predictions, changes: dict, message: str) -> None:
    case = slice_case(loans, "age < 25")
    data = {f: getattr(case, f) for f in case.__dataclass_fields__} | changes
    with pytest.raises(CaseError, match=message):
        lib.Case(**data)


def test_a_case_is_a_slice_or_an_example_set(loans: Predictions) -> None:
    case = slice_case(loans, "age < 25")
    examples = lib.ExampleSet("id", ("L00001",), "label", "prediction", ("age",))
    data = {f: getattr(case, f) for f in case.__dataclass_fields__}
    with pytest.raises(CaseError, match="either a slice"):
        lib.Case(**(data | {"examples": examples}))
    with pytest.raises(CaseError, match="unique"):
        lib.ExampleSet("id", ("7", 7), "label", "prediction", ())


# --------------------------------------------------------------------------- round trip

_names = st.text(min_size=1, max_size=60).filter(
    lambda s: s.strip() and not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in s)
)
_texts = st.text(max_size=200).filter(lambda s: "\x00" not in s)
_values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=12),
)
_columns = st.text(min_size=1, max_size=15)


@st.composite
def _predicates(draw: st.DrawFn) -> Predicate:
    column = draw(_columns)
    kind = draw(st.sampled_from(["==", "in", "between", "is missing", ">="]))
    if kind == "in":
        return Predicate(column, "in", tuple(draw(st.lists(_values, min_size=1, max_size=4))))
    if kind == "between":
        low, high = sorted(draw(st.lists(st.integers(-100, 100), min_size=2, max_size=2)))
        return Predicate(column, "between", (low, high))
    if kind == "is missing":
        return Predicate(column, "is missing", ())
    if kind == ">=":
        return Predicate(column, ">=", (draw(st.floats(-1e9, 1e9)),))
    return Predicate(column, "==", (draw(_values),))


_ids = st.lists(st.one_of(st.integers(-(10**9), 10**9), st.text(max_size=10)), min_size=1)
_unique_ids = _ids.map(lambda ids: list({lib.id_key(v): v for v in ids}.values()))
_stamp = st.datetimes(min_value=datetime(1970, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
)
_optional = st.one_of(st.none(), st.text(max_size=20))
_number = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def cases(draw: st.DrawFn) -> lib.Case:
    examples = None
    where = None
    if draw(st.booleans()):
        metric = draw(
            st.sampled_from(["error_rate", "mae", "accuracy", "recall[x]", "f1[ü ]", "log_loss"])
        )
        where = Slice(tuple(draw(st.lists(_predicates(), max_size=4)))).text
    else:
        metric = "n_wrong"
        examples = lib.ExampleSet(
            id_column=draw(_columns),
            ids=tuple(draw(_unique_ids)),
            label=draw(_columns),
            prediction=draw(_columns),
            features=tuple(draw(st.lists(_columns, max_size=5))),
        )
    return lib.Case(
        id=lib.new_case_id(),
        name=draw(_names),
        metric=metric,
        op=lib.metric_direction(metric),
        threshold=draw(_number),
        baseline=draw(_number),
        baseline_rows=draw(st.integers(1, 10**9)),
        task=draw(st.sampled_from(["binary", "multiclass", "regression"])),
        where=where,
        examples=examples,
        error_threshold=draw(st.one_of(st.none(), _number)),
        note=draw(_texts),
        author=draw(_texts.map(lambda s: s[:100])),
        source=lib.Provenance(
            fingerprint=draw(st.text(max_size=32)),
            dataset=draw(_optional),
            file=draw(_optional),
            model=draw(_optional),
            model_version=draw(_optional),
            page=draw(_optional),
        ),
        created=draw(_stamp),
        updated=draw(_stamp),
    )


@given(case=cases())
@settings(max_examples=200, deadline=None)
def test_json_round_trip(case: lib.Case) -> None:
    text = lib.case_json(case)
    assert text.endswith("\n")
    assert lib.Case.from_dict(json.loads(text)) == case


@given(case=cases())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_case_survives_save_and_load(
    case: lib.Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = lib.CaseStore(tmp_path_factory.mktemp("roundtrip"))
    rows = pd.DataFrame({"x": [1]}) if case.examples is not None else None
    store.save(case, rows=rows)
    assert store.get(case.id) == case
    listing = store.load()
    assert listing.cases == (case,) and listing.problems == ()


def test_saved_file_is_readable_json(loans: Predictions, store: lib.CaseStore) -> None:
    case = store.save(slice_case(loans, "employment == 'gig'", name="gig — “workers” ☀"))
    path = store.directory / f"{case.id}.json"
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "schema_version": 1,\n  "id": ')
    assert "gig — “workers” ☀" in text  # not \u-escaped
    assert stat.S_IMODE(path.stat().st_mode) == files.file_mode()
    assert [p.name for p in store.directory.iterdir()] == [path.name]  # no temp files left


# --------------------------------------------------------------------------- store operations


def test_rename_keeps_the_id_and_edits_are_saved(loans: Predictions, store: lib.CaseStore) -> None:
    case = store.save(slice_case(loans, "age < 25", name="young"))
    updated = store.update(case.id, name="young applicants", note="why", threshold=0.3)
    assert updated.id == case.id
    assert store.get(case.id) == updated
    assert (updated.name, updated.note, updated.threshold) == ("young applicants", "why", 0.3)
    assert store.find("YOUNG APPLICANTS").id == case.id
    assert [p.name for p in store.directory.glob("*.json")] == [f"{case.id}.json"]


def test_names_are_unique(loans: Predictions, store: lib.CaseStore) -> None:
    first = store.save(slice_case(loans, "age < 25", name="Young"))
    other = store.save(slice_case(loans, "age >= 60", name="old"))
    with pytest.raises(CaseError, match="a case named 'Young' exists already"):
        store.save(slice_case(loans, "age < 30", name="young "))
    with pytest.raises(CaseError, match="exists already"):
        store.update(other.id, name="YOUNG")
    assert store.update(first.id, name="young").name == "young"  # its own name, recased


def test_delete_removes_json_and_rows(loans: Predictions, store: lib.CaseStore) -> None:
    new = lib.build_case(loans, name="three", ids=["L00001", "L00002", "L00003"])
    case = store.save(new.case, rows=new.rows)
    assert sorted(p.suffix for p in store.directory.iterdir()) == [".json", ".parquet"]
    assert store.delete(case.id) == case
    assert list(store.directory.iterdir()) == []
    with pytest.raises(CaseError, match="no case with id"):
        store.get(case.id)


@pytest.mark.parametrize("ref", ["../../etc/passwd", "..", "/etc/hosts", "a" * 200])
def test_hostile_ids_never_touch_the_file_system(store: lib.CaseStore, ref: str) -> None:
    with pytest.raises(CaseError, match="not a valid case id"):
        store.get(ref)
    with pytest.raises(CaseError):
        store.delete(ref)


def test_find_reports_unknown_and_ambiguous_names(loans: Predictions, store: lib.CaseStore) -> None:
    case = store.save(slice_case(loans, "age < 25", name="dup"))
    twin = lib.Case(**{f: getattr(case, f) for f in case.__dataclass_fields__} | {"id": "twin"})
    (store.directory / "twin.json").write_text(lib.case_json(twin))  # e.g. after a git merge
    with pytest.raises(CaseError, match="2 cases are named 'dup'"):
        store.find("dup")
    assert store.find("twin").id == "twin"
    with pytest.raises(CaseError, match="no case named 'nope'"):
        store.find("nope")


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="does not exist"):
        lib.CaseStore(tmp_path / "nope", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CaseError, match="not a directory"):
        lib.CaseStore(tmp_path / "file")


def test_where_the_store_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    monkeypatch.delenv(lib.ENV_CASES, raising=False)
    assert lib.resolve_cases_dir(None, workspace=ws) == ws.cases_dir
    monkeypatch.setenv(lib.ENV_CASES, str(tmp_path / "repo" / "cases"))
    assert lib.resolve_cases_dir(None, workspace=ws) == tmp_path / "repo" / "cases"
    assert lib.resolve_cases_dir(str(tmp_path / "flag"), workspace=ws) == tmp_path / "flag"


def test_author_from_environment(loans: Predictions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lib.ENV_AUTHOR, "  alice  ")
    assert slice_case(loans, "age < 25").author == "alice"


# --------------------------------------------------------------------------- concurrency


def _case_from_template(template: lib.Case, name: str) -> lib.Case:
    data = {f: getattr(template, f) for f in template.__dataclass_fields__}
    return lib.Case(**(data | {"id": lib.new_case_id(), "name": name}))


def _save_in_process(directory: str, template_json: str, names: list[str]) -> list[str]:
    template = lib.Case.from_dict(json.loads(template_json))
    store = lib.CaseStore(directory)
    return [store.save(_case_from_template(template, n)).id for n in names]


def test_threads_saving_at_once_keep_every_case(loans: Predictions, store: lib.CaseStore) -> None:
    template = slice_case(loans, "age < 25")
    barrier = threading.Barrier(16)

    def save(i: int) -> str:
        own = lib.CaseStore(store.directory)
        barrier.wait()
        return own.save(_case_from_template(template, f"case {i}")).id

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(save, range(16)))
    listing = store.load()
    assert listing.problems == ()
    assert sorted(c.id for c in listing.cases) == sorted(ids)
    assert not [p for p in store.directory.iterdir() if p.name.startswith(".")]


def test_processes_saving_at_once_keep_every_case(loans: Predictions, store: lib.CaseStore) -> None:
    template = lib.case_json(slice_case(loans, "age < 25"))
    batches = [[f"p{p} case {i}" for i in range(5)] for p in range(4)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=context) as pool:
        futures = [
            pool.submit(_save_in_process, str(store.directory), template, b) for b in batches
        ]
        ids = [i for f in futures for i in f.result()]
    listing = store.load()
    assert len(ids) == 20 and sorted(c.id for c in listing.cases) == sorted(ids)
    assert listing.problems == ()


def _save_same_name(directory: str, template_json: str, barrier: Any, results: Any) -> None:
    template = lib.Case.from_dict(json.loads(template_json))
    barrier.wait()
    try:
        lib.CaseStore(directory).save(_case_from_template(template, "same"))
    except CaseError:
        results.put(False)
    else:
        results.put(True)


def test_one_name_saved_by_many_processes_is_kept_once(
    loans: Predictions, store: lib.CaseStore
) -> None:
    """The directory lock works across processes, not only across threads."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(6), context.Queue()
    template = lib.case_json(slice_case(loans, "age < 25"))
    workers = [
        context.Process(
            target=_save_same_name, args=(str(store.directory), template, barrier, results)
        )
        for _ in range(6)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert outcomes.count(True) == 1
    assert [c.name for c in store.load().cases] == ["same"]


def test_one_name_saved_by_many_threads_is_kept_once(
    loans: Predictions, store: lib.CaseStore
) -> None:
    template = slice_case(loans, "age < 25")
    barrier = threading.Barrier(8)

    def save(_: int) -> bool:
        barrier.wait()
        try:
            lib.CaseStore(store.directory).save(_case_from_template(template, "same"))
        except CaseError:
            return False
        return True

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(save, range(8)))
    assert outcomes.count(True) == 1
    assert [c.name for c in store.load().cases] == ["same"]


# --------------------------------------------------------------------------- corrupt files


def _valid_json(loans: Predictions) -> dict:
    return slice_case(loans, "age < 25").to_dict()


CORRUPTIONS = {
    "not JSON": (lambda d: "{not json", "is not valid JSON"),
    "an array": (lambda d: [d], "must be a JSON object"),
    "no name": (lambda d: {k: v for k, v in d.items() if k != "name"}, "'name' is missing"),
    "threshold as text": (lambda d: d | {"threshold": "low"}, "'threshold' must be int or float"),
    "boolean rows": (
        lambda d: d | {"baseline": {"value": 0.1, "rows": True}},
        "'baseline.rows' must be int",
    ),
    "newer schema": (lambda d: d | {"schema_version": 99}, "newer mlqa-debug"),
    "typo": (lambda d: d | {"treshold": 0.2}, "unknown field"),
    "bad slice": (lambda d: d | {"where": "age >>> 3"}, "is not valid"),
    "bad op": (lambda d: d | {"op": ">="}, "lower is better"),
    "bad time": (lambda d: d | {"created": "yesterday"}, "ISO 8601"),
    "bad kind": (lambda d: d | {"kind": "rule"}, "'kind' must be"),
    "id mismatch": (lambda d: d | {"id": "other"}, "its file name says"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corrupt_file_is_reported_by_name_and_the_rest_load(
    loans: Predictions, store: lib.CaseStore, corruption: str
) -> None:
    good = store.save(slice_case(loans, "employment == 'gig'"))
    bad_id = "abc123"
    data = _valid_json(loans) | {"id": bad_id, "name": "bad one"}
    make, message = CORRUPTIONS[corruption]
    corrupted = make(data)
    text = corrupted if isinstance(corrupted, str) else json.dumps(corrupted)
    (store.directory / f"{bad_id}.json").write_text(text)
    listing = store.load()
    assert listing.cases == (good,)
    assert len(listing.problems) == 1
    assert listing.problems[0].file == f"{bad_id}.json"
    assert message in listing.problems[0].message
    with pytest.raises(CaseError, match=f"{bad_id}.json"):
        store.get(bad_id)


def test_missing_frozen_rows_and_binary_garbage(loans: Predictions, store: lib.CaseStore) -> None:
    new = lib.build_case(loans, name="three", ids=["L00001", "L00002", "L00003"])
    case = store.save(new.case, rows=new.rows)
    (store.directory / f"{case.id}.parquet").unlink()
    (store.directory / "zzz.json").write_bytes(b"\xff\xfe\x00garbage")
    (store.directory / "Bad Name.json").write_text("{}")
    (store.directory / ".hidden.json.tmp").write_text("half a file")
    problems = {p.file: p.message for p in store.load().problems}
    assert "frozen rows file" in problems[f"{case.id}.json"]
    assert "cannot be read" in problems["zzz.json"]
    assert set(problems) == {f"{case.id}.json", "zzz.json", "Bad Name.json"}


# --------------------------------------------------------------------------- thresholds


def test_default_error_rate_threshold_uses_the_wilson_interval(loans: Predictions) -> None:
    case = slice_case(loans, "employment == 'gig'")
    mask = (loans.frame["employment"] == "gig").to_numpy()
    wrong = int(loans.error[mask].sum())
    ci = stats.binomtest(wrong, int(mask.sum())).proportion_ci(method="wilson")
    expected = wrong / mask.sum() + max(0.005, 0.5 * (ci.high - ci.low) / 2)
    assert case.baseline == pytest.approx(wrong / mask.sum(), rel=1e-5)  # 6 digits kept
    assert case.threshold == lib.round_outward(expected, "<=")
    assert expected <= case.threshold < expected + 1e-4


def test_default_thresholds_by_metric(loans: Predictions, diabetes: Predictions) -> None:
    floor = slice_case(loans, "", metric="error_rate")  # 20,000 rows: the floor wins
    assert floor.threshold == lib.round_outward(floor.baseline + 0.005, "<=")
    recall = slice_case(loans, "employment == 'gig'", metric="recall[1]")
    assert recall.op == ">=" and recall.threshold < recall.baseline
    log_loss = slice_case(loans, "", metric="log_loss")
    assert log_loss.threshold == pytest.approx(log_loss.baseline * 1.05, rel=1e-3)
    mae = slice_case(diabetes, "bmi >= 30", metric="mae")
    assert mae.baseline * 1.01 <= mae.threshold
    r2 = slice_case(diabetes, "", metric="r2")
    assert r2.threshold == pytest.approx(
        r2.baseline - max(0.005, 0.05 * abs(r2.baseline)), abs=1e-3
    )


@given(value=st.floats(1e-6, 1e6), op=st.sampled_from(["<=", ">="]))
def test_round_outward_never_tightens(value: float, op: lib.Direction) -> None:
    rounded = lib.round_outward(value, op)
    assert lib.passes(value, op, rounded)
    assert abs(rounded - value) <= abs(value) * 1.001e-3
    assert len(Decimal(repr(rounded)).normalize().as_tuple().digits) <= 4


def test_rates_are_clipped(digits: Predictions) -> None:
    case = slice_case(digits, "label == 0", metric="recall[0]")  # recall 1.0 on this slice
    assert case.baseline == 1.0 and 0.9 < case.threshold < 1.0
    perfect = slice_case(digits, "label == 0", metric="error_rate")
    n = perfect.baseline_rows
    half_width = stats.binomtest(0, n).proportion_ci(method="wilson").high / 2
    assert perfect.baseline == 0.0
    assert perfect.threshold == lib.round_outward(max(0.005, 0.5 * half_width), "<=")
    assert perfect.threshold < 1 / n  # not one error allowed yet


# --------------------------------------------------------------------------- building


def test_build_refuses_what_cannot_be_checked(loans: Predictions, tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="slice is empty"):
        slice_case(loans, "age > 200")
    with pytest.raises(CaseError, match="not in this dataset"):
        lib.build_case(loans, name="x", ids=["L00001", "nope"])
    with pytest.raises(CaseError, match="at most 10,000"):
        lib.build_case(loans, name="x", ids=list(loans.frame["id"][:10_001]))
    with pytest.raises(CaseError, match="exactly one"):
        lib.build_case(loans, name="x")
    frame = loans.frame.drop(columns=["id"])
    no_ids = load_predictions(_write(frame, tmp_path / "no_ids.parquet"))
    with pytest.raises(CaseError, match="no id column"):
        lib.build_case(no_ids, name="x", ids=[1, 2])


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def test_example_set_freezes_rows_with_plain_types(loans: Predictions) -> None:
    new = lib.build_case(loans, name="x", ids=["L00003", "L00001", "L00003"], page="embeddings")
    assert new.case.examples is not None and new.case.examples.ids == ("L00003", "L00001")
    assert new.case.metric == "n_wrong" and new.case.op == "<="
    rows = new.rows
    assert rows is not None and sorted(rows["id"]) == ["L00001", "L00003"]
    assert list(rows.columns) == list(loans.frame.columns)
    assert not isinstance(rows["employment"].dtype, pd.CategoricalDtype)
    assert new.case.examples.features == tuple(loans.schema.features)
    assert new.case.source.page == "embeddings"
    assert new.case.source.model == "loans-hgb" and new.case.source.model_version == "1"


def test_integer_ids_keep_their_type(digits: Predictions, multiclass_frame, write_table) -> None:
    data = load_predictions(write_table(multiclass_frame, "multi.csv"))
    new = lib.build_case(data, name="x", ids=["1000", 1001])  # typed and as text
    assert new.case.examples is not None and new.case.examples.ids == (1000, 1001)


def test_suggest_name() -> None:
    s = parse_slice("employment == 'gig'")
    assert lib.suggest_name([], where=s) == "employment == 'gig'"
    assert lib.suggest_name(["Employment == 'gig'"], where=s) == "employment == 'gig' (2)"
    assert lib.suggest_name([], where=Slice()) == "all rows"
    assert lib.suggest_name([], n_examples=12, page="embeddings") == "12 examples from embeddings"
    long = parse_slice(" and ".join(f"c{i} == {i}" for i in range(30)))
    assert len(lib.suggest_name([], where=long)) == 80


# --------------------------------------------------------------------------- checking


def test_loans_v2_against_cases_saved_on_loans(loans: Predictions, loans_v2: Predictions) -> None:
    """The planted failure modes: v2 improves gig workers, is worse overall."""
    expected = {
        "employment == 'gig'": "pass",
        "income >= 150000": "pass",
        "": "fail",
        "term_months == 60": "fail",
    }
    listing = lib.CaseListing(tuple(slice_case(loans, w) for w in expected), ())
    report = lib.check_cases(loans_v2, listing)
    assert {r.case.where: r.status for r in report.results} == expected
    for r in report.results:  # the value is the brute-force error rate of the slice
        mask = parse_slice(r.case.where).mask(loans_v2.slice_frame)
        truth = loans_v2.frame["label"].to_numpy() != loans_v2.frame["prediction"].to_numpy()
        assert r.value == pytest.approx(truth[mask].mean(), abs=1e-12)
        assert r.rows == mask.sum()
    assert report.exit_code() == 1 and report.n_failed == 2


def test_per_class_metric_matches_scikit_learn(loans: Predictions, loans_v2: Predictions) -> None:
    case = slice_case(loans, "term_months == 60", metric="recall[positive]")
    result = lib.evaluate_case(loans_v2, case)
    mask = (loans_v2.frame["term_months"] == 60).to_numpy()
    frame = loans_v2.frame[mask]
    assert result.value == pytest.approx(skm.recall_score(frame["label"], frame["prediction"]))
    assert result.status == "fail"
    assert "recall[1] = 0.4111 < threshold" in result.message
    assert "slice: term_months == 60" in result.message


def test_example_sets_match_by_id(
    loans: Predictions, loans_v2: Predictions, tmp_path: Path
) -> None:
    ids = list(loans.frame["id"][:40])
    new = lib.build_case(loans, name="first 40", ids=ids)
    v2_wrong = int((loans_v2.frame["label"] != loans_v2.frame["prediction"])[:40].sum())
    result = lib.evaluate_case(loans_v2, new.case)
    assert (result.value, result.rows) == (v2_wrong, 40)
    assert result.passed == (v2_wrong <= new.case.threshold)
    gone = loans_v2.frame["id"].isin(["L00003", "L00007"])
    shuffled = loans_v2.frame[~gone].sample(frac=1, random_state=0)  # reordered, 2 gone
    partial = load_predictions(_write(shuffled, tmp_path / "partial.parquet"))
    kept = shuffled["id"].isin(ids)
    result = lib.evaluate_case(partial, new.case)
    assert result.rows == kept.sum() == 38
    assert result.value == (shuffled["label"] != shuffled["prediction"])[kept].sum()
    assert f"{40 - kept.sum()} of 40 ids not in the data" in result.message


def test_example_set_not_in_the_data(loans: Predictions, tmp_path: Path) -> None:
    case = lib.build_case(loans, name="x", ids=["L00001"]).case
    others = load_predictions(_write(loans.frame.iloc[100:200], tmp_path / "other.parquet"))
    result = lib.evaluate_case(others, case)
    assert result.status == "not_applicable" and not result.failed
    assert "none of its 1 example ids are in these predictions" in result.message
    no_ids = load_predictions(_write(loans.frame.drop(columns="id"), tmp_path / "noid.parquet"))
    result = lib.evaluate_case(no_ids, case)
    assert result.status == "not_applicable" and not result.failed
    assert "no id column" in result.reason


def test_empty_slice_in_new_data_fails(loans: Predictions, tmp_path: Path) -> None:
    case = slice_case(loans, "income >= 150000")
    poorer = loans.frame[loans.frame["income"] < 150_000]
    result = lib.evaluate_case(load_predictions(_write(poorer, tmp_path / "p.parquet")), case)
    assert result.status == "empty" and result.failed and result.value is None
    assert "empty in the new data (0 rows; 1,166 at save)" in result.message


def test_cases_that_do_not_apply(
    loans: Predictions, digits: Predictions, diabetes: Predictions, tmp_path: Path
) -> None:
    no_column = lib.evaluate_case(
        load_predictions(_write(loans.frame.drop(columns="region"), tmp_path / "r.parquet")),
        slice_case(loans, "region == 'coastal'"),
    )
    assert no_column.status == "not_applicable" and "unknown column 'region'" in no_column.reason
    other_task = lib.evaluate_case(loans, slice_case(diabetes, "bmi >= 30"))
    assert "saved on regression data" in other_task.reason
    no_class = lib.evaluate_case(loans, slice_case(digits, "", metric="recall[8]"))
    assert no_class.status == "not_applicable"
    no_probs = load_predictions(_write(loans.frame.drop(columns="score"), tmp_path / "s.parquet"))
    assert lib.evaluate_case(no_probs, slice_case(loans, "", metric="log_loss")).status == (
        "not_applicable"
    )
    report = lib.CheckReport((no_column, other_task))
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_regression_cases_keep_their_error_threshold(diabetes: Predictions, tmp_path: Path) -> None:
    case = slice_case(diabetes, "bmi >= 30", metric="error_rate")
    assert case.error_threshold == diabetes.schema.error_threshold
    worse = diabetes.frame.assign(prediction=diabetes.frame["prediction"] * 1.3)
    new = load_predictions(_write(worse, tmp_path / "worse.parquet"))
    assert new.schema.error_threshold != case.error_threshold  # its own 90th percentile
    mask = (worse["bmi"] >= 30).to_numpy()
    residual = (worse["prediction"] - worse["label"]).abs().to_numpy()
    result = lib.evaluate_case(new, case)
    assert result.value == pytest.approx((residual[mask] > case.error_threshold).mean())
    assert result.status == "fail"


def test_progress_and_report(loans: Predictions, loans_v2: Predictions) -> None:
    listing = lib.CaseListing(
        (slice_case(loans, "age < 25"), slice_case(loans, "")),
        (lib.CaseProblem("bad.json", "is not valid JSON"),),
    )
    seen: list[tuple[int, int]] = []
    report = lib.check_cases(loans_v2, listing, progress=lambda i, n, c: seen.append((i, n)))
    assert seen == [(1, 2), (2, 2)]
    assert report.exit_code() == 2  # an unreadable case file is bad input
    data = report.to_dict()
    assert data["summary"]["unreadable"] == 1
    assert data["predictions"]["file"] == "loans_v2.csv"
    assert "1 unreadable" in report.summary()
    frame = lib.results_frame(report.results)
    assert list(frame.columns) == lib.RESULT_COLUMNS and len(frame) == 2
    assert lib.results_frame([]).empty


@pytest.mark.parametrize(
    ("delta", "metric", "text"),
    [(0.0094, "error_rate", "+0.0094"), (-2.0, "n_wrong", "-2"), (3.21, "mae", "+3.21"),
     (4e-7, "error_rate", "±0"), (None, "mae", "")],
)  # fmt: skip
def test_format_delta(delta: float | None, metric: str, text: str) -> None:
    assert lib.format_delta(delta, metric) == text


def test_id_keys_compare_as_text() -> None:
    assert lib.id_key(np.int64(7)) == lib.id_key(7.0) == lib.id_key("7") == "7"
    assert lib.id_key(7.5) == "7.5"


def test_umask_respected(tmp_path: Path, loans: Predictions) -> None:
    old = os.umask(0o022)
    os.umask(old)
    assert files.file_mode() == 0o666 & ~old


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_store_gives_a_message(loans: Predictions, tmp_path: Path) -> None:
    store = lib.CaseStore(tmp_path / "ro")
    store.directory.chmod(0o555)
    try:
        with pytest.raises(CaseError, match="cannot be written"):
            store.save(slice_case(loans, "age < 25"))
    finally:
        store.directory.chmod(0o755)


def test_file_system_errors_become_case_errors(
    loans: Predictions, store: lib.CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(case_store, "write_atomic", full_disk)  # where the store writes
    with pytest.raises(CaseError, match=r"cannot be written: .*No space left"):
        store.save(slice_case(loans, "age < 25"))
    assert store.load().cases == ()


@pytest.mark.parametrize(
    ("metric", "words"),
    [("error_rate", "at least 0.005"), ("recall[1]", "95% interval"), ("mae", "1% of the"),
     ("log_loss", "5% of the baseline"), ("n_wrong", "no example may turn wrong")],
)  # fmt: skip
def test_tolerance_rule_is_explained(metric: str, words: str) -> None:
    assert words in lib.tolerance_rule(metric)


def test_a_case_takes_a_slice_as_long_as_the_pages_accept(loans: Predictions) -> None:
    """One slice length limit: a slice the Slices page shows can be saved as a case."""
    from mlqa_debug.slicing import MAX_SLICE_LENGTH

    values = ", ".join(f"'v{i:05d}'" for i in range(1_500))  # about 13,500 characters
    text = f"employment in ('gig', {values})"
    assert 10_000 < len(text) < MAX_SLICE_LENGTH
    case = lib.build_case(loans, name="long", where=parse_slice(text, max_length=MAX_SLICE_LENGTH))
    assert case.case.slice is not None and case.case.slice.text.startswith("employment in")
