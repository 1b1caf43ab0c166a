"""Comparing two model versions on an engine: the two tables joined by id where they live.

:func:`compare_on` is :func:`mlqa_debug.analyses.compare.compare` for tables on
DuckDB or Spark. The candidate's and the baseline's rows are projected to a few
coded columns each (id, label and prediction codes in the candidate's class order,
the per-row log-loss and Brier terms; regression: label and prediction), joined
by id in the engine (a full outer join) and summed in one group-by: what paired,
what is in one table only, which matched ids have different labels, and per
``(label, baseline prediction, candidate prediction)`` cell the pairs and the
sums of the probability terms. Everything the numpy path reports from those
counts comes out of the same functions: flips, error rate and accuracy
(Newcombe's paired interval, McNemar's exact test), precision, recall and F1 (the
multinomial bootstrap of the same cells with the same seed: the same draws),
log loss and Brier (paired t from sums). Regression takes a second pass for the
centred sums (MAE's paired t interval, RMSE's delta method, exact to rounding);
Wilcoxon's p-value needs the differences themselves: it is computed on every
pair up to :data:`SAMPLE_ROWS` of them (then identical to numpy's), beyond that
on a seeded sample drawn by the engine, and the test's name says "sampled".

What needs the candidate's rows in memory is not run here, and the result says
so in :attr:`EngineComparison.notes`: the per-slice deltas (features coded into
values and quantile bins) and the search for newly failing slices; the verdict
then rests on the primary metric alone. Pairing by row order needs a row order,
which an engine's table does not have: both tables need an id column. A repeated
id is refused (the numpy path pairs its first row; an engine has no "first").
Example ids are the smallest ones of each kind, not the first in file order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from mlqa_debug.analyses.compare.flips import Flips
from mlqa_debug.analyses.compare.headline import (
    _EPS,
    DELTA,
    PAIRED_T,
    WILCOXON,
    Headline,
    MetricDelta,
    _rate_deltas,
    cell_deltas,
)
from mlqa_debug.analyses.compare.pairing import EXAMPLES, OUTCOME, _listed
from mlqa_debug.analyses.compare.report import (
    MAX_EXAMPLES,
    TableInfo,
    _flips_dict,
    _metric_dict,
    _significant,
    plain,
)
from mlqa_debug.data.ids import id_key, plain_id
from mlqa_debug.data.schema import Roles
from mlqa_debug.engines.aggregates import TableExpressions, _brier
from mlqa_debug.engines.backend import Backend, Expr
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.engines.table import EngineTable
from mlqa_debug.errors import CompareError, ParameterError, SliceError
from mlqa_debug.slicing import EMPTY, Slice
from mlqa_debug.stats import (
    paired_mean_difference_from_sums,
    wilcoxon_p_value,
)
from mlqa_debug.stats.format import count
from mlqa_debug.stats.paired import _t_quantile, _z
from mlqa_debug.stats.results import Estimate

__all__ = ["SAMPLE_ROWS", "EngineComparison", "EnginePairing", "compare_on", "open_pair"]

SAMPLE_ROWS = 200_000
"""Pairs Wilcoxon's test reads at most (all of them below; a seeded sample above)."""
SEED = 0
_NAN = float("nan")
_STATUS = {"only_in_candidate": 0, "only_in_baseline": 1, "label_mismatches": 2}
_KINDS = ("only_in_baseline", "only_in_candidate", "duplicated_baseline",
          "duplicated_candidate", "label_mismatches")  # fmt: skip
_COMPARED = 3  # group codes from here on: compared pairs (inside bit, then the cell)
_SKIPPED = (
    "per-slice deltas (features coded into values and quantile bins) need the candidate's "
    "rows in memory: run with --engine numpy for them; the verdict rests on the primary "
    "metric alone"
)


@dataclass(frozen=True)
class EnginePairing:
    """What paired up: compared pairs, ids in one table only, label mismatches, example ids."""

    n: int
    only_in_baseline: int
    only_in_candidate: int
    label_mismatches: int
    examples: dict[str, tuple[Any, ...]]

    def summary(self) -> str:
        """The same sentence as :meth:`PairedPredictions.summary`."""
        word = "row" if self.n == 1 else "rows"
        parts = [f"{self.n:,} {word} compared"]
        for kind, what in (
            ("only_in_baseline", "only in baseline"),
            ("only_in_candidate", "only in candidate"),
            ("label_mismatches", "with different labels (left out)"),
        ):
            n = getattr(self, kind)
            if n:
                ids = self.examples.get(kind, ())
                shown = ", ".join(repr(v) for v in ids[:EXAMPLES])
                more = ", ..." if n > EXAMPLES else ""
                parts.append(f"{n:,} {what} (e.g. {shown}{more})")
        return "; ".join(parts)


