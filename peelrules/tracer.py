"""Explanation traces from the values the compiled engine records.

A compiled rule set (compile.py) holds the value of every expression node it computes in a local of its own, and
a traced run returns its locals: the record. A value the compiler knew already (a constant, a folded
sub-expression) is in no local and is kept here. `ExprBuilder` is made once per compiled rule set from the compiler's `Planned` tree: the
canonical text of every node (unparse) is worked out then, as are the traces of whole sub-trees whose values and
leaves cannot depend on the bundle. Applied to one run's slots and the bundle, it gives the `ExprTrace` the
reference interpreter (evaluate.py) builds for the same node: the same text, span, value, children and leaves
(tests/test_compile.py checks that they are equal, and their reprs, for generated rule sets and bundles). The span
is the AST node's own (where the expression is written in the rule files), so it too is fixed per rule set.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from . import estimates
from . import nodes as n
from .facts import Bundle
from .peers import comparator_measure
from .plan import Planned
from .program import Program
from .trace import AggregateLeaf, ExprTrace, FactLeaf, PeerLeaf
from .unparse import unparse
from .values import UNKNOWN, Value
from .vocabulary import COMPARISON_FUNCTIONS, ESTIMATE_FUNCTIONS, PEER_FUNCTIONS

Slots = Mapping[str, object]  # a traced run's locals
Build = Callable[[Slots, Bundle], ExprTrace]

# Nodes whose trace reads the bundle (a fact's provenance, findings, a table, peers): never prebuilt.
_READS_BUNDLE = (n.FactRef, n.Stated, n.Aggregate)


class ExprBuilder:
    """Made once per compiled rule set; `build(planned)` gives the function that traces that node."""

    def __init__(self, program: Program):
        self.program = program
        self.interval = program.framework.interval or estimates.DEFAULT_INTERVAL
        self.small_below = program.framework.small_sample_below

    def build(self, p: Planned) -> Build:
        kids = [self.build(c) for c in p.children]
        make = self._make(p, kids)
        if p.slot is None and all(getattr(k, "static", False) for k in kids) and not self._reads_bundle(p.node):
            fixed = make({}, _NO_BUNDLE)  # the same whatever the bundle: built once

            def static(_r: Slots, _b: Bundle) -> ExprTrace:
                return fixed

            static.static = True  # type: ignore[attr-defined]
            return static
        return make

    @staticmethod
    def _reads_bundle(e: n.Expr) -> bool:
        return isinstance(e, _READS_BUNDLE) or isinstance(e, n.Call) and e.func in PEER_FUNCTIONS

    def _make(self, p: Planned, kids: list[Build]) -> Build:
        e = p.node
        value: Callable[[Slots], Value]
        if p.slot is None:
            fixed = p.value
            value = lambda _r: fixed  # type: ignore[assignment,return-value]  # noqa: E731
        else:
            slot: str = p.slot
            value = lambda r: r[slot]  # type: ignore[assignment,return-value]  # noqa: E731
        text = e.name if isinstance(e, (n.FactRef, n.ConstRef, n.CounterRef)) else \
            e.value if isinstance(e, n.AssessmentLit) else unparse(e)  # as Evaluator.text and eval write them
        span = e.span
        if isinstance(e, (n.Number, n.Percent, n.String, n.Bool, n.AssessmentLit)):
            return lambda r, b: ExprTrace(text, value(r), span)
        if isinstance(e, n.FactRef):
            return self._fact(e, value)
        if isinstance(e, n.ConstRef):
            written = self.program.const_text[e.key]
            return lambda r, b: ExprTrace(text, value(r), span, constant=e.key, written=written)
        if isinstance(e, n.RuleRef):
            return lambda r, b: ExprTrace(text, value(r), span, rule=e.key)
        if isinstance(e, n.CounterRef):
            return lambda r, b: ExprTrace(text, value(r), span, counter=e.name)
        if isinstance(e, n.Stated):
            return self._stated(e, p.area, text, value)
        if isinstance(e, n.Aggregate):
            return self._aggregate(e, text, value)
        if isinstance(e, n.Call) and e.func in PEER_FUNCTIONS:
            return self._peer(e, text, value)
        if isinstance(e, n.Call) and e.func == "first_known":
            def first_known(r: Slots, b: Bundle) -> ExprTrace:
                traced = tuple(k(r, b) for k in kids)
                taken = next((i for i, t in enumerate(traced) if t.value is not UNKNOWN), None)
                return ExprTrace(text, value(r), span, traced, taken=taken)
            return first_known
        if isinstance(e, n.Call) and e.func in COMPARISON_FUNCTIONS:
            first, second = kids
            interval, small_below, func = self.interval, self.small_below, e.func

            def compared(r: Slots, b: Bundle) -> ExprTrace:
                ta, tb = first(r, b), second(r, b)
                v = value(r)
                found = estimates.comparison(func, ta.value, tb.value, interval, small_below, v)
                return ExprTrace(text, v, span, (ta, tb), comparison=found)
            return compared
        if isinstance(e, n.Call) and e.func in ("significantly_below", "significantly_above"):
            arg, standard = kids
            interval, small_below, func = self.interval, self.small_below, e.func

            def significantly(r: Slots, b: Bundle) -> ExprTrace:
                t, ts = arg(r, b), standard(r, b)
                v = value(r)
                leaf = estimates.leaf(t.value, interval, small_below, func, ts.value, v)
                return ExprTrace(text, v, span, (t, ts), estimate=leaf)
            return significantly
        if isinstance(e, n.Call):
            (arg,) = kids
            interval, small_below, func = self.interval, self.small_below, e.func
            if func in ESTIMATE_FUNCTIONS:
                def estimate(r: Slots, b: Bundle) -> ExprTrace:
                    t = arg(r, b)
                    leaf = estimates.leaf(t.value, interval, small_below, func)
                    return ExprTrace(text, value(r), span, (t,), estimate=leaf)
                return estimate
            return lambda r, b: ExprTrace(text, value(r), span, (arg(r, b),))
        if isinstance(e, (n.Unary, n.Binary, n.InList)):
            return lambda r, b: ExprTrace(text, value(r), span, tuple(k(r, b) for k in kids))
        raise TypeError(f"cannot trace {e!r}")  # pragma: no cover - the compiler rejects it first

    def _fact(self, e: n.FactRef, value: Callable[[Slots], Value]) -> Build:
        decl = self.program.decls[e.name]
        name, kind, description = e.name, decl.type, decl.description
        span = e.span

        def fact(r: Slots, b: Bundle) -> ExprTrace:
            f = b.facts.get(name)
            leaf = FactLeaf(name, False, kind, description) if f is None else \
                FactLeaf(name, True, kind, description, f.document, f.line, f.quote, f.status, f.note)
            return ExprTrace(name, value(r), span, fact=leaf)
        return fact

    @staticmethod
    def _stated(e: n.Stated, graded: str | None, text: str, value: Callable[[Slots], Value]) -> Build:
        area, kind, severe = e.area or graded, e.kind, e.severe
        span = e.span

        def stated(r: Slots, b: Bundle) -> ExprTrace:
            shown = b.stated_findings(area, kind, severe)  # type: ignore[arg-type]
            return ExprTrace(text, value(r), span, finding_kind=kind, findings=shown)
        return stated

    @staticmethod
    def _aggregate(e: n.Aggregate, text: str, value: Callable[[Slots], Value]) -> Build:
        key, name = e.key, e.table
        span = e.span

        def aggregate(r: Slots, b: Bundle) -> ExprTrace:
            leaf = AggregateLeaf.of(key, name, b.tables.get(name), b.aggregates.get(key))
            return ExprTrace(text, value(r), span, aggregate=leaf)
        return aggregate

    def _peer(self, e: n.Call, text: str, value: Callable[[Slots], Value]) -> Build:
        assert isinstance(e.args[0], n.FactRef)
        name = e.args[0].name
        decl = self.program.decls[name]
        description, measure = decl.description, comparator_measure(decl)
        span = e.span

        def peer(r: Slots, b: Bundle) -> ExprTrace:
            return ExprTrace(text, value(r), span, peer=PeerLeaf.of(name, description, measure, b.peers.get(name)))
        return peer


_NO_BUNDLE = Bundle("<none>", "", "", "", None, {}, {}, {})  # never read: prebuilt traces read no bundle
