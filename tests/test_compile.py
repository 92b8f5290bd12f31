"""The compiled evaluator agrees with the reference interpreter, for generated and shipped rule sets: the
results, and the explanation traces of its traced run (CompiledProgram.explain).

Agreement is checked strictly: the results and traces are equal as dataclasses and have equal reprs, so a value
of the wrong type (1 for True, 1.0 for 1, counters in another order) is caught as well; for the bundles that
ship, the JSON trace documents of both are equal byte for byte.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings

import peelrules
from peelrules.compile import CompiledProgram, compile_program, sources_digest
from peelrules.evaluate import Evaluator
from peelrules.evidence import Bundle, load_bundle
from peelrules.program import Program
from peelrules.result import BundleResult
from peelrules.source import SourceFile
from peelrules.trace import AreaTrace

from conftest import examples
from strategies import Case, RuleSet, cases, load_case, rule_sets, write_case

ROOT = Path(__file__).resolve().parent.parent
LANCASHIRE = ROOT / "evidence" / "lancashire-2022.yaml"
MINI = Path(__file__).resolve().parent / "data"

RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def reference(program: Program, bundle: Bundle) -> BundleResult:
    return Evaluator(program).run(bundle)[0]


def assert_agree(program: Program, bundle: Bundle) -> BundleResult:
    """Both engines give the same result, and the same traces (the compiled one through its traced run)."""
    expected = reference(program, bundle)
    compiled = compile_program(program)
    got = compiled.run(bundle)
    assert got == expected
    assert repr(got) == repr(expected)  # types too: True is not 1, 1 is not 1.0, counters in order
    assert_traces_agree(program, bundle, compiled.explain(bundle))
    return got


def assert_traces_agree(program: Program, bundle: Bundle, got: tuple[BundleResult, tuple[AreaTrace, ...]]) -> None:
    expected = Evaluator(program).run(bundle, trace=True)
    assert got[0] == expected[0] and repr(got[0]) == repr(expected[0])
    for mine, theirs in zip(got[1], expected[1], strict=True):  # area by area, so a failure names the area
        assert mine == theirs, mine.result.name
        assert repr(mine) == repr(theirs), mine.result.name


# ---------------------------------------------------------------- generated rule sets and bundles


@settings(max_examples=examples(ci=300, thorough=1000), deadline=None, suppress_health_check=RELAXED)
@given(cases(max_bundles=2))
def test_compiled_agrees_with_interpreter(case: Case) -> None:
    program, bundles = load_case(case)
    for bundle in bundles:
        assert_agree(program, bundle)


@settings(max_examples=80, deadline=None, suppress_health_check=RELAXED)
@given(cases(max_bundles=2, odd_constants=True))
def test_compiled_agrees_or_fails_alike_with_odd_constants(case: Case) -> None:
    """Constants the checker folds to None (`let k = 1 in [1]`) give rules a flag that is neither true,
    false nor unknown, or a TypeError in the interpreter (reported); the compiled code gives the same
    outcomes, or fails with the same error."""
    try:
        program, bundles = load_case(case)
    except TypeError:  # the checker itself may fail folding such a constant (reported): not ours to test
        reject()
    compiled = compile_program(program)
    for bundle in bundles:
        try:
            expected = reference(program, bundle)
        except TypeError:
            with pytest.raises(TypeError):
                compiled.run(bundle)
            continue
        got = compiled.run(bundle)
        assert got == expected and repr(got) == repr(expected)
        assert_traces_agree(program, bundle, compiled.explain(bundle))


@settings(max_examples=40, deadline=None, suppress_health_check=RELAXED)
@given(cases(max_areas=8, max_rules=12, max_facts=16, max_bundles=4))
def test_compiled_agrees_on_larger_rule_sets(case: Case) -> None:
    program, bundles = load_case(case)
    for bundle in bundles:
        assert_agree(program, bundle)


@settings(max_examples=15, deadline=None, suppress_health_check=RELAXED)
@given(cases(max_bundles=2))
def test_written_cases_load_as_in_memory(case: Case) -> None:
    """write_case puts the comparator files where the bundles name them: loaded from disk, each bundle is
    placed among its peers as load_case places it, and grades alike."""
    import tempfile

    program, bundles = load_case(case)
    with tempfile.TemporaryDirectory() as tmp:
        rules, paths = write_case(case, Path(tmp))
        from_disk = peelrules.load_rules(rules)
        for path, bundle in zip(paths, bundles, strict=True):
            loaded = peelrules.load_evidence(path, from_disk)
            assert {k: (p.comparison, p.why) for k, p in loaded.peers.items()} == \
                {k: (p.comparison, p.why) for k, p in bundle.peers.items()}
            assert compile_program(from_disk).run(loaded).areas == compile_program(program).run(bundle).areas


# ---------------------------------------------------------------- the generated code

_LOCAL = re.compile(r"^(F|NI|S|T|q|r|f|g|z|_get|[vmt]\d+|[OCA]\d+|c\d+_[a-z]+(_[su])?|_peel_grade)$")
_ATTRIBUTES = {"get", "value", "status", "n", "k", "lower", "upper", "sample", "__class__"}


@settings(max_examples=100, deadline=None, suppress_health_check=RELAXED)
@given(rule_sets())
def test_generated_code_holds_only_what_the_compiler_makes(rules: RuleSet) -> None:
    """Identifiers are the compiler's own; rule-file names appear only inside string literals; no
    imports, no builtins, and only the attributes the compiler reads."""
    compiled = compile_program(peelrules.check_rules(rules.sources()))
    namespace = compiled.grade.__globals__
    assert namespace["__builtins__"] == {}
    tree = ast.parse(compiled.source)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef)
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.Import, ast.ImportFrom, ast.Lambda, ast.ClassDef, ast.Global,
                                     ast.Nonlocal, ast.Delete, ast.With, ast.Try, ast.Raise))
        if isinstance(node, ast.Name):
            assert _LOCAL.match(node.id) or node.id in namespace, node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr in _ATTRIBUTES, node.attr
        elif isinstance(node, ast.FunctionDef) and node is not tree.body[0]:
            raise AssertionError("nested function")


def test_generated_names_never_come_from_rule_files() -> None:
    text = _mini_text().replace("answers_999", "__import__").replace("contact", "os")
    program = peelrules.check_rules([SourceFile("evil.peel", text)])
    compiled = compile_program(program)
    names = {node.id for node in ast.walk(ast.parse(compiled.source)) if isinstance(node, ast.Name)}
    assert "__import__" not in names and "os" not in names
    bundle = peelrules.load_evidence(MINI / "mini-evidence.yaml", program)
    assert_agree(program, bundle)


def test_line_map_points_back_at_the_rules() -> None:
    program = peelrules.load_rules(MINI / "mini.peel")
    compiled = compile_program(program)
    lines = compiled.source.splitlines()
    rules = {f"{a.name}.{r.name}": r for a in program.areas for r in a.rules}
    for i, key in enumerate(program.rule_order):
        lineno = lines.index(f"    # rule {i}") + 1
        assert compiled.line_map[lineno] == rules[key].span
        assert compiled.span_at(lineno + 1) is not None
        assert compiled.span_at(lineno + 1).file == rules[key].span.file  # type: ignore[union-attr]
    files = {s.name for s in program.sources}
    assert compiled.line_map and all(span.file in files for span in compiled.line_map.values())
    assert all(1 <= line <= len(lines) for line in compiled.line_map)
    assert compiled.span_at(1) is None  # the `def` line computes nothing from the rules


def test_rule_set_without_areas() -> None:
    text = 'framework fw "F" { version "1" }\nevidence e { x: count "X" }\nlet k = 1 / 0\n'
    program = peelrules.check_rules([SourceFile("empty.peel", text)])
    bundle = load_bundle(SourceFile("b.json", '{"force": "F", "framework": "fw", "sources": {}, "facts": {}}'),
                         program)
    assert assert_agree(program, bundle).areas == ()


def _mini_text() -> str:
    return (MINI / "mini.peel").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the cache


def test_cache_returns_the_same_object_for_the_same_sources() -> None:
    first = compile_program(peelrules.load_rules())
    again = compile_program(peelrules.load_rules())  # a new Program from the same files
    assert again is first
    assert first.digest == sources_digest(first.program) and len(first.digest) == 64


def test_cache_tells_different_sources_apart() -> None:
    text = _mini_text()
    one = compile_program(peelrules.check_rules([SourceFile("a.peel", text)]))
    renamed = compile_program(peelrules.check_rules([SourceFile("b.peel", text)]))  # spans differ
    edited = compile_program(peelrules.check_rules([SourceFile("a.peel", text.replace("90%", "91%"))]))
    assert len({id(one), id(renamed), id(edited)}) == 3
    assert len({one.digest, renamed.digest, edited.digest}) == 3


def test_program_without_sources_is_compiled_but_not_cached() -> None:
    program = dataclasses.replace(peelrules.load_rules(MINI / "mini.peel"), sources=())
    first, second = compile_program(program), compile_program(program)
    assert first is not second and first.digest == ""
    bundle = peelrules.load_evidence(MINI / "mini-evidence.yaml", program)
    assert first.run(bundle) == reference(program, bundle)


# ---------------------------------------------------------------- the shipped rules and Lancashire


@pytest.fixture(scope="module")
def shipped() -> Program:
    return peelrules.load_rules()


@pytest.fixture(scope="module")
def lancashire(shipped: Program) -> Bundle:
    return peelrules.load_evidence(LANCASHIRE, shipped)


def test_shipped_rules_compile(shipped: Program) -> None:
    compiled = compile_program(shipped)
    assert isinstance(compiled, CompiledProgram)
    assert compile(compiled.source, "<check>", "exec")


def test_lancashire_agrees(shipped: Program, lancashire: Bundle) -> None:
    result = assert_agree(shipped, lancashire)
    assert [a.name for a in result.areas] == [a.name for a in shipped.areas]



def test_area_results_cannot_be_changed(shipped: Program, lancashire: Bundle) -> None:
    """AreaResult is a named tuple for speed (bench/README.md): still immutable, still read by field name."""
    area = compile_program(shipped).run(lancashire).areas[0]
    with pytest.raises(AttributeError):
        area.grade = None  # type: ignore[misc]
    assert area.name == shipped.areas[0].name and area.missing == area[8]

def test_lancashire_agrees_without_each_fact(shipped: Program, lancashire: Bundle) -> None:
    for name in lancashire.facts:
        facts = {k: v for k, v in lancashire.facts.items() if k != name}
        assert_agree(shipped, dataclasses.replace(lancashire, facts=facts))


def test_lancashire_agrees_with_no_facts_and_every_area_marked(shipped: Program, lancashire: Bundle) -> None:
    assert_agree(shipped, dataclasses.replace(lancashire, facts={}))
    for area in shipped.areas:
        marked = dataclasses.replace(lancashire, not_inspected={area.name: None})
        assert_agree(shipped, marked)
    assert_agree(shipped, dataclasses.replace(lancashire, not_inspected={}))


def test_lancashire_agrees_on_halves_of_the_facts(shipped: Program, lancashire: Bundle) -> None:
    names = sorted(lancashire.facts)
    for keep in (names[::2], names[1::2], names[: len(names) // 2], names[len(names) // 2:]):
        facts = {k: lancashire.facts[k] for k in keep}
        assert_agree(shipped, dataclasses.replace(lancashire, facts=facts))


# ---------------------------------------------------------------- aggregates over case-level tables

_TABLE_RULES = '''framework fw "F" { version "1" }
evidence t {
  rows: table "rows" { x: number  k: count  g: text  f: flag }
  p: percent "p"
}
ladder l { inadequate when concerns >= 1  requires_improvement when unmet >= 2  good otherwise }
area a "A" {
  grade by l
  characteristic c1 "1" { when share(t.rows where x <= 5 and f == true) >= 50% or t.p > 50% }
  characteristic c2 "2" { when first_known(t.p >= 90%, mean(t.rows.x where g == "a") > 4) }
  characteristic c3 "3" { when percentile(t.rows.x, 75) - median(t.rows.k where not g in ["b"]) < max(t.rows.k) }
  cause_of_concern cc "cc" { when count(t.rows where g == "a" or k > 3) > 2 and not c1 }
}
'''


@pytest.mark.parametrize("seed", range(12))
def test_compiled_and_reference_agree_on_aggregates(tmp_path: Path, seed: int) -> None:
    """Both engines read an aggregate's value, computed once when the bundle is loaded; unknown without the
    table or without values (a mean over no rows)."""
    import random

    import yaml

    rng = random.Random(seed)
    (tmp_path / "r.peel").write_text(_TABLE_RULES, encoding="utf-8")
    program = peelrules.load_rules(tmp_path / "r.peel")
    lines = ["x,k,g,f"] + [",".join([rng.choice(["", str(rng.randint(0, 9)), f"{rng.random() * 10:.2f}"]),
                                     rng.choice(["", str(rng.randint(0, 6))]), rng.choice(["", "a", "b", "c"]),
                                     rng.choice(["", "true", "false"])]) for _ in range(rng.randint(1, 12))]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data: dict = {"force": "F", "framework": "fw", "sources": {"r": {"title": "R"}}, "facts": {}}
    if rng.random() < 0.5:
        data["facts"]["t.p"] = {"value": f"{rng.randint(0, 100)}%", "source": "r:L1"}
    if seed % 4:  # one bundle in four has no table: every aggregate unknown
        data["tables"] = {"t.rows": {"file": "rows.csv", "source": "generated", "columns": {
            "x": {"type": "number"}, "k": {"type": "count"}, "g": {"type": "text"}, "f": {"type": "flag"}}}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    bundle = peelrules.load_evidence(tmp_path / "b.yaml", program)
    assert bool(bundle.aggregates) == bool(seed % 4)
    assert_agree(program, bundle)


# ---------------------------------------------------------------- every bundle that ships, and the rule tests' bundles

EVIDENCE = sorted((ROOT / "evidence").glob("*.yaml"))
CASE_FILES = sorted((ROOT / "tests").glob("cases*/**/*.yaml"))


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_traces_agree_on_shipped_evidence(path: Path) -> None:
    """Each bundle of evidence/ with the rule set it is for: the same trace, and the same JSON bytes."""
    from peelrules.report.trace_json import dumps, trace_document

    program, bundle = peelrules.load_with_rules(path)
    compiled = compile_program(program).explain(bundle)
    assert_traces_agree(program, bundle, compiled)
    reference_doc = dumps(trace_document(program, [(bundle, Evaluator(program).run(bundle, trace=True)[1])], None))
    assert dumps(trace_document(program, [(bundle, compiled[1])], None)) == reference_doc
    assert peelrules.explain(program, bundle) == compiled  # the facade's traced run is the compiled one


def test_shipped_evidence_is_found() -> None:
    assert len(EVIDENCE) >= 5 and len(CASE_FILES) >= 15


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: str(p.relative_to(ROOT / "tests")))
def test_traces_agree_on_rule_test_bundles(path: Path) -> None:
    """Every case of the shipped rule tests (tests/cases*), its bundle as the case changes it."""
    from peelrules.evidence import bundle_from_data
    from peelrules.ruletests import load_cases

    folder = next(q for q in path.parents if q.name.startswith("cases"))
    program = peelrules.shipped_program("peel-2021-22" if folder.name == "cases" else
                                        "peel-" + folder.name.removeprefix("cases-peel-"))
    cases = load_cases(path)
    assert cases
    for case in cases:
        bundle = bundle_from_data(case.bundle_source, case.bundle, case.positions, program)
        assert_agree(program, bundle)
