"""The import layering of STYLE.md: a module imports only from layers below it; the core stays pure."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "peelrules"

LAYERS: dict[str, int] = {
    "source": 1, "grades": 1, "values": 0, "limits": 1, "stats": 1, "vocabulary": 0, "tablefacts": 1,
    "peerfacts": 2,
    "diagnostics": 2, "findings": 2, "estimates": 2, "nodes": 2, "syntax": 2, "result": 2, "tables": 2,
    "plan": 3, "unparse": 3, "symbols": 3, "facts": 3, "program": 3, "trace": 3, "loader": 3, "output": 3, "aggregates": 3, "peers": 3,
    "ladder_grid": 3, "spark_engine": 3,
    "analysis": 4, "lower": 4, "evidence": 4, "cache": 4, "tracer": 4,
    "check": 5, "code_cache": 5, "evaluate": 5, "fmt": 5, "comparators": 5, "judgments": 5,
    "compile": 6, "lint": 6, "whynot": 6, "audit": 6,
    "__init__": 7, "reach": 7,
    "ruletests": 8, "compare": 8,
    "report": 9, "batch": 9,
    "template": 10, "verify": 10,
    "commands": 11, "lsp": 11,
    "cli": 12,
}
# third-party packages and the only modules allowed to import them
ALLOWED_THIRD_PARTY = {
    "lark": {"syntax", "lower"},
    "yaml": {"evidence"},
    "pydantic": {"evidence", "aggregates"},
    "click": {"cli"},
    "rich": {"commands"},
    "pygls": {"lsp"},
    "lsprotocol": {"lsp"},
    "jsonschema": set(),
    "matplotlib": {"report"},
    "duckdb": {"tables"},
    "sqlglot": {"tables"},
    "numpy": {"ladder_grid"},
    "pyspark": {"spark_engine"},
    "platformdirs": {"cache"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path) -> set[str]:
    """peelrules modules and top-level third-party packages imported by a file (including under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth_pkg = len(path.relative_to(PKG).parts) - 1
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                out.add(f"ext:{(node.module or '').split('.')[0]}")
                continue
            up = node.level - 1 - depth_pkg
            if up > 0:
                raise AssertionError(f"{path} imports above the package")
            parts = (node.module or "").split(".") if node.module else []
            if depth_pkg and node.level == 1:
                parts = [path.relative_to(PKG).parts[0]] + parts
            if parts and parts[0]:
                out.add(parts[0])
                continue
            base = PKG if node.level - 1 == depth_pkg else path.parent
            for alias in node.names:
                is_module = (base / f"{alias.name}.py").exists() or (base / alias.name).is_dir()
                if is_module:
                    out.add(alias.name if base == PKG else base.name)
                else:
                    out.add("__init__" if base == PKG else base.name)
        elif isinstance(node, ast.Import):
            out.update(f"ext:{alias.name.split('.')[0]}" for alias in node.names)
    return out


def test_every_module_has_a_layer() -> None:
    for path in PKG.rglob("*.py"):
        assert module_name(path) in LAYERS, f"add {module_name(path)} to LAYERS in tests/test_layers.py"


def test_imports_only_go_down() -> None:
    for path in PKG.rglob("*.py"):
        me = module_name(path)
        for imp in imports(path):
            if imp.startswith("ext:"):
                pkg = imp[4:]
                if pkg in ALLOWED_THIRD_PARTY:
                    assert me in ALLOWED_THIRD_PARTY[pkg], f"{path.name} imports {pkg}"
                continue
            if imp == me:
                continue  # inside one package folder (report/)
            assert imp in LAYERS, f"{path} imports unknown module {imp}"
            assert LAYERS[imp] < LAYERS[me], f"{path} (layer {LAYERS[me]}) imports {imp} (layer {LAYERS[imp]})"


def test_core_never_prints_or_exits() -> None:
    for path in PKG.rglob("*.py"):
        if module_name(path) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "exit", "quit"), f"{path}:{node.lineno} calls {node.func.id}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert not (node.value.id == "sys" and node.attr == "exit"), f"{path}:{node.lineno} sys.exit"
