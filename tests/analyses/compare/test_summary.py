"""Tests of the Markdown review summary (mlqa_debug.analyses.compare.summary).

There is no Markdown renderer among the test dependencies, so the checks read
the Markdown the way GitHub's table parser does: a cell ends at a ``|`` that is
not backslash-escaped, and a user's text is inert when each character with an
inline meaning (``\\ ` * _ [ ] < > | ~ & $``) is escaped and no line break or bare
link is left in it.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest

from mlqa_debug.analyses.compare.report import Comparison, compare
from mlqa_debug.analyses.compare.summary import (
    MARKDOWN_INLINE,
    WORD_JOINER,
    compare_link,
    compare_url,
    markdown_text,
    review_markdown,
)
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import EMPTY, parse_slice
from tests.analyses.compare.test_report import (
    HOSTILE_SLICE,
    HOSTILE_VALUE,
    planted_tables,
    regression_pair,
)

BASE = "https://mlqa.example.com/app/"
UNEMPLOYED = "employment == 'unemployed'"


def cells(line: str) -> list[str]:
    """A table row's cells as GFM splits them: at each pipe that is not backslash-escaped."""
    out, current, i = [], "", 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            current += line[i : i + 2]
            i += 2
            continue
        if line[i] == "|":
            out.append(current)
            current = ""
        else:
            current += line[i]
        i += 1
    out.append(current)
    return [c.strip() for c in out[1:-1]]


