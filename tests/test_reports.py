"""The Markdown, HTML and CSV views and the batch grade table: escaping of hostile evidence, no network in the
HTML, neutralised spreadsheet formulas, every bundle x area listed, byte-identical reruns, and golden files.

Golden files: tests/golden/report-*; regenerate with `pytest --update-golden` only after reading the diff."""
from __future__ import annotations

import csv
import io
import os
import pty
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import peelrules
from peelrules.program import Program
from peelrules.report import html as html_report
from peelrules.report import markdown as md_report
from peelrules.report.table import csv_cell, grade_table, table_csv, table_text

from conftest import LANCASHIRE, PEEL, ROOT, run_peel

DATA = Path(__file__).resolve().parent / "data"
MINI = DATA / "mini.peel"
MINI_EVIDENCE = DATA / "mini-evidence.yaml"
MINI_TEXT = MINI_EVIDENCE.read_text(encoding="utf-8")

SCRIPT = "<script>alert(1)</script>"
HOSTILE_QUOTE = f"{SCRIPT} a | b *bold* [link](http://evil.example) `tick` # 1. &amp;"


def variant(force: str | None = None, quote: str | None = None, replace: tuple[str, str] | None = None) -> str:
    """The mini evidence with another force name, a quote on calls.abandoned, or one line replaced."""
    text = MINI_TEXT
    if force is not None:
        text = text.replace("force: Example Constabulary", f"force: {_yaml_str(force)}")
    if quote is not None:
        text = text.replace('calls.abandoned: {value: 5, source: "report:L4"}',
                            f'calls.abandoned: {{value: 5, source: "report:L4", quote: {_yaml_str(quote)}}}')
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    return text


def _yaml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r") + '"'


@pytest.fixture(scope="module")
def mini() -> Program:
    return peelrules.load_rules(MINI)


def runs_for(program: Program, paths: list[Path]) -> list:
    out = []
    for p in paths:
        bundle = peelrules.load_evidence(p, program)
        out.append((bundle, peelrules.explain(program, bundle)[1]))
    return out


@pytest.fixture
def hostile(tmp_path: Path, mini: Program) -> list:
    path = tmp_path / "hostile.yaml"
    path.write_text(variant(force="Evil | <b>Force</b> \"q\"", quote=HOSTILE_QUOTE), encoding="utf-8")
    return runs_for(mini, [path])


# ---------------------------------------------------------------- Markdown


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_escapes_hostile_evidence(hostile: list, mini: Program) -> None:
    doc = md_report.document(mini, hostile)
    assert SCRIPT not in doc and "<b>" not in doc
    assert "&lt;script&gt;alert\\(1)&lt;/script&gt;" not in doc  # parentheses are left alone
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "&amp;amp;" in doc  # an entity in evidence stays the text it was
    assert "a \\| b \\*bold\\* \\[link\\](http://evil.example) \\`tick\\` \\# 1. " in doc
    # every table row keeps its number of columns although the quote and force hold pipes
    for block in re.findall(r"(?:^\|.*\n)+", doc, flags=re.M):
        rows = block.splitlines()
        assert {unescaped_pipes(r) for r in rows} == {unescaped_pipes(rows[0])}, block
    fact_rows = [line for line in doc.splitlines() if line.startswith("| `calls.abandoned`")]
    assert len(fact_rows) == 1 and unescaped_pipes(fact_rows[0]) == 5
    assert doc.startswith("# Evil \\| &lt;b&gt;Force&lt;/b&gt; \"q\": Mini framework\n")


def test_markdown_text_and_code_helpers() -> None:
    assert md_report.text("1. first", starts_block=True) == "1\\. first"
    assert md_report.text("- item", starts_block=True) == "\\- item"
    assert md_report.text("1. first") == "1. first"
    assert md_report.text("line\nbreak\r\nhere") == "line break here"
    assert md_report.code("a `b` c") == "``a `b` c``"
    assert md_report.code("`x`") == "`` `x` ``"
    assert md_report.code("a | b", in_table=True) == "`a \\| b`"


