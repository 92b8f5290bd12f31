"""Reachability: for each graded area, which grades some evidence can give, and a smallest such evidence.

The search runs the compiled grade function over candidate evidence: every fact the area's rules read takes one
of its candidate values (within the declared range; assessments from not_met to exceeded), drawn with a bias
towards one level per draw (all weak, all strong, ...) from a fixed seed, and the area's findings take one of a
few shapes (none; one cause of concern; one area of concern; areas for improvement; innovative practice). Each
grade's first witness is then shrunk, one fact or finding at a time, while the grade holds: the result is a
witness none of whose parts can be dropped (a local minimum, not always the global one). Deterministic.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from .compile import compile_program
from .diagnostics import Code, Diagnostic, Severity, quoted
from .analysis import reads
from .facts import Bundle, Fact
from .findings import Finding
from .grades import Grade
from .lint import _candidates
from .program import Program
from .source import Span
from .values import Estimate, Ratio, Value

_NOWHERE = Span("<reach>", 0, 0, 0, 0)

# Finding shapes tried, as tuples of (kind, severe).
_SHAPES: tuple[tuple[tuple[str, bool], ...], ...] = (
    (),
    (("cause_of_concern", False),),
    (("area_of_concern", False),),
    (("area_for_improvement", True),),
    (("innovative_practice", False),),
    (("area_for_improvement", False),) * 3,
    (("area_for_improvement", False),) * 5,
    (("innovative_practice", False), ("area_for_improvement", False)),
)


@dataclass(frozen=True)
class Witness:
    facts: tuple[tuple[str, Value], ...]
    findings: tuple[tuple[str, bool], ...] | None  # None: the area's findings are not recorded

    @property
    def size(self) -> int:
        return len(self.facts) + len(self.findings or ())

    def describe(self) -> str:
        parts = [f"{name} = {_show(v)}" for name, v in self.facts]
        if self.findings is None:
            parts.append("findings not recorded")
        elif not self.findings:
            parts.append("no findings stated")
        else:
            counts: dict[str, int] = {}
            for kind, severe in self.findings:
                label = kind.replace("_", " ") + (" (severe)" if severe else "")
                counts[label] = counts.get(label, 0) + 1
            parts += [f"{k} stated" if c == 1 else f"{c} x {k} stated" for k, c in counts.items()]
        return "; ".join(parts)


@dataclass(frozen=True)
class AreaReach:
    area: str
    title: str
    witnesses: dict[str, Witness | None]  # grade key -> smallest evidence found, None when none was found

    @property
    def unreachable(self) -> tuple[str, ...]:
        return tuple(g for g, w in self.witnesses.items() if w is None)


def _show(v: Value) -> str:
    if isinstance(v, Ratio):
        return f"{v.k} of {v.n}"
    if isinstance(v, Estimate):
        return f"{v.value:.0%} ± {v.ci:.0%} of {v.sample}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v).lower() if isinstance(v, bool) else str(v)


def reachability(program: Program, draws: int = 300, seed: int = 2022) -> tuple[AreaReach, ...]:
    compiled = compile_program(program)
    read = reads(program)
    out = []
    for area in program.areas:
        if area.ladder is None:
            continue
        names = sorted({f for r in area.rules for f in read[f"{area.name}.{r.name}"] if f in program.decls})
        options = {f: _candidates(program.decls[f]) for f in names}
        names = [f for f in names if options[f]]
        rng = random.Random(f"{seed}:{area.name}")

        def grade(facts: dict[str, Value], findings: tuple[tuple[str, bool], ...] | None) -> Grade | None:
            bundle = _bundle(program, area.name, facts, findings)
            return compiled.run(bundle).area(area.name).grade

        found: dict[Grade, Witness] = {}
        for i in range(draws):
            level = rng.random()
            facts = {}
            for f in names:
                opts = options[f]
                pick = min(int(level * len(opts)), len(opts) - 1) if rng.random() < 0.8 else rng.randrange(len(opts))
                facts[f] = opts[pick]
            shape = _SHAPES[i % len(_SHAPES)]
            g = grade(facts, shape)
            if g is not None and g not in found:
                found[g] = _shrink(grade, g, facts, shape)
            if len(found) == len(Grade):
                break
        out.append(AreaReach(area.name, area.area.title,
                             {g.key: found.get(g) for g in sorted(Grade, reverse=True)}))
    return tuple(out)


def reach_warnings(program: Program, reach: tuple[AreaReach, ...]) -> list[Diagnostic]:
    """PR229 for each graded area with a grade no evidence tried can give."""
    lines = {s.name: s for s in program.sources}
    out = []
    for r in reach:
        if not r.unreachable:
            continue
        area = program.area(r.area)
        assert area is not None
        sp = area.area.span
        words = ", ".join(g.replace("_", " ") for g in r.unreachable)
        src = lines.get(sp.file)
        out.append(Diagnostic(Code.PR229, f"area {quoted(r.area)} can never be graded {words} from the evidence tried", sp,
                              "give the ladder a rung, or the area the rules (findings, characteristics exceeded) "
                              "that can reach it; `peel check --reach` lists what reaches each grade",
                              Severity.WARNING, line_text=src.line_text(sp.line) if src else ""))
    return out


T = TypeVar("T")


def _drop_while(items: tuple[T, ...], holds: Callable[[tuple[T, ...]], bool]) -> tuple[T, ...]:
    """Drop the items one at a time, left to right, wherever what is left still `holds`."""
    i = 0
    while i < len(items):
        trial = items[:i] + items[i + 1:]
        if holds(trial):
            items = trial
        else:
            i += 1
    return items


def _shrink(grade, target: Grade, facts: dict[str, Value],  # type: ignore[no-untyped-def]
            findings: tuple[tuple[str, bool], ...] | None) -> Witness:
    """Drop facts and findings one at a time while the grade stays `target`."""
    facts = dict(facts)
    for name in list(facts):
        trial = {k: v for k, v in facts.items() if k != name}
        if grade(trial, findings) is target:
            facts = trial
    if findings is not None:
        findings = _drop_while(findings, lambda trial: grade(facts, trial) is target)
        if not findings and grade(facts, None) is target:
            findings = None
    return Witness(tuple(sorted(facts.items())), findings)


def _bundle(program: Program, area: str, facts: dict[str, Value],
            findings: tuple[tuple[str, bool], ...] | None) -> Bundle:
    made = {f: Fact(f, v, program.decls[f], "reach", 1, None, "open", _NOWHERE) for f, v in facts.items()}
    stated = {} if findings is None else {area: tuple(
        Finding(kind, None, "reach", 1, None, severe, (), None, _NOWHERE) for kind, severe in findings)}
    return Bundle("<reach>", "", "", program.framework.name, None, {}, {}, made, findings=stated)


def reach_json(reach: tuple[AreaReach, ...]) -> list[dict]:
    return [{"area": r.area, "title": r.title, "grades": {
        g: None if w is None else {"facts": {name: _show(v) for name, v in w.facts}, "findings": (
            None if w.findings is None else [{"kind": k, "severe": sev} for k, sev in w.findings]),
            "size": w.size} for g, w in r.witnesses.items()}} for r in reach]


# ---------------------------------------------------------------- guidance for one bundle


@dataclass(frozen=True)
class Change:
    """Evidence that would give a grade: facts set (old value None when the fact is missing now) and, where the
    area's findings would change, the findings to record."""

    facts: tuple[tuple[str, Value | None, Value], ...]
    findings: tuple[tuple[str, bool], ...] | None = None  # None: the findings stay as they are
    findings_before: tuple[tuple[str, bool], ...] | None = None

    @property
    def size(self) -> int:
        return len(self.facts) + (0 if self.findings is None else max(1, len(self.findings)))

    def describe(self) -> str:
        parts = [(f"{name} = {_show(new)}" if old is None else f"{name} {_show(old)} -> {_show(new)}")
                 for name, old, new in self.facts]
        if self.findings is not None:
            parts.append(Witness((), self.findings).describe())
        return "; ".join(parts)


