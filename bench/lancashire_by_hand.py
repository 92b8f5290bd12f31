"""The baseline of bench/ratios.py (a): the PEEL 2021/22 decisions for one force written by hand in plain Python.

    python bench/lancashire_by_hand.py [EVIDENCE]     (default evidence/lancashire-2022.yaml)

What an engineer would write to grade one force's bundle without peel: load the YAML with PyYAML's C loader,
restate each rule of rules/peel-2021-22 as a Python expression, count, and climb the shared ladder. It prints
one `area grade` line per area (grade as peel's JSON `final`: good, requires_improvement, ungraded,
not_inspected, undetermined, ...). Missing evidence is unknown (None) with three-valued and/or/not, and counters
are (low, high) ranges, so that it decides exactly where peel decides; nothing else of peel is restated (no
checks of the bundle, no quotes, no explanation, no moderation). tests/test_bench.py keeps it in step with peel's
grades for Lancashire; when the shipped rules change, change it with them.
"""
from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable

import yaml

Tri = bool | None  # True, False, or None for unknown
Range = tuple[float, float]  # a counter: at least, at most

LEVELS = {"not_met": 0, "partly_met": 1, "met": 2, "exceeded": 3}
SOME, SUBSTANTIALLY_ALL, SEVERAL, SUBSTANTIAL_NUMBER, SUBSTANTIALLY_EXCEEDS = 0.33, 0.75, 3, 5, 0.5


def all_(*xs: Tri) -> Tri:
    return False if False in xs else None if None in xs else True


def any_(*xs: Tri) -> Tri:
    return True if True in xs else None if None in xs else False


def not_(x: Tri) -> Tri:
    return None if x is None else not x


def count(xs: list[Tri]) -> Range:
    return (sum(x is True for x in xs), sum(x is not False for x in xs))


def at_least(r: Range, n: float) -> Tri:
    return True if r[0] >= n else False if r[1] < n else None


def share(r: Range, total: int) -> Range:
    return (r[0] / total, r[1] / total)


