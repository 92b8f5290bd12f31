"""The checker: resolves names, checks types, finds cycles and malformed ladders, and builds a Program.

Every error of the run is collected and reported together (PeelError), sorted by position.
"""
from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import replace
from graphlib import CycleError, TopologicalSorter

from . import nodes as n
from .diagnostics import Code, Diagnostic, PeelError, quoted
from .grades import GRADE_KEYS
from .symbols import Scope, Symbol, SymbolTable
from .program import CheckedArea, Program
from .vocabulary import (ASSESSMENTS, COMPARISON_FUNCTIONS, COUNTERS, EVIDENCE_TYPES, FINDING_FUNCTIONS, FINDING_KINDS,
                         FUNCTIONS, INTERVAL_METHODS, OUTLIER_BANDS, PEER_FUNCTIONS, POLARITY_FUNCTIONS, SEVERE_KINDS)
from .aggregates import check_table_decl, is_aggregate, resolve_aggregate
from .source import SourceFile, Span
from .unparse import unparse
from .values import apply_binary, apply_unary, k_in

NUMERIC = ("number", "ratio", "estimate")
RESERVED = set(COUNTERS) | set(ASSESSMENTS) | {"true", "false", "otherwise"}


def _suggest(word: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {quoted(close[0])}?" if close else None


class _Checker:
    def __init__(self, sources: list[SourceFile], lost: frozenset[str] = frozenset()):
        self.lost = lost  # names whose definitions were dropped by syntax errors: no follow-on errors
        self.diags: list[Diagnostic] = []
        self.lines = {s.name: s for s in sources}
        self.decls: dict[str, n.EvidenceDecl] = {}
        self.global_lets: dict[str, n.Let] = {}
        self.area_lets: dict[str, dict[str, n.Let]] = {}
        self.const_types: dict[str, str] = {}
        self.const_values: dict[str, object] = {}
        self.const_text: dict[str, str] = {}
        self.const_deps: dict[str, frozenset[str]] = {}
        self.const_lets: dict[str, n.Let] = {}
        self.ladders: dict[str, n.Ladder] = {}
        self.areas: dict[str, n.Area] = {}
        self.rule_deps: dict[str, set[str]] = {}
        self.dep_spans: dict[tuple[str, str], Span] = {}
        self.framework: n.Framework | None = None
        # the one name resolver, over the tables above as collect() fills them (first definition wins)
        self.symbols = SymbolTable(self.decls, self.global_lets, self.ladders, self.areas, self.area_lets)

    # ------------------------------------------------------------ reporting
    def unresolved(self, code: str, parts: tuple[str, ...], message: str, span: Span, hint: str | None) -> None:
        """Report a name that does not resolve, unless a syntax error already took its definition."""
        if "*" in self.lost or any(p in self.lost for p in parts):
            return
        self.error(code, message, span, hint)

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        text = self.lines[span.file].line_text(span.line) if span and span.file in self.lines else ""
        self.diags.append(Diagnostic(code, message, span, hint, line_text=text))

    # ------------------------------------------------------------ collection
    def collect(self, modules: list[n.Module]) -> n.Framework | None:
        frameworks: list[n.Framework] = []
        for mod in modules:
            for item in mod.items:
                if isinstance(item, n.Framework):
                    frameworks.append(item)
                    self._dates(item)
                    self._statistics(item)
                elif isinstance(item, n.EvidenceDecl):
                    self._declare(self.decls, item.name, item, "evidence item")
                    self._range(item)
                    if item.measure is not None and item.type != "comparator":
                        self.error(Code.PR214, f"`measure` names a comparator's measure, and {quoted(item.name)} is "
                                   f"{_a(item.type)}", item.type_span, "remove `measure ...`, or declare the item "
                                   "as a comparator")
                    check_table_decl(self, item)
                    if item.type not in EVIDENCE_TYPES:
                        self.error(Code.PR209, f"unknown evidence type {quoted(item.type)}", item.type_span,
                                   _suggest(item.type, list(EVIDENCE_TYPES))
                                   or f"use one of: {', '.join(EVIDENCE_TYPES)}")
                elif isinstance(item, n.Let):
                    self._reserved(item.name, item.span)
                    self._declare(self.global_lets, item.name, item, "constant")
                elif isinstance(item, n.Ladder):
                    self._declare(self.ladders, item.name, item, "ladder")
                elif isinstance(item, n.Area):
                    self._declare(self.areas, item.name, item, "area")
        for name, area in self.areas.items():
            for rule in area.rules:
                decl = self.decls.get(f"{name}.{rule.name}")
                if decl is not None:
                    self.error(Code.PR202, f"{quoted(f'{name}.{rule.name}')} names both an evidence item and a rule "
                               f"of area {quoted(name)}", decl.span, "rename the evidence item or the rule, so a reference "
                               "says which it means")
        if not frameworks and not self.lost:
            first = sorted(self.lines)[0] if self.lines else None
            self.error(Code.PR211, f"the rule set has no framework header (checked {len(self.lines)} file"
                       f"{'s' if len(self.lines) != 1 else ''}, starting with {first})",
                       Span(first, 1, 1, 1, 2) if first else None,
                       'add `framework peel_2021_22 "Title" { version "..." }` to one rule file')
        for extra in frameworks[1:]:
            self.error(Code.PR211, "a second framework header", extra.span,
                       f"the rule set already has one at {frameworks[0].span}; keep one")
        for area in self.areas.values():
            lets: dict[str, n.Let] = {}
            for let in area.lets:
                self._reserved(let.name, let.span)
                self._declare(lets, let.name, let, "constant")
            self.area_lets[area.name] = lets
            rules: dict[str, n.Rule] = {}
            for rule in area.rules:
                self._reserved(rule.name, rule.span)
                self._declare(rules, rule.name, rule, "rule")
            self.symbols.area_rules[area.name] = rules
        return frameworks[0] if frameworks else None

    def _dates(self, fw: n.Framework) -> None:
        parsed = []
        for value in (fw.effective_from, fw.effective_to):
            if value is None:
                continue
            try:
                parsed.append(dt.date.fromisoformat(value))
            except ValueError:
                self.error(Code.PR104, f"{quoted(value)} is not a date", fw.span,
                           "write dates as year-month-day: 2022-05-31")
        if len(parsed) == 2 and parsed[0] > parsed[1]:
            self.error(Code.PR104, f"the framework's effective dates run backwards ({fw.effective_from} to "
                       f"{fw.effective_to})", fw.span, "give the earlier date first")

    def _statistics(self, fw: n.Framework) -> None:
        """`interval normal` / `small_sample below 30`: a known method, a whole threshold from 1."""
        spans = dict(fw.clauses)
        if fw.interval is not None and fw.interval not in INTERVAL_METHODS:
            self.error(Code.PR212, f"unknown interval method {quoted(fw.interval)}", spans.get("fw_interval", fw.span),
                       _suggest(fw.interval, list(INTERVAL_METHODS))
                       or f"interval methods are: {', '.join(INTERVAL_METHODS)}")
        t = fw.small_sample_below
        if t is not None and (not isinstance(t, int) or t < 1):
            self.error(Code.PR212, f"a small-sample threshold is a whole number of records from 1, not {t}",
                       spans.get("fw_small_sample", fw.span), "write e.g. `small_sample below 30`")

    def _range(self, d: n.EvidenceDecl) -> None:
        if d.range_lo is None:
            return
        if d.type not in ("count", "number", "percent"):
            self.error(Code.PR214, f"a range applies to counts, numbers and percentages, not to {_a(d.type)}",
                       d.type_span, "remove the range")
        elif d.range_hi is not None and d.range_lo > d.range_hi:
            example = "range 0% to 100%" if d.type == "percent" else "range 0 to 1000"
            self.error(Code.PR104, f"the range of {quoted(d.name)} runs backwards", d.type_span,
                       f"give the lower bound first: `{example}`")
        elif d.type == "percent" and not (0 <= d.range_lo and (d.range_hi or 0) <= 1):
            self.error(Code.PR104, f"the range of {quoted(d.name)} goes outside 0% to 100%", d.type_span,
                       "a percentage lies between 0% and 100%")
        elif d.type == "count" and d.range_lo < 0:
            self.error(Code.PR104, f"the range of {quoted(d.name)} includes negative counts", d.type_span,
                       "a count starts at 0")

    def _declare(self, table: dict, name: str, node: object, what: str) -> None:
        if name in table:
            first = table[name].span
            self.error(Code.PR202, f"{what} {quoted(name)} is defined twice", node.span,  # type: ignore[attr-defined]
                       f"the first definition is at {first}; rename or remove one")
        else:
            table[name] = node

    def _reserved(self, name: str, span: Span) -> None:
        if name in RESERVED:
            self.error(Code.PR213, f"{quoted(name)} is a reserved word and cannot name a rule or constant", span,
                       "choose another name")

    # ------------------------------------------------------------ constants
    def constants(self) -> None:
        order: dict[str, set[str]] = {}
        exprs: dict[str, tuple[n.Let, str | None]] = {}
        for let in self.global_lets.values():
            exprs[let.name] = (let, None)
        for area, lets in self.area_lets.items():
            for let in lets.values():
                exprs[f"{area}.{let.name}"] = (let, area)
        resolved: dict[str, n.Expr] = {}
        for key, (let, area) in exprs.items():
            deps: set[str] = set()
            before = len(self.diags)
            expr, ty = self.resolve(let.expr, area=area, ladder=False, constant=True, deps=deps)
            if len(self.diags) == before:
                resolved[key] = expr  # only constants without errors are folded
            self.const_text[key] = unparse(let.expr)
            self.const_types[key] = ty
            order[key] = deps
        self.const_deps = {k: frozenset(v) for k, v in order.items()}
        self.const_lets = {k: let for k, (let, _) in exprs.items()}
        try:
            for key in TopologicalSorter(order).static_order():
                if key in resolved and all(d in self.const_values for d in order[key]):
                    try:
                        self.const_values[key] = _fold(resolved[key], self.const_values)
                    except TypeError:
                        let = exprs[key][0]
                        self.error(Code.PR204, f"constant {quoted(let.name)} mixes values of different types", let.span,
                                   "a constant is a number, a percentage, a flag, text or an assessment value")
        except CycleError as err:
            cycle = list(reversed(err.args[1]))
            let = exprs[cycle[0]][0]
            self.error(Code.PR205, "constants refer to each other in a cycle: " + " -> ".join(cycle), let.span,
                       "define one constant from literal values")

    # ------------------------------------------------------------ names
    def resolve(self, e: n.Expr, *, area: str | None, ladder: bool, constant: bool = False,
                deps: set[str] | None = None, rule_key: str | None = None) -> tuple[n.Expr, str]:
        """Return the resolved expression and its type ('number', 'flag', ... or '?' after an error)."""
        r = lambda x: self.resolve(x, area=area, ladder=ladder, constant=constant, deps=deps,  # noqa: E731
                                   rule_key=rule_key)
        if isinstance(e, n.Number) or isinstance(e, n.Percent):
            return e, "number"
        if isinstance(e, n.String):
            return e, "text"
        if isinstance(e, n.Bool):
            return e, "flag"
        if isinstance(e, n.Name):
            return self.resolve_name(e, area=area, ladder=ladder, constant=constant, deps=deps, rule_key=rule_key)
        if isinstance(e, n.Unary):
            operand, ty = r(e.operand)
            want = "flag" if e.op == "not" else "number"
            self.expect(ty, (want,) if want == "flag" else NUMERIC, e.operand, f"`{e.op}`")
            return replace(e, operand=operand), want
        if isinstance(e, n.Binary):
            left, lt = r(e.left)
            right, rt = r(e.right)
            out = replace(e, left=left, right=right)
            if e.op in n.BOOL_OPS:
                self.expect(lt, ("flag",), e.left, f"`{e.op}`")
                self.expect(rt, ("flag",), e.right, f"`{e.op}`")
                return out, "flag"
            if e.op in n.ARITH_OPS:
                self.expect(lt, NUMERIC, e.left, f"`{e.op}`")
                self.expect(rt, NUMERIC, e.right, f"`{e.op}`")
                return out, "number"
            self.comparable(lt, rt, e)
            return out, "flag"
        if isinstance(e, n.InList):
            item, it = r(e.item)
            opts = []
            for o in e.options:
                ro, ot = r(o)
                self.comparable(it, ot, o, op="in")
                opts.append(ro)
            return replace(e, item=item, options=tuple(opts)), "flag"
        if isinstance(e, n.DateLit):
            self.error(Code.PR204, f"a date such as {e.text} is a value only in a table's filter", e.span,
                       "compare a date fact with another fact or a date in quotes")
            return e, "?"
        if is_aggregate(e, self.decls):
            if constant:
                self.error(Code.PR204, "a constant cannot read a table", e.span,
                           "constants are fixed values; put the aggregate in a rule's `when`")
                return e, "?"
            return resolve_aggregate(self, e, area, self.visible_constants(area), unparse)  # type: ignore[arg-type]
        if isinstance(e, n.Call):
            if constant:
                self.error(Code.PR204, f"a constant cannot call {e.func}()", e.span,
                           "constants are fixed values: numbers, percentages, text and other constants")
                return e, "?"
            return self.resolve_call(e, r, area)
        raise TypeError(f"unexpected node {e!r}")  # pragma: no cover

    def resolve_call(self, e: n.Call, r, area: str | None) -> tuple[n.Expr, str]:  # type: ignore[no-untyped-def]
        if e.func not in FUNCTIONS:
            self.error(Code.PR212, f"unknown function {quoted(e.func)}", e.span,
                       _suggest(e.func, list(FUNCTIONS)) or f"functions are: {', '.join(sorted(FUNCTIONS))}")
            return e, "?"
        if e.func == "first_known":
            return self.resolve_first_known(e, r)
        if e.func in FINDING_FUNCTIONS:
            return self.resolve_stated(e, area)
        if e.func in ("significantly_below", "significantly_above"):
            return self.resolve_significance(e, r)
        if e.func in COMPARISON_FUNCTIONS:
            return self.resolve_comparison(e, r)
        if len(e.args) != 1:
            self.error(Code.PR212, f"{e.func}() takes one argument, not {len(e.args)}", e.span, FUNCTIONS[e.func])
            return e, "?"
        arg, ty = r(e.args[0])
        out = replace(e, args=(arg,))
        if e.func in ("present", "remediated"):
            if not isinstance(arg, n.FactRef):
                self.error(Code.PR204, f"{e.func}() needs an evidence item", e.args[0].span, FUNCTIONS[e.func])
            elif ty == "comparator":
                self.error(Code.PR204, f"{e.func}() reads facts, and {quoted(arg.name)} is a comparator", e.args[0].span,
                           "use present(...) on a fact; outlier(x) is unknown when the bundle has no comparator, "
                           "so write e.g. `first_known(outlier(x) is well_below, ...)`")
            return out, "flag"
        if e.func in PEER_FUNCTIONS:
            if ty != "?" and (ty != "comparator" or not isinstance(arg, n.FactRef)):
                comparators = [d for d, x in self.decls.items() if x.type == "comparator"]
                self.error(Code.PR204, f"{e.func}() needs a comparator, but {quoted(unparse(e.args[0]))} is {_a(ty)}",
                           e.args[0].span, "declare the measure as `name: comparator \"...\"` and give the "
                           "bundle a comparators: file for it" + (f"; the rule set's comparators are: "
                                                                    f"{', '.join(comparators)}" if comparators else ""))
            return out, ("band" if e.func == "outlier" else "flag" if e.func in POLARITY_FUNCTIONS else "number")
        self.expect(ty, ("estimate", "ratio"), e.args[0], f"{e.func}()")
        if e.func == "small_sample" and self.framework is not None and self.framework.small_sample_below is None:
            self.error(Code.PR212, "small_sample() needs the rule set's small-sample threshold", e.span,
                       "add `small_sample below 30` (the threshold you want) to the framework header")
        return out, ("flag" if e.func == "small_sample" else "number")

    def resolve_significance(self, e: n.Call, r) -> tuple[n.Expr, str]:  # type: ignore[no-untyped-def]
        """`significantly_below(x, 90%)`: x an estimate (or a ratio, read as one), the standard a number."""
        if len(e.args) != 2:
            self.error(Code.PR212, f"{e.func}() takes an estimate and a standard, not {len(e.args)} argument"
                       f"{'s' if len(e.args) != 1 else ''}", e.span, FUNCTIONS[e.func])
            return e, "?"
        (x, xt), (s, st) = r(e.args[0]), r(e.args[1])
        if xt not in ("?", "estimate", "ratio"):
            self.error(Code.PR204, f"{e.func}() needs an estimate (or a ratio k of n), but {quoted(unparse(e.args[0]))} "
                       f"is {_a(xt)}", e.args[0].span,
                       "a value without an interval cannot be significantly above or below: compare it, e.g. "
                       "`x < 90%`, or declare it as an estimate with its ci and sample")
        if st in ("estimate", "ratio"):
            self.error(Code.PR204, f"{e.func}() compares an estimate with a standard, a number, but "
                       f"{quoted(unparse(e.args[1]))} is {_a(st)}", e.args[1].span,
                       f"to compare two estimates, write `significantly_{'lower' if e.func.endswith('below') else 'higher'}"
                       f"({unparse(e.args[0])}, {unparse(e.args[1])})` (the two-proportion test), or compare with "
                       f"one of its bounds, e.g. `{e.func}({unparse(e.args[0])}, lower({unparse(e.args[1])}))`")
        else:
            self.expect(st, ("number",), e.args[1], f"{e.func}()'s standard")
        return replace(e, args=(x, s)), "flag"

    def resolve_comparison(self, e: n.Call, r) -> tuple[n.Expr, str]:  # type: ignore[no-untyped-def]
        """`overlaps(a, b)`, `significantly_changed(a, b)` and the like: two estimates (or ratios, read as ones)."""
        if len(e.args) != 2:
            self.error(Code.PR212, f"{e.func}() compares two estimates, not {len(e.args)} argument"
                       f"{'s' if len(e.args) != 1 else ''}", e.span, FUNCTIONS[e.func])
            return e, "?"
        resolved = [r(a) for a in e.args]
        for (x, xt), written in zip(resolved, e.args):
            if xt not in ("?", "estimate", "ratio"):
                self.error(Code.PR204, f"{e.func}() compares two estimates (or ratios k of n), but "
                           f"{quoted(unparse(written))} is {_a(xt)}", written.span,
                           "a value without an interval and a sample cannot be compared with an estimate: declare "
                           "it as an estimate with its ci and sample, or as a ratio k of n; to compare one "
                           "estimate with a standard, use significantly_below(x, 90%) or significantly_above")
        return replace(e, args=tuple(x for x, _ in resolved)), "flag"

    def resolve_stated(self, e: n.Call, area: str | None) -> tuple[n.Expr, str]:
        """`stated(kind)`: the argument is a finding kind, written as a bare word."""
        countable = [k for k in FINDING_KINDS if k != "judgment"]
        kinds = ", ".join(countable)
        arg = e.args[0] if len(e.args) == 1 else None
        if isinstance(arg, n.Name) and arg.parts == ("judgment",):
            self.error(Code.PR212, "the report's judgment is not evidence for a grade", arg.span,
                       "rules derive the grade; peel compares it with the judgment the report states")
            return e, "?"
        if not isinstance(arg, n.Name) or len(arg.parts) != 1 or arg.parts[0] not in countable:
            where = arg.span if arg is not None else e.span
            word = unparse(arg) if arg is not None else ""
            close = _suggest(word, countable) if word else None
            self.error(Code.PR212, f"{e.func}() takes one finding kind" + (f", not {quoted(word)}" if word else ""),
                       where, close or f"finding kinds are: {kinds}")
            return e, "?"
        return n.Stated(arg.parts[0], e.func == "stated_severe", area, span=e.span), "number"

    def resolve_first_known(self, e: n.Call, r) -> tuple[n.Expr, str]:  # type: ignore[no-untyped-def]
        if not e.args:
            self.error(Code.PR212, "first_known() needs at least one argument", e.span, FUNCTIONS[e.func])
            return e, "?"
        args, types = [], []
        for a in e.args:
            ra, ty = r(a)
            args.append(ra)
            types.append(ty)
        known = [t for t in types if t != "?"]
        first = known[0] if known else "?"
        for a, t in zip(e.args, types):
            if t != "?" and first != "?" and t != first and not (t in NUMERIC and first in NUMERIC):
                self.error(Code.PR204, f"first_known() needs arguments of one type: {quoted(unparse(a))} is {_a(t)}, "
                           f"not {_a(first)}", a.span, "compare each to a value first, e.g. `x >= met`")
        return replace(e, args=tuple(args)), ("number" if first in NUMERIC else first)

    def resolve_name(self, e: n.Name, *, area: str | None, ladder: bool, constant: bool,
                     deps: set[str] | None, rule_key: str | None) -> tuple[n.Expr, str]:
        """A name as the one resolver (symbols.py) finds it, as a resolved node and its type; or the error."""
        sym = self.symbols.resolve(e.parts, Scope(area, ladder, constant))
        if sym is not None:
            return self.resolved(e, sym, constant, deps, rule_key)
        word = e.dotted
        if len(e.parts) == 1:
            name = e.parts[0]
            candidates = list(self.global_lets) + list(ASSESSMENTS) + list(OUTLIER_BANDS)
            if area:
                candidates += list(self.area_lets.get(area, {})) + list(self.symbols.area_rules.get(area, {}))
            if ladder:
                candidates += list(COUNTERS)
            where = "constant, counter or rule" if ladder else "constant, rule or assessment value"
            if ladder and area is None and any(name in rules for rules in self.symbols.area_rules.values()):
                where = "constant or counter (a shared ladder cannot name one area's rule: give that area its own ladder)"
            self.unresolved(Code.PR201, e.parts, f"unknown name {quoted(name)}", e.span,
                       _suggest(name, candidates) or f"define it with `let {name} = ...`, or use a known {where}")
            return e, "?"
        head, rest = e.parts[0], e.parts[1:]
        if head in self.areas and len(rest) == 1 and not constant:
            self.unresolved(Code.PR201, e.parts, f"area {quoted(head)} has no rule {quoted(rest[0])}", e.span,
                       _suggest(rest[0], list(self.symbols.area_rules.get(head, {})))
                       or f"the rules of {quoted(head)} are listed in its area block")
            return e, "?"
        rule_keys = [f"{a}.{r}" for a, rules in self.symbols.area_rules.items() for r in rules]
        self.unresolved(Code.PR203, e.parts, f"unknown evidence item or rule {quoted(word)}", e.span,
                   _suggest(word, list(self.decls) + rule_keys)
                   or "declare it in an `evidence` block, or check the spelling")
        return e, "?"

    def resolved(self, e: n.Name, sym: Symbol, constant: bool, deps: set[str] | None,
                 rule_key: str | None) -> tuple[n.Expr, str]:
        """The node and type of a name the resolver found (errors for evidence a constant or a rule cannot read)."""
        if sym.kind == "counter":
            return n.CounterRef(sym.key, span=e.span), "number"
        if sym.kind == "constant":
            if deps is not None:
                deps.add(sym.key)
            return n.ConstRef(e.dotted if len(e.parts) > 1 else e.parts[0], sym.key, span=e.span), \
                self.const_types.get(sym.key, "?")
        if sym.kind == "rule":
            area, _, rule = sym.key.partition(".")
            return self.rule_ref(area, rule, e.dotted, e.span, rule_key), "flag"
        if sym.kind in ("assessment", "band"):  # `outlier(x) is well_below`: a band
            return n.AssessmentLit(sym.key, span=e.span), sym.kind
        decl = self.decls[sym.key]  # evidence
        if decl.type == "table":
            self.error(Code.PR204, f"{quoted(sym.key)} is a table: read it through an aggregate", e.span,
                       f"such as count({sym.key}) or share({sym.key} where ...)")
            return e, "?"
        if constant:
            self.error(Code.PR204, f"a constant cannot read evidence ({quoted(sym.key)})", e.span,
                       "constants are fixed values; put the evidence in a rule's `when`")
            return e, "?"
        return n.FactRef(sym.key, span=e.span), EVIDENCE_TYPES.get(decl.type, "?")

    def visible_constants(self, area: str | None) -> dict[str, object]:
        """The folded constants a name in `area` can mean, by the name written (an area's own first)."""
        out = {k: v for k, v in self.const_values.items() if "." not in k}
        if area is not None:
            out |= {k.split(".", 1)[1]: v for k, v in self.const_values.items() if k.startswith(area + ".")}
        return out

    def rule_ref(self, area: str, rule: str, written: str, span: Span, rule_key: str | None) -> n.RuleRef:
        key = f"{area}.{rule}"
        if rule_key is not None:
            self.rule_deps.setdefault(rule_key, set()).add(key)
            self.dep_spans.setdefault((rule_key, key), span)
        return n.RuleRef(area, rule, written, span=span)

    # ------------------------------------------------------------ types
    def expect(self, ty: str, allowed: tuple[str, ...], e: n.Expr, where: str) -> None:
        if ty == "?" or ty in allowed:
            return
        self.error(Code.PR204, f"{where} needs {_a(allowed[0])}, but {quoted(unparse(e))} is {_a(ty)}", e.span,
                   _type_hint(ty, allowed[0]))

    def comparable(self, lt: str, rt: str, e: n.Expr, op: str | None = None) -> None:
        """`op` is "in" for a list membership test (an equality), else the comparison is `e` itself."""
        if "?" in (lt, rt):
            return
        if lt in NUMERIC and rt in NUMERIC:
            return
        if lt == rt and lt in ("assessment", "date", "text", "flag", "band"):
            if lt in ("text", "flag", "band") and op != "in" and isinstance(e, n.Binary) and e.op not in ("==", "!="):
                self.error(Code.PR204, f"{_a(lt)} can only be compared with == or !=", e.span,
                           "use `is` or `is not`")
            return
        self.error(Code.PR204, f"cannot compare {_a(lt)} with {_a(rt)}", e.span, _type_hint(lt, rt))

    # ------------------------------------------------------------ areas, rules, ladders
    def check_ladder(self, lad: n.Ladder, area: str | None) -> n.Ladder:
        rungs = []
        for i, rung in enumerate(lad.rungs):
            if rung.grade not in GRADE_KEYS:
                self.error(Code.PR207, f"unknown grade {quoted(rung.grade)}", rung.span,
                           _suggest(rung.grade, list(GRADE_KEYS)) or f"grades are: {', '.join(GRADE_KEYS)}")
            cond = rung.condition
            if cond is None and i != len(lad.rungs) - 1:
                self.error(Code.PR206, f"`otherwise` must be the last rung of ladder {quoted(lad.name)}", rung.span,
                           "move this rung to the end; rungs after it could never fire")
            if cond is not None:
                cond, ty = self.resolve(cond, area=area, ladder=True)
                self.expect(ty, ("flag",), rung.condition, "a ladder rung")  # type: ignore[arg-type]
            rungs.append(replace(rung, condition=cond))
        if not any(r.condition is None for r in lad.rungs):
            self.error(Code.PR206, f"ladder {quoted(lad.name)} has no `otherwise` rung", lad.span,
                       "end the ladder with a rung such as `good otherwise`, so every area gets a grade")
        return replace(lad, rungs=tuple(rungs))

    def check_area(self, area: n.Area, shared: dict[str, n.Ladder]) -> CheckedArea:
        rules = []
        names: set[str] = set()
        for rule in area.rules:
            if rule.name in names:
                continue  # a duplicate: reported once (PR202), not checked again
            names.add(rule.name)
            key = f"{area.name}.{rule.name}"
            self.rule_deps.setdefault(key, set())
            when = exceeded = None
            if rule.when is None:
                self.error(Code.PR210, f"{rule.kind.replace('_', ' ')} {quoted(rule.name)} has no `when` condition",
                           rule.span, "add a line `when <condition>` inside the rule's braces")
            else:
                when, ty = self.resolve(rule.when, area=area.name, ladder=False, rule_key=key)
                self.expect(ty, ("flag",), rule.when, "`when`")
            if rule.severe and rule.kind not in SEVERE_KINDS:
                self.error(Code.PR214, f"`severe` marks a finding, not {_a(rule.kind.replace('_', ' '))}", rule.span,
                           "put `severe` on an area for improvement or a cause of concern")
            if rule.exceeded_when is not None:
                if rule.kind != "characteristic":
                    self.error(Code.PR214, "`exceeded when` belongs only in a characteristic", rule.span,
                               "remove it, or make this rule a characteristic")
                exceeded, ty = self.resolve(rule.exceeded_when, area=area.name, ladder=False, rule_key=key)
                self.expect(ty, ("flag",), rule.exceeded_when, "`exceeded when`")
            rules.append(replace(rule, when=when, exceeded_when=exceeded))
        local = {lad.name: self.check_ladder(lad, area.name) for lad in area.ladders}
        ladder = None
        if area.ungraded:
            if area.grade_by or area.ladders:
                self.error(Code.PR214, f"area {quoted(area.name)} is ungraded but names a ladder", area.span,
                           "remove `ungraded` or the ladder")
        elif area.grade_by:
            if area.grade_by in local:
                ladder = local[area.grade_by]
            elif area.grade_by in shared:
                ladder = shared[area.grade_by]
            else:
                self.unresolved(Code.PR208, (area.grade_by,), f"unknown ladder {quoted(area.grade_by)}",
                                area.grade_by_span, _suggest(area.grade_by, list(local) + list(shared))
                                or (f"ladders are: {', '.join(sorted({*local, *shared}))}" if local or shared
                                    else "define one with `ladder name { ... }`"))
        elif len(local) == 1:
            ladder = next(iter(local.values()))
        else:
            self.error(Code.PR208, f"area {quoted(area.name)} does not say how it is graded", area.span,
                       "add `grade by <ladder>` or `ungraded`")
        return CheckedArea(area, tuple(rules), ladder)

    def rule_order(self) -> tuple[str, ...]:
        try:
            return tuple(TopologicalSorter(self.rule_deps).static_order())
        except CycleError as err:
            cycle = list(reversed(err.args[1]))  # graphlib lists dependencies first; show dependents first
            path = " -> ".join(cycle)
            span = self.dep_spans.get((cycle[0], cycle[1])) if len(cycle) > 1 else None
            self.error(Code.PR205, f"rules depend on each other in a cycle: {path}", span,
                       "a rule cannot depend, directly or through other rules, on itself; break the cycle")
            return ()


def _a(ty: str) -> str:
    if ty == "text":
        return "quoted text"
    return ("an " if ty[0] in "aeiou" else "a ") + ty


def _type_hint(have: str, want: str) -> str:
    if want == "flag" and have in NUMERIC:
        return "a condition must be true or false: compare the value, e.g. `x > 0` or `x >= 90%`"
    if "text" in (have, want) and (have in NUMERIC or want in NUMERIC):
        return 'remove the quotes: 90% is a percentage, "90%" is text'
    if {have, want} == {"assessment", "number"}:
        return ("compare an assessment with met, partly_met, not_met or exceeded, e.g. `x is met`; "
                "counters such as met or concerns can only be used in a ladder")
    if have == "assessment" or want == "assessment":
        return "compare an assessment with met, partly_met, not_met or exceeded, e.g. `x is met`"
    if have == "estimate":
        return "use lower(x) or upper(x) for the confidence bounds"
    if "band" in (have, want):
        return f"outlier(x) gives a band: compare it with {', '.join(OUTLIER_BANDS)}, e.g. `outlier(x) is well_below`"
    if have == "comparator":
        return "read a comparator through " + ", ".join(f"{f}(x)" for f in PEER_FUNCTIONS)
    return f"check that the evidence item is declared with the right type ({want})"


def _fold(e: n.Expr, env: dict[str, object]) -> object:
    """The value of a well-typed constant expression (literals, constants, operators, `in`)."""

    if isinstance(e, (n.Number, n.Percent, n.String, n.Bool)):
        return e.value
    if isinstance(e, n.AssessmentLit):
        return e.value
    if isinstance(e, n.ConstRef):
        return env.get(e.key)
    if isinstance(e, n.Unary):
        return apply_unary(e.op, _fold(e.operand, env))
    if isinstance(e, n.Binary):
        return apply_binary(e.op, _fold(e.left, env), _fold(e.right, env))
    if isinstance(e, n.InList):
        found = k_in(_fold(e.item, env), [_fold(o, env) for o in e.options])  # type: ignore[arg-type]
        return apply_unary("not", found) if e.negated else found
    raise TypeError(f"not a constant expression: {e!r}")  # the checker admits no other node here


def check(modules: list[n.Module], sources: list[SourceFile], lost: frozenset[str] = frozenset(),
          prior: tuple[Diagnostic, ...] = ()) -> Program:
    """Check parsed modules together as one rule set; raise PeelError listing every problem.

    `lost` names definitions that syntax errors removed (references to them are not reported again);
    `prior` holds those syntax errors, reported together with the check's own.
    """
    c = _Checker(sources, lost)
    c.diags.extend(prior)
    framework = c.framework = c.collect(modules)
    c.constants()
    shared = {name: c.check_ladder(lad, None) for name, lad in c.ladders.items()}
    areas = tuple(c.check_area(a, shared) for a in c.areas.values())
    order = c.rule_order()
    if c.diags:
        raise PeelError(c.diags)
    assert framework is not None
    return Program(framework, dict(c.decls), dict(c.const_values), dict(c.const_text), areas, order,
                   tuple(sources), shared, dict(c.const_lets), dict(c.const_deps))