def guidance(program: Program, bundle: Bundle, area_name: str, draws: int = 400,
             seed: int = 2022) -> dict[str, Change | None]:
    """For each grade, a smallest change of this bundle's evidence found that gives the area that grade
    (empty for the grade it has; None where none was found)."""
    compiled = compile_program(program)
    area = program.area(area_name)
    assert area is not None and area.ladder is not None
    read = reads(program)
    names = sorted({f for r in area.rules for f in read[f"{area.name}.{r.name}"] if f in program.decls})
    options = {f: _candidates(program.decls[f]) for f in names}
    names = [f for f in names if options[f]]
    ordered = {f: o for f, o in options.items() if program.decls[f].type == "assessment"}
    current = {f: bundle.facts[f].value for f in names if f in bundle.facts}
    recorded = bundle.findings.get(area.name)
    now_findings = None if recorded is None else tuple((f.kind, f.severe) for f in recorded)
    rng = random.Random(f"{seed}:{area.name}:{bundle.sha256}")

    def grade(changes: dict[str, Value], findings: tuple[tuple[str, bool], ...] | None | str) -> Grade | None:
        base = {k: v for k, v in bundle.facts.items() if k not in changes}
        made = base | {f: Fact(f, v, program.decls[f], "guidance", 1, None, "open", _NOWHERE)
                       for f, v in changes.items()}
        if findings == "keep":
            stated = bundle.findings
        else:
            stated = {k: v for k, v in bundle.findings.items() if k != area.name}
            if findings is not None:
                stated[area.name] = tuple(Finding(k, None, "guidance", 1, None, s, (), None, _NOWHERE)
                                          for k, s in findings)  # type: ignore[union-attr]
        trial = replace(bundle, facts=made, findings=stated)
        return compiled.run(trial).area(area.name).grade

    best: dict[Grade, Change] = {}
    here = grade({}, "keep")
    if here is not None:
        best[here] = Change(())
    keeps = (0.9, 0.75, 0.5, 0.0)
    for i in range(draws):
        keep = keeps[i % len(keeps)]
        level = rng.random()
        changes: dict[str, Value] = {}
        for f in names:
            if f in current and rng.random() < keep:
                continue
            opts = options[f]
            pick = min(int(level * len(opts)), len(opts) - 1) if rng.random() < 0.8 else rng.randrange(len(opts))
            if current.get(f, _NOVALUE) != opts[pick]:
                changes[f] = opts[pick]
        shape: tuple[tuple[str, bool], ...] | str = "keep" if (recorded is not None and rng.random() < keep) \
            else _SHAPES[rng.randrange(len(_SHAPES))]
        g = grade(changes, shape)
        if g is None:
            continue
        change = _shrink_change(grade, g, changes, shape, current, now_findings, ordered)
        if g not in best or change.size < best[g].size:
            best[g] = change
    return {g.key: best.get(g) for g in sorted(Grade, reverse=True)}


