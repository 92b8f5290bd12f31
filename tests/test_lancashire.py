"""The first real case: the rules applied to the Lancashire evidence give the report's judgments, and
changing the evidence moves the grades the way the framework says. Expected judgments live in
tests/cases/*.yaml, never in this file."""
from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import yaml

import peelrules
from peelrules.analysis import reads
from peelrules.grades import Grade, Status
from peelrules.result import AreaResult

from conftest import LANCASHIRE, SEED, lancashire_raw, write_bundle

CASES = Path(__file__).resolve().parent / "cases"


def judgment(a: AreaResult) -> str:
    return a.grade.key if a.status is Status.GRADED and a.grade is not None else a.status.value


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_case_judgments(case: Path, shipped) -> None:
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    bundle = peelrules.load_evidence((case.parent / spec["evidence"]).resolve(), shipped)
    result = peelrules.evaluate(shipped, bundle)
    got = {a.name: judgment(a) for a in result.areas}
    assert got == spec["expect"]


def test_every_quote_is_on_its_cited_line(lancashire) -> None:
    """The loader checks this too (PR310); here it is checked against the seed copy of the report."""
    lines = SEED.read_text(encoding="utf-8").split("\n") if SEED.exists() else \
        (LANCASHIRE.parent / "sources" / "000_d8ec0c1289d1da33.txt").read_text(encoding="utf-8").split("\n")
    norm = lambda s: " ".join(s.replace("\u2019", "'").replace("\u2018", "'").split())  # noqa: E731
    for fact in lancashire.facts.values():
        assert fact.quote, f"{fact.name} has no quote"
        for part in fact.quote.replace("…", "...").split("..."):
            assert norm(part) in norm(lines[fact.line - 1]), f"{fact.name}: quote not on line {fact.line}"


# ---------------------------------------------------------------- mutations of the evidence

CANDIDATES = {
    "assessment": [{"assessment": v} for v in ("met", "exceeded", "partly_met", "not_met")],
    "flag": [{"value": True}, {"value": False}],
    "ratio": [{"k": 100, "n": 100}, {"k": 0, "n": 100}],
    "percent": [{"value": "100%"}, {"value": "0%"}],
    "count": [{"value": 0}, {"value": 1000}],
    "number": [{"value": 0}, {"value": 1000}],
    "estimate": [{"estimate": "100%", "ci": "0%", "sample": 1000}, {"estimate": "0%", "ci": "0%", "sample": 1000}],
}


def evaluate_raw(program, tmp_path: Path, data: dict, name: str = "mutated.yaml"):
    return peelrules.evaluate(program, peelrules.load_evidence(write_bundle(tmp_path, data, name), program))


def assignments(program, facts: list[str]):
    """Every combination of candidate values for the given facts."""
    options = [CANDIDATES[program.decls[f].type] for f in facts]
    for combo in itertools.product(*options):
        yield dict(zip(facts, combo))


def apply(data: dict, values: dict) -> dict:
    out = copy.deepcopy(data)
    for name, shape in values.items():
        source = out["facts"].get(name, {}).get("source", "report:L1")
        out["facts"][name] = {**shape, "source": source}
    return out


def make_rule_true(program, tmp_path: Path, data: dict, key: str) -> dict | None:
    """Evidence values for the facts a rule reads that make the rule hold, if any exist."""
    facts = sorted(reads(program, exceeded=False)[key])
    for i, values in enumerate(assignments(program, facts)):
        result = evaluate_raw(program, tmp_path, apply(data, values), f"try-{i}.yaml")
        area = result.area(key.split(".")[0])
        if {o.key: o.outcome for o in area.outcomes}[key] is True:
            return values
    return None


def test_a_cause_of_concern_in_a_good_area_gives_requires_improvement_or_lower(shipped, tmp_path) -> None:
    data = lancashire_raw()
    base = evaluate_raw(shipped, tmp_path, data)
    tried = 0
    for area in base.areas:
        if area.grade is not Grade.GOOD:
            continue
        for o in area.outcomes:
            if o.kind != "cause_of_concern":
                continue
            values = make_rule_true(shipped, tmp_path, data, o.key)
            if values is None:
                continue
            tried += 1
            after = evaluate_raw(shipped, tmp_path, apply(data, values)).area(area.name)
            assert after.status is Status.GRADED and after.grade <= Grade.REQUIRES_IMPROVEMENT, \
                f"{o.key} raised, yet {area.name} is {after.grade}"
    assert tried >= 1, "no cause of concern in a good area could be raised by changing the evidence"


def test_investigating_crime_with_its_unmet_characteristics_met_is_at_least_adequate(shipped, tmp_path) -> None:
    data = lancashire_raw()
    area = evaluate_raw(shipped, tmp_path, data).area("investigating_crime")
    unmet = [o.key for o in area.outcomes if o.kind == "characteristic" and o.outcome is False]
    assert unmet
    for key in unmet:
        values = make_rule_true(shipped, tmp_path, data, key)
        assert values is not None, f"no evidence makes {key} hold"
        data = apply(data, values)
    after = evaluate_raw(shipped, tmp_path, data).area("investigating_crime")
    assert after.status is Status.GRADED and after.grade >= Grade.ADEQUATE, after


def test_removing_a_deciding_fact_gives_undetermined_never_another_grade(shipped, tmp_path) -> None:
    data = lancashire_raw()
    base = evaluate_raw(shipped, tmp_path, data).area("investigating_crime")
    facts = sorted({f for r in shipped.area("investigating_crime").rules
                    for f in reads(shipped)[f"investigating_crime.{r.name}"] if f in data["facts"]})
    undetermined = 0
    for i, name in enumerate(facts):
        cut = copy.deepcopy(data)
        del cut["facts"][name]
        after = evaluate_raw(shipped, tmp_path, cut, f"cut-{i}.yaml").area("investigating_crime")
        if after.status is Status.UNDETERMINED:
            undetermined += 1
            assert name in after.missing
        else:
            assert after.grade == base.grade, f"removing {name} changed the grade to {after.grade}"
    assert undetermined >= 1
