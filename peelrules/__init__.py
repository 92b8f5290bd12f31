"""peelrules: graded inspection judgments from declarative rule files.

The facade: load_rules -> load_evidence -> evaluate / explain. Each stage is a plain function so tests and
the CLI can stop after any of them.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from .diagnostics import Diagnostic, PeelError
    from .evidence import Bundle
    from .lower import Parsed
    from .program import Program
    from .result import BundleResult
    from .source import SourceFile
    from .tablefacts import EngineChoice
    from .trace import AreaTrace

__version__ = "0.1.0"
__all__ = ["PeelError", "Diagnostic", "Program", "Bundle", "BundleResult", "AreaTrace",
           "Limits", "parse_rules", "check_rules", "load_rules", "load_evidence", "load_with_rules", "rules_for_evidence", "evaluate", "explain", "EngineChoice", "table_names",
           "__version__"]

# The names above that live in other modules, imported when first used: `import peelrules` (and `peel --help`)
# costs nothing of the parser, the loaders or pydantic.
_LAZY = {"PeelError": "diagnostics", "Diagnostic": "diagnostics", "Program": "program", "Bundle": "evidence",
         "BundleResult": "result", "AreaTrace": "trace", "SourceFile": "source", "EngineChoice": "tablefacts"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'peelrules' has no attribute {name!r}")


def parse_rules(sources: list[SourceFile], limits: Limits = DEFAULT_LIMITS) -> list[Parsed]:
    """Parse every file, recovering from syntax errors so that all of them are reported."""
    from .lower import parse_recovering

    return [parse_recovering(src, limits) for src in sources]


def check_rules(sources: list[SourceFile], limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and check rule sources together; raise PeelError with every syntax and check error.

    A rule set checked before (same files, engine and limits) comes from the disk cache (peelrules.cache)."""
    from .cache import cached_program

    return cached_program(sources, limits, lambda: _check_rules(sources, limits))


def _check_rules(sources: list[SourceFile], limits: Limits) -> Program:
    from .check import check

    parsed = parse_rules(sources, limits)
    lost = frozenset().union(*(p.lost_names for p in parsed)) if parsed else frozenset()
    prior = tuple(d for p in parsed for d in p.diagnostics)
    return check([p.module for p in parsed], sources, lost, prior)


