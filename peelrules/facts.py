"""A loaded evidence bundle as the engine reads it: facts, findings, documents and tables with their provenance.

Plain frozen dataclasses and the standard library only: no YAML, no pydantic, no DuckDB (a comparison with
peers is peerfacts.BundlePeer, itself a plain dataclass). evidence.py builds a
`Bundle` from a file (parsing and validating it); the evaluators, the reports and the disk cache
(peelrules.cache, which stores validated bundles) need only this module.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .findings import Finding, Moderation
from .grades import Status
from .source import Span
from .tablefacts import AggregateResult, BundleTable, GroupResult, TableFile
from .values import Interval, Value
from .vocabulary import FINDING_KINDS

if TYPE_CHECKING:
    from .nodes import EvidenceDecl
    from .peerfacts import BundlePeer

_REEXPORTED = (GroupResult, TableFile)  # importable from here, with the bundle that holds them

KeyPath = tuple[object, ...]


@dataclass(frozen=True)
class Document:
    """A document the bundle's facts cite (its `sources:` entry)."""

    title: str
    file: str | None = None
    url: str | None = None
    kind: str = "inspection_report"


@dataclass(frozen=True)
class Fact:
    """One stated fact of a bundle: its value, declaration, and where it is written and quoted from."""

    name: str
    value: Value
    decl: EvidenceDecl
    document: str
    line: int
    quote: str | None
    status: str
    span: Span  # where the fact is written in the evidence file
    note: str | None = None


@dataclass(frozen=True)
class Bundle:
    """A validated evidence bundle as the evaluators read it (no YAML, no pydantic: the cache holds these)."""

    file: str
    sha256: str
    force: str
    framework: str
    period: tuple[str, str] | None
    sources: dict[str, Document]
    not_inspected: dict[str, str | None]
    facts: dict[str, Fact] = field(default_factory=dict)
    unchecked: tuple[str, ...] = ()  # documents named with a `file` that was not found: quotes unchecked
    set_aside: tuple[str, ...] = ()  # facts only an area marked not inspected reads: not used
    findings: dict[str, tuple[Finding, ...]] = field(default_factory=dict)  # area -> findings; absent: unknown
    area_status: dict[str, str] = field(default_factory=dict)  # area -> AREA_STATUSES key (marked areas)
    moderation: dict[str, Moderation] = field(default_factory=dict)
    partial: frozenset[str] = frozenset()  # areas whose findings are recorded in part (`some:`)
    tables: dict[str, BundleTable] = field(default_factory=dict)  # checked and digested (aggregates.py)
    aggregates: dict[str, AggregateResult] = field(default_factory=dict)  # aggregate key -> computed once
    peers: dict[str, BundlePeer] = field(default_factory=dict)  # comparator item -> the force among its peers

    @functools.cached_property
    def stated_counts(self) -> dict[str, int | Interval]:
        """`stated_key(area, kind, severe)` -> count, for every recorded area and finding kind."""
        return {stated_key(area, kind, severe): self.stated(area, kind, severe) or 0
                for area in self.findings for kind in FINDING_KINDS for severe in (False, True)}

    @functools.cached_property
    def marks(self) -> dict[str, tuple[Status, str | None]]:
        """Areas the bundle gives a status instead of evidence: area -> (status, note)."""
        return {area: (Status(self.area_status.get(area, "not_inspected")), note)
                for area, note in self.not_inspected.items()}

    def stated(self, area: str, kind: str, severe: bool = False) -> int | Interval | None:
        """How many findings of `kind` the report states for the area: the count recorded; at least that many
        (an Interval up to infinity) where only some are recorded; None when the bundle records none."""
        found = self.stated_findings(area, kind, severe)
        if found is None:
            return None
        return Interval(len(found), math.inf) if area in self.partial else len(found)

    def stated_findings(self, area: str, kind: str, severe: bool = False) -> tuple[Finding, ...] | None:
        """The findings of `kind` (only the severe ones when `severe`) the bundle records for the area; None when
        it records none for the area."""
        found = self.findings.get(area)
        return None if found is None else tuple(f for f in found if f.kind == kind and (f.severe or not severe))

    @functools.cached_property
    def has_secondary(self) -> bool:
        return any(d.kind == "secondary" for d in self.sources.values())

    def source_kind(self, document: str) -> str:
        doc = self.sources.get(document)
        return doc.kind if doc is not None else "inspection_report"

    def __getstate__(self) -> dict[str, object]:
        """What the disk cache stores: the fields, without the values cached_property keeps beside them."""
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED}


_DERIVED = frozenset({"stated_counts", "marks", "has_secondary"})


def covers(framework: object, day: str) -> bool:
    """Whether a framework's effective dates (when it has them) include the ISO date `day`."""
    start, end = getattr(framework, "effective_from", None), getattr(framework, "effective_to", None)
    return (start is None or start <= day) and (end is None or day <= end)


def peek_framework(raw: object, positions: dict[KeyPath, Span]) -> tuple[str | None, str | None, Span | None]:
    """The `framework:` and the period's start loaded evidence gives (either may be None), and where, without
    validating the rest: enough to choose its rule set."""
    if not isinstance(raw, dict):
        return None, None, None
    name = raw.get("framework") if isinstance(raw.get("framework"), str) else None
    period = raw.get("period")
    start = period.get("from") if isinstance(period, dict) and isinstance(period.get("from"), str) else None
    return name, start, positions.get(("framework",)) or positions.get(("period",)) or positions.get(())


def stated_key(area: str, kind: str, severe: bool) -> str:
    """The key of a finding count in `Bundle.stated_counts` (names are [a-z0-9_], so '/' cannot clash)."""
    return f"{area}/{kind}/{int(severe)}"