def unescaped(text: str, chars: str) -> list[str]:
    """Characters of ``chars`` in ``text`` that are not preceded by an escaping backslash."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in chars:
            found.append(text[i])
        i += 1
    return found


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table: its rows as cells (header first, separator left out)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            if not re.fullmatch(r"\|(:?-{3,}:?\|)+", line):
                current.append(cells(line))
        elif current:
            found.append(current)
            current = []
    return found


@pytest.fixture(scope="module")
def loans_comparison(loans: Predictions, loans_v2: Predictions) -> Comparison:
    return compare(loans_v2, loans, discover=False, names=("loans_v2", "loans"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    folder = tmp_path_factory.mktemp("hostile")
    candidate, baseline = planted_tables(folder)
    return compare(candidate, baseline, discover=False, names=(HOSTILE_VALUE, "base|`x`"))


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "text",
    [HOSTILE_VALUE, "a\\|b", "`code`", "<script>alert(1)</script>", "~~x~~ *y* _z_ $m$",
     "[t](javascript:alert(1)) ![i](http://x/i.png)", "line\r\nbreak\u2028x\tz"],
)  # fmt: skip
def test_markdown_text_leaves_nothing_active(text: str) -> None:
    out = markdown_text(text)
    assert unescaped(out, MARKDOWN_INLINE.replace("\\", "")) == []
    assert not re.search(r"[\r\n\t\u2028]", out)
    assert "http:" not in out and "@t" not in out  # bare links and mentions broken
    # What a reader sees is the text itself (escapes and joiners gone, breaks as spaces):
    seen = re.sub(r"\\(.)", r"\1", out).replace(WORD_JOINER, "")
    assert seen == re.sub(r"[\r\n\t\u2028]+", " ", text)


def test_markdown_text_breaks_links_and_mentions() -> None:
    out = markdown_text("see https://e.vil and www.e.vil or @org/team")
    assert f"https{WORD_JOINER}:" in out and f"www{WORD_JOINER}\\." not in out
    assert f"www{WORD_JOINER}." in out and f"@{WORD_JOINER}org" in out


# --------------------------------------------------------------------------- the loans pair


def test_loans_summary_reads_like_a_review(loans_comparison: Comparison) -> None:
    md = review_markdown(loans_comparison)
    lines = md.splitlines()
    assert lines[0] == "### Model comparison: Regression"
    c = loans_comparison
    assert "**Candidate:** loans\\_v2" in md and f"`{c.candidate.short_fingerprint}`" in md
    assert "**Baseline:** loans" in md and f"`{c.baseline.short_fingerprint}`" in md
    assert "loans-hgb 2" in md and "loans-hgb 1" in md
    metrics, flips, worse = tables(md)
    assert metrics[0] == ["Metric", "Baseline", "Candidate", "Difference", "95% CI", "p",
                          "Reading"]  # fmt: skip
    assert all(len(row) == 7 for row in metrics) and len(metrics) == len(c.headline.rows) + 1
    assert metrics[1][:4] == ["Error rate", "16.7%", "17.3%", "+0.6 pts"]
    assert metrics[1][6] == "**worse**"
    assert flips[1][:2] == ["766 (3.83%)", "640 (3.20%)"]
    assert worse[0][7] == "Holm-adjusted p" and worse[1][0] == UNEMPLOYED
    assert worse[1][1] == "1,343" and all(len(row) == len(worse[0]) for row in worse)
    assert len(worse) - 1 == min(10, len(c.worse_slices))
    assert "McNemar" in md and "Holm" in md and "](" not in md  # no link without a base


def test_links_open_each_slice_on_the_compare_page(loans_comparison: Comparison) -> None:
    md = review_markdown(loans_comparison, link=compare_link(BASE, "loans_v2", "loans"))
    links = re.findall(r"\[([^\]]*)\]\((\S+?)\)", md)
    assert len(links) == min(10, len(loans_comparison.worse_slices))
    text, url = links[0]
    assert text == UNEMPLOYED
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE + "compare"
    query = urllib.parse.parse_qs(parts.query)
    assert query == {"ds": ["loans_v2"], "vs": ["loans"], "slice": [UNEMPLOYED]}
    assert not re.search(r"[\s()<>]", url)


def test_max_slices_limits_the_table(loans_comparison: Comparison) -> None:
    md = review_markdown(loans_comparison, max_slices=1)
    worse = tables(md)[2]
    assert len(worse) == 2
    n_more = len(loans_comparison.worse_slices) - 1
    assert f"{n_more} more significantly worse slices not shown." in md


def test_no_difference_says_so(loans: Predictions) -> None:
    md = review_markdown(compare(loans, loans, discover=False))
    assert md.startswith("### Model comparison: No significant difference\n")
    assert "No slice is significantly worse" in md and len(tables(md)) == 2


def test_improvement_inside_a_slice(loans: Predictions, loans_v2: Predictions) -> None:
    c = compare(loans_v2, loans, where=parse_slice("employment == 'gig'"), discover=False)
    md = review_markdown(c)
    assert md.startswith("### Model comparison: Improvement\n")
    assert "**Slice:** employment == 'gig'" in md and "**better**" in md


def test_regression_summary(diabetes: Predictions, tmp_path: Path) -> None:
    candidate, baseline = regression_pair(diabetes, tmp_path)
    md = review_markdown(compare(candidate, baseline, discover=False))
    metrics, flips, worse = tables(md)
    assert metrics[1][0] == "Mean absolute error" or "MAE" in metrics[1][0]
    assert len(flips[0]) == 3 and flips[0][0].startswith("Broken")
    assert worse[1][0] == "sex == 'female'" and "paired t" in md


# --------------------------------------------------------------------------- hostile input


def test_hostile_names_and_values_stay_text(hostile: Comparison) -> None:
    md = review_markdown(hostile, link=compare_link(BASE, "c", "b"))
    for table in tables(md):
        assert len({len(row) for row in table}) == 1, table  # no cell split by user text
    prose = re.sub(r"\]\([^)\s]*\)", "]", md)  # the link targets are ours
    for info in (hostile.candidate, hostile.baseline):
        prose = prose.replace(f"`{info.short_fingerprint}`", "")
    assert unescaped(prose, "`<>~$&") == []  # no code span, HTML, strike, math or entity
    assert "<b>" not in md and "http:" not in md.replace(BASE, "")
    links = re.findall(r"(?<!\\)\]\((\S+?)\)", md)
    assert links and all(url.startswith(BASE + "compare?") for url in links)
    slice_param = urllib.parse.parse_qs(urllib.parse.urlsplit(links[0]).query)["slice"][0]
    assert parse_slice(slice_param) == HOSTILE_SLICE
    heading_block = md.split("\n\n")[1]
    assert heading_block.count("\n") == 3  # four lines: the names' line breaks are gone


def test_bad_link_bases_are_refused() -> None:
    for base in ("javascript:alert(1)", "ftp://x.org", "mlqa.example.com", ""):
        with pytest.raises(ParameterError, match="http"):
            compare_link(base, "a", "b")


def test_compare_url_encodes_everything() -> None:
    url = compare_url("http://h:8501/a b(c)", "d s", "v&s=x", parse_slice("`a b` == 'x&y'"))
    assert url.startswith("http://h:8501/a%20b%28c%29/compare?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query == {"ds": ["d s"], "vs": ["v&s=x"], "slice": ["`a b` == 'x&y'"]}
    assert "slice" not in compare_url("https://h", "a", "b", EMPTY)


def test_summary_ends_with_a_newline_and_never_says_nan(loans_comparison: Comparison) -> None:
    md = review_markdown(loans_comparison)
    assert md.endswith("\n") and "nan" not in md
    assert "  \n" in md  # hard line breaks between the header lines


def test_an_undefined_difference_reads_as_missing_not_same() -> None:
    from mlqa_debug.analyses.compare.summary import _reading

    assert _reading(float("nan"), False, False) == "–"
    assert _reading(0.0, False, False) == "same"
    assert _reading(0.01, True, True) == "**worse**"
    assert _reading(-0.01, False, False) == "better, not significant"
