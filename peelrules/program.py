"""A checked rule set: every name resolved, every type known, rules in evaluation order."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import nodes as n
from .source import SourceFile


@dataclass(frozen=True)
class CheckedArea:
    """An area after checking: its node, its resolved rules, and its ladder."""

    area: n.Area
    rules: tuple[n.Rule, ...]  # with resolved expressions
    ladder: n.Ladder | None  # resolved; None for ungraded areas

    @property
    def name(self) -> str:
        return self.area.name


@dataclass(frozen=True)
class Program:
    """A checked rule set: what the evaluators, lint and the reports read (the cache holds these)."""

    framework: n.Framework
    decls: dict[str, n.EvidenceDecl]
    const_values: dict[str, object]
    const_text: dict[str, str]  # how each constant is written, e.g. "90%"
    areas: tuple[CheckedArea, ...]
    rule_order: tuple[str, ...]  # "area.rule" keys, dependencies first
    sources: tuple[SourceFile, ...] = field(default=())
    ladders: dict[str, n.Ladder] = field(default_factory=dict)  # shared ladders, resolved
    const_lets: dict[str, n.Let] = field(default_factory=dict)  # constant key -> its definition
    const_deps: dict[str, frozenset[str]] = field(default_factory=dict)  # constants each constant reads

    def area(self, name: str) -> CheckedArea | None:
        for a in self.areas:
            if a.name == name or name in a.area.aliases:
                return a
        return None

    def area_facts(self) -> dict[str, frozenset[str]]:
        """The facts each area's own rules read directly."""
        out: dict[str, frozenset[str]] = {}
        for a in self.areas:
            exprs = [e for r in a.rules for e in (r.when, r.exceeded_when) if e is not None]
            out[a.name] = frozenset(x.name for e in exprs for x in n.walk(e) if isinstance(x, n.FactRef))
        return out

    def rule(self, key: str) -> n.Rule:
        area, _, rule = key.partition(".")
        for a in self.areas:
            if a.name == area:
                for r in a.rules:
                    if r.name == rule:
                        return r
        raise KeyError(key)