@dataclass(frozen=True)
class EngineComparison:
    """The count-reducible part of a comparison, computed on an engine."""

    engine: str
    paired: EnginePairing
    where: Slice
    headline: Headline
    flips: Flips
    alpha: float
    candidate: TableInfo
    baseline: TableInfo
    notes: tuple[str, ...]

    @property
    def primary_worse(self) -> bool:
        return _significant(self.headline.primary, self.alpha) and self.headline.primary.worse

    @property
    def primary_better(self) -> bool:
        p = self.headline.primary
        return _significant(p, self.alpha) and not p.worse and p.difference != 0

    @property
    def regression(self) -> bool:
        """The primary metric significantly worse (slices are not compared on an engine)."""
        return self.primary_worse

    @property
    def verdict(self) -> str:
        if self.regression:
            return "Regression"
        return "Improvement" if self.primary_better else "No significant difference"

    def tests_text(self) -> str:
        by_test: dict[str, list[str]] = {}
        for d in self.headline.rows:
            by_test.setdefault(d.test, []).append(d.label)
        metrics = "; ".join(f"{', '.join(labels)}: {test}" for test, labels in by_test.items())
        return f"Headline (95% intervals, two-sided p): {metrics}."

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``compare --json`` for the parts computed (and ``engine``, ``notes``)."""
        p = self.paired
        data: dict[str, Any] = {
            "engine": self.engine,
            "verdict": self.verdict,
            "regression": self.regression,
            "candidate": self.candidate.to_dict(),
            "baseline": self.baseline.to_dict(),
            "where": self.where.text,
            "rows": p.n,
            "slice_rows": self.headline.n,
            "paired_by": "id",
            "only_in_baseline": p.only_in_baseline,
            "only_in_candidate": p.only_in_candidate,
            "duplicated_baseline": 0,
            "duplicated_candidate": 0,
            "label_mismatches": p.label_mismatches,
            "examples": {k: [plain_id(v) for v in p.examples.get(k, ())] for k in _KINDS},
            "flips": _flips_dict(self.flips),
            "overall": {d.metric: _metric_dict(d, self.alpha) for d in self.headline.rows},
            "primary_metric": self.headline.primary.metric,
            "alpha": self.alpha,
            "tests": self.tests_text(),
            "notes": list(self.notes),
        }
        return cast(dict[str, Any], plain(data))


# --------------------------------------------------------------------------- opening


def open_pair(
    candidate: str,
    baseline: str,
    engine: Literal["duckdb", "spark"],
    *,
    roles: Roles | None = None,
    spark_master: str | None = None,
) -> tuple[AggregateEngine, AggregateEngine]:
    """Both tables on one DuckDB connection or one Spark session (a join needs that)."""
    from mlqa_debug.engines.registry import _roles
    from mlqa_debug.engines.source import resolve_source

    sources = resolve_source(candidate), resolve_source(baseline)
    if engine == "duckdb":
        from mlqa_debug.engines.duckdb_engine import duckdb_connection, open_duckdb

        con = duckdb_connection()
        c, b = (open_duckdb(s, _roles(s, roles), connection=con) for s in sources)
        return c, b
    from mlqa_debug.engines.spark_engine import open_spark, spark_session

    session = spark_session(spark_master)
    c, b = (open_spark(s, _roles(s, roles), session=session) for s in sources)
    return c, b


# --------------------------------------------------------------------------- checks


def _name(t: EngineTable) -> str:
    return repr(t.source)


def _check_compatible(candidate: EngineTable, baseline: EngineTable) -> None:
    """The refusals of :func:`~mlqa_debug.analyses.compare.pair_predictions`, same words."""
    if candidate.task != baseline.task:
        raise CompareError(
            f"candidate {_name(candidate)} is {candidate.task}, baseline {_name(baseline)} is "
            f"{baseline.task}: two models can only be compared on the same task"
        )
    cs, bs = candidate.schema, baseline.schema
    if cs.is_classification:
        c_keys = {id_key(c): c for c in cs.classes}
        b_keys = {id_key(c): c for c in bs.classes}
        if c_keys.keys() != b_keys.keys():
            only_c = [c_keys[k] for k in c_keys if k not in b_keys]
            only_b = [b_keys[k] for k in b_keys if k not in c_keys]
            raise CompareError(
                f"the class sets differ: candidate {_name(candidate)} also has "
                f"{_listed(only_c)}, baseline {_name(baseline)} also has {_listed(only_b)}"
            )
        if cs.task == "binary" and id_key(cs.positive) != id_key(bs.positive):
            raise CompareError(
                f"the positive class differs: {cs.positive!r} in candidate {_name(candidate)}, "
                f"{bs.positive!r} in baseline {_name(baseline)}; set the same `positive` role "
                "for both"
            )
    if cs.id is None and bs.id is None:
        raise CompareError(
            "neither table has an id column: an engine pairs rows by id (its tables have no "
            "row order); add an id column to both, or compare with --engine numpy"
        )
    if cs.id is None or bs.id is None:
        has, lacks = (baseline, candidate) if cs.id is None else (candidate, baseline)
        raise CompareError(
            f"only one table has an id column: {_name(has)} has {(bs.id or cs.id)!r}, "
            f"{_name(lacks)} has none; give both an id column (or neither, with the rows "
            "in the same order)"
        )


def _keys(c: AggregateEngine, b: AggregateEngine) -> tuple[Expr, Expr]:
    """The join keys: the id columns, text on both sides when one is text and one integer."""
    cid, bid = cast(str, c.schema.id), cast(str, b.schema.id)
    ct, bt = c.table.types.get(cid), b.table.types.get(bid)
    ck, bk = c.backend.col(cid), b.backend.col(bid)
    if ct is None or bt is None or ct.cls == bt.cls:
        return ck, bk
    if {ct.cls, bt.cls} == {"string", "number"}:
        number = bt if ct.cls == "string" else ct
        if not number.nan:  # integers as digits: 7 and '7' are one id, as id_key says
            if ct.cls == "number":
                return c.backend.to_text(ck), bk
            return ck, b.backend.to_text(bk)
    raise CompareError(
        f"the id columns hold different types: {cid!r} of candidate {_name(c.table)} is "
        f"{ct.label}, {bid!r} of baseline {_name(b.table)} is {bt.label}; an engine joins "
        "text with integer ids, not with these (or compare with --engine numpy)"
    )


def _refuse_repeats(e: AggregateEngine, key: Expr, role: str) -> None:
    """A repeated id: CompareError naming how many and a few of them."""
    b = e.backend
    groups = b.select([("__k", key)]).grouped([("__k", b.col("__k"))], [("__n", b.agg("count"))])
    repeated = b.col("__n") > b.lit(1)
    ((n,),) = groups.run([groups.agg("count", where=repeated)])
    if not n:
        return
    rows = groups.head([b.col("__k")], order=[b.col("__k")], limit=EXAMPLES, where=repeated)
    shown = ", ".join(repr(plain_id(r[0])) for r in rows) + (", ..." if n > EXAMPLES else "")
    raise CompareError(
        f"{n:,} {'id is' if n == 1 else 'ids are'} repeated in {role} {_name(e.table)} "
        f"(e.g. {shown}): on the {e.name} engine every id must be on one row of each "
        "table; drop the repeats, or compare with --engine numpy (which pairs the first "
        "row of each id)"
    )


# --------------------------------------------------------------------------- projections


def _class_map(c: EngineTable, b: EngineTable) -> list[int]:
    """Baseline class position -> candidate class position."""
    position = {id_key(v): i for i, v in enumerate(c.schema.classes)}
    return [position[id_key(v)] for v in b.schema.classes]


def _side(
    e: AggregateEngine,
    key: Expr,
    prefix: str,
    *,
    inside: Expr | None = None,
    mapping: list[int] | None = None,
    shown: bool = False,
) -> Backend:
    """One table's coded columns, named ``prefix`` + role (classes in the candidate's order).

    ``inside``: the candidate's slice (column ``__c_in``); ``mapping``: the baseline's
    class positions among the candidate's classes; ``shown``: with probabilities, also
    what a table of flips shows and sorts by (``ppred``: the probability of the
    prediction, the confidence; ``ptrue``: the label's).
    """
    b, t = e.backend, e.table
    x = TableExpressions(b, t, None)
    items: list[tuple[str, Expr]] = [
        (f"{prefix}key", key),
        (f"{prefix}id", b.col(cast(str, t.schema.id))),
    ]
    if inside is not None:
        items.append((f"{prefix}in", inside))
    if not t.schema.is_classification:
        items += [(f"{prefix}y", b.to_double(x.label)), (f"{prefix}p", b.to_double(x.prediction))]
        return b.select(items)
    order = mapping or list(range(x.k))

    def code(column: Expr) -> Expr:
        classes = t.schema.classes
        pairs = [(column == b.lit(v), b.lit(order[i])) for i, v in enumerate(classes)]
        return b.case(pairs, b.lit(-1))

    y, p = code(x.label), code(x.prediction)
    items += [(f"{prefix}y", y), (f"{prefix}p", p)]
    if t.has_probabilities:
        probs: list[Expr] = [b.lit(0.0)] * x.k
        for i, q in enumerate(x.probs()):
            probs[order[i]] = q
        p_true = b.case([(y == b.lit(j), q) for j, q in enumerate(probs)], b.lit(_NAN))
        clipped = b.call("least", b.call("greatest", p_true, b.lit(_EPS)), b.lit(1.0 - _EPS))
        items += [
            (f"{prefix}loss", -b.call("ln", clipped)),
            (f"{prefix}brier", _brier(b, probs, y, x.k)),
        ]
        if shown:  # an unknown prediction (code -1) reads the first class, as numpy's does
            p_pred = b.case([(p == b.lit(j), q) for j, q in enumerate(probs[1:], 1)], probs[0])
            items += [(f"{prefix}ppred", p_pred), (f"{prefix}ptrue", p_true)]
    return b.select(items)


def _inside(e: AggregateEngine, where: Slice) -> Expr:
    return e.backend.lit(True) if where == EMPTY else e.where(where)


# --------------------------------------------------------------------------- compare


def compare_on(
    candidate: AggregateEngine,
    baseline: AggregateEngine,
    *,
    where: Slice = EMPTY,
    alpha: float = 0.05,
    names: tuple[str | None, str | None] = (None, None),
    n_resamples: int = 2000,
    random_state: int = 0,
    sample_rows: int = SAMPLE_ROWS,
) -> EngineComparison:
    """Compare ``candidate`` with ``baseline`` (same engine, one session) inside ``where``.

    Raises :class:`CompareError` for tables that cannot be paired (as the numpy path,
    plus: no id column, repeated ids), :class:`SliceError` for a slice that does not
    fit the candidate or selects no compared row, :class:`ParameterError` for alpha.
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}", name="alpha", value=alpha)
    _check_compatible(candidate.table, baseline.table)
    ck, bk = _keys(candidate, baseline)
    _refuse_repeats(candidate, ck, "candidate")
    _refuse_repeats(baseline, bk, "baseline")
    inside = _inside(candidate, where)
    classification = candidate.schema.is_classification
    mapping = _class_map(candidate.table, baseline.table) if classification else None
    joined = _side(candidate, ck, "__c_", inside=inside).join(
        _side(baseline, bk, "__b_", mapping=mapping), "__c_key", "__b_key"
    )
    probabilities = classification and candidate.has_probabilities and baseline.has_probabilities
    if classification:
        sums = _class_pass(joined, len(candidate.schema.classes), probabilities)
    else:
        threshold = _threshold(baseline)
        sums = _regression_pass(joined, threshold)
    paired = _pairing(joined, sums)
    if paired.n == 0:
        raise CompareError("no row pairs up between the candidate and the baseline")
    if sums.n_inside == 0:
        raise SliceError(
            f"the slice {where.text!r} selects none of the {count(paired.n)} compared rows",
            text=where.text,
        )
    notes = [_SKIPPED]
    if classification:
        rows, flips = _class_headline(candidate, sums, n_resamples=n_resamples, seed=random_state)
    else:
        rows, flips, note = _regression_headline(joined, sums, threshold, sample_rows)
        notes += [note] if note else []
    return EngineComparison(
        engine=candidate.name,
        paired=paired,
        where=where,
        headline=Headline(n=sums.n_inside, rows=tuple(rows), alpha=alpha, primary=rows[0]),
        flips=flips,
        alpha=float(alpha),
        candidate=_info(candidate.table, names[0]),
        baseline=_info(baseline.table, names[1]),
        notes=tuple(notes),
    )


