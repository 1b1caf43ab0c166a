"""The small vocabulary a backend speaks: column references, literals, a few functions, aggregates.

Every query the engines run (:mod:`.table`'s profile, :mod:`.aggregates`' slice sums)
is written once against :class:`Backend`; :mod:`.duckdb_engine` and
:mod:`.spark_engine` implement it with their own expression objects (DuckDB's
``ColumnExpression``/``ConstantExpression``/``CaseExpression``/``FunctionExpression``,
Spark's ``Column``). Both overload Python's operators (``==``, ``<``, ``&``, ``|``,
``~``, ``+``, ``*`` ...) the same way, so the shared code combines expressions with
them. Names become quoted identifiers and values literals inside the backend; no
query text is assembled from user input anywhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mlqa_debug.engines.plan import InSet, Missing, Order, Term

__all__ = ["Backend", "Expr"]

Expr = Any
"""A backend's expression object (a DuckDB ``Expression`` or a Spark ``Column``)."""


class Backend(ABC):
    """One engine's expressions and how it runs an aggregate over its table."""

    name: str

    @abstractmethod
    def col(self, name: str) -> Expr:
        """A reference to column ``name`` (any characters: quoted by the backend)."""

    @abstractmethod
    def lit(self, value: Any) -> Expr:
        """A literal value."""

    @abstractmethod
    def case(self, pairs: Sequence[tuple[Expr, Expr]], otherwise: Expr) -> Expr:
        """``CASE WHEN c1 THEN v1 ... ELSE otherwise END``."""

    @abstractmethod
    def call(self, function: str, *args: Expr) -> Expr:
        """A scalar function: ``isnan``, ``ln``, ``abs``, ``floor``, ``greatest``, ``least``."""

    @abstractmethod
    def is_null(self, e: Expr) -> Expr: ...

    @abstractmethod
    def is_in(self, e: Expr, values: Sequence[Any]) -> Expr: ...

    @abstractmethod
    def to_double(self, e: Expr) -> Expr: ...

    @abstractmethod
    def agg(self, function: str, e: Expr | None = None, *, where: Expr | None = None) -> Expr:
        """An aggregate: ``count`` (of rows), ``sum``, ``min``, ``max``, ``bool_and``.

        With ``where``, only rows where it holds count; an empty sum is 0, never NULL.
        """

    @abstractmethod
    def quantile(self, e: Expr, q: float) -> Expr:
        """The exact ``q`` quantile with linear interpolation (``np.quantile``'s default)."""

    @abstractmethod
    def run(
        self, aggregates: Sequence[Expr], *, group: Expr | None = None, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of ``(group key, *aggregates)`` (just the aggregates without ``group``)."""

    @abstractmethod
    def run_columns(self, aggregates: Sequence[Expr], *, group: Expr) -> list[np.ndarray]:
        """The grouped result as arrays: the group key, then one array per aggregate."""

    @abstractmethod
    def regroup(
        self, keys: Sequence[Expr], inner: Sequence[Expr], *, where: Expr | None = None
    ) -> list[tuple[Any, ...]]:
        """Groups of groups: the rows (where ``where`` holds) grouped by ``keys``, the
        ``inner`` aggregates per group, then how many groups share each tuple of them.

        Rows of ``(*inner values, number of groups)``: with ``inner = [count]`` it is
        the histogram of group sizes (duplicates, distinct values, the mode's count).
        """

    @abstractmethod
    def sample(self, n: int, *, seed: int) -> pa.Table:
        """At most ``n`` rows drawn by the engine with ``seed`` (all rows if there are fewer)."""

    # ------------------------------------------------------------------ relations (compare)

    @abstractmethod
    def select(self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None) -> Backend:
        """A backend over the named expressions of the rows where ``where`` holds.

        The names are the caller's own (never user input): they become the columns.
        """

    @abstractmethod
    def join(self, other: Backend, left: str, right: str) -> Backend:
        """The full outer join with ``other`` (same session) on ``left == right``.

        Every column of both sides, whose names must differ; NULL where a side has no row.
        """

    @abstractmethod
    def grouped(
        self, keys: Sequence[tuple[str, Expr]], aggregates: Sequence[tuple[str, Expr]]
    ) -> Backend:
        """A backend over one row per distinct ``keys``: the keys and the aggregates, named."""

    @abstractmethod
    def head(
        self,
        columns: Sequence[Expr],
        *,
        order: Sequence[Expr],
        limit: int,
        where: Expr | None = None,
    ) -> list[tuple[Any, ...]]:
        """The first ``limit`` rows (where ``where`` holds) by ``order``, ascending."""

    @abstractmethod
    def seeded_hash(self, e: Expr, seed: int) -> Expr:
        """A 64-bit hash of ``e`` mixed with ``seed``: a repeatable, seeded order of rows."""

    @abstractmethod
    def to_text(self, e: Expr) -> Expr:
        """``e`` cast to text (integers written as digits)."""

    # ------------------------------------------------------------------ discovery

    @abstractmethod
    def cast(self, e: Expr, type_name: str) -> Expr:
        """``e`` cast to the Arrow type ``int8``, ``int16``, ``int32``, ``int64`` or ``double``."""

    @abstractmethod
    def quantile_values(self, e: Expr, qs: Sequence[float]) -> list[float] | None:
        """The exact ``qs`` quantiles of ``e``'s non-NULL values, as ``np.quantile`` gives them.

        Linear interpolation; None when there is no value. Runs its own passes.
        """

    @abstractmethod
    def epoch_ns(self, e: Expr) -> Expr:
        """A timestamp as int64 nanoseconds since the epoch (UTC)."""

    @abstractmethod
    def first_rows(self, n: int) -> Backend:
        """A backend over some ``n`` rows of this one (any ``n``: the engine's cheapest)."""

    @abstractmethod
    def materialize(
        self, items: Sequence[tuple[str, Expr]], *, where: Expr | None = None
    ) -> Backend:
        """Like :meth:`select`, but computed once and held by the engine for repeated scans."""

    def run_grouped(
        self, aggregates: Sequence[Expr], keys: Sequence[Expr]
    ) -> list[list[np.ndarray]]:
        """:meth:`run_columns` grouped by each key in turn, in as few passes as the engine can."""
        return [self.run_columns(aggregates, group=key) for key in keys]

    # ------------------------------------------------------------------ shared helpers

    def present(self, column: str, nan: bool) -> Expr:
        """Not NULL (and, in a float column, not NaN)."""
        e = ~self.is_null(self.col(column))
        return e & ~self.call("isnan", self.col(column)) if nan else e

    def term(self, t: Term, column: Expr) -> Expr:
        """The expression of one slice term over ``column`` (may be NULL: wrap in coalesce)."""
        if isinstance(t, Missing):
            missing = self.is_null(column)
            if t.type.nan:
                missing = missing | self.call("isnan", column)
            return ~missing if t.negate else missing
        present = ~self.is_null(column)
        if t.type.nan:
            present = present & ~self.call("isnan", column)
        if isinstance(t, Order):
            ops = {"<": column.__lt__, "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}
            return present & ops[t.op](self.lit(t.value))
        assert isinstance(t, InSet)
        hit = self.is_in(column, t.values) if t.values else self.lit(False)
        return present & ~hit if t.negate else present & hit

    def where(self, terms: Sequence[Term], columns: dict[str, Expr]) -> Expr:
        """All terms hold, NULL counted as false: the rows of a slice."""
        out = self.lit(True)
        for t in terms:
            out = out & self.term(t, columns.get(t.column, self.col(t.column)))
        return self.case([(out, self.lit(True))], self.lit(False))  # NULL -> false
