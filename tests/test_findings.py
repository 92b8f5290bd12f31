"""Findings as evidence: the report's own words in a bundle, read by stated() in the rules, shown in every
format; area statuses; moderation. Grades come from the shipped rules and the bundles written here."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import peelrules
from peelrules.cli import main as cli_main
from peelrules.compile import compile_program
from peelrules.diagnostics import PeelError
from peelrules.evaluate import Evaluator
from peelrules.grades import Status

from conftest import LANCASHIRE, SHIPPED_RULES, lancashire_raw, write_bundle, write_rules

RECOMMENDATION = ("Within six months, the force should make sure that it answers emergency calls within "
                  "national standards.")
AREA = "responding_to_the_public"


def concern_only() -> dict:
    """A bundle that states one cause of concern and nothing else."""
    return {
        "force": "Hypothetical Constabulary", "framework": "peel_2021_22",
        "sources": {"report": {"title": "Hypothetical PEEL inspection report"}},
        "findings": {AREA: [{"kind": "cause_of_concern", "text": "Emergency calls are answered too slowly",
                             "source": "report:L40", "quote": "isn't answering emergency calls",
                             "recommendations": [RECOMMENDATION]}]},
    }


def test_a_cause_of_concern_alone_makes_the_area_inadequate_and_its_recommendation_is_shown(shipped, tmp_path):
    path = write_bundle(tmp_path, concern_only())
    bundle = peelrules.load_evidence(path, shipped)
    result, traces = peelrules.explain(shipped, bundle)
    area = result.area(AREA)
    assert area.judgment == "inadequate"
    assert compile_program(shipped).run(bundle).area(AREA) == area  # both engines agree
    res = CliRunner().invoke(cli_main, ["explain", str(path), AREA])
    assert res.exit_code == 0, res.output
    assert f"recommendation: {RECOMMENDATION}" in res.output
    assert "Emergency calls are answered too slowly" in res.output
    for fmt in ("md", "html", "json"):
        res = CliRunner().invoke(cli_main, ["evaluate", str(path), "--format", fmt])
        assert res.exit_code == 0, res.output
        assert "within national standards" in res.output, fmt


def test_without_recorded_findings_an_area_is_undetermined_and_names_them(shipped, tmp_path):
    data = lancashire_raw()
    del data["findings"]["investigating_crime"]
    path = write_bundle(tmp_path, data)
    data_dir = tmp_path / "sources"
    data_dir.mkdir()
    (data_dir / Path(data["sources"]["report"]["file"]).name).write_bytes(
        (LANCASHIRE.parent / data["sources"]["report"]["file"]).read_bytes())
    bundle = peelrules.load_evidence(path, shipped)
    for result in (Evaluator(shipped).run(bundle)[0], compile_program(shipped).run(bundle)):
        area = result.area("investigating_crime")
        assert area.status is Status.UNDETERMINED
        assert "findings.investigating_crime" in area.missing


def test_stated_counts_read_in_a_rule_and_a_local_ladder(tmp_path):
    rules = write_rules(tmp_path, """
framework fw "FW" { }
evidence x { a: flag "A" }
area one "One" {
  ladder own {
    inadequate when stated_severe(area_for_improvement) >= 1
    adequate when improvements >= 1
    good otherwise
  }
  grade by own
  area_for_improvement many "Many stated" { when stated(area_for_improvement) >= 2 or x.a }
}
""")
    program = peelrules.load_rules(rules)
    base = {"force": "F", "framework": "fw", "sources": {"r": {"title": "R"}}, "facts": {}}
    cases = [([], "good"), ([{"kind": "area_for_improvement", "source": "r:L1"}], "undetermined"),
             ([{"kind": "area_for_improvement", "source": "r:L1"}, {"kind": "area_for_improvement",
                                                                     "source": "r:L2"}], "adequate"),
             ([{"kind": "area_for_improvement", "source": "r:L1", "severe": True}], "inadequate")]
    for found, want in cases:
        data = copy.deepcopy(base) | {"findings": {"one": found}}
        if want == "good":
            data["facts"] = {"x.a": {"value": False, "source": "r:L1"}}
        bundle = peelrules.load_evidence(write_bundle(tmp_path, data), program)
        interpreted = Evaluator(program).run(bundle)[0].area("one")
        assert interpreted.judgment == want, found
        assert compile_program(program).run(bundle).area("one") == interpreted


@pytest.mark.parametrize("text, message", [
    ("stated(characteristic)", "takes one finding kind"),
    ("stated(cause_of_concrn)", "takes one finding kind"),
    ("stated(judgment)", "not evidence for a grade"),
    ("stated(x.a, x.a)", "takes one finding kind"),
])
def test_stated_takes_a_finding_kind(tmp_path, text, message):
    rules = write_rules(tmp_path, f"""
