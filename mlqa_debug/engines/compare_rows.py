"""Two external tables side by side: one session for both, a paired sample, pages of flips.

:func:`~mlqa_debug.engines.compare.compare_on` joins the two tables in the engine,
so both must live on one DuckDB connection or one Spark session. The app opened
each external dataset on its own connection; :func:`pair_engines` reads both
tables' files again on a new one (their resolved tables reused: no pass over the
rows) and gives an :class:`EnginePair` with its own lock.

What needs the rows (per-slice deltas, the search for newly failing slices) runs
on a *paired* sample (:func:`paired_sample`): the rows whose id hashes (seeded, in
the engine) fall under one cutoff, the same cutoff in both tables, so both samples
hold the same ids, not two random samples that barely overlap. A page of flips
(:func:`flip_page_on`) is read from the join over every pair: the same columns
as :func:`~mlqa_debug.analyses.compare.flip_table`, most confident first (ties,
and tables without probabilities, by id: an engine's table has no row order).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlqa_debug.analyses.compare.flips import MAX_PAGE_SIZE, FlipPage, _check_kind
from mlqa_debug.analyses.compare.pairing import OUTCOME
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.compare import (
    SEED,
    _check_compatible,
    _class_map,
    _compared_inside,
    _inside,
    _keys,
    _plain,
    _regression_terms,
    _side,
    _threshold,
)
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.errors import CompareError, ParameterError
from mlqa_debug.slicing import EMPTY, Slice

__all__ = ["EnginePair", "flip_page_on", "pair_engines", "paired_sample"]


@dataclass(eq=False)
class EnginePair:
    """A candidate and a baseline table on one connection or session, for one caller at a time."""

    candidate: AggregateEngine
    baseline: AggregateEngine
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @contextmanager
    def locked(self) -> Iterator[tuple[AggregateEngine, AggregateEngine]]:
        """Both engines (they share one connection: its queries run one at a time)."""
        with self._lock:
            yield self.candidate, self.baseline


def pair_engines(
    candidate: AggregateEngine, baseline: AggregateEngine, paths: tuple[str, str]
) -> EnginePair:
    """Both tables (opened from ``paths``) on a new DuckDB connection or the Spark session.

    The engines' resolved tables (schema, types, row counts) are reused; the files
    must be those they were resolved from (:class:`CompareError` otherwise).
    """
    from mlqa_debug.engines.source import resolve_source

    if candidate.name != baseline.name:
        raise CompareError(
            f"the candidate is on {candidate.name} and the baseline on {baseline.name}: a join "
            "needs both tables on one engine"
        )
    sources = [resolve_source(p) for p in paths]
    for source, engine in zip(sources, (candidate, baseline), strict=True):
        if source.fingerprint != engine.table.fingerprint:
            raise CompareError(
                f"the files of {source.display} changed since they were opened; open them again"
            )
    backends: list[Backend]
    if candidate.name == "duckdb":
        from mlqa_debug.engines.duckdb_engine import DuckDBBackend, _relation, duckdb_connection

        con = duckdb_connection()
        backends = [DuckDBBackend(_relation(con, s), con) for s in sources]
    else:
        from mlqa_debug.engines.spark_engine import SparkBackend, _frame, spark_session

        session = spark_session()  # the process's one session
        backends = [SparkBackend(_frame(session, s)) for s in sources]
    c, b = (
        AggregateEngine(backend, engine.table)
        for backend, engine in zip(backends, (candidate, baseline), strict=True)
    )
    return EnginePair(c, b)


# --------------------------------------------------------------------------- paired sample


def paired_sample(
    candidate: AggregateEngine,
    baseline: AggregateEngine,
    n: int,
    *,
    seed: int = SEED,
    names: tuple[str | None, str | None] = (None, None),
) -> tuple[Predictions, Predictions]:
    """About ``n`` rows of each table, the same ids in both (a seeded hash of the id, cut).

    The candidate's ``n`` smallest hashes set the cutoff; each table keeps its rows
    hashed at or under it (a table of at most ``n`` rows is kept whole), so an id in
    both tables is in both samples or in neither. ``names`` are what the samples'
    messages call them. Raises :class:`CompareError` when the tables cannot be paired.
    """
    if n < 1:
        raise ParameterError(f"a sample needs at least one row, got {n}", name="n", value=n)
    _check_compatible(candidate.table, baseline.table)
    ck, bk = _keys(candidate, baseline)
    cb, bb = candidate.backend, baseline.backend
    hc, hb = cb.seeded_hash(ck, seed), bb.seeded_hash(bk, seed)
    cutoff = None
    if max(candidate.n_rows, baseline.n_rows) > n:
        rows = cb.head([hc], order=[hc], limit=n)
        if not rows:
            raise CompareError("the candidate has no rows to sample")
        cutoff = _plain(rows[-1][0])
    wheres = (None, None) if cutoff is None else (hc <= cb.lit(cutoff), hb <= bb.lit(cutoff))
    mark = f"paired\0{cutoff}\0{seed}\0{candidate.table.fingerprint}\0{baseline.table.fingerprint}"
    c, b = (
        _rows(engine, where, name, mark)
        for engine, where, name in zip((candidate, baseline), wheres, names, strict=True)
    )
    return c, b


def _rows(engine: AggregateEngine, where: Expr | None, name: str | None, mark: str) -> Predictions:
    """The rows where ``where`` holds, loaded as the engine's sample is (same roles)."""
    b = engine.backend
    columns = engine.table.columns or tuple(engine.table.types)
    view = b if where is None else b.select([(c, b.col(c)) for c in columns], where=where)
    # the whole table's threshold (not the sample's), and every row of the view
    subset = AggregateEngine(view, engine._table_for_threshold())
    loaded = subset.sample_predictions(engine.n_rows, name=name)
    digest = hashlib.blake2b(f"{engine.table.fingerprint}\0{mark}".encode(), digest_size=16)
    return dataclasses.replace(loaded, fingerprint=digest.hexdigest())


