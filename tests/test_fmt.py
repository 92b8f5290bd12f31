"""`peel fmt`: golden layouts, and for every input parse(fmt(x)) == parse(x), fmt(fmt(x)) == fmt(x), and the
comments unchanged (Black's assert_equivalent / assert_stable, plus comments)."""
from __future__ import annotations

import random
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peelrules import nodes as n
from peelrules.diagnostics import PeelError
from peelrules.fmt import WIDTH, comment_texts, format_paths, format_source, operator_chain
from peelrules.lower import parse_source
from peelrules.source import SourceFile
from peelrules.unparse import unparse

from conftest import GOLDEN, ROOT, SHIPPED_RULES, examples, run_peel

GOLDEN_FMT = GOLDEN / "fmt"
MINI = ROOT / "tests" / "data" / "mini.peel"
RULE_FILES = sorted(SHIPPED_RULES.glob("*.peel")) + [MINI]


def fmt(text: str) -> str:
    return format_source(SourceFile("t.peel", text))


def parse(text: str) -> n.Module:
    return parse_source(SourceFile("t.peel", text))


def assert_formats_safely(text: str) -> str:
    """The three properties every formatted file has; returns the formatted text."""
    out = fmt(text)
    assert parse(out) == parse(text)
    assert fmt(out) == out, "formatting is not idempotent"
    assert Counter(comment_texts(out)) == Counter(comment_texts(text)), "a comment was lost or repeated"
    assert_tidy(out)
    return out


def assert_tidy(out: str) -> None:
    lines = out.splitlines()
    assert out == "" or out.endswith("\n") and not out.endswith("\n\n")
    assert out == "" or lines[0].strip() != ""
    for before, line in zip(lines, lines[1:]):
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', before).split("#")[0].rstrip()
        assert not (before == "" and line == ""), "two blank lines in a row"
        assert not (code.endswith("{") and line == ""), "a blank line after `{`"
        assert not (before == "" and line.strip() == "}"), "a blank line before `}`"
    for line in lines:
        assert line == line.rstrip(), f"trailing space: {line!r}"
        assert "\t" not in line[:len(line) - len(line.lstrip())]


# ---------------------------------------------------------------- golden input/output pairs

GOLDEN_INPUTS = sorted(p.name.removesuffix(".in.peel") for p in GOLDEN_FMT.glob("*.in.peel"))


@pytest.mark.parametrize("name", GOLDEN_INPUTS)
def test_golden(name: str, golden) -> None:
    text = (GOLDEN_FMT / f"{name}.in.peel").read_text(encoding="utf-8")
    out = assert_formats_safely(text)
    golden(f"fmt/{name}.out.peel", out)


def test_golden_inputs_exist() -> None:
    assert {"comments", "layout", "one-line", "wrapping"} <= set(GOLDEN_INPUTS)


def test_golden_outputs_are_canonical() -> None:
    for path in GOLDEN_FMT.glob("*.out.peel"):
        text = path.read_text(encoding="utf-8")
        assert fmt(text) == text, path.name


