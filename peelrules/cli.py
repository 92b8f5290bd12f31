"""The `peel` command: click's options -> a command's options -> `run_<cmd>` (peelrules/commands/) -> exit code.
Nothing else lives here.

Exit codes: 0 ok; 1 the checked thing failed (check errors, failing rule tests); 2 bad usage or unreadable input
(in a batch: some bundles could not be graded; the others are reported); 3 internal error; 130 interrupted.
"""
from __future__ import annotations

import dataclasses
import errno
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from . import __version__, cache
from .diagnostics import safe
from .commands import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED
from .limits import DEFAULT_LIMITS, Limits
from .vocabulary import ENGINES

if TYPE_CHECKING:
    from .commands import IO

# Each command imports the modules it needs when it runs (the parser, the loaders, the reports, the analyses),
# so that `peel --help` and a run from a cached program load nothing else.

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
JOBS_OPTION = click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True,
                           help="Worker processes for a batch (0: one per CPU); the output is the same for any N.")
QUIET_OPTION = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary table on stderr.")


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


def _io() -> "IO":
    """Where a command of this run writes (the streams as they are now: CliRunner replaces them), and its limits."""
    from .commands import IO

    return IO(sys.stdout, sys.stderr, _limits())


def _limits() -> Limits:
    """The limits given to the `peel` group for this run."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, Limits) else DEFAULT_LIMITS


@click.group(help=f"peelrules: graded PEEL judgments from rule files and evidence.\n\n{EXIT_HELP}")
@click.version_option(__version__, prog_name="peel")
@click.option("--limit", "limits", multiple=True, metavar="NAME=N", callback=_parse_limits, expose_value=True,
              help="Change one input limit for this run, e.g. --limit max_facts=20000 (see docs/limits.md).")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the disk cache of checked rule sets, validated bundles and drawn charts.")
@click.option("--verbose", is_flag=True, help="Say on stderr why a cache entry was not used.")
@click.pass_context
def main(ctx: click.Context, limits: Limits, no_cache: bool, verbose: bool) -> None:
    ctx.obj = limits
    settings = cache.configure(enabled=not no_cache)
    if verbose:
        ctx.call_on_close(lambda: [click.echo(f"peel: {note}", err=True) for note in settings.notes])


@main.group("cache", help="The disk cache of checked rule sets, validated bundles and drawn charts (safe to "
                          "delete; see docs/cache.md).")
def cache_cmd() -> None:
    pass


@cache_cmd.command("dir", help="Print the cache folder.")
def cache_dir_cmd() -> None:
    from .commands.cache import run_cache_dir

    sys.exit(run_cache_dir(_io()))


@cache_cmd.command("clear", help="Delete every cache entry.")
def cache_clear_cmd() -> None:
    from .commands.cache import run_cache_clear

    sys.exit(run_cache_clear(_io()))


def _pairs(parse_name: str) -> Callable[[click.Context, click.Parameter, tuple[str, ...]],
                                         tuple[tuple[str, str], ...]]:
    """A callback turning a repeatable NAME=VALUE option into (name, value) pairs with the command's parser."""

    def callback(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        from .commands import evaluate as ev

        try:
            return tuple(getattr(ev, parse_name)(v) for v in values)
        except ValueError as err:
            raise click.BadParameter(safe(str(err)), ctx=ctx, param=param) from None
    return callback


def spark_options(f: Callable[..., None]) -> Callable[..., None]:
    """--spark-table, --spark-master and --spark-conf (of `evaluate` and `verify`), for EvaluateOptions."""
    for option in reversed([
        click.option("--spark-table", "spark_tables", metavar="TABLE=CATALOG_TABLE", multiple=True,
                     callback=_pairs("spark_table"),
                     help="With --engine spark: read the bundle's TABLE (as its `tables:` section names it) from "
                          "the Spark catalog table CATALOG_TABLE instead of its files, e.g. "
                          "contact.calls=db.calls_2022. Repeatable; one bundle."),
        click.option("--spark-master", metavar="URL", default=None,
                     help="With --engine spark: the master of the session peel starts (spark://host:7077, yarn, "
                          "k8s://..., local[4]; sc://host:15002 for Spark Connect). Default: $PEEL_SPARK_MASTER, "
                          "$SPARK_REMOTE, $MASTER, else local[*]."),
        click.option("--spark-conf", "spark_conf", metavar="KEY=VALUE", multiple=True,
                     callback=_pairs("spark_setting"),
                     help="With --engine spark: a Spark setting for that session, e.g. spark.executor.memory=4g. "
                          "Repeatable.")]):
        f = option(f)
    return f


@main.command(help=f"Grade every area for each EVIDENCE bundle: files, folders (their *.yaml, *.yml and "
                   f"*.json) and quoted globs ('reports/**/*.yaml'). A batch of several bundles ends with a "
                   f"summary on stderr; a bundle that fails is reported and the others still graded.\n\n{EXIT_HELP}")
@click.argument("evidence", nargs=-1, required=True, type=PATH)
@RULES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html", "csv"]), default="text",
              show_default=True, help="csv: the force-by-area grade table only.")
