"""Discovery on predictions tables: parameters, caching, planted failure modes, the tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.discovery.service import (
    DEFAULT_PARAMS,
    ERROR_MEASURES,
    DiscoveryParams,
    default_features,
    discover_slices,
    error_vector,
    grow_error_tree,
)
from mlqa_debug.cache import DiskCache
from mlqa_debug.cli import slices as cli_slices
from mlqa_debug.cli.main import build_parser, main
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.data.workspace import Workspace
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import MAX_SLICE_LENGTH, parse_slice
from mlqa_debug.ui.links import MAX_PARAM_LENGTH


def test_results_are_exact_slices(loans: Predictions) -> None:
    result = discover_slices(loans, DiscoveryParams(k=10, max_level=2))
    assert 0 < len(result.slices) <= 12
    for d in result.slices:
        mask = d.slice.mask(loans.slice_frame)
        assert int(mask.sum()) == d.size
        assert int(loans.error[mask].sum()) == pytest.approx(d.error_sum)
        assert d.low <= d.error_rate <= d.high
    scores = [d.score for d in result.slices]
    assert scores == sorted(scores, reverse=True)


def test_planted_failure_modes_come_out_near_the_top(loans: Predictions) -> None:
    texts = [d.slice.text for d in discover_slices(loans, DiscoveryParams(alpha=0.98, k=5)).slices]
    assert "employment == 'gig'" in texts[:3]
    tree = grow_error_tree(loans, max_depth=2)
    conditions = " ".join(n.slice.text for n in tree.nodes)
    assert "income >" in conditions and "employment" in conditions


def test_search_inside_a_slice(loans: Predictions) -> None:
    within = "region == 'coastal'"
    result = discover_slices(loans, DiscoveryParams(within=within, min_support=0.02))
    inside = parse_slice(within).mask(loans.slice_frame)
    assert result.n_rows == int(inside.sum())
    for d in result.slices:
        assert "region == 'coastal'" in d.slice.text
        assert not (d.slice.mask(loans.slice_frame) & ~inside).any()


def test_cache_returns_the_same_result(loans: Predictions, tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    params = DiscoveryParams(k=5)
    first = discover_slices(loans, params, cache=cache)
    second = discover_slices(loans, params, cache=cache)
    assert not first.cached and second.cached
    assert [d.slice for d in first.slices] == [d.slice for d in second.slices]
    assert [d.score for d in first.slices] == pytest.approx([d.score for d in second.slices])
    other = discover_slices(loans, DiscoveryParams(k=3), cache=cache)
    assert not other.cached


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0}, "alpha"),
        ({"k": 0}, "k must be"),
        ({"max_level": 9}, "max level"),
        ({"min_support": -1}, "min support"),
        ({"n_bins": 1}, "bins"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        DiscoveryParams(**kwargs)


def test_measures_fit_the_task(sample_workspace: Workspace, loans: Predictions) -> None:
    diabetes = sample_workspace.load("diabetes")
    np.testing.assert_allclose(error_vector(diabetes, "abs_error"), np.abs(diabetes.residual))
    assert error_vector(loans, "log_loss").min() >= 0
    with pytest.raises(ParameterError, match="regression"):
        error_vector(loans, "abs_error")
    assert discover_slices(diabetes, DiscoveryParams(measure="abs_error", min_support=20)).slices


def test_digits_fall_back_to_pixels(sample_workspace: Workspace) -> None:
    digits = sample_workspace.load("digits")
    assert len(default_features(digits)) == 64
    loans_features = default_features(sample_workspace.load("loans"))
    assert "employment" in loans_features and "id" not in loans_features


def test_tree_nodes_are_exact_inside_a_slice(sample_workspace: Workspace) -> None:
    diabetes = sample_workspace.load("diabetes")
    tree = grow_error_tree(diabetes, max_depth=2, min_samples_leaf=10, within="bmi >= 25",
                           target="abs_residual")  # fmt: skip
    frame = diabetes.slice_frame
    root = tree.nodes[0]
    assert root.size == int(parse_slice("bmi >= 25").mask(frame).sum())
    for node in tree.nodes:
        mask = node.slice.mask(frame)
        assert int(mask.sum()) == node.size
        assert np.abs(diabetes.residual[mask]).mean() == pytest.approx(node.error_mean)


def test_cli_discover(capsys: pytest.CaptureFixture[str], sample_workspace: Workspace) -> None:
    args = [
        "discover",
        "loans",
        "--workspace",
        str(sample_workspace.root),
        "--k",
        "3",
        "--alpha",
        "0.98",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "employment == 'gig'" in out
    assert main([*args, "--json"]) == 0
    data = pd.read_json(__import__("io").StringIO(capsys.readouterr().out), typ="series")
    assert len(data["slices"]) >= 3
    assert (
        main(["discover", "loans", "--workspace", str(sample_workspace.root), "--alpha", "2"]) == 2
    )
    assert "alpha" in capsys.readouterr().err


def test_cli_discover_defaults_are_the_services() -> None:
    args = build_parser().parse_args(["discover", "loans"])
    assert DEFAULT_PARAMS == DiscoveryParams()
    assert cli_slices.discovery_params(args) == DEFAULT_PARAMS
    assert (args.alpha, args.k, args.max_level, args.min_support, args.bins, args.measure) == (
        DEFAULT_PARAMS.alpha,
        DEFAULT_PARAMS.k,
        DEFAULT_PARAMS.max_level,
        DEFAULT_PARAMS.min_support,
        DEFAULT_PARAMS.n_bins,
        DEFAULT_PARAMS.measure,
    )


def test_cli_discover_measures_are_the_services(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["discover", "loans", "--measure", "nope"])
    assert f"choose from {', '.join(map(repr, ERROR_MEASURES))}" in capsys.readouterr().err


def test_cli_discover_follows_a_changed_service_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser reads the service's defaults when it is built; none are copied into the CLI."""
    changed = DiscoveryParams(alpha=0.5, k=7, max_level=3, min_support=0.2, n_bins=9)
    monkeypatch.setattr(cli_slices, "DEFAULT_PARAMS", changed)
    args = build_parser().parse_args(["discover", "loans"])
    assert cli_slices.discovery_params(args) == changed
    with pytest.raises(SystemExit):
        main(["discover", "--help"])
    assert "(default 7)" in capsys.readouterr().out


