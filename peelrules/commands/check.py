"""`peel check`: a rule set (parse, check, lint, and with --strict or --reach the reachability analysis), or an
evidence bundle against the rule set it is for."""
from __future__ import annotations

import gc
import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..diagnostics import Diagnostic, PeelError, Severity, render_all
from . import EXIT_FAILED, EXIT_INPUT, EXIT_OK, IO


@dataclass(frozen=True)
class CheckOptions:
    rules: Path | None = None  # a rule set folder or file, or an evidence bundle (.yaml, .yml, .json)
    rules_dir: Path | None = None  # with a bundle: the rule set to check it against
    strict: bool = False
    show_reach: bool = False
    fmt: str = "text"  # text or json


def _is_bundle(path: Path | None) -> bool:
    return path is not None and path.suffix in (".yaml", ".yml", ".json") and not path.is_dir()


def _strictly(diags: list[Diagnostic], strict: bool) -> list[Diagnostic]:
    return [replace(d, severity=Severity.ERROR) for d in diags] if strict else diags


def _report_json(io: IO, diags: list[Diagnostic], errors: list[Diagnostic], extra: dict[str, object]) -> None:
    io.print(json.dumps({"ok": not errors, "diagnostics": [d.to_json() for d in diags], **extra}, indent=2,
                        sort_keys=True))


def run_check(opts: CheckOptions, io: IO) -> int:
    if _is_bundle(opts.rules):
        return run_check_bundle(opts, io)
    from .. import load_rules
    from ..lint import lint
    from ..reach import reach_json, reach_warnings, reachability
    from ..report import text as text_report

    reach = None
    # The garbage collector is off while the rule set is parsed, checked and linted: that makes a few objects for
    # every token and node and keeps most of them, none in a cycle to speak of, and the collector's passes over
    # them were a third of a 10,000-rule check (bench/README.md, (c)). It is on again before the report.
    collecting = gc.isenabled()
    gc.disable()
    try:
        program = load_rules(opts.rules if opts.rules_dir is None else opts.rules_dir, io.limits)
        diags = lint(program)
        if opts.strict or opts.show_reach:
            reach = reachability(program)
            diags = sorted(diags + reach_warnings(program, reach), key=Diagnostic.sort_key)
    except PeelError as err:
        diags = err.diagnostics
        program = None
    finally:
        if collecting:
            gc.enable()
    diags = _strictly(diags, opts.strict)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    unreadable = any(d.code.startswith("PR4") for d in errors)
    if opts.fmt == "json":
        _report_json(io, diags, errors, {"reachability": reach_json(reach)} if reach is not None else {})
    else:
        if diags:
            io.say(render_all(diags, io.limits.max_errors))
            io.counts(len(errors), len(diags) - len(errors))
        if program is not None and not errors:
            n_rules = sum(len(a.rules) for a in program.areas)
            io.print(f"ok: {len(program.sources)} files, {len(program.areas)} areas, {n_rules} rules, "
                     f"{len(program.decls)} evidence items")
        if reach is not None:
            io.print(text_report.reachability(reach))
    return EXIT_INPUT if unreadable else EXIT_FAILED if errors else EXIT_OK


def run_check_bundle(opts: CheckOptions, io: IO) -> int:
    """`peel check EVIDENCE`: the bundle loads, and warnings about secondary sources, contradictions and
    grades that differ from the report's own judgments."""
    from .. import load_with_rules
    from ..audit import audit
    from ..loader import read_source

    assert opts.rules is not None
    try:
        program, bundle = load_with_rules(opts.rules, opts.rules_dir, io.limits)
        diags = audit(program, bundle, read_source(opts.rules, None, io.limits))
    except PeelError as err:
        diags = list(err.diagnostics)
        bundle = None
    diags = _strictly(diags, opts.strict)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if opts.fmt == "json":
        _report_json(io, diags, errors, {})
    else:
        if diags:
            io.say(render_all(diags, io.limits.max_errors))
            io.counts(len(errors), len(diags) - len(errors))
        if bundle is not None and not errors:
            io.print(f"ok: {bundle.file}: {len(bundle.facts)} facts, {sum(map(len, bundle.findings.values()))} "
                     f"findings in {len(bundle.findings)} areas")
    return EXIT_INPUT if bundle is None else EXIT_FAILED if errors else EXIT_OK
