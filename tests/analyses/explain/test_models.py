"""Trusted model files: where a model may load from, loading, registering, version notes."""

from __future__ import annotations

import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlqa_debug.analyses import explain as ex
from mlqa_debug.analyses.explain.models import pickled_sklearn_version
from mlqa_debug.data.workspace import ENV_TRUSTED_MODELS, Workspace
from mlqa_debug.errors import MlqaError, ModelError
from tests.analyses.explain.helpers import (
    FEATURES,
    SAMPLES,
    encoder,
    toy_frame,
    toy_workspace,
)


def test_every_sample_model_loads_from_its_own_folder(workspace: Workspace) -> None:
    for name in SAMPLES:
        model = ex.dataset_model(workspace, name)
        assert model is not None
        assert model.path.parent == workspace.entry(name).path.parent
        assert len(model.sha) == 32
    assert ex.dataset_model(workspace, "loans").label == "loans-hgb v1"  # type: ignore[union-attr]


def test_model_outside_trusted_places_is_refused(tmp_path: Path) -> None:
    trusted, outside = tmp_path / "trusted", tmp_path / "outside"
    trusted.mkdir()
    outside.mkdir()
    joblib.dump(LogisticRegression(), outside / "evil.joblib")
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(outside / "evil.joblib", roots=[trusted])
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(trusted / ".." / "outside" / "evil.joblib", roots=[trusted])
    (trusted / "link.joblib").symlink_to(outside / "evil.joblib")
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(trusted / "link.joblib", roots=[trusted])
    with pytest.raises(ModelError, match="not in a trusted place"):
        ex.load_model(outside / "evil.joblib", roots=[])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.txt", b"x", "expected one of"),
        ("missing.joblib", None, "not found"),
        ("broken.joblib", b"not a joblib file", "cannot be loaded"),
    ],
)
def test_bad_model_files_give_messages(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ModelError, match=message):
        ex.load_model(tmp_path / name, roots=[tmp_path])


def test_a_pickled_non_model_is_refused(tmp_path: Path) -> None:
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    with pytest.raises(ModelError, match="not a fitted model"):
        ex.load_model(tmp_path / "dict.joblib", roots=[tmp_path])


def test_skops_files_load_when_skops_is_installed(tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    frame = toy_frame()
    fitted = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    sio.dump(fitted, tmp_path / "m.skops")
    loaded = ex.load_model(tmp_path / "m.skops", roots=[tmp_path])
    np.testing.assert_array_equal(loaded.estimator.coef_, fitted.coef_)


def test_registered_model_missing_from_its_folder(workspace: Workspace, tmp_path: Path) -> None:
    frame = toy_frame()
    model = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    frame.assign(prediction=model.predict(frame[["a", "b"]])).to_csv(
        tmp_path / "d.csv", index=False
    )
    joblib.dump(model, tmp_path / "m.joblib")
    entry = workspace.add(tmp_path / "d.csv", name="with-model", model=tmp_path / "m.joblib")
    assert ex.dataset_model(workspace, "with-model") is not None
    (entry.path.parent / "model.joblib").unlink()
    with pytest.raises(ModelError, match="missing or outside"):
        ex.dataset_model(workspace, "with-model")


def test_register_model_from_the_trusted_folder(trusted_dir: Path, tmp_path: Path) -> None:
    ws, model = toy_workspace(tmp_path, trusted_dir)
    (trusted_dir / "notes.txt").write_text("not a model")
    outside = tmp_path / "elsewhere.joblib"
    joblib.dump(model, outside)
    (trusted_dir / "escape.joblib").symlink_to(outside)
    assert ex.trusted_model_files() == ["logreg.joblib"]

    entry = ex.register_model(ws, "toy", "logreg.joblib", version="3")
    assert entry.roles.model is not None and entry.roles.model.file == "model.joblib"
    loaded = ex.dataset_model(ws, "toy")
    assert loaded is not None and loaded.label == "logreg v3"
    assert loaded.path.parent == entry.path.parent  # a copy inside the dataset's folder


@pytest.mark.parametrize(
    ("dataset", "filename", "message"),
    [
        ("toy", "../elsewhere.joblib", "not a model file in the trusted folder"),
        ("toy", "/etc/passwd", "not a model file in the trusted folder"),
        ("toy", "escape.joblib", "not a model file in the trusted folder"),
        ("loans", "logreg.joblib", "built-in sample"),
        ("toy", "other.joblib", "reads column"),
    ],
)
def test_register_model_refusals(
    trusted_dir: Path, tmp_path: Path, dataset: str, filename: str, message: str
) -> None:
    ws, model = toy_workspace(tmp_path, trusted_dir)
    frame = toy_frame()
    other = LogisticRegression().fit(frame[["a"]].rename(columns={"a": "zzz"}), frame["label"])
    joblib.dump(other, trusted_dir / "other.joblib")
    joblib.dump(model, tmp_path / "elsewhere.joblib")
    (trusted_dir / "escape.joblib").symlink_to(tmp_path / "elsewhere.joblib")
    with pytest.raises(MlqaError, match=message):
        ex.register_model(ws, dataset, filename)
    assert ws.entry("toy").roles.model is None


def test_register_model_needs_the_trusted_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_TRUSTED_MODELS, raising=False)
    assert ex.trusted_model_files() == []
    with pytest.raises(ModelError, match=ENV_TRUSTED_MODELS):
        ex.register_model(Workspace(tmp_path), "toy", "m.joblib")


# --------------------------------------------------------------------------- scikit-learn versions


def other_version() -> str:
    """A version string of this scikit-learn's length that is not this version."""
    import sklearn

    return "0." + "0" * (len(sklearn.__version__) - 2)


@pytest.mark.parametrize("compress", [0, 3], ids=["plain", "zlib"])
def test_a_model_saved_by_another_sklearn_version_gets_a_note(
    tmp_path: Path, compress: int
) -> None:
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    frame = toy_frame()
    fitted = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    joblib.dump(fitted, tmp_path / "m.joblib")  # the version string is edited in the bytes
    raw = (tmp_path / "m.joblib").read_bytes()
    old = sklearn.__version__.encode()
    assert raw.count(old) == 1
    raw = raw.replace(old, other_version().encode())
    (tmp_path / "m.joblib").write_bytes(zlib.compress(raw, compress) if compress else raw)
    with pytest.warns(InconsistentVersionWarning):  # scikit-learn's own warning propagates
        loaded = ex.load_model(tmp_path / "m.joblib", roots=[tmp_path])
    assert len(loaded.notes) == 1
    assert f"saved with scikit-learn {other_version()}" in loaded.notes[0]
    assert f"loaded with {sklearn.__version__}" in loaded.notes[0]


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_the_saved_sklearn_version_is_read_without_unpickling(
    tmp_path: Path, compress: object
) -> None:
    import sklearn

    frame = toy_frame()
    model = Pipeline([("encode", encoder()), ("m", LogisticRegression())])
    joblib.dump(
        model.fit(frame[FEATURES], frame["label"]), tmp_path / "m.joblib", compress=compress
    )
    raw = (tmp_path / "m.joblib").read_bytes()
    assert pickled_sklearn_version(raw) == sklearn.__version__
    assert ex.load_model(tmp_path / "m.joblib", roots=[tmp_path]).notes == ()


@pytest.mark.parametrize("raw", [b"", b"garbage", b"x\x9cbroken zlib", b"\x80\x04}\x94."])
def test_files_without_a_readable_version_give_none(raw: bytes) -> None:
    assert pickled_sklearn_version(raw) is None
