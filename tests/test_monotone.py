"""Missing evidence never improves a grade: removing any one fact, a positive finding, or an area's whole
record of findings from any shipped bundle keeps each area's grade or makes it undetermined, never better."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import peelrules
from peelrules.compile import compile_program
from peelrules.evaluate import Evaluator
from peelrules.grades import Status

from conftest import ROOT

BUNDLES = sorted((ROOT / "evidence").glob("*.yaml"))
SHORTFALLS = ("cause_of_concern", "area_of_concern", "area_for_improvement")


def _never_raised(before, after, what: str) -> None:
    for a, b in zip(before.areas, after.areas):
        if b.status is Status.GRADED:
            assert a.status is Status.GRADED and b.grade <= a.grade, (what, a.name, a.judgment, b.judgment)


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_removing_one_fact_never_raises_a_grade(path: Path) -> None:
    shipped, bundle = peelrules.load_with_rules(path)  # each bundle with the rules of its framework
    compiled = compile_program(shipped)
    base = compiled.run(bundle)
    assert bundle.facts or bundle.findings
    for name in bundle.facts:
        _never_raised(base, compiled.run(replace(bundle, facts={k: v for k, v in bundle.facts.items() if k != name})),
                      name)


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_removing_positive_findings_or_an_area_s_findings_never_raises_a_grade(path: Path) -> None:
    shipped, bundle = peelrules.load_with_rules(path)
    base = Evaluator(shipped).run(bundle)[0]
    for area, found in bundle.findings.items():
        unrecorded = replace(bundle, findings={k: v for k, v in bundle.findings.items() if k != area})
        _never_raised(base, compile_program(shipped).run(unrecorded), f"{area} findings not recorded")
        for i, f in enumerate(found):
            if f.kind in SHORTFALLS:
                continue  # removing a shortfall may rightly improve a grade
            fewer = replace(bundle, findings=bundle.findings | {area: found[:i] + found[i + 1:]})
            after = Evaluator(shipped).run(fewer)[0]
            assert compile_program(shipped).run(fewer) == after
            _never_raised(base, after, f"{area} finding {i + 1}")
