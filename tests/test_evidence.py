"""Evidence loading: safe YAML, strict types, checks against the declarations, positioned errors."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import peelrules
from peelrules.diagnostics import PeelError
from peelrules.evidence import evidence_schema
from peelrules.values import Estimate, Ratio

DATA = Path(__file__).resolve().parent / "data"
GOOD = (DATA / "mini-evidence.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def mini() -> peelrules.Program:
    return peelrules.load_rules(DATA / "mini.peel")


def load(mini, tmp_path: Path, text: str, name: str = "e.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return peelrules.load_evidence(path, mini)


def fails(mini, tmp_path: Path, text: str) -> list[tuple[str, int | None]]:
    with pytest.raises(PeelError) as info:
        load(mini, tmp_path, text)
    return [(d.code, d.span.line if d.span else None) for d in info.value.diagnostics]


def test_values_are_typed(mini, tmp_path) -> None:
    b = load(mini, tmp_path, GOOD)
    assert b.facts["audit.grounds"].value == Estimate(0.852, 0.051, 183)
    assert b.facts["audit.consent"].value == Ratio(588, 592)
    assert b.facts["calls.answering"].value == "met"
    assert b.facts["calls.answering"].line == 3 and b.facts["calls.answering"].document == "report"
    assert len(b.sha256) == 64


def test_json_bundles_load_too(mini, tmp_path) -> None:
    import yaml
    data = yaml.safe_load(GOOD)
    b = load(mini, tmp_path, json.dumps(data, indent=1), name="e.json")
    assert b.facts["audit.consent"].value == Ratio(588, 592)


@pytest.mark.parametrize("old, new, code, line", [
    ("calls.abandoned: {value: 5,", "calls.abandoned: {value: -5,", "PR306", 7),
    ("calls.abandoned: {value: 5,", "calls.abandoned: {value: \"5\",", "PR305", 7),
    ("calls.abandoned: {value: 5,", "calls.abandoned: {value: 5.5,", "PR305", 7),
    ("{k: 588, n: 592,", "{k: 593, n: 592,", "PR306", 10),
    ("{value: true, source: \"report:L7\"}", "{value: yes, source: \"report:L7\"}", "PR305", 11),
    ("{assessment: met,", "{assessment: mett,", "PR303", 6),
    ("calls.abandoned:", "calls.abandond:", "PR304", 7),
    ("source: \"report:L4\"}\n  calls.offered", "source: \"repot:L4\"}\n  calls.offered", "PR309", 7),
    ("framework: mini", "framework: peel", "PR308", 2),
    ("force: Example", "forse: Example", "PR303", 1),
    ("estimate: \"85.2%\"", "estimate: 85.2", "PR303", 9),
])
def test_bad_facts_are_refused_with_their_line(mini, tmp_path, old, new, code, line) -> None:
    assert old in GOOD
    errors = fails(mini, tmp_path, GOOD.replace(old, new, 1))
    assert (code, line) in errors, errors


def test_duplicate_keys_are_refused(mini, tmp_path) -> None:
    text = GOOD + "  calls.offered: {value: 7, source: \"report:L4\"}\n"
    assert fails(mini, tmp_path, text) == [("PR302", 12)]


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['echo hi']\n",
    "force: &a x\nframework: *a\n",
    "force: !!str x\n",
    "---\nforce: a\n---\nforce: b\n",
    "",
    "- a\n- b\n",
    "force: [unclosed\n",
])
def test_unsafe_or_malformed_yaml_is_refused(mini, tmp_path, text) -> None:
    errors = fails(mini, tmp_path, text)
    assert errors and all(code in ("PR301", "PR303") for code, _ in errors)


def test_unknown_area_gets_a_suggestion(mini, tmp_path) -> None:
    with pytest.raises(PeelError) as info:
        load(mini, tmp_path, GOOD + "areas:\n  contakt: {status: not_inspected}\n")
    d = info.value.diagnostics[0]
    assert d.code == "PR307" and "contact" in (d.hint or "")


def test_every_error_is_reported_at_once(mini, tmp_path) -> None:
    text = GOOD.replace("value: 5,", "value: -5,").replace("k: 588", "k: 600").replace("calls.offered:", "calls.ofered:")
    assert sorted(code for code, _ in fails(mini, tmp_path, text)) == ["PR304", "PR306", "PR306"]


def test_published_schema_accepts_the_shipped_bundle() -> None:
    import yaml
    from conftest import LANCASHIRE
    schema = evidence_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"force": "x", "framework": "y", "sources": {}, "facts": {}, "extra": 1}, schema)


def test_quotes_are_checked_against_the_cited_line_when_the_document_is_at_hand(mini, tmp_path) -> None:
    report = ["Title", "Intro", "In short, calls are answered promptly, we found.", "a", "b", "c", "d", "e"]
    (tmp_path / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    text = GOOD.replace('report: {title: "Example report"}', 'report: {title: "Example report", file: report.txt}')
    assert load(mini, tmp_path, text).facts["calls.answering"].line == 3
    joined = text.replace('quote: "calls are answered promptly"', 'quote: "In short, ... we found."')
    assert load(mini, tmp_path, joined).facts["calls.answering"].quote == "In short, ... we found."
    wrong_line = text.replace('"report:L3", quote', '"report:L2", quote')
    assert fails(mini, tmp_path, wrong_line) == [("PR310", 6)]
    past_end = text.replace('source: "report:L7"', 'source: "report:L70"')
    assert fails(mini, tmp_path, past_end) == [("PR310", 11)]
