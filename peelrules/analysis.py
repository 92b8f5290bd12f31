"""What rules read, worked out from the program alone: the facts behind each rule and area, the evidence an
undetermined area is missing, and the keys under which counts and aggregates sit beside the stated counts.
Shared by the compiled engine, the reference evaluator, the lint, the report and the evidence template."""
from __future__ import annotations

from collections.abc import Collection, Mapping

from . import nodes as n
from .facts import Bundle
from .program import CheckedArea, Program
from .result import RuleOutcome
from .values import UNKNOWN, Interval


def reads(program: Program, exceeded: bool = True,
          when_only: dict[str, frozenset[str]] | None = None) -> dict[str, frozenset[str]]:
    """For every rule key, the facts its `when` (and, if `exceeded`, its `exceeded when`) reads,
    directly or through the rules it refers to."""
    direct: dict[str, set[str]] = {}
    refs: dict[str, set[str]] = {}
    for area in program.areas:
        for rule in area.rules:
            key = f"{area.name}.{rule.name}"
            facts: set[str] = set()
            rrefs: set[str] = set()
            for e in (rule.when, rule.exceeded_when if exceeded else None):
                if e is not None:
                    collect_refs(e, facts, rrefs, set())
            direct[key], refs[key] = facts, rrefs
    out: dict[str, frozenset[str]] = {}
    if exceeded and when_only is None:
        when_only = reads(program, exceeded=False)
    for key in program.rule_order:
        acc = set(direct.get(key, ()))
        for r in refs.get(key, ()):  # a referenced rule contributes its outcome: its `when`
            acc |= (when_only or out).get(r, frozenset())
        out[key] = frozenset(acc)
    return out


# Which rule values each ladder counter is made of: (rule kind or None for `severe`, uses exceeded?)
_COUNTER_SOURCES: dict[str, tuple[str | None, bool]] = {
    "met": ("characteristic", False), "unmet": ("characteristic", False),
    "exceeded": ("characteristic", True), "concerns": ("cause_of_concern", False),
    "improvements": ("area_for_improvement", False), "innovative": ("innovative_practice", False),
    "severe": (None, False),
}


def missing_evidence(program: Program, area: CheckedArea, condition: n.Expr, outcomes: tuple[RuleOutcome, ...],
                     facts: Collection[str], reads_when: dict[str, frozenset[str]],
                     reads_all: dict[str, frozenset[str]]) -> tuple[str, ...]:
    """The absent facts that leave an undecided rung undecided: those read by the unknown rules
    behind the counters and rules the rung refers to."""
    counters: set[str] = set()
    rules: set[str] = set()
    direct: set[str] = set()
    collect_refs(condition, direct, rules, counters)
    severe = {f"{area.name}.{r.name}" for r in area.rules if r.severe}
    wanted: set[str] = set()
    for o in outcomes:
        for counter in counters:
            kind, uses_exceeded = _COUNTER_SOURCES.get(counter, ("", False))
            if kind is None and o.key in severe or kind == o.kind:
                value = o.exceeded if uses_exceeded else o.outcome
                if value is UNKNOWN:
                    wanted |= (reads_all if uses_exceeded else reads_when)[o.key]
    for key in rules:
        if key in reads_when:
            wanted |= reads_when[key]
    wanted |= direct  # facts an area's own ladder reads itself
    wanted |= {findings_name(x.area or area.name) for x in n.walk(condition) if isinstance(x, n.Stated)}
    return tuple(sorted(f for f in wanted if f not in facts))


def area_reads(program: Program, read: dict[str, frozenset[str]] | None = None) -> dict[str, frozenset[str]]:
    """The facts each area's rules read, directly or through the rules they use."""
    read = read if read is not None else reads(program)
    return {a.name: frozenset().union(*(read[f"{a.name}.{r.name}"] for r in a.rules)) for a in program.areas}


def secondary_evidence(read: frozenset[str], bundle: Bundle, area: str) -> tuple[str, ...]:
    """The facts an area reads, and its findings, that come from a secondary source (news, a paraphrase)."""
    if not bundle.has_secondary:
        return ()
    out = [f for f in sorted(read) if f in bundle.facts and bundle.source_kind(bundle.facts[f].document) == "secondary"]
    out += [f"{findings_name(area)}[{i + 1}]" for i, f in enumerate(bundle.findings.get(area, ()))
            if bundle.source_kind(f.document) == "secondary"]
    return tuple(out)


def secondary_key(area: str) -> str:
    """The key of an area's secondary-source count beside `Bundle.stated_counts` (see compile.py)."""
    return f"{area}/secondary"


def aggregate_key(key: str) -> str:
    """The key of an aggregate's value beside `Bundle.stated_counts` (see compile.py; `agg:` cannot clash)."""
    return f"agg:{key}"


def findings_name(area: str) -> str:
    """How missing findings are named among missing facts: `findings.<area>`."""
    return f"findings.{area}"


def known_evidence(facts: Collection[str], stated: Mapping[str, object]) -> frozenset[str]:
    """The facts a bundle gives, and `findings.<area>` for each area whose findings it records in full
    (`stated` is `Bundle.stated_counts`: a count recorded in part is an Interval, and leaves them missing)."""
    return frozenset(facts) | {findings_name(k.partition("/")[0]) for k, v in stated.items()
                               if k.count("/") == 2 and not isinstance(v, Interval)} \
        | {k[5:].rpartition("/")[0] for k in stated if k.startswith("peer:")}  # comparators placed (peers.py)


def collect_refs(e: n.Expr, facts: set[str], rules: set[str], counters: set[str]) -> None:
    """Add the facts, rules and counters an expression reads to the given sets."""
    for x in n.walk(e):
        if isinstance(x, n.FactRef):
            facts.add(x.name)
        elif isinstance(x, n.RuleRef):
            rules.add(x.key)
        elif isinstance(x, n.CounterRef):
            counters.add(x.name)
        elif isinstance(x, n.Stated) and x.area is not None:
            facts.add(findings_name(x.area))