def test_markdown_lists_the_rung_rules_and_facts(mini: Program) -> None:
    doc = md_report.document(mini, runs_for(mini, [MINI_EVIDENCE]))
    assert "| Contact | good | 5: good otherwise |" in doc
    assert f"- **Rung that fired:** good otherwise (ladder `simple`, rung 5, `{MINI}:28:3`)" in doc
    # each rule's conditions, with where they are written (the span of the rule-level expression)
    assert ("- Few 101 callers abandon (`few_abandoned`)\n"
            f"  - When `calls.abandoned / calls.offered < abandon_limit` (`{MINI}:43:10`)\n"
            "  - Cite: Mini framework 1.2\n") in doc
    assert f"  - Exceeded when `lower(audit.grounds) >= 90%` (`{MINI}:49:19`)" in doc
    assert "### Characteristics met (4 of 4)" in doc and "### Innovative practice found (1)" in doc
    assert "| `calls.answering` | met | report, line 3 | calls are answered promptly |" in doc
    assert "| `calls.answered_in_10s` | unknown | not in the evidence" in doc


# ---------------------------------------------------------------- HTML


def test_html_escapes_hostile_evidence(hostile: list, mini: Program) -> None:
    doc = html_report.document(mini, hostile)
    assert doc.count("<script") == 1  # the report's own script, in <head>
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert "<b>" not in doc and "&lt;b&gt;Force&lt;/b&gt; &quot;q&quot;" in doc
    assert "&amp;amp;" in doc


def test_html_escapes_attributes(tmp_path: Path, mini: Program) -> None:
    path = tmp_path / "attr.yaml"
    path.write_text(variant(replace=('report: {title: "Example report"}',
                                     'report: {title: "x\\" onmouseover=\\"alert(1)"}')), encoding="utf-8")
    doc = html_report.document(mini, runs_for(mini, [path]))
    assert 'title="x&quot; onmouseover=&quot;alert(1)"' in doc
    assert "onmouseover=\"" not in doc