framework fw "FW" {{ }}
evidence x {{ a: flag "A" }}
area one "One" {{ area_for_improvement r "R" {{ when {text} >= 1 }} }}
""")
    with pytest.raises(PeelError) as err:
        peelrules.load_rules(rules)
    assert message in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["findings"].update({"responding_to_the_publik": []}), "unknown area 'responding_to_the_publik'"),
    (lambda d: d["findings"]["workforce"].append({"kind": "judgment", "source": "report:L188"}),
     "needs the grade"),
    (lambda d: d["findings"]["workforce"].append({"kind": "area_for_improvement", "source": "report:L188",
                                                  "quote": "not on this line"}), "the quote is not on line 188"),
    (lambda d: d["findings"]["workforce"].append({"kind": "cause_of_concern", "source": "report:L188",
                                                  "recommendations": ["The force should fly."]}),
     "recommendation 1 is not in"),
    (lambda d: d["findings"]["workforce"].append({"kind": "area_for_improvement", "source": "news:L1"}),
     "source document 'news'"),
    (lambda d: d["areas"].update({"workforce": {"status": "graded_later"}}), "areas.workforce.status"),
])
def test_bad_findings_name_their_place(shipped, change, message):
    data = lancashire_raw()
    change(data)
    path = LANCASHIRE.parent / ".test-findings.yaml"  # beside the report, so quotes are checked
    try:
        write_bundle(path.parent, data, path.name)
        res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    finally:
        path.unlink()
    assert res.exit_code == 2
    assert message in res.output
    assert ".test-findings.yaml:" in res.output  # file, line and column


def test_area_statuses_are_shown_as_such(shipped, tmp_path):
    data = lancashire_raw()
    data["areas"]["vetting_and_counter_corruption"]["status"] = "graded_separately"
    data["areas"]["workforce"] = {"status": "not_graded"}
    path = LANCASHIRE.parent / ".test-status.yaml"
    try:
        write_bundle(path.parent, data, path.name)
        bundle = peelrules.load_evidence(path, shipped)
        res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    finally:
        path.unlink()
    result = compile_program(shipped).run(bundle)
    assert result.area("vetting_and_counter_corruption").status is Status.GRADED_SEPARATELY
    assert result.area("workforce").status is Status.NOT_GRADED
    assert Evaluator(shipped).run(bundle)[0] == result
    assert "graded in a separate inspection" in res.output
    assert "not graded in this report" in res.output


def test_moderation_is_shown_beside_the_derived_grade(shipped, tmp_path):
    data = concern_only()
    data["moderation"] = {AREA: {"final": "requires_improvement", "rationale": "Put right before publication",
                                 "source": "report:L41"}}
    path = write_bundle(tmp_path, data)
    res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    assert "requires improvement (moderated; derived: inadequate)" in res.output
    res = CliRunner().invoke(cli_main, ["evaluate", str(path), "--format", "json"])
    area = next(a for a in json.loads(res.output)["results"][0]["areas"] if a["area"] == AREA)
    assert (area["grade"], area["final"]) == ("inadequate", "requires_improvement")
    assert area["moderation"]["rationale"] == "Put right before publication"
    res = CliRunner().invoke(cli_main, ["evaluate", str(path), "--format", "csv"])
    assert "requires improvement (moderated; derived inadequate)" in res.output


def test_a_derived_grade_that_differs_from_the_stated_judgment_is_flagged(shipped, tmp_path):
    data = lancashire_raw()
    stated = next(f for f in data["findings"]["workforce"] if f["kind"] == "judgment")
    data["findings"]["workforce"].append({"kind": "cause_of_concern", "source": stated["source"]})
    path = LANCASHIRE.parent / ".test-judgment.yaml"
    try:
        write_bundle(path.parent, data, path.name)
        res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    finally:
        path.unlink()
    line = next(x for x in res.output.splitlines() if x.strip().startswith("Building, supporting"))
    assert "inadequate" in line and f"(the report states {stated['grade'].replace('_', ' ')})" in line


def test_verify_checks_the_override_record_and_diff_counts_overrides(shipped, tmp_path):
    data = concern_only()
    data["moderation"] = {AREA: {"final": "requires_improvement", "rationale": "Put right before publication",
                                 "source": "report:L41"}}
    path = write_bundle(tmp_path, data)
    trace = tmp_path / "trace.json"
    res = CliRunner().invoke(cli_main, ["evaluate", str(path), "--format", "json", "--out", str(trace)])
    assert res.exit_code == 0, res.output
    assert CliRunner().invoke(cli_main, ["verify", str(trace)]).exit_code == 0
    data["moderation"][AREA]["final"] = "adequate"
    write_bundle(tmp_path, data)
    res = CliRunner().invoke(cli_main, ["verify", str(trace)])
    assert res.exit_code == 1
    assert f"moderation {AREA}: final requires_improvement recorded" in res.output
    res = CliRunner().invoke(cli_main, ["diff", "--old", str(SHIPPED_RULES), "--new", str(SHIPPED_RULES), str(path)])
    assert "1 final grade(s) set by moderation: 0 already derived by the old rules, 0 by the new" in res.output


def test_the_rule_set_is_chosen_from_the_framework_or_the_inspection_period(tmp_path):
    data = concern_only()
    del data["framework"]
    data["period"] = {"from": "2021-10-01", "to": "2022-03-31"}
    program, bundle = peelrules.load_with_rules(write_bundle(tmp_path, data))
    assert (program.framework.name, bundle.framework) == ("peel_2021_22", "peel_2021_22")
    data["period"] = {"from": "2019-01-01", "to": "2019-03-31"}
    path = write_bundle(tmp_path, data)
    res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    assert res.exit_code == 2
    assert "error[PR314]: no shipped framework was in force on 2019-01-01" in res.output
    data["framework"] = "peel_2021_22"  # named, but the period lies outside it
    res = CliRunner().invoke(cli_main, ["evaluate", str(write_bundle(tmp_path, data))])
    assert res.exit_code == 2 and "error[PR308]: the inspection period starts 2019-01-01" in res.output
    del data["framework"], data["period"]
    res = CliRunner().invoke(cli_main, ["evaluate", str(write_bundle(tmp_path, data))])
    assert res.exit_code == 2 and "names no framework and no inspection period" in res.output


def test_a_grade_resting_on_a_secondary_source_says_so_and_cannot_be_outstanding(shipped, tmp_path):
    data = {
        "force": "Hypothetical Constabulary", "framework": "peel_2021_22",
        "sources": {"report": {"title": "Hypothetical vetting inspection"},
                    "news": {"title": "A local newspaper's account", "kind": "secondary"}},
        "findings": {"vetting_and_counter_corruption": [
            {"kind": "innovative_practice", "text": "A counter-corruption app", "source": "report:L9"}]},
        "facts": {"vetting.vetting_standards": {"assessment": "exceeded", "source": "report:L1"},
                  "vetting.counter_corruption_unit": {"assessment": "exceeded", "source": "report:L2"},
                  "vetting.highest_threat_targeting": {"assessment": "exceeded", "source": "report:L3"},
                  "vetting.corruption_intelligence": {"assessment": "met", "source": "report:L4"}},
    }
    area = "vetting_and_counter_corruption"
    primary = peelrules.load_evidence(write_bundle(tmp_path, data, "primary.yaml"), shipped)
    data["facts"]["vetting.corruption_intelligence"]["source"] = "news:L1"
    path = write_bundle(tmp_path, data, "secondary.yaml")
    secondary = peelrules.load_evidence(path, shipped)
    assert compile_program(shipped).run(primary).area(area).judgment == "outstanding"
    result = compile_program(shipped).run(secondary)
    assert result.area(area).judgment == "good"  # outstanding needs primary sources (the ladder says so)
    assert Evaluator(shipped).run(secondary)[0] == result
    res = CliRunner().invoke(cli_main, ["evaluate", str(path)])
    assert "(rests on a secondary source: vetting.corruption_intelligence)" in res.output
    for fmt, text in (("md", "Rests on a secondary source"), ("html", "Rests on a secondary source"),
                      ("json", '"secondary_sources": [\n            "vetting.corruption_intelligence"'),
                      ("csv", "good (rests on 1 secondary source)")):
        res = CliRunner().invoke(cli_main, ["evaluate", str(path), "--format", fmt])
        assert text in res.output, fmt


def test_check_on_a_bundle_warns_of_contradictions_and_fails_strict(tmp_path):
    res = CliRunner().invoke(cli_main, ["check", str(LANCASHIRE)])
    assert res.exit_code == 0 and "ok: " in res.output
    data = lancashire_raw()
    data["facts"]["contact.emergency_calls_answered_in_10s"] = {"value": "95%", "source": "report:L38"}
    path = LANCASHIRE.parent / ".test-contradiction.yaml"
    try:
        write_bundle(path.parent, data, path.name)
        res = CliRunner().invoke(cli_main, ["check", str(path)])
        strict = CliRunner().invoke(cli_main, ["check", "--strict", str(path)])
        explained = CliRunner().invoke(cli_main, ["explain", str(path), "responding_to_the_public"])
    finally:
        path.unlink()
    assert res.exit_code == 0
    assert "warning[PR316]: contradictory evidence for 'victim_service_assessment.answers_calls_promptly'" in res.output
    assert "contact.emergency_answering, report line 38" in res.output
    assert strict.exit_code == 1 and "error[PR316]" in strict.output
    # the trace shows the fallback where the share is missing (Lancashire) and not where it is given
    lancashire = CliRunner().invoke(cli_main, ["explain", str(LANCASHIRE), "responding_to_the_public"])
    assert "(fallback: argument 2 taken, the ones before it are unknown)" in lancashire.output
    assert "(fallback: argument 2 taken" not in explained.output


# ---------------------------------------------------------------- optional areas

OPTIONAL_RULES = """
framework fw "FW" {
  effective 2021-04-01 to 2023-03-31
}

