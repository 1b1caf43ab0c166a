"""Quality cases on an engine: the rows a quality check flags, counted where the table lies.

:class:`EngineQuality` measures a :class:`~mlqa_debug.cases.quality_spec.QualitySpec`
on an :class:`~mlqa_debug.engines.engine.AggregateEngine` the way
:meth:`mlqa_debug.cases.quality.QualitySession.measure` measures it on a loaded
table, with the thresholds of :data:`~mlqa_debug.analyses.quality.thresholds.DEFAULT_THRESHOLDS`:

- exactly, from aggregates (:data:`EXACT_CHECKS`): ``missing_values`` (a count of
  NULL, and NaN in a float column), ``constant`` (the histogram of the column's
  group sizes gives its distinct values and its most common value's count),
  ``high_cardinality`` and ``identifier_like`` (distinct values over present rows),
  ``duplicate_ids``, ``duplicate_rows`` and ``conflicting_labels`` (a group-by on the
  values, then on the group sizes: rows in groups of two or more). Grouped values
  are normalised as the row hashes of :mod:`mlqa_debug.analyses.quality.rows`
  normalise them: NaN is missing like NULL, ``-0.0`` is ``0.0``;
- on a sample otherwise (outliers, class balance, calibration, leakage ...): the
  engine draws at most :data:`SAMPLE_ROWS` rows with a seed, the loader's checks
  and the quality check run on them as on a loaded table. When the table is no
  larger than the sample, the sample is the table and the result is exact; else it
  is marked :attr:`EngineQualityMeasurement.sampled` and ``check`` says "sampled".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlqa_debug.analyses.quality.checks import _ID_CAMEL, _ID_NAME
from mlqa_debug.analyses.quality.thresholds import DEFAULT_THRESHOLDS
from mlqa_debug.cases.conditions import ROWS
from mlqa_debug.cases.quality import QualityMeasurement, QualitySession
from mlqa_debug.cases.quality_spec import QualitySpec
from mlqa_debug.data.predictions import Predictions
from mlqa_debug.engines.backend import Expr
from mlqa_debug.engines.engine import AggregateEngine
from mlqa_debug.errors import CaseError, MlqaError

__all__ = [
    "EXACT_CHECKS",
    "SAMPLE_ROWS",
    "SAMPLE_SEED",
    "EngineQuality",
    "EngineQualityMeasurement",
]

SAMPLE_ROWS = 200_000
"""The most rows a quality check that needs the rows is run on (a seeded sample)."""
SAMPLE_SEED = 0

EXACT_CHECKS = frozenset(
    {
        "missing_values",
        "constant",
        "high_cardinality",
        "identifier_like",
        "duplicate_ids",
        "duplicate_rows",
        "conflicting_labels",
    }
)
"""The quality checks counted exactly from aggregates on an engine."""


@dataclass(frozen=True)
class EngineQualityMeasurement:
    """``flagged`` of ``rows`` measured rows; ``total`` rows in the table (more if sampled)."""

    flagged: int
    rows: int
    total: int

    @property
    def sampled(self) -> bool:
        return self.rows < self.total

    def value(self, metric: str) -> float:
        """``rows_share`` (of the measured rows) or ``rows`` (scaled to the table if sampled)."""
        value = QualityMeasurement(self.flagged, self.rows).value(metric)
        if metric == ROWS and self.sampled and self.rows:
            return value * self.total / self.rows
        return value

    def note(self, metric: str) -> str:
        """What the result says of a sample ("" when every row was measured)."""
        if not self.sampled:
            return ""
        text = f"sampled: measured on a seeded sample of {self.rows:,} of the {self.total:,} rows"
        if metric == ROWS:
            text += f" ({self.flagged:,} flagged there, scaled to the table)"
        return text


class EngineQuality:
    """The quality cases of one check on one engine table: aggregates, and one shared sample."""

    def __init__(
        self,
        engine: AggregateEngine,
        session: QualitySession,
        *,
        sample_rows: int = SAMPLE_ROWS,
        seed: int = SAMPLE_SEED,
    ) -> None:
        self.engine, self.session = engine, session
        self.sample_rows, self.seed = sample_rows, seed
        self.b = engine.backend
        self._cache: dict[tuple[str, str], Any] = {}

    @property
    def n_rows(self) -> int:
        return self.engine.n_rows

    def measure(self, spec: QualitySpec) -> EngineQualityMeasurement:
        """The rows the spec's check flags on its column; CaseError when it cannot be measured."""
        table = self.engine.table
        if spec.column is not None and spec.column not in table.columns:
            where = Path(table.source).name if table.source else "this table"
            raise CaseError(f"column {spec.column!r} is not in {where}")
        if spec.check in EXACT_CHECKS:
            return EngineQualityMeasurement(self._exact(spec), self.n_rows, self.n_rows)
        measured = self.session.measure(self._sample, spec)
        return EngineQualityMeasurement(measured.flagged, measured.rows, self.n_rows)

    # ------------------------------------------------------------------ exact checks

    @property
    def _features(self) -> dict[str, str]:
        return dict(self.engine.schema.features)

    def _once(self, kind: str, column: str, build: Any) -> Any:
        if (kind, column) not in self._cache:
            self._cache[kind, column] = build()
        return self._cache[kind, column]

    def _exact(self, spec: QualitySpec) -> int:
        check, column = spec.check, spec.column
        if check in ("duplicate_rows", "conflicting_labels"):
            if not self._features:
                raise CaseError(
                    f"the check {check!r} does not apply to this table: no feature columns"
                )
            if column is not None:
                return 0  # their findings are about rows, not a column
            return self._duplicate_rows() if check == "duplicate_rows" else self._conflicts()
        if column is None:
            return 0  # the per-column checks' findings all name a column
        if check == "duplicate_ids":
            if column != self.engine.schema.id and not (
                column in self._features and self._id_like(column)
            ):
                return 0
            return self._repeated(column)
        if column not in self._features:
            return 0
        if check == "missing_values":
            return self.n_rows - self._present(column)
        if check == "constant":
            return self._constant(column)
        if check == "identifier_like":
            return self._present(column) if self._id_like(column) else 0
        limit = DEFAULT_THRESHOLDS.high_cardinality  # high_cardinality
        kind = self._features[column]
        if kind not in ("categorical", "text") or self._distinct(column) <= limit:
            return 0
        return 0 if self._id_like(column) else self._present(column)

    def _is_present(self, column: str) -> Expr:
        return self.b.present(column, self.engine.table.types[column].nan)

    def _value(self, column: str) -> Expr:
        """The column as rows are compared: NaN as NULL, ``-0.0`` as ``0.0`` (floats)."""
        b, c = self.b, self.b.col(column)
        if not self.engine.table.types[column].nan:
            return c
        return b.case([(b.call("isnan", c), b.lit(None))], c + b.lit(0.0))

    def _present(self, column: str) -> int:
        def build() -> int:
            ((n,),) = self.b.run([self.b.agg("count", where=self._is_present(column))])
            return int(n or 0)

        return int(self._once("present", column, build))

    def _sizes(self, column: str) -> list[tuple[int, int]]:
        """(group size, number of groups) of the column's present values."""

        def build() -> list[tuple[int, int]]:
            rows = self.b.regroup(
                [self._value(column)], [self.b.agg("count")], where=self._is_present(column)
            )
            return [(int(size), int(groups)) for size, groups in rows]

        return list(self._once("sizes", column, build))

    def _distinct(self, column: str) -> int:
        return sum(groups for _, groups in self._sizes(column))

    def _repeated(self, column: str) -> int:
        """Present rows whose value occurs more than once."""
        return sum(size * groups for size, groups in self._sizes(column) if size > 1)

    def _constant(self, column: str) -> int:
        """As ``constant``: every present row if one value, else the rare rows if near-constant."""
        present = self._present(column)
        if present == 0:
            return 0
        sizes = self._sizes(column)
        if self._distinct(column) == 1:
            return present
        top = max(size for size, _ in sizes)
        return present - top if top / present >= DEFAULT_THRESHOLDS.near_constant else 0

    def _integral(self, column: str) -> bool:
        """Whether every present value of a numeric column is a whole number."""
        b, c = self.b, self.b.col(column)
        fractional = self._is_present(column) & (c != b.call("floor", c))

        def build() -> bool:
            ((n,),) = b.run([b.agg("count", where=fractional)])
            return not n

        return bool(self._once("integral", column, build))

    def _id_like(self, column: str) -> bool:
        """As :func:`~mlqa_debug.analyses.quality.checks.looks_like_id`."""
        t = DEFAULT_THRESHOLDS
        present = self._present(column)
        if present < t.min_identifier_rows:
            return False
        named = bool(_ID_NAME.search(column) or _ID_CAMEL.search(column))
        kind = self._features[column]
        if kind == "numeric" and not named:
            if not self._integral(column):
                return False
        elif kind not in ("numeric", "categorical", "text"):
            return False
        share = self._distinct(column) / present
        return share >= (t.identifier_named_unique if named else t.identifier_unique)

    def _duplicate_rows(self) -> int:
        """Rows whose features and label equal another row's."""
        keys = [self._value(c) for c in self._features] + [self.b.col(self.engine.schema.label)]
        rows = self.b.regroup(keys, [self.b.agg("count")])
        return sum(int(size) * int(groups) for size, groups in rows if size > 1)

    def _conflicts(self) -> int:
        """Rows whose features equal another row's while the labels differ."""
        b, label = self.b, self.b.col(self.engine.schema.label)
        keys = [self._value(c) for c in self._features]
        rows = b.regroup(keys, [b.agg("count"), b.agg("min", label), b.agg("max", label)])
        return sum(int(size) * int(groups) for size, low, high, groups in rows if low != high)

    # ------------------------------------------------------------------ the sample

    @cached_property
    def _sample(self) -> Predictions:
        """At most ``sample_rows`` rows drawn by the engine, loaded and checked as a table."""
        try:
            return self.engine.sample_predictions(self.sample_rows, self.seed)
        except MlqaError as e:
            raise CaseError(
                f"the engine's sample of {self.sample_rows:,} rows cannot be loaded for the "
                f"check: {e}"
            ) from e
