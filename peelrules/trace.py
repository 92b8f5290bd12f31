"""The explanation trace: a typed tree from area to ladder rungs, rules, sub-expressions and facts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .estimates import ComparisonLeaf, EstimateLeaf
from .findings import Finding, Moderation
from .result import AreaResult
from .source import Span
from .stats import PeerComparison
from .values import Value


@dataclass(frozen=True)
class FactLeaf:
    """A fact as a trace shows it: present or not, its declaration, and where it is quoted from."""

    name: str
    present: bool
    type: str
    description: str
    document: str | None = None
    line: int | None = None
    quote: str | None = None
    status: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class AggregateLeaf:
    """An aggregate over a case-level table, as computed for the bundle (docs/tables.md). `sql` gives the same
    value, rows_read and rows_matched: for `engine` duckdb when pasted into duckdb in `folder` (the bundle's
    folder); for spark, in a Spark session where the table is a temporary view of its name (docs/scale.md), made
    from its files or from the catalog table `catalog`. present is false when the bundle has no such table (the
    value is then unknown)."""

    key: str
    table: str
    present: bool
    sql: str | None = None
    rows_read: int | None = None
    rows_matched: int | None = None
    folder: str | None = None
    files: tuple[str, ...] = ()
    source: str | None = None
    engine: str = "duckdb"  # what computed it: duckdb or spark
    catalog: str | None = None  # the Spark catalog table read instead of the files

    @classmethod
    def of(cls, key: str, name: str, table: Any, res: Any) -> "AggregateLeaf":
        """The leaf of aggregate `key` over table `name`, from the bundle's table (tablefacts.BundleTable) and its
        result (tablefacts.AggregateResult), either None when the bundle has not got it."""
        return cls(key, name, table is not None and res is not None,
                   res.sql if res else None, res.rows_read if res else None,
                   res.rows_matched if res else None, table.folder if table else None,
                   tuple(f.file for f in table.files) if table else (), table.source if table else None,
                   res.engine if res else "duckdb", table.catalog if table else None)


@dataclass(frozen=True)
class PeerLeaf:
    """A force among its peers on a comparator measure (docs/statistics.md): the dataset, and the comparison
    (None, with `why`, when the bundle has no such comparator or the force no value in it)."""

    name: str  # the evidence item
    description: str
    measure: str
    present: bool
    file: str | None = None
    sha256: str | None = None
    title: str | None = None
    unit: str | None = None
    polarity: str | None = None
    illustrative: bool = False
    source: str | None = None
    comparison: "PeerComparison | None" = None
    values: "tuple[tuple[str, float | None], ...]" = ()  # every force's value, for the chart
    force: str | None = None
    why: str | None = None

    @staticmethod
    def of(name: str, description: str, measure: str, found: Any) -> "PeerLeaf":
        """From a peerfacts.BundlePeer (None: the bundle has none for the measure)."""
        if found is None:
            return PeerLeaf(name, description, measure, False,
                            why=f"the bundle gives no comparator for measure {measure} (comparators:)")
        c = found.comparator
        return PeerLeaf(name, description, measure, True, found.file, found.sha256, c.title, c.unit, c.polarity,
                        c.illustrative, c.source_title, found.comparison, tuple(c.values.items()),
                        found.comparison.force if found.comparison else None, found.why)


@dataclass(frozen=True)
class ExprTrace:
    """An expression's value in a trace, with the traces of its parts and what it read. `span` is where the
    expression is written in the rule files (the AST node's span; unlike the AST's, it counts in equality, so the
    two evaluators must agree on it)."""

    text: str
    value: Value
    span: Span
    children: tuple["ExprTrace", ...] = ()
    fact: FactLeaf | None = None
    rule: str | None = None  # key of a referenced rule
    constant: str | None = None
    written: str | None = None  # a constant's definition as written, e.g. "90%"
    counter: str | None = None
    finding_kind: str | None = None  # set on stated(kind): the kind it counts
    taken: int | None = None  # first_known(): the argument whose value it took (0 first; None: all unknown)
    findings: "tuple[Finding, ...] | None" = None  # what stated() counted, as the report words it (None: unknown)
    aggregate: AggregateLeaf | None = None  # set on an aggregate over a table: its SQL and rows
    estimate: EstimateLeaf | None = None  # set on a function of an estimate: its interval, method and sample
    comparison: ComparisonLeaf | None = None  # set on overlaps(a, b) and the like: both estimates and the test
    peer: PeerLeaf | None = None  # set on outlier(), peer_z(), peer_rank(): the peers and the force among them


@dataclass(frozen=True)
class RuleTrace:
    """A rule in a trace: its outcome, exceeded value, and the traces of its conditions."""

    key: str
    kind: str
    title: str
    cite: str | None
    recommendation: str | None
    severe: bool
    span: Span
    outcome: Value
    exceeded: Value
    when: ExprTrace | None
    exceeded_when: ExprTrace | None


@dataclass(frozen=True)
class RungTrace:
    """A ladder rung in a trace: its grade, value and the trace of its condition."""

    grade: str
    otherwise: bool
    value: Value
    condition: ExprTrace | None
    span: Span

    @property
    def where(self) -> Span:
        """Where the rung is written: its condition, or the rung itself for `otherwise`."""
        return self.condition.span if self.condition is not None else self.span


@dataclass(frozen=True)
class AreaTrace:
    """An area in a trace: its result, rungs, rules, findings and moderation."""

    result: AreaResult
    question: str | None
    span: Span
    rungs: tuple[RungTrace, ...]
    rules: tuple[RuleTrace, ...]
    findings: "tuple[Finding, ...] | None" = None  # the area's findings as the bundle records them
    moderation: Moderation | None = None
    secondary: tuple[str, ...] = ()  # facts and findings the area reads from secondary sources
    findings_in_part: bool = False  # the bundle records some of the area's findings (`some:`), not the whole list