_NOVALUE = object()


def _shrink_change(grade, target: Grade, changes: dict[str, Value], shape,  # type: ignore[no-untyped-def]
                   current: dict[str, Value], now_findings, ordered: dict[str, list[Value]]) -> Change:
    changes = dict(changes)
    for name in list(changes):
        trial = {k: v for k, v in changes.items() if k != name}
        if grade(trial, shape) is target:
            changes = trial
    if shape != "keep" and grade(changes, "keep") is target:
        shape = "keep"
    if shape != "keep":
        shape = _drop_while(shape, lambda trial: grade(changes, trial) is target)
    for name in list(changes):  # the smallest step: the candidate closest to the current value that still works
        opts = ordered.get(name)
        if opts is None or changes[name] not in opts:
            continue
        start = opts.index(current[name]) if current.get(name) in opts else None
        target_i = opts.index(changes[name])
        order = sorted(range(len(opts)), key=lambda j: abs(j - start) if start is not None else 0)
        for j in order:
            if j == target_i or j == start or (start is not None and (j - start) * (target_i - start) <= 0):
                continue
            if abs(j - (start or 0)) < abs(target_i - (start or 0)) and grade(changes | {name: opts[j]}, shape) is target:
                changes[name] = opts[j]
                break
    facts = tuple((f, current.get(f), v) for f, v in sorted(changes.items()))
    return Change(facts, None if shape == "keep" else shape, now_findings)



def stability(program: Program, bundle: Bundle, area_name: str) -> tuple[tuple[str, Value, Value, str], ...]:
    """For a graded area: each fact it reads whose one-step change (an assessment one level up or down, a flag
    flipped, a number to the next candidate value) would move the grade: (fact, now, then, grade then)."""
    compiled = compile_program(program)
    area = program.area(area_name)
    assert area is not None
    base = compiled.run(bundle).area(area.name)
    read = reads(program)
    names = sorted({f for r in area.rules for f in read[f"{area.name}.{r.name}"] if f in bundle.facts})
    out = []
    for f in names:
        fact = bundle.facts[f]
        opts = _candidates(program.decls[f])
        for new in _neighbours(fact.value, opts):
            trial = replace(bundle, facts=bundle.facts | {f: replace(fact, value=new)})
            moved = compiled.run(trial).area(area.name)
            if moved.judgment != base.judgment:
                out.append((f, fact.value, new, moved.judgment))
    return tuple(out)


def _neighbours(value: Value, opts: list[Value]) -> list[Value]:
    if value in opts:
        i = opts.index(value)
        return [opts[j] for j in (i - 1, i + 1) if 0 <= j < len(opts)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        nums = sorted(o for o in opts if isinstance(o, (int, float)) and not isinstance(o, bool))
        below = [o for o in nums if o < value]
        above = [o for o in nums if o > value]
        return ([below[-1]] if below else []) + ([above[0]] if above else [])
    return []
