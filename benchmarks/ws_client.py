"""A Streamlit session without a browser: the websocket messages a browser sends for the slice box.

The concurrent-sessions step of ``bench_interactive.py`` puts load on the server
from several reviewers at once. Five Chromiums on the server's own two cores
measure mostly the browsers competing with each other and with the server (each
redraw of the Slices page costs its browser about 300 ms of CPU); reviewers'
browsers run on their own machines. So one session is a real Chromium (the one
whose painted and finished times are the target) and the others are this client:
it opens the page with the same ``rerun_script`` message a browser sends, reads
every message the server sends back (the server does all its work for it, as for
a browser), and changes the slice by sending the slice box's widget state, as the
browser does on Enter.

Each change waits for the first metric of its own run, the slice's row count,
and fails when it shows another number: a session that saw another's state would
be caught.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

SLICE_LABEL = "Slice"


@dataclass
class Timings:
    """Per change: ms to the first metric received and to the run finished."""

    first_metric: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)


class ProtocolSession:
    """One session on ``page`` of the app at ``port``, driven over its websocket."""

    def __init__(self, port: int, page: str, query: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.page, self.query = page, query
        self._ws: Any = None
        self._slice_id: str | None = None

    async def __aenter__(self) -> ProtocolSession:
        import websockets

        self._ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        _, _, inputs = await self._run(None)
        if SLICE_LABEL not in inputs:
            raise RuntimeError(f"no {SLICE_LABEL!r} box on {self.page}?{self.query}")
        self._slice_id = inputs[SLICE_LABEL]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    async def change(self, text: str, want: str) -> tuple[float, float]:
        """Type ``text`` into the slice box; ms to the first metric and to the run's end."""
        first, finished, _ = await self._run(text)
        if first is None or first[1] != want:
            raise RuntimeError(f"slice {text!r}: the first metric read {first}, expected {want}")
        return first[0], finished

    async def _run(self, text: str | None) -> tuple[tuple[float, str] | None, float, dict]:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        message = BackMsg()
        message.rerun_script.query_string = self.query
        message.rerun_script.page_name = self.page
        if text is not None:
            state = WidgetState(id=self._slice_id, string_value=text)
            message.rerun_script.widget_states.widgets.append(state)
        started = time.perf_counter()
        await self._ws.send(message.SerializeToString())
        first: tuple[float, str] | None = None
        inputs: dict[str, str] = {}
        while True:
            received = ForwardMsg()
            received.ParseFromString(await self._ws.recv())
            kind = received.WhichOneof("type")
            if kind == "delta" and received.delta.WhichOneof("type") == "new_element":
                element = received.delta.new_element
                if element.WhichOneof("type") == "text_input":
                    inputs[element.text_input.label] = element.text_input.id
                elif element.WhichOneof("type") == "metric" and first is None:
                    first = ((time.perf_counter() - started) * 1000, element.metric.body)
            elif kind == "script_finished":
                return first, (time.perf_counter() - started) * 1000, inputs


async def drive(
    port: int,
    page: str,
    query: str,
    texts: list[str],
    rows: list[str],
    *,
    changes: int | None,
    stop: asyncio.Event | None = None,
    think: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> Timings:
    """Change the slice ``changes`` times (or until ``stop``), ``think`` seconds apart."""
    timings = Timings()
    pause = random.Random(seed)
    async with ProtocolSession(port, page, query) as session:
        i = 0
        while (changes is None or i < changes) and not (stop is not None and stop.is_set()):
            text, want = texts[i % len(texts)], rows[i % len(rows)]
            first, finished = await session.change(text, want)
            timings.first_metric.append(first)
            timings.finished.append(finished)
            i += 1
            await asyncio.sleep(pause.uniform(*think))
    return timings
