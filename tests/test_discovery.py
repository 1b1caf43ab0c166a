"""Slice discovery: SliceLine search, feature encoding and the error tree.

The search is checked against the ``sliceline`` package (a test-only
dependency) and against a brute-force enumeration of every conjunction; the
encoding and the tree are checked row by row against ``Slice.mask``.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa_debug.analyses.discovery.sliceline import FoundSlice, find_slices, resolve_min_support
from mlqa_debug.analyses.discovery.tree import fit_error_tree
from mlqa_debug.errors import SchemaError
from mlqa_debug.slicing import encode_features, parse_slice

Items = tuple[tuple[int, int], ...]
Top = list[tuple[Items, float]]

# --------------------------------------------------------------------------- helpers


def make_data(
    seed: int,
    n: int,
    cards: list[int],
    *,
    binary: bool = True,
    planted: Items = (),
    base_rate: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform integer codes ``(n, len(cards))`` and errors, higher inside ``planted``."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, c, n) for c in cards])
    inside = np.ones(n, dtype=bool) if planted else np.zeros(n, dtype=bool)
    for f, v in planted:
        inside &= x[:, f] == v
    rate = np.full(n, base_rate)
    for f, card in enumerate(cards):  # every value shifts the error rate a little
        rate *= rng.uniform(0.6, 1.6, card)[x[:, f]]
    rate = np.where(inside, 0.9, np.minimum(rate, 1.0))
    hit = rng.random(n) < rate
    errors = hit.astype(float) if binary else hit * rng.exponential(1.0, n)
    return x, errors


def ours(x: np.ndarray, errors: np.ndarray, **options: Any) -> Top:
    """``find_slices`` as ``[(items, score)]``."""
    return [(s.items, s.score) for s in find_slices(x, errors, **options)]


def reference(
    x: np.ndarray, errors: np.ndarray, *, alpha: float, k: int, max_level: int, min_support: Any
) -> Top:
    """The ``sliceline`` package's top slices as ``[(items, score)]``."""
    slicefinder = pytest.importorskip("sliceline").Slicefinder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = slicefinder(alpha=alpha, k=k, max_l=max_level, min_sup=min_support, verbose=False)
        finder.fit(x, errors)
    return [
        (tuple((j, int(v)) for j, v in enumerate(row) if v is not None), stats["slice_score"])
        for row, stats in zip(finder.top_slices_, finder.top_slices_statistics_, strict=True)
    ]


def brute_force(
    x: np.ndarray, errors: np.ndarray, *, alpha: float, k: int, max_level: int, min_support: Any
) -> list[tuple[Items, float, int, float, float]]:
    """Every conjunction up to ``max_level`` scored directly; the top k with ties."""
    n, m = x.shape
    mean = errors.mean()
    floor = resolve_min_support(min_support, n)
    found = []
    for level in range(1, max_level + 1):
        for feats in itertools.combinations(range(m), level):
            cards = [int(x[:, f].max()) + 1 for f in feats]
            key = np.ravel_multi_index(tuple(x[:, f] for f in feats), cards)
            cells, index = np.unique(key, return_inverse=True)
            size = np.bincount(index)
            total = np.bincount(index, weights=errors)
            top = np.zeros(size.size)
            np.maximum.at(top, index, errors)
            for i, cell in enumerate(cells):
                s, e = int(size[i]), float(total[i])
                score = alpha * ((e / s) / mean - 1) - (1 - alpha) * (n / s - 1)
                if s >= floor and score > 0:
                    items = tuple(zip(feats, map(int, np.unravel_index(cell, cards)), strict=True))
                    found.append((items, score, s, e, float(top[i])))
    found.sort(key=lambda r: -r[1])
    if len(found) > k:
        kth = found[k - 1][1]
        found = [r for r in found if r[1] >= kth * (1 - 1e-12)]
    return found


def score_levels(top: Top) -> dict[float, frozenset[Items]]:
    """Slices grouped by score (rounded to 10 significant digits)."""
    levels: dict[float, set[Items]] = {}
    for items, score in top:
        levels.setdefault(float(f"{score:.10g}"), set()).add(items)
    return {score: frozenset(group) for score, group in levels.items()}


