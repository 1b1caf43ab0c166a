"""Computing attributions within a time budget: method choice, batches, cost, checks.

:func:`explain` computes only rows that are not stored yet
(:mod:`~mlqa_debug.analyses.explain.store`), in batches with a progress
callback, until the time budget runs out; the rows come in priority order
(:func:`~mlqa_debug.analyses.explain.plan.plan_rows`), so what is done first is
what the page needs first. For tree models it measures exact TreeSHAP's cost
on the first rows and switches to the approximate method when exact would not
fit the budget. The first :data:`CHECK_ROWS` rows each call computes are
checked against the model itself: base value plus attributions must equal the
model's output in the explainer's output space (additivity), and the model
must reproduce the table's predictions (``ExplainInfo.agreement``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from mlqa_debug.analyses.explain.estimators import (
    ExplainerKind,
    model_classes,
    model_input,
    model_kind,
)
from mlqa_debug.analyses.explain.explainers import Explainer, build_explainer
from mlqa_debug.analyses.explain.models import LoadedModel
from mlqa_debug.analyses.explain.plan import unique_positions
from mlqa_debug.analyses.explain.precomputed import precomputed_explanation
from mlqa_debug.analyses.explain.result import (
    ADDITIVITY_TOLERANCE,
    AttributionSource,
    ExplainInfo,
    Explanation,
    additivity_error,
)
from mlqa_debug.analyses.explain.store import AttributionStore, StoreMeta, store_key
from mlqa_debug.cache import DiskCache
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.errors import ModelError, SchemaError
from mlqa_debug.jobs import check_cancelled
from mlqa_debug.types import Progress

logger = logging.getLogger(__name__)

DEFAULT_TIME_BUDGET = 6.0
PROBE_ROWS = 4
PROBE_SECONDS = 0.3
MIN_BATCH = 16
CHECK_ROWS = 256
BATCH_SECONDS = 0.5
MAX_BATCH = 4_096


@dataclass(frozen=True)
class ExplainResult:
    """The explanation of the requested rows, and what it took."""

    explanation: Explanation
    requested: int
    computed: int
    remaining: np.ndarray
    seconds: float
    cost: Cost | None

    @property
    def complete(self) -> bool:
        return len(self.remaining) == 0


def explain(
    predictions: Predictions,
    rows: np.ndarray | Sequence[int],
    *,
    model: LoadedModel | None = None,
    source: AttributionSource = "model",
    cache_dir: str | os.PathLike[str] | None = None,
    time_budget: float = DEFAULT_TIME_BUDGET,
    approximate: bool | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExplainResult:
    """Attributions of ``rows`` (positions, in priority order), computing what is missing.

    Rows already stored (memory, then ``cache_dir``) cost nothing; the rest are
    computed in batches until done or until ``time_budget`` seconds have passed
    (at least one batch always runs). For tree models ``approximate=None``
    chooses: exact TreeSHAP unless its measured cost per row times
    ``len(rows)`` exceeds the budget. ``progress(what, share)`` follows the batches
    (``share``: the part of the rows to compute that is done); ``cancelled`` is read
    before each batch, and once true the call raises
    :class:`~mlqa_debug.errors.Cancelled` (the batches done so far stay stored).
    """
    positions = unique_positions(rows, predictions.n_samples)
    started = time.perf_counter()
    if source == "precomputed":
        full = precomputed_explanation(predictions)
        return ExplainResult(full.take(positions), len(positions), 0, positions[:0], 0.0, None)
    if model is None:
        raise ModelError("no model is registered with this dataset, so nothing can be explained")
    cache = DiskCache(cache_dir) if cache_dir is not None else None
    runner = _Runner(
        model, predictions, cache, progress, time_budget=time_budget, cancelled=cancelled
    )
    method = runner.choose(model_kind(model.estimator), positions, approximate)
    store = runner.store(method)
    runner.compute(method, store, store.missing(positions))
    explanation = _from_store(store, positions, runner, method)
    remaining = store.missing(positions)
    seconds = time.perf_counter() - started
    return ExplainResult(
        explanation, len(positions), runner.computed, remaining, seconds, runner.cost(method)
    )


def _from_store(
    store: AttributionStore, positions: np.ndarray, runner: _Runner, method: str
) -> Explanation:
    """The stored rows among ``positions``, described by the store (no shap import)."""
    rows, values, base, output, agree = store.select(positions)
    meta = store.meta or StoreMeta.of(runner.explainer(method))  # no rows at all: describe anyway
    checked = agree[~np.isnan(agree)]
    info = ExplainInfo(
        source="model",
        method=meta.method,
        output_space=meta.output_space,
        approximate=meta.approximate,
        model=runner.model.label,
        additivity_error=additivity_error(values, base, output),
        agreement=float(checked.mean()) if len(checked) else None,
        checked_rows=len(checked),
        notes=runner.model.notes,
        explainer=meta.explainer,
        explainer_reason=meta.reason,
    )
    if len(rows) == 0:
        g, k = len(meta.features), len(meta.outputs)
        values, base, output = np.empty((0, g, k)), np.empty((0, k)), np.empty((0, k))
    return Explanation(rows, values, base, output, meta.features, meta.outputs, info)


@dataclass(frozen=True)
class Cost:
    """Measured time of an explainer: ``per_batch + n * per_row`` seconds for a batch of n."""

    per_row: float
    per_batch: float

    @classmethod
    def fit(cls, timings: Sequence[tuple[int, float]]) -> Cost:
        """From two or more ``(rows, seconds)`` batches of different sizes (least squares)."""
        n = np.array([t[0] for t in timings], dtype=np.float64)
        seconds = np.array([t[1] for t in timings], dtype=np.float64)
        slope = float(np.polyfit(n, seconds, 1)[0]) if len(set(n)) > 1 else 0.0
        floor = 0.1 * float(seconds.sum() / n.sum())  # noise guard: never near-free rows
        per_row = max(float(slope), floor)
        per_batch = max(0.0, float(np.mean(seconds - per_row * n)))
        return cls(per_row, per_batch)

    def seconds(self, n_rows: int) -> float:
        """Time to explain ``n_rows`` in batches of :meth:`batch_size`."""
        return n_rows * self.per_row + math.ceil(n_rows / self.batch_size()) * self.per_batch

    def batch_size(self) -> int:
        rows = (BATCH_SECONDS - self.per_batch) / max(self.per_row, 1e-9)
        return int(np.clip(math.floor(rows + 1e-6), MIN_BATCH, MAX_BATCH))

    def updated(self, n_rows: int, seconds: float) -> Cost:
        """Blend in one more batch's time (weight grows with its size)."""
        weight = min(1.0, n_rows / 512)
        measured = max(seconds - self.per_batch, 0.0) / n_rows
        return replace(self, per_row=(1 - weight) * self.per_row + weight * measured)


