"""The one name resolver: what a name written in a rule set refers to, for the checker and the language server.

A name is looked up in this order, in the scope it is written in (an area, a ladder, a constant's definition):
  one word:   a ladder counter (in a ladder) -> a constant of the area -> a rule of the area (not in a constant)
              -> a global constant -> an assessment value -> an outlier band;
  dotted:     an evidence item -> `area.rule` (not in a constant) -> `area.constant` (not in a constant).
The first definition of a name wins (the checker reports the others). The checker turns a Symbol into a resolved
node and a type, and reports what the resolver cannot find; the language server shows it on hover and jumps to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import nodes as n
from .vocabulary import ASSESSMENTS, COUNTERS, OUTLIER_BANDS


@dataclass(frozen=True)
class Symbol:
    """What a name means."""

    kind: str  # rule, evidence, constant, ladder, area, framework, counter, assessment, band, function, grade, type
    key: str  # "area.rule", "prefix.item", constant key ("name" or "area.name"), or the word itself
    node: object | None = None  # the defining node; None for built-in words
    area: str | None = None  # the area a rule or area constant belongs to


@dataclass(frozen=True)
class Scope:
    """Where a name is written."""

    area: str | None = None
    ladder: bool = False  # counters are visible
    constant: bool = False  # in a constant's definition: rules are not visible


@dataclass
class SymbolTable:
    """Every definition of a rule set by name; the first definition wins."""

    decls: dict[str, n.EvidenceDecl] = field(default_factory=dict)
    lets: dict[str, n.Let] = field(default_factory=dict)
    ladders: dict[str, n.Ladder] = field(default_factory=dict)
    areas: dict[str, n.Area] = field(default_factory=dict)
    area_lets: dict[str, dict[str, n.Let]] = field(default_factory=dict)
    area_rules: dict[str, dict[str, n.Rule]] = field(default_factory=dict)
    frameworks: list[n.Framework] = field(default_factory=list)

    @classmethod
    def build(cls, modules: list[n.Module]) -> "SymbolTable":
        table = cls()
        for mod in modules:
            for item in mod.items:
                if isinstance(item, n.EvidenceDecl):
                    table.decls.setdefault(item.name, item)
                elif isinstance(item, n.Let):
                    table.lets.setdefault(item.name, item)
                elif isinstance(item, n.Ladder):
                    table.ladders.setdefault(item.name, item)
                elif isinstance(item, n.Area):
                    table.areas.setdefault(item.name, item)
                elif isinstance(item, n.Framework):
                    table.frameworks.append(item)
        for name, area in table.areas.items():
            table.add_area(name, area)
        return table

    def add_area(self, name: str, area: n.Area) -> None:
        """Index an area's own constants and rules (first definition wins)."""
        lets: dict[str, n.Let] = {}
        for let in area.lets:
            lets.setdefault(let.name, let)
        rules: dict[str, n.Rule] = {}
        for rule in area.rules:
            rules.setdefault(rule.name, rule)
        self.area_lets[name], self.area_rules[name] = lets, rules

    def area_rule(self, area: str, rule: str) -> n.Rule | None:
        return self.area_rules.get(area, {}).get(rule)

    def area_let(self, area: str, name: str) -> n.Let | None:
        return self.area_lets.get(area, {}).get(name)

    def ladder_for(self, area: str, name: str) -> n.Ladder | None:
        """The ladder an area's `grade by` names: one of its own, else a shared one."""
        a = self.areas.get(area)
        local = next((x for x in a.ladders if x.name == name), None) if a else None
        return local or self.ladders.get(name)

    def resolve(self, parts: tuple[str, ...], scope: Scope) -> Symbol | None:
        """The definition the name `parts` refers to in `scope`, in the order of the module docstring; None if
        it has none."""
        if len(parts) == 1:
            word, area = parts[0], scope.area
            if scope.ladder and word in COUNTERS:
                return Symbol("counter", word)
            if area is not None and (let := self.area_let(area, word)) is not None:
                return Symbol("constant", f"{area}.{word}", let, area)
            if area is not None and not scope.constant and (rule := self.area_rule(area, word)) is not None:
                return Symbol("rule", f"{area}.{word}", rule, area)
            if word in self.lets:
                return Symbol("constant", word, self.lets[word])
            if word in ASSESSMENTS:
                return Symbol("assessment", word)
            if word in OUTLIER_BANDS:
                return Symbol("band", word)
            return None
        dotted = ".".join(parts)
        if dotted in self.decls:
            return Symbol("evidence", dotted, self.decls[dotted])
        if len(parts) == 2 and parts[0] in self.areas and not scope.constant:
            if (rule := self.area_rule(*parts)) is not None:
                return Symbol("rule", dotted, rule, parts[0])
            if (let := self.area_let(*parts)) is not None:
                return Symbol("constant", dotted, let, parts[0])
        return None
