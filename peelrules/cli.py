"""The `peel` command: options -> facade -> renderer -> exit code. Nothing else lives here.

Exit codes: 0 ok; 1 the checked thing failed (check errors, failing rule tests); 2 bad usage or unreadable input
(in a batch: some bundles could not be graded; the others are reported); 3 internal error; 130 interrupted.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import __version__, cache, explain, load_evidence, load_rules, load_with_rules
from .diagnostics import Diagnostic, PeelError, Severity, render_all, safe
from .grades import GRADE_KEYS, Grade, Status
from .limits import DEFAULT_LIMITS, Limits
from .output import write_atomic
from .source import Span

# Each command imports the modules it needs when it runs (the parser, the loaders, the reports, the analyses),
# so that `peel --help` and a run from a cached program load nothing else.

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EXIT_HELP = ("Exit codes: 0 ok; 1 the checked thing failed; 2 bad usage or unreadable input (in a batch: some "
             "bundles could not be graded, the others are reported); "
             "3 internal error (a bug in peelrules: please report it with the input); 130 interrupted (Ctrl-C).")
class _PathType(click.Path):
    """Every path argument and option: a Path, and an empty one ('') refused as a usage error (exit 2)
    instead of being read as the current folder."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if isinstance(value, str) and not value:
            self.fail("the path is empty: give the name of a file or folder", param, ctx)
        return super().convert(value, param, ctx)  # type: ignore[no-any-return]


PATH = _PathType(path_type=Path)
RULES_OPTION = click.option("--rules", "rules", type=PATH, default=None,
                            help="Rule set folder (default: the shipped PEEL 2021/22 rules).")


def _fail(err: PeelError, code: int) -> None:
    click.echo(render_all(err.diagnostics, _limits().max_errors), err=True)
    n = sum(1 for d in err.diagnostics if d.severity.value == "error")
    click.echo(f"\n{n} error{'s' if n != 1 else ''}.", err=True)
    sys.exit(code)


JOBS_OPTION = click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True,
                           help="Worker processes for a batch (0: one per CPU); the output is the same for any N.")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary table on stderr.")


@contextlib.contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int, int, Path], None] | None]:
    """A progress callback drawing a bar on stderr for a batch of more than 5 when stderr is a terminal.

    The bar is redrawn by the callback, at most ten times a second, never by a thread (batch workers fork)."""
    if quiet or total <= 5 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[item]}"), console=Console(stderr=True), auto_refresh=False,
                  transient=True) as bar:
        task = bar.add_task(label, total=total, item="")
        shown = [0.0]

        def step(done: int, total: int, path: Path) -> None:
            bar.update(task, completed=done, item=safe(str(path))[-40:])
            if time.monotonic() - shown[0] >= 0.1 or done == total:
                shown[0] = time.monotonic()
                bar.refresh()

        bar.refresh()
        yield step


