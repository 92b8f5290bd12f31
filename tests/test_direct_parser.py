"""The direct parser (lower._direct) against lark's tree and _Lower: the same nodes, spans and clauses included,
on every rule file of the repository and on mutations of them; where it is unsure it must leave the file to lark."""
from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from peelrules import lower
from peelrules.diagnostics import PeelError
from peelrules.limits import Limits
from peelrules.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in ROOT.glob("**/*.peel") if ".venv" not in p.parts)


def dump(x: object) -> object:
    """Every field, spans and clauses too (equality of nodes ignores spans)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple((f.name, dump(getattr(x, f.name))) for f in dataclasses.fields(x))
    if isinstance(x, (list, tuple)):
        return tuple(dump(i) for i in x)
    return (type(x).__name__, x)


def agree(src: SourceFile, limits: Limits = Limits()) -> bool:
    """True when the direct parser built the module, which then equals lark's; False when it left it to lark."""
    try:
        slow = dump(lower.parse_with_lark(src, limits))
    except PeelError:
        slow = None
    try:
        fast = lower.parse_direct(src, limits)
    except PeelError:
        assert slow is None
        return False
    if fast is None:
        return False
    assert slow is not None, f"the direct parser accepted what lark refuses: {src.text!r}"
    assert dump(fast) == slow
    return True


def test_files_found() -> None:
    assert len(FILES) > 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_nodes_as_lark(path: Path) -> None:
    agree(SourceFile(str(path), path.read_text(encoding="utf-8").replace("\r\n", "\n")))


def test_shipped_rules_take_the_direct_path() -> None:
    for path in sorted((ROOT / "rules").glob("*/*.peel")):
        assert agree(SourceFile(path.name, path.read_text(encoding="utf-8")))


def test_spans_of_parentheses_and_deep_limits() -> None:
    text = ('framework f "t" { version "1" }\nlet a = ((1 + 2)) * (3)\n'
            'area x "X" {\n  ungraded\n  characteristic c "C" {\n    when not (a > 1) and (true)\n  }\n}\n')
    assert agree(SourceFile("p.peel", text))
    assert agree(SourceFile("p.peel", "let a = " + "(" * 150 + "1" + ")" * 150 + "\n"))  # no deeper in lark
    deep = "let a = " + "- " * 150 + "1\n"
    assert not agree(SourceFile("d.peel", deep))  # past max_expr_depth: lark's path reports it
    assert agree(SourceFile("d.peel", deep), Limits(max_expr_depth=500))
    assert not agree(SourceFile("n.peel", "let a = \u0661\u0662\n"))  # Arabic-Indic digits: lark's path


def test_depth_limit_at_its_edge_as_lark() -> None:
    """Nodes of one child (an argument list, a parenthesised list of options) over an expression at the depth
    limit: the direct parser builds exactly the files lark accepts, and leaves the others to it."""
    limits = Limits(max_expr_depth=40)
    for k in range(30, 45):
        for text in (f"let a = f({'- ' * k}1)\n", f"let a = 1 in ({'- ' * k}1)\n", f"let a = {'- ' * k}1\n"):
            src = SourceFile("e.peel", text)
            try:
                lower.parse_with_lark(src, limits)
                lark_builds = True
            except PeelError:
                lark_builds = False
            assert agree(src, limits) == lark_builds, (k, text)


@pytest.mark.parametrize("seed", range(6))
def test_mutations_agree_or_fall_back(seed: int) -> None:
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in FILES if p.stat().st_size < 20_000]
    pieces = [" ", "\n", "(", ")", "{", "}", "unit", "and", "andy", "in", "is not", "-", "90%", "2021-01-01",
              '"x"', "#", ",", ".", "when", "severe", "byx", "==", "=", "1.5", "otherwise", "where"]
    for _ in range(60):
        text = rng.choice(texts)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text) + 1)
            j = min(len(text), i + rng.randint(0, 6))
            text = text[:i] + rng.choice(pieces) + text[j:]
        agree(SourceFile("m.peel", text))
