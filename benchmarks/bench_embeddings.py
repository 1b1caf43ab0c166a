"""Embeddings page: time to the first map and to the UMAP map, cache hits, payload sizes.

For each size, a predictions table of that many rows is made from the bundled
loans sample (rows drawn with replacement, numeric features jittered so no two
rows coincide, fresh ids) and registered in a new workspace. Then, with a real
``streamlit run app.py`` and Debian's Chromium:

1. **fresh server, first visit**: ``/embeddings?ds=...`` is the first request to
   a server just started (nothing computed, numba's UMAP code not compiled in
   this process). Timed from ``page.goto`` to the first map on screen (PCA) and
   to the UMAP map swapped in by the page's background job;
2. **second visit**, same server: a new browser opens the same link (UMAP from
   the in-memory cache);
3. **restarted server**: a new server process, same workspace (UMAP from the
   disk cache, as after a restart or after ``mlqa-debug embed``);
4. **payloads**: bytes the server sends over the websocket for the visit with
   the map (the largest message is the figure), and the size of the selection
   message the browser sends back when a box covers the whole map;
5. **selection round trip**: box-select (almost) everything, time until the
   selection summary is on screen.

    python benchmarks/bench_embeddings.py                  # 10k and 50k rows
    python benchmarks/bench_embeddings.py --sizes 2000     # a quick run

The table is also written to ``benchmarks/out/bench_embeddings.md``.

``--payload`` (no browser, no server) builds the first view's figure in process
(the PCA map the page shows while UMAP runs, coloured by error, sampled to
50,000 points) and prints the bytes of the JSON Streamlit sends for it
(``plotly.io.to_json(fig, validate=False)``, as ``st.plotly_chart`` does):
hover as data (typed ``customdata`` and a ``hovertemplate``) against the same
points with one HTML hover text per point (the figure before issue 13). It also
estimates the selection message for a box around every drawn point, from what
plotly.js puts in each selected point (x, y, customdata, text, hovertext) and
what Streamlit's frontend keeps of it. Written to
``benchmarks/out/bench_embeddings_payload.md``.

    python benchmarks/bench_embeddings.py --payload                # 1,000,000 rows
    python benchmarks/bench_embeddings.py --payload --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(REPO))

from tests.e2e.harness import (  # noqa: E402
    CHROMIUM_ARGS,
    StreamlitServer,
    find_chromium,
    wait_for_run,
)

CHART = '[data-testid="stPlotlyChart"]'
CAPTION = '[data-testid="stCaptionContainer"]'
UMAP_TIMEOUT_MS = 30 * 60_000


@dataclass
class Traffic:
    """Websocket bytes in both directions, by message."""

    received: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framereceived", lambda payload: self.received.append(len(payload)))
            ws.on("framesent", lambda payload: self.sent.append(len(payload)))

        page.on("websocket", on_socket)


def make_table(n_rows: int, path: Path, *, seed: int = 0) -> Path:
    """``n_rows`` rows resampled from the loans sample with jittered numerics and new ids."""
    loans = pd.read_csv(REPO / "sample_data" / "loans.csv")
    rng = np.random.default_rng(seed)
    frame = loans.iloc[rng.integers(0, len(loans), n_rows)].reset_index(drop=True)
    frame["id"] = [f"B{i:07d}" for i in range(n_rows)]
    frame["age"] = np.clip(frame["age"] + rng.integers(-1, 2, n_rows), 18, 80)
    frame["income"] = (frame["income"] * rng.lognormal(0, 0.03, n_rows)).round(2)
    frame["loan amount"] = (frame["loan amount"] * rng.lognormal(0, 0.03, n_rows)).round(-2)
    frame["credit.score"] = np.clip(frame["credit.score"] + rng.integers(-5, 6, n_rows), 300, 850)
    frame.to_csv(path, index=False)
    path.with_name(path.stem + ".mlqa.toml").write_text("[roles]\npositive = 1\n")
    return path


def _caption_with(page: Any, text: str, timeout: float) -> None:
    page.locator(CAPTION).filter(has_text=text).first.wait_for(timeout=timeout)


def visit(browser: Any, url: str, *, wait_umap: bool) -> dict[str, float]:
    """Open ``url`` in a new context; time the first map and (optionally) the UMAP map."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    traffic = Traffic()
    traffic.attach(page)
    start = time.perf_counter()
    page.goto(url)
    page.locator(f"{CHART} .nsewdrag").first.wait_for(timeout=300_000)
    page.locator(f"{CHART} .gl-container canvas, {CHART} canvas").first.wait_for(timeout=60_000)
    first = time.perf_counter() - start
    first_caption = page.locator(CAPTION).filter(has_text=" of ").first.inner_text()
    out = {
        "first_map_s": first,
        "first_is_umap": float(first_caption.startswith("UMAP")),
        "bytes_first": float(sum(traffic.received)),
        "largest_message": float(max(traffic.received, default=0)),
    }
    if wait_umap and not first_caption.startswith("UMAP"):
        _caption_with(page, "UMAP", UMAP_TIMEOUT_MS)
        page.locator(f"{CHART} .nsewdrag").first.wait_for(timeout=60_000)
        out["umap_map_s"] = time.perf_counter() - start
    elif wait_umap:
        out["umap_map_s"] = first
    wait_for_run(page)
    out.update(select_all(page, traffic))
    context.close()
    return out


