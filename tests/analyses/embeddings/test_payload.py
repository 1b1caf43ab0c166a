"""Tests of the map's payload: typed arrays and a hovertemplate instead of HTML per point.

The figure is read back from its JSON (what Streamlit sends), typed arrays
decoded as plotly.js decodes them, and each hover label rendered with a small
stand-in for plotly.js's template substitution and the d3 formats the figure
uses. The labels are compared with the fields computed here from the frame.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from mlqa_debug.analyses import embeddings as emb
from mlqa_debug.analyses.embeddings import hover, hover_template
from mlqa_debug.analyses.embeddings.figures import embedding_map
from mlqa_debug.data.predictions import Predictions
from tests.analyses.embeddings.helpers import load, pca_map

TEMPLATE_FIELD = re.compile(r"%{([^\s%{}:]*)([:|][^}]*)?}")  # plotly.js's TEMPLATE_STRING_REGEX
BYTES_PER_POINT = 60
"""x, y (float32), customdata (position and 5 numbers, float32) and a short id string."""


def _decode(value: Any) -> Any:
    """A plotly typed array (``{"dtype", "bdata", "shape"}``) as numbers, else ``value``."""
    if not (isinstance(value, dict) and "bdata" in value):
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = value.get("shape")
    return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array


def sent_traces(fig: Any) -> list[dict[str, Any]]:
    """The figure's traces as the browser receives them (typed arrays decoded)."""
    data = json.loads(pio.to_json(fig, validate=False))["data"]
    return [{key: _decode(value) for key, value in trace.items()} for trace in data]