def _info(t: EngineTable, name: str | None) -> TableInfo:
    model = t.schema.model
    file = Path(t.source).name
    return TableInfo(
        name=name or file or "table",
        file=file,
        fingerprint=t.fingerprint,
        model=None if model is None else model.name,
        model_version=None if model is None or model.version is None else str(model.version),
    )


def _threshold(baseline: AggregateEngine) -> float:
    """The baseline's error threshold, used for both models (its own, or its 90th percentile)."""
    return float(baseline.default_threshold)


@dataclass(frozen=True)
class _Sums:
    """One pass over the join: rows per status, and the compared pairs' groups."""

    status: dict[str, int]
    n_compared: int
    n_inside: int
    codes: np.ndarray  # group codes of the pairs inside the slice (cell or outcome codes)
    columns: tuple[np.ndarray, ...]  # count, then the sums, per code


def _grouped(joined: Backend, group: Expr, values: Sequence[Expr], cells: int) -> _Sums:
    b = joined
    both = ~b.is_null(b.col("__c_key")) & ~b.is_null(b.col("__b_key"))
    status = b.case(
        [
            (b.is_null(b.col("__b_key")), b.lit(_STATUS["only_in_candidate"])),
            (b.is_null(b.col("__c_key")), b.lit(_STATUS["only_in_baseline"])),
            (b.col("__c_y") != b.col("__b_y"), b.lit(_STATUS["label_mismatches"])),
        ],
        b.lit(_COMPARED) + b.case([(b.col("__c_in"), b.lit(cells))], b.lit(0)) + group,
    )
    sums = [b.agg("sum", b.case([(both, v)], b.lit(0.0))) for v in values]
    key, n, *rest = b.run_columns([b.agg("count"), *sums], group=status)
    key, n = key.astype(np.int64), n.astype(np.int64)
    counts = {kind: int(n[key == code].sum()) for kind, code in _STATUS.items()}
    keep = key >= _COMPARED + cells
    return _Sums(
        counts,
        int(n[key >= _COMPARED].sum()),
        int(n[keep].sum()),
        key[keep] - _COMPARED - cells,
        (n[keep], *(np.asarray(c, dtype=np.float64)[keep] for c in rest)),
    )