def assert_same_top(got: Top, expected: Top) -> None:
    """Tie-aware: the same slices at every score level, hence the same k-th score."""
    assert score_levels(got) == score_levels(expected)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    if expected:
        assert min(s for _, s in got) == pytest.approx(min(s for _, s in expected), rel=1e-12)


# --------------------------------------------------------------------------- sliceline

REFERENCE_CASES = [
    # seed, rows, cardinalities, binary, alpha, k, max_level, min_support
    (0, 2_000, [4, 5, 3, 6], True, 0.95, 10, 1, 0.01),
    (1, 3_000, [4, 5, 3, 6, 2], True, 0.95, 10, 2, 0.01),
    (2, 3_000, [3, 3, 4, 4, 5], True, 0.9, 5, 3, 20),
    (3, 2_500, [6, 2, 5, 3], False, 0.8, 8, 3, 0.005),
    (4, 1_500, [3, 4, 2, 5, 3, 2], True, 0.99, 3, 3, 10),
    (5, 4_000, [10, 10, 10], True, 0.95, 20, 2, 0.0),
    (6, 2_000, [4, 4, 4, 4], False, 0.8, 10, 2, 5),
    (7, 1_000, [2, 3, 2, 3, 2, 3], True, 0.7, 15, 3, 0.02),
]


@pytest.mark.parametrize(
    ("seed", "rows", "cards", "binary", "alpha", "k", "max_level", "min_support"),
    REFERENCE_CASES,
)
def test_matches_sliceline_package(
    seed: int,
    rows: int,
    cards: list[int],
    binary: bool,
    alpha: float,
    k: int,
    max_level: int,
    min_support: Any,
) -> None:
    x, errors = make_data(seed, rows, cards, binary=binary, planted=((0, 1), (1, 1)))
    options = {"alpha": alpha, "k": k, "max_level": max_level, "min_support": min_support}
    got, expected = ours(x, errors, **options), reference(x, errors, **options)
    assert got, "the planted slice must qualify"
    assert_same_top(got, expected)
    if binary:  # exact scores: the package's tie order too
        assert [items for items, _ in got] == [items for items, _ in expected]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_level", [1, 2, 3])
def test_matches_brute_force(seed: int, max_level: int) -> None:
    rng = np.random.default_rng(seed)
    cards = [int(c) for c in rng.integers(1, 6, 5)]
    x, errors = make_data(seed, 600, cards, binary=seed % 2 == 0, base_rate=0.2)
    options = {"alpha": 0.85, "k": 12, "max_level": max_level, "min_support": 8}
    expected = brute_force(x, errors, **options)
    found = find_slices(x, errors, **options)
    assert_same_top([(s.items, s.score) for s in found], [(r[0], r[1]) for r in expected])
    stats = {r[0]: r[2:] for r in expected}
    for s in found:
        assert (s.size, s.error_sum, s.error_max) == pytest.approx(stats[s.items], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_matches_brute_force_on_random_inputs(data: st.DataObject) -> None:
    n = data.draw(st.integers(5, 120))
    m = data.draw(st.integers(1, 4))
    x = np.column_stack(
        [np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))) for _ in range(m)]
    )
    errors = np.array(
        data.draw(st.lists(st.sampled_from([0.0, 0.0, 1.0, 0.5, 2.0]), min_size=n, max_size=n))
    )
    options = {
        "alpha": data.draw(st.sampled_from([0.3, 0.8, 0.95, 1.0])),
        "k": data.draw(st.integers(1, 6)),
        "max_level": data.draw(st.integers(1, 3)),
        "min_support": data.draw(st.one_of(st.integers(0, 10), st.sampled_from([0.05, 0.2]))),
    }
    expected = brute_force(x, errors, **options) if errors.sum() > 0 else []
    assert_same_top(ours(x, errors, **options), [(r[0], r[1]) for r in expected])


@pytest.mark.parametrize("max_level", [2, 3])
def test_high_cardinality_takes_the_sparse_path(max_level: int) -> None:
    # 2,000 codes per feature: the level-2 cells (4M) are counted over the unique keys only
    x, errors = make_data(3, 3_000, [2_000, 2_000, 2_000], base_rate=0.3)
    options = {"alpha": 1.0, "k": 5, "max_level": max_level, "min_support": 1}
    expected = brute_force(x, errors, **options)
    assert len(expected) > 100  # alpha = 1: every error-only slice ties at the top
    assert_same_top(ours(x, errors, **options), [(r[0], r[1]) for r in expected])