def reference_visit(browser: Any, url: str) -> float:
    """Seconds to the first metric of the Slices page on the same server (for comparison)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=120_000)
    elapsed = time.perf_counter() - start
    context.close()
    return elapsed


def select_all(page: Any, traffic: Traffic) -> dict[str, float]:
    """Box-select nearly the whole plot; time until the summary shows; bytes sent."""
    chart = page.locator(CHART).first
    chart.hover()
    page.locator(f'{CHART} .modebar-btn[data-title="Box Select"]').first.click()
    box = page.locator(f"{CHART} .nsewdrag").first.bounding_box()
    sent_before = len(traffic.sent)
    start = time.perf_counter()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=4)
    page.mouse.up()
    page.get_by_text("Selection:").first.wait_for(timeout=300_000)
    wait_for_run(page, expect_rerun=True)
    elapsed = time.perf_counter() - start
    return {
        "selection_s": elapsed,
        "selection_bytes": float(max(traffic.sent[sent_before:], default=0)),
    }


def run_size(n_rows: int, browser: Any, root: Path) -> dict[str, Any]:
    from mlqa_debug.data.workspace import Workspace

    workspace = root / f"ws{n_rows}"
    table = make_table(n_rows, root / f"bench{n_rows}.csv")
    name = f"bench{n_rows}"
    Workspace(workspace).add(table, name=name)
    logs = root / "logs"
    server = StreamlitServer(workspace, log_dir=logs)
    try:
        url = f"{server.url}/embeddings?ds={name}"
        fresh = visit(browser, url, wait_umap=True)
        second = visit(browser, url, wait_umap=False)
        second["slices_page_s"] = reference_visit(browser, f"{server.url}/slices?ds={name}")
    finally:
        server.stop()
    server = StreamlitServer(workspace, log_dir=logs)
    try:
        restarted = visit(browser, f"{server.url}/embeddings?ds={name}", wait_umap=False)
    finally:
        server.stop()
    return {"rows": n_rows, "fresh": fresh, "second": second, "restarted": restarted}


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | fresh server: first map (PCA) s | UMAP map s | 2nd visit: map s | "
        "same server, Slices page (reference) s | restarted server: map s | "
        "map payload MB (largest message) | select-all: selection message MB | "
        "select-all round trip s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f, s, x = r["fresh"], r["second"], r["restarted"]
        umap_hit = "" if s["first_is_umap"] and x["first_is_umap"] else " (not UMAP!)"
        lines.append(
            f"| {r['rows']:,} | {f['first_map_s']:.1f} | {f['umap_map_s']:.1f} | "
            f"{s['first_map_s']:.1f}{umap_hit} | {s['slices_page_s']:.1f} | "
            f"{x['first_map_s']:.1f} | "
            f"{s['bytes_first'] / 1e6:.2f} ({s['largest_message'] / 1e6:.2f}) | "
            f"{s['selection_bytes'] / 1e6:.2f} | {s['selection_s']:.1f} |"
        )
    return "\n".join(lines)


def text_hover_figure(fig: Any, predictions: Any, points: Any) -> Any:
    """The same figure with the hover as before: an HTML string per point, positions only."""
    import plotly.graph_objects as go

    from mlqa_debug.analyses.embeddings.hover import hover_texts

    texts = hover_texts(predictions, points.positions)
    where = pd.Index(points.positions)
    old = go.Figure(fig)
    for trace in old.data:
        rows = _first_column(np.asarray(trace.customdata))
        trace.update(
            customdata=rows.astype(np.int32),
            text=None,
            hovertext=texts[where.get_indexer(rows)],
            hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>",
        )
    return old


def _first_column(data: np.ndarray) -> np.ndarray:
    return data if data.ndim == 1 else data[:, 0]


def _decoded(value: Any) -> Any:
    """A plotly typed array from the JSON as the browser decodes it, else ``value``."""
    if not (isinstance(value, dict) and "bdata" in value):
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    shape = value.get("shape")
    return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array


def _js(value: Any) -> Any:
    """A number as JavaScript's JSON.stringify writes it (integral floats without ``.0``)."""
    number = float(value)
    return int(number) if number.is_integer() else number


def _js_row(value: Any) -> Any:
    """One point's customdata: a number, or a typed-array row (an object ``{"0": ...}``)."""
    if np.ndim(value) == 0:
        return _js(value)
    return {str(k): _js(v) for k, v in enumerate(np.asarray(value).tolist())}


