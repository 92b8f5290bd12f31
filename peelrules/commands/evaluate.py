"""`peel evaluate`: grade every area of each bundle of a batch, in any of the five formats."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..diagnostics import Diagnostic, PeelError
from . import EXIT_INPUT, EXIT_INTERRUPTED, IO
from .batches import batch_end, progress

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

    problem = engine_problem(opts.engine)
    if problem is not None:
        io.say(f"peel: {problem}")
        return EXIT_INPUT
    rules, fmt = opts.rules, opts.fmt
    try:
        paths = batches.expand(opts.evidence)
        given = load_rules(rules, io.limits) if rules is not None else None
        traced = fmt in TRACED_FORMATS
        keep = KEEP.get(fmt)
        if keep is not None:  # imported here, before any worker is forked, rather than in each worker
            from ..report import table as table_report, text as text_report  # noqa: F401
        with progress(io, len(paths), "Evaluating", opts.quiet) as step:
            done = batches.evaluate_batch(paths, given, traced=traced, limits=io.limits, jobs=opts.jobs,
                                          progress=step, engine=opts.engine, keep=keep)
        if len(paths) == 1 and done.failures:  # one bundle: its errors as always
            raise PeelError(list(done.failures[0].failure.diagnostics))
        programs = {g.framework: batches.program_for(g.framework, given, io.limits) for g in done.values}
        if traced and len(programs) > 1:
            raise PeelError([Diagnostic("PR314", f"these bundles are for {len(programs)} frameworks ("
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