def _js_string(value: float) -> str:
    """JavaScript's ``String(number)`` for the values used here."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _d3(fmt: str, value: float) -> str:
    """The d3 formats the figure uses (``~g`` trims zeros as Python's ``g`` does)."""
    if fmt == "":
        return _js_string(value)
    if fmt.endswith("~g"):
        return format(value, fmt.replace("~", ""))
    return format(value, fmt)


def render(trace: dict[str, Any], index: int) -> str:
    """Point ``index``'s hover label, as plotly.js substitutes the hovertemplate."""

    def field(match: re.Match[str]) -> str:
        key, fmt = match.group(1), (match.group(2) or ":")[1:]
        if key == "fullData.name":
            return str(trace["name"])
        if key.startswith("customdata["):
            return _d3(fmt, float(trace["customdata"][index][int(key[11:-1])]))
        return str(trace[key][index])  # a KeyError: a field the trace does not send

    return TEMPLATE_FIELD.sub(field, trace["hovertemplate"]).split("<extra>")[0]


def positions(trace: dict[str, Any]) -> np.ndarray:
    data = np.asarray(trace["customdata"])
    return (data if data.ndim == 1 else data[:, 0]).astype(np.int64)


def readable(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _shown(value: Any, width: int) -> str:
    if isinstance(value, float | np.floating):
        text = readable(float(value))
    elif isinstance(value, pd.Timestamp):
        text = value.strftime("%Y-%m-%d")
    elif value is None or value is pd.NA or value is pd.NaT:
        text = "–"
    else:
        text = str(value)
    return html.escape(text if len(text) <= width else text[: width - 1] + "…")


def expected_label(predictions: Predictions, position: int, n_points: int) -> str:
    """The hover label of a row, from the frame: what the old per-point text showed."""
    s, row = predictions.schema, predictions.frame.iloc[position]
    full = n_points <= hover.HOVER_FULL_POINTS
    width, n_features = (40, 4) if full else (16, 2)
    ident = _shown(row[s.id], width) if s.id else str(position + 1)
    out = f"<b>{ident}</b><br>label {_shown(row[s.label], width)}"
    out += f" · predicted {_shown(row[s.prediction], width)}"
    if predictions.confidence is not None:
        out += f"<br>confidence {predictions.confidence[position]:.2f}"
    elif not s.is_classification:
        out += f"<br>residual {predictions.residual[position]:+.4g}"
    image = set(s.image.columns) if s.image is not None else set()
    features = [c for c, k in s.features.items() if k != "text" and c not in image][:n_features]
    for column in features:
        out += f"<br>{_shown(column, width)} {_shown(row[column], width)}"
    return out


def _sample_labels(
    predictions: Predictions, fig: Any, n_points: int, per_trace: int = 4
) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    pairs = []
    for trace in sent_traces(fig):
        drawn = positions(trace)
        for index in rng.choice(len(drawn), min(per_trace, len(drawn)), replace=False):
            got = html.unescape(render(trace, int(index)))
            want = html.unescape(expected_label(predictions, int(drawn[index]), n_points))
            pairs.append((got, want))
    return pairs


@pytest.mark.parametrize(
    ("name", "color_by"),
    [("loans", "error"), ("loans", "confidence"), ("digits", "label"), ("diabetes", "error")],
)
def test_hover_shows_the_fields_of_the_old_text(
    name: str, color_by: emb.ColorBy, request: pytest.FixtureRequest
) -> None:
    predictions: Predictions = request.getfixturevalue(name)
    points = emb.map_points(predictions, pca_map(predictions), color_by=color_by)
    fig = embedding_map(points)
    pairs = _sample_labels(predictions, fig, len(points.positions))
    assert pairs and all(got == want for got, want in pairs), pairs
    old = emb.hover_texts(predictions, points.positions[:3])
    expected = [expected_label(predictions, int(p), 3) for p in points.positions[:3]]
    assert old.tolist() == expected


def test_figure_json_stays_under_a_byte_budget_per_point(loans: Predictions) -> None:
    points = emb.map_points(loans, pca_map(loans), color_by="error")
    size = len(pio.to_json(embedding_map(points), validate=False))
    old_text = sum(len(t) for t in emb.hover_texts(loans, points.positions))
    assert len(points.positions) == 20_000
    assert size / len(points.positions) < BYTES_PER_POINT
    assert size < old_text  # the per-point HTML alone was bigger than the whole figure
    trace = sent_traces(embedding_map(points))[0]
    assert trace["customdata"].dtype == np.float32 and trace["x"].dtype == np.float32
    assert "hovertext" not in trace  # one text value per point: the id


def _odd_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    html_value = "<b>x</b>&"
    return pd.DataFrame(
        {
            "id": [f"{html_value}{i}" for i in range(n)],
            "label": rng.choice(["cat", "<i>dog</i>"], n),
            "prediction": rng.choice(["cat", "<i>dog</i>"], n),
            "<b>name</b> {x}": rng.choice([html_value, "plain", None], n),
            "amount": np.where(rng.random(n) < 0.3, np.nan, rng.normal(50, 20, n)),
            "big": rng.uniform(10_000, 90_000, n),
            "mixed": rng.choice([5.0, 50_000.0], n),
        }
    )


def test_html_in_values_and_names_is_escaped(write_table) -> None:
    predictions = load(_odd_frame(60), write_table)
    points = emb.map_points(predictions, pca_map(predictions), color_by="error")
    traces = sent_traces(embedding_map(points))
    for trace in traces:
        assert "%{x}" not in trace["hovertemplate"]  # a name's braces are not a template field
        for index in range(len(positions(trace))):
            label = render(trace, index)
            assert "<b>x" not in label and "<i>" not in label and "<b>name" not in label
            assert "&lt;b&gt;x&lt;/b&gt;&amp;" in label
            assert "<b>name</b> {x} " in html.unescape(label)
    pairs = _sample_labels(predictions, embedding_map(points), len(points.positions), 10)
    assert all(got == want for got, want in pairs), pairs


def test_missing_values_show_a_dash(write_table) -> None:
    frame = _odd_frame(80)
    predictions = load(frame, write_table)
    points = emb.map_points(predictions, pca_map(predictions), color_by="error")
    traces = sent_traces(embedding_map(points))
    labels = [html.unescape(render(t, i)) for t in traces for i in range(len(positions(t)))]
    drawn = frame.iloc[np.concatenate([positions(t) for t in traces])]
    assert sum("<br>amount –" in label for label in labels) == drawn["amount"].isna().sum() > 0
    named = sum("{x} –" in label for label in labels)
    assert named == drawn["<b>name</b> {x}"].isna().sum() > 0
    assert all(w not in label.lower() for label in labels for w in ("nan", "undefined", "null"))


def test_a_value_shared_by_a_trace_is_sent_once(digits: Predictions) -> None:
    fig = embedding_map(emb.map_points(digits, pca_map(digits), color_by="label"))
    for trace in sent_traces(fig):
        label = trace["name"].split(" ")[0]
        assert f"<br>label {label} · predicted " in trace["hovertemplate"]


def test_more_than_two_text_values_keep_their_order(write_table) -> None:
    """Id, label, prediction and a category differ between points: two carriers suffice."""
    predictions = load(_odd_frame(90), write_table)
    points = emb.map_points(predictions, pca_map(predictions), color_by="error")
    for trace in sent_traces(embedding_map(points)):
        assert {"text", "hovertext"} <= set(trace)
    pairs = _sample_labels(predictions, embedding_map(points), len(points.positions), 20)
    assert all(got == want for got, want in pairs), pairs


def _event_points(trace: dict[str, Any], curve: int, rows: np.ndarray, form: str) -> list[Any]:
    """Selected points as plotly.js and Streamlit report them (customdata per point)."""
    out = []
    for index in rows.tolist():
        row = [float(v) for v in np.atleast_1d(trace["customdata"][index])]
        customdata: Any = row if form == "list" else {str(k): v for k, v in enumerate(row)}
        out.append({"curve_number": curve, "point_index": index, "customdata": customdata})
    return out


@pytest.mark.parametrize("form", ["list", "typed-array dict"])
def test_a_selection_maps_back_to_rows(loans: Predictions, form: str) -> None:
    points = emb.map_points(loans, pca_map(loans), color_by="label")
    rng = np.random.default_rng(2)
    event, expected = [], []
    for curve, trace in enumerate(sent_traces(embedding_map(points))):
        assert trace["customdata"].ndim == 2
        rows = rng.choice(len(positions(trace)), 50, replace=False)
        event += _event_points(trace, curve, rows, form)
        expected += positions(trace)[rows].tolist()
    got = emb.selected_positions(json.loads(json.dumps(event)), n_samples=loans.n_samples)
    assert got.tolist() == sorted(expected)
    assert np.isin(got, points.positions).all()


def test_float64_when_float32_would_lose_a_position() -> None:
    table = hover.HoverTable(
        (hover.HoverField("<br>x ", np.array([1.5, 2.5]), "readable"),),
        np.array([3, 2**24 + 1]),
        n_samples=2**24 + 2,
    )
    data = hover_template.trace_hover(table, np.arange(2)).customdata
    assert data.dtype == np.float64 and data[:, 0].tolist() == [3, 2**24 + 1]


@pytest.mark.parametrize(
    ("ids", "prefix", "rest"),
    [(["B0012", "B0013"], "B001", ["2", "3"]), (["&lt;1", "&gt;1"], "", ["&lt;1", "&gt;1"])],
)
def test_a_common_prefix_is_sent_once_and_never_cuts_an_entity(
    ids: list[str], prefix: str, rest: list[str]
) -> None:
    field = hover.HoverField("<b>", np.array(ids, dtype=object), "text", "</b>")
    table = hover.HoverTable((field,), np.arange(2), n_samples=2)
    got = hover_template.trace_hover(table, np.arange(2))
    assert got.template.startswith(f"<b>{prefix}%{{text}}</b>")
    assert got.text is not None and got.text.tolist() == rest
