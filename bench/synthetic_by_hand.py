"""The baseline of bench/ratios.py (b): the synthetic rule set of bench/run.py written by hand in plain Python.

    python bench/synthetic_by_hand.py BUNDLE.yaml...

`grade(doc)` takes one bundle as loaded (a dict, as json.loads or yaml.load give it, values still "93%" strings)
and returns {area: grade}, applying the rules of bench/run.py's `_area` and the ladder of its HEADER the way an
engineer would for bundles that give every fact (run.py's "complete" bundles): plain booleans, except that the
rules of an area not inspected are unknown (None) to the next area, which reads one of them, so that its share of
characteristics met is a range and its grade can be undetermined, as in peel.
`load(path)` reads a bundle with PyYAML's C loader. bench/ratios.py checks that it agrees with peel on every
bundle before timing it.
"""
from __future__ import annotations

import sys

import yaml

AREAS = 10
RANK = {"not_met": 0, "partly_met": 1, "met": 2, "exceeded": 3}
SOME, SUBSTANTIALLY_ALL, SEVERAL, SUBSTANTIAL_NUMBER, SUBSTANTIALLY_EXCEEDS = 0.5, 0.75, 3, 5, 0.5


def pct(text: str) -> float:
    return float(text[:-1]) / 100


def below(met: tuple[float, float], threshold: float) -> bool | None:
    """Is a share known only as a range (low, high) below the threshold? None if it cannot be told."""
    return True if met[1] < threshold else False if met[0] >= threshold else None


def grade(doc: dict) -> dict[str, str]:
    facts = doc["facts"]
    statuses = doc.get("areas") or {}
    grades: dict[str, str] = {}
    previous_supervised: bool | None = True
    for i in range(AREAS):
        def f(name: str) -> dict:
            return facts[f"s{i}.{name}"]

        answered = pct(f("answered_in_time")["value"])
        files, survey = f("files_correct"), f("survey")
        # the engine settles a computed bound to 12 significant digits (docs/statistics.md): 85% - 5% is 80%
        survey_lower = float(f"{pct(survey['estimate']) - pct(survey['ci']):.12g}")
        supervision, updates = RANK[f("supervision")["assessment"]], RANK[f("updates")["assessment"]]
        needs = RANK[f("needs_assessed")["assessment"]]

        answers_calls = answered >= 0.90
        files_correct = files["n"] >= 20 and files["k"] / files["n"] >= 0.90
        satisfied = survey_lower >= 0.80
        supervised = supervision >= RANK["met"]
        updated = updates >= RANK["met"] and previous_supervised
        assessed = needs >= RANK["partly_met"] and not f("repeat_victims")["value"] > 10
        chars = [answers_calls, files_correct, satisfied, supervised, updated, assessed]
        exceeded = [answers_calls and answered >= 0.98, satisfied and survey_lower >= 0.90,
                    supervised and supervision == RANK["exceeded"]]
        improvements = (not answers_calls) + (not supervised or updates < RANK["met"]) + (not assessed)
        concerns = f("triage_tool")["value"] is False and f("calls_offered")["value"] > 100
        innovative = f("innovation")["value"] is True

        area = f"area{i}"
        inspected = (statuses.get(area) or {}).get("status") != "not_inspected"
        previous_supervised = supervised if inspected else None
        met = (sum(c is True for c in chars) / len(chars), sum(c is not False for c in chars) / len(chars))
        if not inspected:
            grades[area] = "not_inspected"
        elif concerns:
            grades[area] = "inadequate"
        elif improvements >= SUBSTANTIAL_NUMBER or below(met, SOME):
            grades[area] = "requires_improvement"
        elif below(met, SOME) is None:
            grades[area] = "undetermined"
        elif improvements >= SEVERAL or below(met, SUBSTANTIALLY_ALL):
            grades[area] = "adequate"
        elif below(met, SUBSTANTIALLY_ALL) is None:
            grades[area] = "undetermined"
        elif sum(exceeded) / len(chars) >= SUBSTANTIALLY_EXCEEDS and innovative:
            grades[area] = "outstanding"
        else:
            grades[area] = "good"
    return grades


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=yaml.CSafeLoader)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(p, " ".join(f"{a}={g}" for a, g in grade(load(p)).items()))
