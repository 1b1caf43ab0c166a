"""The embeddings library: input encoding, projections and their cache, sampling,
selections, rules, separating features, clusters, the figure and the ``embed`` command."""

from __future__ import annotations

import argparse
import json
import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlqa_debug.analyses.embeddings import compute as emb
from mlqa_debug.analyses.embeddings.figures import BACKGROUND_GROUPS, embedding_map
from mlqa_debug.cache import DiskCache
from mlqa_debug.cli.embed import add_commands
from mlqa_debug.data.predictions import Predictions, load_predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import MlqaError, SchemaError, WorkspaceError
from mlqa_debug.slicing.slices import Slice, parse_slice
from mlqa_debug.stats import metrics as metrics
from tests.conftest import NUMERIC_NAME, QUOTED_NAME, TEXT_NAME, UNICODE_NAME

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="module")
def loans(samples: Workspace) -> Predictions:
    return samples.load("loans")


@pytest.fixture(scope="module")
def digits(samples: Workspace) -> Predictions:
    return samples.load("digits")


@pytest.fixture(scope="module")
def diabetes(samples: Workspace) -> Predictions:
    return samples.load("diabetes")


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache(tmp_path / "cache")


@pytest.fixture
def fake_umap(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a fast stand-in (first two input columns); records each call's size."""
    calls: list[int] = []

    def fit(matrix: np.ndarray, params: emb.ProjectionParams, progress: emb.Progress) -> np.ndarray:
        calls.append(len(matrix))
        progress("laying out the map", 1.0)
        return np.asarray(matrix[:, :2], dtype=np.float32) * 2

    monkeypatch.setattr(emb, "_fit_umap", fit)
    return calls


def load(frame: pd.DataFrame, write_table) -> Predictions:
    return load_predictions(write_table(frame, "preds.csv"))


def pca_map(predictions: Predictions) -> emb.Projection:
    return emb.get_projection(predictions, method="pca", cache=None)


# --------------------------------------------------------------------------- input encoding


def test_features_are_encoded_without_the_target(binary_frame: pd.DataFrame, write_table) -> None:
    predictions = load(binary_frame, write_table)
    inp = emb.projection_input(predictions)
    assert inp.source == "features"
    assert TEXT_NAME not in inp.columns and "label" not in inp.columns
    assert "score" not in inp.columns and "id" not in inp.columns
    shuffled = binary_frame.assign(
        label=binary_frame["label"].to_numpy()[::-1],
        prediction=1 - binary_frame["prediction"],
        score=1 - binary_frame["score"],
    )
    again = emb.projection_input(load(shuffled, write_table))
    np.testing.assert_array_equal(inp.matrix, again.matrix)


def test_numeric_columns_are_standardised_and_categoricals_one_hot(
    binary_frame: pd.DataFrame, write_table
) -> None:
    predictions = load(binary_frame, write_table)
    matrix = emb.projection_input(predictions).matrix.astype(np.float64)
    raw = binary_frame[NUMERIC_NAME].to_numpy(np.float64)
    expected = (raw - raw.mean()) / raw.std()
    matches = [j for j in range(matrix.shape[1]) if np.allclose(matrix[:, j], expected, atol=1e-5)]
    assert matches, "the numeric column appears standardised"
    codes = binary_frame[UNICODE_NAME].astype("category").cat.codes.to_numpy()
    one_hot = [
        j for j in range(matrix.shape[1]) if set(np.round(matrix[:, j], 5)) == {0.0, 0.70711}
    ]
    for value in range(3):  # each value of the categorical column has its own column
        assert any(np.array_equal(matrix[:, j] > 0, codes == value) for j in one_hot), (
            f"value {value}"
        )


def test_missing_values_get_an_indicator_and_rare_categories_share_a_column(
    binary_frame: pd.DataFrame, write_table
) -> None:
    frame = binary_frame.copy()
    frame.loc[::7, NUMERIC_NAME] = np.nan
    frame[QUOTED_NAME] = [f"v{i % 9}" for i in range(len(frame))]
    predictions = load(frame, write_table)
    wide = emb._build_input(predictions, max_categories=20).matrix
    narrow = emb._build_input(predictions, max_categories=3).matrix
    assert wide.shape[1] - narrow.shape[1] == 9 - 3  # 9 values -> 2 kept + 1 shared column
    indicator = (frame[NUMERIC_NAME].isna()).to_numpy(np.float64)
    assert any(np.array_equal(wide[:, j], indicator) for j in range(wide.shape[1]))
    assert np.isfinite(wide).all()


def test_the_embedding_is_used_as_it_is(digits: Predictions) -> None:
    inp = emb.projection_input(digits)
    assert inp.source == "embedding" and inp.columns == tuple(f"emb_{i}" for i in range(16))
    np.testing.assert_array_equal(inp.matrix, digits.frame[list(inp.columns)].to_numpy(np.float32))
    assert "16 embedding columns" in inp.description


def test_nothing_to_project_is_a_clear_error(write_table) -> None:
    frame = pd.DataFrame(
        {
            "label": [0, 1] * 30,
            "prediction": [0, 0] * 30,
            "note": [f"text {i}" * 20 for i in range(60)],
        }
    )
    predictions = load(frame, write_table)
    with pytest.raises(SchemaError, match="nothing to draw a map from"):
        emb.projection_input(predictions)


# --------------------------------------------------------------------------- projections


def test_pca_matches_scikit_learn(loans: Predictions) -> None:
    from sklearn.decomposition import PCA

    projection = emb.compute_projection(loans, method="pca")
    matrix = emb.projection_input(loans).matrix
    reference = PCA(n_components=2, random_state=0).fit_transform(matrix)
    np.testing.assert_allclose(projection.coords, reference, rtol=1e-4, atol=1e-4)
    assert projection.description.startswith("PCA (") and projection.n_mapped == 20_000
    assert projection.axis_names == ("PC 1", "PC 2")


def test_given_coordinates_are_used_as_they_are(binary_frame: pd.DataFrame, write_table) -> None:
    x = np.linspace(-3, 3, len(binary_frame))
    frame = binary_frame.assign(proj_x=x, proj_y=x**2)
    frame.loc[5, "proj_y"] = np.nan
    predictions = load(frame, write_table)
    assert emb.method_choices(predictions) == ("given", "umap", "pca")
    assert emb.default_method(predictions) == "given"
    projection = emb.load_projection(predictions, method="given", cache=None)
    assert projection is not None
    np.testing.assert_allclose(
        projection.coords[:, 0][np.arange(len(x)) != 5], x[np.arange(len(x)) != 5], rtol=1e-6
    )
    assert np.isnan(projection.coords[5]).all() and projection.n_mapped == len(x) - 1


def test_projection_is_cached_on_disk_and_reused(
    binary_frame: pd.DataFrame, write_table, cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_table(binary_frame, "preds.csv")
    first = emb.get_projection(load_predictions(path), method="pca", cache=cache)
    fresh = load_predictions(path)  # a new process would have an empty memory cache

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(emb, "compute_projection", fail)
    again = emb.load_projection(fresh, method="pca", cache=cache)
    assert again is not None and again.key == first.key
    np.testing.assert_array_equal(again.coords, first.coords)
    assert again.description == first.description
    assert emb.load_projection(fresh, method="umap", cache=cache) is None


def test_cache_keys_follow_data_method_and_parameters(
    binary_frame: pd.DataFrame, write_table
) -> None:
    predictions = load(binary_frame, write_table)
    key = emb.projection_key(predictions, method="umap")
    assert key == emb.projection_key(predictions, method="umap")
    assert key != emb.projection_key(predictions, method="pca")
    other = emb.ProjectionParams(n_neighbors=30)
    assert key != emb.projection_key(predictions, method="umap", params=other)
    changed = load(
        binary_frame.assign(**{NUMERIC_NAME: binary_frame[NUMERIC_NAME] + 1}), write_table
    )
    assert key != emb.projection_key(changed, method="umap")


def test_umap_runs_on_at_most_max_rows_errors_first(
    loans: Predictions, fake_umap: list[int]
) -> None:
    params = emb.ProjectionParams(max_rows=5_000)
    projection = emb.compute_projection(loans, method="umap", params=params)
    assert fake_umap == [5_000]
    mapped = np.isfinite(projection.coords).all(axis=1)
    assert mapped.sum() == 5_000
    assert mapped[loans.error].all() or loans.error.sum() > 5_000
    assert "5,000 of 20,000 rows" in projection.description


def test_wide_inputs_are_reduced_by_pca_before_umap(
    samples: Workspace, fake_umap: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    original = emb._reduce

    def spy(matrix: np.ndarray, params: emb.ProjectionParams) -> np.ndarray:
        out = original(matrix, params)
        seen.append(out.shape[1])
        return out

    monkeypatch.setattr(emb, "_reduce", spy)
    digits = samples.load("digits", roles=None)
    emb.compute_projection(digits, method="umap", params=emb.ProjectionParams(pca_dims=8))
    assert seen == [8]


# --------------------------------------------------------------------------- background jobs


def test_background_job_computes_once_and_caches(
    digits: Predictions, cache: DiskCache, fake_umap: list[int]
) -> None:
    jobs = emb.ProjectionJobs()
    job = jobs.start(digits, method="umap", cache=cache)
    assert jobs.start(digits, method="umap", cache=cache) is job  # concurrent sessions share it
    _wait(job)
    assert job.done and job.error is None and fake_umap == [899]
    assert job.fraction == 1.0 and "ready" in job.status_text()
    found = emb.load_projection(digits, method="umap", cache=cache)
    assert found is not None and found.key == job.key
    assert cache.get_arrays(job.key) is not None
    again = jobs.start(digits, method="umap", cache=cache)  # asked again: the result was lost
    assert again is not job
    _wait(again)


def test_a_failed_job_reports_its_message_and_can_be_retried(
    diabetes: Predictions, cache: DiskCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> np.ndarray:
        raise RuntimeError("numba exploded")

    monkeypatch.setattr(emb, "_fit_umap", broken)
    jobs = emb.ProjectionJobs()
    job = jobs.start(diabetes, method="umap", cache=cache)
    _wait(job)
    assert job.error == "numba exploded" and not job.done
    assert "failed: numba exploded" in job.status_text()
    assert jobs.start(diabetes, method="umap", cache=cache) is job
    jobs.forget(job.key)
    assert jobs.start(diabetes, method="umap", cache=cache) is not job


def test_job_progress_follows_umaps_epochs() -> None:
    seen: list[tuple[str, float | None]] = []
    stream = emb._EpochStream(lambda phase, fraction: seen.append((phase, fraction)))
    for text in ("\r0/200", "\r50/200", "\r200/200"):
        stream.write(text)
    assert [f for _, f in seen] == [0.0, 0.25, 1.0]


def _wait(job: emb.ProjectionJob, timeout: float = 30) -> None:
    done = threading.Event()
    for _ in range(int(timeout * 20)):
        if not job.running:
            return
        done.wait(0.05)
    raise AssertionError(f"job still running: {job.status_text()}")


# --------------------------------------------------------------------------- sampling


def test_sample_keeps_every_error_up_to_the_cap() -> None:
    error = np.zeros(10_000, dtype=bool)
    error[::50] = True  # 200 errors
    sample = emb.sample_points(error, max_points=1_000)
    assert len(sample.positions) == 1_000 and sample.is_sample
    assert error[sample.positions].sum() == 200 == sample.n_errors_shown
    assert "all 200 errors" in sample.caption()
    few = emb.sample_points(error, max_points=150)
    assert error[few.positions].all() and len(few.positions) == 150
    assert "150 of the 200 errors" in few.caption()


def test_sample_without_a_cap_is_every_candidate() -> None:
    error = np.array([True, False, False, True])
    sample = emb.sample_points(error, candidates=np.array([True, True, False, True]))
    np.testing.assert_array_equal(sample.positions, [0, 1, 3])
    assert not sample.is_sample and sample.caption() == "All 3 rows (2 errors)."


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    cap=st.integers(1, 300),
    seed=st.integers(0, 2**16),
    error_rate=st.floats(0, 1),
)
def test_sampling_invariants(n: int, cap: int, seed: int, error_rate: float) -> None:
    rng = np.random.default_rng(seed)
    error = rng.random(n) < error_rate
    view = rng.random(n) < 0.7
    sample = emb.sample_points(error, candidates=view, max_points=cap, random_state=seed)
    again = emb.sample_points(error, candidates=view, max_points=cap, random_state=seed)
    np.testing.assert_array_equal(sample.positions, again.positions)  # deterministic
    assert np.all(np.diff(sample.positions) > 0) and view[sample.positions].all()
    assert len(sample.positions) == min(cap, view.sum())
    assert error[sample.positions].sum() == min(cap, (error & view).sum())  # errors first
    smaller = view & (rng.random(n) < 0.5)  # a row drawn in a view is drawn in any sub-view
    inner = emb.sample_points(error, candidates=smaller, max_points=cap, random_state=seed)
    assert set(sample.positions[smaller[sample.positions]]) <= set(inner.positions)


def test_sample_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_points"):
        emb.sample_points(np.zeros(3, bool), max_points=0)
    with pytest.raises(ValueError, match="candidates must have shape"):
        emb.sample_points(np.zeros(3, bool), candidates=np.ones(4, bool))


# --------------------------------------------------------------------------- map and figure


def test_figure_has_one_webgl_trace_per_group_with_row_positions(digits: Predictions) -> None:
    points = emb.map_points(digits, pca_map(digits), color_by="label")
    fig = embedding_map(points)
    assert [t.type for t in fig.data] == ["scattergl"] * 10
    assert [t.name.split(" ")[0] for t in fig.data] == [str(c) for c in range(10)]
    drawn = np.concatenate([np.asarray(t.customdata) for t in fig.data])
    assert sorted(drawn.tolist()) == list(range(899))
    for trace in fig.data:
        label = int(trace.name.split(" ")[0])
        assert (digits.y_true_codes[np.asarray(trace.customdata)] == label).all()
        x = np.asarray(trace.x)
        np.testing.assert_allclose(x, points.coords[np.isin(points.positions, trace.customdata), 0])
    assert fig.layout.dragmode == "select"


def test_errors_are_drawn_on_top(loans: Predictions) -> None:
    fig = embedding_map(emb.map_points(loans, pca_map(loans), color_by="error"))
    assert [t.name.split(" ")[0] for t in fig.data] == ["correct", "error"]
    assert len(fig.data[1].customdata) == int(loans.error.sum())


def test_continuous_colouring_is_one_trace_with_a_scale(
    diabetes: Predictions, loans: Predictions
) -> None:
    fig = embedding_map(emb.map_points(diabetes, pca_map(diabetes), color_by="abs_error"))
    assert len(fig.data) == 1 and fig.data[0].marker.showscale
    np.testing.assert_allclose(
        fig.data[0].marker.color, np.abs(diabetes.residual)[np.asarray(fig.data[0].customdata)]
    )
    conf = emb.map_points(loans, pca_map(loans), color_by="confidence")
    assert conf.color.is_continuous
    assert emb.color_choices(diabetes, has_slice=False, has_clusters=False) == (
        "error",
        "label",
        "prediction",
        "abs_error",
    )


def test_slice_colouring_shows_all_rows(loans: Predictions) -> None:
    gig = parse_slice("employment == 'gig'").mask(loans.slice_frame)
    projection = pca_map(loans)
    inside = emb.map_points(loans, projection, slice_mask=gig, color_by="error")
    assert len(inside.positions) == gig.sum() == 1_002
    everything = emb.map_points(loans, projection, slice_mask=gig, color_by="slice")
    assert len(everything.positions) == 20_000
    fig = embedding_map(everything)
    assert [t.name for t in fig.data] == ["rest (18,998)", "in slice (1,002)"]


def test_many_classes_are_folded_into_other() -> None:
    codes = np.repeat(np.arange(15), np.arange(15, 0, -1))
    groups, names = emb._class_groups(codes, [f"c{i}" for i in range(15)])
    assert len(names) == emb.MAX_CLASS_GROUPS and names[-1] == "other"
    assert (groups[codes >= 9] == 9).all() and "other" in BACKGROUND_GROUPS


def test_hover_text_is_escaped_and_short(binary_frame: pd.DataFrame, write_table) -> None:
    frame = binary_frame.assign(**{QUOTED_NAME: "<img src=x onerror=alert(1)>"})
    frame["id"] = [f"<b>{i}</b>" for i in range(len(frame))]
    predictions = load(frame, write_table)
    text = emb.hover_texts(predictions, np.arange(3))
    assert "<img" not in text[0] and "&lt;img" in text[0]
    assert text[0].startswith("<b>&lt;b&gt;0&lt;/b&gt;</b>")
    assert "confidence" in text[0] and len(text[0]) < 400


def test_hover_text_stays_short_on_big_maps(write_table) -> None:
    n = emb.HOVER_FULL_POINTS + 1
    long_name, long_value = "a very long feature name " * 4, "<&>" * 12
    frame = pd.DataFrame(
        {
            "id": [f"{'x' * 60}{i}" for i in range(n)],
            long_name: [long_value] * n,
            "other": np.arange(n) * 1.5,
            "label": np.arange(n) % 2,
            "prediction": np.zeros(n, dtype=int),
        }
    )
    predictions = load(frame, write_table)
    big = emb.hover_texts(predictions, np.arange(n))
    small = emb.hover_texts(predictions, np.arange(10))
    assert max(len(t) for t in big) <= 160 < max(len(t) for t in small)
    assert big[0].count("<br>") == 3  # label line + 2 features


def test_hover_numbers_are_readable(loans: Predictions) -> None:
    text = emb.hover_texts(loans, np.arange(1))[0]
    assert "income 32,345<br>" in text and "loan amount 9800<br>" in text


# --------------------------------------------------------------------------- selections


def test_selection_maps_to_rows_through_custom_data_with_coloured_traces(
    digits: Predictions,
) -> None:
    fig = embedding_map(emb.map_points(digits, pca_map(digits), color_by="label"))
    rng = np.random.default_rng(0)
    points, expected = [], set()
    for curve, trace in enumerate(fig.data):
        customdata = np.asarray(trace.customdata)
        for index in rng.choice(len(customdata), 5, replace=False):
            points.append(
                {
                    "curve_number": curve,
                    "point_index": int(index),
                    "point_number": int(index),
                    "x": float(trace.x[index]),
                    "y": float(trace.y[index]),
                    "customdata": int(customdata[index]),
                }
            )
            expected.add(int(customdata[index]))
    got = emb.selected_positions(points, n_samples=digits.n_samples)
    assert got.tolist() == sorted(expected)
    # the trace index alone would be wrong: point 0 of every trace is a different row
    assert len({int(np.asarray(t.customdata)[0]) for t in fig.data}) == len(fig.data)


def test_selection_falls_back_to_trace_positions_and_ignores_junk() -> None:
    traces = [np.array([10, 11, 12]), np.array([20, 21])]
    points = [
        {"curve_number": 1, "point_index": 1},  # no customdata: trace lookup -> 21
        {"customdata": [5]},
        {"customdata": {"0": 6}},  # a typed array row serialised as an object
        {"customdata": 7.0},
        {"customdata": "8"},
        {"customdata": -1},
        {"customdata": 10**12},
        {"customdata": True},
        {"customdata": float("nan")},
        {"curve_number": 9, "point_index": 0},
        {"curve_number": 0, "point_index": 99},
        "not a point",
    ]
    got = emb.selected_positions(points, n_samples=100, traces=traces)  # type: ignore[arg-type]
    assert got.tolist() == [5, 6, 7, 21]


def test_region_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(2_000, 2))
    box = {"box": [{"x": [0.5, -0.5], "y": [-1.0, 0.2]}], "lasso": []}
    expected = (np.abs(coords[:, 0]) <= 0.5) & (coords[:, 1] >= -1) & (coords[:, 1] <= 0.2)
    np.testing.assert_array_equal(emb.region_mask(coords, box), expected)
    triangle = {"lasso": [{"x": [0, 2, 0], "y": [0, 0, 2]}]}
    inside = (coords[:, 0] > 0) & (coords[:, 1] > 0) & (coords.sum(axis=1) < 2)
    np.testing.assert_array_equal(emb.region_mask(coords, triangle), inside)
    both = emb.region_mask(coords, {**box, **triangle})
    np.testing.assert_array_equal(both, expected | inside)
    for junk in ({}, {"box": [{"x": ["a", 1], "y": [0, 1]}]}, {"lasso": [{"x": [0, 1], "y": [0]}]}):
        assert emb.region_mask(coords, junk) is None


# --------------------------------------------------------------------------- rules


def test_rule_recovers_a_planted_cohort(loans: Predictions) -> None:
    shown = np.arange(loans.n_samples)
    selected = np.flatnonzero(parse_slice("employment == 'gig'").mask(loans.slice_frame))
    rule = emb.suggest_rule(loans, selected, shown=shown)
    assert rule is not None
    assert rule.rule == parse_slice("employment == 'gig'")
    assert rule.precision == 1.0 and rule.recall == 1.0 and rule.n_rows == 1_002


def test_rule_recovers_a_class_on_a_multiclass_map(digits: Predictions) -> None:
    selected = np.flatnonzero(digits.frame["label"].to_numpy() == 8)
    rule = emb.suggest_rule(digits, selected, shown=np.arange(digits.n_samples))
    assert rule is not None and rule.rule.text == "label == 8"


@pytest.mark.parametrize("seed", range(6))
def test_rule_counts_are_exactly_what_its_slice_selects(loans: Predictions, seed: int) -> None:
    rng = np.random.default_rng(seed)
    projection = pca_map(loans)
    shown = emb.sample_points(loans.error, max_points=5_000, random_state=seed).positions
    x, y = projection.coords[:, 0], projection.coords[:, 1]
    lo, hi = np.sort(rng.uniform(-2, 2, 2))
    selected = shown[(x[shown] > lo) & (x[shown] < hi) & (y[shown] > rng.uniform(-2, 0))]
    base = parse_slice("age >= 30") if seed % 2 else Slice()
    rule = emb.suggest_rule(loans, selected, shown=shown, base=base)
    assert rule is not None
    covered = rule.rule.mask(loans.slice_frame)[shown]  # brute force on the rule's own mask
    chosen = np.isin(shown, selected)
    assert rule.n_covered == covered.sum()
    assert rule.n_selected_covered == (covered & chosen).sum()
    assert rule.n_selected == len(selected)
    assert math.isclose(rule.precision, (covered & chosen).sum() / covered.sum())
    assert rule.slice == base & rule.rule
    assert rule.n_rows == (base & rule.rule).mask(loans.slice_frame).sum()
    everything = 2 * len(selected) / (len(selected) + len(shown))  # F1 of "all points"
    assert rule.f1 > everything, rule
    assert len(rule.rule.predicates) <= 6


def test_no_rule_for_an_empty_or_full_selection(diabetes: Predictions) -> None:
    shown = np.arange(diabetes.n_samples)
    assert emb.suggest_rule(diabetes, np.array([], dtype=int), shown=shown) is None
    assert emb.suggest_rule(diabetes, shown, shown=shown) is None
    with pytest.raises(ValueError, match="row positions"):
        emb.suggest_rule(diabetes, np.array([10_000]), shown=shown)


# --------------------------------------------------------------------------- separating features


def test_separating_features_rank_the_planted_feature_first(loans: Predictions) -> None:
    selected = np.flatnonzero(parse_slice("employment == 'gig'").mask(loans.slice_frame))
    table = emb.separating_features(loans, selected, shown=np.arange(loans.n_samples))
    top = table.iloc[0]
    assert top["feature"] == "employment"
    assert top["most over-represented"] == "employment == 'gig'"
    assert top["in selection"] == 1.0 and top["strength"] == pytest.approx(1.0)
    assert list(table["strength"]) == sorted(table["strength"], reverse=True)


def test_separation_strength_is_cramers_v(diabetes: Predictions) -> None:
    shown = np.arange(diabetes.n_samples)
    selected = np.flatnonzero(diabetes.frame["bmi"].to_numpy() > 30)
    table = emb.separating_features(diabetes, selected, shown=shown, limit=50).set_index("feature")
    sex = diabetes.frame["sex"].astype(str).to_numpy()
    crosstab = pd.crosstab(sex, np.isin(shown, selected)).to_numpy()
    chi2, p_value, _, _ = stats.chi2_contingency(crosstab, correction=False)
    assert table.loc["sex", "strength"] == pytest.approx(math.sqrt(chi2 / crosstab.sum()))
    assert table.loc["sex", "p-value"] == emb._p_text(p_value)
    assert table.index[0] == "bmi"


# --------------------------------------------------------------------------- summary


@pytest.mark.parametrize(
    ("p_value", "text"), [(0.2134, "0.21"), (0.01, "0.01"), (3.2e-19, "3e-19"), (0.0, "< 1e-300")]
)
def test_p_values_read_well(p_value: float, text: str) -> None:
    assert emb._p_text(p_value) == text


def test_summary_metrics_are_the_slice_report_of_the_selection(loans: Predictions) -> None:
    selected = np.arange(0, 20_000, 7)
    summary = emb.summarize_selection(loans, selected, shown=np.arange(20_000))
    mask = np.zeros(20_000, bool)
    mask[selected] = True
    reference = metrics.slice_report(loans.metric_data, mask)
    assert summary.report.slice == reference.slice and summary.n_rows == len(selected)
    assert summary.map_rest == metrics.evaluate(loans.metric_data, ~mask)
    assert summary.ids is not None and summary.ids[:2] == ("L00001", "L00008")


def test_summary_of_a_sampled_map_covers_the_drawn_region(loans: Predictions) -> None:
    projection = pca_map(loans)
    shown = emb.sample_points(loans.error, max_points=2_000).positions
    geometry = {"box": [{"x": [-10, 0], "y": [-10, 10]}]}
    region = emb.region_mask(projection.coords, geometry)
    assert region is not None
    selected = shown[region[shown]]
    summary = emb.summarize_selection(loans, selected, shown=shown, region=region)
    assert summary.n_rows == region.sum() > len(selected)
    assert summary.report.slice.n_errors == loans.error[region].sum()


# --------------------------------------------------------------------------- clusters


def test_clusters_are_found_and_ranked_by_error_rate() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10]])
    member = np.repeat([0, 1, 2], 400)
    coords = (centers[member] + rng.normal(0, 0.5, (1_200, 2))).astype(np.float32)
    error = rng.random(1_200) < np.array([0.05, 0.6, 0.2])[member]
    result = emb.find_clusters(coords, error, min_cluster_size=50)
    assert len(result.clusters) == 3
    rates = [c.error_rate.value for c in result.clusters]
    assert rates == sorted(rates, reverse=True)
    worst = result.clusters[0]
    assert worst.name == "C1" and np.allclose(worst.center, [10, 0], atol=0.5)
    assert worst.errors == error[result.mask(worst)].sum()
    assert result.by_name("C2") is result.clusters[1] and result.by_name("C9") is None
    frame = result.to_frame()
    assert list(frame["cluster"]) == ["C1", "C2", "C3"] and frame["rows"].sum() <= 1_200