def long_slice(length: int) -> str:
    """A slice of about ``length`` characters that holds the coastal rows (and names others)."""
    others = ", ".join(f"'r{i:06d}'" for i in range(length // 11))
    return parse_slice(f"region in ('coastal', {others})", max_length=MAX_SLICE_LENGTH).text


def test_a_slice_as_long_as_the_pages_accept_can_be_searched(
    loans: Predictions, tmp_path: Path
) -> None:
    """Discover once refused slices over 10,000 characters that the Slices page accepts."""
    within = long_slice(15_000)
    assert 10_000 < len(within) <= MAX_SLICE_LENGTH == MAX_PARAM_LENGTH
    coastal = parse_slice("region == 'coastal'").mask(loans.slice_frame)
    cache = DiskCache(tmp_path)
    params = DiscoveryParams(within=within, min_support=0.02, max_level=1, k=3)
    first = discover_slices(loans, params, cache=cache)
    again = discover_slices(loans, params, cache=cache)
    assert again.cached and [d.slice for d in again.slices] == [d.slice for d in first.slices]
    assert first.slices and first.n_rows == int(coastal.sum())
    assert all(not (d.slice.mask(loans.slice_frame) & ~coastal).any() for d in first.slices)
    tree = grow_error_tree(loans, max_depth=1, within=within)
    assert tree.nodes[0].size == int(coastal.sum())