@click.option("--out", type=PATH, default=None, help="Write to FILE (atomically).")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="What computes case-level table aggregates: DuckDB in process, or Spark (pip install "
                   "'peelrules[spark]'; docs/scale.md). The grades are the same.")
@spark_options
@JOBS_OPTION
@QUIET_OPTION
def evaluate(evidence: tuple[Path, ...], rules: Path | None, fmt: str, out: Path | None, engine: str,
             spark_tables: tuple[tuple[str, str], ...], spark_master: str | None,
             spark_conf: tuple[tuple[str, str], ...], jobs: int, quiet: bool) -> None:
    from .commands.evaluate import EvaluateOptions, run_evaluate

    sys.exit(run_evaluate(EvaluateOptions(evidence, rules, fmt, out, jobs, quiet, engine, spark_master, spark_conf,
                                          spark_tables), _io()))


@main.command("explain", help=f"Explain the grade of AREA (or of every area) for one EVIDENCE bundle.\n\n{EXIT_HELP}")
@click.argument("evidence", type=PATH)
@click.argument("area", required=False)
@RULES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text",
              show_default=True)
@click.option("--why-not", "why_not", metavar="GRADE|RULE", default=None,
              help="What would have to change for AREA to get GRADE, or for RULE of AREA to turn.")
def explain_cmd(evidence: Path, area: str | None, rules: Path | None, fmt: str, why_not: str | None) -> None:
    from .commands.explain import ExplainOptions, run_explain

    sys.exit(run_explain(ExplainOptions(evidence, area, rules, fmt, why_not), _io()))


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
    from .commands.check import CheckOptions, run_check

    sys.exit(run_check(CheckOptions(rules, rules_dir, strict, show_reach, fmt), _io()))


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
    from .commands.test import TestOptions, run_test

    sys.exit(run_test(TestOptions(paths, rules, show_coverage, min_coverage, junit), _io()))


@main.command("verify", help="Re-run the evaluation recorded in TRACE (from `evaluate --format json`) and "
                             "confirm the same result; otherwise say what differs. A Spark trace is re-run with "
                             "DuckDB (the same values) and written as Spark writes it, or with --engine spark by "
                             "Spark itself (docs/scale.md).\n\n"
                             "Exit codes: 0 verified; 1 not verified; 2 bad usage or unreadable input, or a trace "
                             "that cannot be re-run so (a catalog table without --engine spark).")
@click.argument("trace", type=PATH)
@RULES_OPTION
@click.option("--evidence", "evidence_files", multiple=True, type=PATH,
              help="Evidence file(s) to use instead of the recorded ones.")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="What recomputes the table aggregates of a Spark trace: DuckDB, which gives the same values, "
                   "or Spark itself (reading the catalog tables the trace read).")
