"""Diagnostic codes come from one registry (diagnostics.CODES): every code the package raises is registered,
every registered code is raised somewhere, and docs/diagnostics.md's table lists exactly the registered codes."""
from __future__ import annotations

import re

from peelrules.diagnostics import CODES

from conftest import ROOT

PACKAGE = ROOT / "peelrules"
LITERAL = re.compile(r'"(PR\d{3})"')


def raised() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "diagnostics.py":
            continue
        for code in LITERAL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(path.relative_to(ROOT).as_posix())
    return found


def test_every_code_the_package_raises_is_registered() -> None:
    unknown = {code: files for code, files in raised().items() if code not in CODES}
    assert unknown == {}, "add these codes to diagnostics.CODES (and docs/diagnostics.md)"


def test_every_registered_code_is_raised_somewhere() -> None:
    assert sorted(set(CODES) - set(raised())) == []


def test_the_documented_table_lists_the_registered_codes() -> None:
    table = re.findall(r"^\| \[(PR\d{3})\]\(#[^)]*\) \| (.*?) \|$", (ROOT / "docs" / "diagnostics.md").read_text(
        encoding="utf-8"), re.MULTILINE)
    assert sorted(code for code, _ in table) == sorted(CODES)
