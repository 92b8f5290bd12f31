"""The HTML view: one self-contained file, read off the same traces as the JSON contract.

Inline CSS and one tiny inline script (it opens every trace before printing), both pinned by hash in a
Content-Security-Policy that also forbids every network request; no fonts, images or links outside the
file. Each area shows its judgment (a coloured badge that also reads in black and white: the label, a
five-step meter and a border style per grade), the rung that fired, the rules met and unmet, and a
<details> trace down to every fact with its source document, line and quote. Every piece of text from
rule or evidence files goes through `esc()` (html.escape), so a quote holding `<script>` stays text.
The output depends only on its inputs: no timestamps.
"""
from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Sequence

from .. import __version__
from ..grades import Grade, Status
from ..program import Program
from ..source import Span
from ..judgments import finding_label
from ..trace import AreaTrace, ExprTrace, FactLeaf, RuleTrace
from ..values import UNKNOWN, Value
from .traced import estimate_note, estimates_used, peer_text, peers_used
from .table import grade_label, grade_table, judgment_key
from .traced import Run, aggregates_used, decisive_rung, facts_used, rule_groups
from .text import data_of, judgment, sql_where, tables_note
from .values import outcome_word, value_text


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #c8c8c8; --panel: #f6f6f4; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.45 system-ui, -apple-system, "Segoe UI",
  "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 74rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 0; }
h3 { font-size: 1rem; margin: 1rem 0 .35rem; }
h4 { font-size: .95rem; margin: .9rem 0 .3rem; }
code { font: .9em/1.3 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 1rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 1.25rem;
  font-size: .9rem; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.25rem; font-size: .9rem; }
th, td { border: 1px solid var(--rule); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: var(--panel); }
.batch { overflow-x: auto; margin-bottom: 2rem; }
.batch th, .batch td { font-size: .8rem; }
.bundle { border-top: 3px solid var(--ink); padding-top: 1rem; margin-top: 1.5rem; }
.area { border: 1px solid var(--rule); border-radius: 6px; padding: .9rem 1rem; margin: 1rem 0; }
.area > header { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem 1rem; }
.question { color: var(--muted); font-style: italic; margin: .3rem 0 .6rem; }
.judgment { display: inline-flex; align-items: center; gap: .45rem; padding: .1rem .55rem; border: 2px solid;
  border-radius: 4px; font-weight: 700; white-space: nowrap; }