@pytest.mark.parametrize("max_level", [2, 3])
def test_planted_slice_is_found_first(max_level: int) -> None:
    x, errors = make_data(11, 20_000, [8] * 6, planted=((2, 5), (4, 1)), base_rate=0.05)
    found = find_slices(x, errors, alpha=0.95, k=10, max_level=max_level, min_support=0.01)
    assert found[0].items == ((2, 5), (4, 1))
    mask = (x[:, 2] == 5) & (x[:, 4] == 1)
    assert found[0].size == mask.sum()
    assert found[0].error_sum == errors[mask].sum()
    assert found[0].error_max == 1.0


def test_no_errors_gives_no_slices() -> None:
    x, _ = make_data(0, 500, [3, 4])
    assert find_slices(x, np.zeros(500)) == []


def test_all_errors_gives_no_slices_like_the_package() -> None:
    x, _ = make_data(0, 500, [3, 4, 2])
    options = {"alpha": 0.95, "k": 5, "max_level": 2, "min_support": 5}
    assert ours(x, np.ones(500), **options) == reference(x, np.ones(500), **options) == []


def test_min_support_above_the_row_count_gives_no_slices() -> None:
    x, errors = make_data(0, 300, [3, 4], planted=((0, 1),))
    assert find_slices(x, errors, min_support=301) == []
    assert find_slices(x, errors, min_support=300, max_level=1) == []  # the full table scores 0


def test_constant_feature_and_large_k() -> None:
    x, errors = make_data(5, 2_000, [4, 1, 5, 3], planted=((0, 2),))
    assert (x[:, 1] == 0).all()
    options = {"alpha": 0.9, "k": 500, "max_level": 3, "min_support": 10}
    got = ours(x, errors, **options)
    expected = brute_force(x, errors, **options)
    assert len(expected) < 500  # every qualifying slice comes back
    assert_same_top(got, [(r[0], r[1]) for r in expected])
    assert_same_top(got, reference(x, errors, **options))


def test_codes_as_arrays_or_matrix_agree() -> None:
    x, errors = make_data(8, 1_000, [3, 5, 4], planted=((1, 2),))
    columns = [x[:, j].astype(np.int8) for j in range(3)]
    from_matrix = find_slices(x, errors, k=5)
    assert find_slices(columns, errors, k=5, cardinalities=[3, 5, 4]) == from_matrix
    assert find_slices(pd.DataFrame(x), errors, k=5) == from_matrix
    assert all(isinstance(s, FoundSlice) and s.level == len(s.items) for s in from_matrix)


def test_min_support_fraction_and_count() -> None:
    assert resolve_min_support(0.01, 1_050) == 10  # int(0.01 * n), like the package
    assert resolve_min_support(25, 1_050) == 25
    assert resolve_min_support(2.5, 1_050) == 3


