"""Views of rule-test runs: a readable report with the trace behind each failure, the coverage table,
and JUnit XML for CI systems."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..diagnostics import render_all
from ..ruletests import CaseResult, Coverage
from .text import explain_area


def results_text(results: list[CaseResult]) -> str:
    out = []
    for r in results:
        out.append(f"{'PASS' if r.passed else 'FAIL'}  {r.case.name}  ({r.case.file})")
        if r.errors:
            out.append("\n".join("      " + line for line in render_all(list(r.errors)).splitlines()))
        shown: set[str] = set()
        for f in r.failures:
            out.append(f"      {f.area}: expected {f.expected}, got {f.actual}")
        for f in r.failures:
            if f.trace is not None and f.area not in shown:
                shown.add(f.area)
                out.append("      why:")
                out.extend("        " + line for line in explain_area(f.trace).splitlines())
    passed = sum(1 for r in results if r.passed)
    out.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(out) + "\n"


def coverage_text(cov: Coverage) -> str:
    items = cov.items()
    width = max((len(k) for k, *_ in items), default=10) + 2
    out = [f"{'rule or rung':<{width}}{'kind':<22}{'true':<7}false"]
    for key, kind, true, false in items:
        out.append(f"{key:<{width}}{kind:<22}{'yes' if true else '-':<7}{'yes' if false else '-':<7}".rstrip())
    out.append(f"framework coverage: {cov.percent:.1f}% of {2 * len(items)} outcomes "
               "(each rule made true and false, each rung fired and passed over)")
    return "\n".join(out) + "\n"


def junit_xml(results: list[CaseResult]) -> str:
    failures = sum(1 for r in results if r.failures)
    errors = sum(1 for r in results if r.errors and not r.failures)
    suite = ET.Element("testsuite", name="peel rule tests", tests=str(len(results)),
                       failures=str(failures), errors=str(errors))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r.case.file, name=r.case.name)
        if r.failures:
            msg = "; ".join(f"{f.area}: expected {f.expected}, got {f.actual}" for f in r.failures)
            node = ET.SubElement(case, "failure", message=msg)
            node.text = "\n".join(explain_area(f.trace) for f in r.failures if f.trace is not None)
        elif r.errors:
            node = ET.SubElement(case, "error", message=r.errors[0].message)
            node.text = render_all(list(r.errors))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
