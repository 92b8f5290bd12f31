"""`peel explain --why-not`: the smallest changes of rule outcomes that give another grade, and the
evidence values that would make them."""
from __future__ import annotations

from pathlib import Path

import peelrules
from peelrules.grades import Grade
from peelrules.whynot import why_not_grade, why_not_rule

from conftest import run_peel, write_bundle
from test_evaluate import base_evidence

DATA = Path(__file__).resolve().parent / "data"


def test_the_answer_really_gives_the_grade(tmp_path) -> None:
    program = peelrules.load_rules(DATA / "mini.peel")
    data = base_evidence()
    data["facts"]["audit.triage_tool"]["value"] = False  # a cause of concern: inadequate
    bundle = peelrules.load_evidence(write_bundle(tmp_path, data), program)
    w = why_not_grade(program, bundle, "contact", Grade.GOOD)
    assert w.area.grade is Grade.INADEQUATE
    assert w.answers and all(len(a) == len(w.answers[0]) for a in w.answers)
    first = w.answers[0]
    assert [f.rule for f in first] == ["contact.no_triage"]
    assert first[0].needs[0].condition == "audit.triage_tool != false"
    assert first[0].needs[0].facts == (("audit.triage_tool", False, "flag"),)
    # applying the needed evidence really gives the grade
    data["facts"]["audit.triage_tool"]["value"] = True
    fixed = peelrules.evaluate(program, peelrules.load_evidence(write_bundle(tmp_path, data, "b2.yaml"), program))
    assert fixed.area("contact").grade is Grade.GOOD


def test_threshold_is_named_with_its_value(tmp_path) -> None:
    program = peelrules.load_rules(DATA / "mini.peel")
    data = base_evidence()
    data["facts"]["calls.abandoned"]["value"] = 30
    bundle = peelrules.load_evidence(write_bundle(tmp_path, data), program)
    w = why_not_rule(program, bundle, "contact", "few_abandoned")
    need = w.answers[0][0].needs[0]
    assert need.condition == "calls.abandoned / calls.offered < abandon_limit"
    assert need.constants == (("abandon_limit", "10%"),)


def test_cli_investigating_crime_why_not_adequate() -> None:
    proc = run_peel("explain", "evidence/lancashire-2022.yaml", "investigating_crime", "--why-not", "adequate")
    assert proc.returncode == 0, proc.stderr
    assert "The smallest changes that give adequate change" in proc.stdout
    assert " needs " in proc.stdout and "(now " in proc.stdout


def test_cli_why_not_unknown_target_is_usage_error() -> None:
    proc = run_peel("explain", str(DATA / "mini-evidence.yaml"), "contact", "--rules", str(DATA / "mini.peel"),
                    "--why-not", "brilliant")
    assert proc.returncode == 2 and "neither a grade nor a rule" in proc.stderr
