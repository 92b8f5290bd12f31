"""Checks on a bundle against its rule set, for `peel check EVIDENCE`: warnings about evidence that is valid but
needs a second look.

- PR315: an area's grade rests on a secondary source (news, a paraphrase): named with each such fact or finding;
- PR316: contradictory evidence: a rule's `first_known(a, b, ...)` has two known arguments that disagree (a
  measured share that meets a standard beside a finding that it is missed); the rule takes the first, and
  both sources are named;
- PR317: the grade the rules derive differs from the judgment the report states for the area.
"""
from __future__ import annotations

from . import nodes as n
from .diagnostics import Code, Diagnostic, Severity, quoted
from .analysis import collect_refs, secondary_evidence
from .evaluate import Env, Evaluator
from .evidence import Bundle
from .judgments import judgment_of
from .program import Program
from .source import SourceFile, Span
from .unparse import unparse
from .values import UNKNOWN


def audit(program: Program, bundle: Bundle, src: SourceFile | None = None) -> list[Diagnostic]:
    ev = Evaluator(program)
    result, _ = ev.run(bundle)
    out: list[Diagnostic] = []

    def warn(code: str, message: str, span: Span | None, hint: str) -> None:
        text = src.line_text(span.line) if src is not None and span is not None and span.line else ""
        out.append(Diagnostic(code, message, span, hint, Severity.WARNING, text))

    for area in result.areas:
        j = judgment_of(area, bundle)
        marked = bundle.findings.get(area.name, ())
        if area.grade is not None:
            for name in secondary_evidence(ev.area_reads[area.name], bundle, area.name):
                fact = bundle.facts.get(name)
                span = fact.span if fact is not None else next(
                    (f.span for i, f in enumerate(marked) if name.endswith(f"[{i + 1}]")), None)
                warn(Code.PR315, f"the grade of {quoted(area.name)} ({area.judgment_label}) rests on a secondary source: "
                     f"{name}", span, "cite the inspection report's own text, or the force's data, where it says so")
        if j.disagrees and j.stated is not None:
            warn(Code.PR317, f"the rules give {quoted(area.name)} {j.label}, but the report states "
                 f"{(j.stated.grade or '').replace('_', ' ')}", j.stated.span,
                 "check the facts and findings of the area against the report; `peel explain` shows how the "
                 "grade was derived")
    env = Env(bundle, program.const_values, dict(_outcomes(result)), {}, False)
    for area in program.areas:
        for rule in area.rules:
            for expr in (rule.when, rule.exceeded_when):
                if expr is None:
                    continue
                for call in (x for x in n.walk(expr) if isinstance(x, n.Call) and x.func == "first_known"):
                    known = [(a, ev.eval(a, env)[0]) for a in call.args]
                    known = [(a, v) for a, v in known if v is not UNKNOWN]
                    if len(known) >= 2 and any(v != known[0][1] for _, v in known[1:]):
                        (a, va), (b, vb) = known[0], next((x, v) for x, v in known[1:] if v != known[0][1])
                        fa, fb = _facts(a, bundle), _facts(b, bundle)
                        span = next((bundle.facts[f].span for f in fb), None)
                        warn(Code.PR316, f"contradictory evidence for '{area.name}.{rule.name}': {unparse(a)} is "
                             f"{_word(va)} ({_where(fa, bundle)}), but {unparse(b)} is {_word(vb)} "
                             f"({_where(fb, bundle)}); the rule takes the first",
                             span, "check both against the report: one of them is probably wrong")
    return sorted(out, key=Diagnostic.sort_key)


def _outcomes(result):  # type: ignore[no-untyped-def]
    for area in result.areas:
        for o in area.outcomes:
            yield o.key, o.outcome


def _facts(e: n.Expr, bundle: Bundle) -> list[str]:
    names: set[str] = set()
    collect_refs(e, names, set(), set())
    return sorted(f for f in names if f in bundle.facts)


def _where(names: list[str], bundle: Bundle) -> str:
    return ", ".join(f"{f}, {bundle.facts[f].document} line {bundle.facts[f].line}" for f in names) or "no fact"


def _word(v: object) -> str:
    return "true" if v is True else "false" if v is False else str(v)
