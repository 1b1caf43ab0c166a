"""Column roles, task, feature types and the error indicator of a predictions table.

Covers :mod:`mlqa_debug.data.schema` through :func:`mlqa_debug.load_predictions`: roles by
convention, by arguments and by a sidecar file (and their precedence), task
inference, feature types, predictions derived from probabilities, and what counts
as an error. Validation errors are in ``test_loading.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug import Roles, SchemaError, load_predictions
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.schema import ImageSpec, ModelSpec, infer_feature_type, infer_task
from tests.conftest import (
    DATE_NAME,
    DOTTED_NAME,
    EMOJI_NAME,
    FEATURE_TYPES,
    MULTICLASSES,
    NUMERIC_NAME,
    QUOTED_NAME,
    TEXT_NAME,
    UNICODE_NAME,
    WriteTable,
)

ReadBack = Callable[[pd.DataFrame], Predictions]


@pytest.fixture(params=["csv", "parquet"])
def read_back(request: pytest.FixtureRequest, write_table: WriteTable) -> ReadBack:
    """``read_back(frame)``: the frame written as CSV, then as Parquet, and loaded."""
    return lambda frame: load_predictions(write_table(frame, f"preds.{request.param}"))


def write_sidecar(data_path: Path, text: str) -> Path:
    sidecar = data_path.with_name(data_path.stem + ".mlqa.toml")
    sidecar.write_text(text, encoding="utf-8")
    return sidecar


# --- roles by convention -------------------------------------------------------------


def test_binary_frame_roles_and_types(binary_frame: pd.DataFrame, read_back: ReadBack) -> None:
    p = read_back(binary_frame)
    s = p.schema
    assert (s.id, s.label, s.prediction, s.score) == ("id", "label", "prediction", "score")
    assert s.task == "binary"
    assert s.classes == (0, 1)
    assert s.positive == 1
    assert s.proba == {}
    assert dict(s.features) == FEATURE_TYPES
    assert p.n_samples == len(binary_frame)


def test_multiclass_frame_roles(multiclass_frame: pd.DataFrame, read_back: ReadBack) -> None:
    s = read_back(multiclass_frame).schema
    assert s.task == "multiclass"
    assert s.classes == tuple(sorted(MULTICLASSES))
    assert s.proba == {c: f"prob_{c}" for c in sorted(MULTICLASSES)}
    assert s.score is None and s.positive is None
    assert dict(s.features) == FEATURE_TYPES


def test_regression_frame_roles(regression_frame: pd.DataFrame, read_back: ReadBack) -> None:
    s = read_back(regression_frame).schema
    assert s.task == "regression"
    assert s.classes == ()
    assert dict(s.features) == FEATURE_TYPES
    residual = np.abs(regression_frame["prediction"] - regression_frame["label"])
    assert s.error_threshold == pytest.approx(np.quantile(residual, 0.9))


@pytest.mark.parametrize(
    ("id_name", "label_name", "prediction_name"),
    [
        ("id", "label", "prediction"),
        ("example_id", "y_true", "y_pred"),
        ("example_id", "target", "pred"),
    ],
)
def test_conventional_names(
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    id_name: str,
    label_name: str,
    prediction_name: str,
) -> None:
    frame = binary_frame.rename(
        columns={"id": id_name, "label": label_name, "prediction": prediction_name}
    )
    s = load_predictions(write_table(frame)).schema
    assert (s.id, s.label, s.prediction) == (id_name, label_name, prediction_name)
    assert set(s.features) == set(FEATURE_TYPES)


def test_no_id_column_is_fine(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    s = load_predictions(write_table(binary_frame.drop(columns="id"))).schema
    assert s.id is None
    assert "id" not in s.features


@pytest.mark.parametrize("prefix", ["prob_", "proba_"])
def test_probability_prefixes(
    multiclass_frame: pd.DataFrame, write_table: WriteTable, prefix: str
) -> None:
    frame = multiclass_frame.rename(columns={f"prob_{c}": f"{prefix}{c}" for c in MULTICLASSES})
    p = load_predictions(write_table(frame))
    assert p.schema.proba == {c: f"{prefix}{c}" for c in sorted(MULTICLASSES)}
    assert not any(c.startswith(prefix) for c in p.schema.features)
    expected = frame[[f"{prefix}{c}" for c in sorted(MULTICLASSES)]].to_numpy()
    np.testing.assert_allclose(p.proba_matrix, expected)
    np.testing.assert_allclose(p.confidence, expected.max(axis=1))


def test_score_gives_two_column_probabilities(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(binary_frame))
    score = binary_frame["score"].to_numpy()
    np.testing.assert_allclose(p.proba_matrix, np.column_stack([1 - score, score]))


def test_numbered_embedding_columns_in_numeric_order(
    binary_frame: pd.DataFrame, write_table: WriteTable, rng: np.random.Generator
) -> None:
    emb = rng.normal(size=(len(binary_frame), 12))
    order = [10, 2, 0, 11, 1, 3, 4, 5, 6, 7, 8, 9]  # written out of order on purpose
    frame = binary_frame.assign(**{f"emb_{i}": emb[:, i] for i in order})
    p = load_predictions(write_table(frame))
    assert p.schema.embedding == tuple(f"emb_{i}" for i in range(12))
    assert not any(c.startswith("emb_") for c in p.schema.features)
    np.testing.assert_allclose(p.embedding_matrix, emb, rtol=1e-6)


def test_embedding_list_column(
    binary_frame: pd.DataFrame, write_table: WriteTable, rng: np.random.Generator
) -> None:
    emb = rng.normal(size=(len(binary_frame), 5))
    frame = binary_frame.assign(embedding=list(emb))
    p = load_predictions(write_table(frame, "preds.parquet"))
    assert p.schema.embedding == ("embedding",)
    assert "embedding" not in p.schema.features
    assert p.embedding_matrix.shape == (len(frame), 5)
    np.testing.assert_allclose(p.embedding_matrix, emb, rtol=1e-6)


def test_shap_and_projection_columns(
    binary_frame: pd.DataFrame, write_table: WriteTable, rng: np.random.Generator
) -> None:
    n = len(binary_frame)
    frame = binary_frame.assign(
        **{
            f"shap_{NUMERIC_NAME}": rng.normal(size=n),
            f"shap_{UNICODE_NAME}": rng.normal(size=n),
            "shap_base_value": 0.25,
            "proj_x": rng.normal(size=n),
            "proj_y": rng.normal(size=n),
        }
    )
    s = load_predictions(write_table(frame)).schema
    assert s.shap == {NUMERIC_NAME: f"shap_{NUMERIC_NAME}", UNICODE_NAME: f"shap_{UNICODE_NAME}"}
    assert s.shap_base == "shap_base_value"
    assert s.projection == ("proj_x", "proj_y")
    assert dict(s.features) == FEATURE_TYPES  # none of them is a feature


def test_one_projection_column_alone_is_a_feature(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    s = load_predictions(write_table(binary_frame.assign(proj_x=1.5))).schema
    assert s.projection is None
    assert s.features["proj_x"] == "numeric"


def test_roles_table_names_every_column_once(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(multiclass_frame), roles=Roles(ignore=(DOTTED_NAME,)))
    table = p.schema.roles_table()
    assert sorted(r["column"] for r in table) == sorted(multiclass_frame.columns)
    roles = {r["column"]: r["role"] for r in table}
    assert roles[DOTTED_NAME] == "ignored"
    assert roles["prob_cat"] == "probability of cat"
    assert roles[QUOTED_NAME] == "feature"
    assert DOTTED_NAME not in p.schema.features


# --- task ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "prediction", "task"),
    [
        ([0, 1, 1, 0], [0, 1, 0, 0], "binary"),
        (["no", "yes", "no", "no"], ["no", "no", "no", "yes"], "binary"),
        ([True, False, True, True], [True, True, False, True], "binary"),
        ([0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0], "binary"),  # integral floats
        ([1, 1, 1, 1], [1, 1, 1, 1], "binary"),  # a single class
        ([0, 1, 2, 1], [0, 2, 2, 1], "multiclass"),
        (["a", "b", "c", "a"], ["a", "a", "c", "b"], "multiclass"),
        ([0.5, 1.25, 3.0, 2.0], [0.4, 1.0, 2.5, 2.5], "regression"),  # non-integral
        (list(range(30)), [x + 0.5 for x in range(30)], "regression"),  # many ints, float preds
        (list(range(30)), list(range(30)), "multiclass"),  # many ints, int preds
        ([float(x) for x in range(30)], [x + 0.5 for x in range(30)], "regression"),
    ],
)
def test_task_inference(label: list[object], prediction: list[object], task: str) -> None:
    assert infer_task(pd.Series(label), pd.Series(prediction)) == task


def test_task_from_file(write_table: WriteTable) -> None:
    frame = pd.DataFrame({"label": [0.5, 1.5, 2.0, 3.0], "prediction": [0.4, 1.7, 2.1, 2.0]})
    assert load_predictions(write_table(frame)).task == "regression"


def test_task_override_binary_as_regression(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(binary_frame), task="regression")
    assert p.task == "regression"
    assert p.schema.classes == ()
    # |residual| is 0 or 1: the 90th percentile is 1 or 0, and errors are |res| > it
    residual = np.abs(binary_frame["prediction"] - binary_frame["label"]).to_numpy()
    np.testing.assert_array_equal(p.error, residual > np.quantile(residual, 0.9))


def test_task_override_regression_as_multiclass(write_table: WriteTable) -> None:
    frame = pd.DataFrame({"label": list(range(30)), "prediction": [x + 0.0 for x in range(30)]})
    p = load_predictions(write_table(frame), task="multiclass")
    assert p.task == "multiclass"
    assert len(p.schema.classes) == 30
    assert not p.error.any()


def test_binary_labels_with_a_third_predicted_class_is_multiclass(
    write_table: WriteTable,
) -> None:
    frame = pd.DataFrame({"label": ["a", "b", "a", "b"], "prediction": ["a", "b", "c", "b"]})
    with pytest.warns(UserWarning, match="class 'c' that no label has"):
        p = load_predictions(write_table(frame))
    assert p.task == "multiclass"
    assert p.schema.classes == ("a", "b", "c")
    np.testing.assert_array_equal(p.error, [False, False, True, False])


def test_explicit_binary_with_three_classes_is_refused(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    with pytest.raises(SchemaError, match="task is binary but label and prediction hold 3"):
        load_predictions(write_table(multiclass_frame), task="binary")


@pytest.mark.parametrize(("positive", "expected"), [(None, "yes"), ("no", "no"), ("yes", "yes")])
def test_positive_class(write_table: WriteTable, positive: str | None, expected: str) -> None:
    frame = pd.DataFrame({"label": ["no", "yes", "no"], "prediction": ["no", "yes", "yes"]})
    assert load_predictions(write_table(frame), positive=positive).schema.positive == expected


def test_positive_given_as_text_matches_numeric_class(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    assert load_predictions(write_table(binary_frame), positive="0").schema.positive == 0


# --- feature types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (pd.Series([1, 2, 3]), "numeric"),
        (pd.Series([1.5, None, 3.0]), "numeric"),
        (pd.Series([True, False, True]), "boolean"),
        (pd.Series([True, None, False], dtype=object), "boolean"),
        (pd.Series([True, None, False], dtype="boolean"), "boolean"),
        (pd.Series(["a", "b", None]), "categorical"),
        (pd.Series(["a", "b"], dtype="category"), "categorical"),
        (pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"])), "datetime"),
        (pd.Series(["2024-01-01", "2024-02-01", None]), "datetime"),
        (pd.Series(["2024-01-01T10:20:30", "2024-02-01 08:00"]), "datetime"),
        (pd.Series(["2024-01-01T10:20:30.25Z", "2024-02-01T08:00:00+02:00"]), "datetime"),
        (pd.Series(["2024-01-01", "January"]), "categorical"),
        (pd.Series(["a long sentence that goes on and on and on, past forty characters"]), "text"),
        (pd.Series([f"unique value {i}" for i in range(300)]), "text"),
        (pd.Series([f"v{i % 150}" for i in range(300)]), "categorical"),
        (pd.Series([None, None], dtype=object), "categorical"),
    ],
)
def test_infer_feature_type(values: pd.Series, kind: str) -> None:
    assert infer_feature_type(values) == kind


def test_features_are_converted(binary_frame: pd.DataFrame, read_back: ReadBack) -> None:
    frame = read_back(binary_frame).frame
    assert isinstance(frame[QUOTED_NAME].dtype, pd.CategoricalDtype)
    assert set(frame[QUOTED_NAME].cat.categories) == {"a", "b 'b'", 'c "c"'}
    assert pd.api.types.is_datetime64_any_dtype(frame[DATE_NAME].dtype)
    assert frame[DATE_NAME].iloc[0] == pd.Timestamp(binary_frame[DATE_NAME].iloc[0])
    assert pd.api.types.is_bool_dtype(frame[EMOJI_NAME].dtype)
    assert pd.api.types.is_numeric_dtype(frame[NUMERIC_NAME].dtype)


def test_booleans_with_missing_values(read_back: ReadBack) -> None:
    frame = pd.DataFrame(
        {"label": [0, 1, 0, 1], "prediction": [0, 1, 1, 1], "flag": [True, None, False, True]}
    )
    p = read_back(frame)
    assert p.schema.features == {"flag": "boolean"}
    assert p.frame["flag"].dtype == "boolean"
    assert p.frame["flag"].isna().tolist() == [False, True, False, False]


def test_not_every_value_a_date_is_categorical(write_table: WriteTable) -> None:
    frame = pd.DataFrame(
        {"label": [0, 1], "prediction": [0, 1], "when": ["2024-01-01", "2024-13-45"]}
    )
    p = load_predictions(write_table(frame, "preds.parquet"))
    assert p.schema.features == {"when": "categorical"}
    assert isinstance(p.frame["when"].dtype, pd.CategoricalDtype)


def test_mixed_utc_offsets_become_utc(write_table: WriteTable) -> None:
    when = ["2024-01-01T00:00:00+01:00", "2024-01-01T00:00:00+02:00"]
    frame = pd.DataFrame({"label": [0, 1], "prediction": [0, 1], "when": when})
    p = load_predictions(write_table(frame, "preds.parquet"))
    assert p.schema.features == {"when": "datetime"}
    assert p.frame["when"].dt.hour.tolist() == [23, 22]


@pytest.mark.parametrize(
    ("column", "kind", "dtype_check"),
    [
        (DOTTED_NAME, "categorical", lambda s: isinstance(s.dtype, pd.CategoricalDtype)),
        (QUOTED_NAME, "text", lambda s: not isinstance(s.dtype, pd.CategoricalDtype)),
        ("digits", "numeric", lambda s: s.dtype == np.float64),
        ("zero_one", "boolean", lambda s: s.dtype == "boolean"),
    ],
)
def test_type_overrides(
    binary_frame: pd.DataFrame,
    write_table: WriteTable,
    column: str,
    kind: str,
    dtype_check: object,
) -> None:
    n = len(binary_frame)
    frame = binary_frame.assign(
        digits=[str(i) for i in range(n)], zero_one=np.arange(n) % 2
    )  # Parquet keeps the digits as strings
    p = load_predictions(write_table(frame, "preds.parquet"), roles=Roles(types={column: kind}))
    assert p.schema.features[column] == kind
    assert dtype_check(p.frame[column])  # type: ignore[operator]


# --- predictions derived from probabilities -------------------------------------------


def test_prediction_from_class_probabilities(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(multiclass_frame.drop(columns="prediction")))
    assert p.schema.prediction == "prediction"
    assert p.frame["prediction"].tolist() == multiclass_frame["prediction"].tolist()
    assert "prediction" not in p.schema.features


def test_prediction_from_score(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    p = load_predictions(write_table(binary_frame.drop(columns="prediction")))
    assert p.frame["prediction"].tolist() == binary_frame["prediction"].tolist()
    np.testing.assert_array_equal(p.error, binary_frame["prediction"] != binary_frame["label"])


def test_prediction_from_score_of_negative_class(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.drop(columns="prediction").assign(score=1 - binary_frame["score"])
    p = load_predictions(write_table(frame), positive=0)
    expected = np.where(frame["score"] >= 0.5, 0, 1)
    assert p.frame["prediction"].tolist() == expected.tolist()


def test_prediction_from_both_binary_probabilities(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.drop(columns=["prediction", "score"]).assign(
        prob_0=1 - binary_frame["score"], prob_1=binary_frame["score"]
    )
    p = load_predictions(write_table(frame))
    assert p.schema.proba == {0: "prob_0", 1: "prob_1"}
    expected = (binary_frame["score"] > 0.5).astype(int)  # argmax: ties go to class 0
    assert p.frame["prediction"].tolist() == expected.tolist()


def test_prediction_from_probability_of_positive_class_alone(
    binary_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    frame = binary_frame.drop(columns=["prediction", "score"]).assign(prob_1=binary_frame["score"])
    p = load_predictions(write_table(frame))
    assert p.schema.score == "prob_1"
    assert p.frame["prediction"].tolist() == binary_frame["prediction"].tolist()


def test_score_with_a_single_class_is_ignored_with_a_warning(write_table: WriteTable) -> None:
    frame = pd.DataFrame({"label": [1, 1, 1], "prediction": [1, 1, 1], "score": [0.9, 0.8, 0.7]})
    with pytest.warns(UserWarning, match="score column 'score' is ignored"):
        p = load_predictions(write_table(frame))
    assert p.schema.score is None
    assert p.proba_matrix is None
    assert p.summary()["error_rate"] == 0.0


# --- the error indicator --------------------------------------------------------------


def test_classification_error_is_prediction_not_label(
    multiclass_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(multiclass_frame))
    expected = (multiclass_frame["prediction"] != multiclass_frame["label"]).to_numpy()
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(p.error, expected)
    assert p.summary()["errors"] == int(expected.sum())


def test_regression_error_default_threshold(
    regression_frame: pd.DataFrame, write_table: WriteTable
) -> None:
    p = load_predictions(write_table(regression_frame))
    residual = np.abs(regression_frame["prediction"] - regression_frame["label"]).to_numpy()
    threshold = np.quantile(residual, 0.9)
    np.testing.assert_array_equal(p.error, residual > threshold)
    assert p.error.mean() == pytest.approx(0.1, abs=0.01)
    np.testing.assert_allclose(p.derived["abs_error"], residual)


@pytest.mark.parametrize("how", ["roles", "sidecar"])
def test_regression_error_threshold_override(
    regression_frame: pd.DataFrame, write_table: WriteTable, how: str
) -> None:
    path = write_table(regression_frame)
    roles = None
    if how == "roles":
        roles = Roles(error_threshold=20.0)
    else:
        write_sidecar(path, "[roles]\nerror_threshold = 20\n")
    p = load_predictions(path, roles=roles)
    residual = np.abs(regression_frame["prediction"] - regression_frame["label"]).to_numpy()
    assert p.schema.error_threshold == 20.0
    np.testing.assert_array_equal(p.error, residual > 20.0)


# --- sidecar and precedence ------------------------------------------------------------


@pytest.fixture
def three_labels(binary_frame: pd.DataFrame) -> pd.DataFrame:
    """Label candidates: 'label' (convention), 'from sidecar', 'from argument'."""
    return binary_frame.assign(
        **{"from sidecar": 1 - binary_frame["label"], "from argument": binary_frame["prediction"]}
    )


def test_precedence_convention(three_labels: pd.DataFrame, write_table: WriteTable) -> None:
    assert load_predictions(write_table(three_labels)).schema.label == "label"


def test_precedence_sidecar_over_convention(
    three_labels: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(three_labels)
    write_sidecar(path, '[roles]\nlabel = "from sidecar"\n')
    s = load_predictions(path).schema
    assert s.label == "from sidecar"
    assert s.features["label"] == "numeric"  # no longer a role: a feature
    assert load_predictions(path, sidecar=False).schema.label == "label"


@pytest.mark.parametrize("how", ["argument", "roles"])
def test_precedence_arguments_over_sidecar(
    three_labels: pd.DataFrame, write_table: WriteTable, how: str
) -> None:
    path = write_table(three_labels)
    write_sidecar(path, '[roles]\nlabel = "from sidecar"\ntask = "binary"\n')
    if how == "argument":
        p = load_predictions(path, label="from argument")
    else:
        p = load_predictions(path, roles=Roles(label="from argument"))
    assert p.schema.label == "from argument"
    assert p.task == "binary"  # the sidecar's other settings still apply
    assert not p.error.any()  # label column == prediction column


def test_keyword_argument_over_roles(three_labels: pd.DataFrame, write_table: WriteTable) -> None:
    path = write_table(three_labels)
    p = load_predictions(path, roles=Roles(label="from sidecar"), label="from argument")
    assert p.schema.label == "from argument"


def test_sidecar_given_as_a_path(three_labels: pd.DataFrame, write_table: WriteTable) -> None:
    path = write_table(three_labels)
    other = path.with_name("elsewhere.toml")
    other.write_text('[roles]\nlabel = "from sidecar"\n')
    assert load_predictions(path, sidecar=other).schema.label == "from sidecar"


def test_sidecar_is_named_after_the_full_stem(
    three_labels: pd.DataFrame, write_table: WriteTable
) -> None:
    path = write_table(three_labels, "preds.v2.csv")
    path.with_name("preds.mlqa.toml").write_text('[roles]\nlabel = "from argument"\n')
    assert load_predictions(path).schema.label == "label"  # not preds.v2's sidecar
    path.with_name("preds.v2.mlqa.toml").write_text('[roles]\nlabel = "from sidecar"\n')
    assert load_predictions(path).schema.label == "from sidecar"


def test_sidecar_tables(
    binary_frame: pd.DataFrame, write_table: WriteTable, rng: np.random.Generator
) -> None:
    pixels = {f"px_{i}": rng.integers(0, 17, len(binary_frame)) for i in range(12)}
    frame = binary_frame.rename(columns={"label": "outcome", "id": "key"}).assign(**pixels)
    path = write_table(frame, "preds.parquet")
    write_sidecar(
        path,
        "\n".join(
            [
                "[roles]",
                'label = "outcome"',
                'id = "key"',
                'task = "binary"',
                "positive = 0",
                f'ignore = ["{TEXT_NAME}"]',
                "[types]",
                f'"{DOTTED_NAME}" = "categorical"',
                "[image]",
                'columns = "px_*"',
                "shape = [3, 4]",
                "[model]",
                'file = "model.joblib"',
                'name = "my model"',
                "version = 3",
                "",
            ]
        ),
    )
    s = load_predictions(path).schema
    assert (s.label, s.id, s.task, s.positive) == ("outcome", "key", "binary", 0)
    assert s.features[DOTTED_NAME] == "categorical"
    assert s.ignored == (TEXT_NAME,)
    assert s.image == ImageSpec(tuple(f"px_{i}" for i in range(12)), (3, 4))  # numeric order
    assert s.model == ModelSpec("model.joblib", "my model", "3")


def test_roles_round_trip_through_dict() -> None:
    roles = Roles(
        id="key",
        label="y",
        prediction="p",
        task="multiclass",
        positive=1,
        score="s",
        embedding=("e0", "e1"),
        ignore=("x",),
        types={"a b": "text"},
        image=ImageSpec(("px_*",), (8, 8)),
        error_threshold=2.5,
        model=ModelSpec("m.joblib", "m", "1"),
    )
    assert Roles.from_dict(roles.to_dict()) == roles
    assert Roles().to_dict() == {}


def test_roles_merged_keeps_unset_fields() -> None:
    base = Roles(label="a", task="binary", types={"x": "text"})
    merged = base.merged(Roles(label="b", types={"y": "numeric"}, positive=0))
    assert merged == Roles(
        label="b", task="binary", positive=0, types={"x": "text", "y": "numeric"}
    )


def test_single_column_name_is_one_item_not_characters() -> None:
    assert Roles.from_dict({"ignore": "abc", "embedding": "vec"}) == Roles(
        ignore=("abc",), embedding=("vec",)
    )


def test_no_warning_on_clean_input(binary_frame: pd.DataFrame, write_table: WriteTable) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = load_predictions(write_table(binary_frame))
    assert p.warnings == ()
