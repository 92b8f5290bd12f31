"""Views of one area's trace, shared by the text, Markdown and HTML reports: the rung that fired, the rules grouped
by kind and outcome, the facts, aggregates, estimates and peer comparisons used, and how an estimate, a comparison
of two estimates or a peer comparison reads. Nothing here computes a grade. (Apart from report.table, whose grade
table the text and CSV views print, so that those do not import the trace's classes.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..estimates import ComparisonLeaf, EstimateLeaf
from ..facts import Bundle
from ..trace import AreaTrace, ExprTrace, FactLeaf, PeerLeaf, RuleTrace, RungTrace
from ..values import UNKNOWN, Value
from .text import KIND_HEADINGS

Run = tuple[Bundle, tuple[AreaTrace, ...]]  # a bundle and its areas' traces


def decisive_rung(t: AreaTrace) -> RungTrace | None:
    """The rung that fired (graded) or could not be decided (undetermined); None for other statuses."""
    r = t.result
    if r.rung is None or not (0 <= r.rung < len(t.rungs)):
        return None
    return t.rungs[r.rung]


def facts_used(t: AreaTrace) -> list[tuple[FactLeaf, Value]]:
    """Each fact the area's ladder and rules read, once, in the order the trace first reaches it."""
    seen: dict[str, tuple[FactLeaf, Value]] = {}

    def walk(e: ExprTrace | None) -> None:
        if e is None:
            return
        if e.fact is not None:
            seen.setdefault(e.fact.name, (e.fact, e.value))
        for c in e.children:
            walk(c)

    for rung in t.rungs:
        walk(rung.condition)
    for rule in t.rules:
        walk(rule.when)
        walk(rule.exceeded_when)
    return list(seen.values())


def aggregates_used(t: AreaTrace) -> list[ExprTrace]:
    """Each aggregate over a table the area's ladder and rules read, once, in the order the trace reaches it."""
    seen: dict[str, ExprTrace] = {}
    stack = [e for e in [*(r.condition for r in t.rungs), *(x for r in t.rules for x in (r.when, r.exceeded_when))]
             if e is not None][::-1]
    while stack:
        e = stack.pop()
        if e.aggregate is not None:
            seen.setdefault(e.aggregate.key, e)
        stack.extend(reversed(e.children))
    return list(seen.values())


def _walk_used(t: AreaTrace, pick) -> list[ExprTrace]:  # type: ignore[no-untyped-def]
    seen: dict[object, ExprTrace] = {}
    stack = [e for e in [*(r.condition for r in t.rungs), *(x for r in t.rules for x in (r.when, r.exceeded_when))]
             if e is not None][::-1]
    while stack:
        e = stack.pop()
        key = pick(e)
        if key is not None:
            seen.setdefault(key, e)
        stack.extend(reversed(e.children))
    return list(seen.values())


def estimates_used(t: AreaTrace) -> list[ExprTrace]:
    """Each function of an estimate the area reads (significantly_below(...), lower(...), overlaps(...)), once, in
    order."""
    return _walk_used(t, lambda e: e.text if e.estimate is not None or e.comparison is not None else None)


def peers_used(t: AreaTrace) -> list[ExprTrace]:
    """Each comparator the area reads through outlier() and the like, once (by evidence item), in order."""
    return _walk_used(t, lambda e: e.peer.name if e.peer is not None else None)


def percent(x: float) -> str:
    return f"{x * 100:.1f}%"


def estimate_text(e: EstimateLeaf) -> str:
    """An estimate for people: 85.2% (80.1% to 90.3%, +/- 5.1%, interval as stated; sample 183)."""
    how = "interval as stated by the source" if e.method == "given" else f"{e.method} interval computed from k of n"
    sample = f"sample {e.sample}" if e.sample is not None else "sample size not given"
    if e.small is not None:
        sample += f", small (below {e.threshold})" if e.small else f", not small (threshold {e.threshold})"
    out = (f"{percent(e.value)} ({percent(e.lower)} to {percent(e.upper)}, +/- {percent((e.upper - e.lower) / 2)}; "
           f"{how}; {sample})")
    if e.verdict is not None:
        out += f"; against {percent(e.standard)}: {e.verdict}" if e.standard is not None else f"; {e.verdict}"
    return out


def comparison_text(c: ComparisonLeaf) -> str:
    """Two estimates compared, for people: each, then the test's figures and the verdict in words."""
    first, second = (estimate_text(e) if e is not None else "unknown" for e in (c.first, c.second))
    out = f"{first} against {second}"
    if c.difference is not None and c.z is not None and c.p_value is not None and c.critical is not None \
            and c.level is not None:
        out += (f"; two-proportion test: difference {c.difference * 100:+.1f} points, z {c.z:+.2f}, p {c.p_value:.3g} "
                f"(significant beyond z = +/-{c.critical:.2f}, the {c.level:.0%} level)")
    return f"{out}: {c.verdict}"


def estimate_note(t: ExprTrace, labelled: bool = True) -> str:
    """What a function of estimates read, for people: "estimate: ..." or "comparison: ..." (unlabelled: "...")."""
    if t.comparison is not None:
        label, words = "comparison", comparison_text(t.comparison)
    else:
        assert t.estimate is not None
        label, words = "estimate", estimate_text(t.estimate)
    return f"{label}: {words}" if labelled else words


def peer_text(p: PeerLeaf) -> str:
    """A force among its peers for people, with every number behind the band; ILLUSTRATIVE when it is."""
    from .chart import peer_summary  # pure; the chart itself needs matplotlib, this does not

    tag = " (ILLUSTRATIVE DATA, not real)" if p.illustrative else ""
    if not p.present:
        return f"unknown: {p.why}"
    if p.comparison is None:
        return f"unknown: {p.why} [{p.file}{tag}]"
    return f"{peer_summary(p.comparison, p.unit or '')} [{p.title}; {p.file}{tag}]"


@dataclass(frozen=True)
class RuleGroup:
    kind: str
    heading: str  # e.g. "Characteristics of good performance"
    reading: str  # e.g. "met", "not met", "raised", "found", "unknown"
    rules: tuple[RuleTrace, ...]
    of: int  # how many rules of this kind the area has


# Which outcome groups each view lists: characteristics both ways; findings only when they apply.
_LISTED: dict[str, tuple[Value, ...]] = {
    "characteristic": (True, False, UNKNOWN),
    "cause_of_concern": (True, UNKNOWN),
    "area_for_improvement": (True, UNKNOWN),
    "innovative_practice": (True, UNKNOWN),
    "good_practice": (True, UNKNOWN),
}
_READING = {
    "characteristic": {True: "met", False: "not met"},
    "cause_of_concern": {True: "raised", False: "not raised"},
    "area_for_improvement": {True: "raised", False: "not raised"},
    "innovative_practice": {True: "found", False: "not found"},
    "good_practice": {True: "found", False: "not found"},
}


def _same(a: Value, b: Value) -> bool:
    return a is b if a is UNKNOWN or b is UNKNOWN else a == b


def rule_groups(t: AreaTrace) -> Iterator[RuleGroup]:
    """Rules by kind (in the order of the text view) and outcome, skipping kinds the area does not have."""
    for kind, heading in KIND_HEADINGS:
        rules = [x for x in t.rules if x.kind == kind]
        if not rules:
            continue
        for outcome in _LISTED[kind]:
            chosen = tuple(x for x in rules if _same(x.outcome, outcome))
            reading = "undecided" if outcome is UNKNOWN else _READING[kind][outcome]  # type: ignore[index]
            if chosen or outcome is not UNKNOWN:
                yield RuleGroup(kind, heading, reading, chosen, len(rules))
