"""peelrules: graded inspection judgments from declarative rule files.

The facade: load_rules -> load_evidence -> evaluate / explain. Each stage is a plain function so tests and
the CLI can stop after any of them.
"""
from __future__ import annotations

from pathlib import Path

from .check import check
from .diagnostics import Diagnostic, PeelError
from .compile import compile_program
from .evaluate import Evaluator
from .evidence import Bundle, load_bundle
from .limits import DEFAULT_LIMITS, Limits
from .loader import read_source, rule_sources
from .lower import Parsed, parse_recovering
from .program import Program
from .result import BundleResult
from .source import SourceFile
from .trace import AreaTrace

__version__ = "0.1.0"
__all__ = ["PeelError", "Diagnostic", "Program", "Bundle", "BundleResult", "AreaTrace",
           "Limits", "parse_rules", "check_rules", "load_rules", "load_evidence", "evaluate", "explain", "__version__"]


def parse_rules(sources: list[SourceFile], limits: Limits = DEFAULT_LIMITS) -> list[Parsed]:
    """Parse every file, recovering from syntax errors so that all of them are reported."""
    return [parse_recovering(src, limits) for src in sources]


def check_rules(sources: list[SourceFile], limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and check rule sources together; raise PeelError with every syntax and check error."""
    parsed = parse_rules(sources, limits)
    lost = frozenset().union(*(p.lost_names for p in parsed)) if parsed else frozenset()
    prior = tuple(d for p in parsed for d in p.diagnostics)
    return check([p.module for p in parsed], sources, lost, prior)


def load_rules(path: str | Path | None = None, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and check a rule set folder (or file); None means the shipped PEEL 2021/22 rules."""
    return check_rules(rule_sources(Path(path) if path is not None else None, limits), limits)


def load_evidence(path: str | Path, program: Program, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """Read, safely parse and validate one evidence file against the rule set's declarations."""
    return load_bundle(read_source(Path(path), None, limits), program, limits)


def evaluate(program: Program, bundle: Bundle) -> BundleResult:
    """The judgments, from Python code generated once per rule set (cached by the rule files' digest)."""
    return compile_program(program).run(bundle)


def explain(program: Program, bundle: Bundle) -> tuple[BundleResult, tuple[AreaTrace, ...]]:
    """The judgments with their full trace, from the reference evaluator (tracing costs nothing elsewhere)."""
    return Evaluator(program).run(bundle, trace=True)