.meter { display: inline-flex; gap: 2px; }
.meter i { display: inline-block; width: .55rem; height: .8rem; border: 1px solid currentColor; }
.meter i.on { border-width: 0 0 0 .55rem; border-style: solid; }
.j-outstanding { color: #0b4d26; background: #d4efdf; border-style: double; border-width: 4px; }
.j-good { color: #1e5a12; background: #e3f3d6; border-style: solid; }
.j-adequate { color: #5c4a00; background: #fbf0bf; border-style: solid; border-width: 1px; }
.j-requires_improvement { color: #7a3300; background: #fde0c5; border-style: dashed; }
.j-inadequate { color: #8a1111; background: #f9d2d2; border-style: solid; border-width: 4px; }
.j-ungraded, .j-not_inspected, .j-undetermined { color: #333; background: #ececec; border-style: dotted;
  font-style: italic; }
.j-undetermined { background: #e4e4f4; }
.rung-line { margin: .2rem 0; }
.parts { margin: .1rem 0 .4rem 1.2rem; padding: 0; font-size: .9rem; color: var(--muted); }
.findings { columns: 21rem 3; column-gap: 2rem; }
.findings > div { break-inside: avoid-column; padding-bottom: .6rem; }
.findings h3 { margin-top: 0; }
.findings ul { margin: 0; padding-left: 1.2rem; }
.findings li { margin: .15rem 0; }
.none { color: var(--muted); margin: 0; }
.tag { font-size: .75rem; border: 1px solid currentColor; border-radius: 3px; padding: 0 .25rem;
  margin-left: .3rem; white-space: nowrap; }
.rec { display: block; font-size: .9rem; }
.cite { display: block; font-size: .8rem; color: var(--muted); }
details.trace { margin-top: .8rem; border-top: 1px dashed var(--rule); padding-top: .5rem; }
details.trace > summary { cursor: pointer; font-weight: 600; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.1rem; border-left: 1px solid var(--rule); }
ul.tree li { margin: .2rem 0; }
.v { font-weight: 600; }
.v-true { color: #1e5a12; } .v-false { color: #8a1111; } .v-unknown { color: #4b3a8a; }
.mark { display: inline-block; min-width: 5.5rem; font-size: .8rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: .02em; }
.fact { background: var(--panel); border-left: 3px solid var(--ink); padding: .25rem .5rem; }
.fact .src { color: var(--muted); font-size: .85rem; }
.at { color: var(--muted); font: .8rem ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; }
.fact cite { font-style: normal; }
ul.facts { border-left: 0; padding-left: 0; }
.fact blockquote { margin: .2rem 0 .1rem; font-style: italic; }
.fact blockquote::before { content: "\\201C"; } .fact blockquote::after { content: "\\201D"; }
.absent { border-left-style: dashed; }
.rule { margin: .5rem 0; }
.rule > p { margin: 0; }
.rule > div, .rule > ul { margin-left: 1.5rem; }
.rung.fired { border: 2px solid var(--ink); border-radius: 4px; padding: .2rem .4rem; }
a { color: inherit; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  *, *::before, *::after { background: transparent !important; box-shadow: none !important; }
  .area { break-before: page; border: 0; padding: 0; }
  .bundle { break-before: page; border-top: 0; }
  .bundle:first-child, .batch + .bundle { break-before: auto; }
  details.trace > summary { list-style: none; }
  details.trace > summary::-webkit-details-marker { display: none; }
  tr, .fact, .rule > div { break-inside: avoid; }
  a { text-decoration: none; }
}
@media print {
  details::details-content { content-visibility: visible; display: contents; }
}
"""

# Open every trace for printing (CSS alone cannot open <details> in every browser); close them again after.
SCRIPT = ("addEventListener('beforeprint',function(){document.querySelectorAll('details:not([open])')"
          ".forEach(function(d){d.open=true;d.setAttribute('data-print','')})});"
          "addEventListener('afterprint',function(){document.querySelectorAll('details[data-print]')"
          ".forEach(function(d){d.open=false;d.removeAttribute('data-print')})});")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# No network at all: only this file's own style and script run, and nothing may be fetched.
CSP = (f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; img-src 'none'; "
       "base-uri 'none'; form-action 'none'")


def badge(key: str, label: str) -> str:
    grade = Grade.from_key(key)
    if grade is not None:
        steps = "".join('<i class="on"></i>' if i <= grade else "<i></i>" for i in Grade)
        meter = (f'<span class="meter" role="img" aria-label="{grade + 1} of {len(Grade)}">{steps}</span>')
    else:
        meter = ""
    return f'<span class="judgment j-{esc(key)}">{meter}<span>{esc(label)}</span></span>'


def _value_class(v: Value) -> str:
    if v is UNKNOWN:
        return "v v-unknown"
    if v is True or v is False:
        return f"v v-{str(v).lower()}"
    return "v"


def _at(span: Span) -> str:
    """Where an expression (or a rung) is written in the rule files: file:line:col."""
    return f'<span class="at">{esc(str(span))}</span>'


def _val(v: Value, type_name: str | None = None) -> str:
    return f'<span class="{_value_class(v)}">{esc(value_text(v, type_name))}</span>'


def _presentation(style: str) -> str:
    """An SVG `style` attribute as presentation attributes (fill="#b3261e" ...), which a CSP without
    'unsafe-inline' allows: the `font` shorthand as font-size and font-family."""
    out = []
    for decl in style.split(";"):
        name, _, value = (x.strip() for x in decl.partition(":"))
        if not name or not value:
            continue
        if name == "font":
            size, _, family = value.partition(" ")
            out += [f'font-size="{size}"', f'font-family="{family.strip(chr(39))}"']
        elif re.fullmatch(r"[a-z-]+", name):
            out.append(f'{name}="{html.escape(value.replace(chr(39), ""))}"')
    return (" " + " ".join(out)) if out else ""


class _Renderer:
    def __init__(self, sources: dict[str, str], prefix: str):
        self.sources = sources
        self.prefix = prefix

    def chart_id(self, area: str, e: ExprTrace) -> str:
        assert e.peer is not None
        return re.sub(r"[^a-z0-9-]", "-", f"{self.prefix}-{area}-{e.peer.name}".lower())

    def anchor(self, area: str) -> str:
        return f"{self.prefix}-{area}"

    def fact(self, f: FactLeaf, v: Value) -> str:
        name = f"<code>{esc(f.name)}</code>"
        if not f.present:
            return (f'<li class="fact absent">{name} = {_val(v)} <span class="src">not in the evidence: '
                    f"{esc(f.description)}</span></li>")
        doc = f.document or "?"
        title = self.sources.get(doc)
        where = f'<cite title="{esc(title)}">{esc(doc)}</cite>' if title else f"<cite>{esc(doc)}</cite>"
        if f.line is not None:
            where += f", line {esc(f.line)}"
        status = (f' <span class="tag">{esc(f.status.replace("_", " "))}</span>'
                  if f.status and f.status != "open" else "")
        quote = f"<blockquote>{esc(f.quote)}</blockquote>" if f.quote else ""
        return (f'<li class="fact">{name} = {_val(v, f.type)}{status} <span class="src">{where}</span>'
                f"{quote}</li>")

    def aggregate(self, t: ExprTrace) -> str:
        a = t.aggregate
        assert a is not None
        if not a.present:
            return (f'<li class="fact absent"><code>{esc(t.text)}</code> = {_val(t.value)} <span class="src">'
                    f"no table <code>{esc(a.table)}</code> in the evidence</span></li>")
        src = f" ({esc(a.source)})" if a.source else ""
        return (f'<li class="fact"><code>{esc(t.text)}</code> = {_val(t.value)} <span class="src">table '
                f"<code>{esc(a.table)}</code>: {esc(a.rows_matched)} of {esc(a.rows_read)} rows matched; "
                f"{esc(data_of(a))}{src}; {esc(sql_where(a))}</span><pre><code>{esc(a.sql)}</code></pre></li>")

    def estimate(self, t: ExprTrace) -> str:
        return (f'<li class="fact estimate"><code>{esc(t.text)}</code> = {_val(t.value)} <span class="src">'
                f"{esc(estimate_note(t))}</span></li>")

    def peer(self, t: ExprTrace, chart: str | None = None) -> str:
        """A peer comparison: the sentence; with `chart` (a unique id), the inspectorate's bar chart and its numbers.
        The chart's ids (bar-N, mean, sd-lower, sd-upper) are prefixed with `chart`; matplotlib's clip paths are
        dropped, so the page refers to nothing by url()."""
        p = t.peer
        assert p is not None
        tag = ' <span class="tag">ILLUSTRATIVE data, not real</span>' if p.illustrative else ""
        head = (f'<li class="fact peer"><code>{esc(t.text)}</code> = {_val(t.value)}{tag} <span class="src">'
                f"{esc(peer_text(p))}</span>")
        if chart is None or p.comparison is None:
            return head + "</li>"
        from .chart import band_words, chart_svg, peer_rows

        c = p.comparison
        values = dict(p.values)
        svg = chart_svg(values, c, p.title or p.measure, p.unit or "", p.illustrative, p.sha256)
        svg = svg[svg.index("<svg"):]  # inline: without the XML declaration and doctype
        svg = re.sub(r'\s*clip-path="url\(#[^)"]*\)"', "", svg)
        svg = re.sub(r"<clipPath\b.*?</clipPath>", "", svg, flags=re.S)
        svg = re.sub(r"<style\b.*?</style>", "", svg, flags=re.S)  # matplotlib's line joins: the defaults do
        svg = svg.replace(' id="', f' id="{chart}-')
        svg = re.sub(r'\sstyle="([^"]*)"', lambda m: _presentation(m.group(1)), svg)  # the page's CSP: no inline style
        numbers = (f"<tr><th>Mean</th><td>{c.mean:.2f}</td></tr><tr><th>Standard deviation ({esc(c.scale)} scale)"
                   f"</th><td>{c.sd:.4g}</td></tr><tr><th>Mean &minus; 1 sd</th><td>{c.lower:.2f}</td></tr>"
                   f"<tr><th>Mean + 1 sd</th><td>{c.upper:.2f}</td></tr><tr><th>Logs used</th><td>"
                   f"{'yes' if c.scale == 'log' else 'no'}: {esc(c.reason)}</td></tr><tr><th>{esc(c.force)}</th>"
                   f"<td>{c.value:.2f}</td></tr><tr><th>z</th><td>{c.z:+.2f}</td></tr><tr><th>Band</th><td>"
                   f"{esc(band_words(c))}</td></tr><tr><th>Rank</th><td>{c.rank} of {c.forces}</td></tr>")
        mark = ' class="this-force"'
        rows = "".join(f'<tr{mark if note else ""}><td>{esc(force)}</td><td>{esc(v)}</td>'
                       f"<td>{esc(note)}</td></tr>" for force, v, note in peer_rows(values, c))
        return (f'{head}<figure class="peer-chart" id="{chart}">{svg}<figcaption>{esc(p.title)}'
                f"{' (ILLUSTRATIVE DATA, not real)' if p.illustrative else ''}</figcaption></figure>"
                f'<table class="peer-numbers">{numbers}</table><details><summary>Every force&#39;s value</summary>'
                f'<table class="peer-values"><tr><th>Force</th><th>Value</th><th></th></tr>{rows}</table>'
                f"</details></li>")

    def expr(self, t: ExprTrace) -> str:
        if t.fact is not None:
            return self.fact(t.fact, t.value)
        if t.aggregate is not None:
            return self.aggregate(t)
        if t.peer is not None:
            return self.peer(t)
        if t.estimate is not None or t.comparison is not None:
            items = "".join(self.expr(c) for c in t.children)
            return self.estimate(t)[:-5] + (f"<ul>{items}</ul>" if items else "") + "</li>"
        if t.rule is not None:
            return f"<li><code>{esc(t.text)}</code> = {_val(t.value)} (rule <code>{esc(t.rule)}</code>)</li>"
        if not t.children:
            if t.constant is None and t.counter is None:
                return ""  # a literal: its text is its value
            shown = (t.written if t.constant is not None and t.written and t.written != value_text(t.value)
                     else value_text(t.value))
            return f'<li><code>{esc(t.text)}</code> = <span class="{_value_class(t.value)}">{esc(shown)}</span></li>'
        items = "".join(self.expr(c) for c in t.children)
        return f"<li><code>{esc(t.text)}</code> &rArr; {_val(t.value)}{'<ul>' + items + '</ul>' if items else ''}</li>"

    def tree(self, t: ExprTrace) -> str:
        items = "".join(self.expr(c) for c in (t.children or (t,)))
        return f'<ul class="tree">{items}</ul>' if items else ""

    def rule(self, r: RuleTrace) -> str:
        name = r.key.split(".", 1)[1]
        word = outcome_word(r.kind, r.outcome)
        exceeded = " (exceeded)" if r.exceeded is True else ""
        out = [f'<div class="rule"><p><span class="mark">{esc(word + exceeded)}</span> <code>{esc(name)}</code>: '
               f"{esc(r.title)}</p>"]
        if r.when is not None:
            out.append(f"<div>when <code>{esc(r.when.text)}</code> &rArr; {_val(r.when.value)} {_at(r.when.span)}"
                       f"{self.tree(r.when)}</div>")
        if r.exceeded_when is not None:
            out.append(f"<div>exceeded when <code>{esc(r.exceeded_when.text)}</code> &rArr; "
                       f"{_val(r.exceeded_when.value)} {_at(r.exceeded_when.span)}{self.tree(r.exceeded_when)}</div>")
        out.append("</div>")
        return "".join(out)

    def finding(self, r: RuleTrace) -> str:
        name = r.key.split(".", 1)[1]
        tags = '<span class="tag">exceeded</span>' if r.exceeded is True else ""
        if r.severe and r.outcome is True:
            tags += '<span class="tag">severe</span>'
        rec = (f'<span class="rec">Recommendation: {esc(r.recommendation)}</span>'
               if r.recommendation and r.outcome is True else "")
        cite = f'<span class="cite">{esc(r.cite)}</span>' if r.cite else ""
        return f"<li>{esc(r.title)} <code>{esc(name)}</code>{tags}{rec}{cite}</li>"

    def trace(self, t: AreaTrace) -> str:
        r = t.result
        facts = facts_used(t)
        out = [f'<details class="trace"><summary>Trace: ladder, rules and evidence ({len(facts)} '
               f"fact{'s' if len(facts) != 1 else ''})</summary>"]
        if facts:
            out.append(f'<h4>Evidence used</h4><ul class="tree facts">'
                       f'{"".join(self.fact(f, v) for f, v in facts)}</ul>')
        aggs = aggregates_used(t)
        if aggs:
            out.append(f'<h4>Tables used ({esc(tables_note(aggs))})</h4><ul class="tree facts">'
                       f'{"".join(self.aggregate(e) for e in aggs)}</ul>')
        ests = estimates_used(t)
        if ests:
            out.append(f'<h4>Estimates used</h4><ul class="tree facts">{"".join(self.estimate(e) for e in ests)}</ul>')
        peers = peers_used(t)
        if peers:
            out.append(f'<h4>Compared with other forces</h4><ul class="tree facts">'
                       f'{"".join(self.peer(e, chart=self.chart_id(r.name, e)) for e in peers)}</ul>')
        if r.ladder and t.rungs:
            out.append(f"<h4>Ladder <code>{esc(r.ladder)}</code>: the first rung that holds wins</h4>")
            decisive = decisive_rung(t)
            for rung in t.rungs:
                mark = "fires" if rung.value is True else ("no" if rung.value is False else "undecided")
                cond = ("otherwise" if rung.otherwise or rung.condition is None
                        else f"when <code>{esc(rung.condition.text)}</code>")
                at = _at(rung.where)
                fired = " fired" if rung is decisive else ""
                out.append(f'<div class="rule rung{fired}"><p><span class="mark">{mark}</span> '
                           f"{esc(grade_label(rung.grade))} {cond} {at}</p>"
                           f"{self.tree(rung.condition) if rung.condition is not None else ''}</div>")
        if t.rules:
            out.append("<h4>Rules</h4>")
            out.extend(self.rule(x) for x in t.rules)
        out.append("</details>")
        return "".join(out)

    def findings(self, t: AreaTrace) -> str:
        """The area's findings in the report's words, with recommendations verbatim."""
        if t.findings is None:
            return ""
        items = []
        for f in t.findings:
            head = f"<strong>{esc(finding_label(f))}</strong>{' (severe)' if f.severe else ''}"
            if f.text:
                head += f": {esc(f.text)}"
            quote = f"<blockquote>{esc(f.quote)}</blockquote>" if f.quote else ""
            recs = "".join(f"<li>Recommendation: {esc(rec)}</li>" for rec in f.recommendations)
            items.append(f'<li class="fact finding finding-{esc(f.kind)}">{head} '
                         f'<span class="src">{esc(f.document)} line {f.line}</span>{quote}'
                         + (f'<ul class="recommendations">{recs}</ul>' if recs else "") + "</li>")
        body = "".join(items) or "<li>None.</li>"
        part = " (some of them: the rest are not at hand)" if t.findings_in_part else ""
        return f'<h3>Findings the report states{part}</h3><ul class="facts findings">{body}</ul>'

    def area(self, t: AreaTrace) -> str:
        r = t.result
        out = [f'<section class="area" id="{esc(self.anchor(r.name))}"><header><h2>{esc(r.title)}</h2>'
               + (badge(t.moderation.final, grade_label(t.moderation.final) + " (moderated)")
                  if t.moderation is not None else badge(judgment_key(r), judgment(r))) + "</header>"]
        if t.question:
            out.append(f'<p class="question">{esc(t.question)}</p>')
        if t.moderation is not None:
            m = t.moderation
            out.append(f'<p class="moderated"><strong>Moderated:</strong> final grade {esc(grade_label(m.final))}, '
                       f"derived {esc(judgment(r))}: {esc(m.rationale)} "
                       f'<span class="src">{esc(m.document)} line {m.line}</span></p>')
        if r.status.marked:
            out.append(f"<p>{esc(r.status.label.capitalize())}{': ' + esc(r.note) if r.note else '.'}</p></section>")
            return "".join(out)
        if t.secondary and r.grade is not None:
            out.append('<p class="secondary"><strong>Rests on a secondary source:</strong> '
                       + ", ".join(f"<code>{esc(x)}</code>" for x in t.secondary) + "</p>")
        out.append(self.findings(t))
        if r.status is Status.UNGRADED:
            out.append("<p>Ungraded: this area has no ladder; its rules are reported for information.</p>")
        rung = decisive_rung(t)
        if rung is not None and r.rung is not None:
            label = "Rung that could not be decided" if r.status is Status.UNDETERMINED else "Rung that fired"
            cond = ("otherwise" if rung.otherwise or rung.condition is None
                    else f"when <code>{esc(rung.condition.text)}</code>")
            out.append(f'<p class="rung-line"><strong>{label}:</strong> {esc(grade_label(rung.grade))} {cond} '
                       f"(ladder <code>{esc(r.ladder or '?')}</code>, rung {r.rung + 1}, {_at(rung.where)})</p>")
            if rung.condition is not None:
                parts = "; ".join(f"<code>{esc(c.text)}</code> is {_val(c.value)}"
                                  for c in (rung.condition.children or (rung.condition,)))
                out.append(f'<p class="parts">{parts}</p>')
        if r.status is Status.UNDETERMINED:
            missing = ", ".join(f"<code>{esc(m)}</code>" for m in r.missing) or "none listed"
            out.append(f"<p><strong>Missing evidence that would decide it:</strong> {missing}</p>")
        if r.note:
            out.append(f"<p><strong>Note:</strong> {esc(r.note)}</p>")
        out.append('<div class="findings">')
        for g in rule_groups(t):
            noun = "Characteristics" if g.kind == "characteristic" else g.heading
            count = f"{len(g.rules)} of {g.of}" if g.kind == "characteristic" else str(len(g.rules))
            items = ("<ul>" + "".join(self.finding(x) for x in g.rules) + "</ul>" if g.rules
                     else '<p class="none">None.</p>')
            out.append(f"<div><h3>{esc(noun)} {esc(g.reading)} ({count})</h3>{items}</div>")
        out.append("</div>")
        out.append(self.trace(t))
        out.append("</section>")
        return "".join(out)


def _bundle(program: Program, run: Run, index: int) -> str:
    b, traces = run
    fw = program.framework
    sources = {key: doc.title for key, doc in b.sources.items()}
    view = _Renderer(sources, f"b{index}")
    meta = [("Framework", f"{esc(fw.title)} (<code>{esc(fw.name)}</code>"
                          f"{', version ' + esc(fw.version) if fw.version else ''})"),
            ("Evidence file", f"<code>{esc(b.file)}</code>"),
            ("Evidence sha256", f"<code>{esc(b.sha256)}</code>")]
    if b.period:
        meta.append(("Period", f"{esc(b.period[0])} to {esc(b.period[1])}"))
    meta += [(f"Source {key}", esc(title)) for key, title in sources.items()]
    meta.append(("Engine", f"peelrules {esc(__version__)}"))
    rows = []
    for t in traces:
        r = t.result
        rung = decisive_rung(t)
        if rung is None or r.rung is None:
            fired = "&mdash;"
        else:
            cond = ("otherwise" if rung.otherwise or rung.condition is None
                    else f"when <code>{esc(rung.condition.text)}</code>")
            undecided = " (could not be decided)" if r.status is Status.UNDETERMINED else ""
            fired = f"{r.rung + 1}: {esc(grade_label(rung.grade))} {cond}{undecided}"
        rows.append(f'<tr><td><a href="#{esc(view.anchor(r.name))}">{esc(r.title)}</a></td>'
                    f"<td>{badge(judgment_key(r), judgment(r))}</td><td>{fired}</td></tr>")
    return "".join([
        f'<article class="bundle" id="b{index}"><h1>{esc(b.force)}</h1><p class="sub">{esc(fw.title)}</p>',
        '<dl class="meta">', "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in meta), "</dl>",
        "<table><thead><tr><th>Area</th><th>Judgment</th><th>Rung that fired</th></tr></thead><tbody>",
        "".join(rows), "</tbody></table>",
        "".join(view.area(t) for t in traces), "</article>",
    ])


def _batch(runs: Sequence[Run]) -> str:
    table = grade_table(runs)
    head = "".join(f"<th>{esc(title)}</th>" for _, title in table.areas)
    body = []
    for i, row in enumerate(table.rows, start=1):
        cells = "".join(
            f'<td><a href="#b{i}-{esc(name)}">{badge(key, label)}</a></td>' if key else "<td></td>"
            for (name, _), key, label in zip(table.areas, row.keys, row.judgments))
        body.append(f'<tr><th><a href="#b{i}">{esc(row.force)}</a></th><td><code>{esc(row.evidence)}</code></td>'
                    f"{cells}</tr>")
    return (f'<section class="batch"><h1>Grades by force and area</h1><p class="sub">{len(runs)} evidence '
            f"bundles</p><table><thead><tr><th>Force</th><th>Evidence</th>{head}</tr></thead><tbody>"
            f'{"".join(body)}</tbody></table></section>')


def document(program: Program, runs: Sequence[Run]) -> str:
    """The whole HTML file: the batch table (several bundles only), then each bundle."""
    if len(runs) == 1:
        title = f"{runs[0][0].force}: {program.framework.title}"
    else:
        title = f"{program.framework.title}: {len(runs)} evidence bundles"
    parts = [_batch(runs)] if len(runs) > 1 else []
    parts += [_bundle(program, run, i) for i, run in enumerate(runs, start=1)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="peelrules {esc(__version__)}">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style>",
        f"<script>{SCRIPT}</script>",
        "</head>",
        "<body>",
        "<main>",
        *parts,
        "</main>",
        "</body>",
        "</html>",
    ]) + "\n"
