"""The checker, driven by data: each file in tests/errors marks its expected errors with `#! CODE`."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import peelrules
from peelrules.diagnostics import PeelError, render

ERRORS = Path(__file__).resolve().parent / "errors"
MARK = re.compile(r"#!\s*(PR\d{3})")


def expected(path: Path) -> list[tuple[int, str]]:
    out = []
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        out += [(row, code) for code in MARK.findall(line)]
    return sorted(out)


@pytest.mark.parametrize("path", sorted(ERRORS.glob("*.peel")), ids=lambda p: p.name)
def test_error_corpus(path: Path) -> None:
    with pytest.raises(PeelError) as info:
        peelrules.load_rules(path)
    diags = info.value.diagnostics
    assert sorted((d.span.line, d.code) for d in diags if d.span) == expected(path)
    for d in diags:
        text = render(d)
        assert f"{path}:{d.span.line}:{d.span.column}: error[{d.code}]" in text
        assert "^" in text, "every error shows a caret under the source line"
        assert d.hint, f"{d.code} at line {d.span.line} has no hint"
        assert "__ANON" not in text and "Token(" not in text


def test_did_you_mean_comes_from_the_symbol_table() -> None:
    with pytest.raises(PeelError) as info:
        peelrules.load_rules(ERRORS / "names.peel")
    hints = {d.span.line: d.hint for d in info.value.diagnostics}
    assert "calls.answered" in hints[8]
    assert "standard" in hints[9]
    assert "ladders are: l" in hints[14]


def test_caret_sits_under_the_offending_token() -> None:
    with pytest.raises(PeelError) as info:
        peelrules.load_rules(ERRORS / "acceptance.peel")
    by_code = {d.code: d for d in info.value.diagnostics}
    lines = render(by_code["PR203"]).splitlines()
    source, caret = lines[2], lines[3]
    start = caret.index("^")
    assert source[start:start + caret.count("^")] == "calls.answerd"


def test_cycle_names_its_path() -> None:
    with pytest.raises(PeelError) as info:
        peelrules.load_rules(ERRORS / "structure.peel")
    cycles = [d.message for d in info.value.diagnostics if d.code == "PR205" and "rules" in d.message]
    assert len(cycles) == 1
    assert all(f"contact.{r}" in cycles[0] for r in "abc")


def test_shipped_rules_check(shipped: peelrules.Program) -> None:
    assert len(shipped.areas) >= 3
    assert all(r.cite for a in shipped.areas for r in a.rules), "every shipped rule has a cite"
