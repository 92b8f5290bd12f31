"""Plain-text views: the grade summary and the explanation tree."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..facts import Bundle
from ..analysis import area_reads, secondary_evidence
from ..findings import Finding
from ..judgments import finding_label, judgment_of
from ..grades import Grade, Status
from ..program import Program
from ..result import AreaResult, BundleResult
from ..values import UNKNOWN, Value
from .values import outcome_word, value_text

if TYPE_CHECKING:  # only named in annotations: the analyses and traces are not loaded to print a grade
    from ..trace import AggregateLeaf, AreaTrace, ExprTrace, RuleTrace
    from ..compare import RuleSetDiff
    from ..reach import AreaReach, Change
    from ..whynot import WhyNot

KIND_HEADINGS = (
    ("characteristic", "Characteristics of good performance"),
    ("cause_of_concern", "Causes of concern"),
    ("area_for_improvement", "Areas for improvement"),
    ("innovative_practice", "Innovative practice"),
    ("good_practice", "Good practice"),
)


def judgment(r: AreaResult) -> str:
    return r.judgment_label


def summary(program: Program, bundle: Bundle, result: BundleResult) -> str:
    width = max(len(a.title) for a in result.areas) + 2
    lines = [f"{result.force} — {program.framework.title}", f"evidence: {bundle.file}"]
    for doc in bundle.unchecked:
        lines.append(f"note: quotes citing '{doc}' were not checked: its file "
                     f"'{bundle.sources[doc].file}' was not found beside the evidence")
    if bundle.set_aside:
        lines.append(f"note: set aside, as evidence only for areas marked not inspected: {', '.join(bundle.set_aside)}")
    lines.append("")
    read = area_reads(program) if bundle.has_secondary else {}
    for a in result.areas:
        j = judgment_of(a, bundle)
        secondary = secondary_evidence(read[a.name], bundle, a.name) if a.grade is not None and read else ()
        line = f"  {a.title:<{width}}{j.label}"
        if j.moderated:
            line += f" (moderated; derived: {judgment(a)})"
        if j.disagrees:
            line += f" (the report states {j.stated.grade.replace('_', ' ')})"  # type: ignore[union-attr]
        if secondary:
            line += f" (rests on a secondary source: {', '.join(secondary)})"
        if a.status is Status.UNDETERMINED:
            line += (f" (missing evidence: {', '.join(a.missing)})" if a.missing
                     else " (a value could not be computed, such as a division by zero: see explain)")
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def _fact_line(t: ExprTrace) -> str:
    f = t.fact
    assert f is not None
    if not f.present:
        return f"{f.name} = unknown (not in the evidence) — {f.description}"
    text = f"{f.name} = {value_text(t.value, f.type)}  [{f.document} line {f.line}]"
    if f.status and f.status != "open":
        text += f" ({f.status.replace('_', ' ')})"
    if f.quote:
        text += f' "{f.quote}"'
    if f.note:
        text += f" — note: {f.note}"
    return text


def context(bundle: Bundle) -> str:
    """Facts recorded as context only: shown so a reader sees the setting, never used to judge."""
    facts = [f for f in bundle.facts.values() if f.decl.context_only]
    if not facts:
        return ""
    out = ["Context (recorded, not judged):"]
    for f in facts:
        line = f"  {f.name} = {value_text(f.value, f.decl.type)}  [{f.document} line {f.line}]"
        if f.quote:
            line += f' "{f.quote}"'
        out.append(line + (f" — note: {f.note}" if f.note else ""))
    return "\n".join(out) + "\n"


def finding_lines(f: Finding, pad: str) -> list[str]:
    """A finding in the report's words, its source, and its recommendations verbatim."""
    head = f"{pad}- {finding_label(f)}{' (severe)' if f.severe else ''}"
    if f.text:
        head += f": {f.text}"
    head += f"  [{f.document} line {f.line}]"
    if f.quote:
        head += f' "{f.quote}"'
    out = [head]
    out += [f"{pad}    recommendation: {rec}" for rec in f.recommendations]
    if f.note:
        out.append(f"{pad}    note: {f.note}")
    return out


DUCKDB_NOTE = "DuckDB computed these: run the SQL with duckdb in the evidence's folder"
SPARK_NOTE = ("Spark computed these: the SQL is Spark SQL, to run in a Spark session where each table is a "
              "temporary view of its name, made from its files or its catalog table (docs/scale.md)")


