"""The editor files: the TextMate grammar stays in step with grammar/peel.lark and with peelrules' word lists.

The grammar's regexes are Oniguruma's; the ones used here mean the same in Python's `re`, which these tests use.
A small tokenizer at the end follows the TextMate matching rules closely enough to check how lines are scoped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from peelrules.grades import GRADE_KEYS
from peelrules.vocabulary import ASSESSMENTS, COUNTERS, EVIDENCE_TYPES, FUNCTIONS
from peelrules.syntax import parser

ROOT = Path(__file__).resolve().parent.parent
TEXTMATE = ROOT / "editors" / "textmate" / "peel.tmLanguage.json"
VSCODE = ROOT / "editors" / "vscode"
LARK = ROOT / "grammar" / "peel.lark"
RULE_FILES = sorted((ROOT / "rules").glob("*/*.peel")) + [ROOT / "tests" / "data" / "mini.peel"]


@pytest.fixture(scope="module")
def grammar() -> dict[str, Any]:
    return json.loads(TEXTMATE.read_text(encoding="utf-8"))


def lark_literals() -> set[str]:
    """Every quoted literal of the rules of grammar/peel.lark (terminal definitions and comments left out)."""
    out: set[str] = set()
    for line in LARK.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith(("//", "%")) or re.match(r"[A-Z_][A-Z0-9_]*(\.\d+)?\s*:", line):
            continue
        out.update(json.loads(f'"{m}"') for m in re.findall(r'"((?:[^"\\]|\\.)*)"', line))
    return out


KEYWORDS = sorted(w for w in lark_literals() if re.fullmatch(r"[a-z_]+", w))
SYMBOLS = sorted(w for w in lark_literals() if not re.fullmatch(r"[a-z_]+", w))


def regexes(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from regexes(value)
    elif isinstance(node, list):
        for item in node:
            yield from regexes(item)


def patterns_of(grammar: dict[str, Any], key: str) -> list[str]:
    entry = grammar["repository"][key]
    return [p["match"] for p in entry.get("patterns", [entry])]


def alternatives(pattern: str) -> set[str]:
    """The words of the first group of alternatives in a pattern: `\\b(?:a|b)\\b` -> {a, b}."""
    m = re.search(r"\((?:\?:)?([a-z_|]+)\)", pattern)
    assert m, pattern
    return set(m.group(1).split("|"))


# ---------------------------------------------------------------- the files


def test_grammar_is_valid(grammar: dict[str, Any]) -> None:
    assert grammar["scopeName"] == "source.peel"
    assert grammar["fileTypes"] == ["peel"]
    for rx in regexes(grammar):
        re.compile(rx)
    text = TEXTMATE.read_text(encoding="utf-8")
    for ref in re.findall(r'"include":\s*"#([^"]+)"', text):
        assert ref in grammar["repository"], f"include of a missing repository entry #{ref}"


def test_vscode_extension_files() -> None:
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    lang, = package["contributes"]["languages"]
    gram, = package["contributes"]["grammars"]
    assert lang["id"] == gram["language"] == "peel" and lang["extensions"] == [".peel"]
    assert gram["scopeName"] == "source.peel"
    # the extension ships its own copy of the grammar (an extension cannot reach outside its folder)
    assert (VSCODE / gram["path"]).read_bytes() == TEXTMATE.read_bytes(), \
        "copy editors/textmate/peel.tmLanguage.json to editors/vscode/syntaxes/"
    config = json.loads((VSCODE / lang["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    assert {"open": '"', "close": '"', "notIn": ["string", "comment"]} in config["autoClosingPairs"]


# ---------------------------------------------------------------- no drift from the lark grammar and peelrules


def test_lark_literals_are_read_right() -> None:
    assert {"framework", "cause_of_concern", "otherwise", "exceeded", "true", "is"} <= set(KEYWORDS)
    assert {">=", "!=", "{", "(", "[", ",", ":", ".", "="} <= set(SYMBOLS)
    # the same set lark itself builds from the grammar
    from lark.lexer import PatternStr
    assert lark_literals() == {t.pattern.value for t in parser().terminals if isinstance(t.pattern, PatternStr)}


@pytest.mark.parametrize("word", KEYWORDS)
def test_every_keyword_is_highlighted(grammar: dict[str, Any], word: str) -> None:
    hits = [p for p in patterns_of(grammar, "keywords") if (m := re.search(p, f" {word} ")) and m.group(0) == word]
    assert hits, f"keyword '{word}' of grammar/peel.lark is not matched by the TextMate keyword patterns"
    for p in hits:
        assert not re.search(p, f"{word}_x"), "a keyword pattern matches inside a longer name"


def test_no_keyword_pattern_names_a_word_the_grammar_lacks(grammar: dict[str, Any]) -> None:
    listed = set().union(*(alternatives(p) for p in patterns_of(grammar, "keywords")))
    assert listed == set(KEYWORDS)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_every_symbol_is_highlighted(grammar: dict[str, Any], symbol: str) -> None:
    pats = patterns_of(grammar, "operators") + patterns_of(grammar, "punctuation")
    assert any((m := re.match(p, symbol)) and m.group(0) == symbol for p in pats), symbol


def test_word_lists_match_peelrules(grammar: dict[str, Any]) -> None:
    rep = grammar["repository"]
    assert alternatives(rep["grades"]["match"]) == set(GRADE_KEYS)
    assert alternatives(rep["assessments"]["match"]) == set(ASSESSMENTS)
    assert alternatives(rep["counters"]["match"]) == set(COUNTERS)
    assert alternatives(rep["functions"]["patterns"][0]["match"]) == set(FUNCTIONS)
    types = re.search(r"\(([a-z|]+)\)\\b$", rep["evidence-item"]["patterns"][0]["match"])
    assert types and set(types.group(1).split("|")) == set(EVIDENCE_TYPES)


# ---------------------------------------------------------------- how lines are scoped


class Tokenizer:
    """TextMate matching, enough for this grammar: at each position the earliest match wins, an end pattern
    before the rule's own patterns, then the patterns in order; begin/end rules carry over between lines."""

    def __init__(self, grammar: dict[str, Any]):
        self.g = grammar

    def flatten(self, patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in patterns:
            if "include" in p:
                out += self.flatten([self.g["repository"][p["include"][1:]]])
            elif "match" in p or "begin" in p:
                out.append(p)
            else:
                out += self.flatten(p["patterns"])
        return out

    def tokens(self, text: str) -> list[tuple[str, str]]:
        """(text, innermost scope) for every scoped piece of the text."""
        out: list[tuple[str, str]] = []
        stack: list[dict[str, Any]] = []
        for line in text.split("\n"):
            pos = 0
            while pos <= len(line):
                rule = stack[-1] if stack else None
                candidates = ([("end", rule)] if rule else []) + [
                    ("rule", p) for p in self.flatten(rule.get("patterns", []) if rule else self.g["patterns"])]
                best = None
                for kind, p in candidates:
                    m = re.compile(p["end"] if kind == "end" else p.get("match") or p["begin"]).search(line, pos)
                    if m and (best is None or m.start() < best[2].start()):
                        best = (kind, p, m)
                if best is None:
                    if rule and rule.get("name") and pos < len(line):
                        out.append((line[pos:], rule["name"]))
                    break
                kind, p, m = best
                if rule and rule.get("name") and m.start() > pos:
                    out.append((line[pos:m.start()], rule["name"]))
                caps = p.get("endCaptures" if kind == "end" else "beginCaptures" if "begin" in p else "captures", {})
                self.emit(out, m, p.get("name") if "match" in p else None, caps)
                if kind == "end":
                    stack.pop()
                elif "begin" in p:
                    stack.append(p)
                if m.end() > pos:
                    pos = m.end()
                elif kind != "end":  # an empty match that ends nothing: move on
                    pos += 1
        return out

    @staticmethod
    def emit(out: list[tuple[str, str]], m: re.Match[str], name: str | None, caps: dict[str, Any]) -> None:
        if name and m.group(0):
            out.append((m.group(0), name))
        for group, scope in caps.items():
            if m.group(int(group)):
                out.append((m.group(int(group)), scope["name"]))


def scopes(tokens: list[tuple[str, str]], word: str) -> list[str]:
    return [scope for text, scope in tokens if text == word]


SAMPLE = """\
# a comment with a keyword: when
framework f "F" {
  effective 2021-04-01 to 2023-03-31
}
evidence x {
  y: assessment "Y \\"quoted\\"" range 0% to 100%
  z: counts "Z"
}
let limit = 90%
ladder l {
  inadequate when concerns >= 1 or severe >= 1
  good otherwise
}
area a "A" {
  grade by l
  characteristic c "C" {
    when x.y is exceeded and x.z >= met and not d and lower(e.f) > 1.5
    exceeded when x.z in [1, 2]
    severe
  }
}
"""


def test_tokens_of_a_sample(grammar: dict[str, Any]) -> None:
    toks = Tokenizer(grammar).tokens(SAMPLE)
    assert ("# a comment with a keyword: when", "comment.line.number-sign.peel") in toks
    assert scopes(toks, "2021-04-01") == ["constant.numeric.date.peel"]
    assert scopes(toks, "90%") == ["constant.numeric.percent.peel"]
    assert scopes(toks, "1.5") == ["constant.numeric.peel"]
    assert scopes(toks, '\\"') == ["constant.character.escape.peel"] * 2
    assert scopes(toks, "assessment") == ["support.type.evidence.peel"]
    assert scopes(toks, "counts") == ["invalid.illegal.unknown-type.peel"]
    assert scopes(toks, "limit") == ["variable.other.constant.peel"]
    assert scopes(toks, "c") == ["entity.name.function.rule.peel"]
    assert scopes(toks, "characteristic") == ["storage.type.rule.peel"]
    assert scopes(toks, "l") == ["entity.name.type.ladder.peel"] * 2  # the ladder and `grade by l`
    # in a ladder, severe and met-like words are counters; elsewhere, assessment values or keywords
    assert scopes(toks, "concerns") == ["variable.language.counter.peel"]
    assert scopes(toks, "severe") == ["variable.language.counter.peel", "keyword.other.peel"]
    assert scopes(toks, "exceeded") == ["constant.language.assessment.peel", "keyword.control.peel"]
    assert scopes(toks, "met") == ["constant.language.assessment.peel"]
    assert scopes(toks, "inadequate") == ["support.constant.grade.peel"]
    assert scopes(toks, "when") == ["keyword.control.peel"] * 3
    assert scopes(toks, "lower") == ["support.function.builtin.peel"]
    assert scopes(toks, "x") == ["entity.name.namespace.peel"] + ["variable.other.object.peel"] * 3
    assert scopes(toks, ".y") == ["variable.other.property.peel"]
    assert scopes(toks, "is") == ["keyword.operator.word.peel"]
    assert scopes(toks, "not") == ["keyword.operator.logical.peel"]
    assert scopes(toks, ">=") == ["keyword.operator.comparison.peel"] * 3
    assert scopes(toks, "d") == ["variable.other.peel"]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_shipped_rules_have_nothing_marked_invalid(grammar: dict[str, Any], path: Path) -> None:
    toks = Tokenizer(grammar).tokens(path.read_text(encoding="utf-8"))
    assert not [t for t in toks if t[1].startswith("invalid")]
