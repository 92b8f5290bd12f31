"""The shipped framework's rule tests (tests/cases, recursively) pass and cover at least 90% of the
framework: every rule made both true and false, every ladder rung both fired and passed over."""
from __future__ import annotations

from pathlib import Path

from peelrules.ruletests import run_tests

CASES = Path(__file__).resolve().parent / "cases"


def test_shipped_rule_tests_pass_with_framework_coverage(shipped) -> None:
    results, coverage, problems = run_tests(shipped, [CASES])
    assert not problems
    failed = [(r.case.name, [(f.area, f.expected, f.actual) for f in r.failures], r.errors)
              for r in results if not r.passed]
    assert not failed
    assert len(results) >= 20
    assert coverage.percent >= 90.0, f"framework coverage {coverage.percent:.1f}%"