def tables_note(aggs: list[ExprTrace]) -> str:
    """What computed the aggregates of a list and how to run their SQL: DuckDB's note, Spark's, or both."""
    engines = {e.aggregate.engine for e in aggs if e.aggregate is not None and e.aggregate.present}
    notes = ([DUCKDB_NOTE] if "duckdb" in engines or not engines else []) + ([SPARK_NOTE] if "spark" in engines else [])
    return "; ".join(notes)


def data_of(a: AggregateLeaf) -> str:
    """Where an aggregate's rows came from: the table's files, or its catalog table."""
    return f"catalog table {a.catalog}" if a.catalog is not None else ", ".join(a.files)


def sql_where(a: AggregateLeaf) -> str:
    """Which SQL an aggregate's is and where it runs: `DuckDB, run in FOLDER`, or Spark SQL over the view."""
    if a.engine == "spark":
        return f"Spark SQL, over the view `{a.table}` of {data_of(a)}"
    return f"DuckDB, run in {a.folder or '.'}"


def aggregate_lines(t: ExprTrace, pad: str) -> list[str]:
    """An aggregate over a table: its value, the rows read and matched, and the SQL that gives them."""
    a = t.aggregate
    assert a is not None
    if not a.present:
        return [f"{pad}{t.text} = unknown (the evidence has no table {a.table})"]
    out = [f"{pad}{t.text} = {value_text(t.value)}  [table {a.table}: {a.rows_matched} of {a.rows_read} rows "
           f"matched; {data_of(a)}]"]
    if a.source:
        out.append(f"{pad}    source: {a.source}")
    where = f"run in {a.folder}" if a.engine == "duckdb" else sql_where(a)
    out.append(f"{pad}    sql ({where}): {a.sql}")
    return out


def _shown(t: ExprTrace) -> tuple[ExprTrace, ...]:
    """What a condition's line is followed by: its parts, or the condition itself when it has none or when what
    it read (an estimate, two compared, peers, a table) is said on its own line."""
    own = t.estimate is not None or t.comparison is not None or t.peer is not None or t.aggregate is not None
    return (t,) if own or not t.children else t.children


def _expr_lines(t: ExprTrace, depth: int, out: list[str]) -> None:
    pad = "    " * depth
    if t.fact is not None:
        out.append(pad + _fact_line(t))
        return
    if t.aggregate is not None:
        out += aggregate_lines(t, pad)
        return
    if t.peer is not None:
        from .traced import peer_text

        out.append(f"{pad}{t.text} = {value_text(t.value)}  [peers: {peer_text(t.peer)}]")
        return
    if t.estimate is not None or t.comparison is not None:
        from .traced import estimate_note

        out.append(f"{pad}{t.text} = {value_text(t.value)}  [{estimate_note(t)}]")
        for c in t.children:
            _expr_lines(c, depth + 1, out)
        return
    if t.finding_kind is not None:
        if t.findings is None:
            out.append(f"{pad}{t.text} = unknown (the bundle records no findings for this area)")
        else:
            out.append(f"{pad}{t.text} = {value_text(t.value)}")
            for f in t.findings:
                out += finding_lines(f, pad + "    ")
        return
    if t.rule is not None:
        out.append(f"{pad}{t.text} = {value_text(t.value)} (rule {t.rule})")
        return
    if not t.children:
        if t.constant is not None:
            shown = t.written if t.written and t.written != value_text(t.value) else value_text(t.value)
            out.append(f"{pad}{t.text} = {shown}")
        elif t.counter is not None:
            out.append(f"{pad}{t.text} = {value_text(t.value)}")
        return
    taken = ""
    if t.taken is not None and t.taken > 0:
        taken = f"  (fallback: argument {t.taken + 1} taken, the ones before it are unknown)"
    out.append(f"{pad}{t.text}  => {value_text(t.value)}{taken}")
    for c in t.children:
        _expr_lines(c, depth + 1, out)


def _rule_lines(r: RuleTrace, out: list[str]) -> None:
    name = r.key.split(".", 1)[1]
    word = outcome_word(r.kind, r.outcome)
    extra = " (exceeded)" if r.exceeded is True else ""
    out.append(f"    [{word}{extra}] {name}: {r.title}")
    if r.cite:
        out.append(f"        cite: {r.cite}")
    if r.recommendation and r.outcome is True:
        out.append(f"        recommendation: {r.recommendation}")
    if r.when is not None:
        out.append(f"        when {r.when.text}  => {value_text(r.when.value)}")
        for c in _shown(r.when):
            _expr_lines(c, 3, out)
    if r.exceeded_when is not None and r.outcome is True:
        out.append(f"        exceeded when {r.exceeded_when.text}  => {value_text(r.exceeded_when.value)}")
        for c in _shown(r.exceeded_when):
            _expr_lines(c, 3, out)


