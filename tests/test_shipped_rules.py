"""The shipped rule sets are general: they cite the framework, never lines of one force's report, and read no
fact that only one force could have."""
from __future__ import annotations

import re

import peelrules
from peelrules.loader import shipped_rule_sets

FORCE_WORDS = re.compile(r"\b(Lancashire|UCLan|Central Lancashire|Constabulary)\b")


def test_citations_name_the_framework_not_report_lines() -> None:
    for name in shipped_rule_sets():
        program = peelrules.load_rules(name)
        for area in program.areas:
            for rule in area.rules:
                assert rule.cite, (name, area.name, rule.name)
                assert not re.search(r"\bL\d+", rule.cite), (name, rule.name, rule.cite)


def test_no_rule_reads_a_fact_named_for_one_force() -> None:
    for name in shipped_rule_sets():
        program = peelrules.load_rules(name)
        read = {f for facts in program.area_facts().values() for f in facts}
        for fact in read:
            decl = program.decls[fact]
            assert not FORCE_WORDS.search(decl.description), (name, fact, decl.description)