evidence cdi {
  accuracy: assessment "Crime is recorded accurately"
}

evidence other {
  thing: assessment "Something else"
}

ladder std {
  inadequate when concerns >= 1 or stated(cause_of_concern) >= 1
  good       otherwise
}

area cdi "Crime data integrity" {
  optional
  grade by std

  characteristic accurate "Records crime accurately" {
    when cdi.accuracy is met
    cite "fw 1"
  }
}

area main "Main" {
  grade by std

  characteristic thing "Does the thing" {
    when other.thing is met
    cite "fw 2"
  }
}
"""


@pytest.mark.parametrize("body, expected", [
    ("facts: {}", "not_inspected"),
    ("facts:\n  other.thing: {assessment: met, source: 'r:L1'}\nfindings: {main: []}", "not_inspected"),
    ("facts:\n  cdi.accuracy: {assessment: met, source: 'r:L1'}\nfindings: {cdi: []}", "good"),
    ("facts:\n  cdi.accuracy: {assessment: met, source: 'r:L1'}", "undetermined"),  # its findings unknown
    ("facts: {}\nfindings:\n  cdi:\n    - {kind: cause_of_concern, text: Under-recording, source: 'r:L1'}", "inadequate"),
    ("facts: {}\nareas:\n  cdi: {status: graded_separately}", "graded_separately"),
])
def test_an_optional_area_is_not_inspected_unless_the_bundle_records_evidence_for_it(
        tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / "r.txt").write_text("line one\n", encoding="utf-8")
    program = peelrules.load_rules(write_rules(tmp_path, OPTIONAL_RULES))
    text = f"force: F\nframework: fw\nsources: {{r: {{title: R, file: r.txt}}}}\n{body}\n"
    (tmp_path / "b.yaml").write_text(text, encoding="utf-8")
    bundle = peelrules.load_evidence(tmp_path / "b.yaml", program)
    shown = {a.name: a.grade.key if a.grade is not None else a.status.value
             for a in peelrules.evaluate(program, bundle).areas}
    assert shown["cdi"] == expected
    # the other area is graded as usual: only an optional area is set aside for want of evidence
    assert shown["main"] == ("good" if "other.thing" in text else "undetermined")


# ---------------------------------------------------------------- findings recorded in part (`some:`)


def test_a_cause_of_concern_recorded_among_some_findings_decides_as_in_a_full_list(shipped, tmp_path):
    """Where only a press release or a letter is at hand, `{some: [...]}` records what it states: a stated cause
    of concern counts (at least one) and decides the area as the same finding in a complete list does."""
    full = concern_only()
    some = concern_only()
    some["findings"] = {AREA: {"some": full["findings"][AREA]}}
    results = []
    for name, data in (("full.yaml", full), ("some.yaml", some)):
        bundle = peelrules.load_evidence(write_bundle(tmp_path, data, name), shipped)
        result = peelrules.explain(shipped, bundle)[0].area(AREA)
        assert compile_program(shipped).run(bundle).area(AREA) == result  # both engines agree
        results.append(result)
    assert results[0].status is Status.GRADED
    assert (results[1].grade, results[1].status) == (results[0].grade, results[0].status)
    res = CliRunner().invoke(cli_main, ["explain", str(tmp_path / "some.yaml"), AREA])
    assert res.exit_code == 0, res.output
    assert "Findings the report states (some of them: the rest are not at hand):" in res.output
    assert f"recommendation: {RECOMMENDATION}" in res.output


def test_some_findings_without_a_concern_leave_the_area_undetermined_naming_its_findings(shipped, tmp_path):
    afi = [{"kind": "area_for_improvement", "text": "The force should improve its triage", "source": "report:L41"}]
    full, some = concern_only(), concern_only()
    full["findings"] = {AREA: afi}
    some["findings"] = {AREA: {"some": afi}}
    missing = {}
    for name, data in (("full.yaml", full), ("some.yaml", some)):
        bundle = peelrules.load_evidence(write_bundle(tmp_path, data, name), shipped)
        result = peelrules.explain(shipped, bundle)[0].area(AREA)
        assert compile_program(shipped).run(bundle).area(AREA) == result
        assert result.status is Status.UNDETERMINED  # no characteristic facts either way
        missing[name] = result.missing
    assert f"findings.{AREA}" in missing["some.yaml"], "the rest of the list is what is missing"
    assert f"findings.{AREA}" not in missing["full.yaml"]
    doc = json.loads(CliRunner().invoke(cli_main, ["evaluate", str(tmp_path / "some.yaml"), "--format",
                                                   "json"]).stdout)
    area = next(a for a in doc["results"][0]["areas"] if a["area"] == AREA)
    assert area["findings_in_part"] is True

    def counts(node: object) -> list[object]:
        if isinstance(node, dict):
            here = [node["value"]] if node.get("expr") == "stated(cause_of_concern)" else []
            return here + [v for child in node.values() for v in counts(child)]
        return [v for child in node for v in counts(child)] if isinstance(node, list) else []

    assert counts(area["rungs"]) and all(v == {"min": 0, "max": None} for v in counts(area["rungs"])), \
        "none recorded among some findings: at least 0, no upper bound"


def test_recording_an_areas_findings_only_in_part_never_changes_a_grade_to_another(shipped, tmp_path):
    """For every area of Lancashire with findings, turning its complete list into `some:` keeps the grade or
    leaves the area undetermined: knowing less never gives a different grade."""
    base = lancashire_raw()
    path = LANCASHIRE.parent / ".test-some-findings.yaml"
    try:
        write_bundle(path.parent, base, path.name)
        before = compile_program(shipped).run(peelrules.load_evidence(path, shipped))
        for area in base["findings"]:
            data = copy.deepcopy(base)
            data["findings"][area] = {"some": data["findings"][area]}
            write_bundle(path.parent, data, path.name)
            after = compile_program(shipped).run(peelrules.load_evidence(path, shipped)).area(
                shipped.area(area).name)
            was = before.area(shipped.area(area).name)
            assert after.status is Status.UNDETERMINED or (after.grade, after.status) == (was.grade, was.status), area
    finally:
        path.unlink(missing_ok=True)
