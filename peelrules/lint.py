"""Deep checks on a checked Program: warnings about rule sets that are valid but probably wrong.

- unused evidence declarations, constants and ladders (PR220)
- a ladder rung that can never fire because earlier rungs cover it (PR221)
- a ladder that is not monotone: one more shortfall gives a better grade, with the two inputs (PR222)
- a condition that can never be true, or never be false, over the declared evidence (PR223, PR224)
- a percentage or ratio compared with a count (PR225)
- a cause of concern without a recommendation (PR226); a rule without `cite` (PR227)
- evidence declared `context only` that a rule reads (PR228)

Ladders are explored exhaustively over a grid of counter values, conditions over candidate values of the
facts they read (within declared ranges, and at, either side of and between the thresholds each condition
compares with, so a narrow bound such as `x >= 95% and x < 98%` is not called impossible). `--strict` makes
every warning an error.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator

from . import nodes as n
from .diagnostics import Code, Diagnostic, Severity, quoted
from .analysis import collect_refs, findings_name
from .evaluate import Evaluator, Env, EMPTY_BUNDLE
from .facts import Bundle, Fact
from .grades import Grade
from .ladder_grid import Unsupported, explore
from .program import CheckedArea, Program
from .vocabulary import ASSESSMENTS
from .source import Span
from .values import UNKNOWN, Estimate, Ratio, Value

MAX_CHARACTERISTICS = 10
MAX_IMPROVEMENTS = 7
MAX_FACTS_EXPLORED = 4
MAX_LADDER_RULES = 2  # rules a ladder reads that are explored as free true/false values
MAX_LADDER_POINTS = 400_000  # ladder evaluations for the whole rule set; ladders beyond it are not explored
SHORTFALLS = ("concerns", "improvements", "severe", "unmet")


def lint(program: Program) -> list[Diagnostic]:
    lines = {s.name: s for s in program.sources}
    out: list[Diagnostic] = []

    def warn(code: str, message: str, span: Span | None, hint: str) -> None:
        text = lines[span.file].line_text(span.line) if span and span.file in lines else ""
        out.append(Diagnostic(code, message, span, hint, Severity.WARNING, text))

    walked = _walk_rules(program)
    _unused(program, walked, warn)
    ev = Evaluator(program)
    _ladders(program, ev, warn)
    _conditions(program, walked, ev, warn)
    _units(program, walked, warn)
    for area in program.areas:
        for rule in area.rules:
            if rule.kind == "cause_of_concern" and not rule.recommendation:
                warn(Code.PR226, f"cause of concern {quoted(rule.name)} has no recommendation", rule.span,
                     'a cause of concern always comes with one: add `recommendation "..."`')
            if not rule.cite:
                warn(Code.PR227, f"rule {quoted(rule.name)} has no `cite`", rule.span,
                     'say where in the framework it comes from: `cite "PAF 2021/22, ..."`')
    return sorted(out, key=Diagnostic.sort_key)


# ---------------------------------------------------------------- unused things


# Each rule's condition (and `exceeded when`) with every node in it, parents first: walked once for all the checks.
_Walked = list[tuple[CheckedArea, n.Rule, n.Expr, list[n.Expr]]]


def _walk_rules(program: Program) -> _Walked:
    return [(area, rule, e, list(n.walk(e))) for area in program.areas for rule in area.rules
            for e in (rule.when, rule.exceeded_when) if e is not None]


def _unused(program: Program, walked: _Walked, warn) -> None:  # type: ignore[no-untyped-def]
    facts: set[str] = set()
    consts: set[str] = set()
    read_by_rules: set[str] = set()
    ladders_used = {a.ladder.name for a in program.areas if a.ladder is not None}
    ladders = {id(lad): lad for lad in [a.ladder for a in program.areas if a.ladder is not None]
               + list(program.ladders.values())}  # a shared ladder once, not once per area graded by it
    rung_nodes = [list(n.walk(r.condition)) for lad in ladders.values() for r in lad.rungs if r.condition is not None]
    for nodes, by_rule in itertools.chain(((w[3], True) for w in walked), ((r, False) for r in rung_nodes)):
        read: set[str] = set()
        for x in nodes:  # what collect_refs counts as facts read, the tables aggregated and the constants
            if isinstance(x, n.FactRef):
                read.add(x.name)
            elif isinstance(x, n.Stated) and x.area is not None:
                read.add(findings_name(x.area))
            elif isinstance(x, n.ConstRef):
                consts.add(x.key)
            elif isinstance(x, n.Aggregate):
                facts.add(x.table)  # a table is read by its aggregates, and their filters may name constants
                named = {y.parts[0] for y in n.walk(x.where) if isinstance(y, n.Name)} if x.where is not None \
                    else set()
                consts |= {k for k in program.const_values if k.rsplit(".", 1)[-1] in named}
        facts |= read
        if by_rule:
            read_by_rules |= read
    frontier = list(consts)
    while frontier:
        for dep in program.const_deps.get(frontier.pop(), ()):
            if dep not in consts:
                consts.add(dep)
                frontier.append(dep)
    for name, decl in program.decls.items():
        if decl.context_only and name in read_by_rules:
            warn(Code.PR228, f"evidence item {quoted(name)} is declared `context only`, but a rule reads it", decl.span,
                 "remove `context only`, or stop reading it in rules: context is recorded, never judged")
        if name not in facts and not decl.context_only:
            warn(Code.PR220, f"evidence item {quoted(name)} is declared but no rule reads it", decl.span,
                 "use it in a rule's `when`, mark it `context only`, or remove the declaration")
    for key, let in program.const_lets.items():
        if key not in consts:
            warn(Code.PR220, f"constant {quoted(let.name)} is never used", let.span, "use it, or remove it")
    for name, lad in program.ladders.items():
        if name not in ladders_used:
            warn(Code.PR220, f"ladder {quoted(name)} grades no area", lad.span, "use it with `grade by`, or remove it")


# ---------------------------------------------------------------- ladders


def counter_grid() -> Iterator[dict[str, Value]]:
    """Every combination of counter values on a bounded grid."""
    for c in range(1, MAX_CHARACTERISTICS + 1):
        for met in range(c + 1):
            for exceeded in range(met + 1):
                for concerns, severe, innovative in itertools.product(range(3), range(3), range(3)):
                    for improvements in range(MAX_IMPROVEMENTS + 1):
                        yield {"characteristics": c, "met": met, "unmet": c - met, "exceeded": exceeded,
                               "concerns": concerns, "improvements": improvements, "innovative": innovative,
                               "severe": severe, "secondary": 0}


# The number of points counter_grid() yields (worked out, not counted: counting built 61,560 dicts at import):
# (met, exceeded) pairs for each number of characteristics, times concerns, severe, innovative and improvements.
_GRID_SIZE = sum((c + 1) * (c + 2) // 2 for c in range(1, MAX_CHARACTERISTICS + 1)) * 3 ** 3 * (MAX_IMPROVEMENTS + 1)


def _ladders(program: Program, ev: Evaluator, warn) -> None:  # type: ignore[no-untyped-def]
    seen: set[int] = set()
    budget = MAX_LADDER_POINTS
    base = Env(EMPTY_BUNDLE, program.const_values, {}, {}, False)

    def fixed(e: n.Expr) -> Value:
        return ev.eval(e, base)[0]

    for area in program.areas:
        lad = area.ladder
        if lad is None or id(lad) in seen:
            continue
        seen.add(id(lad))
        refs: set[str] = set()
        for r in lad.rungs:
            if r.condition is not None:
                collect_refs(r.condition, set(), refs, set())
        refs_list = sorted(refs)[:MAX_LADDER_RULES]
        budget -= _GRID_SIZE * 2 ** len(refs_list)
        if budget < 0:
            break  # documented in docs/limits.md: the deep ladder checks stop here
        try:
            fired, example = explore(lad, program.const_values, refs_list, refs, fixed, MAX_CHARACTERISTICS,
                                     MAX_IMPROVEMENTS)
        except Unsupported:
            fired, example = _climb_grid(program, ev, lad, refs, refs_list)
        for i, rung in enumerate(lad.rungs):
            if i not in fired:
                warn(Code.PR221, f"rung {rung.grade} of ladder {quoted(lad.name)} can never fire", rung.span,
                     "the rungs before it already hold whenever it would; reorder or change the conditions")
        if example:
            warn(Code.PR222, f"ladder {quoted(lad.name)} is not monotone: {example}", lad.span,
                 "a further shortfall must never improve a grade; check the order and conditions of the rungs")


def _climb_grid(program: Program, ev: Evaluator, lad: n.Ladder, refs: set[str],
                refs_list: list[str]) -> tuple[set[int], str | None]:
    """The same as ladder_grid.explore, by climbing the ladder through the interpreter at every grid point: for
    ladders that read what the compiled form does not evaluate."""
    fired: set[int] = set()
    grades: dict[tuple, Grade] = {}
    for counters in counter_grid():
        for flags in itertools.product((True, False), repeat=len(refs_list)):
            outcomes = {r: UNKNOWN for r in refs} | dict(zip(refs_list, flags))  # the rest stay unknown
            env = Env(EMPTY_BUNDLE, program.const_values, outcomes, counters, False)
            grade, index, _ = ev.climb(lad, env)
            if grade is None:
                continue
            fired.add(index)
            grades[(tuple(counters.values()), flags)] = grade
    return fired, _non_monotone(grades)


def _non_monotone(grades: dict[tuple, Grade]) -> str | None:
    keys = ("characteristics", "met", "unmet", "exceeded", "concerns", "improvements", "innovative", "severe",
            "secondary")
    for (values, flags), grade in grades.items():
        v = dict(zip(keys, values))
        for worse in SHORTFALLS:
            w = dict(v)
            if worse == "unmet":
                if w["met"] == 0:
                    continue
                w["met"] -= 1
                w["unmet"] += 1
                w["exceeded"] = min(w["exceeded"], w["met"])
            else:
                w[worse] += 1
            other = grades.get((tuple(w[k] for k in keys), flags))
            if other is not None and other > grade:
                shown = ", ".join(f"{k} {v[k]}" for k in keys if k != "secondary")  # always 0 on the grid
                return (f"with {shown} the grade is {grade.label}, but with one more "
                        f"{'unmet characteristic' if worse == 'unmet' else worse[:-1] if worse != 'severe' else 'severe finding'}"
                        f" it is {other.label}")
    return None


# ---------------------------------------------------------------- conditions over declared ranges


MAX_CONDITION_POINTS = 60_000  # candidate combinations explored for one condition; beyond it, no PR223/PR224
WIDE_SAMPLE = 100_000  # the n of the ratios placed at a condition's thresholds: an interval under 0.7% wide


def _thresholds(expr: n.Expr, program: Program) -> tuple[float, ...]:
    """The numbers a condition compares with (percentages, numbers, constants), and the midpoints between them:
    a condition such as `x >= 95% and x < 98%` can hold only between its thresholds, so candidate values are
    placed at, just either side of, and between them, not only at fixed points."""
    found: set[float] = set()
    for x in n.walk(expr):
        v: object = None
        if isinstance(x, (n.Percent, n.Number)):
            v = x.value
        elif isinstance(x, n.ConstRef):
            v = program.const_values.get(x.key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            found.add(float(v))
    points = sorted(found)
    return tuple(points + [(a + b) / 2 for a, b in zip(points, points[1:])])


def _candidates(decl: n.EvidenceDecl, thresholds: tuple[float, ...] = ()) -> list[Value]:
    lo = decl.range_lo
    hi = decl.range_hi
    t = decl.type
    if t == "assessment":
        return list(ASSESSMENTS)
    if t == "flag":
        return [True, False]
    if t == "percent":
        lo, hi = (0.0 if lo is None else lo), (1.0 if hi is None else hi)
        near = {p + d for p in thresholds for d in (-1e-4, 0.0, 1e-4)}
        return _clip({lo, hi, (lo + hi) / 2, lo + 0.01, hi - 0.01, 0.9, 0.5, 0.1} | near, lo, hi)
    if t in ("count", "number"):
        lo = (0.0 if t == "count" else -1e6) if lo is None else lo
        hi = 1e6 if hi is None else hi
        if t == "count":
            near = {float(k) for p in thresholds for k in (math.floor(p) - 1, math.floor(p), math.ceil(p),
                                                            math.ceil(p) + 1)}
        else:
            near = {p + d for p in thresholds for d in (-max(1e-6, abs(p) * 1e-6), 0.0, max(1e-6, abs(p) * 1e-6))}
        return _clip({lo, hi, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 100.0} | near, lo, hi)
    if t == "ratio":
        fixed = [Ratio(k, nn) for nn in (1, 10, 100) for k in sorted({0, nn // 2, nn - 1, nn})]
        # a share at each threshold (and just either side) from a sample large enough that its interval is narrow:
        # `lower(x) >= 80% and upper(x) <= 84%` holds for 82,000 of 100,000, never for the small fixed samples
        ks = sorted({k for p in thresholds if 0 <= p <= 1
                     for k in (round(p * WIDE_SAMPLE) - 1, round(p * WIDE_SAMPLE), round(p * WIDE_SAMPLE) + 1)
                     if 0 <= k <= WIDE_SAMPLE})
        return fixed + [Ratio(k, WIDE_SAMPLE) for k in ks if Ratio(k, WIDE_SAMPLE) not in fixed]
    if t == "estimate":
        fixed = [Estimate(v, ci, s) for v in (0.0, 0.5, 0.9, 1.0) for ci in (0.0, 0.05) for s in (10, 1000)]
        near = sorted({min(1.0, max(0.0, p + d)) for p in thresholds if 0 <= p <= 1 for d in (-1e-4, 0.0, 1e-4)})
        return fixed + [Estimate(v, ci, 1000) for v in near for ci in (0.0, 0.001)]
    return []


def _clip(values: set[float], lo: float, hi: float) -> list[Value]:
    return sorted(v for v in values if lo <= v <= hi)


def _conditions(program: Program, walked: _Walked, ev: Evaluator, warn) -> None:  # type: ignore[no-untyped-def]
    # A condition's outcome over the candidates depends only on its shape: the expression with each fact read
    # replaced by its declaration's type and range, and each rule by its place. Conditions of the same shape
    # (the same test on another area's evidence) are explored once.
    explored: dict[object, set[object]] = {}
    facts_now: dict[str, Fact] = {}
    bundle = Bundle("<lint>", "", "", "", None, {}, {}, facts_now)  # one bundle, its facts set in place
    made: dict[tuple[str, int], Fact] = {}
    for area, rule, expr, nodes in walked:
        if expr is not rule.when:
            continue
        if any(isinstance(x, n.Stated) for x in nodes):
            continue  # findings are counted, not declared: nothing to explore over declared ranges
        facts = {x.name for x in nodes if isinstance(x, n.FactRef)}
        refs = {x.key for x in nodes if isinstance(x, n.RuleRef)}
        if not facts or len(facts) + len(refs) > MAX_FACTS_EXPLORED:
            continue
        names = sorted(facts)
        key = _shape(expr, program)
        seen = explored.get(key)
        if seen is None:
            cuts = _thresholds(expr, program)
            options = [_candidates(program.decls[f], cuts) for f in names]
            if any(not o for o in options) or math.prod(map(len, options)) * 2 ** len(refs) > MAX_CONDITION_POINTS:
                continue  # too many to explore: no warning rather than one from a partial search
            seen = explored[key] = set()
            facts_now.clear()
            ref_names = sorted(refs)
            flag_sets = [dict(zip(ref_names, flags)) for flags in itertools.product((True, False), repeat=len(refs))]
            for values in itertools.product(*(range(len(o)) for o in options)):
                for f, i, opts in zip(names, values, options):
                    fact = made.get((f, i))
                    if fact is None:
                        fact = made[(f, i)] = Fact(f, opts[i], program.decls[f], "lint", 1, None, "open",
                                                   Span("<lint>", 0, 0, 0, 0))
                    facts_now[f] = fact
                for outcomes in flag_sets:
                    seen.add(ev.eval(expr, Env(bundle, program.const_values, outcomes, {}, False))[0])
                if True in seen and False in seen:
                    break
        if True not in seen:
            warn(Code.PR223, f"the condition of {quoted(rule.name)} can never be true over the declared evidence",
                 expr.span, "check the threshold against the evidence item's type and range (90% is 0.9)")
        elif False not in seen:
            warn(Code.PR224, f"the condition of {quoted(rule.name)} can never be false over the declared evidence",
                 expr.span, "a condition that always holds tells nothing; check the threshold")


def _shape(expr: n.Expr, program: Program) -> object:
    """The expression as a hashable value with fact names replaced by their declared type and range, and rule
    names by the order they are first read in: what the outcomes over the candidate values depend on."""
    facts: dict[str, int] = {}
    rules: dict[str, int] = {}

    def walk(e: object) -> object:
        if isinstance(e, n.FactRef):
            d = program.decls[e.name]
            return ("fact", facts.setdefault(e.name, len(facts)), d.type, d.range_lo, d.range_hi)
        if isinstance(e, n.RuleRef):
            return ("rule", rules.setdefault(e.key, len(rules)))
        if isinstance(e, tuple):
            return tuple(walk(x) for x in e)
        if not dataclasses.is_dataclass(e):
            return e
        return (type(e).__name__, *(walk(getattr(e, f)) for f in _compared_fields(type(e))))

    return walk(expr)


@functools.lru_cache(maxsize=None)
def _compared_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.compare)


# ---------------------------------------------------------------- units


def _kind(e: n.Expr, program: Program) -> str | None:
    """'fraction' for percentages, ratios, estimates and their bounds; 'count' for counts and sizes."""
    if isinstance(e, n.Percent):
        return "fraction"
    if isinstance(e, n.FactRef):
        t = program.decls[e.name].type
        return "fraction" if t in ("percent", "ratio", "estimate") else "count" if t == "count" else None
    if isinstance(e, n.ConstRef):
        let = program.const_lets.get(e.key)
        return _kind(let.expr, program) if let is not None and not isinstance(let.expr, n.ConstRef) else None
    if isinstance(e, n.Call):
        return "fraction" if e.func in ("lower", "upper") else "count" if e.func == "sample" else None
    if isinstance(e, n.Binary) and e.op == "/":
        return "fraction" if _kind(e.left, program) == _kind(e.right, program) == "count" else None
    if isinstance(e, n.Binary) and e.op in ("+", "-"):
        k = _kind(e.left, program)
        return k if k == _kind(e.right, program) else None
    return None


def _units(program: Program, walked: _Walked, warn) -> None:  # type: ignore[no-untyped-def]
    for _, rule, _, nodes in walked:
        for x in nodes:
            if isinstance(x, n.Binary) and x.op in n.COMPARE_OPS:
                if {_kind(x.left, program), _kind(x.right, program)} == {"fraction", "count"}:
                    warn(Code.PR225, f"{quoted(rule.name)} compares a percentage or ratio with a count", x.span,
                         "compare like with like: a share with a percentage (90%), a count with a number")