def _class_pass(joined: Backend, k: int, probabilities: bool) -> _Sums:
    b = joined
    cell = (b.col("__c_y") * b.lit(k) + b.col("__b_p")) * b.lit(k) + b.col("__c_p")
    values: list[Expr] = []
    if probabilities:
        for term in ("loss", "brier"):
            c, base = b.col(f"__c_{term}"), b.col(f"__b_{term}")
            values += [c, base, c - base, (c - base) * (c - base)]
    return _grouped(b, cell, values, k**3)


def _pairing(joined: Backend, sums: _Sums) -> EnginePairing:
    """The pairing counts, and the smallest ids of each problem for the examples."""
    b = joined
    both = ~b.is_null(b.col("__c_key")) & ~b.is_null(b.col("__b_key"))
    wheres = {
        "only_in_baseline": (b.is_null(b.col("__c_key")), "__b_id"),
        "only_in_candidate": (b.is_null(b.col("__b_key")), "__c_id"),
        "label_mismatches": (both & (b.col("__c_y") != b.col("__b_y")), "__c_id"),
    }
    examples = {}
    for kind, (where, column) in wheres.items():
        rows: list[tuple[Any, ...]] = []
        if sums.status[kind]:
            rows = b.head([b.col(column)], order=[b.col(column)], limit=MAX_EXAMPLES, where=where)
        examples[kind] = tuple(_plain(r[0]) for r in rows)
    return EnginePairing(
        n=sums.n_compared,
        only_in_baseline=sums.status["only_in_baseline"],
        only_in_candidate=sums.status["only_in_candidate"],
        label_mismatches=sums.status["label_mismatches"],
        examples=examples,
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- classification


def _class_headline(
    candidate: AggregateEngine, sums: _Sums, *, n_resamples: int, seed: int
) -> tuple[list[MetricDelta], Flips]:
    """The rows of :func:`~mlqa_debug.analyses.compare.headline` from the cell counts."""
    schema = candidate.schema
    k = len(schema.classes)
    n_cells, *term_sums = sums.columns
    cells = np.bincount(sums.codes, weights=n_cells, minlength=k**3).round().astype(np.int64)
    cells = cells.reshape(k, k, k)
    n = int(cells.sum())
    right_b = np.eye(k, dtype=bool)[:, :, None]
    right_c = np.eye(k, dtype=bool)[:, None, :]
    same = np.eye(k, dtype=bool)[None, :, :]
    out = cell_deltas(
        cells, schema.task, schema.classes, schema.positive, n_resamples=n_resamples, seed=seed
    )
    if term_sums:
        out += _probability_rows(term_sums, n)
    flips = Flips(
        n=n,
        both_right=int(cells[right_b & right_c].sum()),
        broken=int(cells[right_b & ~right_c].sum()),
        fixed=int(cells[~right_b & right_c].sum()),
        both_wrong_same=int(cells[~right_b & ~right_c & same].sum()),
        both_wrong_different=int(cells[~right_b & ~right_c & ~same].sum()),
    )
    return out, flips


def _fsum(values: np.ndarray) -> float:
    return math.fsum(values.tolist())


def _probability_rows(term_sums: Sequence[np.ndarray], n: int) -> list[MetricDelta]:
    """Log loss and Brier: both means and the paired t of the difference, from sums."""
    out = []
    for j, (metric, label) in enumerate((("log_loss", "Log loss"), ("brier", "Brier score"))):
        c, b, d, d2 = (_fsum(term_sums[4 * j + i]) for i in range(4))
        diff, low, high, p = (float(v[()]) for v in paired_mean_difference_from_sums(d, d2, n))
        out.append(MetricDelta(metric, label, b / n, c / n, diff, low, high, p, PAIRED_T, False))
    return out


# --------------------------------------------------------------------------- regression


def _regression_terms(joined: Backend, threshold: float) -> dict[str, Expr]:
    b = joined
    y = b.col("__c_y")
    eb = b.call("abs", b.col("__b_p") - y)
    ec = b.call("abs", b.col("__c_p") - y)
    return {"eb": eb, "ec": ec, "d": ec - eb, "limit": b.lit(float(threshold))}


def _regression_pass(joined: Backend, threshold: float) -> _Sums:
    """Groups: wrong baseline x wrong candidate x outcome; sums of |e_b|, |e_c|, d, e²."""
    b = joined
    t = _regression_terms(b, threshold)
    eb, ec, d, limit = t["eb"], t["ec"], t["d"], t["limit"]
    wrong_b, wrong_c = eb > limit, ec > limit
    one, zero = b.lit(1), b.lit(0)
    outcome = b.case(
        [
            (wrong_b & wrong_c & (b.call("abs", d) <= limit), b.lit(OUTCOME["both_wrong_same"])),
            (d > limit, b.lit(OUTCOME["broken"])),
            (d < -limit, b.lit(OUTCOME["fixed"])),
        ],
        b.lit(OUTCOME["both_right"]),
    )
    cell = (b.case([(wrong_b, one)], zero) * b.lit(2) + b.case([(wrong_c, one)], zero)) * b.lit(
        len(OUTCOME)
    ) + outcome
    return _grouped(b, cell, [eb, ec, d, eb * eb, ec * ec], 4 * len(OUTCOME))


def _regression_headline(
    joined: Backend, sums: _Sums, threshold: float, sample_rows: int
) -> tuple[list[MetricDelta], Flips, str | None]:
    """MAE, RMSE and the error rate over the threshold, as the numpy path gives them."""
    n_rows, *columns = sums.columns
    n = sums.n_inside
    sum_b, sum_c, sum_d, sum_b2, sum_c2 = (_fsum(c) for c in columns)
    cells, outcome = np.divmod(sums.codes, len(OUTCOME))
    per_cell = np.bincount(cells, weights=n_rows, minlength=4).round().astype(np.int64)
    per_outcome = np.bincount(outcome, weights=n_rows, minlength=len(OUTCOME)).round()
    mean_d, mse_b, mse_c = sum_d / n, sum_b2 / n, sum_c2 / n
    centred = _centred(joined, threshold, mean_d, mse_b, mse_c) if n >= 2 else (0.0, 0.0)
    mae_est = _mean_estimate(mean_d, centred[0], n)
    p, note = _wilcoxon(joined, n, sample_rows)
    test = f"{WILCOXON}; {PAIRED_T} interval" + (" (Wilcoxon sampled)" if note else "")
    mae = MetricDelta(
        "mae", "MAE", sum_b / n, sum_c / n, mae_est.value, mae_est.low, mae_est.high, p, test,
        False,
    )  # fmt: skip
    rmse_est, rmse_p = _rmse_estimate(math.sqrt(mse_c) - math.sqrt(mse_b), centred[1], n)
    rmse = MetricDelta(
        "rmse", "RMSE", math.sqrt(mse_b), math.sqrt(mse_c), rmse_est.value, rmse_est.low,
        rmse_est.high, rmse_p, DELTA, False,
    )  # fmt: skip
    # cells: 2 * wrong baseline + wrong candidate
    rate = _rate_deltas(int(per_cell[3]), int(per_cell[1]), int(per_cell[2]), n, accuracy=False)[0]
    rate = replace(rate, label=f"Error rate (|error| > {threshold:.4g})")
    flips = Flips(
        n=n,
        both_right=int(per_outcome[OUTCOME["both_right"]]),
        broken=int(per_outcome[OUTCOME["broken"]]),
        fixed=int(per_outcome[OUTCOME["fixed"]]),
        both_wrong_same=int(per_outcome[OUTCOME["both_wrong_same"]]),
        both_wrong_different=None,
    )
    return [mae, rmse, rate], flips, note


def _compared_inside(b: Backend) -> Expr:
    both = ~b.is_null(b.col("__c_key")) & ~b.is_null(b.col("__b_key"))
    return both & (b.col("__c_y") == b.col("__b_y")) & b.col("__c_in")


def _centred(
    joined: Backend, threshold: float, mean_d: float, mse_b: float, mse_c: float
) -> tuple[float, float]:
    """Second pass: ``Σ(d - mean d)²`` and the sum of squares of RMSE's centred influence."""
    b = joined
    t = _regression_terms(b, threshold)
    eb, ec, d = t["eb"], t["ec"], t["d"]

    def influence(e: Expr, mse: float) -> Expr:
        if mse <= 0.0:
            return b.lit(0.0)
        return (e * e - b.lit(mse)) / b.lit(2.0 * math.sqrt(mse))

    gap = d - b.lit(mean_d)
    infl = influence(ec, mse_c) - influence(eb, mse_b)
    where = _compared_inside(b)
    aggs = [b.agg("sum", v, where=where) for v in (gap * gap, infl, infl * infl)]
    ((n, sq, total, total_sq),) = b.run([b.agg("count", where=where), *aggs])
    mean_infl = float(total or 0.0) / n
    return float(sq or 0.0), max(float(total_sq or 0.0) - n * mean_infl * mean_infl, 0.0)


def _mean_estimate(mean: float, centred_sq: float, n: int) -> Estimate:
    """:func:`~mlqa_debug.stats.paired_mean_difference` from the mean and ``Σ(d - mean)²``."""
    if n < 2:
        return Estimate(mean, _NAN, _NAN)
    half = _t_quantile(n - 1, 0.95) * math.sqrt(centred_sq / (n - 1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half)


def _rmse_estimate(diff: float, centred_sq: float, n: int) -> tuple[Estimate, float]:
    """:func:`~mlqa_debug.stats.rmse_difference` from the difference and the influence sums."""
    from scipy import special

    if n < 2:
        return Estimate(diff, _NAN, _NAN), _NAN
    se = math.sqrt(centred_sq / (n - 1)) / math.sqrt(n)
    if se == 0.0:
        return Estimate(diff, diff, diff), 1.0 if diff == 0.0 else 0.0
    half = _z(0.95) * se
    return Estimate(diff, diff - half, diff + half), float(2.0 * special.ndtr(-abs(diff / se)))


def _wilcoxon(joined: Backend, n: int, sample_rows: int) -> tuple[float, str | None]:
    """Wilcoxon's p on every compared pair up to ``sample_rows``, else on a seeded sample."""
    b = joined
    d = _regression_terms(b, 0.0)["d"]
    where = _compared_inside(b)
    if n <= sample_rows:
        rows = b.head([d], order=[], limit=n, where=where)
        return wilcoxon_p_value(np.array([r[0] for r in rows], dtype=np.float64)), None
    order = [b.seeded_hash(b.col("__c_key"), SEED), b.col("__c_key")]
    rows = b.head([d], order=order, limit=sample_rows, where=where)
    values = np.array([r[0] for r in rows], dtype=np.float64)
    note = (
        f"MAE's Wilcoxon p-value is computed on a seeded sample of {count(sample_rows)} of "
        f"the {count(n)} compared pairs (sampled by the engine; seed {SEED})"
    )
    return wilcoxon_p_value(values), note
