"""Tests of mlqa_debug.analyses.compare.view: the Compare page's tables and sentences."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlqa_debug.analyses.compare import (
    Flips,
    Headline,
    MetricDelta,
    flip_counts,
    flip_table,
    headline,
    newly_failing,
    pair_predictions,
    slice_deltas,
    view,
)
from mlqa_debug.data.predictions import Predictions

from .helpers import classification_pair, predictions

NAN = math.nan


def delta(metric: str = "error_rate", **fields: object) -> MetricDelta:
    values: dict[str, object] = {
        "metric": metric, "label": "Error rate", "baseline": 0.1666, "candidate": 0.1729,
        "difference": 0.0063, "ci_low": 0.0026, "ci_high": 0.0100, "p_value": 0.0009,
        "test": "McNemar exact", "higher_is_better": False,
    }  # fmt: skip
    values.update(fields)
    return MetricDelta(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("error_rate", 0.1729, "17.3%"),
        ("recall[1]", 0.5, "50.0%"),
        ("macro_f1", 0.25, "25.0%"),
        ("log_loss", 0.48213, "0.482"),
        ("mae", 41.234, "41.2"),
        ("mae", NAN, "–"),
        ("error_rate", NAN, "–"),
    ],
)
def test_values_read_as_rates_or_numbers(metric: str, value: float, expected: str) -> None:
    assert view.value_text(value, metric) == expected


def test_differences_and_intervals() -> None:
    assert view.difference_text(0.0063, "error_rate") == "+0.6 pts"
    assert view.difference_text(-0.058, "recall[1]") == "-5.8 pts"
    assert view.difference_text(0.0354, "log_loss") == "+0.0354"
    assert view.interval_text(0.0026, 0.01, "error_rate") == "[+0.3 pts, +1.0 pts]"
    assert view.interval_text(NAN, 0.01, "error_rate") == "–"
    assert view.interval_text(-1.5, 2.25, "mae") == "[-1.5, +2.25]"


def test_lower_label() -> None:
    assert view.lower_label("Error rate") == "error rate"
    assert view.lower_label("MAE") == "MAE"
    assert view.lower_label("F1 (class 1)") == "F1 (class 1)"


def test_headline_frame_reads_each_row() -> None:
    rows = (
        delta(),
        delta("accuracy", label="Accuracy", baseline=0.8334, candidate=0.8271, difference=-0.0063,
              ci_low=-0.01, ci_high=-0.0026, higher_is_better=True),
        delta("recall[1]", label="Recall (class 1)", baseline=0.8, candidate=0.81,
              difference=0.01, ci_low=-0.01, ci_high=0.03, p_value=0.3, higher_is_better=True),
        delta("log_loss", label="Log loss", baseline=NAN, candidate=NAN, difference=NAN,
              ci_low=NAN, ci_high=NAN, p_value=NAN, test="paired t"),
    )  # fmt: skip
    frame = view.headline_frame(Headline(n=20_000, rows=rows, alpha=0.05, primary=rows[0]))
    assert list(frame.columns) == ["metric", "baseline", "candidate", "difference", "95% CI",
                                   "p", "reading", "test"]  # fmt: skip
    assert frame.iloc[0].tolist() == ["Error rate", "16.7%", "17.3%", "+0.6 pts",
                                      "[+0.3 pts, +1.0 pts]", "< 0.001", "worse",
                                      "McNemar exact"]  # fmt: skip
    assert frame.iloc[1]["reading"] == "worse"  # accuracy fell: worse, with its own direction
    assert frame.iloc[2]["reading"] == "better (not significant)"
    assert frame.iloc[3].tolist()[1:6] == ["–"] * 5  # undefined: dashes, never nan
    assert frame.iloc[3]["reading"] == "same"


def test_the_verdict_sentence_names_the_numbers(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    head = headline(paired)
    deltas = slice_deltas(paired)
    text = view.verdict_sentence("Regression", head, deltas)
    assert text.startswith("Regression: Error rate 16.7% → 17.3% (+0.6 pts, 95% CI [")
    assert "p < 0.001; McNemar exact" in text
    assert "on 20,000 paired rows" in text
    n_significant = int(deltas.frame["significant"].sum())
    assert f"{n_significant} of {deltas.n_compared} slices are significantly worse" in text
    assert "Holm" in text and "nan" not in text


def test_match_problems_are_counted_with_examples(rng: np.random.Generator) -> None:
    base, cand = classification_pair(rng, 300, classes=3)
    cand = cand.iloc[5:].copy()  # ids 0-4 only in the baseline
    extra = cand.iloc[:2].assign(id=[1000, 1001])  # only in the candidate
    cand = pd.concat([cand, extra], ignore_index=True)
    cand.loc[cand["id"] == 10, "label"] = (cand.loc[cand["id"] == 10, "label"] + 1) % 3
    paired = pair_predictions(predictions(cand), predictions(base))
    # the loader refuses repeated ids; the pairing reports them for tables that have some
    paired = replace(paired, duplicated_candidate=np.array([5]))
    problems = {p.problem: p for p in view.match_problems(paired)}
    assert problems["Only in the baseline (not compared)"].count == 5
    assert problems["Only in the baseline (not compared)"].examples == "0, 1, 2, 3, 4"
    assert problems["Only in the candidate (not compared)"].count == 2
    assert problems["Duplicated ids in the candidate"].count == 1
    assert problems["Labels differ between the tables (not compared)"].examples == "10"
    assert "Duplicated ids in the baseline" not in problems  # only those that occur
    frame = view.match_frame(problems.values())
    assert list(frame.columns) == ["problem", "rows", "examples"]


def test_many_ids_end_with_an_ellipsis() -> None:
    assert view._examples(np.arange(12)) == "0, 1, 2, 3, 4, …"


def test_flip_rows_in_the_order_asked() -> None:
    flips = Flips(n=1000, both_right=800, broken=100, fixed=50, both_wrong_same=50,
                  both_wrong_different=None)  # fmt: skip
    rows = view.flip_rows(flips)
    assert rows == [("Broken", "100", "10.00%"), ("Fixed", "50", "5.00%"),
                    ("Still wrong, same", "50", "5.00%")]  # fmt: skip
    assert view.flip_rows(flips, ["fixed"]) == [("Fixed", "50", "5.00%")]


def test_flip_frame_writes_probabilities_as_text(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    page = flip_table(paired, "broken", page=0, page_size=5)
    shown = view.flip_frame(page.frame)
    assert len(shown) == 5
    raw = page.frame["candidate confidence"].iloc[0]
    assert shown["candidate confidence"].iloc[0] == f"{raw:.3g}"
    assert shown["id"].tolist() == page.frame["id"].tolist()  # ids untouched
    assert page.frame["candidate confidence"].dtype == np.float64  # the page's frame unchanged


def test_deltas_frame_formats_and_links(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    deltas = slice_deltas(paired)
    table = view.deltas_frame(deltas, here=lambda t: f"/compare?slice={t}",
                              on_slices=lambda t: f"/slices?slice={t}")  # fmt: skip
    assert len(table) == len(deltas.frame)
    top = table[table["kind"] != "all rows"].iloc[0]
    assert top["slice"] == "employment == 'unemployed'"
    assert (top["rows"], top["baseline"], top["candidate"]) == ("1,343", "23.0%", "26.3%")
    assert top["difference"] == "+3.3 pts" and top["p"] == "< 0.001"
    assert top["open here"] == "/compare?slice=employment == 'unemployed'"
    whole = table[table["kind"] == "all rows"].iloc[0]
    assert whole["slice"] == "all rows" and whole["rows"] == "20,000"
    assert whole["open here"] == "/compare?slice="
    assert table["significant"].dtype == bool
    assert table["significant"].sum() == deltas.frame["significant"].sum()
    for column in table.columns.drop("significant"):
        assert not table[column].astype(str).str.contains("nan").any(), column
    caption = view.deltas_caption(deltas)
    assert "Holm" in caption and "McNemar" in caption


def test_the_caption_says_what_was_hidden(loans: Predictions, loans_v2: Predictions) -> None:
    deltas = slice_deltas(pair_predictions(loans_v2, loans), min_size=2000, correction="bh")
    assert deltas.n_hidden > 0
    caption = view.deltas_caption(deltas)
    assert f"{deltas.n_hidden} slices under 2,000 rows hidden" in caption
    assert "Benjamini-Hochberg" in caption


def test_flip_counts_and_their_table_agree(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    rows = dict((label, n) for label, n, _ in view.flip_rows(flip_counts(paired)))
    assert rows["Broken"] == "766" and rows["Fixed"] == "640"


def test_newly_frame_ranks_and_links(loans: Predictions, loans_v2: Predictions) -> None:
    paired = pair_predictions(loans_v2, loans)
    newly = newly_failing(paired, k=5)
    frame = view.newly_frame(newly, here=lambda t: f"/compare?slice={t}",
                             on_slices=lambda t: f"/slices?slice={t}")  # fmt: skip
    assert frame["rank"].tolist() == list(range(1, len(newly.slices) + 1))
    first = newly.slices[0]
    assert frame["slice"].iloc[0] == first.slice.text
    assert frame["broken"].iloc[0] == f"{first.broken:,}"
    assert frame["open here"].iloc[0] == f"/compare?slice={first.slice.text}"
    empty = view.newly_frame(replace(newly, slices=()), here=str, on_slices=str)
    assert empty.empty and "open here" in empty.columns


def test_significant_slices_are_marked(loans: Predictions, loans_v2: Predictions) -> None:
    deltas = slice_deltas(pair_predictions(loans_v2, loans))
    table = view.deltas_frame(deltas, here=str, on_slices=str)
    marked = table["worse"] == view.SIGNIFICANT_MARK
    assert marked.tolist() == deltas.frame["significant"].tolist()
    assert set(table.loc[~marked, "worse"]) <= {""}
    assert table.loc[marked, "slice"].iloc[0] == "employment == 'unemployed'"
