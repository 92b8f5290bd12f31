"""The compiled evaluator: straight-line Python generated once per rule set.

`compile_program(program)` writes one Python function for the whole rule set: it reads every fact the rules
use, computes every rule's outcome and exceeded value in dependency order, every area's counters, climbs
every ladder and returns the areas' results. The source is compiled and executed once and cached by the
sha256 of the rule sources; `CompiledProgram.run(bundle)` then returns a `BundleResult` equal to
`Evaluator(program).run(bundle)[0]`.

Safety: the generated code holds only identifiers the compiler makes itself (`v3`, `t17`, `_U`, ...) and
literals written with repr(); names from rule files appear only inside string literals. It runs with no
builtins. Values the generated code cannot write as literals (grades, prebuilt outcomes, tables) are
passed in the function's namespace as data.

Speed: each expression's possible run-time kinds are worked out from the evidence declarations (a count is a
number or unknown, a comparison is a flag or unknown, ...). Where the kinds make it provably equal to
peelrules.values, the common cases are written inline (Kleene and/or/not, comparisons and arithmetic on
plain numbers, assessment order); everything else calls the values.py helpers the interpreter uses.
Expressions over constants are folded at compile time with the same helpers. The fast paths assume a
bundle whose fact values have their declared types, as `load_bundle` guarantees.

Tracing: every expression node's value is held in a local of its own (or known when compiling), and every local
is assigned once, so the function's locals are a complete record of the run. Called with T true, the function
returns them beside the results (`locals()`, once, at the end); `CompiledProgram.explain(bundle)` then assembles
the trace from that record and the plan the generator kept of which local holds which node (tracer.py), equal to
the reference interpreter's trace. Untraced, the only cost is the test of T; no second function is compiled.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import linecache
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import nodes as n
from .analysis import (aggregate_key, area_reads, known_evidence, missing_evidence, reads, secondary_evidence,
                       secondary_key)
from .facts import Bundle, stated_key
from .plan import Planned
from .grades import Grade, Status
from .program import CheckedArea, Program
from .result import AreaResult, BundleResult, RuleOutcome
from .source import NO_SPAN, Span
from . import estimates
from .peerfacts import peer_counts
from .vocabulary import COMPARISON_FUNCTIONS, COUNTED_KINDS, PEER_FUNCTIONS, POLARITY_FUNCTIONS
from .values import (ASSESSMENT_ORDER, UNKNOWN, finite, Estimate, Interval, Ratio, Value, apply_binary, apply_unary,
                     compare, k_in, to_number)

if TYPE_CHECKING:  # the trace modules are imported when a run is first traced
    from .trace import AreaTrace
    from .tracer import Build

GradeFunction = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, int]], tuple[AreaResult, ...]]

# ---------------------------------------------------------------- value kinds
# What a value may be at run time. An expression's kinds are a set of these.
NUM = "num"  # int or float, never bool
BOOL = "bool"  # True or False
ASSESS = "assess"  # a str that is an assessment value (met, ...)
STR = "str"  # any str (text, dates; possibly an assessment value)
RATIO = "ratio"
EST = "estimate"
IVAL = "interval"
NONE = "none"
UNK = "unknown"
OTHER = "other"

Kinds = frozenset[str]
NUMERIC: Kinds = frozenset({NUM, RATIO, EST, IVAL, UNK})
FLAG: Kinds = frozenset({BOOL, UNK})
_PLAIN: Kinds = frozenset({BOOL, STR, ASSESS})  # compared as they are by compare()

_FACT_KINDS: dict[str, Kinds] = {
    "count": frozenset({NUM, UNK}), "number": frozenset({NUM, UNK}), "percent": frozenset({NUM, UNK}),
    "ratio": frozenset({RATIO, UNK}), "estimate": frozenset({EST, UNK}), "flag": FLAG,
    "text": frozenset({STR, UNK}), "date": frozenset({STR, UNK}), "assessment": frozenset({ASSESS, UNK}),
    "comparator": frozenset({UNK}),  # never a fact: read through outlier() and the like, from S
}


def kind_of(value: object) -> str:
    """The kind of one known value."""
    if value is UNKNOWN:
        return UNK
    if value is None:
        return NONE
    t = type(value)
    if t is bool:
        return BOOL
    if t is int or t is float:
        return NUM
    if t is str:
        return ASSESS if value in ASSESSMENT_ORDER else STR
    return {Ratio: RATIO, Estimate: EST, Interval: IVAL}.get(t, OTHER)


# ---------------------------------------------------------------- the compiled program


@dataclasses.dataclass(frozen=True)
class Plans:
    """Where a traced run's record holds each node (plan.Planned): each rule's `when` and `exceeded when`
    (None where the rule has none), and each area's rungs (None for `otherwise`; () for an area without a
    ladder)."""

    rules: dict[str, tuple[Planned | None, Planned | None]]
    rungs: tuple[tuple[Planned | None, ...], ...]


@dataclasses.dataclass(frozen=True)
class _Tracer:
    """The trace builders of every rule and rung, made from the Plans the first time a run is traced."""

    rules: dict[str, tuple[Build | None, Build | None]]
    rungs: tuple[tuple[Build | None, ...], ...]


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledProgram:
    """A rule set compiled to one Python function; build it with `compile_program`."""

    program: Program
    digest: str  # sha256 of the rule sources ("" when the program carries none)
    source: str  # the generated Python source
    line_map: dict[int, Span]  # generated line -> span of the rule, rung, expression or declaration it computes
    grade: GradeFunction  # (bundle.facts, bundle.marks, counts[, T]) -> one AreaResult per area (T: and the locals)
    plans: Plans | Callable[[], Plans]  # which local holds each expression node, for traces (or how to load it)
    area_reads: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    _made: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)  # the trace builders, when first used

    def _counts(self, bundle: Bundle) -> Mapping[str, Any]:
        counts = bundle.stated_counts
        if bundle.has_secondary:  # the rare case: count what each area reads from secondary sources
            counts = counts | {secondary_key(a): len(secondary_evidence(r, bundle, a)) for a, r in self.area_reads.items()}
        if bundle.aggregates:  # aggregates over the bundle's tables, by key
            counts = counts | {aggregate_key(k): r.value for k, r in bundle.aggregates.items() if r.value is not None}
        if bundle.peers:  # the force among its peers on each comparator (peers.py), by `peer:NAME/FUNC`
            counts = counts | peer_counts(bundle.peers)
        return counts

    def run(self, bundle: Bundle) -> BundleResult:
        """The bundle's result; equal to `Evaluator(program).run(bundle)[0]`."""
        return BundleResult(bundle.file, bundle.force, self.grade(bundle.facts, bundle.marks, self._counts(bundle)))

    def explain(self, bundle: Bundle) -> tuple[BundleResult, tuple[AreaTrace, ...]]:
        """The bundle's result and every area's trace; equal to `Evaluator(program).run(bundle, trace=True)`."""
        areas, record = self.grade(bundle.facts, bundle.marks, self._counts(bundle), True)  # type: ignore[call-arg,misc]
        result = BundleResult(bundle.file, bundle.force, areas)
        return result, self._traces(result, bundle, record)

    def _tracer(self) -> _Tracer:
        made = self._made.get("tracer")
        if made is None:
            from .tracer import ExprBuilder

            builder = ExprBuilder(self.program)
            plans = self.plans if isinstance(self.plans, Plans) else self.plans()
            make = lambda p: None if p is None else builder.build(p)  # noqa: E731
            made = _Tracer({k: (make(w), make(x)) for k, (w, x) in plans.rules.items()},
                           tuple(tuple(make(p) for p in rungs) for rungs in plans.rungs))
            self._made["tracer"] = made  # two threads may both build it: equal values, one kept
        return made  # type: ignore[no-any-return]

    def _traces(self, result: BundleResult, bundle: Bundle, record: Mapping[str, object]) -> tuple[AreaTrace, ...]:
        """The interpreter's AreaTrace for each area, from the run's result and record (its locals)."""
        from .trace import AreaTrace, RuleTrace, RungTrace

        tracer = self._tracer()
        marks = bundle.marks
        out = []
        for i, (area, res) in enumerate(zip(self.program.areas, result.areas)):
            rules = []
            for rule, o in zip(area.rules, res.outcomes):
                when, exceeded = tracer.rules[o.key]
                rules.append(RuleTrace(o.key, rule.kind, rule.title, rule.cite, rule.recommendation, rule.severe,
                                       rule.span, o.outcome, o.exceeded,
                                       when(record, bundle) if when is not None else None,
                                       exceeded(record, bundle) if exceeded is not None else None))
            rungs: list[RungTrace] = []
            if area.ladder is not None and area.name not in marks and res.rung is not None:
                for k, rung in enumerate(area.ladder.rungs[:res.rung + 1]):
                    build = tracer.rungs[i][k]
                    t = build(record, bundle) if build is not None else None
                    rungs.append(RungTrace(rung.grade, rung.condition is None, True if t is None else t.value, t,
                                           rung.span))
            out.append(AreaTrace(res, area.area.question, area.area.span, tuple(rungs), tuple(rules),
                                 bundle.findings.get(area.name), bundle.moderation.get(area.name),
                                 secondary_evidence(self.area_reads[area.name], bundle, area.name),
                                 area.name in bundle.partial))
        return tuple(out)

    def span_at(self, line: int) -> Span | None:
        """The rule-file span behind a generated line: that of the nearest mapped line at or above it."""
        for at in range(line, 0, -1):
            if at in self.line_map:
                return self.line_map[at]
        return None