def _batch_end(batch: Any, quiet: bool) -> int:
    """Each failed bundle's errors, then the summary table of a batch of more than one, on stderr; the exit code."""
    limit = _limits().max_errors
    budget = limit  # errors printed across the whole batch, so that 10,000 bad bundles do not flood stderr
    for shown, o in enumerate(batch.failures):
        if budget <= 0:
            left = len(batch.failures) - shown
            click.echo(f"... and {left:,} more failed bundle{'s' if left != 1 else ''}, not shown: at most "
                       f"{limit:,} errors are printed for a batch (change it with --limit max_errors=N)\n", err=True)
            break
        diags = list(o.failure.diagnostics)
        click.echo(render_all(diags, budget) + "\n", err=True)
        budget -= max(1, sum(1 for d in diags if d.severity is Severity.ERROR))
    summary = batch.summary
    if not quiet and summary.bundles > 1:
        heads, rows = summary.table()
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.table import Table

            table = Table(title=summary.line(), title_justify="left")
            table.add_column(heads[0], no_wrap=True, overflow="ellipsis", max_width=40)
            for head in heads[1:]:
                table.add_column(head, justify="right")
            for row in rows:
                table.add_row(*row)
            Console(stderr=True).print(table)
        else:
            widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
            lines = [summary.line(), *("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                                 for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                                       for r in [heads, *rows])]
            click.echo("\n".join(lines), err=True)
    if any(o.failure.kind == "internal" for o in batch.failures):
        return EXIT_INTERNAL
    return EXIT_INPUT if batch.failures else EXIT_OK


def _document_report(fmt: str):  # noqa: ANN202 - the module peelrules.report.markdown or .html
    """The renderer of a whole-document format, imported only when asked for (html needs matplotlib)."""
    if fmt == "md":
        from .report import markdown

        return markdown
    from .report import html

    return html


def _emit(text: str, out: Path | None, inputs: list[Path]) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out, text, inputs)


LIMIT_NAMES = [f.name for f in dataclasses.fields(Limits)]


def _parse_limits(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Limits:
    """`--limit NAME=VALUE` (repeatable): raise or lower one input limit for this run (docs/limits.md)."""
    changes: dict[str, int] = {}
    for item in values:
        name, _, value = item.partition("=")
        if name not in LIMIT_NAMES or not value.isdigit() or int(value) < 1:
            raise click.BadParameter(f"{safe(item)!r}: give NAME=N with N a whole number of at least 1 and NAME "
                                     f"one of {', '.join(LIMIT_NAMES)}", ctx=ctx, param=param)
        changes[name] = int(value)
    return dataclasses.replace(DEFAULT_LIMITS, **changes)


def _limits() -> Limits:
    """The limits given to the `peel` group for this run."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, Limits) else DEFAULT_LIMITS


@click.group(help=f"peelrules: graded PEEL judgments from rule files and evidence.\n\n{EXIT_HELP}")
@click.version_option(__version__, prog_name="peel")
@click.option("--limit", "limits", multiple=True, metavar="NAME=N", callback=_parse_limits, expose_value=True,
              help="Change one input limit for this run, e.g. --limit max_facts=20000 (see docs/limits.md).")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the disk cache of checked rule sets and validated bundles.")
@click.option("--verbose", is_flag=True, help="Say on stderr why a cache entry was not used.")
@click.pass_context
def main(ctx: click.Context, limits: Limits, no_cache: bool, verbose: bool) -> None:
    ctx.obj = limits
    settings = cache.configure(enabled=not no_cache)
    if verbose:
        ctx.call_on_close(lambda: [click.echo(f"peel: {note}", err=True) for note in settings.notes])


@main.group("cache", help="The disk cache of checked rule sets and validated bundles (safe to delete; see "
                          "docs/cache.md).")
def cache_cmd() -> None:
    pass


@cache_cmd.command("dir", help="Print the cache folder.")
def cache_dir_cmd() -> None:
    click.echo(str(cache.cache_dir()))


@cache_cmd.command("clear", help="Delete every cache entry.")
def cache_clear_cmd() -> None:
    n = cache.clear()
    click.echo(f"deleted {n} cache entr{'y' if n == 1 else 'ies'} from {cache.cache_dir()}")


@main.command(help=f"Grade every area for each EVIDENCE bundle: files, folders (their *.yaml, *.yml and "
                   f"*.json) and quoted globs ('reports/**/*.yaml'). A batch of several bundles ends with a "
                   f"summary on stderr; a bundle that fails is reported and the others still graded.\n\n{EXIT_HELP}")
@click.argument("evidence", nargs=-1, required=True, type=PATH)
@RULES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html", "csv"]), default="text",
              show_default=True, help="csv: the force-by-area grade table only.")
@click.option("--out", type=PATH, default=None, help="Write to FILE (atomically).")
@JOBS_OPTION
@QUIET_OPTION
def evaluate(evidence: tuple[Path, ...], rules: Path | None, fmt: str, out: Path | None, jobs: int,
             quiet: bool) -> None:
    from . import batch as batches

    try:
        paths = batches.expand(evidence)
        given = load_rules(rules, _limits()) if rules is not None else None
        traced = fmt in ("json", "md", "html")  # text and csv need only the judgments, not the traces
        with _progress(len(paths), "Evaluating", quiet) as step:
            done = batches.evaluate_batch(paths, given, traced=traced, limits=_limits(), jobs=jobs, progress=step)
        if len(paths) == 1 and done.failures:  # one bundle: its errors as always
            raise PeelError(list(done.failures[0].failure.diagnostics))
        programs = {g.framework: batches.program_for(g.framework, given, _limits()) for g in done.values}
        runs = [(programs[g.framework], g.bundle, g.result, g.traces) for g in done.values]
        if traced and len(programs) > 1:
            raise PeelError([Diagnostic("PR314", f"these bundles are for {len(programs)} frameworks ("
                                        f"{', '.join(sorted(programs))}); a {fmt} report covers one", None,
                                        "evaluate each framework's bundles separately, or give --rules")])
        if not runs:  # every bundle failed: nothing to write
            sys.exit(_batch_end(done, quiet))
        runs = [(b, r, t) for _, b, r, t in runs]
        program = next(iter(programs.values()))  # the one framework of a traced report
        if fmt == "json":
            from .report.trace_json import dumps, trace_document

            text = dumps(trace_document(program, [(b, t) for b, _, t in runs], str(rules) if rules else None))
        elif fmt in ("md", "html"):
            text = _document_report(fmt).document(program, [(b, t) for b, _, t in runs])
        elif fmt == "csv":
            from .report import table as table_report

            text = table_report.table_csv(table_report.results_table([(b, r.areas) for b, r, _ in runs]))
        else:
            from .report import text as text_report  # each format imports only what it needs

            text = "\n".join(text_report.summary(programs[b.framework], b, r) for b, r, _ in runs)
            if len(runs) > 1:
                from .report import table as table_report

                table = table_report.results_table([(b, r.areas) for b, r, _ in runs])
                text = table_report.table_text(table) + "\n" + text
        _emit(text, out, list(paths) + [s for s in ([rules] if rules else [])])
    except PeelError as err:
        _fail(err, EXIT_INPUT)
    except KeyboardInterrupt:  # the workers are stopped and nothing was written
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(_batch_end(done, quiet))


@main.command("explain", help=f"Explain the grade of AREA (or of every area) for one EVIDENCE bundle.\n\n{EXIT_HELP}")
@click.argument("evidence", type=PATH)
@click.argument("area", required=False)
@RULES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text",
              show_default=True)
@click.option("--why-not", "why_not", metavar="GRADE|RULE", default=None,
              help="What would have to change for AREA to get GRADE, or for RULE of AREA to turn.")
def explain_cmd(evidence: Path, area: str | None, rules: Path | None, fmt: str, why_not: str | None) -> None:
    from .reach import guidance, stability
    from .report import text as text_report
    from .report.trace_json import dumps, trace_document
    from .whynot import why_not_grade, why_not_rule

    try:
        program, bundle = load_with_rules(evidence, rules, _limits())
        _, traces = explain(program, bundle)
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    if area is not None:
        chosen = program.area(area)
        if chosen is None:
            names = ", ".join(a.name for a in program.areas)
            click.echo(f"error[PR307]: unknown area '{safe(area)}'\n  = help: areas are: {names}", err=True)
            sys.exit(EXIT_INPUT)
        traces = tuple(t for t in traces if t.result.name == chosen.name)
        if why_not is not None:
            grade = Grade.from_key(why_not)
            rule_names = [r.name for r in chosen.rules]
            if grade is None and why_not not in rule_names:
                click.echo(f"error[PR201]: '{safe(why_not)}' is neither a grade nor a rule of {chosen.name}\n"
                           f"  = help: grades are {', '.join(GRADE_KEYS)}", err=True)
                sys.exit(EXIT_INPUT)
            answer = (why_not_grade(program, bundle, chosen.name, grade) if grade is not None
                      else why_not_rule(program, bundle, chosen.name, why_not))
            click.echo(text_report.why_not(answer), nl=False)
            if grade is not None and chosen.ladder is not None and not answer.already:
                change = guidance(program, bundle, chosen.name).get(grade.key)
                click.echo(text_report.evidence_for(grade, change), nl=False)
            return
    elif why_not is not None:
        click.echo("error: --why-not needs an AREA", err=True)
        sys.exit(EXIT_INPUT)
    if fmt == "json":
        click.echo(dumps(trace_document(program, [(bundle, traces)], str(rules) if rules else None)), nl=False)
    elif fmt in ("md", "html"):
        _emit(_document_report(fmt).document(program, [(bundle, traces)]), None, [evidence])
    else:
        guides = {t.result.name: guidance(program, bundle, t.result.name) for t in traces
                  if t.result.status is Status.UNDETERMINED}
        stable = {t.result.name: stability(program, bundle, t.result.name) for t in traces
                  if t.result.grade is not None}
        click.echo(text_report.explain(traces, guides, stable), nl=False)
        if area is None:
            extra = text_report.context(bundle)
            click.echo(f"\n{extra}" if extra else "", nl=False)


@main.command(help=f"Parse and check a rule set (default: the shipped rules), with deep checks that warn "
                   f"about unused declarations, unreachable rungs, ladders that are not monotone, conditions "
                   f"that can never change, unit mix-ups and missing citations.\n\n{EXIT_HELP}")
@click.argument("rules", required=False, type=PATH)
@click.option("--strict", is_flag=True, help="Treat warnings as errors; includes the reachability check.")
@click.option("--rules", "rules_dir", type=PATH, default=None,
              help="With an EVIDENCE file: the rule set to check it against (default: the one it is for).")
@click.option("--reach", "show_reach", is_flag=True,
              help="List, for each graded area, the smallest evidence found that gives each grade.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(rules: Path | None, rules_dir: Path | None, strict: bool, show_reach: bool, fmt: str) -> None:
    from .lint import lint
    from .reach import reach_json, reach_warnings, reachability
    from .report import text as text_report

    reach = None
    if rules is not None and rules.suffix in (".yaml", ".yml", ".json") and not rules.is_dir():
        _check_bundle(rules, rules_dir, strict, fmt)
        return
    try:
        program = load_rules(rules if rules_dir is None else rules_dir, _limits())
        diags = lint(program)
        if strict or show_reach:
            reach = reachability(program)
            diags = sorted(diags + reach_warnings(program, reach), key=Diagnostic.sort_key)
    except PeelError as err:
        diags = err.diagnostics
        program = None
    if strict:
        diags = [replace(d, severity=Severity.ERROR) for d in diags]
    errors = [d for d in diags if d.severity is Severity.ERROR]
    unreadable = any(d.code.startswith("PR4") for d in errors)
    if fmt == "json":
        doc = {"ok": not errors, "diagnostics": [d.to_json() for d in diags]}
        if reach is not None:
            doc["reachability"] = reach_json(reach)
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        if diags:
            click.echo(render_all(diags, _limits().max_errors), err=True)
            warnings = len(diags) - len(errors)
            click.echo(f"\n{len(errors)} error{'s' if len(errors) != 1 else ''}, "
                       f"{warnings} warning{'s' if warnings != 1 else ''}.", err=True)
        if program is not None and not errors:
            n_rules = sum(len(a.rules) for a in program.areas)
            click.echo(f"ok: {len(program.sources)} files, {len(program.areas)} areas, {n_rules} rules, "
                       f"{len(program.decls)} evidence items")
        if reach is not None and (show_reach or strict):
            click.echo(text_report.reachability(reach))
    sys.exit(EXIT_INPUT if unreadable else EXIT_FAILED if errors else EXIT_OK)


def _check_bundle(path: Path, rules: Path | None, strict: bool, fmt: str) -> None:
    """`peel check EVIDENCE`: the bundle loads, and warnings about secondary sources, contradictions and
    grades that differ from the report's own judgments."""
    from .audit import audit
    from .loader import read_source

    try:
        program, bundle = load_with_rules(path, rules, _limits())
        diags = audit(program, bundle, read_source(path, None, _limits()))
    except PeelError as err:
        diags = list(err.diagnostics)
        bundle = None
    if strict:
        diags = [replace(d, severity=Severity.ERROR) for d in diags]
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if fmt == "json":
        click.echo(json.dumps({"ok": not errors, "diagnostics": [d.to_json() for d in diags]}, indent=2,
                              sort_keys=True))
    else:
        if diags:
            click.echo(render_all(diags, _limits().max_errors), err=True)
            click.echo(f"\n{len(errors)} error{'s' if len(errors) != 1 else ''}, {len(diags) - len(errors)} "
                       f"warning{'s' if len(diags) - len(errors) != 1 else ''}.", err=True)
        if bundle is not None and not errors:
            click.echo(f"ok: {bundle.file}: {len(bundle.facts)} facts, {sum(map(len, bundle.findings.values()))} "
                       f"findings in {len(bundle.findings)} areas")
    loaded = bundle is not None
    sys.exit(EXIT_INPUT if not loaded else EXIT_FAILED if errors else EXIT_OK)


@main.command("test", help=f"Run rule tests (YAML cases of evidence and expected judgments).\n\n"
                           f"PATHS are case files or folders (default: tests/cases).\n\n{EXIT_HELP}")
@click.argument("paths", nargs=-1, type=PATH)
@RULES_OPTION
@click.option("--coverage", "show_coverage", is_flag=True, help="Print the framework coverage table.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None,
              help="Fail when framework coverage is below this percentage.")
@click.option("--junit", type=PATH, default=None, help="Write JUnit XML to FILE.")
def test_cmd(paths: tuple[Path, ...], rules: Path | None, show_coverage: bool, min_coverage: float | None,
             junit: Path | None) -> None:
    from .report import tests as tests_report
    from .ruletests import run_tests

    try:
        program = load_rules(rules, _limits())
        results, coverage, problems = run_tests(program, list(paths) or [Path("tests/cases")])
        if problems:
            raise PeelError(problems)
        click.echo(tests_report.results_text(results), nl=False)
        if show_coverage or min_coverage is not None:
            click.echo(tests_report.coverage_text(coverage), nl=False)
        if junit is not None:
            write_atomic(junit, tests_report.junit_xml(results), list(paths))
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    if not results:
        click.echo("no test cases found", err=True)
        sys.exit(EXIT_INPUT)
    failed = any(not r.passed for r in results)
    if min_coverage is not None and coverage.percent < min_coverage:
        click.echo(f"coverage {coverage.percent:.1f}% is below --min-coverage {min_coverage:g}%", err=True)
        failed = True
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command("verify", help=f"Re-run the evaluation recorded in TRACE (from `evaluate --format json`) and "
                             f"confirm the same result; otherwise say what differs.\n\n"
                             f"Exit codes: 0 verified; 1 not verified; 2 bad usage or unreadable input.")
@click.argument("trace", type=PATH)
@RULES_OPTION
@click.option("--evidence", "evidence_files", multiple=True, type=PATH,
              help="Evidence file(s) to use instead of the recorded ones.")
def verify_cmd(trace: Path, rules: Path | None, evidence_files: tuple[Path, ...]) -> None:
    from .loader import read_source
    from .verify import verify

    try:
        src = read_source(trace)
        try:
            recorded = json.loads(src.text)
        except RecursionError:
            raise PeelError([Diagnostic("PR404", f"'{src.name}' is nested too deeply to be a trace",
                                        Span(src.name, 1, 1, 1, 2), "give a file written by `peel evaluate "
                                        "--format json`", line_text=src.line_text(1)[:80])]) from None
        except json.JSONDecodeError as err:
            raise PeelError([Diagnostic("PR313", "the file is not valid JSON", Span(src.name, err.lineno, err.colno,
                                        err.lineno, err.colno + 1), "give a file written by `peel evaluate "
                                        "--format json`", line_text=src.line_text(err.lineno))]) from None
        diffs, doc = verify(recorded, rules, list(evidence_files) or None, src.name)
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    if diffs:
        click.echo(f"NOT VERIFIED: {safe(str(trace))} differs from a re-run:")
        for d in diffs:
            click.echo(f"  {safe(str(d))}")
        sys.exit(EXIT_FAILED)
    n_areas = sum(len(r["areas"]) for r in doc["results"])
    click.echo(f"verified: {safe(str(trace))} — same inputs, same result for {len(doc['results'])} bundle(s), "
               f"{n_areas} area judgments (result sha256 {doc['result_sha256'][:16]}…)")


@main.command("diff", help=f"Which grades a rule change moves, and why: evaluate each EVIDENCE bundle with "
                           f"the OLD and the NEW rule set and list the areas and rules that differ.\n\n{EXIT_HELP}")
@click.option("--old", "old", required=True, type=PATH, help="The current rule set.")
@click.option("--new", "new", required=True, type=PATH, help="The changed rule set.")
@click.argument("evidence", nargs=-1, required=True, type=PATH)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@JOBS_OPTION
@QUIET_OPTION
def diff_cmd(old: Path, new: Path, evidence: tuple[Path, ...], fmt: str, jobs: int, quiet: bool) -> None:
    from . import batch as batches
    from .report import text as text_report
    from .report.values import value_json

    try:
        paths = batches.expand(evidence)
        programs = load_rules(old, _limits()), load_rules(new, _limits())
        with _progress(len(paths), "Comparing", quiet) as step:
            d, done = batches.diff_batch(*programs, paths, jobs=jobs, progress=step)
        if len(paths) == 1 and done.failures:  # one bundle: its errors as always
            raise PeelError(list(done.failures[0].failure.diagnostics))
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if not done.values:
        sys.exit(_batch_end(done, quiet))
    if fmt == "json":
        doc = {"bundles": d.bundles, "areas_compared": d.areas_compared, "moved": len(d.moved), "up": d.up,
               "down": d.down,
               "changes": [{"evidence": c.evidence, "area": c.area, "old": c.old, "new": c.new,
                            "direction": c.direction,
                            "rules": [{"rule": r, "old": value_json(a) if a is not None else None,
                                       "new": value_json(b) if b is not None else None} for r, a, b in c.rules]}
                           for c in d.changes]}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        click.echo(text_report.rule_set_diff(d), nl=False)
    sys.exit(_batch_end(done, quiet))


@main.group(help="Work with evidence bundles.")
def evidence() -> None:
    pass


@evidence.command("template", help=f"Write an evidence skeleton for a rule set: every declared fact with its "
                                   f"type, range and description, grouped by area.\n\n{EXIT_HELP}")
@RULES_OPTION
@click.option("--out", type=PATH, default=None, help="Write to FILE (atomically).")
def evidence_template_cmd(rules: Path | None, out: Path | None) -> None:
    from .template import evidence_template

    try:
        _emit(evidence_template(load_rules(rules, _limits())), out, [rules] if rules else [])
    except PeelError as err:
        _fail(err, EXIT_INPUT)


@main.command("fmt", help="Rewrite rule files in the one canonical layout, keeping every comment.\n\n"
                          "PATHS are .peel files or folders of them; only files that change are rewritten. "
                          "--check and --diff write nothing.\n\n"
                          "Exit codes: 0 ok; 1 --check found files to reformat; 2 bad usage, unreadable input "
                          "or syntax errors.")
@click.argument("paths", nargs=-1, required=True, type=PATH)
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if any file would change; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of the changes; write nothing.")
def fmt_cmd(paths: tuple[Path, ...], check_only: bool, show_diff: bool) -> None:
    from .fmt import FormatError, format_paths, unified_diff
    try:
        results = format_paths(list(paths))
        changed = [r for r in results if r.changed]
        for result in changed:
            if show_diff:
                click.echo(unified_diff(result), nl=False)
            if check_only or show_diff:
                click.echo(f"would reformat {safe(str(result.path))}", err=True)
            else:
                write_atomic(result.path, result.after, keep_mode_of=result.path)
                click.echo(f"reformatted {safe(str(result.path))}", err=True)
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    except FormatError as err:
        click.echo(f"error: {err} (a bug in peel fmt: the file was left as it is)", err=True)
        sys.exit(EXIT_INPUT)
    done = "would be reformatted" if check_only or show_diff else "reformatted"
    click.echo(f"{len(changed)} of {len(results)} file{'s' if len(results) != 1 else ''} {done}.", err=True)
    sys.exit(EXIT_FAILED if check_only and changed else EXIT_OK)


@main.command("chart", help="Place a force among its peers on a comparator dataset (docs/statistics.md): "
              "the outlier method's numbers as text, or the inspectorate's bar chart as SVG."
              f"\n\n{EXIT_HELP}")
@click.argument("comparator", type=PATH)
@click.option("--force", "force", required=True, help="The force to place, as named in the dataset.")
@click.option("--format", "fmt", type=click.Choice(["text", "svg"]), default="text", show_default=True)
@click.option("--out", type=PATH, default=None, help="Write to this file.")
def chart_cmd(comparator: Path, force: str, fmt: str, out: Path | None) -> None:
    from .comparators import load_comparator
    from .report import chart as chart_report

    try:
        data = load_comparator(comparator, _limits())
    except PeelError as err:
        _fail(err, EXIT_INPUT)
        return
    if force not in data.values:
        near = ", ".join(sorted(f for f in data.values if force.lower() in f.lower())[:5])
        click.echo(f"error: {safe(comparator.name)} has no force named {safe(force)!r}"
                   + (f" (did you mean: {safe(near)}?)" if near else "; its forces are listed under `values:`"),
                   err=True)
        sys.exit(EXIT_INPUT)
    if data.values[force] is None:
        click.echo(f"error: {safe(force)} supplied no value for {safe(data.measure)} in {safe(comparator.name)}",
                   err=True)
        sys.exit(EXIT_INPUT)
    result = data.compare(force)
    if fmt == "svg":
        text = chart_report.peer_chart_svg(data.values, result, data.title, data.unit, data.illustrative)
    else:
        lines = [data.title + (" (ILLUSTRATIVE DATA, not real)" if data.illustrative else ""),
                 chart_report.peer_summary(result, data.unit), ""]
        width = max(len(f) for f, _, _ in chart_report.peer_rows(data.values, result))
        lines += [f"  {f:<{width}}  {v:>8}  {note}".rstrip()
                  for f, v, note in chart_report.peer_rows(data.values, result)]
        text = "\n".join(lines) + "\n"
    _emit(text, out, [comparator])


@main.command(help=f"Print the JSON Schema of evidence bundles or of traces.\n\n{EXIT_HELP}")
@click.argument("which", type=click.Choice(["evidence", "trace"]))
def schema(which: str) -> None:
    from .report.schemas import schema as schema_doc

    click.echo(json.dumps(schema_doc(which), indent=2, sort_keys=True))


# A write to standard output that failed for want of room, or of the device (`peel evaluate ... > /dev/full`);
# a closed pipe (`| head`) is click's to handle. Output files (--out) fail inside write_atomic, with their path.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _output_failed(err: OSError) -> None:
    try:  # point stdout at nothing, so that Python does not try (and fail) to write the rest at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    click.echo(f"error: cannot write to standard output: {err.strerror or err}\n"
               "  = help: free some space, or write to a file elsewhere with --out (where the command has it)",
               err=True)
    sys.exit(EXIT_INPUT)


def run() -> None:
    """The console entry point: the CLI, with a last guard so that no user ever sees a traceback."""
    try:
        try:
            main(standalone_mode=True)
        finally:  # output still buffered is written now, while a failure can be reported, not at exit
            sys.stdout.flush()
    except SystemExit:
        raise
    except OSError as err:
        if err.errno not in _OUTPUT_ERRNOS:
            raise
        _output_failed(err)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except RecursionError:
        click.echo("error: the input is nested too deeply to process (see docs/limits.md)", err=True)
        sys.exit(EXIT_INPUT)
    except MemoryError:
        click.echo("error: the input is too large to process in memory (see docs/limits.md)", err=True)
        sys.exit(EXIT_INPUT)
    except Exception as err:  # noqa: BLE001 - the one place that turns a bug into a message
        click.echo(f"internal error: {type(err).__name__}: {safe(str(err))[:300]}\n"
                   "This is a bug in peelrules, not in your input. Please report it with the command and files.",
                   err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    run()