@contextlib.contextmanager
def _model_errors(model: LoadedModel, what: str) -> Iterator[None]:
    """A foreign model (or shap on it) can fail in any way: say so as a :class:`ModelError`."""
    try:
        yield
    except (ModelError, SchemaError):
        raise
    except Exception as e:
        raise ModelError(f"model {model.name!r} failed in {what}: {type(e).__name__}: {e}") from e


#: Method ids: what a store holds. A tree model is "tree" or "tree-approx".
_METHODS: dict[str, tuple[ExplainerKind, bool]] = {
    "tree": ("tree", False),
    "tree-approx": ("tree", True),
    "linear": ("linear", False),
    "agnostic": ("agnostic", False),
}


class _Runner:
    """One call of :func:`explain`: method choice, cost measurement, batches.

    Methods are named by id (:data:`_METHODS`); explainers are built only when
    rows must be computed, so serving stored rows needs no shap import.
    """

    def __init__(
        self,
        model: LoadedModel,
        predictions: Predictions,
        cache: DiskCache | None,
        progress: Progress | None,
        *,
        time_budget: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.model, self.predictions, self.cache = model, predictions, cache
        self.progress, self.time_budget, self.cancelled = progress, time_budget, cancelled
        self.deadline = time.perf_counter() + time_budget
        self._costs: dict[str, Cost] = {}
        self._provisional: set[str] = set()
        self._checked = 0
        self.computed = 0

    def explainer(self, method: str) -> Explainer:
        kind, approximate = _METHODS[method]
        return build_explainer(self.model, self.predictions, kind=kind, approximate=approximate)

    def _cost_key(self, method: str) -> str:
        parts = (self.model.sha, self.predictions.fingerprint, method)
        return store_key("explain-cost", *parts)

    def cost(self, method: str) -> Cost | None:
        """Measured cost of ``method`` (this call, else the cache)."""
        if method not in self._costs and self.cache is not None:
            stored = self.cache.get_json(self._cost_key(method))
            if isinstance(stored, dict):
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self._costs[method] = Cost(float(stored["per_row"]), float(stored["per_batch"]))
        return self._costs.get(method)

    def choose(self, kind: ExplainerKind, rows: np.ndarray, approximate: bool | None) -> str:
        """Exact, unless exact TreeSHAP of the rows it lacks would not fit the time budget."""
        if kind != "tree" or approximate is False:
            return kind
        if approximate:
            return "tree-approx"
        todo = self.store("tree").missing(rows)
        if self.cost("tree") is None and len(todo):  # measure on two batches, kept in the store
            todo = todo[self.compute("tree", self.store("tree"), todo, probe=True) :]
        cost = self.cost("tree")
        if cost is not None and cost.seconds(len(todo)) > self.time_budget:
            logger.info("exact TreeSHAP: %.1f s for %d rows", cost.seconds(len(todo)), len(todo))
            return "tree-approx"
        return "tree"

    def store(self, method: str) -> AttributionStore:
        parts = (self.model.sha, self.predictions.fingerprint, method)
        key = store_key("explain-store", *parts)
        return self.predictions.memo(
            f"explain-store:{key}", lambda: AttributionStore(self.cache, key)
        )

    def compute(
        self, method: str, store: AttributionStore, todo: np.ndarray, *, probe: bool = False
    ) -> int:
        """Explain ``todo`` in batches until done or past the deadline; returns rows done."""
        if len(todo) == 0:
            return 0
        explainer = self.explainer(method)
        done, timings = 0, list[tuple[int, float]]()
        try:
            while done < len(todo) and (
                (len(timings) < 2) if probe else (done == 0 or time.perf_counter() < self.deadline)
            ):
                check_cancelled(self.cancelled)
                batch = todo[done : done + self._batch_size(method, len(timings))]
                timings.append((len(batch), self._run_batch(explainer, store, batch)))
                self._learn(method, timings)
                done += len(batch)
                self.computed += len(batch)
                if self.progress is not None and not probe:
                    self.progress(f"explaining rows: {done:,} of {len(todo):,}", done / len(todo))
            if self._checked < CHECK_ROWS:
                self._check(explainer, store, np.sort(todo[:done][: CHECK_ROWS - self._checked]))
        finally:
            if done:
                store.save()
                self._save_cost(method)
        return done

    def _batch_size(self, method: str, n_batches: int) -> int:
        """:data:`PROBE_ROWS` rows first; then a batch of about :data:`PROBE_SECONDS` by the
        first one's time (an upper bound: it includes the fixed cost), so the per-row
        and fixed costs separate; then batches of about :data:`BATCH_SECONDS`."""
        cost = self.cost(method)
        if cost is None:
            return PROBE_ROWS
        if method in self._provisional and n_batches == 1:
            return int(np.clip(PROBE_SECONDS / max(cost.per_row, 1e-9), MIN_BATCH, MAX_BATCH))
        return cost.batch_size()

    def _learn(self, method: str, timings: list[tuple[int, float]]) -> None:
        """First batch: a provisional cost; second: fixed and per-row parts; then refine."""
        if method not in self._costs:
            rows, seconds = timings[-1]
            self._costs[method] = Cost(seconds / rows, 0.0)
            self._provisional.add(method)
        elif method in self._provisional and len({n for n, _ in timings}) > 1:
            self._costs[method] = Cost.fit(timings)
            self._provisional.discard(method)
        else:
            self._costs[method] = self._costs[method].updated(*timings[-1])

    def _save_cost(self, method: str) -> None:
        cost = self._costs.get(method)
        if self.cache is not None and cost is not None:
            value = {"per_row": cost.per_row, "per_batch": cost.per_batch}
            self.cache.put_json(self._cost_key(method), value)

    def _run_batch(self, explainer: Explainer, store: AttributionStore, batch: np.ndarray) -> float:
        """Explain a batch and store it; returns the explainer's seconds."""
        frame = model_input(self.model, self.predictions, batch)
        started = time.perf_counter()
        with _model_errors(self.model, explainer.method):
            values, base, output = explainer.run(frame, batch)
        seconds = time.perf_counter() - started
        agree = np.full(len(batch), np.nan)
        store.add(StoreMeta.of(explainer), batch, (values, base, output, agree))
        return seconds

    def _check(self, explainer: Explainer, store: AttributionStore, rows: np.ndarray) -> None:
        """Check stored rows against the model itself, with one model call.

        Its output must equal base + attributions (additivity) and imply the
        table's prediction (``agreement``). A call checks its first
        :data:`CHECK_ROWS` computed rows; the other rows skip the model call,
        which (sklearn's threaded predict on a busy machine) can cost more
        than TreeSHAP itself.
        """
        frame = model_input(self.model, self.predictions, rows)
        _, values, base, output, _ = store.select(rows)
        if explainer.model_output is not None:
            with _model_errors(self.model, "the additivity check"):
                output = explainer.model_output(frame)
        error = additivity_error(values, base, output)
        if error > ADDITIVITY_TOLERANCE:
            logger.warning("%s: base + attributions misses by %.2g", explainer.method, error)
        store.update(rows, output=output, agree=self._agreement(output, rows, explainer))
        self._checked += len(rows)

    def _agreement(self, output: np.ndarray, rows: np.ndarray, explainer: Explainer) -> np.ndarray:
        """1 where the model's output implies the table's prediction, else 0."""
        s = self.predictions.schema
        shipped = self.predictions.frame[s.prediction].to_numpy()[rows]
        if not s.is_classification:
            shipped = shipped.astype(np.float64)
            tolerance = 1e-6 * np.maximum(1.0, np.abs(shipped))
            return (np.abs(output[:, 0] - shipped) <= tolerance).astype(np.float64)
        classes = np.asarray(model_classes(self.model.estimator), dtype=object)
        if output.shape[1] == 1:  # a binary margin or probability of classes[1]
            threshold = 0.5 if explainer.output_space == "probability" else 0.0
            predicted = np.where(output[:, 0] > threshold, classes[1], classes[0])
        else:
            predicted = np.asarray(explainer.outputs, dtype=object)[output.argmax(axis=1)]
        return (predicted.astype(str) == shipped.astype(str)).astype(np.float64)
