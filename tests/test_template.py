"""`peel evidence template`: a skeleton that lists every declared fact; unfilled it says exactly what is
missing, filled in it validates."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import peelrules
from peelrules.diagnostics import PeelError
from peelrules.template import evidence_template

from conftest import SHIPPED_RULES, run_peel

DATA = Path(__file__).resolve().parent / "data"
FILL = {
    "count": {"value": 3}, "number": {"value": 2.5}, "percent": {"value": "50%"}, "flag": {"value": True},
    "text": {"value": "x"}, "date": {"value": "2022-05-31"}, "assessment": {"assessment": "met"},
    "ratio": {"k": 1, "n": 2}, "estimate": {"estimate": "50%", "ci": "5%", "sample": 100},
}


@pytest.mark.parametrize("rules", [DATA / "mini.peel", SHIPPED_RULES], ids=["mini", "shipped"])
def test_unfilled_template_names_every_fact(rules: Path, tmp_path: Path) -> None:
    program = peelrules.load_rules(rules)
    path = tmp_path / "template.yaml"
    path.write_text(evidence_template(program), encoding="utf-8")
    with pytest.raises(PeelError) as info:
        peelrules.load_evidence(path, program)
    named = {d.message.split("'")[1] for d in info.value.diagnostics if d.message.startswith("fact '")}
    # tables and comparators: commented out (files beside the bundle, not facts)
    assert named == {d for d, decl in program.decls.items() if decl.type not in ("table", "comparator")}
    assert all(d.code == "PR312" and d.span is not None for d in info.value.diagnostics)


@pytest.mark.parametrize("rules", [DATA / "mini.peel", SHIPPED_RULES], ids=["mini", "shipped"])
def test_filled_template_validates(rules: Path, tmp_path: Path) -> None:
    program = peelrules.load_rules(rules)
    data = yaml.safe_load(evidence_template(program))
    data["force"] = "Example"
    data["period"] = {"from": "2021-10-01", "to": "2022-05-31"}
    data["sources"]["report"]["title"] = "Example report"
    for name in data["facts"]:
        data["facts"][name] = {**FILL[program.decls[name].type], "source": "report:L1"}
    path = tmp_path / "filled.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    bundle = peelrules.load_evidence(path, program)
    assert set(bundle.facts) == {d for d, decl in program.decls.items() if decl.type not in ("table", "comparator")}


def test_template_groups_facts_by_area_with_descriptions() -> None:
    text = run_peel("evidence", "template", "--rules", str(DATA / "mini.peel")).stdout
    assert text.index("# ---------------- Contact (contact)") < text.index("calls.answering:")
    assert "# 999 calls answered within 10 seconds" in text
    assert "range 0% to 100%" in text


def test_template_lists_comparators_commented_out() -> None:
    program = peelrules.load_rules(SHIPPED_RULES)
    text = evidence_template(program)
    measures = {d.measure or d.name.split(".", 1)[1] for d in program.decls.values() if d.type == "comparator"}
    assert measures and "# comparators:" in text
    assert all(f"#   {m}: null" in text for m in measures)
    assert "comparators" not in (yaml.safe_load(text) or {})
