"""The one name resolver (peelrules/symbols.py): the lookup order the checker and the language server share."""
from __future__ import annotations

from peelrules import parse_rules
from peelrules.source import SourceFile
from peelrules.symbols import Scope, SymbolTable

TEXT = """\
framework t "T" { version "1" }
evidence calls { fast: percent "Fast" }
let limit = 10%
let met_share = 50%
area contact "Contact" {
  question "Q?"
  let limit = 20%
  characteristic fast "Fast" { when calls.fast >= limit cite "1" }
  characteristic also_fast "Also" { when fast cite "2" }
}
area other "Other" {
  question "Q?"
  characteristic fast "Fast too" { when contact.fast cite "3" }
}
"""


def table() -> SymbolTable:
    (parsed,) = parse_rules([SourceFile("t.peel", TEXT)])
    return SymbolTable.build([parsed.module])


def meaning(parts: tuple[str, ...], scope: Scope) -> tuple[str, str] | None:
    sym = table().resolve(parts, scope)
    return None if sym is None else (sym.kind, sym.key)


def test_an_area_constant_comes_before_the_global_one_of_the_same_name() -> None:
    assert meaning(("limit",), Scope("contact")) == ("constant", "contact.limit")
    assert meaning(("limit",), Scope("other")) == ("constant", "limit")
    assert meaning(("limit",), Scope()) == ("constant", "limit")


def test_a_rule_of_the_area_is_found_by_its_name_but_not_inside_a_constant() -> None:
    assert meaning(("fast",), Scope("contact")) == ("rule", "contact.fast")
    assert meaning(("fast",), Scope("other")) == ("rule", "other.fast")
    assert meaning(("fast",), Scope("contact", constant=True)) is None
    assert meaning(("contact", "fast"), Scope("other")) == ("rule", "contact.fast")
    assert meaning(("contact", "fast"), Scope("other", constant=True)) is None


def test_counters_only_in_a_ladder_and_before_anything_else() -> None:
    assert meaning(("met",), Scope("contact", ladder=True)) == ("counter", "met")
    assert meaning(("met",), Scope("contact")) == ("assessment", "met")
    assert meaning(("well_below",), Scope()) == ("band", "well_below")


def test_evidence_comes_before_an_area_rule_and_unknown_names_resolve_to_nothing() -> None:
    assert meaning(("calls", "fast"), Scope("contact")) == ("evidence", "calls.fast")
    assert meaning(("calls", "slow"), Scope("contact")) is None
    assert meaning(("contact", "slow"), Scope("other")) is None
    assert meaning(("nothing",), Scope("contact")) is None