def guidance_lines(guide: "dict[str, Change | None]", current: str | None) -> list[str]:
    """For an undetermined area: each grade still possible, with the smallest evidence found that gives it,
    fewest first."""
    found = sorted(((c.size, g, c) for g, c in guide.items() if c is not None and g != current),
                   key=lambda x: (x[0], x[1]))
    out = ["  To decide it (the smallest evidence found for each grade still possible, fewest first):"]
    out += [f"    {g.replace('_', ' ')}: {c.size} item{'s' if c.size != 1 else ''}: {c.describe()}"
            for _, g, c in found]
    missing = [g.replace("_", " ") for g, c in guide.items() if c is None]
    if missing:
        out.append(f"    not found in the search: {', '.join(missing)}")
    return out


def evidence_for(grade: "Grade", change: "Change | None") -> str:
    """The concrete evidence --why-not GRADE found: which facts, which values, which findings."""
    if change is None:
        return (f"  No evidence found in the search gives {grade.label}: no values of the facts this area reads, "
                "with any of the finding shapes tried, reached it.\n")
    return (f"  Evidence that would give {grade.label} ({change.size} item{'s' if change.size != 1 else ''}): "
            f"{change.describe()}\n")


def stability_lines(changes: "tuple[tuple[str, Value, Value, str], ...]") -> list[str]:
    if not changes:
        return ["  Stability: no one-step change of a fact it reads moves the grade"]
    out = ["  Stability: one-step changes that would move the grade:"]
    out += [f"    {f}: {value_text(a)} -> {value_text(b)} gives {g.replace('_', ' ')}" for f, a, b, g in changes]
    return out


def explain_area(t: AreaTrace, guide: "dict[str, Change | None] | None" = None,
                 stable: "tuple[tuple[str, Value, Value, str], ...] | None" = None) -> str:
    r = t.result
    out = [f"{r.title} ({r.name}): {judgment(r)}"]
    if t.question:
        out.append(f"  {t.question}")
    if r.note:
        out.append(f"  note: {r.note}")
    if t.moderation is not None:
        m = t.moderation
        out.append(f"  Moderated: final grade {m.final.replace('_', ' ')}, derived {judgment(r)} — {m.rationale}  "
                   f"[{m.document} line {m.line}]" + (f' "{m.quote}"' if m.quote else ""))
    if t.secondary and r.grade is not None:
        out.append(f"  Rests on a secondary source: {', '.join(t.secondary)}")
    if t.findings is not None:
        if t.findings_in_part:
            out.append("  Findings the report states (some of them: the rest are not at hand):")
        else:
            out.append("  Findings the report states:" if t.findings else "  Findings the report states: none")
        for f in t.findings:
            out += finding_lines(f, "    ")
    if r.ladder and t.rungs:
        out.append(f"  Ladder {r.ladder}, first rung that holds wins:")
        for rung in t.rungs:
            mark = "fires" if rung.value is True else ("undecided" if rung.value not in (True, False) else "no")
            cond = "otherwise" if rung.otherwise else f"when {rung.condition.text}"  # type: ignore[union-attr]
            out.append(f"    [{mark}] {rung.grade} {cond}")
            if rung.condition is not None:
                for c in _shown(rung.condition):
                    _expr_lines(c, 2, out)
    if r.status is Status.UNDETERMINED:
        out.append("  Undetermined: the evidence does not decide the rung above.")
        out.append("  Missing evidence that would decide it: " + (", ".join(r.missing) if r.missing else
                   "none: a value could not be computed (such as a division by zero); see the unknown values below"))
        if guide is not None:
            out += guidance_lines(guide, None)
    if stable is not None and r.grade is not None:
        out += stability_lines(stable)
    out.append("  Counters: " + ", ".join(f"{k} {value_text(v)}" for k, v in r.counters.items()))
    for kind, heading in KIND_HEADINGS:
        rules = [x for x in t.rules if x.kind == kind]
        if rules:
            out.append(f"  {heading}:")
            for x in rules:
                _rule_lines(x, out)
    return "\n".join(out) + "\n"