def decide(doc: dict) -> dict[str, str]:
    facts: dict = doc.get("facts") or {}
    findings: dict = doc.get("findings") or {}
    statuses = {a: s.get("status") for a, s in (doc.get("areas") or {}).items()}
    secondary_sources = {n for n, s in (doc.get("sources") or {}).items() if s.get("kind") == "secondary"}

    def level(name: str) -> int | None:
        f = facts.get(name)
        return None if f is None else LEVELS[f["assessment"]]

    def ge(name: str, lvl: str = "met") -> Tri:  # x >= met
        v = level(name)
        return None if v is None else v >= LEVELS[lvl]

    def lt(name: str, lvl: str = "met") -> Tri:  # x < met
        return not_(ge(name, lvl))

    def is_(name: str, lvl: str) -> Tri:  # x is exceeded
        v = level(name)
        return None if v is None else v == LEVELS[lvl]

    def remediated(name: str) -> Tri:
        return (facts.get(name) or {}).get("status") == "remediated_during_inspection"

    def flag(name: str) -> Tri:
        f = facts.get(name)
        return None if f is None else bool(f["value"])

    def pct(v: object) -> float:
        return float(str(v).rstrip("%")) / 100 if isinstance(v, str) else float(v)  # type: ignore[arg-type]

    def num(name: str) -> float | None:  # a value, a percentage, k/n, or an estimate's point value
        f = facts.get(name)
        if f is None:
            return None
        if "k" in f:
            return f["k"] / f["n"]
        return pct(f["estimate"] if "estimate" in f else f["value"])

    def bound(name: str, sign: int) -> float | None:  # lower() and upper() of an estimate
        f = facts.get(name)
        return None if f is None else pct(f["estimate"]) + sign * pct(f["ci"])

    def cmp(a: float | None, op: Callable[[float, float], bool], b: float | None) -> Tri:
        return None if a is None or b is None else op(a, b)

    def first_known(*xs: Tri) -> Tri:
        return next((x for x in xs if x is not None), None)

    gte, gt, lt_ = operator.ge, operator.gt, operator.lt
    grades: dict[str, str] = {}

    def grade(area: str, chars: list[tuple[Tri, Tri]], afis: list[Tri], cocs: list[Tri], innov: list[Tri],
              optional: bool = False, prefix: str = "") -> None:
        """Count the area's rules and climb the shared ladder (rules/peel-2021-22/01-ladder.peel)."""
        if statuses.get(area) == "not_inspected" or optional and area not in findings and area not in statuses \
                and not any(k.startswith(prefix) for k in facts):
            grades[area] = "not_inspected"
            return
        n = len(chars)
        met, exceeded = count([c for c, _ in chars]), count([all_(c, e) for c, e in chars])
        improvements, concerns, innovative = count(afis), count(cocs), count(innov)
        listed = findings.get(area)
        in_part = isinstance(listed, dict)
        items = (listed or {}).get("some", []) if in_part else listed or []

        def stated(kind: str, severe: bool = False) -> Range:
            k = sum(f.get("kind") == kind and (not severe or bool(f.get("severe"))) for f in items)
            return (k, math.inf) if listed is None or in_part else (k, k)

        secondary = sum(str(f.get("source", "")).split(":")[0] in secondary_sources for f in facts.values())
        rungs = [
            ("inadequate", any_(at_least(concerns, 1), at_least(stated("cause_of_concern"), 1),
                                at_least(stated("area_of_concern"), 1),
                                at_least(stated("area_for_improvement", severe=True), 1))),
            ("requires_improvement", any_(not_(at_least(share(met, n), SOME)),
                                          at_least(improvements, SUBSTANTIAL_NUMBER),
                                          at_least(stated("area_for_improvement"), SUBSTANTIAL_NUMBER))),
            ("adequate", any_(not_(at_least(share(met, n), SUBSTANTIALLY_ALL)), at_least(improvements, SEVERAL),
                              at_least(stated("area_for_improvement"), SEVERAL))),
            ("outstanding", all_(at_least(share(exceeded, n), SUBSTANTIALLY_EXCEEDS),
                                 any_(at_least(innovative, 1), at_least(stated("innovative_practice"), 1)),
                                 secondary == 0)),
        ]
        for name, holds in rungs:
            if holds is None:
                grades[area] = "undetermined"
                return
            if holds:
                grades[area] = name
                return
        grades[area] = "good"

    # Providing a service to the victims of crime (ungraded; other areas read its characteristics)
    vsa_answers_calls = all_(first_known(cmp(num("contact.emergency_calls_answered_in_10s"), gte, 0.90),
                                         ge("contact.emergency_answering")), ge("contact.non_emergency_answering"))
    vsa_responds_in_time = ge("vsa.attendance_within_timescales")
    vsa_protective_orders = ge("vsa.protective_orders_considered")
    grades["victim_service_assessment"] = "ungraded"

    # Engaging with and treating the public with fairness and respect
    a = ["community_engagement", "community_priorities", "fairness_training", "internal_monitoring",
         "external_scrutiny"]
    grounds = "fairness.stop_search_reasonable_grounds"
    prev, prev_ci = num("fairness.stop_search_grounds_previous"), num("fairness.stop_search_grounds_previous_ci")
    grounds_kept = cmp(bound(grounds, +1), gte, None if prev is None or prev_ci is None else prev - prev_ci)
    minority = facts.get("fairness.stop_search_grounds_ethnic_minority")
    grade("fairness_and_respect",
          [(ge(f"fairness.{x}"), is_(f"fairness.{x}", "exceeded")) for x in a]
          + [(grounds_kept, cmp(bound(grounds, -1), gt, None if prev is None or prev_ci is None else prev + prev_ci))]
          + [(ge(f"fairness.{x}"), is_(f"fairness.{x}", "exceeded"))
             for x in ("analysis_changes_practice", "disproportionality_understood")],
          [not_(grounds_kept),
           all_(cmp(num("fairness.stop_search_grounds_ethnic_minority"), lt_, bound(grounds, -1)),
                None if minority is None else minority["n"] >= 30),
           lt("fairness.disproportionality_understood", "partly_met")],
          [is_("fairness.internal_monitoring", "not_met")],
          [flag("fairness.innovative_practice_highlighted")])

    # Preventing crime and anti-social behaviour
    grade("preventing_crime",
          [(ge(f"prevention.{x}"), is_(f"prevention.{x}", "exceeded"))
           for x in ("prevention_priority", "neighbourhood_strategy")]
          + [(all_(ge("prevention.partnership_working"), ge("prevention.early_intervention")),
              all_(is_("prevention.partnership_working", "exceeded"),
                   is_("prevention.early_intervention", "exceeded")))]
          + [(ge(f"prevention.{x}"), is_(f"prevention.{x}", "exceeded"))
             for x in ("neighbourhood_demand", "problem_solving")],
          [lt("prevention.neighbourhood_abstraction")],
          [is_("prevention.prevention_priority", "not_met")],
          [flag("prevention.innovative_practice_highlighted")])

    # Responding to the public
    triage_ok = any_(ge("contact.structured_triage"), remediated("contact.structured_triage"))
    grade("responding_to_the_public",
          [(vsa_answers_calls,
            all_(first_known(cmp(num("contact.emergency_calls_answered_in_10s"), gte, 0.95),
                             is_("contact.emergency_answering", "exceeded")),
                 is_("contact.non_emergency_answering", "exceeded"))),
           (all_(triage_ok, ge("contact.repeat_vulnerable_callers_identified")),
            all_(is_("contact.structured_triage", "exceeded"),
                 is_("contact.repeat_vulnerable_callers_identified", "exceeded")))]
          + [(ge(f"contact.{x}"), is_(f"contact.{x}", "exceeded")) for x in ("incident_response", "digital_contact")]
          + [(vsa_responds_in_time, is_("vsa.attendance_within_timescales", "exceeded"))]
          + [(ge(f"contact.{x}"), is_(f"contact.{x}", "exceeded"))
             for x in ("response_demand_understood", "response_resourcing", "staff_wellbeing")],
          [not_(first_known(cmp(num("contact.emergency_calls_answered_in_10s"), gte, 0.90),
                            ge("contact.emergency_answering"))),
           lt("contact.non_emergency_answering"), lt("contact.repeat_vulnerable_callers_identified"),
           all_(lt("contact.structured_triage"), not_(remediated("contact.structured_triage"))),
           lt("contact.response_resourcing")],
          [all_(is_("contact.structured_triage", "not_met"), not_(remediated("contact.structured_triage")),
                is_("contact.repeat_vulnerable_callers_identified", "not_met"))],
          [flag("contact.innovative_practice_highlighted")])

    # Investigating crime
    outcomes = ("vsa.outcome_15_victim_informed", "vsa.outcome_16_victim_decision_recorded",
                "vsa.outcome_10_used_properly")
    inv = [(cmp(num("investigating.crimes_allocated_appropriately"), gte, 0.90), False)]
    inv += [(ge(x), is_(x, "exceeded")) for x in ("vsa.investigation_supervision", "vsa.victim_updates_recorded",
                                                  "vsa.vcop_needs_assessment")]
    inv += [(all_(*(ge(x) for x in outcomes)), all_(*(is_(x, "exceeded") for x in outcomes)))]
    inv += [(ge(f"investigating.{x}"), is_(f"investigating.{x}", "exceeded"))
            for x in ("quality_focus", "demand_understood", "digital_forensics", "criminal_justice_partners")]
    inv += [(all_(ge("vulnerability.da_subsequent_investigations"), ge("investigating.evidence_led_prosecutions")),
             all_(is_("vulnerability.da_subsequent_investigations", "exceeded"),
                  is_("investigating.evidence_led_prosecutions", "exceeded")))]
    grade("investigating_crime", inv,
          [not_(inv[1][0]), not_(inv[2][0]), not_(inv[3][0]), not_(inv[4][0]),
           lt("investigating.response_staff_quality"), lt("investigating.domestic_abuse_allocation_policy"),
           not_(inv[9][0])],
          [is_("investigating.quality_focus", "not_met")],
          [flag("investigating.innovative_practice_highlighted")])

    # Protecting vulnerable people
    v = "vulnerability."
    dvpo = v + "dvpo_applications"
    uses_orders = all_(any_(ge(dvpo), all_(remediated(dvpo), cmp(num(v + "dvpns_served_may_2022"), gt, 0.0))),
                       vsa_protective_orders)
    grade("protecting_vulnerable_people",
          [(all_(ge(v + "nature_and_scale_understood"), ge(v + "strategy_governance")),
            all_(is_(v + "nature_and_scale_understood", "exceeded"), is_(v + "strategy_governance", "exceeded")))]
          + [(ge(v + x), is_(v + x, "exceeded"))
             for x in ("exploitation_safeguarding", "safeguarding", "da_initial_response")]
          + [(uses_orders, all_(is_(dvpo, "exceeded"), is_("vsa.protective_orders_considered", "exceeded"))),
             (ge(v + "repeat_victimisation"), is_(v + "repeat_victimisation", "exceeded")),
             (all_(ge(v + "mash_arrangements"), cmp(num(v + "mash_consent_audit"), gte, 0.90), ge(v + "marac")),
              all_(is_(v + "mash_arrangements", "exceeded"), is_(v + "marac", "exceeded")))],
          [any_(not_(uses_orders), lt(v + "da_subsequent_investigations")),
           all_(lt(dvpo), not_(remediated(dvpo)))],
          [is_(v + "safeguarding", "not_met")],
          [flag(v + "innovative_practice_highlighted")])

    # Managing offenders and suspects
    o = "offenders."
    rso = ("rso_management", "rso_orders", "rso_neighbourhood_links")
    grade("managing_offenders",
          [(ge(o + x), is_(o + x, "exceeded")) for x in ("wanted_suspects", "bail_rui_management")]
          + [(all_(*(ge(o + x) for x in rso), any_(ge(o + "rso_visits"), remediated(o + "rso_visits"))),
              all_(*(is_(o + x, "exceeded") for x in (*rso, "rso_visits")))),
             (ge(o + "probation_joint_working"), is_(o + "probation_joint_working", "exceeded")),
             (any_(ge(o + "ocait_backlog"), remediated(o + "ocait_backlog")), is_(o + "ocait_backlog", "exceeded")),
             (ge(o + "iom"), is_(o + "iom", "exceeded"))],
          [lt(o + "bail_lapses"), lt(o + "probation_final_risk_assessment"),
           all_(lt(o + "rso_visits"), not_(remediated(o + "rso_visits"))),
           all_(lt(o + "ocait_backlog"), not_(remediated(o + "ocait_backlog")))],
          [is_(o + "rso_management", "not_met"),
           all_(is_(o + "ocait_backlog", "not_met"), not_(remediated(o + "ocait_backlog")))],
          [flag(o + "innovative_practice_highlighted")])

    # Disrupting serious organised crime
    soc = [("threat_assessment", "local_profiles"), ("tasking_governance", "covert_management"), ("dedicated_teams",),
           ("everyones_responsibility",), ("information_sharing",), ("diversion", "partnership_powers"),
           ("lifetime_management", "ancillary_orders")]
    grade("serious_organised_crime",
          [(all_(*(ge("soc." + x) for x in xs)), all_(*(is_("soc." + x, "exceeded") for x in xs))) for xs in soc],
          [], [is_("soc.threat_assessment", "not_met")], [flag("soc.innovative_practice_highlighted")])

    # Building, supporting and protecting the workforce
    w = "workforce."
    grade("workforce",
          [(all_(ge(w + "ethical_culture"), ge(w + "ethics_board")),
            all_(is_(w + "ethical_culture", "exceeded"), is_(w + "ethics_board", "exceeded"))),
           (ge(w + "wellbeing"), is_(w + "wellbeing", "exceeded")),
           (any_(ge(w + "workloads"), remediated(w + "workloads")), is_(w + "workloads", "exceeded"))]
          + [(ge(w + x), is_(w + x, "exceeded")) for x in ("workforce_planning", "representation", "peqf")]
          + [(all_(ge(w + "learning_development"), ge(w + "leadership_development")),
              all_(is_(w + "learning_development", "exceeded"), is_(w + "leadership_development", "exceeded"))),
             (ge(w + "pdr_process"), is_(w + "pdr_process", "exceeded"))],
          [lt(w + "pdr_process"), all_(lt(w + "workloads"), not_(remediated(w + "workloads")))],
          [is_(w + "ethical_culture", "not_met")],
          [flag(w + "innovative_practice_highlighted")])

    # Vetting and counter corruption
    vet = ("vetting_standards", "counter_corruption_unit", "highest_threat_targeting", "corruption_intelligence")
    grade("vetting_and_counter_corruption",
          [(ge("vetting." + x), is_("vetting." + x, "exceeded")) for x in vet],
          [], [is_("vetting.vetting_standards", "not_met")], [flag("vetting.innovative_practice_highlighted")])

    # Strategic planning, organisational management and value for money
    p = "planning."
    plan = ("governance", "performance_framework", "demand_modelling", "resource_planning", "financial_management",
            "collaboration")
    grade("strategic_planning",
          [(ge(p + x), is_(p + x, "exceeded")) for x in plan],
          [lt(p + "response_capacity"), lt(p + "savings_plans")],
          [is_(p + "financial_management", "not_met")],
          [flag(p + "innovative_practice_highlighted")])

    # Crime data integrity (optional: not inspected when the bundle records nothing for it)
    c = "cdi."
    grade("crime_data_integrity",
          [(first_known(cmp(num(c + "recording_accuracy"), gte, 0.90), ge(c + "recording_accurate")),
            first_known(cmp(num(c + "recording_accuracy"), gte, 0.96), is_(c + "recording_accurate", "exceeded")))]
          + [(ge(c + x), is_(c + x, "exceeded")) for x in ("recording_timely", "leadership_oversight",
                                                            "cancellations_correct", "outcomes_correct",
                                                            "vulnerable_victims_safeguarded")],
          [lt(c + "recording_timely"), lt(c + "outcomes_correct")],
          [first_known(cmp(num(c + "recording_accuracy"), lt_, 0.90), is_(c + "recording_accurate", "not_met"))],
          [flag(c + "innovative_practice_highlighted")], optional=True, prefix=c)
    return grades


def main(argv: list[str]) -> None:
    path = argv[1] if len(argv) > 1 else "evidence/lancashire-2022.yaml"
    with open(path, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=yaml.CSafeLoader)
    print("\n".join(f"{area} {grade}" for area, grade in decide(doc).items()))


if __name__ == "__main__":
    main(sys.argv)
