"""Diagnostic codes are declared once, as the members of diagnostics.Code, and named, never spelt, everywhere
else: no string in peelrules/ outside the registry holds a code, every `Code.X` a module names is declared,
every declared code is used somewhere, and docs/diagnostics.md's table lists exactly the declared codes."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from peelrules.diagnostics import CODES, Code

from conftest import ROOT, code_uses

PACKAGE = ROOT / "peelrules"
REGISTRY = PACKAGE / "diagnostics.py"
MODULES = sorted(path for path in PACKAGE.rglob("*.py") if path != REGISTRY)
A_CODE = re.compile(r"PR\d{3}")


def _docstrings(tree: ast.Module) -> set[ast.AST]:
    """The docstring nodes of a module and of its classes and functions (they may name codes: they are prose)."""
    return {body[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and (body := node.body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)}


def _spelt_codes(source: str) -> list[tuple[int, str]]:
    """Each code held by a string (or a piece of an f-string) of a module, with its line; docstrings aside."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    return [(node.lineno, code) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node not in prose
            for code in A_CODE.findall(node.value)]


def _where(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _uses() -> dict[str, list[str]]:
    """Every `Code.X` the package names, with the file:line of each use."""
    found: dict[str, list[str]] = {}
    for path in MODULES:
        for name, lines in code_uses(path).items():
            found.setdefault(name, []).extend(f"{_where(path)}:{line}" for line in lines)
    return found


def test_no_code_is_spelt_as_a_string_outside_the_registry() -> None:
    spelt = [f"{_where(path)}:{line}: {code}" for path in MODULES
             for line, code in _spelt_codes(path.read_text(encoding="utf-8"))]
    assert spelt == [], "write Code.PRnnn (from peelrules.diagnostics), not the string"


def test_the_scans_see_a_spelt_code_and_a_named_one(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text('"""Reports PR101: a docstring may name a code."""\n'
                      'def f(x):\n'
                      '    """So may this one: PR102."""\n'
                      '    return Diagnostic("PR103", f"error[PR104]: {x}"), Code.PR105, diagnostics.Code.PR106\n',
                      encoding="utf-8")
    assert sorted(_spelt_codes(module.read_text(encoding="utf-8"))) == [(4, "PR103"), (4, "PR104")]
    assert code_uses(module) == {"PR105": [4], "PR106": [4]}


def test_every_code_a_module_names_is_declared() -> None:
    unknown = {name: sites for name, sites in _uses().items() if name not in Code.__members__}
    assert unknown == {}, "declare these codes in diagnostics.Code (and document them in docs/diagnostics.md)"


def test_every_declared_code_is_used_somewhere() -> None:
    assert sorted(set(Code.__members__) - set(_uses())) == []


def test_each_code_is_named_for_its_value_and_has_a_meaning() -> None:
    assert [code.name for code in Code] == [code.value for code in Code]
    assert all(A_CODE.fullmatch(code) and code.meaning for code in Code)
    assert CODES == {code.value: code.meaning for code in Code}


def test_the_documented_table_lists_the_declared_codes() -> None:
    table = re.findall(r"^\| \[(PR\d{3})\]\(#[^)]*\) \| (.*?) \|$", (ROOT / "docs" / "diagnostics.md").read_text(
        encoding="utf-8"), re.MULTILINE)
    assert sorted(code for code, _ in table) == sorted(Code)
