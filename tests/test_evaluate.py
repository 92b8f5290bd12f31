"""Evaluation semantics: Kleene logic, unknown evidence, interval counters, ladders and statuses."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import peelrules
from peelrules.evaluate import Evaluator
from peelrules.grades import Grade, Status
from peelrules.values import UNKNOWN, Interval, apply_binary, compare, k_and, k_not, k_or

from conftest import write_bundle

DATA = Path(__file__).resolve().parent / "data"
MINI = DATA / "mini.peel"
T, F, U = True, False, UNKNOWN


@pytest.fixture(scope="module")
def mini() -> peelrules.Program:
    return peelrules.load_rules(MINI)


def base_evidence() -> dict:
    return yaml.safe_load((DATA / "mini-evidence.yaml").read_text(encoding="utf-8"))


def run(mini: peelrules.Program, tmp_path: Path, data: dict) -> peelrules.BundleResult:
    bundle = peelrules.load_evidence(write_bundle(tmp_path, data), mini)
    return peelrules.evaluate(mini, bundle)


@pytest.mark.parametrize("a, b, conj, disj", [
    (T, T, T, T), (T, F, F, T), (T, U, U, T), (F, F, F, F), (F, U, F, U), (U, U, U, U),
])
def test_kleene_truth_tables(a, b, conj, disj) -> None:
    assert k_and(a, b) is conj and k_and(b, a) is conj
    assert k_or(a, b) is disj and k_or(b, a) is disj


def test_not_and_unknown_comparisons() -> None:
    assert k_not(U) is U and k_not(T) is F
    assert compare(">=", U, 1) is U
    assert apply_binary("/", 5, 0) is U
    assert apply_binary("+", U, 1) is U


def test_intervals_decide_only_when_the_whole_range_agrees() -> None:
    assert compare(">=", Interval(2, 4), 2) is T
    assert compare(">=", Interval(2, 4), 3) is U
    assert compare("<", Interval(2, 4), 5) is T
    assert apply_binary("/", Interval(2, 4), 8) == Interval(0.25, 0.5)
    assert compare("==", Interval(0, 1), 3) is F


def test_assessments_are_ordered() -> None:
    assert compare(">=", "exceeded", "met") is T
    assert compare(">=", "partly_met", "met") is F
    assert compare("<", "not_met", "partly_met") is T


def test_mini_grades_good(mini, tmp_path) -> None:
    result = run(mini, tmp_path, base_evidence())
    contact = result.area("contact")
    assert contact.status is Status.GRADED
    assert contact.grade is Grade.GOOD
    assert result.area("victims").status is Status.UNGRADED


def test_cause_of_concern_gives_inadequate(mini, tmp_path) -> None:
    data = base_evidence()
    data["facts"]["audit.triage_tool"]["value"] = False
    assert run(mini, tmp_path, data).area("contact").grade is Grade.INADEQUATE


def test_missing_fact_that_decides_a_rung_gives_undetermined(mini, tmp_path) -> None:
    data = base_evidence()
    del data["facts"]["calls.offered"]
    contact = run(mini, tmp_path, data).area("contact")
    assert contact.status is Status.UNDETERMINED
    assert contact.grade is None
    assert contact.missing == ("calls.offered",)
    assert contact.counters["met"] == Interval(3, 4)


def test_missing_fact_that_cannot_change_the_grade_still_grades(mini, tmp_path) -> None:
    data = base_evidence()
    data["facts"]["audit.triage_tool"]["value"] = False  # inadequate whatever else is missing
    del data["facts"]["calls.offered"]
    assert run(mini, tmp_path, data).area("contact").grade is Grade.INADEQUATE


def test_division_by_zero_is_unknown_not_a_crash(mini, tmp_path) -> None:
    data = base_evidence()
    data["facts"]["calls.offered"]["value"] = 0
    data["facts"]["calls.abandoned"]["value"] = 0
    result = run(mini, tmp_path, data)
    outcome = {o.key: o.outcome for o in result.area("contact").outcomes}
    assert outcome["contact.few_abandoned"] is U
    assert result.area("contact").status is Status.UNDETERMINED


def test_first_known_prefers_the_measured_value(mini, tmp_path) -> None:
    data = base_evidence()
    data["facts"]["calls.answered_in_10s"] = {"value": "71%", "source": "report:L3"}
    outcome = {o.key: o.outcome for o in run(mini, tmp_path, data).area("contact").outcomes}
    assert outcome["contact.answers_999"] is F  # 71% < 90%, although the assessment says met
    assert outcome["contact.answering"] is T


def test_estimate_bounds_and_ratio_sample(mini, tmp_path) -> None:
    data = base_evidence()
    data["facts"]["audit.grounds"] = {"estimate": "85.2%", "ci": "6%", "sample": 100, "source": "report:L5"}
    data["facts"]["audit.consent"] = {"k": 19, "n": 19, "source": "report:L6"}
    outcome = {o.key: o.outcome for o in run(mini, tmp_path, data).area("contact").outcomes}
    assert outcome["contact.lawful_searches"] is F  # lower bound 79.2% < 80%
    assert outcome["contact.consent_sought"] is F  # 100% but only 19 cases


def test_not_inspected_areas_get_a_status_not_a_grade(mini, tmp_path) -> None:
    data = base_evidence()
    data["areas"] = {"calls": {"status": "not_inspected", "note": "later"}}  # by alias
    contact = run(mini, tmp_path, data).area("contact")
    assert contact.status is Status.NOT_INSPECTED and contact.grade is None and contact.note == "later"


def test_cross_area_reference_feeds_the_ungraded_area(mini, tmp_path) -> None:
    data = base_evidence()
    outcome = {o.key: o.outcome for o in run(mini, tmp_path, data).area("victims").outcomes}
    assert outcome["victims.contact_ok"] is T
    data["facts"]["calls.abandoned"]["value"] = 50
    outcome = {o.key: o.outcome for o in run(mini, tmp_path, data).area("victims").outcomes}
    assert outcome["victims.contact_ok"] is F


def test_evaluation_is_deterministic_and_reusable(mini, tmp_path) -> None:
    bundle = peelrules.load_evidence(write_bundle(tmp_path, base_evidence()), mini)
    ev = Evaluator(mini)
    assert ev.run(bundle) == ev.run(bundle)
    assert ev.run(bundle, trace=True)[0] == ev.run(bundle)[0]


# ---------------------------------------------------------------- ladder properties on the shipped rules

counter_values = st.fixed_dictionaries({
    "characteristics": st.integers(1, 12),
    "met_share": st.floats(0, 1),
    "exceeded_share": st.floats(0, 1),
    "concerns": st.integers(0, 3),
    "improvements": st.integers(0, 8),
    "innovative": st.integers(0, 2),
    "severe": st.integers(0, 2),
})


def _counters(v: dict) -> dict:
    c = v["characteristics"]
    met = round(v["met_share"] * c)
    exceeded = min(met, round(v["exceeded_share"] * c))
    return {"characteristics": c, "met": met, "unmet": c - met, "exceeded": exceeded,
            "concerns": v["concerns"], "improvements": v["improvements"],
            "innovative": v["innovative"], "severe": v["severe"], "secondary": 0}


@settings(max_examples=500, deadline=None)
@given(counter_values, st.sampled_from(["concerns", "improvements", "severe", "unmet", "secondary"]))
def test_shipped_ladders_are_monotone(shipped, v, worse) -> None:
    """More concerns, improvements, severe findings, unmet characteristics or secondary sources never improve a
    grade."""
    ev = Evaluator(shipped)
    ladders = {a.ladder.name: a.ladder for a in shipped.areas if a.ladder is not None}
    before = _counters(v)
    after = copy.deepcopy(before)
    if worse == "unmet":
        if after["met"] == 0:
            return
        after["met"] -= 1
        after["unmet"] += 1
        after["exceeded"] = min(after["exceeded"], after["met"])
    else:
        after[worse] += 1
    for ladder in ladders.values():
        g1 = ev.grade_for_counters(ladder, before)
        g2 = ev.grade_for_counters(ladder, after)
        assert g1 is not None and g2 is not None
        assert g2 <= g1, f"{ladder.name}: {worse} + 1 moved {g1.label} to {g2.label}"


@settings(max_examples=200, deadline=None)
@given(counter_values)
def test_outstanding_needs_positive_evidence(shipped, v) -> None:
    """No shipped ladder gives outstanding without exceeded characteristics and innovative practice."""
    ev = Evaluator(shipped)
    counters = _counters(v)
    counters["exceeded"] = 0
    for area in shipped.areas:
        if area.ladder is not None:
            assert ev.grade_for_counters(area.ladder, counters) is not Grade.OUTSTANDING
    counters = _counters(v)
    counters["innovative"] = 0
    for area in shipped.areas:
        if area.ladder is not None:
            assert ev.grade_for_counters(area.ladder, counters) is not Grade.OUTSTANDING


def test_inadequate_is_reachable_from_a_severe_finding_without_a_cause_of_concern(shipped) -> None:
    ev = Evaluator(shipped)
    counters = {"characteristics": 8, "met": 8, "unmet": 0, "exceeded": 0, "concerns": 0,
                "improvements": 0, "innovative": 0, "severe": 1, "secondary": 0}
    ladders = {a.ladder.name: a.ladder for a in shipped.areas if a.ladder is not None}
    assert {ev.grade_for_counters(lad, counters) for lad in ladders.values()} == {Grade.INADEQUATE}
