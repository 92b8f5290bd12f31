"""peelrules: graded inspection judgments from declarative rule files.

The facade: load_rules -> load_evidence -> evaluate / explain. Each stage is a plain function so tests and
the CLI can stop after any of them.
"""
from __future__ import annotations

from pathlib import Path

from .check import check
from .diagnostics import Diagnostic, PeelError
from .evaluate import Evaluator
from .evidence import Bundle, load_bundle
from .loader import read_source, rule_sources
from .lower import parse_source
from .nodes import Module
from .program import Program
from .result import BundleResult
from .source import SourceFile
from .trace import AreaTrace

__version__ = "0.1.0"
__all__ = ["PeelError", "Diagnostic", "Program", "Bundle", "BundleResult", "AreaTrace",
           "parse_rules", "load_rules", "load_evidence", "evaluate", "explain", "__version__"]


def parse_rules(sources: list[SourceFile]) -> list[Module]:
    """Parse every file; collect the syntax errors of all files before failing."""
    modules, diags = [], []
    for src in sources:
        try:
            modules.append(parse_source(src))
        except PeelError as err:
            diags.extend(err.diagnostics)
    if diags:
        raise PeelError(diags)
    return modules


def load_rules(path: str | Path | None = None) -> Program:
    """Parse and check a rule set folder (or file); None means the shipped PEEL 2021/22 rules."""
    sources = rule_sources(Path(path) if path is not None else None)
    return check(parse_rules(sources), sources)


def load_evidence(path: str | Path, program: Program) -> Bundle:
    return load_bundle(read_source(Path(path)), program)


def evaluate(program: Program, bundle: Bundle) -> BundleResult:
    return Evaluator(program).run(bundle)[0]


def explain(program: Program, bundle: Bundle) -> tuple[BundleResult, tuple[AreaTrace, ...]]:
    return Evaluator(program).run(bundle, trace=True)
