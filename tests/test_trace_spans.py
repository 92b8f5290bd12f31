"""Every expression node of a trace carries its span (since trace version 1.4): where it is written in the rule files.

The two evaluators agreeing on spans is tests/test_compile.py's business (spans count in ExprTrace equality);
here, that the spans are the right ones: each covers exactly the expression's text in its rule file."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest

import peelrules
from peelrules.report.schemas import trace_schema
from peelrules.report.trace_json import TRACE_VERSION, trace_document

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = sorted((ROOT / "evidence").glob("*.yaml"))


def _exprs(x: Any, rule_span: dict[str, Any] | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each expression node of a JSON trace, with the span of the rule or rung it belongs to."""
    if isinstance(x, dict):
        if "expr" in x:
            yield x, rule_span
        here = x["span"] if ("rule" in x and "when" in x) or "condition" in x else rule_span
        for v in x.values():
            yield from _exprs(v, here)
    elif isinstance(x, list):
        for v in x:
            yield from _exprs(v, rule_span)


def _written(texts: dict[str, list[str]], span: dict[str, Any]) -> str:
    """The rule-file text a span covers, comments dropped and white space closed up."""
    lines = texts[span["file"]][span["line"] - 1:span["end_line"]]
    lines = [*lines[:-1], lines[-1][:span["end_column"] - 1]]
    lines[0] = lines[0][span["column"] - 1:]
    return " ".join(" ".join(re.sub(r"#.*", "", line) for line in lines).split())


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_every_expression_span_covers_its_text(path: Path) -> None:
    program, bundle = peelrules.load_with_rules(path)
    doc = trace_document(program, [(bundle, peelrules.explain(program, bundle)[1])])
    assert doc["trace_version"] == TRACE_VERSION == "1.5"
    jsonschema.validate(doc, trace_schema())
    texts = {s.name: s.text.splitlines() for s in program.sources}
    seen = 0
    for node, owner in _exprs(doc["results"]):
        span = node["span"]
        assert _written(texts, span) == node["expr"], span
        # in the file of the rule or rung it belongs to, after its name (a rule's span is its name's, a rung's its
        # grade's)
        assert owner is not None and span["file"] == owner["file"]
        assert (owner["end_line"], owner["end_column"]) <= (span["line"], span["column"])
        seen += 1
    assert seen > 100


def test_a_rung_condition_is_placed_in_the_ladder_file() -> None:
    program, bundle = peelrules.load_with_rules(ROOT / "evidence" / "lancashire-2022.yaml")
    rung = next(r for t in peelrules.explain(program, bundle)[1] for r in t.rungs if r.condition is not None)
    assert rung.condition is not None and rung.condition.span.file == rung.span.file
    assert rung.condition.span.file.endswith("01-ladder.peel")
    assert str(rung.condition.span) == f"{rung.span.file}:{rung.condition.span.line}:{rung.condition.span.column}"


def test_json_node_shape() -> None:
    """The shape docs/internals.md shows: `span` beside `expr` and `value`, as rules' and rungs' spans are."""
    program, bundle = peelrules.load_with_rules(ROOT / "evidence" / "lancashire-2022.yaml")
    doc = trace_document(program, [(bundle, peelrules.explain(program, bundle)[1])])
    rule = doc["results"][0]["areas"][0]["rules"][0]
    node = rule["when"]
    assert set(node["span"]) == set(rule["span"]) == {"file", "line", "column", "end_line", "end_column"}
    assert node["span"]["file"] == rule["span"]["file"] and node["span"]["line"] >= rule["span"]["line"]
