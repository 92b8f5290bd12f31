"""Reachability: every graded area of the shipped rules can reach all five grades, and each witness really
gives its grade through the reference interpreter."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.evaluate import Evaluator
from peelrules.grades import GRADE_KEYS, Grade
from peelrules.loader import shipped_rule_sets, shipped_rules_dir
from peelrules.reach import _bundle, reachability

from conftest import write_rules


@pytest.fixture(scope="module", params=shipped_rule_sets())
def rule_set(request) -> str:
    """Each shipped rule set (folder name), so that every framework is held to the same bar."""
    return request.param


def test_every_graded_area_of_the_shipped_rules_reaches_all_five_grades(rule_set) -> None:
    shipped = peelrules.shipped_program(rule_set)
    reach = reachability(shipped)
    graded = [a.name for a in shipped.areas if a.ladder is not None]
    assert [r.area for r in reach] == graded
    evaluator = Evaluator(shipped)
    for r in reach:
        assert set(r.witnesses) == set(GRADE_KEYS)
        assert not r.unreachable, (r.area, r.unreachable)
        for grade, w in r.witnesses.items():
            assert w is not None
            bundle = _bundle(shipped, r.area, dict(w.facts), w.findings)
            assert evaluator.run(bundle)[0].area(r.area).grade is Grade.from_key(grade), (r.area, grade)


def test_a_stated_cause_of_concern_is_the_smallest_evidence_for_inadequate(rule_set) -> None:
    for r in reachability(peelrules.shipped_program(rule_set)):
        w = r.witnesses["inadequate"]
        assert w is not None and w.size == 1, (r.area, w)


def test_each_witness_is_minimal_no_fact_or_finding_can_be_left_out(rule_set) -> None:
    """The smallest evidence is shrunk: without any one of its facts or findings the grade is no longer given."""
    shipped = peelrules.shipped_program(rule_set)
    evaluator = Evaluator(shipped)

    def gives(area: str, facts: dict, findings, grade: str) -> bool:
        return evaluator.run(_bundle(shipped, area, facts, findings))[0].area(area).grade is Grade.from_key(grade)

    shrunk = 0
    for r in reachability(shipped):
        for grade, w in r.witnesses.items():
            assert w is not None
            facts = dict(w.facts)
            for name in facts:
                assert not gives(r.area, {k: v for k, v in facts.items() if k != name}, w.findings, grade), \
                    (r.area, grade, name)
            for i in range(len(w.findings or ())):
                assert not gives(r.area, facts, w.findings[:i] + w.findings[i + 1:], grade), (r.area, grade, i)
                shrunk += 1
    assert shrunk > 0  # some witnesses state findings, so the findings half was exercised


def test_check_strict_reports_reachability_and_fails_on_an_unreachable_grade(rule_set, tmp_path) -> None:
    shipped = peelrules.shipped_program(rule_set)
    res = CliRunner().invoke(cli_main, ["check", "--strict", str(shipped_rules_dir(rule_set))])
    assert res.exit_code == 0, res.output
    assert res.output.count("all five grades reachable") == sum(a.ladder is not None for a in shipped.areas)
    rules = write_rules(tmp_path, """
framework fw "FW" { }
evidence x { a: assessment "A" }
area one "One" {
  ladder own {
    inadequate when concerns >= 1
    good otherwise
  }
  grade by own
  characteristic c "C" { when x.a >= met  cite "c" }
  cause_of_concern k "K" { when x.a is not_met  cite "k"  recommendation "r" }
}
""")
    res = CliRunner().invoke(cli_main, ["check", "--strict", str(rules)])
    assert res.exit_code == 1
    assert "error[PR229]: area 'one' can never be graded outstanding, adequate, requires improvement" in res.output


def _apply(program, bundle, area, change):
    """The bundle with a guidance change applied, built independently of the search."""
    from dataclasses import replace

    from peelrules.evidence import Fact
    from peelrules.findings import Finding
    from peelrules.source import Span

    nowhere = Span("<test>", 0, 0, 0, 0)
    facts = dict(bundle.facts) | {f: Fact(f, new, program.decls[f], "t", 1, None, "open", nowhere)
                                  for f, _, new in change.facts}
    findings = dict(bundle.findings)
    if change.findings is not None:
        findings[area] = tuple(Finding(k, None, "t", 1, None, s, (), None, nowhere) for k, s in change.findings)
    return replace(bundle, facts=facts, findings=findings)


def test_guidance_for_an_undetermined_area_gives_the_grades_it_names(shipped, lancashire) -> None:
    from dataclasses import replace

    from peelrules.reach import guidance

    area = "investigating_crime"
    thin = replace(lancashire, facts={k: v for k, v in lancashire.facts.items() if not k.startswith("investigating.")})
    evaluator = Evaluator(shipped)
    assert evaluator.run(thin)[0].area(area).judgment == "undetermined"
    found = guidance(shipped, thin, area)
    assert sum(1 for c in found.values() if c is not None) >= 4
    for grade, change in found.items():
        if change is not None:
            assert evaluator.run(_apply(shipped, thin, area, change))[0].area(area).judgment == grade, grade
    assert found["inadequate"].size == 1


def test_stability_names_one_step_changes_that_move_the_grade(shipped, lancashire) -> None:
    from dataclasses import replace

    from peelrules.reach import stability

    evaluator = Evaluator(shipped)
    moves = stability(shipped, lancashire, "responding_to_the_public")
    assert moves
    for fact, before, after, grade in moves:
        assert lancashire.facts[fact].value == before
        changed = replace(lancashire, facts=lancashire.facts | {fact: replace(lancashire.facts[fact], value=after)})
        assert evaluator.run(changed)[0].area("responding_to_the_public").judgment == grade


def test_why_not_names_concrete_evidence(shipped) -> None:
    from conftest import LANCASHIRE

    res = CliRunner().invoke(cli_main, ["explain", str(LANCASHIRE), "investigating_crime", "--why-not", "good"])
    assert res.exit_code == 0
    assert "Evidence that would give good (" in res.output
