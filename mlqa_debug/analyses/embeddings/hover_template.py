"""One trace's hover label as data: typed ``customdata``, a few text arrays, a ``hovertemplate``.

Numbers travel as a 2-D typed array (the row position first, float32 where it
is exact enough) and are formatted in the browser with d3 formats; a value every
point of the trace shares is written into the template once; other text values
travel as strings. At 50,000 points that is about 3 MB instead of 9 MB with an
HTML string per point. The fields come from
:func:`mlqa_debug.analyses.embeddings.hover.hover_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlqa_debug.analyses.embeddings.hover import HoverField, HoverTable

__all__ = ["TraceHover", "trace_hover"]

FLOAT32_EXACT = 2**24
"""Below this magnitude float32 keeps every integer and 7 significant digits (4 are shown)."""
_NONE = np.empty(0)


@dataclass(frozen=True, eq=False)
class TraceHover:
    """What one plotly trace needs for its hover labels.

    ``customdata`` is the points' row positions (int32, 1-D) or, when some fields
    are numbers, a 2-D float array whose first column is the row position.
    ``text`` and ``hovertext`` carry the text values that differ between points
    (``None`` when not needed); ``template`` is the ``hovertemplate``.
    """

    customdata: np.ndarray
    text: np.ndarray | None
    hovertext: np.ndarray | None
    template: str


def _literal(html_text: str) -> str:
    """HTML placed in a hovertemplate: braces as entities, so no ``%{...}`` is read in it."""
    return html_text.replace("{", "&#123;").replace("}", "&#125;")


def _d3_format(field: HoverField, values: np.ndarray) -> str | None:
    """The d3 format that shows ``values`` as :meth:`HoverField.texts` does, or ``None``."""
    if field.kind == "integer":
        return ""
    if field.kind == "probability":
        return ".2f"
    if field.kind == "signed":
        return "+.4~g"
    large = np.abs(values) >= 10_000
    if large.all():
        return ",.0f"
    return ".4~g" if not large.any() else None  # a mix: Python formats it


@dataclass(frozen=True, eq=False)
class _Part:
    """How one field travels in a trace: ``literal`` (in the template), ``number``
    (a customdata column, shown with the d3 format ``fmt``) or ``text`` (per point)."""

    how: Literal["literal", "number", "text"]
    field: HoverField
    values: np.ndarray  # the numbers (number) or strings (text); empty for a literal
    literal: str = ""
    fmt: str = ""

    def shown(self, rows: np.ndarray) -> np.ndarray | str:
        """The part's values as Python formats them (a literal is one string)."""
        if self.how == "literal":
            return self.literal
        return self.values if self.how == "text" else self.field.texts(rows)


def _part(field: HoverField, rows: np.ndarray) -> _Part:
    """How a field travels in this trace: as template text, a number column or text per point.

    A value shared by every point of the trace is written into the template once;
    numbers with a missing value (shown "–") or a mix of large and small values are
    formatted in Python and travel as text.
    """
    if field.kind != "text":
        values = field.values[rows]
        if len(values) and np.isfinite(values).all():
            if (values == values[0]).all():
                return _Part("literal", field, _NONE, literal=field.texts(rows[:1])[0])
            fmt = _d3_format(field, values)
            if fmt is not None:
                return _Part("number", field, values, fmt=fmt)
    texts = field.texts(rows)
    if len(texts) and (texts == texts[0]).all():
        return _Part("literal", field, _NONE, literal=texts[0])
    return _Part("text", field, texts)


def _customdata(positions: np.ndarray, columns: list[np.ndarray], n_samples: int) -> np.ndarray:
    """Row positions (int32), or positions then number columns as float32 where exact enough."""
    if not columns:
        return positions.astype(np.int32)
    matrix = np.column_stack([positions.astype(np.float64), *columns])
    small = n_samples <= FLOAT32_EXACT and np.abs(matrix).max() < FLOAT32_EXACT
    return matrix.astype(np.float32 if small else np.float64)


def trace_hover(table: HoverTable, rows: np.ndarray) -> TraceHover:
    """The hover of the trace drawing ``table``'s points ``rows``.

    Text values that differ between points travel in ``text`` (the first such
    field) and ``hovertext`` (the second; when there are more, everything from
    the second to the last is rendered into ``hovertext``, so the label keeps
    its order).
    """
    parts = [_part(f, rows) for f in table.fields]
    text_at = [i for i, p in enumerate(parts) if p.how == "text"]
    if len(text_at) > 2:
        first, last = text_at[1], text_at[-1]
        around = HoverField(parts[first].field.before, _NONE, "text", parts[last].field.after)
        parts[first : last + 1] = [_Part("text", around, _baked(parts[first : last + 1], rows))]
    columns: list[np.ndarray] = []
    carriers: list[np.ndarray] = []
    pieces: list[str] = []
    for part in parts:
        pieces.append(_literal(part.field.before))
        if part.how == "literal":
            pieces.append(_literal(part.literal))
        elif part.how == "number":
            columns.append(part.values)
            pieces.append(f"%{{customdata[{len(columns)}]{':' + part.fmt if part.fmt else ''}}}")
        else:
            prefix, rest = _common_prefix(part.values)
            carriers.append(rest)
            pieces.append(_literal(prefix) + ("%{text}" if len(carriers) == 1 else "%{hovertext}"))
        pieces.append(_literal(part.field.after))
    template = "".join(pieces) + "<extra>%{fullData.name}</extra>"
    return TraceHover(
        customdata=_customdata(table.positions[rows], columns, table.n_samples),
        text=carriers[0] if carriers else None,
        hovertext=carriers[1] if len(carriers) > 1 else None,
        template=template,
    )


def _common_prefix(texts: np.ndarray) -> tuple[str, np.ndarray]:
    """What every text starts with (sent once, in the template) and the rest of each.

    Ids such as ``B0012345`` share a prefix; the prefix stops before an HTML entity
    it would cut (the label is read as HTML only once the template is filled, so
    even that would show right, but a whole entity reads better).
    """
    values = texts.tolist()
    first, last = min(values), max(values)  # every text's prefix is theirs too
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    if prefix.rfind("&") > prefix.rfind(";"):
        prefix = prefix[: prefix.rfind("&")]
    if not prefix:
        return "", texts
    return prefix, np.array([t[len(prefix) :] for t in texts.tolist()], dtype=object)


def _baked(parts: list[_Part], rows: np.ndarray) -> np.ndarray:
    """The parts' values as one string per point, with the HTML between them.

    The first part's ``before`` and the last part's ``after`` stay in the template.
    """
    out: np.ndarray = np.full(len(rows), "", dtype=object)
    for k, part in enumerate(parts):
        before = part.field.before if k > 0 else ""
        after = part.field.after if k < len(parts) - 1 else ""
        out = out + before + part.shown(rows) + after
    return out
