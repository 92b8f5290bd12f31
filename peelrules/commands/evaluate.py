"""`peel evaluate`: grade every area of each bundle of a batch, in any of the five formats."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..diagnostics import Code, Diagnostic, PeelError
from ..limits import Limits
from . import EXIT_INPUT, EXIT_INTERRUPTED, IO
from .batches import batch_end, progress

if TYPE_CHECKING:
    from ..tablefacts import EngineChoice

TRACED_FORMATS = ("json", "md", "html")  # the formats that show traces; text and csv show the judgments only


@dataclass(frozen=True)
class EvaluateOptions:
    evidence: tuple[Path, ...]  # files, folders and globs
    rules: Path | None = None
    fmt: str = "text"  # text, json, md, html or csv
    out: Path | None = None
    jobs: int = 1
    quiet: bool = False
    engine: str = "duckdb"  # what computes table aggregates: duckdb or spark (docs/scale.md)
    spark_master: str | None = None  # the Spark master URL (spark://..., yarn, local[4], sc://... for Connect)
    spark_conf: tuple[tuple[str, str], ...] = ()  # Spark settings for the session peel starts
    spark_tables: tuple[tuple[str, str], ...] = ()  # (the bundle's table, a catalog table to read instead)


SPARK_TABLE_EXAMPLE = "contact.calls=db.calls_2022"


def parse_pair(text: str, what: str, example: str) -> tuple[str, str]:
    """`name=value` as (name, value), both without surrounding spaces; ValueError (saying what was expected)
    when there is no `=` or either side is empty. `what` names the two sides (`TABLE=CATALOG_TABLE`)."""
    name, eq, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name or not value:
        raise ValueError(f"{text!r} is not {what}, such as {example}")
    return name, value


def spark_table(text: str) -> tuple[str, str]:
    return parse_pair(text, "TABLE=CATALOG_TABLE (a table of the bundle, the catalog table to read for it)",
                      SPARK_TABLE_EXAMPLE)


def spark_setting(text: str) -> tuple[str, str]:
    key, value = parse_pair(text, "KEY=VALUE", "spark.executor.memory=4g")
    if not key.startswith("spark."):
        raise ValueError(f"{key!r} is not a Spark setting (their names start with spark., such as "
                         "spark.executor.memory=4g)")
    return key, value


def usage_problem(opts: EvaluateOptions) -> str | None:
    """Why the options cannot be used together (one line), or None: the Spark options without --engine spark, a
    table mapped twice."""
    given = [o for o, v in (("--spark-table", opts.spark_tables), ("--spark-master", opts.spark_master),
                            ("--spark-conf", opts.spark_conf)) if v]
    if given and opts.engine != "spark":
        return (f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --engine spark (without it DuckDB "
                "computes the table aggregates, from the bundle's files)")
    names = [n for n, _ in opts.spark_tables]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        return f"--spark-table maps table {twice!r} more than once: give one catalog table for it"
    return None


def engine_of(opts: EvaluateOptions, paths: list[Path], limits: Limits) -> EngineChoice | str:
    """The engine the options ask for (after usage_problem), or a one-line message saying why the catalog tables
    do not fit the bundle: more than one bundle, a table the bundle does not have."""
    from .. import table_names
    from ..tablefacts import EngineChoice
    from ..vocabulary import ENGINES

    if opts.engine not in ENGINES:
        return f"unknown engine {opts.engine!r}: use {' or '.join(ENGINES)}"
    if opts.engine != "spark":
        return EngineChoice(opts.engine)
    tables = dict(opts.spark_tables)
    if tables and len(paths) != 1:
        return (f"--spark-table maps the tables of one bundle, and {len(paths)} bundles were given: evaluate the "
                "bundle that the catalog tables are for on its own")
    if tables:
        known = table_names(paths[0], limits)
        for name, target in opts.spark_tables:
            if name in known:
                continue
            if not known:
                return (f"--spark-table {name}={target}: {paths[0]} declares no tables (under `tables:`), so none "
                        "can be read from the catalog: declare the table there (its columns and a source)")
            close = [k for k in known if k.endswith("." + name)] or difflib.get_close_matches(name, known, 1)
            fix = f"--spark-table {close[0]}={target}" if close else f"--spark-table {known[0]}={target}"
            return (f"--spark-table {name}={target}: {paths[0]} has no table {name!r} (its tables: "
                    f"{', '.join(known)}); name the table as the bundle's `tables:` section does, e.g. {fix}")
    return EngineChoice("spark", opts.spark_master, opts.spark_conf, opts.spark_tables)


def document_report(fmt: str) -> ModuleType:
    """The renderer of a whole-document format, imported only when asked for (html needs matplotlib)."""
    if fmt == "md":
        from ..report import markdown

        return markdown
    from ..report import html

    return html


def keep_row(program: Any, bundle: Any, result: Any, traces: tuple[Any, ...]) -> Any:
    """What the csv format needs of a graded bundle (report.table.BundleRow), made where it was graded."""
    from ..report.table import bundle_row

    return bundle_row(bundle, result.areas)


def keep_summary(program: Any, bundle: Any, result: Any, traces: tuple[Any, ...]) -> Any:
    """What the text format needs of a graded bundle: its table row and its summary."""
    from ..report.text import summary

    return keep_row(program, bundle, result, traces), summary(program, bundle, result)


# The untraced formats need a few strings of each bundle: a batch's workers send those back, not the bundle.
KEEP = {"csv": keep_row, "text": keep_summary}


def run_evaluate(opts: EvaluateOptions, io: IO) -> int:
    from .. import batch as batches
    from .. import engine_problem, load_rules

    usage = usage_problem(opts)
    if usage is not None:
        io.say(f"peel: {usage}")
        return EXIT_INPUT
    rules, fmt = opts.rules, opts.fmt
    try:
        paths = batches.expand(opts.evidence)
        engine = engine_of(opts, list(paths), io.limits)
        if isinstance(engine, str):
            io.say(f"peel: {engine}")
            return EXIT_INPUT
        problem = engine_problem(engine)
        if problem is not None:
            io.say(f"peel: {problem}")
            return EXIT_INPUT
        given = load_rules(rules, io.limits) if rules is not None else None
        traced = fmt in TRACED_FORMATS
        keep = KEEP.get(fmt)
        if keep is not None:  # imported here, before any worker is forked, rather than in each worker
            from ..report import table as table_report, text as text_report  # noqa: F401
        with progress(io, len(paths), "Evaluating", opts.quiet) as step:
            done = batches.evaluate_batch(paths, given, traced=traced, limits=io.limits, jobs=opts.jobs,
                                          progress=step, engine=engine, keep=keep)
        if len(paths) == 1 and done.failures:  # one bundle: its errors as always
            raise PeelError(list(done.failures[0].failure.diagnostics))
        programs = {g.framework: batches.program_for(g.framework, given, io.limits) for g in done.values}
        if traced and len(programs) > 1:
            raise PeelError([Diagnostic(Code.PR314, f"these bundles are for {len(programs)} frameworks ("
                                        f"{', '.join(sorted(programs))}); a {fmt} report covers one", None,
                                        "evaluate each framework's bundles separately, or give --rules")])
        if not done.values:  # every bundle failed: nothing to write
            return batch_end(io, done, opts.quiet)
        program = next(iter(programs.values()))  # the one framework of a traced report
        if fmt == "json":
            from ..report.trace_json import dumps, trace_document

            runs = [(g.bundle, g.traces) for g in done.values]
            text = dumps(trace_document(program, runs, str(rules) if rules else None))
        elif fmt in ("md", "html"):
            text = document_report(fmt).document(program, [(g.bundle, g.traces) for g in done.values])
        elif fmt == "csv":
            from ..report import table as table_report

            text = table_report.table_csv(table_report.rows_table([g.kept for g in done.values]))
        else:
            kept = [g.kept for g in done.values]  # (row, summary) of each bundle, made where it was graded
            text = "\n".join(summary for _, summary in kept)
            if len(kept) > 1:
                from ..report import table as table_report

                table = table_report.rows_table([row for row, _ in kept])
                text = table_report.table_text(table) + "\n" + text
        io.emit(text, opts.out, list(paths) + ([rules] if rules else []))
    except PeelError as err:
        return io.fail(err)
    except KeyboardInterrupt:  # the workers are stopped and nothing was written
        io.say("interrupted")
        return EXIT_INTERRUPTED
    return batch_end(io, done, opts.quiet)
