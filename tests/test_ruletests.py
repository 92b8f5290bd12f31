"""`peel test`: rule tests as data, failures explained by the trace, coverage against the framework."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.ruletests import run_tests

from conftest import run_peel

DATA = Path(__file__).resolve().parent / "data"
MINI = DATA / "mini.peel"


def test_mini_cases_pass(tmp_path) -> None:
    program = peelrules.load_rules(MINI)
    results, coverage, problems = run_tests(program, [DATA / "cases"])
    assert not problems
    assert len(results) == 4 and all(r.passed for r in results)
    assert {"true", "false"} <= coverage.rules["contact.no_triage"]
    assert "false" not in coverage.rules["contact.answers_999"]


def test_a_case_adds_coverage(tmp_path) -> None:
    program = peelrules.load_rules(MINI)
    _, before, _ = run_tests(program, [DATA / "cases"])
    extra = tmp_path / "extra.yaml"
    extra.write_text(f"""evidence: {DATA / 'mini-evidence.yaml'}
set:
  calls.answered_in_10s: {{value: "50%", source: "report:L3"}}
expect:
  contact: {{raised: [answering], not_raised: [answers_999]}}
""", encoding="utf-8")
    results, after, _ = run_tests(program, [DATA / "cases", extra])
    assert all(r.passed for r in results)
    assert {"true", "false"} <= after.rules["contact.answers_999"]
    assert after.percent > before.percent


def test_failures_show_expected_actual_and_why(tmp_path) -> None:
    case = tmp_path / "wrong.yaml"
    case.write_text(f"""name: wrong on purpose
evidence: {DATA / 'mini-evidence.yaml'}
expect:
  contact: {{judgment: adequate, raised: [no_triage]}}
""", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    proc = run_peel("test", str(case), "--rules", str(MINI), "--junit", str(junit))
    assert proc.returncode == 1
    assert "FAIL  wrong on purpose" in proc.stdout
    assert "contact: expected adequate, got good" in proc.stdout
    assert "contact: expected no_triage holds, got no_triage is false" in proc.stdout
    assert "Ladder simple, first rung that holds wins" in proc.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "1"
    assert suite.find("testcase/failure") is not None


def test_min_coverage_fails_below_the_threshold() -> None:
    ok = run_peel("test", str(DATA / "cases"), "--rules", str(MINI), "--min-coverage", "50")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    low = run_peel("test", str(DATA / "cases"), "--rules", str(MINI), "--min-coverage", "99")
    assert low.returncode == 1
    assert "below --min-coverage" in low.stderr


def test_bad_case_files_are_input_errors(tmp_path) -> None:
    case = tmp_path / "bad.yaml"
    case.write_text("evidence: nowhere.yaml\nexpect: {contact: good}\n", encoding="utf-8")
    proc = run_peel("test", str(case), "--rules", str(MINI))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    case.write_text(f"evidence: {DATA / 'mini-evidence.yaml'}\nexpekt: {{contact: good}}\n", encoding="utf-8")
    proc = run_peel("test", str(case), "--rules", str(MINI))
    assert proc.returncode == 2 and "PR311" in proc.stderr and f"{case}:2:1" in proc.stderr


def test_bounds_and_set_every(tmp_path) -> None:
    program = peelrules.load_rules(MINI)
    case = tmp_path / "bounds.yaml"
    case.write_text(f"""cases:
  - name: every assessment not met
    evidence: {DATA / 'mini-evidence.yaml'}
    set_every: {{assessment: not_met}}
    expect:
      contact: {{at_most: adequate, raised: [answering]}}
  - name: a bound that fails
    evidence: {DATA / 'mini-evidence.yaml'}
    expect:
      contact: {{at_most: requires_improvement}}
""", encoding="utf-8")
    results, _, problems = run_tests(program, [case])
    assert not problems
    assert results[0].passed, results[0].failures
    assert not results[1].passed
    assert results[1].failures[0].expected == "requires_improvement or worse"


def _cases_beside_a_document(tmp_path: Path) -> tuple[Path, list[str]]:
    """An evidence file whose report is at hand (so quotes are checked), and a case file writing a finding and a
    fact with quotes that are not on their lines: the evidence file's lines of the same numbers say otherwise."""
    (tmp_path / "report.txt").write_text("Example report\nline two\ncalls are answered promptly\n", encoding="utf-8")
    (tmp_path / "evidence.yaml").write_text("\n".join([
        "force: Example Constabulary", "framework: mini",
        "sources:", "  report: {title: Example report, file: report.txt}",
        "facts:", "  calls.answering:", "    assessment: met", "    source: report:L3",
        "    quote: calls are answered promptly", "    note: the evidence file's own line 10",
        "  calls.abandoned: {value: 5, source: 'report:L2'}", "  calls.offered: {value: 100, source: 'report:L2'}",
        ""]), encoding="utf-8")
    case = tmp_path / "case.yaml"
    case.write_text("""cases:
  - name: a finding the case writes
    evidence: evidence.yaml
    findings:
      contact:
        some:
          - kind: judgment
            grade: good
            source: "report:L2"
            quote: "not on line two"
    expect: {contact: good}
  - name: a fact the case writes over one of the evidence
    evidence: evidence.yaml
    set:
      calls.answering: {assessment: met, source: "report:L3", quote: "calls are never answered"}
    expect: {contact: good}
""", encoding="utf-8")
    return case, case.read_text(encoding="utf-8").splitlines()


