"""Two estimates compared in rules (issue 13): overlaps(a, b), significantly_changed/_lower/_higher(a, b).

Expected figures are worked out here by hand from the formulas (normal interval p +/- 1.96 sqrt(p(1-p)/n); the
pooled two-proportion z-test), never copied from the output they check. The inspectorate's example: 2019's
86.3% +/- 4.3% against 2021's 85.2% +/- 5.1% of 183 is "broadly unchanged". The 2019 sample is not stated: the
normal interval gives it back, n = 1.96^2 * 0.863 * 0.137 / 0.043^2 = 245.6, so 246.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

import peelrules
from peelrules.compile import compile_program
from peelrules.diagnostics import PeelError, render
from peelrules.evaluate import Evaluator
from peelrules.report import html as html_report
from peelrules.report import markdown as markdown_report
from peelrules.report.schemas import trace_schema
from peelrules.report.text import explain
from peelrules.report.trace_json import trace_document
from peelrules.values import UNKNOWN

ROOT = Path(__file__).resolve().parent.parent

RULES = '''framework fw "F" {
  version "1"
  small_sample below 30
}
evidence s {
  before: estimate "2019 audit"
  now:    estimate "2021 audit"
  counted: ratio "2021 audit, counted"
  count:  count "records"
}
ladder l { requires_improvement when improvements >= 1  adequate when unmet >= 1  good otherwise }
area a "A" {
  grade by l
  characteristic same "broadly unchanged" { when not significantly_changed(s.now, s.before) }
  characteristic overlap "the intervals overlap" { when overlaps(s.now, s.before) }
  area_for_improvement fell "fell significantly" { when significantly_lower(s.counted, s.before) }
  area_for_improvement rose "rose significantly" { when significantly_higher(s.counted, s.before) }
}
'''

N_2019 = 246  # from the stated interval: see the module's docstring


def _program(tmp: Path, text: str = RULES) -> peelrules.Program:
    (tmp / "r.peel").write_text(text, encoding="utf-8")
    return peelrules.load_rules(tmp / "r.peel")


def _bundle(tmp: Path, program: peelrules.Program, facts: dict) -> peelrules.Bundle:
    data = {"force": "F", "framework": program.framework.name, "sources": {"r": {"title": "R"}},
            "facts": {k: {**v, "source": "r:L1"} for k, v in facts.items()}}
    (tmp / "b.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return peelrules.load_evidence(tmp / "b.yaml", program)


def _outcomes(program: peelrules.Program, bundle: peelrules.Bundle) -> dict:
    """The outcomes, after checking that both evaluators give the same results and traces."""
    expected, traces = Evaluator(program).run(bundle, trace=True)
    compiled = compile_program(program)
    got = compiled.run(bundle)
    assert got == expected and repr(got) == repr(expected)
    mine = compiled.explain(bundle)
    assert mine[1] == traces and repr(mine[1]) == repr(traces)
    return {o.key: o.outcome for a in got.areas for o in a.outcomes}


AUDITS = {"s.before": {"estimate": "86.3%", "ci": "4.3%", "sample": N_2019},
          "s.now": {"estimate": "85.2%", "ci": "5.1%", "sample": 183}}


def test_the_2019_sample_comes_back_from_its_interval() -> None:
    p, h = 0.863, 0.043
    assert round(1.96 ** 2 * p * (1 - p) / h ** 2) == N_2019
    assert round(1.96 * math.sqrt(p * (1 - p) / N_2019), 3) == h


def test_2019_against_2021_is_broadly_unchanged(tmp_path: Path) -> None:
    program = _program(tmp_path)
    bundle = _bundle(tmp_path, program, {**AUDITS, "s.counted": {"k": 156, "n": 183}})
    out = _outcomes(program, bundle)
    assert out["a.same"] is True and out["a.overlap"] is True  # 80.1-90.3% and 82.0-90.6% overlap
    assert out["a.fell"] is False and out["a.rose"] is False  # 156 of 183 is 85.2% too
    # by hand: pooled (0.852*183 + 0.863*246) / 429 = 0.8583; se = sqrt(0.8583*0.1417*(1/183 + 1/246)) = 0.03404
    pooled = (0.852 * 183 + 0.863 * N_2019) / (183 + N_2019)
    se = math.sqrt(pooled * (1 - pooled) * (1 / 183 + 1 / N_2019))
    assert round(pooled, 4) == 0.8583 and round(se, 4) == 0.0340
    z = (0.852 - 0.863) / se
    assert round(z, 2) == -0.32
    [leaf] = [e.comparison for r in peelrules.explain(program, bundle)[1][0].rules if r.key == "a.same"
              for e in [r.when.children[0]]]
    assert leaf.test == "two_proportion" and leaf.verdict == "broadly unchanged"
    assert leaf.difference == pytest.approx(-0.011) and leaf.z == pytest.approx(z, abs=1e-9)
    assert round(leaf.p_value, 2) == 0.75 and round(leaf.critical, 2) == 1.96 and leaf.level == 0.95
    assert (leaf.first.value, leaf.first.sample, leaf.second.value, leaf.second.sample) == (0.852, 183, 0.863, 246)
    assert (leaf.first.lower, leaf.first.upper) == (0.801, 0.903)  # as stated: 85.2% +/- 5.1%


@pytest.mark.parametrize("k,n,fell,rose", [
    # 70 of 100 against 86.3% of 246: pooled (70 + 212.3) / 346 = 0.8159, se = 0.0459, z = -0.163 / 0.0459 = -3.55
    (70, 100, True, False),
    # 98 of 100: pooled (98 + 212.3) / 346 = 0.8968, se = 0.0359, z = 0.117 / 0.0359 = 3.26
    (98, 100, False, True),
    # 90 of 100: z = 0.037 / 0.0377 = 0.98, within +/-1.96: broadly unchanged, neither
    (90, 100, False, False),
])
def test_one_direction_is_true_only_when_significant_that_way(tmp_path: Path, k: int, n: int, fell: bool,
                                                              rose: bool) -> None:
    program = _program(tmp_path)
    out = _outcomes(program, _bundle(tmp_path, program, {**AUDITS, "s.counted": {"k": k, "n": n}}))
    assert (out["a.fell"], out["a.rose"]) == (fell, rose)


def test_overlaps_is_false_for_intervals_apart(tmp_path: Path) -> None:
    program = _program(tmp_path)
    facts = {"s.before": {"estimate": "90%", "ci": "3%", "sample": 400},  # 87% to 93%
             "s.now": {"estimate": "80%", "ci": "5%", "sample": 250}}  # 75% to 85%
    out = _outcomes(program, _bundle(tmp_path, program, facts))
    assert out["a.overlap"] is False and out["a.same"] is False  # and the test: z = -0.1 / 0.0266 = -3.8


@pytest.mark.parametrize("facts", [
    {"s.before": AUDITS["s.before"]},  # the 2021 audit missing
    {"s.now": AUDITS["s.now"]},  # the 2019 audit missing
    {**AUDITS, "s.counted": {"k": 0, "n": 0}},  # 0 of 0: no share, no interval
])
def test_without_both_estimates_the_answer_is_unknown(tmp_path: Path, facts: dict) -> None:
    program = _program(tmp_path)
    bundle = _bundle(tmp_path, program, facts)
    out = _outcomes(program, bundle)
    if "s.now" not in facts or "s.before" not in facts:
        assert out["a.same"] is UNKNOWN and out["a.overlap"] is UNKNOWN
    assert out["a.fell"] is UNKNOWN and out["a.rose"] is UNKNOWN
    assert "unknown: the " in explain(peelrules.explain(program, bundle)[1])


def test_every_trace_format_shows_both_estimates_and_the_test(tmp_path: Path) -> None:
    program = _program(tmp_path)
    bundle = _bundle(tmp_path, program, {**AUDITS, "s.counted": {"k": 70, "n": 100}})
    traces = peelrules.explain(program, bundle)[1]
    shown = {"text": explain(traces), "md": markdown_report.document(program, [(bundle, traces)]),
             "html": html_report.document(program, [(bundle, traces)])}
    for fmt, doc in shown.items():
        for words in ("85.2% (80.1% to 90.3%", "sample 183", "86.3% (82.0% to 90.6%", "sample 246",
                      "difference -1.1 points", "z -0.32", "p 0.747", "1.96", "broadly unchanged",
                      "70.0% (61.0% to 79.0%", "significantly lower", "the intervals overlap"):
            assert words in doc, (fmt, words)
    doc = json.loads(json.dumps(trace_document(program, [(bundle, traces)], "r.peel")))
    jsonschema.validate(doc, trace_schema())
    nodes = [x for x in _nodes(doc) if "comparison" in x]
    assert {x["expr"] for x in nodes} == {"significantly_changed(s.now, s.before)", "overlaps(s.now, s.before)",
                                          "significantly_lower(s.counted, s.before)",
                                          "significantly_higher(s.counted, s.before)"}
    fell = next(x["comparison"] for x in nodes if x["expr"].startswith("significantly_lower"))
    assert fell["verdict"] == "significantly lower" and fell["difference"] == pytest.approx(0.7 - 0.863)
    assert fell["first"]["method"] == "normal" and fell["second"]["method"] == "given"
    assert fell["first"]["sample"] == 100 and fell["level"] == 0.95 and fell["z"] < -fell["critical"]


def _nodes(x):  # type: ignore[no-untyped-def]
    if isinstance(x, dict):
        yield x
        for v in x.values():
            yield from _nodes(v)
    elif isinstance(x, list):
        for v in x:
            yield from _nodes(v)


@pytest.mark.parametrize("old,new,code,at,hint", [
    ("overlaps(s.now, s.before)", "overlaps(s.now, s.count)", "PR204", "s.count)", "ratio k of n"),
    ("significantly_changed(s.now, s.before)", "significantly_changed(3, s.before)", "PR204", "3, s.before",
     "estimate"),
    ("significantly_changed(s.now, s.before)", "significantly_changed(s.now)", "PR212", "significantly_changed(",
     "significantly_changed(a, b)"),
    ("significantly_lower(s.counted, s.before)", "significantly_below(s.counted, s.before)", "PR204",
     "s.before)", "significantly_lower(s.counted, s.before)"),
])
def test_wrong_arguments_are_refused_at_their_place(tmp_path: Path, old: str, new: str, code: str, at: str,
                                                     hint: str) -> None:
    text = RULES.replace(old, new)
    (tmp_path / "r.peel").write_text(text, encoding="utf-8")
    with pytest.raises(PeelError) as err:
        peelrules.load_rules(tmp_path / "r.peel")
    [d] = err.value.diagnostics
    row = next(i for i, line in enumerate(text.splitlines(), 1) if new in line)
    column = text.splitlines()[row - 1].index(at) + 1
    assert (d.code, d.span.line, d.span.column) == (code, row, column)
    shown = render(d)
    assert shown.startswith(f"{d.span.file}:{row}:{column}: error[{code}]") and hint in shown
    assert re.search(rf"\n\s+\| {' ' * (column - 1)}\^", shown)


def test_the_statistics_doc_example_grades_the_audits_as_it_says(tmp_path: Path) -> None:
    """docs/statistics.md's rules, on the audits it describes: broadly unchanged, overlapping, not fallen."""
    text = (ROOT / "docs" / "statistics.md").read_text(encoding="utf-8")
    body = re.search(r"<!-- example: rules -->\n```peel\n(.*?)\n```", text, re.S).group(1)  # type: ignore[union-attr]
    program = _program(tmp_path, body)
    facts = {f"audit.grounds_{year}": fact for year, fact in (("2019", AUDITS["s.before"]),
                                                              ("2021", AUDITS["s.now"]))}
    bundle = _bundle(tmp_path, program, facts)
    out = _outcomes(program, bundle)
    assert out == {"fairness.grounds_kept": True, "fairness.grounds_consistent": True,
                   "fairness.grounds_fell": False}
    assert "broadly unchanged" in explain(peelrules.explain(program, bundle)[1])


def test_the_language_server_describes_the_comparisons() -> None:
    pytest.importorskip("pygls")
    from peelrules.lsp import Index, hover_text
    from peelrules.lower import parse_source
    from peelrules.source import SourceFile
    from peelrules.symbols import Symbol
    from peelrules.vocabulary import COMPARISON_FUNCTIONS, FUNCTIONS

    ix = Index.build([parse_source(SourceFile("r.peel", RULES))])
    for func in COMPARISON_FUNCTIONS:
        assert FUNCTIONS[func].partition(": ")[2] in hover_text(ix, Symbol("function", func))