def test_rows_beyond_the_fit_sample_join_their_nearest_points_cluster() -> None:
    rng = np.random.default_rng(2)
    coords = np.vstack([rng.normal(0, 0.3, (3_000, 2)), rng.normal(8, 0.3, (3_000, 2))])
    error = np.zeros(6_000, bool)
    result = emb.find_clusters(coords, error, max_fit=500, min_cluster_size=30)
    assert result.n_fitted == 500 and len(result.clusters) == 2
    assert (result.labels >= 0).mean() > 0.95
    left = result.labels[:3_000][result.labels[:3_000] >= 0]
    assert len(set(left.tolist())) == 1


def test_clusters_respect_the_view_and_are_remembered(loans: Predictions) -> None:
    projection = pca_map(loans)
    gig = parse_slice("employment == 'gig'").mask(loans.slice_frame)
    first = emb.error_clusters(loans, projection, candidates=gig)
    assert emb.error_clusters(loans, projection, candidates=gig) is first
    assert (first.labels[~gig] == -1).all()


# --------------------------------------------------------------------------- the command


def run_cli(*argv: str) -> tuple[int, argparse.Namespace]:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"), ws_help="workspace")
    args = parser.parse_args(list(argv))
    return args.handler(args), args


def test_embed_command_computes_then_finds_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_umap: list[int]
) -> None:
    code, _ = run_cli("embed", "diabetes", "--workspace", str(tmp_path), "--json")
    first = json.loads(capsys.readouterr().out)
    assert code == 0 and first["cached"] is False and first["method"] == "umap"
    assert first["mapped_rows"] == 221 and fake_umap == [221]
    code, _ = run_cli("embed", "diabetes", "--workspace", str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0 and "already cached" in out and fake_umap == [221]
    ws_predictions = Workspace(tmp_path).load("diabetes")
    cache = DiskCache(Workspace(tmp_path).cache_dir("embeddings"))
    assert emb.load_projection(ws_predictions, method="umap", cache=cache) is not None


def test_embed_command_takes_a_file_and_pca(
    tmp_path: Path, binary_frame: pd.DataFrame, write_table, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table(binary_frame, "preds.csv")
    code, _ = run_cli("embed", str(path), "--method", "pca", "--workspace", str(tmp_path / "ws"))
    assert code == 0 and "PCA" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "error"), [("../../etc/passwd", WorkspaceError), ("nope", WorkspaceError)]
)
def test_embed_command_refuses_unknown_datasets(
    tmp_path: Path, target: str, error: type[MlqaError]
) -> None:
    with pytest.raises(error):
        run_cli("embed", target, "--workspace", str(tmp_path))


# --------------------------------------------------------------------------- real UMAP


@pytest.mark.slow
def test_real_umap_is_reproducible_and_keeps_neighbours(digits: Predictions) -> None:
    """umap-learn itself (numba compiles on first use: tens of seconds)."""
    from sklearn.manifold import trustworthiness

    seen: list[float | None] = []
    first = emb.compute_projection(
        digits, method="umap", progress=lambda phase, fraction: seen.append(fraction)
    )
    second = emb.compute_projection(digits, method="umap")
    np.testing.assert_array_equal(first.coords, second.coords)  # fixed random_state
    matrix = emb.projection_input(digits).matrix
    assert trustworthiness(matrix, first.coords, n_neighbors=10) > 0.9
    assert seen[-1] == 1.0 and first.description.startswith("UMAP of")
