"""The Markdown view: a document for pasting into reports, read off the same traces as the JSON contract.

Per bundle: a heading (force, framework, evidence file), a table of areas and judgments, then per area the
rung that fired, the rules met / not met / raised / found, and every fact used with its value, source line
and quote. All text that comes from rule or evidence files goes through `text()` (or `code()`), so evidence
cannot inject Markdown, HTML or table columns.
"""
from __future__ import annotations

import re
from typing import Sequence

from .. import __version__
from ..grades import Status
from ..program import Program
from ..judgments import finding_label
from ..trace import AreaTrace, ExprTrace, FactLeaf, RuleTrace
from ..values import Value
from .traced import estimate_note, estimates_used, peer_text, peers_used
from .table import grade_label, grade_table
from .traced import Run, aggregates_used, decisive_rung, facts_used, rule_groups
from .text import judgment, sql_where, tables_note
from .values import value_text

# ASCII punctuation with an inline meaning in CommonMark or GFM: emphasis, code, links and images (with `[`
# escaped, `(`, `)` and `!` mean nothing), tables, strikethrough, math, closing heading marks. CommonMark lets
# a backslash escape any ASCII punctuation.
_INLINE = re.compile(r"([\\`*_\[\]#|~$])")
_BLOCK_START = re.compile(r"^(\d+)([.)])|^([-+=>])")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def text(s: str, starts_block: bool = False) -> str:
    """Literal text in Markdown: one line, inline specials escaped, no raw HTML.

    `<`, `>` and `&` become entities (portable across renderers, and `<script>` stays text); pipes become
    `\\|`, so a cell never splits a table. Text that begins a list item's content (`starts_block`) also
    has a leading list, quote or heading marker escaped, so `1. x` stays text."""
    s = _NEWLINES.sub(" ", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _INLINE.sub(r"\\\1", s)
    if starts_block:
        s = _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", s.lstrip())
    return s


def code(s: str, in_table: bool = False) -> str:
    """A code span that shows s exactly: the fence is longer than any run of backticks inside it."""
    s = _NEWLINES.sub(" ", s)
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    body = s.replace("|", "\\|") if in_table else s
    return f"{fence}{pad}{body}{pad}{fence}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(heads: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(heads), _row(["---"] * len(heads)), *(_row(r) for r in rows)]


def _fact_row(f: FactLeaf, v: Value) -> list[str]:
    if not f.present:
        return [code(f.name, True), "unknown", f"not in the evidence ({text(f.description)})", "—"]
    value = text(value_text(v, f.type))
    if f.status and f.status != "open":
        value += f" ({text(f.status.replace('_', ' '))})"
    doc = text(f.document or "?")
    where = f"{doc}, line {f.line}" if f.line is not None else doc
    return [code(f.name, True), value, where, text(f.quote) if f.quote else "—"]


def _rule_item(r: RuleTrace) -> list[str]:
    name = r.key.split(".", 1)[1]
    extra = "; exceeded" if r.exceeded is True else ""
    out = [f"- {text(r.title, starts_block=True)} ({code(name)}{extra})"]
    for word, cond in (("When", r.when), ("Exceeded when", r.exceeded_when)):
        if cond is not None:
            out.append(f"  - {word} {code(cond.text)} ({code(str(cond.span))})")
    if r.recommendation and r.outcome is True:
        out.append(f"  - Recommendation: {text(r.recommendation)}")
    if r.cite:
        out.append(f"  - Cite: {text(r.cite)}")
    return out


def _parts(e: ExprTrace) -> str:
    return "; ".join(f"{code(c.text)} is {text(value_text(c.value))}" for c in (e.children or (e,)))


def _findings(t: AreaTrace) -> list[str]:
    """The area's findings in the report's words, with recommendations verbatim."""
    if t.findings is None:
        return []
    part = " (some of them: the rest are not at hand)" if t.findings_in_part else ""
    out = [f"### Findings the report states{part}", ""]
    for f in t.findings:
        line = f"- **{text(finding_label(f))}**{' (severe)' if f.severe else ''}"
        if f.text:
            line += f": {text(f.text)}"
        line += f" ({text(f.document)} line {f.line})"
        if f.quote:
            line += f' "{text(f.quote)}"'
        out.append(line)
        out += [f"  - Recommendation: {text(rec)}" for rec in f.recommendations]
    if not t.findings:
        out.append("None.")
    return out + [""]


def area(t: AreaTrace) -> str:
    r = t.result
    shown = grade_label(t.moderation.final) + " (moderated)" if t.moderation is not None else judgment(r)
    out = [f"## {text(r.title)}: {text(shown)}", ""]
    if t.question:
        out += [f"*{text(t.question)}*", ""]
    if t.moderation is not None:
        m = t.moderation
        out += [f"**Moderated:** final grade {text(grade_label(m.final))}, derived {text(judgment(r))}: "
                f"{text(m.rationale)} ({text(m.document)} line {m.line}"
                + (f': "{text(m.quote)}")' if m.quote else ")"), ""]
    if r.status.marked:
        out += [f"{text(r.status.label.capitalize())}{': ' + text(r.note) if r.note else '.'}", ""]
        return "\n".join(out)
    if t.secondary and r.grade is not None:
        out += [f"**Rests on a secondary source:** {', '.join(code(x) for x in t.secondary)}", ""]
    out += _findings(t)
    if r.status is Status.UNGRADED:
        out += ["Ungraded: this area has no ladder; its rules are reported for information.", ""]
    rung = decisive_rung(t)
    if rung is not None and r.rung is not None:
        where = f"ladder {code(r.ladder or '?')}, rung {r.rung + 1}, {code(str(rung.where))}"
        cond = "otherwise" if rung.otherwise or rung.condition is None else f"when {code(rung.condition.text)}"
        label = "Rung that could not be decided" if r.status is Status.UNDETERMINED else "Rung that fired"
        out.append(f"- **{label}:** {text(grade_label(rung.grade))} {cond} ({where})")
        if rung.condition is not None:
            out.append(f"  - {_parts(rung.condition)}")
    if r.status is Status.UNDETERMINED:
        missing = ", ".join(code(m) for m in r.missing) or "none listed"
        out.append(f"- **Missing evidence that would decide it:** {missing}")
    if r.note:
        out.append(f"- **Note:** {text(r.note)}")
    if r.counters:
        out.append("- **Counters:** " + ", ".join(f"{text(k)} {text(value_text(v))}" for k, v in r.counters.items()))
    out.append("")
    for g in rule_groups(t):
        noun = g.heading if g.kind != "characteristic" else "Characteristics"
        count = f"{len(g.rules)} of {g.of}" if g.kind == "characteristic" else str(len(g.rules))
        out.append(f"### {text(noun)} {text(g.reading)} ({count})")
        out.append("")
        if g.rules:
            for x in g.rules:
                out += _rule_item(x)
        else:
            out.append("None.")
        out.append("")
    facts = facts_used(t)
    if facts:
        out += ["### Evidence used", ""]
        out += _table(["Fact", "Value", "Source", "Quote"], [_fact_row(f, v) for f, v in facts])
        out.append("")
    aggs = aggregates_used(t)
    if aggs:
        out += ["### Tables used", "", f"{text(tables_note(aggs))}.", ""]
        out += _table(["Aggregate", "Value", "Rows matched / read", "SQL"], [_aggregate_row(e) for e in aggs])
        out.append("")
    ests = estimates_used(t)
    if ests:
        out += ["### Estimates used", ""]
        out += _table(["Expression", "Value", "Estimate"], [[code(e.text, True), text(value_text(e.value)),
                                                            text(estimate_note(e, labelled=False))]
                                                           for e in ests])
        out.append("")
    peers = peers_used(t)
    if peers:
        out += ["### Compared with other forces", ""]
        out += _table(["Expression", "Value", "Among all forces"], [[code(e.text, True), text(value_text(e.value)),
                                                                    text(peer_text(e.peer))] for e in peers
                                                                   if e.peer is not None])
        out.append("")
    return "\n".join(out)


def _aggregate_row(e: ExprTrace) -> list[str]:
    a = e.aggregate
    assert a is not None
    if not a.present:
        return [code(e.text, True), "unknown", f"no table {text(a.table)} in the evidence", "—"]
    rows = f"{a.rows_matched} / {a.rows_read}"
    return [code(e.text, True), text(value_text(e.value)), rows, code(a.sql or "", True) + f" ({text(sql_where(a))})"]


def _rung_cell(t: AreaTrace) -> str:
    rung, r = decisive_rung(t), t.result
    if rung is None or r.rung is None:
        return "—"
    cond = "otherwise" if rung.otherwise or rung.condition is None else f"when {code(rung.condition.text, True)}"
    undecided = " (could not be decided)" if r.status is Status.UNDETERMINED else ""
    return f"{r.rung + 1}: {text(grade_label(rung.grade))} {cond}{undecided}"


def batch_table(runs: Sequence[Run]) -> str:
    table = grade_table(runs)
    heads = ["Force", "Evidence", *(text(title) for _, title in table.areas)]
    rows = [[text(r.force), text(r.evidence), *(text(j) for j in r.judgments)] for r in table.rows]
    return "\n".join(["# Grades by force and area", "", *_table(heads, rows), ""])


def bundle(program: Program, run: Run) -> str:
    b, traces = run
    fw = program.framework
    sources = {key: doc.title for key, doc in b.sources.items()}
    out = [f"# {text(b.force)}: {text(fw.title)}", ""]
    version = f", version {text(fw.version)}" if fw.version else ""
    out.append(f"- **Framework:** {text(fw.title)} ({code(fw.name)}{version})")
    out.append(f"- **Evidence file:** {text(b.file)} (sha256 {code(b.sha256)})")
    if b.period:
        out.append(f"- **Period:** {text(b.period[0])} to {text(b.period[1])}")
    for key, title in sources.items():
        out.append(f"- **Source {code(key)}:** {text(title)}")
    out.append(f"- **Engine:** peelrules {text(__version__)}")
    out.append("")
    rows = [[text(t.result.title), text(judgment(t.result)), _rung_cell(t)] for t in traces]
    out += _table(["Area", "Judgment", "Rung that fired"], rows)
    out.append("")
    return "\n".join(out) + "\n" + "\n".join(area(t) for t in traces)


def document(program: Program, runs: Sequence[Run]) -> str:
    """The whole Markdown document: the batch table (several bundles only), then each bundle."""
    parts = [batch_table(runs)] if len(runs) > 1 else []
    parts += [bundle(program, run) for run in runs]
    return "\n".join(parts).rstrip("\n") + "\n"
