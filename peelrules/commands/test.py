"""`peel test`: run rule tests (YAML cases of evidence and expected judgments), with coverage and JUnit XML."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import PeelError
from ..output import write_atomic
from . import EXIT_FAILED, EXIT_INPUT, EXIT_OK, IO

DEFAULT_CASES = Path("tests/cases")


@dataclass(frozen=True)
class TestOptions:
    __test__ = False  # not a pytest class

    paths: tuple[Path, ...] = ()
    rules: Path | None = None
    show_coverage: bool = False
    min_coverage: float | None = None
    junit: Path | None = None


def run_test(opts: TestOptions, io: IO) -> int:
    from .. import load_rules
    from ..report import tests as tests_report
    from ..ruletests import run_tests

    try:
        program = load_rules(opts.rules, io.limits)
        results, coverage, problems = run_tests(program, list(opts.paths) or [DEFAULT_CASES])
        if problems:
            raise PeelError(problems)
        io.print(tests_report.results_text(results), nl=False)
        if opts.show_coverage or opts.min_coverage is not None:
            io.print(tests_report.coverage_text(coverage), nl=False)
        if opts.junit is not None:
            write_atomic(opts.junit, tests_report.junit_xml(results), list(opts.paths))
    except PeelError as err:
        return io.fail(err)
    if not results:
        io.say("no test cases found")
        return EXIT_INPUT
    failed = any(not r.passed for r in results)
    if opts.min_coverage is not None and coverage.percent < opts.min_coverage:
        io.say(f"coverage {coverage.percent:.1f}% is below --min-coverage {opts.min_coverage:g}%")
        failed = True
    return EXIT_FAILED if failed else EXIT_OK