def test_a_message_about_a_key_the_case_writes_shows_the_case_files_line(tmp_path: Path) -> None:
    case, lines = _cases_beside_a_document(tmp_path)
    results, _, problems = run_tests(peelrules.load_rules(MINI), [case])
    assert not problems
    for result, quote in zip(results, ("not on line two", "calls are never answered")):
        (d,) = result.errors
        assert d.code == "PR310" and d.span is not None and d.span.file == str(case)
        assert d.line_text == lines[d.span.line - 1] and quote in d.line_text  # the case's line, not the evidence's
        assert d.line_text[d.span.column - 1:].startswith("quote")  # the caret under the quote's key


def test_the_caret_line_of_peel_test_is_the_case_files(tmp_path: Path) -> None:
    case, lines = _cases_beside_a_document(tmp_path)
    out = CliRunner().invoke(cli_main, ["test", str(case), "--rules", str(MINI)]).output
    assert f"{case}:10:13: error[PR310]" in out and f"10 | {lines[9]}" in out
    assert f"{case}:15:63: error[PR310]" in out and f"15 | {lines[14]}" in out
    assert "the evidence file's own line 10" not in out


# ---------------------------------------------------------------- comparators in a case (issue 13)

ROOT = DATA.parent.parent
PEERS_CASES = ROOT / "tests" / "cases" / "framework" / "peers.yaml"
LANCS_EVIDENCE = ROOT / "evidence" / "lancashire-2022.yaml"
DVPO = ROOT / "evidence" / "comparators" / "dvpo-2021.yaml"

PEER_CASE = f"""name: peers
evidence: {LANCS_EVIDENCE}
set:
  vulnerability.dvpo_applications: {{assessment: not_met, source: "report:L128"}}
  vsa.protective_orders_considered: {{assessment: met, source: "report:L48"}}
COMPARATORS
expect:
  protecting_vulnerable_people: {{raised: [uses_protective_orders]}}
"""
WITHIN = """comparators:
  dvpo_applications_per_1000_da_offences:
    polarity: higher_is_better
    values: {Lancashire Constabulary: 6.0, A: 4.5, B: 5.5, C: 6.5, D: 7.5}"""


def _run_case(shipped, tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    case = tmp_path / "case.yaml"
    case.write_text(text, encoding="utf-8")
    return run_tests(shipped, [case])


def test_a_case_sets_a_comparator_and_the_peers_decide_the_rule(shipped, tmp_path: Path) -> None:
    [inline], _, problems = _run_case(shipped, tmp_path, PEER_CASE.replace("COMPARATORS", WITHIN))
    assert not problems and inline.passed, inline.failures
    # without the peers, the inspectors' assessment (not met) decides: the same expectation fails
    [bare], _, _ = _run_case(shipped, tmp_path, PEER_CASE.replace("COMPARATORS", "comparators: {}"))
    assert not bare.passed and "uses_protective_orders is false" in bare.failures[0].actual
    # the illustrative 43-force file places Lancashire well below average: the expectation fails too
    text = PEER_CASE.replace("COMPARATORS", f"comparators: {{dvpo_applications_per_1000_da_offences: {DVPO}}}")
    [from_file], _, problems = _run_case(shipped, tmp_path, text)
    assert not problems and not from_file.passed


def test_a_case_comparator_file_is_relative_to_the_case_file(shipped, tmp_path: Path) -> None:
    import yaml

    (tmp_path / "peers").mkdir()

    raw = yaml.safe_load(DVPO.read_text(encoding="utf-8"))
    present = sorted(v for v in raw["values"].values() if v is not None)
    raw["values"]["Lancashire Constabulary"] = present[len(present) // 2]  # the median: within the normal range
    (tmp_path / "peers" / "within.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    text = PEER_CASE.replace("COMPARATORS", "comparators: {dvpo_applications_per_1000_da_offences: peers/within.yaml}")
    [result], _, problems = _run_case(shipped, tmp_path, text)
    assert not problems and result.passed, result.failures


def _problem(shipped, tmp_path: Path, comparators: str):  # type: ignore[no-untyped-def]
    text = PEER_CASE.replace("COMPARATORS", comparators)
    results, _, problems = _run_case(shipped, tmp_path, text)
    diags = list(problems) + [d for r in results for d in r.errors]
    assert len(diags) == 1, diags
    return diags[0], text.splitlines()


def test_comparator_problems_in_a_case_are_reported_at_the_case_files_line(shipped, tmp_path: Path) -> None:
    d, lines = _problem(shipped, tmp_path, WITHIN.replace("    polarity: higher_is_better\n", ""))
    assert d.code == "PR311" and "polarity" in d.message and lines[d.span.line - 1].strip().startswith("dvpo_")
    d, lines = _problem(shipped, tmp_path, WITHIN.replace("A: 4.5", "A: lots"))
    assert d.code == "PR303" and d.span.file.endswith("case.yaml") and "A: lots" in lines[d.span.line - 1]
    assert d.span.column == lines[d.span.line - 1].index("A: lots") + 1, d.span  # at the force's key
    d, lines = _problem(shipped, tmp_path, "comparators: {dvpo_applications_per_1000_da_offences: nowhere.yaml}")
    assert d.code == "PR319" and "not found" in d.message and "nowhere.yaml" in lines[d.span.line - 1]
    d, lines = _problem(shipped, tmp_path, WITHIN.replace("dvpo_applications_per_1000_da_offences", "dvpo_rate"))
    assert d.code == "PR319" and "dvpo_applications_per_1000_da_offences" in d.hint
    assert lines[d.span.line - 1].strip().startswith("dvpo_rate:") and d.span.file.endswith("case.yaml")


def test_the_shipped_peer_cases_use_both_forms() -> None:
    import yaml

    cases = yaml.safe_load(PEERS_CASES.read_text(encoding="utf-8"))["cases"]
    forms = {type(v).__name__ for c in cases for v in (c.get("comparators") or {}).values()}
    assert forms == {"str", "dict"}