# ---------------------------------------------------------------- the shipped rules and mini.peel


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_files_format_safely(path: Path) -> None:
    assert_formats_safely(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- placing comments, layout details


def test_comments_stay_beside_what_held_them() -> None:
    src = (
        "# file\n"
        "area a \"A\" {  # header\n"
        "  # before the rule\n"
        "  characteristic r \"R\" {\n"
        "    cite \"c\"  # after cite\n"
        "    # before when\n"
        "    when x\n"
        "      # inside when\n"
        "      and y  # after y\n"
        "    # before the closing brace\n"
        "  }  # after the rule\n"
        "}\n"
        "# end of file\n"
    )
    assert fmt(src) == (
        "# file\n"
        "area a \"A\" {  # header\n"
        "  # before the rule\n"
        "  characteristic r \"R\" {\n"
        "    # before when\n"
        "    # inside when\n"
        "    when x and y  # after y\n"
        "    cite \"c\"  # after cite\n"
        "    # before the closing brace\n"
        "  }  # after the rule\n"
        "}\n"
        "# end of file\n"
    )


def test_comment_characters_inside_quoted_text_are_not_comments() -> None:
    src = 'let x = "a # b {"  # real\n'
    assert comment_texts(src) == ["# real"]
    assert fmt(src) == 'let x = "a # b {"  # real\n'


def test_an_empty_evidence_block_goes_but_its_comments_stay() -> None:
    out = assert_formats_safely('evidence e {  # gone\n  # inside\n}\nlet x = 1\n')
    assert out == "# gone\n# inside\nlet x = 1\n"


def test_two_comments_of_one_line_of_output_do_not_share_it() -> None:
    out = assert_formats_safely("let x = a  # one\n  and b  # two\nlet y = 1\n")
    assert out == "# one\nlet x = a and b  # two\nlet y = 1\n"


def test_range_bounds_keep_their_written_form() -> None:
    out = fmt('evidence e {\n  a: percent "A" range 0% to 100%\n  b: number "B" unit "x" range -5 to 1.50\n}\n')
    assert 'range 0% to 100%' in out
    assert 'range -5 to 1.50 unit "x"' in out


def test_evidence_names_are_padded_per_run_of_declarations() -> None:
    out = fmt('evidence e {\n  a: count "A"\n  longer: flag "B"\n\n  c: count "C"\n}\n')
    assert out == 'evidence e {\n  a:      count "A"\n  longer: flag "B"\n\n  c: count "C"\n}\n'


def test_ladder_grades_are_padded_and_rung_order_is_kept() -> None:
    out = fmt("ladder l { good otherwise requires_improvement when x >= 1 }\n")
    # rung order is meaning (the first rung that holds wins); the checker reports `otherwise` not last (PR206)
    assert out == "ladder l {\n  good                 otherwise\n  requires_improvement when x >= 1\n}\n"


def test_clauses_and_area_items_take_the_canonical_order() -> None:
    src = ('area a "A" {\n  characteristic r "R" { severe cite "c" recommendation "r" exceeded when y when x }\n'
           '  let k = 1\n  grade by l\n  aliases "b"\n  ungraded\n  aliases "c"\n  question "q"\n}\n')
    assert fmt(src) == (
        'area a "A" {\n  question "q"\n  aliases "b", "c"\n  ungraded\n  grade by l\n'
        '  characteristic r "R" {\n    when x\n    exceeded when y\n    cite "c"\n    recommendation "r"\n'
        '    severe\n  }\n  let k = 1\n}\n')


def test_blank_lines_between_statements_are_kept_at_most_one() -> None:
    src = 'area a "A" {\n\n\n  question "q"\n\n\n\n  ungraded\n  let k = 1\n\n}\n\n\n\nlet x = 1\nlet y = 2\n\n\nlet z = 3\n'
    assert fmt(src) == 'area a "A" {\n  question "q"\n\n  ungraded\n  let k = 1\n}\n\nlet x = 1\nlet y = 2\n\nlet z = 3\n'


def test_rules_are_separated_by_one_blank_line() -> None:
    out = fmt('area a "A" { characteristic r "R" { when x } characteristic s "S" { when y } }\n')
    assert '  }\n\n  characteristic s "S" {\n' in out


def test_long_conditions_wrap_at_the_top_level_operator() -> None:
    cond = " and ".join(f"evidence_block.item_number_{i} >= met" for i in range(4))
    out = fmt(f'area a "A" {{ characteristic r "R" {{ when (x or y) and {cond} }} }}\n')
    lines = out.splitlines()
    assert lines[2] == "    when (x or y)"
    assert lines[3] == "        and evidence_block.item_number_0 >= met"
    assert all(len(line) <= WIDTH for line in lines)


def test_long_texts_split_at_word_boundaries_into_adjacent_strings() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    out = assert_formats_safely(f'area a "A" {{ question "{words}" }}\n')
    assert all(len(line) <= WIDTH for line in out.splitlines())
    pieces = re.findall(r'"([^"]*)"', out.split("question", 1)[1])
    assert "".join(pieces) == words and len(pieces) > 1
    assert all(p.endswith(" ") for p in pieces[:-1])


def test_long_titles_move_to_their_own_line_first() -> None:
    title = "T" + " title" * 14
    out = fmt(f'area a "A" {{ characteristic a_rule_name "{title}" {{ when x }} }}\n')
    assert out.splitlines()[1:3] == ["  characteristic a_rule_name", f'      "{title}" {{']


def test_percentages_keep_their_digits() -> None:
    assert fmt("let x = 07.50%\n") == "let x = 07.50%\n"


@given(st.data())
@settings(max_examples=examples(ci=40, thorough=100), deadline=None)
def test_operator_chain_joins_back_to_unparse(data: st.DataObject) -> None:
    text = data.draw(expressions())
    e = parse(f"let x = {text}\n").items[0].expr  # type: ignore[union-attr]
    chain = operator_chain(e)
    if chain is not None:
        op, operands = chain
        assert f" {op} ".join(operands) == unparse(e)


# ---------------------------------------------------------------- errors and the safety net


def test_a_file_with_a_syntax_error_is_not_formatted() -> None:
    with pytest.raises(PeelError) as err:
        fmt("let x = \n")
    assert err.value.diagnostics[0].code.startswith("PR1")


def test_numbers_keep_their_written_digits() -> None:
    assert fmt("let x = 0.00001\nlet y = 1.50\n") == "let x = 0.00001\nlet y = 1.50\n"


def test_format_paths_reports_every_broken_file(tmp_path: Path) -> None:
    (tmp_path / "a.peel").write_text("let x =\n", encoding="utf-8")
    (tmp_path / "b.peel").write_text("let y = = 2\n", encoding="utf-8")
    with pytest.raises(PeelError) as err:
        format_paths([tmp_path])
    assert len(err.value.diagnostics) == 2


# ---------------------------------------------------------------- generated programs

NAMES = ("alpha", "beta", "gamma_2", "vsa", "met", "severe", "exceeded", "question", "range", "unit", "only",
         "to", "by", "good", "x", "a_rather_long_evidence_item_name_for_wrapping_tests")
# not `severe`, `grade`, `version`...: after quoted text the lexer takes those as keywords (LALR lookaheads of
# `text` are shared by every construct), so such an item cannot follow another declaration; see the report
DECL_NAMES = ("alpha", "beta", "case_files", "x", "met", "count", "a_long_declaration_name_for_padding")
GRADES = ("good", "adequate", "inadequate", "requires_improvement", "outstanding", "g")
TYPES = ("count", "percent", "assessment", "ratio", "flag", "estimate", "text", "date")
WORDS = ("the", "force", "answers", "calls", "#", "{", "}", "50%", "café", 'say \\"hi\\"', "back\\\\slash",
         "line\\nbreak", "within", "ten", "seconds", "supervision", "investigations")
COMMENT_CHARS = "abc xyz#\"{}%é-"


SPACES = (" ",) * 10 + ("  ", "\t", "\n", "\n    ", "\n\n", "\n\n\n  ", "\n  ") + ("TRAILING", "OWN") * 2


@lru_cache(maxsize=None)
def _sampled(options: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


@lru_cache(maxsize=None)
def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


COMMENTS = st.text(COMMENT_CHARS, max_size=12)


class Gen:
    """Draws tokens and the whitespace, blank lines and comments between them."""

    def __init__(self, draw: st.DrawFn):
        self.draw = draw

    def pick(self, options: tuple[str, ...]) -> str:
        return self.draw(_sampled(options))

    def int(self, lo: int, hi: int) -> int:
        return self.draw(_integers(lo, hi))

    def comment(self) -> str:
        return "#" + self.draw(COMMENTS)

    def ws(self) -> str:
        space = self.pick(SPACES)
        if space == "TRAILING":
            return f"  {self.comment()}\n" + self.pick(("", "  ", "\n"))
        if space == "OWN":
            return f"\n{self.pick(('', '  ', '    '))}{self.comment()}\n" + self.pick(("", "    ", "\n"))
        return space

    def join(self, *tokens: str) -> str:
        return tokens[0] + "".join(self.ws() + t for t in tokens[1:])

    def text(self, long: bool = False) -> str:
        count = self.int(1, 3)
        strings = []
        for _ in range(count):
            rnd = random.Random(self.int(0, 2**32))  # one draw for the words: cheaper than one per word
            size = rnd.randint(0, 30 if long else 6)
            strings.append('"' + " ".join(rnd.choice(WORDS) for _ in range(size)) + '"')
        return self.join(*strings)

    def number(self) -> str:
        digits = str(self.int(0, 1200)).zfill(self.int(1, 3))
        if self.draw(st.booleans()):
            digits += "." + str(self.int(0, 999)).zfill(self.int(1, 3))
        return digits


@st.composite
def expressions(draw: st.DrawFn, depth: int = 2) -> str:
    return _expr(Gen(draw), depth)


def _chain(g: Gen, ops: tuple[str, ...], parts: list[str]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out = g.join(out, g.pick(ops), part)
    return out


def _expr(g: Gen, d: int) -> str:
    return _chain(g, ("or",), [_and(g, d) for _ in range(g.int(1, 3 if d > 0 else 1))])


def _and(g: Gen, d: int) -> str:
    return _chain(g, ("and",), [_not(g, d) for _ in range(g.int(1, 4 if d > 0 else 1))])


def _not(g: Gen, d: int) -> str:
    if d > 0 and g.int(0, 4) == 0:
        return g.join("not", _not(g, d - 1))
    return _comparison(g, d)


def _comparison(g: Gen, d: int) -> str:
    left = _sum(g, d)
    kind = g.int(0, 5)
    if kind <= 1:
        return left
    if kind == 5 and d > 0:
        options = [_expr(g, d - 1) for _ in range(g.int(1, 3))]
        word = g.pick(("in", "not in")).split()
        return g.join(left, *word, "[", ", ".join(options), "]")
    op = g.pick((">=", "<=", ">", "<", "==", "!=", "is", "is not"))
    return g.join(left, *op.split(), _sum(g, d))


def _sum(g: Gen, d: int) -> str:
    return _chain(g, ("+", "-"), [_product(g, d) for _ in range(g.int(1, 3 if d > 0 else 1))])


def _product(g: Gen, d: int) -> str:
    return _chain(g, ("*", "/"), [_unary(g, d) for _ in range(g.int(1, 2 if d > 0 else 1))])


def _unary(g: Gen, d: int) -> str:
    if d > 0 and g.int(0, 6) == 0:
        return g.join("-", _unary(g, d - 1))
    return _atom(g, d)


def _aggregate(g: Gen, d: int) -> str:
    """An aggregate over a table, as rules write them (docs/tables.md); not necessarily well typed."""
    func = g.pick(("count", "share", "mean", "median", "percentile", "min", "max"))
    target = ".".join(g.pick(NAMES) for _ in range(g.int(2, 3)))
    args = [target] + ([g.number()] if func == "percentile" else [])
    inner = g.join(*[t for a in args for t in (a, ",")][:-1])
    if d > 0 and g.int(0, 2) > 0:
        inner = g.join(inner, "where", _expr(g, d - 1))
    return g.join(func, "(", inner, ")")


def _atom(g: Gen, d: int) -> str:
    kind = g.int(0, 11 if d > 0 else 6)
    if kind == 10:
        return _aggregate(g, d)
    if kind == 11:
        return g.pick(("2021-07-01", "2021-07-01T00:00", "2021-12-31T23:59:59", "2021-02-03T04:05:06.789"))
    if kind == 0:
        return g.number()
    if kind == 1:
        return g.number() + "%"
    if kind == 2:
        return '"' + g.pick(WORDS) + '"'
    if kind == 3:
        return g.pick(("true", "false"))
    if kind <= 6:
        return ".".join(g.pick(NAMES) for _ in range(g.int(1, 3)))
    if kind <= 8:
        args = [_expr(g, d - 1) for _ in range(g.int(0, 2))]
        return g.join(g.pick(("first_known", "lower", "present", "remediated")), "(", ", ".join(args), ")")
    return g.join("(", _expr(g, d - 1), ")")


def _framework(g: Gen) -> str:
    fields = []
    for _ in range(g.int(0, 4)):
        kind = g.int(0, 3)
        if kind == 0:
            fields.append(g.join("version", g.text()))
        elif kind == 1:
            fields.append(g.join("effective", "2021-04-01", "to", "2023-03-31"))
        elif kind == 2:
            fields.append(g.join("effective", "2022-01-01"))
        else:
            fields.append(g.join("publisher", g.text(long=True)))
    return g.join("framework", g.pick(NAMES), g.text(long=True), "{", *fields, "}")


def _evidence(g: Gen) -> str:
    decls = []
    for _ in range(g.int(0, 4)):
        options = []
        for _ in range(g.int(0, 2)):
            kind = g.int(0, 2)
            if kind == 0:
                lo = g.pick(("-" + g.number(), g.number(), g.number() + "%"))
                hi = g.number() + g.pick(("", "%"))
                options.append(g.join("range", lo, "to", hi))
            elif kind == 1:
                options.append(g.join("unit", g.text()))
            else:
                options.append(g.join("context", "only"))
        if g.int(0, 3) == 0:  # a table, with its columns
            columns = [g.join(g.pick(DECL_NAMES), ":", g.pick(("number", "count", "text", "flag", "date",
                                                               "timestamp")),
                              *(("unit", g.text()) if g.int(0, 2) == 0 else ()))
                       for _ in range(g.int(0, 3))]
            options.append(g.join("{", *columns, "}"))
            decls.append(g.join(g.pick(DECL_NAMES), ":", "table", g.text(long=True), *options))
            continue
        decls.append(g.join(g.pick(DECL_NAMES), ":", g.pick(TYPES), g.text(long=True), *options))
    return g.join("evidence", g.pick(NAMES), "{", *decls, "}")


def _let(g: Gen) -> str:
    return g.join("let", g.pick(NAMES), "=", _expr(g, 2))


def _ladder(g: Gen) -> str:
    rungs = []
    for _ in range(g.int(0, 4)):
        if g.int(0, 3) == 0:
            rungs.append(g.join(g.pick(GRADES), "otherwise"))
        else:
            rungs.append(g.join(g.pick(GRADES), "when", _expr(g, 2)))
    return g.join("ladder", g.pick(NAMES), "{", *rungs, "}")


def _rule(g: Gen) -> str:
    clauses = []
    for _ in range(g.int(0, 5)):
        kind = g.int(0, 4)
        if kind == 0:
            clauses.append(g.join("when", _expr(g, 3)))
        elif kind == 1:
            clauses.append(g.join("exceeded", "when", _expr(g, 2)))
        elif kind == 2:
            clauses.append(g.join("cite", g.text(long=True)))
        elif kind == 3:
            clauses.append(g.join("recommendation", g.text(long=True)))
        else:
            clauses.append("severe")
    kind = g.pick(n.RULE_KINDS)
    return g.join(kind, g.pick(NAMES), g.text(long=True), "{", *clauses, "}")


def _area(g: Gen) -> str:
    items = []
    for _ in range(g.int(0, 6)):
        kind = g.int(0, 7)
        if kind == 0:
            items.append(g.join("question", g.text(long=True)))
        elif kind == 1:
            texts = [g.text() for _ in range(g.int(1, 6))]
            items.append(g.join("aliases", *[t for text in texts for t in (text, ",")][:-1]))
        elif kind == 2:
            items.append("ungraded")
        elif kind == 3:
            items.append(g.join("grade", "by", g.pick(NAMES)))
        elif kind == 4:
            items.append(_ladder(g))
        elif kind == 5:
            items.append(_let(g))
        else:
            items.append(_rule(g))
    return g.join("area", g.pick(NAMES), g.text(long=True), "{", *items, "}")


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A syntactically valid rule file (not necessarily a checked one) with random layout and comments."""
    g = Gen(draw)
    makers = (_framework, _evidence, _let, _ladder, _area, _area)
    items = [g.pick(("", "\n", "# top\n", "\n\n")) + draw(st.sampled_from(makers))(g)
             for _ in range(g.int(0, 5))]
    text = g.join("", *items) if items else ""
    return text + g.pick(("", "\n", "  # end", "\n# last\n\n"))


@given(programs())
@settings(max_examples=examples(ci=60, thorough=500), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_generated_programs_format_safely(text: str) -> None:
    assert_formats_safely(text)


@given(st.data())
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_generated_rule_sets_format_safely(data: st.DataObject) -> None:
    strategies = pytest.importorskip("strategies")
    rule_set = data.draw(strategies.rule_sets())
    for _, text in rule_set.files:
        assert_formats_safely(text)


# ---------------------------------------------------------------- the command


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    (folder / "sub").mkdir(parents=True)
    # the mini rule set, untidied: every indentation doubled
    text = MINI.read_text(encoding="utf-8")
    messy_text = "\n".join(line.replace("  ", "    ", 1) for line in text.splitlines()) + "\n"
    (folder / "mini.peel").write_text(messy_text, encoding="utf-8")
    (folder / "sub" / "tidy.peel").write_text("let x = 1\n", encoding="utf-8")
    return folder


def test_cli_needs_paths() -> None:
    proc = run_peel("fmt")
    assert proc.returncode == 2


def test_cli_check_lists_files_and_writes_nothing(messy: Path) -> None:
    before = (messy / "mini.peel").read_text(encoding="utf-8")
    proc = run_peel("fmt", "--check", str(messy))
    assert proc.returncode == 1
    assert "mini.peel" in proc.stderr and "tidy.peel" not in proc.stderr
    assert (messy / "mini.peel").read_text(encoding="utf-8") == before


def test_cli_diff_prints_a_unified_diff_and_writes_nothing(messy: Path) -> None:
    before = (messy / "mini.peel").read_text(encoding="utf-8")
    proc = run_peel("fmt", "--diff", str(messy))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("---") and "\n+++ " in proc.stdout and "\n@@ " in proc.stdout
    assert (messy / "mini.peel").read_text(encoding="utf-8") == before


def test_cli_rewrites_in_place_only_what_changes(messy: Path) -> None:
    tidy = messy / "sub" / "tidy.peel"
    mtime = tidy.stat().st_mtime_ns
    proc = run_peel("fmt", str(messy))
    assert proc.returncode == 0, proc.stderr
    assert "reformatted" in proc.stderr and "mini.peel" in proc.stderr
    assert (messy / "mini.peel").read_text(encoding="utf-8") == fmt(MINI.read_text(encoding="utf-8"))
    assert tidy.stat().st_mtime_ns == mtime
    again = run_peel("fmt", "--check", str(messy / "mini.peel"), str(tidy))
    assert again.returncode == 0, again.stderr


def test_cli_syntax_errors_are_rendered_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.peel"
    bad.write_text("let x = = 1\n", encoding="utf-8")
    proc = run_peel("fmt", str(bad))
    assert proc.returncode == 2
    assert "error[PR1" in proc.stderr and "Traceback" not in proc.stderr
    assert bad.read_text(encoding="utf-8") == "let x = = 1\n"


def test_shipped_rules_are_kept_formatted() -> None:
    """The shipped rule files (every rule set) are in the canonical layout: run `peel fmt rules/<set>` after
    editing."""
    from peelrules.source import SourceFile as _Src

    for path in sorted((Path(__file__).resolve().parent.parent / "rules").glob("*/*.peel")):
        text = path.read_text(encoding="utf-8")
        assert format_source(_Src(path.name, text)) == text, f"{path.name} is not formatted: run peel fmt"
