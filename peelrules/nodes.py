"""The AST: frozen dataclasses, each with a span that equality ignores.

Parsed trees hold `Name` references; the checker replaces them with resolved references
(`FactRef`, `ConstRef`, `RuleRef`, `CounterRef`, `AssessmentLit`) so evaluation never looks names up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Union

from . import vocabulary
from .source import Span, span_field

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Number:
    """A number as written (its text kept for the formatter)."""

    value: int | float
    span: Span = span_field()
    text: str = field(default="", compare=False)  # the digits as written, e.g. "1.50"


@dataclass(frozen=True)
class Percent:
    """`90%`: `value` is the fraction (0.9); `text` keeps what was written (`90`)."""

    value: float
    text: str
    span: Span = span_field()


@dataclass(frozen=True)
class String:
    """A quoted string."""

    value: str
    span: Span = span_field()


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span = span_field()


@dataclass(frozen=True)
class Name:
    """An unresolved, possibly dotted name: `met`, `vsa.case_files`, `investigating_crime.supervises`."""

    parts: tuple[str, ...]
    span: Span = span_field()

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Unary:
    """`not x` or `-x`."""

    op: str  # "not" | "-"
    operand: "Expr"
    span: Span = span_field()


BOOL_OPS = ("or", "and")
COMPARE_OPS = (">=", "<=", ">", "<", "==", "!=")
ARITH_OPS = ("+", "-", "*", "/")


@dataclass(frozen=True)
class Binary:
    """`a op b`: arithmetic, comparison, and/or (`written` keeps a spelled-out operator)."""

    op: str  # one of BOOL_OPS, COMPARE_OPS, ARITH_OPS
    left: "Expr"
    right: "Expr"
    span: Span = span_field()
    written: str = field(default="", compare=False)  # "is" / "is not" when written so, for unparse


@dataclass(frozen=True)
class InList:
    """`x in [a, b]` or `x not in [...]`."""

    negated: bool
    item: "Expr"
    options: tuple["Expr", ...]
    span: Span = span_field()


@dataclass(frozen=True)
class Call:
    """A function of the vocabulary applied to its arguments."""

    func: str
    args: tuple["Expr", ...]
    span: Span = span_field()


# resolved references (made by the checker)


@dataclass(frozen=True)
class FactRef:
    """A reference to an evidence item, resolved by the checker."""

    name: str
    span: Span = span_field()


@dataclass(frozen=True)
class ConstRef:
    """A reference to a constant (`key` is `name` or `area.name`), resolved by the checker."""

    name: str  # as written
    key: str  # unique: "answer_standard" or "area.name"
    span: Span = span_field()


@dataclass(frozen=True)
class RuleRef:
    """A reference to a rule of an area, resolved by the checker."""

    area: str
    rule: str
    written: str = ""
    span: Span = span_field()

    @property
    def key(self) -> str:
        return f"{self.area}.{self.rule}"


@dataclass(frozen=True)
class CounterRef:
    """A ladder counter (met, unmet, concerns, ...), resolved by the checker."""

    name: str
    span: Span = span_field()


@dataclass(frozen=True)
class Stated:
    """`stated(kind)` / `stated_severe(kind)`, resolved: the number of findings of `kind` the bundle records for
    `area` (None in a shared ladder: the area being graded)."""

    kind: str
    severe: bool
    area: str | None
    span: Span = span_field()

    @property
    def func(self) -> str:
        return "stated_severe" if self.severe else "stated"


@dataclass(frozen=True)
class DateLit:
    """`2021-07-01` or `2021-07-01T00:00:00` as written: a value in a table filter (docs/tables.md)."""

    text: str
    span: Span = span_field()


@dataclass(frozen=True)
class Aggregate:
    """An aggregate over a declared table: `share(contact.calls where answer_seconds <= 10)`,
    `percentile(contact.calls.answer_seconds, 90)`. `args` and `where` are as written (the filter's names are
    the table's columns); the checker fills `table`, `column` and `key` (the canonical text, as
    tables.Aggregate.key() writes it, by which the bundle holds the value)."""

    func: str
    args: tuple["Expr", ...]
    where: "Expr | None" = None
    span: Span = span_field()
    table: str = ""
    column: str | None = None
    key: str = ""
    filter: "Expr | None" = None  # `where` with constants replaced by their values (set by the checker)


@dataclass(frozen=True)
class AssessmentLit:
    """An assessment word or outlier band (`met`, `well_below`, ...), resolved by the checker."""

    value: str
    span: Span = span_field()


Expr = Union[Number, Percent, String, Bool, Name, Unary, Binary, InList, Call,
             FactRef, ConstRef, RuleRef, CounterRef, Stated, AssessmentLit, DateLit, Aggregate]


def children(e: "Expr") -> tuple["Expr", ...]:
    """The direct sub-expressions of an expression."""
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, Unary):
        return (e.operand,)
    if isinstance(e, InList):
        return (e.item, *e.options)
    if isinstance(e, Call):
        return e.args
    return ()


def walk(e: "Expr") -> Iterator["Expr"]:
    """Every node of an expression, parents first, without recursion (expressions can be deep)."""
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        stack.extend(reversed(children(x)))

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Framework:
    """The `framework` block: name, version, dates, publisher and statistical settings."""

    name: str
    title: str
    version: str | None = None
    effective_from: str | None = None
    effective_to: str | None = None
    publisher: str | None = None
    interval: str | None = None  # how a ratio's confidence interval is computed (vocabulary.INTERVAL_METHODS)
    small_sample_below: int | None = None  # small_sample(x) holds when x's sample is below this
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors
    clauses: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class EvidenceDecl:
    """One declared evidence item: its type, description, range, unit (or a table's columns)."""

    name: str  # qualified: "vsa.case_files"
    type: str
    description: str
    range_lo: float | None = None
    range_hi: float | None = None
    unit: str | None = None
    context_only: bool = False
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors
    block: Span = span_field()  # the `evidence name { ... }` block it was declared in
    type_span: Span = span_field()
    columns: tuple["TableColumn", ...] = ()  # a `table`'s columns, as the rules declare them
    measure: str | None = None  # a `comparator`'s measure in the bundle's comparators: (None: its own short name)


@dataclass(frozen=True)
class TableColumn:
    """A column of a `table` evidence item: `answer_seconds: number unit "seconds"`."""

    name: str
    type: str
    unit: str | None = None
    span: Span = span_field()
    type_span: Span = span_field()
    extent: Span = span_field()


@dataclass(frozen=True)
class Let:
    """`let name = expr`: a constant, global or of an area."""

    name: str
    expr: Expr
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors


@dataclass(frozen=True)
class Rung:
    """One rung of a ladder: a grade and the condition that gives it (none for `otherwise`)."""

    grade: str
    condition: Expr | None  # None means `otherwise`
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors


@dataclass(frozen=True)
class Ladder:
    """A named ladder: rungs tried in order, the first that holds gives the grade."""

    name: str
    rungs: tuple[Rung, ...]
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors


RULE_KINDS: tuple[str, ...] = tuple(vocabulary.RULE_KINDS)


@dataclass(frozen=True)
class Rule:
    """A rule of an area: a characteristic, cause of concern, area for improvement or practice."""

    kind: str
    name: str
    title: str
    when: Expr | None = None
    exceeded_when: Expr | None = None
    cite: str | None = None
    recommendation: str | None = None
    severe: bool = False
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors
    clauses: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Area:
    """An area block: its question, aliases, ladder and rules."""

    name: str
    title: str
    question: str | None = None
    aliases: tuple[str, ...] = ()
    ungraded: bool = False
    optional: bool = False  # inspected in some reports only: without evidence for it, not inspected
    grade_by: str | None = None
    grade_by_span: Span = span_field()
    ladders: tuple[Ladder, ...] = ()
    lets: tuple[Let, ...] = ()
    rules: tuple[Rule, ...] = ()
    span: Span = span_field()
    extent: Span = span_field()  # the whole construct, for the formatter and editors
    clauses: tuple[tuple[str, Span], ...] = field(default=(), compare=False, repr=False)


Item = Union[Framework, EvidenceDecl, Let, Ladder, Area]


@dataclass(frozen=True)
class Module:
    """One parsed rule file."""

    file: str
    items: tuple[Item, ...]