def test_html_is_self_contained(hostile: list, mini: Program, shipped: Program) -> None:
    lancashire = runs_for(shipped, [LANCASHIRE])
    for doc in (html_report.document(mini, hostile), html_report.document(shipped, lancashire)):
        assert not re.search(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", doc, re.I)
        assert not re.search(r"@import|url\(", doc, re.I)
        assert not re.search(r"<(?:link|img|iframe|object|embed|video|audio|source|base)\b", doc, re.I)
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', doc))
        assert "src=" not in doc
        assert "default-src &#x27;none&#x27;" in doc  # the CSP forbids every fetch


def test_html_shows_each_area_rung_rules_and_facts(shipped: Program) -> None:
    doc = html_report.document(shipped, runs_for(shipped, [LANCASHIRE]))
    for area in shipped.areas:
        assert f'<section class="area" id="b1-{area.name}">' in doc
    section = doc.split('id="b1-investigating_crime"')[1].split("</section>")[0]
    assert 'class="judgment j-requires_improvement"' in section
    assert "<strong>Rung that fired:</strong> requires improvement when" in section
    assert "Characteristics met (5 of 10)" in section and "Characteristics not met (5 of 10)" in section
    assert "Areas for improvement raised (7)" in section
    assert '<details class="trace">' in section
    assert ('<code>investigating.crimes_allocated_appropriately</code> = <span class="v">86 of 90 (95.6%)</span> '
            '<span class="src"><cite title="PEEL 2021/22: An inspection of Lancashire Constabulary">report</cite>, '
            'line 109</span><blockquote>crimes were appropriately allocated on most (86 of 90) occasions'
            '</blockquote>') in section
    assert "@media print" in doc and "break-before: page" in doc


def test_html_badges_read_in_black_and_white() -> None:
    """Each grade differs by label, meter and border style, not by colour alone."""
    badges = {key: html_report.badge(key, key) for key in ("inadequate", "requires_improvement", "adequate",
                                                            "good", "outstanding")}
    for n, (key, b) in enumerate(badges.items(), start=1):
        assert b.count('<i class="on">') == n and b.count("<i>") == 5 - n

    def border(key: str) -> tuple[str, str]:
        rule = re.search(rf"\.j-{key} \{{([^}}]*)\}}", html_report.CSS)
        assert rule is not None
        style = re.search(r"border-style: (\w+)", rule[1])
        width = re.search(r"border-width: ([\w.]+)", rule[1])
        return (style[1] if style else "solid", width[1] if width else "2px")  # .judgment's own border

    assert len({border(key) for key in badges}) == len(badges)
    assert "<i" not in html_report.badge("not_inspected", "not inspected")


# ---------------------------------------------------------------- the batch table and CSV


@pytest.mark.parametrize("cell", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_csv_neutralises_formula_cells(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell
    assert csv_cell("Lancashire Constabulary") == "Lancashire Constabulary"
    assert csv_cell("a=b") == "a=b"


def test_csv_of_hostile_forces(tmp_path: Path, mini: Program) -> None:
    # (a carriage return in a force name is refused when the evidence is read: tests/hostile)
    forces = ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-1", "@SUM(1)", "\tTab", "Plain, \"quoted\""]
    paths = []
    for i, force in enumerate(forces):
        paths.append(tmp_path / f"f{i}.yaml")
        paths[-1].write_text(variant(force=force), encoding="utf-8")
    text = table_csv(grade_table(runs_for(mini, paths)))
    assert text.endswith("ungraded\r\n")  # RFC 4180 line ends
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["force", "evidence", "Contact", "Victims"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in forces[:-1]] + [forces[-1]]
    assert all(r[2:] == ["good", "ungraded"] for r in rows[1:])


@pytest.fixture
def batch(tmp_path: Path) -> list[str]:
    """Three bundles in tmp_path with different judgments, named relative to it."""
    files = {
        "alpha.yaml": variant(force="Alpha Police"),
        "beta.yaml": variant(force="Beta | <Police>",
                             replace=('audit.triage_tool: {value: true, source: "report:L7"}',
                                      'audit.triage_tool: {value: false, source: "report:L7"}')),
        "gamma.yaml": variant(force="=Gamma", replace=(
            '  calls.answering: {assessment: met, source: "report:L3", quote: "calls are answered promptly"}\n',
            "")),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return list(files)


def test_batch_table_lists_every_bundle_and_area(tmp_path: Path, batch: list[str], mini: Program) -> None:
    runs = runs_for(mini, [tmp_path / b for b in batch])
    table = grade_table(runs)
    assert [name for name, _ in table.areas] == [a.name for a in mini.areas]
    assert [r.force for r in table.rows] == ["Alpha Police", "Beta | <Police>", "=Gamma"]
    for row, (_, traces) in zip(table.rows, runs):
        assert len(row.judgments) == len(mini.areas) and all(row.judgments)
        assert [t.result.name for t in traces] == [name for name, _ in table.areas]
    assert [r.judgments[0] for r in table.rows] == ["good", "inadequate", "undetermined"]
    lines = table_text(table).splitlines()
    for row in table.rows:
        line = next(line for line in lines if line.startswith(row.force))
        assert re.search(r"\s{2,}".join(map(re.escape, [row.force, row.evidence, *row.judgments])) + "$", line)
    md = md_report.document(mini, runs)
    html = html_report.document(mini, runs)
    assert md.startswith("# Grades by force and area\n")
    assert html.index('<section class="batch">') < html.index('<article class="bundle" id="b1">')
    for i in range(1, len(runs) + 1):
        for name, _ in table.areas:
            assert f'href="#b{i}-{name}"' in html and f'id="b{i}-{name}"' in html


def test_batch_cli_every_format(tmp_path: Path, batch: list[str], golden) -> None:
    outputs = {}
    shutil.copyfile(MINI, tmp_path / "mini.peel")  # named relative to tmp_path: md and html show rule spans
    for fmt in ("text", "csv", "md", "html"):
        proc = run_peel("evaluate", *batch, "--rules", "mini.peel", "--format", fmt, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith("3 bundles, 3 evaluated, 0 errors\n")  # the batch summary, nothing else
        outputs[fmt] = proc.stdout
    golden("report-batch.txt", outputs["text"])
    golden("report-batch.csv", outputs["csv"])
    golden("report-batch.md", outputs["md"])
    golden("report-batch.html", outputs["html"])
    proc = run_peel("evaluate", *batch, "--rules", str(MINI), "--format", "json", cwd=tmp_path)
    doc = __import__("json").loads(proc.stdout)
    assert [r["force"] for r in doc["results"]] == ["Alpha Police", "Beta | <Police>", "=Gamma"]
    assert "table" not in doc and "grades" not in doc  # JSON adds nothing: its results already hold the batch


def test_no_progress_bar_when_not_a_terminal(tmp_path: Path) -> None:
    proc = run_peel("evaluate", *[str(MINI_EVIDENCE)] * 6, "--rules", str(MINI), "--format", "csv")
    assert proc.returncode == 0 and "Evaluating" not in proc.stderr
    assert proc.stderr.startswith("6 bundles, 6 evaluated, 0 errors\n")  # the plain summary only
    assert len(proc.stdout.splitlines()) == 7


def _stderr_on_a_terminal(*args: str) -> str:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([str(PEEL), *args], stdout=subprocess.DEVNULL, stderr=slave, cwd=ROOT, timeout=120)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode == 0
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_progress_bar_on_a_terminal_for_more_than_five_bundles() -> None:
    many = _stderr_on_a_terminal("evaluate", *[str(MINI_EVIDENCE)] * 6, "--rules", str(MINI), "--format", "csv")
    assert "Evaluating" in many
    few = _stderr_on_a_terminal("evaluate", *[str(MINI_EVIDENCE)] * 5, "--rules", str(MINI), "--format", "csv")
    assert "Evaluating" not in few and "5 bundles, 5 evaluated, 0 errors" in few  # the summary, no bar
    quiet = _stderr_on_a_terminal("evaluate", *[str(MINI_EVIDENCE)] * 6, "--rules", str(MINI), "--format", "csv",
                                  "--quiet")
    assert quiet == ""


# ---------------------------------------------------------------- CLI, determinism, goldens


@pytest.mark.parametrize("fmt", ["md", "html", "csv"])
def test_outputs_are_byte_identical_across_runs(fmt: str, tmp_path: Path) -> None:
    outs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"{seed}.{fmt}"
        proc = run_peel("evaluate", str(LANCASHIRE.relative_to(ROOT)), "--format", fmt, "--out", str(out),
                        env=dict(os.environ, PYTHONHASHSEED=seed))
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0]


def test_explain_md_and_html_show_the_chosen_area() -> None:
    md = run_peel("explain", str(MINI_EVIDENCE), "calls", "--rules", str(MINI), "--format", "md")
    assert md.returncode == 0, md.stderr
    assert "## Contact: good" in md.stdout and "## Victims" not in md.stdout
    page = run_peel("explain", str(MINI_EVIDENCE), "--rules", str(MINI), "--format", "html")
    assert page.returncode == 0, page.stderr
    assert 'id="b1-contact"' in page.stdout and 'id="b1-victims"' in page.stdout
    bad = run_peel("explain", str(MINI_EVIDENCE), "--rules", str(MINI), "--format", "csv")
    assert bad.returncode == 2


def test_golden_mini_md_and_html(golden) -> None:
    for fmt, name in (("md", "report-mini.md"), ("html", "report-mini.html")):
        proc = run_peel("evaluate", "tests/data/mini-evidence.yaml", "--rules", "tests/data/mini.peel",
                        "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        golden(name, proc.stdout)