# --------------------------------------------------------------------------- flips


def flip_page_on(
    candidate: AggregateEngine,
    baseline: AggregateEngine,
    kind: str,
    *,
    where: Slice = EMPTY,
    page: int = 0,
    page_size: int = 50,
) -> FlipPage:
    """One page of the pairs of ``kind`` inside ``where``, over every pair, from the join.

    The columns of :func:`~mlqa_debug.analyses.compare.flip_table`; the order is
    the candidate's confidence descending (regression: ``|change|`` descending),
    then the join key ascending.
    """
    _check_kind(kind)
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ParameterError(f"page {page} of {page_size} rows is out of range", name="page")
    _check_compatible(candidate.table, baseline.table)
    ck, bk = _keys(candidate, baseline)
    classification = candidate.schema.is_classification
    mapping = _class_map(candidate.table, baseline.table) if classification else None
    joined = _side(candidate, ck, "__c_", inside=_inside(candidate, where), shown=True).join(
        _side(baseline, bk, "__b_", mapping=mapping, shown=True), "__c_key", "__b_key"
    )
    b = joined
    outcome = _class_outcome(b) if classification else _regression_outcome(b, _threshold(baseline))
    hit = _compared_inside(b) & (outcome == b.lit(OUTCOME[kind]))
    ((total,),) = b.run([b.agg("count", where=hit)])
    both = classification and candidate.has_probabilities and baseline.has_probabilities
    names = ["__c_key", "__c_id", "__c_y", "__b_p", "__c_p"]
    names += ["__b_ptrue", "__c_ptrue", "__b_ppred", "__c_ppred"] if both else []
    start = page * page_size
    rows = b.head(
        [b.col(n) for n in names],
        order=[*_first(b, candidate, classification), b.col("__c_key")],
        limit=start + page_size,
        where=hit,
    )[start:]
    shown = pd.DataFrame(rows, columns=names)
    frame = _flip_frame(candidate, shown, classification, both)
    return FlipPage(
        _with_features(candidate, ck, frame, list(shown["__c_key"])), int(total), start, kind
    )


def _first(b: Backend, candidate: AggregateEngine, classification: bool) -> list[Expr]:
    """What sorts the flips before the key: most confident, or the largest change, first."""
    if not classification:
        y = b.col("__c_y")
        change = b.call("abs", b.col("__c_p") - y) - b.call("abs", b.col("__b_p") - y)
        return [-b.call("abs", change)]
    return [-b.col("__c_ppred")] if candidate.has_probabilities else []


