r"""The review summary of a comparison: Markdown to paste into a GitHub or GitLab pull request.

:func:`review_markdown` writes a verdict heading (``Regression``, ``Improvement``
or ``No significant difference``), both tables' names and short fingerprints, a
table of the headline metrics (both values, the difference, its 95% interval, the
p-value), the flip counts, the worst slices that are significantly worse after
adjustment (linked to the Compare page when a ``link`` is given) and a line naming
the tests and the correction.

Names, slice text and ids come from users, so every one of them goes through
:func:`markdown_text` first: the characters that mean something inline in GitHub
Flavored Markdown (``\ ` * _ [ ] < > | ~ & $``) are backslash-escaped (so a name
can neither open a link, an image, a code span, HTML nor a table cell), line
breaks become spaces, and an invisible word joiner (U+2060) goes inside bare
``http:``/``www.`` links and after ``@``, which GitHub and GitLab would turn into
links or mentions after the escapes are gone.

:func:`compare_url` builds the link of a slice on the Compare page
(``BASE/compare?ds=CANDIDATE&vs=BASELINE&slice=...``, the page's parameter names).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from mlqa_debug.analyses.compare.report import (
    Comparison,
    TableInfo,
    records,
    slice_test_name,
)
from mlqa_debug.analyses.compare.view import difference_text, interval_text, value_text
from mlqa_debug.errors import ParameterError
from mlqa_debug.slicing import Slice, parse_slice
from mlqa_debug.stats.corrections import CORRECTIONS
from mlqa_debug.stats.format import MISSING, count, p_value, percent

__all__ = ["compare_link", "compare_url", "markdown_text", "review_markdown"]

MARKDOWN_INLINE = "\\`*_[]<>|~&$"
"""Characters with an inline meaning in GFM (links, code, HTML, emphasis, cells, math)."""
WORD_JOINER = "\u2060"

_SPECIAL = re.compile("([" + re.escape(MARKDOWN_INLINE) + "])")
_BARE_LINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=@)")
_LINE_BREAK = re.compile(r"[\r\n\t\v\f\u2028\u2029\x85]+")
#: Link targets keep their structure; a space, quote, bracket or parenthesis is encoded.
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"

_FLIP_TITLES = {
    "broken": "Broken (right to wrong)",
    "fixed": "Fixed (wrong to right)",
    "both_wrong_same": "Still wrong, same prediction",
    "both_wrong_different": "Still wrong, different prediction",
}
_REGRESSION_FLIP_TITLES = {
    "broken": "Broken (error grew past the threshold)",
    "fixed": "Fixed (error shrank past the threshold)",
    "both_wrong_same": "Still wrong",
}


def markdown_text(text: object) -> str:
    """``text`` as inert inline Markdown, safe in a table cell (one line, no markup, no links)."""
    flat = _LINE_BREAK.sub(" ", str(text))
    return _SPECIAL.sub(r"\\\1", _BARE_LINK.sub(WORD_JOINER, flat))


def compare_url(base: str, candidate: str, baseline: str, s: Slice) -> str:
    """``BASE/compare?ds=..&vs=..&slice=..``: the Compare page of ``s`` (``base`` http(s) only)."""
    parts = urllib.parse.urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ParameterError(
            f"the link base must be an http(s) URL such as https://mlqa.example.com, got {base!r}",
            name="link_base",
            value=base,
        )
    root = urllib.parse.quote(base.strip().rstrip("/"), safe=_URL_SAFE)
    query = {"ds": candidate, "vs": baseline} | ({"slice": s.text} if s.text else {})
    return f"{root}/compare?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"


def compare_link(base: str, candidate: str, baseline: str) -> Callable[[Slice], str]:
    """A ``link`` for :func:`review_markdown`: each slice on the Compare page under ``base``."""
    compare_url(base, candidate, baseline, Slice())  # refuse a bad base now

    def link(s: Slice) -> str:
        return compare_url(base, candidate, baseline, s)

    return link


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _table_line(role: str, info: TableInfo) -> str:
    model = f", model {markdown_text(info.model_text)}" if info.model_text else ""
    file = f", file {markdown_text(info.file)}" if info.file and info.file != info.name else ""
    fingerprint = f"fingerprint `{info.short_fingerprint}`"
    return f"**{role}:** {markdown_text(info.name)}{file} ({fingerprint}{model})"


def _reading(difference: float, worse: bool, significant: bool) -> str:
    if difference != difference:  # nan: the metric is undefined on one side
        return MISSING
    if not difference:
        return "same"
    word = "worse" if worse else "better"
    return f"**{word}**" if significant else f"{word}, not significant"


def _headline_lines(comparison: Comparison) -> list[str]:
    rows = []
    for d in comparison.headline.rows:
        significant = d.p_value < comparison.alpha
        rows.append(
            [
                markdown_text(d.label),
                value_text(d.baseline, d.metric),
                value_text(d.candidate, d.metric),
                difference_text(d.difference, d.metric),
                markdown_text(interval_text(d.ci_low, d.ci_high, d.metric)),
                markdown_text(p_value(d.p_value)),
                _reading(d.difference, d.worse, significant),
            ]
        )
    header = ["Metric", "Baseline", "Candidate", "Difference", "95% CI", "p", "Reading"]
    return _table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---"], rows)


def _flip_lines(comparison: Comparison) -> list[str]:
    flips = comparison.flips
    regression = flips.both_wrong_different is None
    titles = _REGRESSION_FLIP_TITLES if regression else _FLIP_TITLES
    header, cells = [], []
    for kind, title in titles.items():
        n = getattr(flips, kind)
        header.append(title)
        cells.append(f"{count(n)} ({percent(flips.rate(kind), digits=2)})")
    return _table(header, ["---:"] * len(header), [cells])


def _slice_cell(text: str, link: Callable[[Slice], str] | None) -> str:
    shown = markdown_text(slice_test_name(text))
    if link is None:
        return shown
    return f"[{shown}]({link(parse_slice(text))})"


def _worse_lines(
    comparison: Comparison, link: Callable[[Slice], str] | None, max_slices: int
) -> list[str]:
    deltas = comparison.deltas
    worse = comparison.worse_slices
    adjusted = f"{CORRECTIONS[deltas.correction]}-adjusted p"
    if not len(worse):
        return [
            f"No slice is significantly worse ({adjusted} < {comparison.alpha:g}; "
            f"{count(deltas.n_compared)} slices of at least {count(deltas.min_size)} rows "
            "compared)."
        ]
    metric = deltas.metric
    rows: list[list[str]] = []
    for row in records(worse.head(max_slices)):
        cells = [
            _slice_cell(row["slice"], link),
            count(row["rows"]),
            value_text(row["baseline"], metric),
            value_text(row["candidate"], metric),
            difference_text(row["difference"], metric),
            markdown_text(interval_text(row["ci_low"], row["ci_high"], metric)),
            markdown_text(p_value(row["p_value"])),
            markdown_text(p_value(row["p_adjusted"])),
        ]
        rows.append(cells + _broken_cells(row))
    header = ["Slice", "Rows", "Baseline", "Candidate", "Difference", "95% CI", "p", adjusted]
    align = ["---", *["---:"] * 7]
    if "broken" in worse.columns:
        header, align = [*header, "Broken", "Fixed"], [*align, "---:", "---:"]
    lines = _table(header, align, rows)
    if len(worse) > max_slices:
        lines += [
            "",
            f"{count(len(worse) - max_slices)} more significantly worse slices not shown.",
        ]
    return lines


def _broken_cells(row: dict[str, Any]) -> list[str]:
    return [count(row["broken"]), count(row["fixed"])] if "broken" in row else []


def review_markdown(
    comparison: Comparison, *, link: Callable[[Slice], str] | None = None, max_slices: int = 10
) -> str:
    """GitHub/GitLab Markdown for a pull request: verdict, metrics, flips, worst slices, tests."""
    c = comparison
    primary = c.headline.primary
    where = markdown_text(c.where.text) if c.where.text else "all rows"
    lines = [
        f"### Model comparison: {c.verdict}",
        "",
        _table_line("Candidate", c.candidate) + "  ",
        _table_line("Baseline", c.baseline) + "  ",
        f"**Rows:** {markdown_text(c.paired.summary())}  ",
        f"**Slice:** {where}",
        "",
        f"{markdown_text(primary.label)} {value_text(primary.baseline, primary.metric)} → "
        f"{value_text(primary.candidate, primary.metric)} "
        f"({difference_text(primary.difference, primary.metric)}, p "
        f"{markdown_text(p_value(primary.p_value))}) on {count(c.headline.n)} paired rows.",
        "",
        *_headline_lines(c),
        "",
        "#### Flips",
        "",
        *_flip_lines(c),
        "",
        "#### Where it got worse",
        "",
        *_worse_lines(c, link, max_slices),
        "",
        f"_{markdown_text(c.tests_text())}_",
        "",
    ]
    return "\n".join(lines)