@pytest.mark.parametrize(
    ("codes", "errors", "options", "match"),
    [
        ([np.array([0, 1, 2])], np.array([0.0, 1.0]), {}, "errors has 2 rows"),
        ([np.array([0, 1])], np.array([0.0, -1.0]), {}, "finite and >= 0"),
        ([np.array([0, 1])], np.array([np.nan, 1.0]), {}, "finite and >= 0"),
        ([np.array([0, -1])], np.array([0.0, 1.0]), {}, "must lie in"),
        ([np.array([0, 3])], np.array([0.0, 1.0]), {"cardinalities": [3]}, "must lie in"),
        ([np.array([0.5, 1.0])], np.array([0.0, 1.0]), {}, "integer array"),
        ([np.array([0, 1])], np.array([0.0, 1.0]), {"alpha": 0.0}, "alpha"),
        ([np.array([0, 1])], np.array([0.0, 1.0]), {"k": 0}, "k must be"),
        ([np.array([0, 1])], np.array([0.0, 1.0]), {"max_level": 0}, "max_level"),
        ([np.array([0, 1])], np.array([0.0, 1.0]), {"min_support": -1}, "min_support"),
    ],
)
def test_invalid_input_is_rejected(
    codes: list[np.ndarray], errors: np.ndarray, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        find_slices(codes, errors, **options)


# --------------------------------------------------------------------------- encoding


@pytest.fixture
def messy_frame() -> pd.DataFrame:
    """Every kind of column, with missing values, infinities and time zones."""
    rng = np.random.default_rng(7)
    n = 1_500
    frame = pd.DataFrame(
        {
            "x num": rng.normal(50, 20, n),
            "int": rng.integers(0, 1_000, n),
            "few": rng.integers(0, 3, n),
            "nullable": pd.array(rng.integers(0, 100, n), dtype="Int64"),
            "cat": pd.Categorical(rng.choice(["a", "b", "c", None], n)),
            "str": pd.Series(rng.choice(["x", "y 'q'", "z"], n), dtype="str"),
            "mixed": pd.Series([[True, 1, "x", None, 1.5, 0, False][i % 7] for i in range(n)]),
            "flag": rng.random(n) < 0.3,
            "many": [f"v{int(i)}" for i in rng.zipf(1.5, n)],
            "day": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "local": (
                pd.to_datetime("2024-03-30")
                + pd.to_timedelta(rng.integers(0, 3 * 86_400, n), unit="s")
            ).tz_localize("Europe/Paris", nonexistent="shift_forward"),
            "inf": np.where(rng.random(n) < 0.1, np.inf, rng.random(n)),
        }
    )
    frame.loc[rng.random(n) < 0.1, "x num"] = np.nan
    frame.loc[rng.random(n) < 0.1, "nullable"] = pd.NA
    frame.loc[rng.random(n) < 0.05, "day"] = pd.NaT
    return frame


def test_every_code_is_its_predicates(messy_frame: pd.DataFrame) -> None:
    encoding = encode_features(messy_frame, list(messy_frame.columns), max_categories=10)
    assert encoding.columns == tuple(messy_frame.columns)
    for j, feature in enumerate(encoding.features):
        assert feature.codes.min() >= 0 and feature.codes.max() < feature.cardinality
        for code in range(feature.cardinality):
            piece = encoding.to_slice([(j, code)])
            assert (piece.mask(messy_frame) == (feature.codes == code)).all(), piece.text
            assert parse_slice(piece.text) == piece


def test_found_slices_select_exactly_their_code_rows(messy_frame: pd.DataFrame) -> None:
    encoding = encode_features(messy_frame, list(messy_frame.columns))
    rng = np.random.default_rng(1)
    errors = (rng.random(len(messy_frame)) < 0.1) | (messy_frame["cat"] == "a").to_numpy()
    found = find_slices(
        encoding.codes,
        errors.astype(float),
        cardinalities=encoding.cardinalities,
        k=20,
        max_level=3,
        min_support=10,
    )
    assert found
    for s in found:
        mask = encoding.to_slice(s.items).mask(messy_frame)
        assert (mask == encoding.code_mask(s.items)).all()
        assert mask.sum() == s.size


def test_conftest_frame_with_odd_names_round_trips(binary_frame: pd.DataFrame) -> None:
    features = [c for c in binary_frame.columns if c not in ("id", "label", "prediction")]
    encoding = encode_features(binary_frame, features)
    for j, feature in enumerate(encoding.features):
        for code in range(feature.cardinality):
            piece = encoding.to_slice([(j, code)])
            assert (piece.mask(binary_frame) == (feature.codes == code)).all(), piece.text


def test_encoding_rules(messy_frame: pd.DataFrame) -> None:
    encoding = encode_features(messy_frame, ["x num", "few", "many", "int"], max_categories=10)
    labels = {f.column: [f.label(c) for c in range(f.cardinality)] for f in encoding.features}
    assert labels["x num"][0].startswith("`x num` < ")  # first bin: only an upper bound
    assert labels["x num"][-1] == "`x num` is missing"
    assert len(labels["x num"]) == 5 + 1
    assert labels["few"] == ["few == 0", "few == 1", "few == 2"]
    assert len(labels["many"]) == 10 and labels["many"][-1].startswith("many not in (")
    assert all(len(b.split(" ")[2]) <= 4 for b in labels["int"][1:])  # 3 significant digits


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 5)),
        min_size=1,
        max_size=60,
    ),
    n_bins=st.integers(1, 6),
)
def test_numeric_codes_partition_like_their_predicates(values: list[float], n_bins: int) -> None:
    frame = pd.DataFrame({"v": np.array(values, dtype=float)})
    feature = encode_features(frame, ["v"], n_bins=n_bins).features[0]
    for code in range(feature.cardinality):
        mask = encode_features(frame, ["v"], n_bins=n_bins).to_slice([(0, code)]).mask(frame)
        assert (mask == (feature.codes == code)).all()