def selection_message_bytes(spec: str) -> int:
    """Bytes of the selection state Streamlit's frontend sends for a box around every point.

    Per point: what plotly.js reports (curve and point numbers, x, y and each
    per-point array: customdata, text, hovertext, marker colour), minus ``data``
    and ``fullData``, which Streamlit drops; keys in snake case, as it sends them.
    """
    points, indices = [], set()
    for curve, trace in enumerate(json.loads(spec)["data"]):
        arrays = {key: _decoded(trace.get(key)) for key in ("x", "y", "customdata")}
        strings = {key: trace[key] for key in ("text", "hovertext") if key in trace}
        color = _decoded(trace.get("marker", {}).get("color"))
        for i in range(len(arrays["x"])):
            point = {"curve_number": curve, "point_number": i, "point_index": i}
            point |= {"x": _js(arrays["x"][i]), "y": _js(arrays["y"][i])}
            point["customdata"] = _js_row(arrays["customdata"][i])
            point |= {key: values[i] for key, values in strings.items()}
            if isinstance(color, np.ndarray):
                point["marker_color"] = _js(color[i])
            points.append(point)
            indices.add(i)
    box = {"xref": "x", "yref": "y", "x": [-1e9, 1e9], "y": [-1e9, 1e9]}
    state = {"selection": {"points": points, "point_indices": sorted(indices)}}
    state["selection"] |= {"box": [box], "lasso": []}
    return len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())


def payload_sizes(n_rows: int, root: Path) -> dict[str, float]:
    """First view's figure bytes and select-all message bytes, before and after."""
    import plotly.io as pio

    from mlqa_debug.analyses import embeddings as emb
    from mlqa_debug.analyses.embeddings.figures import embedding_map
    from mlqa_debug.data.predictions import load_predictions

    predictions = load_predictions(make_table(n_rows, root / f"payload{n_rows}.csv"))
    projection = emb.get_projection(predictions, method="pca", cache=None)
    start = time.perf_counter()
    points = emb.map_points(predictions, projection)
    after = pio.to_json(embedding_map(points, revision=projection.key), validate=False)
    seconds = time.perf_counter() - start
    fig = embedding_map(points, revision=projection.key)
    before = pio.to_json(text_hover_figure(fig, predictions, points), validate=False)
    return {
        "rows": n_rows,
        "points": len(points.positions),
        "before": len(before.encode()),
        "after": len(after.encode()),
        "after_s": seconds,
        "selection_before": selection_message_bytes(before),
        "selection_after": selection_message_bytes(after),
    }


def payload_table(results: list[dict[str, float]]) -> str:
    lines = [
        "| rows | points drawn | first view figure: per-point HTML hover MB | "
        "hover as data MB | ratio | select-all message: before MB | after MB | ratio | "
        "build + to_json s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['points']:,} | {r['before'] / 1e6:.2f} | "
            f"{r['after'] / 1e6:.2f} | {r['after'] / r['before']:.2f} | "
            f"{r['selection_before'] / 1e6:.2f} | {r['selection_after'] / 1e6:.2f} | "
            f"{r['selection_after'] / r['selection_before']:.2f} | {r['after_s']:.2f} |"
        )
    return "\n".join(lines)


def payload_main(sizes: list[int]) -> int:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-emb-payload-") as tmp:
        for size in sizes:
            results.append(payload_sizes(size, Path(tmp)))
            print(payload_table(results[-1:]).splitlines()[-1], flush=True)
    note = (
        "Bytes of `plotly.io.to_json(fig, validate=False)` (what `st.plotly_chart` sends) for "
        "the first view (PCA, coloured by error, sampled); the select-all message is estimated "
        "from what plotly.js reports per selected point."
    )
    _report("bench_embeddings_payload.md", note, payload_table(results))
    return 0


def _report(file_name: str, note: str, text: str) -> None:
    """Print the table and keep it, after its note, in ``benchmarks/out/``."""
    print(text)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / file_name).write_text(f"{note}\n\n{text}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated row counts")
    parser.add_argument(
        "--payload", action="store_true", help="figure and selection bytes only (no browser)"
    )
    args = parser.parse_args(argv)
    if args.payload:
        return payload_main([int(s) for s in (args.sizes or "1000000").split(",")])
    args.sizes = args.sizes or "10000,50000"
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium found", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-emb-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(run_size(size, browser, Path(tmp)))
            print(table(results[-1:]).splitlines()[-1], flush=True)
        browser.close()
    note = (
        "Machine: 2 cores shared with other work, so times are noisy. Fresh server = the link "
        "is the first request after `streamlit run`; the UMAP column includes importing "
        "umap-learn and numba's compilation in that process."
    )
    _report("bench_embeddings.md", note, table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