@spark_options
def verify_cmd(trace: Path, rules: Path | None, evidence_files: tuple[Path, ...], engine: str,
               spark_tables: tuple[tuple[str, str], ...], spark_master: str | None,
               spark_conf: tuple[tuple[str, str], ...]) -> None:
    from .commands.verify import VerifyOptions, run_verify

    sys.exit(run_verify(VerifyOptions(trace, rules, evidence_files, engine, spark_master, spark_conf,
                                      spark_tables), _io()))


@main.command("diff", help=f"Which grades a rule change moves, and why: evaluate each EVIDENCE bundle with "
                           f"the OLD and the NEW rule set and list the areas and rules that differ.\n\n{EXIT_HELP}")
@click.option("--old", "old", required=True, type=PATH, help="The current rule set.")
@click.option("--new", "new", required=True, type=PATH, help="The changed rule set.")
@click.argument("evidence", nargs=-1, required=True, type=PATH)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@JOBS_OPTION
@QUIET_OPTION
def diff_cmd(old: Path, new: Path, evidence: tuple[Path, ...], fmt: str, jobs: int, quiet: bool) -> None:
    from .commands.diff import DiffOptions, run_diff

    sys.exit(run_diff(DiffOptions(old, new, evidence, fmt, jobs, quiet), _io()))


@main.group(help="Work with evidence bundles.")
def evidence() -> None:
    pass


@evidence.command("template", help=f"Write an evidence skeleton for a rule set: every declared fact with its "
                                   f"type, range and description, grouped by area.\n\n{EXIT_HELP}")
@RULES_OPTION
@click.option("--out", type=PATH, default=None, help="Write to FILE (atomically).")
def evidence_template_cmd(rules: Path | None, out: Path | None) -> None:
    from .commands.template import TemplateOptions, run_template

    sys.exit(run_template(TemplateOptions(rules, out), _io()))


@main.command("fmt", help="Rewrite rule files in the one canonical layout, keeping every comment.\n\n"
                          "PATHS are .peel files or folders of them; only files that change are rewritten. "
                          "--check and --diff write nothing.\n\n"
                          "Exit codes: 0 ok; 1 --check found files to reformat; 2 bad usage, unreadable input "
                          "or syntax errors.")
@click.argument("paths", nargs=-1, required=True, type=PATH)
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if any file would change; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of the changes; write nothing.")
def fmt_cmd(paths: tuple[Path, ...], check_only: bool, show_diff: bool) -> None:
    from .commands.fmt import FmtOptions, run_fmt

    sys.exit(run_fmt(FmtOptions(paths, check_only, show_diff), _io()))


@main.command("chart", help="Place a force among its peers on a comparator dataset (docs/statistics.md): "
              "the outlier method's numbers as text, or the inspectorate's bar chart as SVG."
              f"\n\n{EXIT_HELP}")
@click.argument("comparator", type=PATH)
@click.option("--force", "force", required=True, help="The force to place, as named in the dataset.")
@click.option("--format", "fmt", type=click.Choice(["text", "svg"]), default="text", show_default=True)
@click.option("--out", type=PATH, default=None, help="Write to this file.")
def chart_cmd(comparator: Path, force: str, fmt: str, out: Path | None) -> None:
    from .commands.chart import ChartOptions, run_chart

    sys.exit(run_chart(ChartOptions(comparator, force, fmt, out), _io()))


@main.command(help=f"Print the JSON Schema of evidence bundles or of traces.\n\n{EXIT_HELP}")
@click.argument("which", type=click.Choice(["evidence", "trace"]))
def schema(which: str) -> None:
    from .commands.schema import run_schema

    sys.exit(run_schema(which, _io()))


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
            # The run's objects (a checked program is tens of thousands) are left out of the collections the
            # interpreter makes as it exits: a fifth of a warm `peel evaluate` went on them. Exit still runs
            # every atexit handler and finaliser as usual.
            gc.freeze()
    except SystemExit:
        raise
    except OSError as err:
        if err.errno not in _OUTPUT_ERRNOS:
            raise
        _output_failed(err)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
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
