"""`peel verify`: re-run the evaluation recorded in a JSON trace and confirm the same result, or say what differs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import Code, Diagnostic, PeelError, safe
from ..source import Span
from . import EXIT_FAILED, EXIT_INPUT, EXIT_OK, IO

if TYPE_CHECKING:
    from ..limits import Limits
    from ..tablefacts import EngineChoice

_HINT = "give a file written by `peel evaluate --format json`"


@dataclass(frozen=True)
class VerifyOptions:
    trace: Path
    rules: Path | None = None
    evidence: tuple[Path, ...] = ()  # evidence files to use instead of the recorded ones
    engine: str = "duckdb"  # what recomputes the table aggregates: duckdb, or spark (docs/scale.md)
    spark_master: str | None = None  # as `peel evaluate`'s options
    spark_conf: tuple[tuple[str, str], ...] = ()
    spark_tables: tuple[tuple[str, str], ...] = ()  # added to (or replacing) the catalog tables the trace read


def _read(trace: Path) -> tuple[str, Any]:
    from ..loader import read_source

    src = read_source(trace)
    try:
        return src.name, json.loads(src.text)
    except RecursionError:
        raise PeelError([Diagnostic(Code.PR404, f"'{src.name}' is nested too deeply to be a trace",
                                    Span(src.name, 1, 1, 1, 2), _HINT, line_text=src.line_text(1)[:80])]) from None
    except json.JSONDecodeError as err:
        raise PeelError([Diagnostic(Code.PR313, "the file is not valid JSON", Span(src.name, err.lineno, err.colno,
                                    err.lineno, err.colno + 1), _HINT, line_text=src.line_text(err.lineno))]) \
            from None


def engine_for(opts: VerifyOptions, recorded: dict[str, Any], limits: Limits) -> EngineChoice | None | str:
    """What recomputes the trace's aggregates: None for DuckDB (written as the trace's engine writes them), the
    Spark engine with the evaluate options' checks (reading the catalog tables the trace read, unless
    --spark-table says otherwise), or a one-line message saying why the trace cannot be re-run so: it read a
    catalog table and is to be re-run from files, or it is DuckDB's and Spark is asked for."""
    from ..verify import catalog_problem, catalog_reads, evidence_paths, recorded_engine
    from .evaluate import EvaluateOptions, engine_of

    shown = safe(str(opts.trace))
    catalog = catalog_reads(recorded)
    if opts.engine != "spark":
        return catalog_problem(recorded, shown)
    if recorded_engine(recorded) == "duckdb":
        return (f"--engine spark re-runs a Spark trace's aggregates with Spark, and {shown}'s were computed by "
                "DuckDB (its SQL is DuckDB's): verify it without --engine spark")
    tables = {name: target for name, (target, _) in catalog.items()} | dict(opts.spark_tables)
    paths = evidence_paths(recorded, list(opts.evidence) or None)
    return engine_of(EvaluateOptions(tuple(paths), engine="spark", spark_master=opts.spark_master,
                                     spark_conf=opts.spark_conf, spark_tables=tuple(tables.items())),
                     paths, limits)


def run_verify(opts: VerifyOptions, io: IO) -> int:
    from .. import engine_problem
    from ..verify import check_trace, verify
    from .evaluate import EvaluateOptions, usage_problem

    usage = usage_problem(EvaluateOptions((), engine=opts.engine, spark_master=opts.spark_master,
                                          spark_conf=opts.spark_conf, spark_tables=opts.spark_tables))
    if usage is not None:
        io.say(f"peel: {usage}")
        return EXIT_INPUT
    try:
        name, recorded = _read(opts.trace)
        check_trace(recorded, name)
        engine = engine_for(opts, recorded, io.limits)
        if isinstance(engine, str):
            io.say(f"peel: {engine}")
            return EXIT_INPUT
        problem = engine_problem(engine) if engine is not None else None
        if problem is not None:
            io.say(f"peel: {problem}")
            return EXIT_INPUT
        diffs, doc = verify(recorded, opts.rules, list(opts.evidence) or None, name, engine)
    except PeelError as err:
        return io.fail(err)
    shown = safe(str(opts.trace))
    if diffs:
        io.print(f"NOT VERIFIED: {shown} differs from a re-run:")
        for d in diffs:
            io.print(f"  {safe(str(d))}")
        return EXIT_FAILED
    n_areas = sum(len(r["areas"]) for r in doc["results"])
    io.print(f"verified: {shown} — same inputs, same result for {len(doc['results'])} bundle(s), "
             f"{n_areas} area judgments (result sha256 {doc['result_sha256'][:16]}…)")
    return EXIT_OK
