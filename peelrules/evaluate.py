"""The reference evaluator: applies a checked Program to a Bundle, with an optional trace.

Rules are evaluated in dependency order, every rule of every area (so explanations list all findings),
with Kleene logic. Ladders are first-match over rungs; counters over partly unknown rules are intervals,
and a rung that cannot be decided leaves the area `undetermined`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from . import nodes as n
from .analysis import area_reads, known_evidence, missing_evidence, reads, secondary_evidence
from .facts import Bundle
from .grades import Grade, Status
from .program import CheckedArea, Program
from .result import AreaResult, BundleResult, RuleOutcome
from .trace import AggregateLeaf, AreaTrace, ExprTrace, FactLeaf, PeerLeaf, RuleTrace, RungTrace
from .unparse import unparse
from .values import (UNKNOWN, Interval, Value, apply_binary, apply_unary, k_and, k_in)
from . import estimates

from .vocabulary import COMPARISON_FUNCTIONS, COUNTED_KINDS, ESTIMATE_FUNCTIONS, PEER_FUNCTIONS
from .peerfacts import peer_counts
from .peers import comparator_measure


# For questions about ladders alone (lint, why-not): no facts, and an area `<none>` that states no findings.
NO_AREA = "<none>"
EMPTY_BUNDLE = Bundle("<none>", "", "", "", None, {}, {}, {}, findings={NO_AREA: ()})


@dataclass
class Env:
    """What the reference evaluator knows while it applies a program to one bundle."""

    bundle: Bundle
    consts: dict[str, object]
    outcomes: dict[str, Value]
    counters: dict[str, Value]
    trace: bool
    area: str = NO_AREA  # the area whose ladder is being climbed


class Evaluator:
    """Built once per Program, then applied to any number of bundles."""

    def __init__(self, program: Program):
        self.program = program
        self._texts: dict[int, tuple[n.Expr, str]] = {}
        self.interval = program.framework.interval or estimates.DEFAULT_INTERVAL
        self.small_below = program.framework.small_sample_below

    # What the rules read and where they are, worked out on first use: a question about expressions or ladders
    # alone (lint, why-not) never needs them, and for a large rule set they cost more than the question.
    @cached_property
    def reads_when(self) -> dict[str, frozenset[str]]:
        return reads(self.program, exceeded=False)

    @cached_property
    def reads(self) -> dict[str, frozenset[str]]:
        return reads(self.program, True, self.reads_when)

    @cached_property
    def rules(self) -> dict[str, tuple[CheckedArea, n.Rule]]:
        return {f"{a.name}.{r.name}": (a, r) for a in self.program.areas for r in a.rules}

    @cached_property
    def area_reads(self) -> dict[str, frozenset[str]]:
        return area_reads(self.program, self.reads)

    def text(self, e: n.Expr) -> str:
        """The expression as written (canonical form), worked out once per node, not once per bundle traced."""
        found = self._texts.get(id(e))
        if found is None or found[0] is not e:  # the node is kept beside its text, so its id cannot be reused
            found = self._texts[id(e)] = (e, unparse(e))
        return found[1]

    # ------------------------------------------------------------ expressions
    def eval(self, e: n.Expr, env: Env) -> tuple[Value, ExprTrace | None]:
        if isinstance(e, (n.Number, n.Percent, n.String, n.Bool)):
            return e.value, (ExprTrace(self.text(e), e.value, e.span) if env.trace else None)
        if isinstance(e, n.AssessmentLit):
            return e.value, (ExprTrace(e.value, e.value, e.span) if env.trace else None)
        if isinstance(e, n.FactRef):
            fact = env.bundle.facts.get(e.name)
            v: Value = fact.value if fact is not None else UNKNOWN
            if not env.trace:
                return v, None
            decl = self.program.decls[e.name]
            leaf = FactLeaf(e.name, fact is not None, decl.type, decl.description,
                            fact.document if fact else None, fact.line if fact else None,
                            fact.quote if fact else None, fact.status if fact else None,
                            fact.note if fact else None)
            return v, ExprTrace(e.name, v, e.span, fact=leaf)
        if isinstance(e, n.ConstRef):
            v = env.consts[e.key]  # type: ignore[assignment]
            return v, (ExprTrace(e.name, v, e.span, constant=e.key, written=self.program.const_text[e.key])
                       if env.trace else None)
        if isinstance(e, n.RuleRef):
            v = env.outcomes[e.key]
            return v, (ExprTrace(self.text(e), v, e.span, rule=e.key) if env.trace else None)
        if isinstance(e, n.CounterRef):
            v = env.counters[e.name]
            return v, (ExprTrace(e.name, v, e.span, counter=e.name) if env.trace else None)
        if isinstance(e, n.Unary):
            x, t = self.eval(e.operand, env)
            v = apply_unary(e.op, x)
            return v, (ExprTrace(self.text(e), v, e.span, (t,)) if env.trace else None)  # type: ignore[arg-type]
        if isinstance(e, n.Binary):
            a, ta = self.eval(e.left, env)
            b, tb = self.eval(e.right, env)  # both sides always: traces show every value
            v = apply_binary(e.op, a, b)
            return v, (ExprTrace(self.text(e), v, e.span, (ta, tb)) if env.trace else None)  # type: ignore[arg-type]
        if isinstance(e, n.InList):
            item, ti = self.eval(e.item, env)
            opts = [self.eval(o, env) for o in e.options]
            v = k_in(item, [o[0] for o in opts])
            if e.negated:
                v = apply_unary("not", v)
            kids = (ti, *(o[1] for o in opts))
            return v, (ExprTrace(self.text(e), v, e.span, kids) if env.trace else None)  # type: ignore[arg-type]
        if isinstance(e, n.Stated):
            area = e.area or env.area
            count = env.bundle.stated(area, e.kind, e.severe)
            v = UNKNOWN if count is None else count
            if not env.trace:
                return v, None
            shown = env.bundle.stated_findings(area, e.kind, e.severe)  # type: ignore[arg-type]
            return v, ExprTrace(self.text(e), v, e.span, finding_kind=e.kind, findings=shown)
        if isinstance(e, n.Aggregate):
            return self.aggregate(e, env)
        if isinstance(e, n.Call):
            return self.call(e, env)
        raise TypeError(f"cannot evaluate {e!r}")  # pragma: no cover

    def aggregate(self, e: n.Aggregate, env: Env) -> tuple[Value, ExprTrace | None]:
        """An aggregate over a table: computed when the bundle was loaded; unknown without the table."""
        res = env.bundle.aggregates.get(e.key)
        v: Value = UNKNOWN if res is None or res.value is None else res.value  # type: ignore[assignment]
        if not env.trace:
            return v, None
        leaf = AggregateLeaf.of(e.key, e.table, env.bundle.tables.get(e.table), res)
        return v, ExprTrace(self.text(e), v, e.span, aggregate=leaf)

    def call(self, e: n.Call, env: Env) -> tuple[Value, ExprTrace | None]:
        if e.func == "first_known":
            evaluated = [self.eval(a, env) for a in e.args]
            taken = next((i for i, (x, _) in enumerate(evaluated) if x is not UNKNOWN), None)
            v = UNKNOWN if taken is None else evaluated[taken][0]
            kids = tuple(t for _, t in evaluated)
            return v, (ExprTrace(self.text(e), v, e.span, kids, taken=taken)  # type: ignore[arg-type]
                       if env.trace else None)
        if e.func in PEER_FUNCTIONS:
            return self.peer(e, env)
        arg, t = self.eval(e.args[0], env)
        v: Value
        if e.func in COMPARISON_FUNCTIONS:
            other, to = self.eval(e.args[1], env)
            v = estimates.overlapping(arg, other, self.interval) if e.func == "overlaps" else \
                estimates.changed(e.func.rsplit("_", 1)[1], arg, other)
            if not env.trace:
                return v, None
            found = estimates.comparison(e.func, arg, other, self.interval, self.small_below, v)
            return v, ExprTrace(self.text(e), v, e.span, (t, to), comparison=found)  # type: ignore[arg-type]
        if e.func in ("significantly_below", "significantly_above"):
            standard, ts = self.eval(e.args[1], env)
            v = estimates.significantly(e.func.rsplit("_", 1)[1], arg, standard, self.interval)
            if not env.trace:
                return v, None
            leaf = estimates.leaf(arg, self.interval, self.small_below, e.func, standard, v)
            return v, ExprTrace(self.text(e), v, e.span, (t, ts), estimate=leaf)  # type: ignore[arg-type]
        if e.func == "present":
            v = arg is not UNKNOWN
        elif e.func == "remediated":
            assert isinstance(e.args[0], n.FactRef)
            fact = env.bundle.facts.get(e.args[0].name)
            v = UNKNOWN if fact is None else fact.status != "open"
        elif arg is UNKNOWN:
            v = UNKNOWN
        elif e.func in ("lower", "upper"):
            v = estimates.bound(e.func, arg, self.interval)
        elif e.func == "sample":
            n_ = estimates.sample_of(arg)
            v = UNKNOWN if n_ is None else n_
        elif e.func == "small_sample":
            v = estimates.small(arg, self.small_below)
        else:  # pragma: no cover - the checker rejects unknown functions
            v = UNKNOWN
        if not env.trace:
            return v, None
        leaf = estimates.leaf(arg, self.interval, self.small_below, e.func) if e.func in ESTIMATE_FUNCTIONS else None
        return v, ExprTrace(self.text(e), v, e.span, (t,), estimate=leaf)  # type: ignore[arg-type]

    def peer(self, e: n.Call, env: Env) -> tuple[Value, ExprTrace | None]:
        """outlier(x), peer_z(x), peer_rank(x): the bundle's comparator for x, placed when it was loaded."""
        assert isinstance(e.args[0], n.FactRef)
        name = e.args[0].name
        found = env.bundle.peers.get(name)
        got = None if found is None else found.value(e.func)
        v: Value = UNKNOWN if got is None else got  # type: ignore[assignment]
        if not env.trace:
            return v, None
        decl = self.program.decls[name]
        return v, ExprTrace(self.text(e), v, e.span, peer=PeerLeaf.of(name, decl.description, comparator_measure(decl),
                                                             found))

    # ------------------------------------------------------------ bundles
    def run(self, bundle: Bundle, trace: bool = False,
            overrides: dict[str, tuple[Value, Value]] | None = None) -> tuple[BundleResult, tuple[AreaTrace, ...]]:
        """Evaluate every rule and area. `overrides` forces (outcome, exceeded) of some rules, for
        what-if questions; the rules that depend on them are evaluated as usual."""
        env = Env(bundle, self.program.const_values, {}, {}, trace)
        rule_traces: dict[str, RuleTrace] = {}
        exceeded: dict[str, Value] = {}
        for key in self.program.rule_order:
            area, rule = self.rules[key]
            outcome, twhen = self.eval(rule.when, env) if rule.when is not None else (UNKNOWN, None)
            ex: Value = False
            tex = None
            if rule.exceeded_when is not None:
                exv, tex = self.eval(rule.exceeded_when, env)
                ex = k_and(outcome, exv)
            if overrides and key in overrides:
                outcome, ex = overrides[key]
            env.outcomes[key] = outcome
            exceeded[key] = ex
            if trace:
                rule_traces[key] = RuleTrace(key, rule.kind, rule.title, rule.cite, rule.recommendation,
                                             rule.severe, rule.span, outcome, ex, twhen, tex)
        results, traces = [], []
        for area in self.program.areas:
            res, rungs = self.grade_area(area, env, exceeded)
            results.append(res)
            if trace:
                traces.append(AreaTrace(res, area.area.question, area.area.span, rungs,
                                        tuple(rule_traces[f"{area.name}.{r.name}"] for r in area.rules),
                                        bundle.findings.get(area.name), bundle.moderation.get(area.name),
                                        secondary_evidence(self.area_reads[area.name], bundle, area.name),
                                        area.name in bundle.partial))
        return BundleResult(bundle.file, bundle.force, tuple(results)), tuple(traces)

    def grade_area(self, area: CheckedArea, env: Env,
                   exceeded: dict[str, Value]) -> tuple[AreaResult, tuple[RungTrace, ...]]:
        outcomes = tuple(RuleOutcome(f"{area.name}.{r.name}", r.kind, env.outcomes[f"{area.name}.{r.name}"],
                                     exceeded[f"{area.name}.{r.name}"]) for r in area.rules)
        secondary = len(secondary_evidence(self.area_reads[area.name], env.bundle, area.name))
        counters = dict(sorted((_counters(area, outcomes) | {"secondary": secondary}).items()))
        base = dict(name=area.name, title=area.area.title, outcomes=outcomes, counters=counters,
                    ladder=area.ladder.name if area.ladder else None)
        if area.name in env.bundle.marks:
            status, note = env.bundle.marks[area.name]
            return AreaResult(status=status, grade=None, rung=None, note=note, **base), ()  # type: ignore[arg-type]
        if area.ladder is None:
            return AreaResult(status=Status.UNGRADED, grade=None, rung=None, **base), ()  # type: ignore[arg-type]
        env.counters = counters
        env.area = area.name
        grade, rung_index, rungs = self.climb(area.ladder, env)
        if grade is None:
            condition = area.ladder.rungs[rung_index].condition
            assert condition is not None
            missing = missing_evidence(self.program, area, condition, outcomes,
                                       known_evidence(env.bundle.facts, env.bundle.stated_counts
                                                      | peer_counts(env.bundle.peers)),
                                       self.reads_when, self.reads)
            return AreaResult(status=Status.UNDETERMINED, grade=None, rung=rung_index, missing=tuple(missing),
                              **base), rungs  # type: ignore[arg-type]
        return AreaResult(status=Status.GRADED, grade=grade, rung=rung_index,
                          **base), rungs  # type: ignore[arg-type]

    def climb(self, ladder: n.Ladder, env: Env) -> tuple[Grade | None, int, tuple[RungTrace, ...]]:
        """First rung that holds wins; an undecidable rung stops the climb with no grade."""
        rungs: list[RungTrace] = []
        for i, rung in enumerate(ladder.rungs):
            if rung.condition is None:
                v: Value = True
                t = None
            else:
                v, t = self.eval(rung.condition, env)
            if env.trace:
                rungs.append(RungTrace(rung.grade, rung.condition is None, v, t, rung.span))
            if v is True:
                return Grade.from_key(rung.grade), i, tuple(rungs)
            if v is UNKNOWN:
                return None, i, tuple(rungs)
        raise AssertionError("a checked ladder ends with `otherwise`")  # pragma: no cover

    def grade_for_counters(self, ladder: n.Ladder, counters: dict[str, Value]) -> Grade | None:
        """The grade a ladder gives for given counter values (None when it cannot be decided)."""
        env = Env(EMPTY_BUNDLE, self.program.const_values, {}, counters, False)
        return self.climb(ladder, env)[0]


def _counters(area: CheckedArea, outcomes: tuple[RuleOutcome, ...]) -> dict[str, Value]:
    def tally(values: list[Value]) -> Value:
        sure = sum(1 for v in values if v is True)
        maybe = sum(1 for v in values if v is UNKNOWN)
        return sure if maybe == 0 else Interval(sure, sure + maybe)

    chars = [o for o in outcomes if o.kind == "characteristic"]
    severe = {f"{area.name}.{r.name}" for r in area.rules if r.severe}
    counters: dict[str, Value] = {
        "characteristics": len(chars),
        "met": tally([o.outcome for o in chars]),
        "unmet": tally([apply_unary("not", o.outcome) for o in chars]),
        "exceeded": tally([o.exceeded for o in chars]),
        "severe": tally([o.outcome for o in outcomes if o.key in severe]),
    }
    for kind, counter in COUNTED_KINDS.items():
        counters[counter] = tally([o.outcome for o in outcomes if o.kind == kind])
    return dict(sorted(counters.items()))