class CompileError(Exception):
    """The program is not one the checker accepts (a compiler invariant failed)."""


# ---------------------------------------------------------------- the cache

_CACHE: dict[str, CompiledProgram] = {}
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


def sources_digest(program: Program) -> str:
    """sha256 over the names and texts of the program's rule sources, each length-prefixed."""
    h = hashlib.sha256()
    for src in program.sources:
        for part in (src.name, src.text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
    return h.hexdigest()


def compile_program(program: Program) -> CompiledProgram:
    """The compiled form of a checked program, cached by the digest of its rule sources: in memory, and on disk
    under this user's key (code_cache.py) unless the cache is off.

    A program without sources (built by hand) has nothing to key a cache on and is compiled afresh."""
    if not program.sources:
        return _build(program, "")
    digest = sources_digest(program)
    with _CACHE_LOCK:
        hit = _CACHE.get(digest)
    if hit is not None:
        return hit
    compiled = _restore(program, digest) or _build(program, digest, store=True)
    with _CACHE_LOCK:
        hit = _CACHE.setdefault(digest, compiled)
        while len(_CACHE) > _CACHE_SIZE:
            _forget(next(iter(_CACHE)))
    return hit


def clear_cache() -> None:
    with _CACHE_LOCK:
        for digest in list(_CACHE):
            _forget(digest)


def _forget(digest: str) -> None:
    del _CACHE[digest]
    linecache.cache.pop(_filename(digest), None)


def _filename(digest: str) -> str:
    return f"<peelrules compiled {digest[:16] or 'uncached'}>"


@dataclasses.dataclass(frozen=True)
class CompiledParts:
    """What the disk cache keeps of a compiled program besides its code object (code_cache.py): all data."""

    digest: str
    source: str
    line_map: dict[int, Span]
    area_reads: dict[str, frozenset[str]]
    data: dict[str, object]  # the namespace's names beyond _BASE_NAMESPACE: values the code reads


def _build(program: Program, digest: str, *, store: bool = False) -> CompiledProgram:
    gen = _Generator(program)
    source = gen.generate()
    code = compile(source, _filename(digest), "exec")
    data = {k: v for k, v in gen.namespace.items() if k not in _BASE_NAMESPACE}
    parts = CompiledParts(digest, source, dict(gen.line_map), area_reads(program, gen.reads_all), data)
    plans = Plans(dict(gen.rule_plans), tuple(gen.rung_plans))
    if store:
        from . import code_cache

        code_cache.store(program, digest, parts, plans, code)
    return _assemble(program, parts, plans, code)


def _restore(program: Program, digest: str) -> CompiledProgram | None:
    """The compiled program from its disk entry, when there is one that holds (code_cache.load checks it)."""
    from . import code_cache

    found = code_cache.load(program, digest)
    if found is None:
        return None
    parts, code, load_plans = found
    if not isinstance(parts, CompiledParts) or parts.digest != digest or not isinstance(parts.data, dict):
        return None

    def plans() -> Plans:
        value = load_plans()
        if not isinstance(value, Plans):
            raise TypeError("the code cache entry's trace plans are not plans")
        return value

    return _assemble(program, parts, plans, code)


def _assemble(program: Program, parts: CompiledParts, plans: Plans | Callable[[], Plans], code: Any) -> CompiledProgram:
    filename = _filename(parts.digest)
    namespace: dict[str, object] = {"__builtins__": {}, **_BASE_NAMESPACE, **parts.data}
    exec(code, namespace)  # noqa: S102 - our own generated code, no builtins
    if parts.digest:  # so tracebacks through the generated code show its lines (dropped when evicted)
        linecache.cache[filename] = (len(parts.source), None, parts.source.splitlines(True), filename)
    return CompiledProgram(program, parts.digest, parts.source, parts.line_map, namespace[_FUNCTION],  # type: ignore[arg-type]
                           plans, parts.area_reads)


# ---------------------------------------------------------------- run-time helpers (names in the namespace)


class _NoFact:
    """Stands in for an absent fact: its value is unknown."""

    value = UNKNOWN


def _lower(v: Value) -> Value:
    return UNKNOWN if v is UNKNOWN else v.lower if isinstance(v, Estimate) else UNKNOWN


def _upper(v: Value) -> Value:
    return UNKNOWN if v is UNKNOWN else v.upper if isinstance(v, Estimate) else UNKNOWN


def _sample(v: Value) -> Value:
    if v is UNKNOWN:
        return UNKNOWN
    return v.sample if isinstance(v, Estimate) else v.n if isinstance(v, Ratio) else UNKNOWN


_FUNCTION = "_peel_grade"
_BASE_NAMESPACE: dict[str, object] = {
    "_U": UNKNOWN, "_I": Interval, "_RO": RuleOutcome, "_AR": AreaResult, "_AO": ASSESSMENT_ORDER,
    "_NOFACT": _NoFact(), "_cmp": compare, "_bin": apply_binary, "_fin": finite, "_INF": math.inf,
    "_una": apply_unary, "_num": to_number,
    "_lower": _lower, "_upper": _upper, "_sample": _sample,
    "_bnd": estimates.bound, "_sig": estimates.significantly, "_small": estimates.small,
    "_ovl": estimates.overlapping, "_chg": estimates.changed,
    "_GRADED": Status.GRADED, "_UNGRADED": Status.UNGRADED, "_NOT_INSPECTED": Status.NOT_INSPECTED,
    "_UNDETERMINED": Status.UNDETERMINED, "_locals": locals,
}


@dataclasses.dataclass(frozen=True, eq=False)
class MissingEvidence:
    """Names the missing evidence of an undetermined area, exactly as the interpreter does (data, so that a
    compiled program can be kept on disk)."""

    program: Program
    area: int  # its index in program.areas
    reads_when: dict[str, frozenset[str]]
    reads_all: dict[str, frozenset[str]]

    def __call__(self, rung: int, outcomes: tuple[RuleOutcome, ...], facts: Any, stated: Any) -> tuple[str, ...]:
        area = self.program.areas[self.area]
        assert area.ladder is not None
        condition = area.ladder.rungs[rung].condition
        assert condition is not None
        return tuple(missing_evidence(self.program, area, condition, outcomes, known_evidence(facts, stated),
                                      self.reads_when, self.reads_all))


# ---------------------------------------------------------------- generation

_NOVALUE = object()
_LOCAL = re.compile(r"[vmt][0-9]+|c[0-9]+_[a-z]+(_s)?")  # the locals that hold an expression's value


@dataclasses.dataclass(frozen=True)
class _Code:
    """A compiled expression: a Python atom (a local name or a literal), what it may hold, and its value
    when that is known at compile time."""

    text: str
    kinds: Kinds
    value: object = _NOVALUE

    @property
    def known(self) -> bool:
        return self.value is not _NOVALUE


@dataclasses.dataclass
class _Scope:
    """What names mean while compiling one expression."""

    counters: dict[str, _Code]
    area: str | None = None  # the area whose ladder is being compiled


class _Generator:
    def __init__(self, program: Program):
        self.program = program
        self.lines: list[str] = []
        self.line_map: dict[int, Span] = {}
        self.depth = 1
        self.planned: list[list[Planned]] = [[]]  # the nodes compiled so far, innermost expression last
        self.rule_plans: dict[str, tuple[Planned | None, Planned | None]] = {}
        self.rung_plans: list[tuple[Planned | None, ...]] = []
        self.temps = itertools.count()
        self.pool = itertools.count()
        self.namespace: dict[str, object] = dict(_BASE_NAMESPACE)
        self.facts: dict[str, _Code] = {}
        self.remediated: dict[str, _Code] = {}
        self.rules: dict[str, tuple[_Code, _Code]] = {}  # key -> (outcome, exceeded)
        self.memo: dict[str, _Code] = {}  # right-hand side -> the local holding it, where it is in scope
        self.tallied: dict[str, str] = {}  # a counter's count of unknowns -> the local holding it
        self.bounded: set[str] = set()  # locals holding a counter: a small int (or an Interval of them)
        self.rule_index = {f"{a.name}.{r.name}": (a, r) for a in program.areas for r in a.rules}
        self.reads_when = reads(program, exceeded=False)
        self.reads_all = reads(program, True, self.reads_when)

    # ------------------------------------------------------------ writing
    def emit(self, text: str, span: Span | None) -> None:
        self.lines.append("    " * self.depth + text)
        if span is not None and span != NO_SPAN:
            self.line_map[len(self.lines)] = span

    def temp(self, rhs: str, kinds: Kinds, span: Span) -> _Code:
        """A new local holding `rhs`, or the one that already holds it: every local is assigned once and
        every expression is pure, so the same text means the same value."""
        if rhs in self.memo:
            return self.memo[rhs]
        name = f"t{next(self.temps)}"
        self.emit(f"{name} = {rhs}", span)
        code = self.memo[rhs] = _Code(name, frozenset(kinds))
        return code

    def data(self, value: object, prefix: str = "_K") -> str:
        """A name in the namespace bound to `value` (data the code reads, never code)."""
        name = f"{prefix}{next(self.pool)}"
        self.namespace[name] = value
        return name

    def literal(self, value: object) -> str:
        if value is UNKNOWN:
            return "_U"
        t = type(value)
        if value is None or t is bool or (t is int and abs(value) < 2 ** 62):  # type: ignore[arg-type]
            return repr(value)
        if t is float and math.isfinite(value):  # type: ignore[arg-type]
            return repr(value)
        if t is str and len(value) <= 4096:  # type: ignore[arg-type]
            return repr(value)
        return self.data(value)

    def known(self, value: object) -> _Code:
        return _Code(self.literal(value), frozenset({kind_of(value)}), value)

    # ------------------------------------------------------------ the whole function
    def generate(self) -> str:
        self.lines.append(f"def {_FUNCTION}(F, NI, S, T=False):")
        self.emit("_get = F.get", None)
        self.read_facts()
        for i, key in enumerate(self.program.rule_order):
            self.rule(i, key)
        results = [self.area(i, area) for i, area in enumerate(self.program.areas)]
        self.emit(f"r = ({''.join(r + ', ' for r in results)})", None)
        self.emit("return (r, _locals()) if T else r", None)  # traced: every node's local, for tracer.py
        return "\n".join(self.lines) + "\n"

    def read_facts(self) -> None:
        names: set[str] = set()
        remediated: set[str] = set()
        for e in self.all_expressions():
            _facts_in(e, names, remediated)
        for i, name in enumerate(sorted(names)):
            decl = self.program.decls.get(name)
            span = decl.span if decl is not None else None
            kinds = _FACT_KINDS.get(decl.type, frozenset({OTHER, UNK})) if decl else frozenset({OTHER, UNK})
            if name in remediated:
                self.emit(f"f = _get({self.literal(name)})", span)
                self.emit(f"v{i} = _U if f is None else f.value", span)
                self.emit(f"m{i} = _U if f is None else f.status != 'open'", span)
                self.remediated[name] = _Code(f"m{i}", FLAG)
            else:
                self.emit(f"v{i} = _get({self.literal(name)}, _NOFACT).value", span)
            self.facts[name] = _Code(f"v{i}", kinds)

    def all_expressions(self) -> list[n.Expr]:
        out: list[n.Expr] = []
        for area in self.program.areas:
            out += [e for r in area.rules for e in (r.when, r.exceeded_when) if e is not None]
            if area.ladder is not None:
                out += [r.condition for r in area.ladder.rungs if r.condition is not None]
        return out

    # ------------------------------------------------------------ rules
    def rule(self, i: int, key: str) -> None:
        if key not in self.rule_index:
            raise CompileError(f"rule order names an unknown rule {key!r}")
        _, rule = self.rule_index[key]
        self.emit(f"# rule {i}", rule.span)
        scope = _Scope({})
        outcome = self.expr(rule.when, scope) if rule.when is not None else self.known(UNKNOWN)
        when = self.planned[0].pop() if rule.when is not None else None
        exceeded = self.known(False)
        exceeded_when = None
        if rule.exceeded_when is not None:
            exceeded = self.kleene("and", outcome, self.expr(rule.exceeded_when, scope), rule.exceeded_when.span)
            exceeded_when = self.planned[0].pop()
        self.rules[key] = (outcome, exceeded)
        self.rule_plans[key] = (when, exceeded_when)

    # ------------------------------------------------------------ areas
    def area(self, i: int, area: CheckedArea) -> str:
        span = area.area.span
        self.emit(f"# area {i}", span)
        outcomes = f"O{i}"
        self.emit(f"{outcomes} = ({''.join(self.outcome(area, r) + ', ' for r in area.rules)})", span)
        counters = self.counters(i, area)
        table = ", ".join(f"{self.literal(k)}: {counters[k].text}" for k in sorted(counters))
        self.emit(f"C{i} = {{{table}}}", span)
        result, name = f"A{i}", self.literal(area.name)
        fixed = {"name": name, "title": self.literal(area.area.title), "counters": f"C{i}", "outcomes": outcomes,
                 "ladder": self.literal(area.ladder.name if area.ladder else None)}
        make = lambda **varying: f"{result} = {_area_result(fixed | varying)}"  # noqa: E731
        self.emit(f"if {name} in NI:", span)
        self.emit("    " + make(status=f"NI[{name}][0]", grade="None", rung="None", note=f"NI[{name}][1]"), span)
        self.emit("else:", span)
        self.depth += 1
        if area.ladder is None:
            self.rung_plans.append(())
            self.emit(make(status="_UNGRADED", grade="None", rung="None"), span)
        else:
            self.climb(i, area, _Scope(counters, area.name))
            grades = self.data(tuple(Grade.from_key(r.grade) for r in area.ladder.rungs), "_GR")
            missing = self.data(self.missing_function(i), "_MISS")
            self.emit("if g is True:", span)
            self.emit("    " + make(status="_GRADED", grade=f"{grades}[z]", rung="z"), span)
            self.emit("else:", span)
            self.emit("    " + make(status="_UNDETERMINED", grade="None", rung="z",
                                    missing=f"{missing}(z, {outcomes}, F, S)"), span)
        self.depth -= 1
        return result

    def outcome(self, area: CheckedArea, rule: n.Rule) -> str:
        """Code for the rule's RuleOutcome: prebuilt objects picked by value where the values are flags."""
        key = f"{area.name}.{rule.name}"
        o, x = self.rules[key]
        if o.known and x.known:
            return self.data(RuleOutcome(key, rule.kind, o.value, x.value))
        flags = (True, False, UNKNOWN)
        if o.kinds <= FLAG and x.known:  # most rules: exceeded is False, so one lookup
            return f"{self.data({ov: RuleOutcome(key, rule.kind, ov, x.value) for ov in flags}, '_T')}[{o.text}]"
        if o.kinds <= FLAG and x.kinds <= FLAG:
            table = {ov: {xv: RuleOutcome(key, rule.kind, ov, xv) for xv in flags} for ov in flags}
            return f"{self.data(table, '_T')}[{o.text}][{x.text}]"
        return f"_RO({self.literal(key)}, {self.literal(rule.kind)}, {o.text}, {x.text})"

    def counters(self, i: int, area: CheckedArea) -> dict[str, _Code]:
        """Each counter as an int, or an Interval when some of its rules are unknown (as the interpreter's)."""
        outs = {r.name: self.rules[f"{area.name}.{r.name}"] for r in area.rules}
        chars = [r for r in area.rules if r.kind == "characteristic"]
        span = area.area.span
        tally = lambda name, codes, sure, maybe: self.tally(f"c{i}_{name}", codes, sure, maybe, span)  # noqa: E731
        counters: dict[str, _Code] = {
            "characteristics": self.known(len(chars)),
            "met": tally("met", [outs[r.name][0] for r in chars], _is_true, _is_unknown),
            "unmet": tally("unmet", [outs[r.name][0] for r in chars], _is_false, _is_unknown),
            "exceeded": tally("exceeded", [outs[r.name][1] for r in chars], _is_true, _is_unknown),
            "severe": tally("severe", [outs[r.name][0] for r in area.rules if r.severe], _is_true, _is_unknown),
            "secondary": self.temp(f"S.get({self.literal(secondary_key(area.name))}, 0)", frozenset({NUM}), span),
        }
        for kind, counter in COUNTED_KINDS.items():
            counters[counter] = tally(counter, [outs[r.name][0] for r in area.rules if r.kind == kind],
                                      _is_true, _is_unknown)
        return counters

    def tally(self, name: str, codes: list[_Code], sure: _Test, maybe: _Test, span: Span) -> _Code:
        sure_n, sure_terms = _count(codes, sure)
        maybe_n, maybe_terms = _count(codes, maybe)
        if not sure_terms and not maybe_terms:
            return self.known(sure_n if maybe_n == 0 else Interval(sure_n, sure_n + maybe_n))
        free = [c for c in codes if not c.known]
        if len(free) == 1 and free[0].kinds <= FLAG:  # one flag decides: the counter by its value, from a table
            table = {}
            for v in (True, False, UNKNOWN):
                low = sure_n + _STATIC_TESTS[sure](v)
                high = low + maybe_n + _STATIC_TESTS[maybe](v)
                table[v] = low if high == low else Interval(low, high)
            counter = self.temp(f"{self.data(table, '_N')}[{free[0].text}]", frozenset({NUM, IVAL}), span)
            self.bounded.add(counter.text)
            return counter
        s = f"{name}_s"
        self.emit(f"{s} = {_sum(sure_n, sure_terms)}", span)
        self.bounded.add(s)
        if not maybe_terms and maybe_n == 0:
            return _Code(s, frozenset({NUM}))
        u = self.tallied.get(maybe_rhs := _sum(maybe_n, maybe_terms))  # unmet's unknowns are met's
        if u is None:
            u = self.tallied[maybe_rhs] = f"{name}_u"
            self.emit(f"{u} = {maybe_rhs}", span)
        self.emit(f"{name} = {s} if {u} == 0 else _I({s}, {s} + {u})", span)
        self.bounded.add(name)
        return _Code(name, frozenset({NUM, IVAL}))

    def climb(self, i: int, area: CheckedArea, scope: _Scope) -> None:
        """First rung that is true or unknown stops the climb: `z` is its index and `g` its value."""
        assert area.ladder is not None
        rungs = area.ladder.rungs
        if not rungs or rungs[-1].condition is not None:
            raise CompileError(f"ladder {area.ladder.name!r} does not end with `otherwise`")
        self.emit("z = -1", area.ladder.span)
        outer, outer_tallied = self.memo, self.tallied
        # locals of a rung's block exist in the later rungs' blocks, not after the climb
        self.memo, self.tallied = dict(outer), dict(outer_tallied)
        planned: list[Planned | None] = []
        for k, rung in enumerate(rungs):
            if k:
                self.emit("if z < 0:", rung.span)
                self.depth += 1
            if rung.condition is None:
                self.emit(f"z = {k}", rung.span)
                self.emit("g = True", rung.span)
                planned.append(None)
            else:
                value = self.expr(rung.condition, scope)
                planned.append(self.planned[0].pop())
                self.emit(f"g = {value.text}", rung.span)
                self.emit(f"if g is True or g is _U: z = {k}", rung.span)
            if k:
                self.depth -= 1
        self.memo, self.tallied = outer, outer_tallied
        self.rung_plans.append(tuple(planned))

    def missing_function(self, i: int) -> MissingEvidence:
        return MissingEvidence(self.program, i, self.reads_when, self.reads_all)

    # ------------------------------------------------------------ expressions
    def expr(self, e: n.Expr, scope: _Scope) -> _Code:
        """The code of one expression node; the traced variant records its value in a slot of R (unless the
        value is known now), and the node joins the plan the trace is built from (tracer.py)."""
        self.planned.append([])
        code = self.compute(e, scope)
        operands = tuple(self.planned.pop())
        if code.known:
            self.planned[-1].append(Planned(e, None, code.value, operands, scope.area))
        elif _LOCAL.fullmatch(code.text):
            self.planned[-1].append(Planned(e, code.text, None, operands, scope.area))
        else:
            raise CompileError(f"the value of {type(e).__name__} is not held in a local: {code.text!r}")
        return code

    def compute(self, e: n.Expr, scope: _Scope) -> _Code:
        """The code of one node (expr() records which local holds it)."""
        if isinstance(e, (n.Number, n.Percent, n.String, n.Bool, n.AssessmentLit)):
            return self.known(e.value)
        if isinstance(e, n.ConstRef):
            if e.key not in self.program.const_values:
                raise CompileError(f"unknown constant {e.key!r}")
            return self.known(self.program.const_values[e.key])
        if isinstance(e, n.FactRef):
            return self.facts[e.name]
        if isinstance(e, n.RuleRef):
            if e.key not in self.rules:
                raise CompileError(f"rule {e.key!r} is used before it is evaluated")
            return self.rules[e.key][0]
        if isinstance(e, n.Stated):
            area = e.area or scope.area
            if area is None:
                raise CompileError(f"{e.func}() outside an area")
            key = self.literal(stated_key(area, e.kind, e.severe))
            # a count, unknown, or an Interval (at least so many) where the area's findings are recorded in part
            return self.temp(f"S.get({key}, _U)", frozenset({NUM, IVAL, UNK}), e.span)
        if isinstance(e, n.Aggregate):  # computed when the bundle was loaded (aggregates.py), beside S
            return self.temp(f"S.get({self.literal(aggregate_key(e.key))}, _U)", frozenset({NUM, UNK}), e.span)
        if isinstance(e, n.CounterRef):
            if e.name not in scope.counters:
                raise CompileError(f"counter {e.name!r} outside a ladder")
            return scope.counters[e.name]
        if isinstance(e, n.Unary):
            return self.unary(e, self.expr(e.operand, scope))
        if isinstance(e, n.Binary):
            left = self.expr(e.left, scope)
            right = self.expr(e.right, scope)  # both sides always, as the interpreter
            return self.binary(e.op, left, right, e.span)
        if isinstance(e, n.InList):
            item = self.expr(e.item, scope)
            options = [self.expr(o, scope) for o in e.options]
            return self.in_list(e, item, options)
        if isinstance(e, n.Call):
            return self.call(e, scope)
        raise CompileError(f"cannot compile {type(e).__name__}")

    def fold(self, fn: Callable[..., Value], *args: object) -> _Code | None:
        """The value of a helper over known values, as a known code; None if the helper raises (the
        generated code then calls it at run time and raises as the interpreter does)."""
        try:
            return self.known(fn(*args))
        except Exception:  # noqa: BLE001 - any failure is left to run time
            return None

    def unary(self, e: n.Unary, a: _Code) -> _Code:
        if a.known and (folded := self.fold(apply_unary, e.op, a.value)) is not None:
            return folded
        if e.op == "not":
            if UNK in a.kinds:
                return self.temp(f"_U if {a.text} is _U else not {a.text}", FLAG, e.span)
            return self.temp(f"not {a.text}", frozenset({BOOL}), e.span)
        x = self.as_number(a, e.span)
        if x is None:
            return self.temp(f"_una('-', {a.text})", NUMERIC, e.span)
        inline = f"-{x.text}" if UNK not in x.kinds else f"_U if {x.text} is _U else -{x.text}"
        if IVAL in x.kinds:
            return self.temp(f"_una('-', {x.text}) if {x.text}.__class__ is _I else ({inline})", x.kinds, e.span)
        return self.temp(inline, x.kinds, e.span)

    def binary(self, op: str, a: _Code, b: _Code, span: Span) -> _Code:
        if a.known and b.known and (folded := self.fold(apply_binary, op, a.value, b.value)) is not None:
            return folded
        if op in n.BOOL_OPS:
            return self.kleene(op, a, b, span)
        if op in n.COMPARE_OPS:
            return self.comparison(op, a, b, span)
        return self.arithmetic(op, a, b, span)

    def kleene(self, op: str, a: _Code, b: _Code, span: Span) -> _Code:
        """k_and / k_or, specialised on what each side may be (the same tests, in the same order)."""
        decisive = op == "or"  # the value that decides: False for and, True for or
        if any(c.known and c.value is decisive for c in (a, b)):
            return self.known(decisive)
        for c, other in ((a, b), (b, a)):
            if c.known and c.value is (not decisive) and other.kinds <= FLAG:
                return other  # k_and(True, v) and k_or(False, v) are v for a flag or unknown
        decides = [f"{c.text} is {decisive}" for c in (a, b) if not c.known and BOOL in c.kinds]
        if any(c.known and c.value is UNKNOWN for c in (a, b)):
            tail, kinds = "_U", {UNK}
        else:
            unknowns = [f"{c.text} is _U" for c in (a, b) if not c.known and UNK in c.kinds]
            tail = f"_U if {' or '.join(unknowns)} else {not decisive}" if unknowns else str(not decisive)
            kinds = {BOOL, UNK} if unknowns else {BOOL}
        if not decides:
            return self.known(UNKNOWN) if tail == "_U" else self.known(not decisive) if tail in ("True", "False") \
                else self.temp(tail, frozenset(kinds), span)
        return self.temp(f"{decisive} if {' or '.join(decides)} else {tail}", frozenset(kinds | {BOOL}), span)

    def comparison(self, op: str, a: _Code, b: _Code, span: Span) -> _Code:
        if any(c.known and c.value is UNKNOWN for c in (a, b)):
            return self.known(UNKNOWN)  # compare() checks for unknown first
        if a.kinds <= NUMERIC and b.kinds <= NUMERIC:
            x, y = self.as_number(a, span), self.as_number(b, span)
            if x is not None and y is not None:
                return self.guarded("_cmp", op, x, y, self.unknown_test(x, y), f"{x.text} {op} {y.text}",
                                    frozenset({BOOL}), span)
        if a.kinds <= {ASSESS, UNK} and b.kinds <= {ASSESS, UNK}:  # both in ASSESSMENT_ORDER: by order
            left, right = self.ordinal(a), self.ordinal(b)
            return self.inline(self.unknown_test(a, b), f"{left} {op} {right}", frozenset({BOOL}), span)
        if op in ("==", "!=") and ((a.kinds - {UNK}) <= _PLAIN or (b.kinds - {UNK}) <= _PLAIN):
            # compare() takes str and bool as they are; assessment order agrees with str equality
            return self.inline(self.unknown_test(a, b), f"{a.text} {op} {b.text}", frozenset({BOOL}), span)
        return self.temp(f"_cmp({op!r}, {a.text}, {b.text})", FLAG, span)

    def arithmetic(self, op: str, a: _Code, b: _Code, span: Span) -> _Code:
        x, y = self.as_number(a, span), self.as_number(b, span)
        if x is None or y is None:
            return self.temp(f"_bin({op!r}, {a.text}, {b.text})", NUMERIC - {RATIO, EST}, span)
        if x.known and x.value is UNKNOWN or y.known and y.value is UNKNOWN:
            return self.known(UNKNOWN)  # to_number cannot fail on these kinds: the result is unknown
        unknown = self.unknown_test(x, y)
        if op == "/":
            if y.known and y.value == 0:
                return self.known(UNKNOWN)
            if not y.known:
                unknown = f"{unknown} or {y.text} == 0" if unknown else f"{y.text} == 0"
        kinds = frozenset({NUM, UNK})  # overflow (inf, nan) is unknown too: values.finite
        quotient = f"{x.text} / {y.text}"
        if op != "/":
            inline = f"_fin({x.text} {op} {y.text})"
        elif x.text in self.bounded and y.known and type(y.value) in (int, float) and abs(y.value) >= 1:  # type: ignore[arg-type]
            inline, kinds = quotient, frozenset({NUM})  # a counter over a number of at least 1: finite
        else:  # a quotient is a float: finite() is the range test (nan fails it); q is scratch
            inline = f"q if -_INF < (q := {quotient}) < _INF else _U"
        return self.guarded("_bin", op, x, y, unknown, inline, kinds, span)

    def guarded(self, helper: str, op: str, x: _Code, y: _Code, unknown: str, inline: str, kinds: Kinds,
                span: Span) -> _Code:
        """The inline form for plain numbers, behind a call of the helper when a side may be an Interval."""
        intervals = [f"{c.text}.__class__ is _I" for c in (x, y) if IVAL in c.kinds]
        body = f"_U if {unknown} else {inline}" if unknown else inline
        if not intervals:
            return self.temp(body, kinds | ({UNK} if unknown else set()), span)
        out = (FLAG if helper == "_cmp" else frozenset({NUM, IVAL, UNK}))
        return self.temp(f"{helper}({op!r}, {x.text}, {y.text}) if {' or '.join(intervals)} else ({body})", out,
                         span)

    def inline(self, unknown: str, expr: str, kinds: Kinds, span: Span) -> _Code:
        if unknown:
            return self.temp(f"_U if {unknown} else {expr}", kinds | {UNK}, span)
        return self.temp(expr, kinds, span)

    @staticmethod
    def unknown_test(*codes: _Code) -> str:
        return " or ".join(f"{c.text} is _U" for c in codes if not c.known and UNK in c.kinds)

    def ordinal(self, c: _Code) -> str:
        return repr(ASSESSMENT_ORDER[c.value]) if c.known else f"_AO[{c.text}]"  # type: ignore[index]

    def as_number(self, c: _Code, span: Span) -> _Code | None:
        """`to_number(c)` where c can only be a number, ratio, estimate, interval or unknown; else None."""
        if not c.kinds <= NUMERIC:
            return None
        if c.known:
            return self.fold(to_number, c.value)
        if c.kinds <= {NUM, IVAL, UNK}:
            return c
        unknown = f"{c.text} is _U or " if UNK in c.kinds else ""
        if c.kinds <= {RATIO, UNK}:
            return self.temp(f"_U if {unknown}{c.text}.n == 0 else {c.text}.k / {c.text}.n",
                             frozenset({NUM, UNK}), span)
        if c.kinds <= {EST, UNK}:
            body = f"_U if {c.text} is _U else {c.text}.value" if unknown else f"{c.text}.value"
            return self.temp(body, frozenset({NUM} | (c.kinds & {UNK})), span)
        kinds = (c.kinds - {RATIO, EST}) | {NUM} | ({UNK} if RATIO in c.kinds else set())
        return self.temp(f"_num({c.text})", frozenset(kinds), span)

    def in_list(self, e: n.InList, item: _Code, options: list[_Code]) -> _Code:
        """k_in: `item == o` for each option, joined with Kleene or; then negated for `not in`."""
        if item.known and all(o.known for o in options) and \
                (folded := self.fold(k_in, item.value, [o.value for o in options])) is not None:
            result = folded
        else:
            result = self.known(False)
            for o in options:
                equal = self.comparison("==", item, o, e.span)
                if result.known and result.value is False and equal.kinds <= FLAG:
                    result = equal  # k_or(False, v) is v for a flag or unknown
                else:
                    result = self.kleene("or", result, equal, e.span)
        if e.negated:
            return self.unary(n.Unary("not", e.item, span=e.span), result)
        return result

    def call(self, e: n.Call, scope: _Scope) -> _Code:
        if e.func == "first_known":
            return self.first_known(e, [self.expr(a, scope) for a in e.args])
        if not e.args:
            raise CompileError(f"{e.func}() without an argument")
        arg = self.expr(e.args[0], scope)
        if e.func == "present":
            return self.known(arg.value is not UNKNOWN) if arg.known else \
                self.temp(f"{arg.text} is not _U", frozenset({BOOL}), e.span)
        if e.func == "remediated":
            if not isinstance(e.args[0], n.FactRef):
                raise CompileError("remediated() of something other than an evidence item")
            return self.remediated[e.args[0].name]
        if e.func in PEER_FUNCTIONS:  # placed when the bundle was loaded (peers.py), beside S
            if not isinstance(e.args[0], n.FactRef):
                raise CompileError(f"{e.func}() of something other than a comparator")
            kinds = frozenset({STR if e.func == "outlier" else BOOL if e.func in POLARITY_FUNCTIONS else NUM, UNK})
            return self.temp(f"S.get({self.literal(f'peer:{e.args[0].name}/{e.func}')}, _U)", kinds, e.span)
        method = self.literal(self.program.framework.interval or estimates.DEFAULT_INTERVAL)
        if e.func in COMPARISON_FUNCTIONS:
            return self.two_estimates(e, arg, self.expr(e.args[1], scope), method)
        if e.func in ("significantly_below", "significantly_above"):
            standard = self.expr(e.args[1], scope)
            side = e.func.rsplit("_", 1)[1]
            if arg.known and standard.known and (folded := self.fold(
                    estimates.significantly, side, arg.value, standard.value,
                    self.program.framework.interval or estimates.DEFAULT_INTERVAL)) is not None:
                return folded
            return self.temp(f"_sig({side!r}, {arg.text}, {standard.text}, {method})", FLAG, e.span)
        if e.func == "small_sample":
            threshold = self.program.framework.small_sample_below
            if arg.known:
                return self.known(estimates.small(arg.value, threshold))
            return self.temp(f"_small({arg.text}, {threshold!r})", FLAG, e.span)
        if e.func in ("lower", "upper") and not arg.kinds <= {EST, UNK}:  # a ratio: the rule set's interval
            if arg.known:
                return self.known(estimates.bound(e.func, arg.value, self.program.framework.interval
                                                  or estimates.DEFAULT_INTERVAL))
            return self.temp(f"_bnd({e.func!r}, {arg.text}, {method})", frozenset({NUM, UNK}), e.span)
        if arg.known:
            helper = {"lower": _lower, "upper": _upper, "sample": _sample}.get(e.func)
            folded = self.fold(helper, arg.value) if helper else self.known(UNKNOWN)
            if folded is not None:
                return folded
        return self.estimate_function(e, arg)

    def two_estimates(self, e: n.Call, a: _Code, b: _Code, method: str) -> _Code:
        """overlaps(a, b) by the intervals; significantly_changed/_lower/_higher(a, b) by the two-proportion test."""
        if e.func == "overlaps":
            fn, args, call = estimates.overlapping, (a.value, b.value, self.program.framework.interval
                                                     or estimates.DEFAULT_INTERVAL), f"_ovl({a.text}, {b.text}, {method})"
        else:
            direction = e.func.rsplit("_", 1)[1]
            fn, args, call = estimates.changed, (direction, a.value, b.value), \
                f"_chg({direction!r}, {a.text}, {b.text})"
        if a.known and b.known and (folded := self.fold(fn, *args)) is not None:
            return folded
        return self.temp(call, FLAG, e.span)

    def estimate_function(self, e: n.Call, arg: _Code) -> _Code:
        unknown = f"_U if {arg.text} is _U else " if UNK in arg.kinds else ""
        out = frozenset({NUM, UNK})
        if e.func in ("lower", "upper"):
            if arg.kinds <= {EST, UNK}:
                return self.temp(f"{unknown}{arg.text}.{e.func}", out, e.span)
            return self.temp(f"_{e.func}({arg.text})", out, e.span)
        if e.func == "sample":
            if arg.kinds <= {EST, UNK}:
                return self.temp(f"{unknown}{arg.text}.sample", out, e.span)
            if arg.kinds <= {RATIO, UNK}:
                return self.temp(f"{unknown}{arg.text}.n", out, e.span)
            return self.temp(f"_sample({arg.text})", out, e.span)
        return self.known(UNKNOWN)  # the interpreter's value for a function the checker would reject

    def first_known(self, e: n.Call, args: list[_Code]) -> _Code:
        """The first argument that is not unknown (all are computed first, as the interpreter does)."""
        chain: list[_Code] = []
        for a in args:
            if a.known and a.value is UNKNOWN:
                continue
            chain.append(a)
            if UNK not in a.kinds:
                break
        if not chain:
            return self.known(UNKNOWN)
        if len(chain) == 1:
            return chain[0]  # the only candidate: its value, known or not
        kinds = frozenset().union(*(c.kinds - {UNK} for c in chain))
        if UNK in chain[-1].kinds:
            kinds |= {UNK}
        text = chain[-1].text
        for c in reversed(chain[:-1]):
            text = f"{c.text} if {c.text} is not _U else {text}"
        return self.temp(text, kinds, e.span)


# ---------------------------------------------------------------- small pure helpers


def _area_result(args: dict[str, str]) -> str:
    """A positional AreaResult(...) call (cheaper than keywords) in the order of its fields; a field not
    given keeps its default (trailing ones left out)."""
    defaults = AreaResult._field_defaults
    values: list[str | None] = []
    for name in AreaResult._fields:
        if name in args:
            values.append(args[name])
        elif defaults.get(name, 0) not in ((), None):
            raise CompileError(f"AreaResult field {name!r} is one the compiler does not fill")
        else:
            values.append(None)
    while values and values[-1] is None:
        values.pop()
    return f"_AR({', '.join(v if v is not None else repr(defaults[n]) for n, v in zip(AreaResult._fields, values))})"


def _sum(known: int, terms: list[str]) -> str:
    """An int: the known count plus the run-time terms (bools; a lone bool keeps `0 +`, so it adds to an int)."""
    return " + ".join([str(known), *terms] if known or len(terms) < 2 else terms)


_Test = Callable[[str], str]  # writes the run-time test of one value, e.g. "(v3 is True)"


def _is_true(v: str) -> str:
    return f"({v} is True)"


def _is_unknown(v: str) -> str:
    return f"({v} is _U)"


def _is_false(v: str) -> str:
    """`k_not(v) is True`, i.e. v is known and falsy."""
    return f"({v} is not _U and not {v})"


_STATIC_TESTS: dict[Callable[[str], str], Callable[[object], bool]] = {
    _is_true: lambda v: v is True,
    _is_unknown: lambda v: v is UNKNOWN,
    _is_false: lambda v: v is not UNKNOWN and not v,
}


def _count(codes: list[_Code], test: _Test) -> tuple[int, list[str]]:
    """How many known values pass the test, and the run-time test terms for the others."""
    static = _STATIC_TESTS[test]
    known = sum(1 for c in codes if c.known and static(c.value))
    terms = []
    for c in codes:
        if c.known:
            continue
        if test is _is_unknown and UNK not in c.kinds:
            continue
        if test is _is_true and BOOL not in c.kinds:
            continue
        if test is _is_false and c.kinds <= FLAG:
            terms.append(f"({c.text} is False)")
        else:
            terms.append(test(c.text))
    return known, terms


def _facts_in(e: n.Expr, names: set[str], remediated: set[str]) -> None:
    """Every fact an expression reads, and those it asks `remediated()` of."""
    for x in n.walk(e):
        if isinstance(x, n.FactRef):
            names.add(x.name)
        elif isinstance(x, n.Call) and x.func == "remediated" and x.args and isinstance(x.args[0], n.FactRef):
            remediated.add(x.args[0].name)