def explain(traces: tuple[AreaTrace, ...], guides: "dict[str, dict[str, Change | None]] | None" = None,
            stable: "dict[str, tuple[tuple[str, Value, Value, str], ...]] | None" = None) -> str:
    guides, stable = guides or {}, stable or {}
    return "\n".join(explain_area(t, guides.get(t.result.name), stable.get(t.result.name)) for t in traces)


def _state(kind: str, v: tuple) -> str:
    outcome, exceeded = v
    word = outcome_word(kind, outcome)
    return f"{word} (exceeded)" if exceeded is True else word


def why_not(w: "WhyNot") -> str:
    r = w.area
    now = judgment(r)
    target = w.target.replace("_", " ")
    if w.already:
        return f"{r.title} ({r.name}) is already {target}.\n"
    if r.status in (Status.UNGRADED, Status.NOT_INSPECTED) and not w.answers:
        why = ("the framework does not grade it" if r.status is Status.UNGRADED
               else "the evidence marks it not inspected")
        return f"{r.title} ({r.name}) is {r.status.label}: {why}, so no change of rule outcomes gives a grade.\n"
    rules = {o.key.split(".", 1)[1]: o for o in r.outcomes}
    if w.target in rules:
        o = rules[w.target]
        out = [f"Why is {w.target} ({r.name}) {outcome_word(o.kind, o.outcome)}?"]
    else:
        out = [f"Why is {r.title} ({r.name}) {now}, not {target}?"]
    if not w.answers:
        out.append(f"  No change of up to {w.searched} rule outcomes in this area gives {target}"
                   + (" (the search stopped there: larger sets of changes were not all tried)." if w.exhausted
                      else "."))
        return "\n".join(out) + "\n"
    n = len(w.answers[0])
    if w.target in rules:
        out.append("  For it to come out the other way:")
    else:
        out.append(f"  The smallest changes that give {target} change {n} rule outcome{'s' if n != 1 else ''}:")
    for i, answer in enumerate(w.answers, start=1):
        out.append(f"  {i}. " + "; ".join(f"{f.rule.split('.', 1)[1]}: {_state(f.kind, f.before)} -> "
                                          f"{_state(f.kind, f.after)}" for f in answer))
        for f in answer:
            for need in f.needs:
                now = ", ".join(f"{name} is {'missing' if v is UNKNOWN else value_text(v, t)}"
                                for name, v, t in need.facts)
                consts = "".join(f", {c} = {w}" for c, w in need.constants)
                out.append(f"       {f.rule.split('.', 1)[1]} needs {need.condition}"
                           + (f" (now {now}{consts})" if now else ""))
    return "\n".join(out) + "\n"


def rule_set_diff(d: "RuleSetDiff") -> str:
    out = []
    for c in d.changes:
        arrow = "up" if c.direction > 0 else "down" if c.direction < 0 else ("same" if c.old == c.new else "changed")
        out.append(f"{c.evidence}  {c.area}: {c.old.replace('_', ' ')} -> {c.new.replace('_', ' ')} ({arrow})")
        for rule, a, b in c.rules:
            out.append(f"    {rule}: {value_text(a) if a is not None else 'absent'} -> "
                       f"{value_text(b) if b is not None else 'absent'}")
    out.append(f"{len(d.moved)} of {d.areas_compared} area judgments moved in {d.bundles} bundle(s): "
               f"{d.up} up, {d.down} down, {len(d.moved) - d.up - d.down} to or from a status")
    if d.overrides:
        out.append(f"{d.overrides} final grade(s) set by moderation: {d.overrides_agreeing_old} already derived by "
                   f"the old rules, {d.overrides_agreeing_new} by the new")
    return "\n".join(out) + "\n"


def reachability(reach: "tuple[AreaReach, ...]") -> str:
    """For each graded area, each grade and the smallest evidence found that gives it."""
    out = ["Reachability: for each graded area, the smallest evidence found that gives each grade"]
    for r in reach:
        out.append(f"  {r.title} ({r.area}): " + ("all five grades reachable" if not r.unreachable else
                   "unreachable: " + ", ".join(g.replace("_", " ") for g in r.unreachable)))
        for g, w in r.witnesses.items():
            shown = "never reached" if w is None else f"{w.size} item{'s' if w.size != 1 else ''}: {w.describe()}"
            out.append(f"    {g.replace('_', ' ')}: {shown}")
    return "\n".join(out) + "\n"