def load_rules(path: str | Path | None = None, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse and check a rule set folder (or file); None means the shipped PEEL 2021/22 rules."""
    from .loader import rule_sources

    return check_rules(rule_sources(Path(path) if path is not None else None, limits), limits)


_SHIPPED: dict[tuple[str, Limits], Program] = {}
_SHIPPED_SOURCES: dict[tuple[str, Limits], list[SourceFile]] = {}


def _shipped_sources(name: str, limits: Limits) -> list[SourceFile]:
    """The files of a shipped rule set, read once per process."""
    key = (name, limits)
    if key not in _SHIPPED_SOURCES:
        from .loader import rule_sources

        _SHIPPED_SOURCES[key] = rule_sources(Path(name), limits)
    return _SHIPPED_SOURCES[key]


def shipped_program(name: str, limits: Limits = DEFAULT_LIMITS) -> Program:
    """A shipped rule set by folder name, loaded once per process."""
    key = (name, limits)
    if key not in _SHIPPED:
        _SHIPPED[key] = check_rules(_shipped_sources(name, limits), limits)
    return _SHIPPED[key]


def rules_for_evidence(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Program:
    """The shipped rule set a bundle is for (see load_with_rules)."""
    return load_with_rules(path, None, limits)[0]


def engine_problem(engine: str | EngineChoice) -> str | None:
    """Why the table engine cannot run here (pyspark or Java missing), in one line; None when it can. "duckdb"
    always can. Nothing is started."""
    name = engine if isinstance(engine, str) else engine.name
    if name == "duckdb":
        return None
    if name == "spark":
        from .spark_engine import SparkOptions, problem

        return problem(None if isinstance(engine, str) else SparkOptions(master=engine.master))
    return f"unknown engine {name!r}: use duckdb or spark"


def load_with_rules(path: str | Path, rules: str | Path | None = None,
                    limits: Limits = DEFAULT_LIMITS, engine: str | EngineChoice = "duckdb") -> tuple[Program, Bundle]:
    """Load a bundle with the rule set given, or with the shipped one it is for: that of its `framework:`, or
    else the one in force at the start of its inspection `period`; a clear error (PR314) when none is.
    The file is read and parsed once; a bundle validated before, with every file it read unchanged, comes from
    the disk cache (peelrules.cache) without being parsed at all. `engine` computes the table aggregates (duckdb,
    or spark: docs/scale.md; an EngineChoice gives Spark's master, settings and catalog tables); cache entries are
    kept apart by engine, and a bundle read with catalog tables is never cached."""
    from .loader import read_source, shipped_rule_sets
    from .tablefacts import engine_choice

    src = read_source(Path(path), None, limits)
    if rules is not None:
        program = load_rules(rules, limits)
        return program, _load_bundle(src, program, limits, engine)
    from . import cache

    choice = engine_choice(engine)
    names = shipped_rule_sets()
    keys = ["shipped", *(cache.key_of(_shipped_sources(n, limits), limits) for n in names)]
    hit = cache.cached_bundle(src, keys, limits, choice.name) if choice.cacheable else None
    if hit is not None and hit.rule_set in names:
        program = shipped_program(hit.rule_set, limits)  # type: ignore[arg-type]
        if program.framework.name == hit.bundle.framework:
            return program, hit.bundle
    from .evidence import bundle_from_data, load_yaml, recording_reads

    with recording_reads() as reads:
        raw, positions = load_yaml(src, limits)
        name = _shipped_for(src, raw, positions, limits)
        program = shipped_program(name, limits)
        bundle = bundle_from_data(src, raw, positions, program, limits, engine,
                                  store=cache.table_store(limits))
    _store(src, keys, limits, bundle, name, reads, choice)
    return program, bundle


def _load_bundle(src: SourceFile, program: Program, limits: Limits,
                 engine: str | EngineChoice = "duckdb") -> Bundle:
    """Validate one evidence file against a rule set, through the disk cache of validated bundles."""
    from . import cache
    from .tablefacts import engine_choice

    choice = engine_choice(engine)
    keys = [cache.key_of(program.sources, limits)] if program.sources and choice.cacheable else []
    hit = cache.cached_bundle(src, keys, limits, choice.name) if keys else None
    if hit is not None and hit.rule_set is None and hit.bundle.framework == program.framework.name:
        return hit.bundle
    from .evidence import load_bundle, recording_reads

    with recording_reads() as reads:
        bundle = load_bundle(src, program, limits, engine, store=cache.table_store(limits))
    if keys:
        _store(src, keys, limits, bundle, None, reads, choice)
    return bundle


def _store(src: SourceFile, keys: list[str], limits: Limits, bundle: Bundle, rule_set: str | None,
           reads: list[tuple[str, ...]], engine: EngineChoice) -> None:
    from . import cache

    if not engine.cacheable:  # catalog tables: nothing says when they change
        return
    if not any(r[0] == "unreadable" for r in reads):  # a document that could not be read: loaded afresh each time
        cache.store_bundle(src, keys, limits, bundle, rule_set, reads, engine.name)


def _shipped_for(src: SourceFile, raw: object, positions: dict, limits: Limits) -> str:
    """The name of the shipped rule set loaded evidence is for (see load_with_rules)."""
    from .diagnostics import Code, Diagnostic, PeelError
    from .facts import covers, peek_framework
    from .loader import SHIPPED_RULES, shipped_rule_sets

    name, start, span = peek_framework(raw, positions)
    if name is None and start is None:
        return SHIPPED_RULES  # the loader names what is missing
    for s in shipped_rule_sets():  # the first that fits, in name order: the sets after it are not loaded
        framework = shipped_program(s, limits).framework
        if framework.name == name if name is not None else covers(framework, start):  # type: ignore[arg-type]
            return s
    problem = (f"no shipped rule set is for framework '{name}'" if name is not None else
               f"no shipped framework was in force on {start}, when the inspection period starts")
    known = ", ".join(f"{p.framework.name} ({p.framework.effective_from} to {p.framework.effective_to})"
                      for p in (shipped_program(s, limits) for s in shipped_rule_sets()))
    raise PeelError([Diagnostic(Code.PR314, problem, span, f"shipped frameworks are: {known}; or give --rules",
                                line_text=src.line_text(span.line) if span else "")])


def table_names(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """The names of the tables a bundle declares under `tables:`, as written there (none when it declares none);
    the file is read and parsed, not validated."""
    from .evidence import load_yaml
    from .loader import read_source

    raw, _ = load_yaml(read_source(Path(path), None, limits), limits)
    tables = raw.get("tables") if isinstance(raw, dict) else None
    return [str(k) for k in tables] if isinstance(tables, dict) else []


def load_evidence(path: str | Path, program: Program, limits: Limits = DEFAULT_LIMITS,
                  engine: str | EngineChoice = "duckdb") -> Bundle:
    """Read, safely parse and validate one evidence file against the rule set's declarations (a bundle validated
    before with the same rules, with every file it read unchanged, comes from the disk cache)."""
    from .loader import read_source

    return _load_bundle(read_source(Path(path), None, limits), program, limits, engine)


@overload
def evaluate(program: Program, bundle: Bundle, *, trace: Literal[False] = False) -> BundleResult: ...


@overload
def evaluate(program: Program, bundle: Bundle, *,
             trace: Literal[True]) -> tuple[BundleResult, tuple[AreaTrace, ...]]: ...


def evaluate(program: Program, bundle: Bundle, *,
             trace: bool = False) -> BundleResult | tuple[BundleResult, tuple[AreaTrace, ...]]:
    """The judgments (with `trace`, and every area's explanation trace), from Python code generated once per rule
    set (cached by the rule files' digest). Grades and traces come from this one engine for every format; the
    reference interpreter (evaluate.Evaluator) is the oracle the tests compare it with (tests/test_compile.py)."""
    from .compile import compile_program

    compiled = compile_program(program)
    return compiled.explain(bundle) if trace else compiled.run(bundle)


def explain(program: Program, bundle: Bundle) -> tuple[BundleResult, tuple[AreaTrace, ...]]:
    """The judgments with their full trace: `evaluate(program, bundle, trace=True)`."""
    return evaluate(program, bundle, trace=True)


class _Package(types.ModuleType):
    """This package, keeping its facade functions: importing the submodule peelrules.evaluate (lazily, from any
    module) would otherwise rebind `peelrules.evaluate` from the function above to that module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "evaluate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
