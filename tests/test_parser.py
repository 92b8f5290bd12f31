"""The parser and lowering: source text to the AST, compared with hand-built trees (spans ignored)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peelrules import nodes as n
from peelrules.diagnostics import PeelError
from peelrules.lower import parse_recovering, parse_source
from peelrules.source import SourceFile
from peelrules.unparse import unparse

from conftest import ROOT


def parse(text: str) -> n.Module:
    return parse_source(SourceFile("t.peel", text))


def expr(text: str) -> n.Expr:
    mod = parse(f"let x = {text}\n")
    let = mod.items[0]
    assert isinstance(let, n.Let)
    return let.expr


def name(*parts: str) -> n.Name:
    return n.Name(tuple(parts))


def test_framework_header() -> None:
    mod = parse('framework peel "PEEL" { version "2021/22" effective 2021-04-01 to 2023-03-31 publisher "H" }')
    assert mod.items == (n.Framework("peel", "PEEL", "2021/22", "2021-04-01", "2023-03-31", "H"),)


def test_evidence_declarations_are_qualified_by_block() -> None:
    mod = parse('evidence vsa {\n case_files: count "Files" range 0 to 1000 unit "files"\n x: flag "X" context only\n}')
    assert mod.items == (
        n.EvidenceDecl("vsa.case_files", "count", "Files", 0.0, 1000.0, "files"),
        n.EvidenceDecl("vsa.x", "flag", "X", context_only=True),
    )


def test_percentages_are_fractions_and_exact() -> None:
    assert expr("90%") == n.Percent(0.9, "90")
    assert expr("85.2%") == n.Percent(0.852, "85.2")
    assert expr("12") == n.Number(12)
    assert expr("1.5") == n.Number(1.5)


def test_precedence_and_associativity() -> None:
    e = expr("a or b and not c >= 1 + 2 * 3")
    assert e == n.Binary("or", name("a"), n.Binary("and", name("b"), n.Unary(
        "not", n.Binary(">=", name("c"), n.Binary("+", n.Number(1), n.Binary("*", n.Number(2), n.Number(3)))))))
    assert expr("10 - 2 - 3") == n.Binary("-", n.Binary("-", n.Number(10), n.Number(2)), n.Number(3))


def test_is_in_and_calls() -> None:
    assert expr("x.y is not met") == n.Binary("!=", name("x", "y"), name("met"))
    assert expr("x is met") == n.Binary("==", name("x"), name("met"))
    assert expr("x not in [met, exceeded]") == n.InList(True, name("x"), (name("met"), name("exceeded")))
    assert expr("lower(s.g) > 80%") == n.Binary(">", n.Call("lower", (name("s", "g"),)), n.Percent(0.8, "80"))


def test_area_and_rules() -> None:
    mod = parse('''
area inv "Investigating" "crime" {
  question "How good?"
  aliases "investigating", "inv"
  grade by standard
  characteristic c1 "One" {
    when a >= 1
    exceeded when a >= 2
    cite "PAF"
  }
  cause_of_concern k "Concern" { when b severe recommendation "Fix it" "now." }
}''')
    area = mod.items[0]
    assert isinstance(area, n.Area)
    assert area.title == "Investigatingcrime"
    assert area.aliases == ("investigating", "inv")
    assert area.grade_by == "standard"
    assert area.rules == (
        n.Rule("characteristic", "c1", "One", n.Binary(">=", name("a"), n.Number(1)),
               n.Binary(">=", name("a"), n.Number(2)), "PAF"),
        n.Rule("cause_of_concern", "k", "Concern", name("b"), None, None, "Fix itnow.", True),
    )


def test_spans_point_at_the_source() -> None:
    mod = parse('let a = 1\nlet bb = x.y >= 2\n')
    let = mod.items[1]
    assert isinstance(let, n.Let)
    assert (let.span.line, let.span.column) == (2, 5)
    assert (let.expr.span.line, let.expr.span.column, let.expr.span.end_column) == (2, 10, 18)


@pytest.mark.parametrize("text, code, line, column", [
    ("let a = 90 %\n", "PR102", 1, 12),
    ("let a = b = c\n", "PR101", 1, 11),
    ('area x "X" {\n  characteristic c "C" {\n    when a\n', "PR103", 3, 11),
    ("let A = 1\n", "PR102", 1, 5),
    ('let a = "open\n', "PR102", 1, 9),
])
def test_syntax_errors_have_code_and_position(text: str, code: str, line: int, column: int) -> None:
    with pytest.raises(PeelError) as info:
        parse(text)
    d = info.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.column) == (code, line, column)
    assert "__ANON" not in d.message and "__ANON" not in (d.hint or "")
    assert d.hint


def test_recovery_reports_independent_errors_and_keeps_the_rest() -> None:
    text = ('let a = \n'
            'let ok = 1\n'
            'area x "X" {\n'
            '  characteristic one "One" {\n'
            '    when b >= = 1\n'
            '  }\n'
            '  characteristic two "Two" {\n'
            '    when b >= 2\n'
            '  }\n'
            '}\n')
    parsed = parse_recovering(SourceFile("t.peel", text))
    assert [(d.code, d.span.line) for d in parsed.diagnostics] == [("PR101", 2), ("PR101", 5)]
    area = [i for i in parsed.module.items if isinstance(i, n.Area)][0]
    assert [r.name for r in area.rules] == ["two"]
    assert "one" in parsed.lost_names


def test_shipped_rule_files_parse() -> None:
    for path in sorted((ROOT / "rules").glob("*/*.peel")):  # every shipped rule set
        parse_source(SourceFile(path.name, path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- round trip on generated expressions

names = st.sampled_from(["a", "b", "met", "x.y", "vsa.case_files", "some_rule"])
atoms = st.one_of(
    st.integers(0, 10_000).map(str),
    st.integers(0, 100).map(lambda i: f"{i}%"),
    st.decimals(0, 100, places=2).map(lambda d: f"{d}%"),
    names,
    st.just("true"),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from([">=", "<", "==", "!="]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(not ({c}))"),
        children.map(lambda c: f"(-({c}))"),
        children.map(lambda c: f"lower({c})"),
        st.tuples(children, children).map(lambda t: f"({t[0]} in [{t[1]}, met])"),
    )


expressions = st.recursive(atoms, _combine, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_unparse_parse_round_trip(text: str) -> None:
    tree = expr(text)
    again = expr(unparse(tree))
    assert again == tree
    assert unparse(again) == unparse(tree)
