"""`peel explain`: why an area (or every area) of one bundle got its grade, and with --why-not what would have to
change for another grade, or for a rule to turn."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Code, PeelError, safe
from ..grades import GRADE_KEYS, Grade, Status
from . import EXIT_INPUT, EXIT_OK, IO


@dataclass(frozen=True)
class ExplainOptions:
    evidence: Path
    area: str | None = None
    rules: Path | None = None
    fmt: str = "text"  # text, json, md or html
    why_not: str | None = None  # a grade key or a rule of the area


def run_explain(opts: ExplainOptions, io: IO) -> int:
    from .. import explain, load_with_rules
    from ..reach import guidance, stability
    from ..report import text as text_report
    from ..report.trace_json import dumps, trace_document
    from ..whynot import why_not_grade, why_not_rule
    from .evaluate import document_report

    try:
        program, bundle = load_with_rules(opts.evidence, opts.rules, io.limits)
        _, traces = explain(program, bundle)
    except PeelError as err:
        return io.fail(err)
    why_not = opts.why_not
    if opts.area is not None:
        chosen = program.area(opts.area)
        if chosen is None:
            names = ", ".join(a.name for a in program.areas)
            io.say(f"error[{Code.PR307}]: unknown area '{safe(opts.area)}'\n  = help: areas are: {names}")
            return EXIT_INPUT
        traces = tuple(t for t in traces if t.result.name == chosen.name)
        if why_not is not None:
            grade = Grade.from_key(why_not)
            if grade is None and why_not not in [r.name for r in chosen.rules]:
                io.say(f"error[{Code.PR201}]: '{safe(why_not)}' is neither a grade nor a rule of {chosen.name}\n"
                       f"  = help: grades are {', '.join(GRADE_KEYS)}")
                return EXIT_INPUT
            answer = (why_not_grade(program, bundle, chosen.name, grade) if grade is not None
                      else why_not_rule(program, bundle, chosen.name, why_not))
            io.print(text_report.why_not(answer), nl=False)
            if grade is not None and chosen.ladder is not None and not answer.already:
                change = guidance(program, bundle, chosen.name).get(grade.key)
                io.print(text_report.evidence_for(grade, change), nl=False)
            return EXIT_OK
    elif why_not is not None:
        io.say("error: --why-not needs an AREA")
        return EXIT_INPUT
    if opts.fmt == "json":
        io.print(dumps(trace_document(program, [(bundle, traces)], str(opts.rules) if opts.rules else None)),
                 nl=False)
    elif opts.fmt in ("md", "html"):
        io.print(document_report(opts.fmt).document(program, [(bundle, traces)]), nl=False)
    else:
        guides = {t.result.name: guidance(program, bundle, t.result.name) for t in traces
                  if t.result.status is Status.UNDETERMINED}
        stable = {t.result.name: stability(program, bundle, t.result.name) for t in traces
                  if t.result.grade is not None}
        io.print(text_report.explain(traces, guides, stable), nl=False)
        if opts.area is None:
            extra = text_report.context(bundle)
            io.print(f"\n{extra}" if extra else "", nl=False)
    return EXIT_OK
