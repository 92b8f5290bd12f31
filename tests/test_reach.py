"""Reachability: every graded area of the shipped rules can reach all five grades, and each witness really
gives its grade through the reference interpreter."""
from __future__ import annotations

from click.testing import CliRunner

from peelrules.cli import main as cli_main
from peelrules.evaluate import Evaluator
from peelrules.grades import GRADE_KEYS, Grade
from peelrules.reach import _bundle, reachability

from conftest import SHIPPED_RULES, write_rules


def test_every_graded_area_of_the_shipped_rules_reaches_all_five_grades(shipped) -> None:
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


def test_a_stated_cause_of_concern_is_the_smallest_evidence_for_inadequate(shipped) -> None:
    for r in reachability(shipped):
        w = r.witnesses["inadequate"]
        assert w is not None and w.size == 1, (r.area, w)


def test_check_strict_reports_reachability_and_fails_on_an_unreachable_grade(tmp_path) -> None:
    res = CliRunner().invoke(cli_main, ["check", "--strict", str(SHIPPED_RULES)])
    assert res.exit_code == 0, res.output
    assert res.output.count("all five grades reachable") == 10
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
