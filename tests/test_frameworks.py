"""Two frameworks ship (PEEL 2021/22 and PEEL 2023-25): a bundle without `framework:` is graded with the one in
force when its inspection period starts, a period no shipped framework covers is a clear error (PR314), and the
2023-25 rules have their own rule tests, template and reachability (tests/test_reach.py runs over every set)."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.evidence import covers
from peelrules.loader import shipped_rule_sets
from peelrules.ruletests import run_tests

from conftest import ROOT, write_bundle

CASES_2023_25 = ROOT / "tests" / "cases-peel-2023-25"
HYPOTHETICAL = ROOT / "tests" / "data" / "hypothetical-2023-25.yaml"


def bare(start: str, end: str) -> dict:
    """A bundle that names no framework, only its inspection period."""
    return {"force": "Hypothetical Constabulary", "period": {"from": start, "to": end},
            "sources": {"report": {"title": "A hypothetical inspection report"}}, "facts": {}}


def test_both_frameworks_ship_and_no_date_falls_under_two_of_them() -> None:
    programs = [peelrules.shipped_program(name) for name in shipped_rule_sets()]
    assert {p.framework.name for p in programs} >= {"peel_2021_22", "peel_2023_25"}
    for a, b in combinations(programs, 2):  # the choice by date is never ambiguous
        assert a.framework.effective_to < b.framework.effective_from or b.framework.effective_to < a.framework.effective_from


@pytest.mark.parametrize("start,end,framework", [
    ("2024-02-05", "2024-06-28", "peel_2023_25"),
    ("2023-04-01", "2023-09-30", "peel_2023_25"),   # the first day of the 2023-25 framework
    ("2022-01-10", "2022-05-31", "peel_2021_22"),
    ("2023-03-31", "2023-06-30", "peel_2021_22"),   # the period's start decides, not its end
])
def test_the_inspection_period_chooses_the_framework(tmp_path: Path, start: str, end: str, framework: str) -> None:
    program, bundle = peelrules.load_with_rules(write_bundle(tmp_path, bare(start, end)))
    assert (program.framework.name, bundle.framework) == (framework, framework)
    assert covers(program.framework, bundle.period[0])


def test_evaluate_picks_the_rules_of_the_period_and_says_which(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli_main, ["evaluate", str(HYPOTHETICAL)])
    assert res.exit_code == 0, res.output
    assert "Hypothetical Constabulary — PEEL Assessment Framework 2023–2025" in res.output
    assert "Leadership and force management" in res.output
    res = CliRunner().invoke(cli_main, ["evaluate", str(write_bundle(tmp_path, bare("2022-01-10", "2022-05-31")))])
    assert res.exit_code == 0, res.output
    assert "PEEL Assessment Framework 2021/22" in res.output and "Leadership and force management" not in res.output


def test_a_period_after_every_shipped_framework_is_a_clear_error(tmp_path: Path) -> None:
    path = write_bundle(tmp_path, bare("2026-01-12", "2026-03-27"))
    res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    assert res.exit_code == 2
    assert "error[PR314]: no shipped framework was in force on 2026-01-12, when the inspection period starts" \
        in res.output
    assert "peel_2021_22 (2021-04-01 to 2023-03-31), peel_2023_25 (2023-04-01 to 2025-03-31)" in res.output
    assert f"{path}:2:" in res.output and "^" in res.output  # file, line and caret
    assert "Traceback" not in res.output


def test_a_bundle_naming_the_2023_25_framework_gets_its_rules_and_a_shipped_set_is_taken_by_name(tmp_path) -> None:
    data = yaml.safe_load(HYPOTHETICAL.read_text(encoding="utf-8"))
    del data["period"]
    data["framework"] = "peel_2023_25"
    program, _ = peelrules.load_with_rules(write_bundle(tmp_path, data))
    assert program.framework.name == "peel_2023_25"
    res = CliRunner().invoke(cli_main, ["evaluate", str(HYPOTHETICAL), "--rules", "peel-2023-25"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli_main, ["evaluate", str(HYPOTHETICAL), "--rules", "peel-2021-22"])
    assert res.exit_code == 2 and "PR308" in res.output  # a 2024 period lies outside the 2021/22 framework


def test_the_evidence_template_for_the_2023_25_rules_lists_every_fact_they_read(tmp_path: Path) -> None:
    out = tmp_path / "template.yaml"
    res = CliRunner().invoke(cli_main, ["evidence", "template", "--rules", str(ROOT / "rules" / "peel-2023-25"),
                                        "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "framework: peel_2023_25" in text
    program = peelrules.shipped_program("peel-2023-25")
    for fact in sorted({f for facts in program.area_facts().values() for f in facts}):
        assert f"  {fact}:" in text, fact
    assert "# ---------------- Leadership and force management (leadership_and_force_management)" in text


def test_the_2023_25_rule_tests_pass_with_framework_coverage() -> None:
    program = peelrules.shipped_program("peel-2023-25")
    results, coverage, problems = run_tests(program, [CASES_2023_25])
    assert not problems
    failed = [(r.case.name, [(f.area, f.expected, f.actual) for f in r.failures], r.errors)
              for r in results if not r.passed]
    assert not failed
    assert len(results) >= 10
    assert coverage.percent >= 90.0, f"framework coverage {coverage.percent:.1f}%"
