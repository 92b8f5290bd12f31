"""The cached lark parser for grammar/peel.lark, and readable words for its terminals."""
from __future__ import annotations

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