def test_unknown_and_unsupported_columns(messy_frame: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="'nope' is not in the table"):
        encode_features(messy_frame, ["nope"])
    frame = messy_frame.assign(wait=pd.to_timedelta(np.arange(len(messy_frame)), unit="s"))
    with pytest.warns(UserWarning, match="'wait' left out"):
        encoding = encode_features(frame, ["wait", "few"])
    assert encoding.skipped == ("wait",) and encoding.columns == ("few",)


# --------------------------------------------------------------------------- error tree


def assert_nodes_are_exact(tree: Any, frame: pd.DataFrame, target: np.ndarray) -> None:
    """Every node's slice selects exactly the rows the tree routes through it."""
    path = tree.decision_path().toarray()
    assert path[:, 0].all()
    for node in tree.nodes:
        mask = node.slice.mask(frame)
        assert (mask == path[:, node.id]).all(), node.slice.text
        assert node.size == mask.sum()
        assert node.error_sum == pytest.approx(target[mask].sum())
        if node.children:  # the children partition their parent
            covered = path[:, list(node.children)].sum(axis=1)
            assert (covered == mask).all()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_tree_nodes_are_exact_slices(messy_frame: pd.DataFrame, task: str) -> None:
    rng = np.random.default_rng(3)
    n = len(messy_frame)
    bad = (messy_frame["x num"] > 60) & (messy_frame["cat"] == "a") | messy_frame["x num"].isna()
    errors = (bad.to_numpy() & (rng.random(n) < 0.8)) | (rng.random(n) < 0.1)
    target = errors.astype(float) if task == "classification" else rng.normal(size=n) + 3 * errors
    tree = fit_error_tree(
        messy_frame, target, features=list(messy_frame.columns), max_depth=4, min_samples_leaf=15
    )
    assert tree.task == task
    assert len(tree.nodes) > 7 and max(node.depth for node in tree.nodes) == 4
    assert any(len(node.children) == 3 for node in tree.nodes)  # missing values: own child
    assert_nodes_are_exact(tree, messy_frame, target)
    assert sum(leaf.error_share for leaf in tree.leaves()) == pytest.approx(1.0)


def test_tree_on_conftest_frame_with_odd_names(binary_frame: pd.DataFrame) -> None:
    errors = (binary_frame["label"] != binary_frame["prediction"]).to_numpy(dtype=float)
    features = [c for c in binary_frame.columns if c not in ("id", "label", "prediction")]
    tree = fit_error_tree(binary_frame, errors, features=features, max_depth=3, min_samples_leaf=5)
    assert_nodes_are_exact(tree, binary_frame, errors)
    assert list(tree.to_frame().columns[:4]) == ["id", "depth", "parent", "slice"]


def test_tree_finds_the_error_region() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    frame = pd.DataFrame({"age": rng.integers(18, 90, n), "plan": rng.choice(["free", "pro"], n)})
    errors = ((frame["age"] > 70) & (frame["plan"] == "free")).to_numpy(dtype=float)
    tree = fit_error_tree(frame, errors, features=["age", "plan"], max_depth=2)
    worst = max(tree.leaves(), key=lambda node: node.error_mean)
    assert worst.error_mean == 1.0 and worst.error_share == 1.0
    assert worst.slice == parse_slice("age > 70 and plan == 'free'")


def test_tree_edge_cases(messy_frame: pd.DataFrame) -> None:
    zeros = np.zeros(len(messy_frame))
    assert len(fit_error_tree(messy_frame, zeros, features=["few"]).nodes) == 1
    assert len(fit_error_tree(messy_frame, zeros + 1, features=["few"], max_depth=0).nodes) == 1
    with pytest.raises(SchemaError, match="'nope' is not in the table"):
        fit_error_tree(messy_frame, zeros, features=["nope"])
    with pytest.raises(ValueError, match="0/1 error target"):
        fit_error_tree(messy_frame, zeros + 0.5, features=["few"], task="classification")
    with pytest.raises(ValueError, match="one value per row"):
        fit_error_tree(messy_frame, zeros[:10], features=["few"])
