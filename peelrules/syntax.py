"""The cached lark parser for grammar/peel.lark, and readable words for its terminals."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

# Words for the named terminals of the grammar; keyword and punctuation terminals are shown as written.
TOKEN_WORDS: dict[str, str] = {
    "NAME": "a name (lower case letters, digits and _)",
    "STRING": 'quoted text ("...")',
    "NUMBER": "a number",
    "PERCENT": "a percentage such as 90%",
    "DATE": "a date such as 2022-05-31",
    "TIMESTAMP": "a timestamp such as 2021-07-01T00:00:00",
    "$END": "the end of the file",
}


def grammar_text() -> str:
    """The grammar shipped in the wheel (peelrules.grammar), or grammar/ beside a source checkout."""
    from .source import package_folder

    folder = package_folder("peelrules.grammar")
    if folder is not None and (folder / "peel.lark").is_file():
        return (folder / "peel.lark").read_text(encoding="utf-8")
    try:
        from importlib import resources  # installed some other way (a zip)

        return resources.files("peelrules.grammar").joinpath("peel.lark").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parent.parent / "grammar" / "peel.lark").read_text(encoding="utf-8")


# Where lark keeps its parse tables between runs: set by peelrules.cache to a file in the user's private cache
# folder when that folder is trusted; False (build the tables afresh) otherwise. Never lark's default place, a
# shared temporary folder that another user could write to.
GRAMMAR_CACHE: str | bool = False


def use_grammar_cache(path: str | bool) -> None:
    global GRAMMAR_CACHE
    GRAMMAR_CACHE = path


@lru_cache(maxsize=1)
def parser() -> Lark:
    from lark import Lark  # imported when a rule file is parsed, not when a cached program is used

    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False, cache=GRAMMAR_CACHE)


@lru_cache(maxsize=1)
def _terminal_words() -> dict[str, str]:
    from lark.lexer import PatternStr

    words = dict(TOKEN_WORDS)
    for term in parser().terminals:
        if isinstance(term.pattern, PatternStr):
            words[term.name] = f"`{term.pattern.value}`"
    return words


def describe_terminal(name: str) -> str:
    return _terminal_words().get(name, name.lower())


def describe_expected(names: set[str] | frozenset[str]) -> str:
    words = sorted({describe_terminal(n) for n in names})
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    if len(words) > 12:
        words = words[:12] + ["..."]
    return ", ".join(words[:-1]) + " or " + words[-1]


@dataclass(frozen=True)
class RuleShape:
    """One grammar rule as the table-driven parser in lower.py reduces it (read from lark's own rules).

    `include` lists the positions of the children lark keeps in its tree (anonymous keywords and punctuation are
    dropped) and whether each is a helper list (`__x_star_n`, spliced into its parent); `kind` says what a
    reduction makes: "pass" (a `?rule` alternative of one kept child, which lark inlines), "list" (a helper) or
    "tree" (a node named `name`, the alternative's alias or the rule's name)."""

    name: str
    origin: str
    size: int
    include: tuple[tuple[int, bool], ...]
    kind: str


@dataclass(frozen=True)
class Tables:
    """lark's LALR tables and terminals as plain data, for lower.py's parser that builds nodes as it reduces.

    `actions[state][symbol]` is a shifted (or, for a rule's name, gone-to) state when >= 0, and `~i` to reduce
    by `rules[i]`. `token` matches one token after any white space and comments: a word (`_WORD`), another
    terminal (a named group each), the end of the text (`_END`) or a character no terminal starts with (`_BAD`).
    A word is a `reserved` keyword, or else a NAME, except that lark's contextual lexer reads a word in
    `keywords` as that keyword where the parser can take the keyword there."""

    actions: dict[int, dict[str, int]]
    rules: tuple[RuleShape, ...]
    start: int
    end: int
    token: re.Pattern[str]
    keywords: dict[str, str]
    reserved: dict[str, str]


def tables() -> Tables:
    """The tables of parser() (built with it, and read from lark's grammar cache like it)."""
    return _tables(parser())


@lru_cache(maxsize=1)
def _tables(lark: Lark) -> Tables:
    from lark.lexer import PatternStr

    table = lark.parser.parser.parser.parse_table  # ParsingFrontend -> LALR_Parser -> _Parser
    rules: dict[object, int] = {}
    shapes: list[RuleShape] = []
    actions: dict[int, dict[str, int]] = {}
    for state, row in table.states.items():
        out: dict[str, int] = {}
        for symbol, (action, arg) in row.items():
            if action.name == "Shift":
                out[symbol] = arg
                continue
            if arg not in rules:
                rules[arg] = len(shapes)
                shapes.append(_shape(arg))
            out[symbol] = ~rules[arg]
        actions[state] = out
    terminals = list(lark.terminals)
    by_name = {t.name: t for t in terminals}
    name = by_name["NAME"].pattern.to_regexp()
    word = "[a-z_][a-z0-9_]*"
    assert name.endswith(")" + word), name  # NAME is a word that is not a reserved one
    name_re = re.compile(name)
    strings = [t for t in terminals if isinstance(t.pattern, PatternStr)]
    # words that NAME also matches: a keyword where the parser can take it (lark's contextual lexer), else a NAME
    keywords = {t.pattern.value: t.name for t in strings if name_re.fullmatch(t.pattern.value)}
    # words that NAME never matches: always the keyword
    reserved = {t.pattern.value: t.name for t in strings
                if re.fullmatch(word, t.pattern.value) and t.pattern.value not in keywords}
    ignore = set(lark.lexer_conf.ignore)
    assert ignore == {"WS", "COMMENT"}, ignore  # the characters _BAD excludes below
    # Every other terminal in lark's order (priority, then width): the order decides only between terminals that
    # can start at the same character (DATE before NUMBER, `>=` before `>`), as words are one group.
    rest = [t for t in terminals if t.name not in ignore and t.name != "NAME" and t.pattern.value not in keywords
            and t.pattern.value not in reserved]
    rest.sort(key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
    skipped = []
    for t in sorted(ignore):
        regexp = by_name[t].pattern.to_regexp()
        assert regexp.endswith(("+", "*")), regexp
        skipped.append(regexp + "+")  # possessive: never given back, so nothing backtracks
    # What is ignored goes before each token; at the end of the file it is followed by _END (an empty match, so
    # trailing white space costs one pass); _BAD is any other character that no terminal starts with.
    pattern = (f"(?:{'|'.join(skipped)})*+(?:(?P<_WORD>{word})|"
               + "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in rest)
               + r"|(?P<_END>\Z)|(?P<_BAD>[^ \t\f\r\n#]))")
    return Tables(actions, tuple(shapes), table.start_states["start"], table.end_states["start"],
                  re.compile(pattern, lark.lexer_conf.g_regex_flags), keywords, reserved)


def _shape(rule) -> RuleShape:  # type: ignore[no-untyped-def]
    keep_all = rule.options.keep_all_tokens
    include = tuple((i, not sym.is_term and sym.name.startswith("_")) for i, sym in enumerate(rule.expansion)
                    if keep_all or not (sym.is_term and sym.filter_out))
    origin = rule.origin.name
    if origin.startswith("_"):
        kind = "list"
    elif rule.options.expand1 and not rule.alias and len(include) == 1:
        kind = "pass"
    else:
        kind = "tree"
    return RuleShape(str(rule.alias or origin), str(origin), len(rule.expansion), include, kind)
