"""Rule tests: YAML cases of evidence and expected judgments, run against a rule set, with coverage
measured against the framework (every rule made both true and false, every ladder rung both firing
and not firing).

A case file holds one case, or several under `cases:`. A case names an evidence bundle (`evidence:`,
relative to the case file) or gives one inline (`bundle:`), may change it (`set:` facts, `remove:`
facts, `set_every: {assessment: met}` for every assessment at once, `not_inspected:` areas, `findings:` an
area's findings, replaced whole, `comparators:` a measure's peers: a comparator file relative to the case file,
or a dataset with at least `polarity:` and `values:`), and lists what it expects per area (`judgment:` the
derived judgment, `final:` the published one after moderation):

    evidence: ../../evidence/lancashire-2022.yaml
    set:
      vsa.investigation_supervision: {assessment: met, source: "report:L47"}
    comparators:
      dvpo_applications_per_1000_da_offences:
        polarity: higher_is_better
        values: {Lancashire Constabulary: 6.1, Force B: 5.2, Force C: 7.4, Force D: 6.6}
    expect:
      investigating_crime: adequate
      responding_to_the_public: {judgment: adequate, raised: [call_answering], not_raised: [digital_contact]}
      workforce: {at_least: adequate}        # a bound: this grade or better (or at_most: this or worse)
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from . import evaluate
from .diagnostics import Code, Diagnostic, PeelError, quoted
from .evidence import KeyPath, bundle_from_data, load_yaml
from .grades import Grade
from .judgments import judgment_of
from .loader import read_source
from .peerfacts import Comparator
from .peers import comparator_from_data
from .program import Program
from .vocabulary import ASSESSMENTS
from .result import AreaResult
from .source import SourceFile, Span
from .trace import AreaTrace
from .values import UNKNOWN

_CASE_KEYS = {"name", "evidence", "bundle", "set", "set_every", "remove", "not_inspected", "findings", "comparators",
              "expect"}
_INLINE_COMPARATOR_KEYS = ("polarity", "values")  # the rest of a comparator file's fields have defaults in a case
_EXPECT_KEYS = {"judgment", "final", "at_least", "at_most", "raised", "not_raised"}


@dataclass(frozen=True)
class Expectation:
    area: str
    judgment: str | None
    raised: tuple[str, ...] = ()  # rules that must hold (characteristics met, findings raised)
    not_raised: tuple[str, ...] = ()  # rules that must not hold
    span: Span | None = None
    at_least: str | None = None  # a grade the area must reach (graded, this grade or better)
    at_most: str | None = None  # a grade the area must not exceed (graded, this grade or worse)
    final: str | None = None  # the published judgment, after moderation


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    span: Span | None
    bundle: dict
    bundle_source: SourceFile
    positions: dict[KeyPath, Span]
    expectations: tuple[Expectation, ...]
    source: SourceFile | None = None  # the case file itself, whose lines messages about its own keys show
    comparators: Mapping[str, Comparator] = field(default_factory=dict)  # by measure: replace the bundle's own


@dataclass(frozen=True)
class Failure:
    area: str
    expected: str
    actual: str
    trace: AreaTrace | None


@dataclass(frozen=True)
class CaseResult:
    case: Case
    failures: tuple[Failure, ...] = ()
    errors: tuple[Diagnostic, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures and not self.errors


@dataclass
class Coverage:
    """Which values each rule and rung took over all cases."""

    rules: dict[str, set[str]] = field(default_factory=dict)  # "area.rule" -> {"true", "false", "unknown"}
    rungs: dict[str, set[str]] = field(default_factory=dict)  # "area/ladder#i grade" -> {"fired", "passed"}
    kinds: dict[str, str] = field(default_factory=dict)
    otherwise: set[str] = field(default_factory=set)  # `otherwise` rungs can only fire

    def items(self) -> list[tuple[str, str, bool, bool]]:
        """(item, kind, made true / fired, made false / passed over) for every rule and rung."""
        out = [(k, self.kinds[k], "true" in v, "false" in v) for k, v in sorted(self.rules.items())]
        out += [(k, "rung", "fired" in v, "fired" in v if k in self.otherwise else "passed" in v)
                for k, v in sorted(self.rungs.items())]
        return out

    @property
    def percent(self) -> float:
        items = self.items()
        if not items:
            return 100.0
        covered = sum(int(a) + int(b) for _, _, a, b in items)
        return 100.0 * covered / (2 * len(items))


def _fail(src: SourceFile, span: Span | None, message: str, hint: str) -> PeelError:
    return PeelError([Diagnostic(Code.PR311, message, span, hint,
                                 line_text=src.line_text(span.line) if span else "")])


def load_cases(path: Path) -> list[Case]:
    """Read one case file (one case, or several under `cases:`)."""
    src = read_source(path)
    data, positions = load_yaml(src)
    if isinstance(data, dict) and "cases" in data:
        items = data["cases"]
        base: tuple[object, ...] = ("cases",)
        if not isinstance(items, list):
            raise _fail(src, positions.get(base), "`cases` must be a list of cases", "write each case after `- `")
    else:
        items, base = [data], ()
    cases = []
    for i, item in enumerate(items):
        where = base + (i,) if base else ()
        cases.append(_case(src, path, item, where, positions, i))
    return cases


def _case(src: SourceFile, path: Path, item: object, where: tuple, positions: dict, index: int) -> Case:
    span = positions.get(where) or positions.get(())
    if not isinstance(item, dict):
        raise _fail(src, span, "a case must be a mapping", "give evidence: and expect:")
    unknown = set(item) - _CASE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(src, positions.get(where + (key,)), f"unknown key {quoted(key)} in a test case",
                    f"keys are: {', '.join(sorted(_CASE_KEYS))}")
    if ("evidence" in item) == ("bundle" in item):
        raise _fail(src, span, "a case needs exactly one of `evidence:` (a file) or `bundle:` (inline)",
                    "add `evidence: path/to/bundle.yaml`")
    _shape(src, positions, where, item, "set", dict, "a mapping of facts")
    _shape(src, positions, where, item, "set_every", dict, "a mapping such as {assessment: met}")
    _shape(src, positions, where, item, "remove", list, "a list of fact names", str)
    _shape(src, positions, where, item, "not_inspected", list, "a list of area names", str)
    _shape(src, positions, where, item, "findings", dict, "a mapping of areas to lists of findings")
    _shape(src, positions, where, item, "evidence", str, "a file name")
    _shape(src, positions, where, item, "comparators", dict, "a mapping of measures to comparator files or datasets")
    if "evidence" in item:
        ev_src = read_source((path.parent / str(item["evidence"])))
        bundle, ev_positions = load_yaml(ev_src)
    else:
        ev_src, bundle, ev_positions = src, item["bundle"], {
            k[len(where) + 1:]: v for k, v in positions.items() if k[:len(where) + 1] == where + ("bundle",)}
    if not isinstance(bundle, dict):
        raise _fail(src, span, "the evidence of a case must be a mapping", "see docs/evidence.md")
    bundle = copy.deepcopy(bundle)
    facts = bundle.setdefault("facts", {})
    if not isinstance(facts, dict) or not isinstance(bundle.get("areas", {}), dict):
        raise _fail(src, span, "the evidence of a case needs `facts:` and `areas:` as mappings",
                    "see docs/evidence.md")
    every = item.get("set_every") or {}
    if set(every) - {"assessment"} or ("assessment" in every and every["assessment"] not in ASSESSMENTS):
        raise _fail(src, positions.get(where + ("set_every",)), "`set_every` takes `assessment: VALUE`",
                    f"VALUE is one of {', '.join(ASSESSMENTS)}; it sets every assessment in the evidence")
    for name, body in facts.items():
        if "assessment" in every and isinstance(body, dict) and "assessment" in body:
            body["assessment"] = every["assessment"]
    for name, shape in (item.get("set") or {}).items():
        facts[name] = shape
        _graft(ev_positions, positions, ("facts", name), where + ("set", name), span)
    for name in item.get("remove") or []:
        if name not in facts:
            raise _fail(src, positions.get(where + ("remove",)),
                        f"cannot remove {quoted(name)}: it is not in the evidence", "check the fact's name")
        del facts[name]
    for area in item.get("not_inspected") or []:
        bundle.setdefault("areas", {})[area] = {"status": "not_inspected"}
    for area, found in (item.get("findings") or {}).items():  # an area's findings, replaced whole
        bundle.setdefault("findings", {})[area] = found
        _graft(ev_positions, positions, ("findings", area), where + ("findings", area), span)
    comparators = {}
    for measure, given in (item.get("comparators") or {}).items():
        comparators[str(measure)] = _comparator(src, path, given, where + ("comparators", measure), positions,
                                                str(measure), bundle)
        if (at := positions.get(where + ("comparators", measure))) is not None:
            ev_positions[("comparators", str(measure))] = at  # a measure the rules do not read: the case's line
    expect = item.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise _fail(src, positions.get(where + ("expect",), span), "a case needs `expect:` with at least one area",
                    "e.g. expect: {investigating_crime: requires_improvement}")
    exps = []
    for area, want in expect.items():
        espan = positions.get(where + ("expect", area))
        if isinstance(want, str):
            exps.append(Expectation(area, want, span=espan))
        elif isinstance(want, dict) and set(want) <= _EXPECT_KEYS and all(
                isinstance(want.get(k, []), list) and all(isinstance(x, str) for x in want.get(k, []))
                for k in ("raised", "not_raised")):
            for bound in ("at_least", "at_most"):
                if bound in want and Grade.from_key(str(want[bound])) is None:
                    raise _fail(src, positions.get(where + ("expect", area, bound), espan),
                                f"`{bound}` needs a grade, not {quoted(want[bound])}",
                                "grades are: " + ", ".join(g.key for g in Grade))
            exps.append(Expectation(area, want.get("judgment"), tuple(want.get("raised") or ()),
                                    tuple(want.get("not_raised") or ()), espan,
                                    want.get("at_least"), want.get("at_most"), want.get("final")))
        else:
            raise _fail(src, espan, f"cannot read the expectation for {quoted(area)}",
                        "give a grade or status, or {judgment: ..., raised: [...], not_raised: [...]}")
    name = str(item.get("name") or (path.stem if not where else f"{path.stem}[{index}]"))
    return Case(name, src.name, span, bundle, ev_src, ev_positions, tuple(exps), src, comparators)


def _comparator(src: SourceFile, path: Path, given: object, at: tuple, positions: dict, measure: str,
                bundle: dict) -> Comparator:
    """A case's comparator for `measure`: a comparator file (relative to the case file), or a dataset written in
    the case, which needs only `polarity` and `values` (docs/statistics.md has every field; the rest default:
    title the measure, the bundle's period, marked illustrative, the case file as its source)."""
    span = positions.get(at)
    if isinstance(given, str):
        file = path.parent / given
        if not file.is_file():
            raise PeelError([Diagnostic(Code.PR319, f"comparator file {quoted(given)} not found (looked in "
                                                 f"{path.parent})", span, "give its path relative to the case file",
                                        line_text=src.line_text(span.line) if span else "")])
        csrc = read_source(file, str(file))
        raw, cpositions = load_yaml(csrc)
        return comparator_from_data(csrc, raw, cpositions)
    if not isinstance(given, dict):
        raise _fail(src, span, f"the comparator for {quoted(measure)} must be a file name or a dataset",
                    "write `measure: path/to/comparator.yaml`, or give `polarity:` and `values:` under it")
    missing = [k for k in _INLINE_COMPARATOR_KEYS if k not in given]
    if missing:
        raise _fail(src, span, f"the comparator for {quoted(measure)} needs `{missing[0]}`",
                    "a dataset in a case gives at least `polarity:` (higher_is_better, higher_is_worse or neutral) "
                    "and `values:` (each force's value)")
    period = bundle.get("period") if isinstance(bundle.get("period"), dict) else None
    data = {"measure": measure, "title": measure, "unit": "(unit not given)",
            **({"period": period} if period else {}),
            "source": {"title": f"rule test case {path.name}", "kind": "force_data"}, "illustrative": True,
            **given}
    inner = {k[len(at):]: v for k, v in positions.items() if k[:len(at)] == at}
    return comparator_from_data(src, data, inner)


def _graft(ev_positions: dict[KeyPath, Span], positions: dict, to: KeyPath, frm: tuple, default: Span | None) -> None:
    """The positions of a part of the evidence that a case writes (`set:` a fact, `findings:` of an area): those of
    the case file, and none left of the evidence file's part it replaces."""
    for k in [k for k in ev_positions if k[:len(to)] == to]:
        del ev_positions[k]
    if (at := positions.get(frm, default)) is not None:
        ev_positions[to] = at
    for k, v in positions.items():
        if len(k) > len(frm) and k[:len(frm)] == frm:
            ev_positions[to + k[len(frm):]] = v


def _own_lines(case: Case, diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    """A message about a key the case file writes shows the case file's line, not the line of the same number in
    the evidence file the bundle was read from."""
    src = case.source
    if src is None or src is case.bundle_source:
        return tuple(diagnostics)
    return tuple(dataclasses.replace(d, line_text=src.line_text(d.span.line))
                 if d.span is not None and d.span.file == src.name else d for d in diagnostics)


def _shape(src: SourceFile, positions: dict, where: tuple, item: dict, key: str, kind: type, what: str,
           element: type | None = None) -> None:
    """Refuse a case key of the wrong type with its position, before anything reads it."""
    if key not in item or item[key] is None:
        return
    value = item[key]
    if not isinstance(value, kind) or (element is not None and not all(isinstance(x, element) for x in value)):
        raise _fail(src, positions.get(where + (key,)), f"`{key}` must be {what}",
                    "see the case format at the top of peelrules/ruletests.py and in the README")


def run_case(program: Program, case: Case, coverage: Coverage) -> CaseResult:
    try:
        bundle = bundle_from_data(case.bundle_source, case.bundle, case.positions, program,
                                  comparators=case.comparators)
    except PeelError as err:
        return CaseResult(case, errors=_own_lines(case, err.diagnostics))
    result, traces = evaluate(program, bundle, trace=True)  # the facade's engine, as `peel evaluate` grades
    _record(program, result.areas, traces, coverage)
    failures, errors = [], []
    by_name = {t.result.name: t for t in traces}
    for exp in case.expectations:
        area = program.area(exp.area)
        if area is None:
            errors.append(Diagnostic(Code.PR307, f"unknown area {quoted(exp.area)} in expectations", exp.span,
                                     "areas are: " + ", ".join(a.name for a in program.areas)))
            continue
        trace = by_name[area.name]
        actual = trace.result.judgment
        outcomes = {o.key.split(".", 1)[1]: o.outcome for o in trace.result.outcomes}
        if exp.judgment is not None and actual != exp.judgment:
            failures.append(Failure(area.name, exp.judgment, actual, trace))
        final = judgment_of(trace.result, bundle).final
        if exp.final is not None and final != exp.final:
            failures.append(Failure(area.name, f"final {exp.final}", f"final {final}", trace))
        grade = trace.result.grade
        if exp.at_least is not None and (grade is None or grade < Grade.from_key(exp.at_least)):  # type: ignore
            failures.append(Failure(area.name, f"{exp.at_least} or better", actual, trace))
        if exp.at_most is not None and (grade is None or grade > Grade.from_key(exp.at_most)):  # type: ignore
            failures.append(Failure(area.name, f"{exp.at_most} or worse", actual, trace))
        for rule in exp.raised + exp.not_raised:
            if rule not in outcomes:
                errors.append(Diagnostic(Code.PR201, f"area {quoted(area.name)} has no rule {quoted(rule)}", exp.span,
                                         "check the rule's name"))
        for rule in exp.raised:
            if rule in outcomes and outcomes[rule] is not True:
                failures.append(Failure(area.name, f"{rule} holds", f"{rule} is {_word(outcomes[rule])}", trace))
        for rule in exp.not_raised:
            if rule in outcomes and outcomes[rule] is not False:
                failures.append(Failure(area.name, f"{rule} does not hold", f"{rule} is {_word(outcomes[rule])}",
                                        trace))
    return CaseResult(case, tuple(failures), tuple(errors))


def _word(v: object) -> str:
    return "unknown" if v is UNKNOWN else ("true" if v is True else "false")


def _record(program: Program, areas: tuple[AreaResult, ...], traces: tuple[AreaTrace, ...],
            coverage: Coverage) -> None:
    for area in areas:
        for o in area.outcomes:
            coverage.kinds[o.key] = o.kind
            coverage.rules.setdefault(o.key, set()).add(_word(o.outcome))
    for t in traces:
        for i, rung in enumerate(t.rungs):
            key = f"{t.result.name} {t.result.ladder}#{i} {rung.grade}"
            coverage.rungs.setdefault(key, set()).add(
                "fired" if rung.value is True else "passed" if rung.value is False else "unknown")


def empty_coverage(program: Program) -> Coverage:
    """Every rule and every graded area's rung, none covered yet."""
    cov = Coverage()
    for area in program.areas:
        for rule in area.rules:
            key = f"{area.name}.{rule.name}"
            cov.kinds[key] = rule.kind
            cov.rules[key] = set()
        if area.ladder is not None and not area.area.ungraded:
            for i, rung in enumerate(area.ladder.rungs):
                key = f"{area.name} {area.ladder.name}#{i} {rung.grade}"
                cov.rungs[key] = set()
                if rung.condition is None:
                    cov.otherwise.add(key)
    return cov


def run_tests(program: Program, paths: list[Path]) -> tuple[list[CaseResult], Coverage, list[Diagnostic]]:
    """Run every case of the given files (folders are searched for *.yaml and *.yml)."""
    files: list[Path] = []
    for p in paths:
        files += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml")) if p.is_dir() else [p]
    coverage = empty_coverage(program)
    results, problems = [], []
    for f in files:
        try:
            cases = load_cases(f)
        except PeelError as err:
            problems.extend(err.diagnostics)
            continue
        results += [run_case(program, c, coverage) for c in cases]
    return results, coverage, problems