def _class_outcome(b: Backend) -> Expr:
    """The pair's outcome code (:data:`OUTCOME`) from the label and both predictions' codes."""
    y, pb, pc = b.col("__c_y"), b.col("__b_p"), b.col("__c_p")
    right_b, right_c = pb == y, pc == y
    return b.case(
        [
            (right_b & right_c, b.lit(OUTCOME["both_right"])),
            (right_b, b.lit(OUTCOME["broken"])),
            (right_c, b.lit(OUTCOME["fixed"])),
            (pb == pc, b.lit(OUTCOME["both_wrong_same"])),
        ],
        b.lit(OUTCOME["both_wrong_different"]),
    )


def _regression_outcome(b: Backend, threshold: float) -> Expr:
    """As the regression pass of ``compare_on`` codes it (a change beyond the threshold)."""
    t = _regression_terms(b, threshold)
    eb, ec, d, limit = t["eb"], t["ec"], t["d"], t["limit"]
    return b.case(
        [
            ((eb > limit) & (ec > limit) & (b.call("abs", d) <= limit),
             b.lit(OUTCOME["both_wrong_same"])),
            (d > limit, b.lit(OUTCOME["broken"])),
            (d < -limit, b.lit(OUTCOME["fixed"])),
        ],
        b.lit(OUTCOME["both_right"]),
    )  # fmt: skip


def _flip_frame(
    candidate: AggregateEngine, shown: pd.DataFrame, classification: bool, both: bool
) -> pd.DataFrame:
    schema = candidate.schema
    columns: dict[str, object] = {}
    if schema.id is not None:
        columns[schema.id] = shown["__c_id"].map(_plain).to_numpy(dtype=object)
    if not classification:
        y, pb, pc = (shown[c].to_numpy(np.float64) for c in ("__c_y", "__b_p", "__c_p"))
        eb, ec = np.abs(pb - y), np.abs(pc - y)
        columns.update({"label": y, "baseline prediction": pb, "candidate prediction": pc})
        columns.update({"baseline abs error": eb, "candidate abs error": ec, "change": ec - eb})
        return pd.DataFrame(columns)
    classes = np.asarray(schema.classes, dtype=object)
    columns["label"] = _names(classes, shown["__c_y"])
    columns["baseline prediction"] = _names(classes, shown["__b_p"])
    columns["candidate prediction"] = _names(classes, shown["__c_p"])
    if both:
        for side in ("baseline", "candidate"):
            prefix = f"__{side[0]}_"
            columns[f"{side} P(label)"] = shown[f"{prefix}ptrue"].to_numpy(np.float64)
        for side in ("baseline", "candidate"):
            prefix = f"__{side[0]}_"
            columns[f"{side} confidence"] = shown[f"{prefix}ppred"].to_numpy(np.float64)
    return pd.DataFrame(columns)


def _names(classes: np.ndarray, codes: pd.Series) -> np.ndarray:
    values = codes.to_numpy(np.int64)
    out = np.full(len(values), None, dtype=object)
    known = values >= 0
    out[known] = classes[values[known]]
    return out


def _with_features(
    candidate: AggregateEngine, key: Expr, frame: pd.DataFrame, keys: Sequence[Any]
) -> pd.DataFrame:
    """The candidate's feature columns of the rows shown, after the compared columns."""
    features = [c for c in candidate.schema.features if c not in frame.columns]
    if not features:
        return frame
    b = candidate.backend
    found: dict[Any, tuple[Any, ...]] = {}
    if keys:
        rows = b.head(
            [key, *(b.col(c) for c in features)],
            order=[key],
            limit=len(keys),
            where=b.is_in(key, [_plain(k) for k in keys]),
        )
        found = {_plain(r[0]): tuple(r[1:]) for r in rows}
    missing = (None,) * len(features)
    extra = pd.DataFrame([found.get(_plain(k), missing) for k in keys], columns=features)
    return pd.concat([frame.reset_index(drop=True), extra], axis=1)
