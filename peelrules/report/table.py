"""Tables read off the trace values, shared by the text, Markdown, HTML and CSV views.

The force-by-area grade table of a batch, and per area the rung that fired, the rules grouped by kind and
outcome, and the facts used. Nothing here computes a grade: every judgment is read from an AreaResult.
"""
from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..facts import Bundle
from ..grades import Grade
from ..result import AreaResult
from ..judgments import judgment_of
from ..tablefacts import neutralise_cell
from ..estimates import ComparisonLeaf, EstimateLeaf
from ..trace import AreaTrace, ExprTrace, FactLeaf, PeerLeaf, RuleTrace, RungTrace
from ..values import UNKNOWN, Value
from .text import KIND_HEADINGS, judgment

Run = tuple[Bundle, tuple[AreaTrace, ...]]


# ---------------------------------------------------------------- per area


def published(r: AreaResult, bundle: Bundle) -> str:
    """The final judgment for people, with the derived one beside it where moderation changed it."""
    j = judgment_of(r, bundle)
    text = f"{j.label} (moderated; derived {r.judgment_label})" if j.moderated else j.label
    secondary = r.counters.get("secondary", 0)
    if r.grade is not None and isinstance(secondary, int) and secondary:
        text += f" (rests on {secondary} secondary source{'s' if secondary != 1 else ''})"
    return text


def judgment_key(r: AreaResult) -> str:
    """A stable key for the judgment (a grade key or a status value), e.g. for a CSS class."""
    return r.judgment


def grade_label(key: str) -> str:
    """How a rung's grade key reads: `requires_improvement` -> `requires improvement`."""
    grade = Grade.from_key(key)
    return grade.label if grade is not None else key.replace("_", " ")


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


# ---------------------------------------------------------------- the batch table


@dataclass(frozen=True)
class GradeRow:
    force: str
    evidence: str
    judgments: tuple[str, ...]  # per area, in the table's area order; "" when the bundle lacks the area
    keys: tuple[str, ...]  # judgment_key per area, "" when absent


@dataclass(frozen=True)
class GradeTable:
    areas: tuple[tuple[str, str], ...]  # (name, title)
    rows: tuple[GradeRow, ...]


def grade_table(runs: Sequence[Run]) -> GradeTable:
    """One row per bundle, one column per area (in first-seen order across the batch)."""
    return results_table([(bundle, [t.result for t in traces]) for bundle, traces in runs])


def results_table(runs: Sequence[tuple[Bundle, Sequence[AreaResult]]]) -> GradeTable:
    """The same table from results alone, for callers that have no traces."""
    return rows_table([bundle_row(bundle, results) for bundle, results in runs])


@dataclass(frozen=True)
class BundleRow:
    """One bundle's row of the batch table before the table's columns are known: its own areas (name, title), in
    its order, and each one's cells. A few strings a bundle, so a batch's worker can send this back instead of the
    bundle (peelrules.batch, EvaluateWork.keep)."""

    force: str
    evidence: str
    areas: tuple[tuple[str, str], ...]  # (name, title) of each area the bundle has a result for
    judgments: tuple[str, ...]  # published(), per area of `areas`
    keys: tuple[str, ...]  # the final judgment key, per area of `areas`


def bundle_row(bundle: Bundle, results: Sequence[AreaResult]) -> BundleRow:
    judged = [judgment_of(r, bundle).final for r in results]
    return BundleRow(bundle.force, bundle.file, tuple((r.name, r.title) for r in results),
                     tuple(published(r, bundle) for r in results), tuple(judged))


def rows_table(rows: Sequence[BundleRow]) -> GradeTable:
    """The batch table of bundles' rows: one column per area, in first-seen order across the batch."""
    areas: dict[str, str] = {}
    for row in rows:
        for name, title in row.areas:
            areas.setdefault(name, title)
    out = []
    for row in rows:
        at = {name: i for i, (name, _) in enumerate(row.areas)}  # a name given twice: the last, as before
        found = [at.get(name) for name in areas]
        out.append(GradeRow(row.force, row.evidence, tuple(row.judgments[i] if i is not None else "" for i in found),
                            tuple(row.keys[i] if i is not None else "" for i in found)))
    return GradeTable(tuple(areas.items()), tuple(out))


def table_text(table: GradeTable) -> str:
    """An aligned plain-text table; area titles wrap over several header lines to keep columns narrow."""
    heads = ["force", "evidence"] + [title for _, title in table.areas]
    body = [[row.force, row.evidence, *row.judgments] for row in table.rows]
    widths = []
    for i, head in enumerate(heads):
        cells = max((len(r[i]) for r in body), default=0)
        longest_word = max((len(w) for w in head.split()), default=0)
        widths.append(max(cells, longest_word, 12 if i >= 2 else len(head)))
    wrapped = [textwrap.wrap(h, w) or [""] for h, w in zip(heads, widths)]
    depth = max(len(w) for w in wrapped)
    wrapped = [[""] * (depth - len(w)) + w for w in wrapped]  # bottom-aligned headers

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip()

    out = [line([w[i] for w in wrapped]) for i in range(depth)]
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in body)
    return "\n".join(out) + "\n"


def csv_cell(text: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula: prefix it with an apostrophe."""
    return neutralise_cell(text)


def table_csv(table: GradeTable) -> str:
    """RFC 4180 CSV (the csv module; CRLF line ends): force, evidence, then one column per area title."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_cell(c) for c in ["force", "evidence", *(title for _, title in table.areas)]])
    for row in table.rows:
        writer.writerow([csv_cell(c) for c in [row.force, row.evidence, *row.judgments]])
    return buf.getvalue()
