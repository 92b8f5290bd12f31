"""Hypothesis strategies: well-typed peel rule sets, written as rule-file text, with matching evidence bundles.

    from strategies import cases, load_case

    @given(cases())
    def test_something(case: Case) -> None:
        program, bundles = load_case(case)      # parse + check + load evidence (see load_case)

What is generated
-----------------
`rule_sets()` draws a `RuleSet`: one to three rule files holding a framework header, evidence blocks with items of
every declared type (count, number, percent, ratio, estimate, flag, text, date, assessment; some with `range`,
`unit`, `context only`) and up to `max_comparators` comparators (`c0: comparator "..." measure m0`: two may share a
measure, and one without `measure` reads its own short name), a framework header that now and then sets `interval
normal|wilson` and `small_sample below N`, global and area-local constants (some folding to unknown, as `1 / 0`),
shared ladders and local ones (one shadowing a shared ladder's name), graded and ungraded areas with aliases, and
rules of every kind (`exceeded when`, `severe`, `cite`, `recommendation`) whose conditions use arithmetic,
comparisons, `is`/`is not`, and/or/not, `in`/`not in`, lower/upper/sample (of estimates and ratios),
significantly_below/above, overlaps/significantly_changed/_lower/_higher of two estimates or ratios (the same one
twice now and then), small_sample (only under a header that sets its threshold), the peer functions
(outlier(c) compared with the bands well_above/within/well_below, peer_z, peer_rank, peer_better, peer_worse),
present/remediated/first_known, constants (bands among them), and references to earlier rules of the same area
(short name) or of other areas (`area.rule`). Ladder rungs read the counters, rules, constants and (rarely)
evidence. Items are shuffled across files, so references point forwards and backwards in the text. The text is
written with the fewest parentheses the grammar needs, plus a few redundant ones, so the parser's precedence is
exercised too. Every rule set drawn passes `peelrules.check_rules`; its `RuleSetSpec` says what was declared.

`bundles(spec)` draws one evidence bundle for a spec as a JSON-able dict: each fact present or missing,
with values of its declared type weighted towards edges (zero counts and ratio denominators, 0% and 100%,
estimates with wide intervals, ratios and samples large enough for a two-proportion test to be significant, every assessment value, text equal to an assessment name, remediated
statuses), and some areas marked not_inspected, by name or by alias, with or without a note. It has no
`comparators:` section; `bundles_with_files(spec)` draws one, with the comparator files it names (a file for
most measures the rules read, under comparators/, named by its digest): every polarity, two to seven other
forces, some with no value (null), sometimes all alike (sd 0), values with zeros and negatives (no logs) and
skewed ones (the log path), and the bundle's own force (FORCE) with an ordinary value, an extreme one, null, or
not listed at all, so a comparison is sometimes made and sometimes unknown.

`cases()` draws a `Case`: a rule set with one to `max_bundles` bundles, each rendered as YAML or JSON text, and
the comparator files they name (`Case.files`). `load_case(case)` parses, checks and loads a case (in memory, or
through a temporary folder when there are comparator files, which the loader reads beside the bundle);
`write_case(case, folder)` writes it to disk for tests that need files (the CLI, the loader).

Knobs: `rule_sets(max_areas=, max_rules=, max_facts=, max_depth=, odd_constants=, max_comparators=)`.
`odd_constants=True` also draws constants written with `in` (`let k = 1 in [1]`), which the checker folds to None
today (reported), so rules see a flag that is neither true, false nor unknown; leave it off unless testing exactly
that.
"""
from __future__ import annotations

import functools
import hashlib
import json
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from hypothesis import strategies as st

import peelrules
from peelrules.evidence import Bundle, load_bundle
from peelrules.grades import GRADE_KEYS
from peelrules.program import Program
from peelrules.source import SourceFile

T = TypeVar("T")
_BOOLEANS = st.booleans()
_SEEDS = st.integers(0, 2 ** 32 - 1)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when present: much faster

EVIDENCE_TYPES = ("count", "number", "percent", "ratio", "estimate", "flag", "text", "date", "assessment")
NUMERIC_FACTS = ("count", "number", "percent", "ratio", "estimate")
ASSESSMENTS = ("not_met", "partly_met", "met", "exceeded")
COUNTERS = ("characteristics", "met", "unmet", "exceeded", "concerns", "improvements", "innovative", "severe")
RULE_KINDS = ("characteristic", "cause_of_concern", "area_for_improvement", "innovative_practice",
              "good_practice")
# Text values shared by rule literals and evidence, so that equality sometimes holds; "met" is also an
# assessment name, which compare() orders as one.
# Comparator datasets (docs/statistics.md): the bundle's force, the other forces, the bands outlier(x) gives.
FORCE = "Test Constabulary"
PEERS = ("Avon Police", "Bravo Constabulary", "Charlie Police", "Delta Police", "Echo Constabulary",
         "Foxtrot Police", "Golf Police")
POLARITIES = ("higher_is_better", "higher_is_worse", "neutral")
BANDS = ("well_above", "within", "well_below")
MEASURES = ("m0", "m1")
TEXTS = ("yes", "no", "met", "n/a", "café", "", 'say "hi"', "back\\slash")
DATES = ("2021-04-01", "2021-10-01", "2022-05-31", "2022-12-31")
STATUSES = ("open", "open", "open", "remediated_during_inspection", "remediated_verified")

# ---------------------------------------------------------------- what a drawn rule set declares


@dataclass(frozen=True)
class FactSpec:
    name: str  # qualified, "e0.f3"
    type: str  # one of EVIDENCE_TYPES, or "comparator"
    lo: float | None = None  # declared range, if any (drawn values always lie inside it)
    hi: float | None = None
    measure: str | None = None  # a comparator's measure (its short name when the rules give none)


@dataclass(frozen=True)
class AreaSpec:
    name: str
    aliases: tuple[str, ...] = ()
    ungraded: bool = False


@dataclass(frozen=True)
class RuleSetSpec:
    framework: str
    facts: tuple[FactSpec, ...]  # comparators too (type "comparator"): never drawn as facts
    areas: tuple[AreaSpec, ...]

    @property
    def measures(self) -> tuple[str, ...]:
        """The comparator measures the rules read, each once, in order."""
        return tuple(dict.fromkeys(f.measure for f in self.facts if f.type == "comparator" and f.measure))


@dataclass(frozen=True)
class RuleSet:
    files: tuple[tuple[str, str], ...]  # (file name, text), sorted by name as a rules folder is read
    spec: RuleSetSpec

    def sources(self) -> list[SourceFile]:
        return [SourceFile(name, text) for name, text in self.files]


@dataclass(frozen=True)
class Case:
    rules: RuleSet
    bundles: tuple[tuple[str, str], ...]  # (file name, YAML or JSON text)
    files: tuple[tuple[str, str], ...] = ()  # (path from the bundles' folder, text): the comparator files


def load_case(case: Case) -> tuple[Program, list[Bundle]]:
    """Parse and check the rules and load every bundle: in memory, unless the bundles name comparator files,
    which are then written with the bundles to a temporary folder (the loader reads them beside the bundle)."""
    program = peelrules.check_rules(case.rules.sources())
    if not case.files:
        return program, [load_bundle(SourceFile(name, text), program) for name, text in case.bundles]
    with tempfile.TemporaryDirectory(prefix="peel-case-") as tmp:
        folder = Path(tmp)
        _write_files(case.files, folder)
        return program, [load_bundle(SourceFile(str(folder / name), text), program) for name, text in case.bundles]


def _write_files(files: Sequence[tuple[str, str]], folder: Path) -> None:
    for name, text in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def write_case(case: Case, folder: Path) -> tuple[Path, list[Path]]:
    """Write the rule files to folder/rules and the bundles, with their comparator files, beside it; return
    both locations."""
    rules = folder / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    for name, text in case.rules.files:
        (rules / name).write_text(text, encoding="utf-8")
    _write_files(case.files, folder)
    paths = []
    for name, text in case.bundles:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return rules, paths


# ---------------------------------------------------------------- expression text with precedence

# binding strength, larger binds tighter (as peelrules.unparse)
P_OR, P_AND, P_NOT, P_CMP, P_ADD, P_MUL, P_NEG, P_ATOM = 1, 2, 3, 4, 5, 6, 7, 8
Expr = tuple[str, int]  # text and binding strength


@dataclass
class Scope:
    """The names an expression may use, by the type the checker gives them."""

    facts: dict[str, list[str]]  # evidence type -> fact names
    consts: dict[str, list[str]] = field(default_factory=dict)  # number/flag/assessment/text -> as written
    rules: list[str] = field(default_factory=list)  # rule references as written (flags)
    counters: bool = False  # in a ladder: counters shadow the assessment names met and exceeded
    constant: bool = False  # in a `let`: no evidence, rules or counters
    odd: bool = False  # allow `in` in constants (the checker folds it to None)
    small_sample: bool = False  # the framework header sets `small_sample below N`, so small_sample(x) checks

    def fact_names(self, *types: str) -> list[str]:
        return [] if self.constant else [f for t in types for f in self.facts.get(t, [])]


class ExprWriter:
    """Draws well-typed expressions of a requested type, as source text."""

    def __init__(self, draw: st.DrawFn, scope: Scope, rng: random.Random):
        self.draw = draw
        self.scope = scope
        self.rng = rng  # for choices that change the text but not the meaning

    # ------------------------------------------------------------ helpers
    def pick(self, options: list[str]) -> str:
        return choose(self.draw, options)

    def wrap(self, e: Expr, parent: int, strict: bool) -> str:
        text, p = e
        needed = p < parent or (strict and p == parent)
        if needed or (p < P_ATOM and self.rng.random() < 0.1):  # now and then, redundant parentheses
            return f"({text})"
        return text

    def can(self, ty: str) -> bool:
        """Whether an expression of this type can be written here at all (bands: only where outlier(x) can
        be, so that rule sets without comparators are drawn as before)."""
        if ty == "band":
            return bool(self.scope.fact_names("comparator"))
        return ty != "date" or bool(self.scope.fact_names("date"))

    # ------------------------------------------------------------ by type
    def expr(self, ty: str, depth: int) -> Expr:
        return {"number": self.number, "flag": self.flag, "assessment": self.assessment, "text": self.text,
                "date": self.date, "band": self.band}[ty](depth)

    def number(self, depth: int) -> Expr:
        choice = self.draw(_range(0, 9)) if depth > 0 else 0
        if choice <= 3:
            return self.number_atom()
        if choice <= 6:
            op = self.pick(["+", "-", "*", "/", "/"])
            strength = P_ADD if op in "+-" else P_MUL
            left = self.wrap(self.number(depth - 1), strength, strict=False)
            right = self.wrap(self.number(depth - 1), strength, strict=True)
            return f"{left} {op} {right}", strength
        if choice == 7:
            return "-" + self.wrap(self.number(depth - 1), P_NEG, strict=False), P_NEG
        if choice == 8 and (calls := self.number_calls()):
            return self.pick(calls), P_ATOM
        if self.scope.constant:  # no calls in constants
            return self.number_atom()
        args = [self.number(depth - 1)[0] for _ in range(self.draw(_range(1, 3)))]
        return f"first_known({', '.join(args)})", P_ATOM

    def number_calls(self) -> list[str]:
        estimates = self.scope.fact_names("estimate")
        ratios = self.scope.fact_names("ratio")
        comparators = self.scope.fact_names("comparator")
        return ([f"{f}({e})" for e in estimates for f in ("lower", "upper", "sample")]
                + [f"{f}({r})" for r in ratios for f in ("lower", "upper", "sample")]  # a ratio's: the interval
                + [f"{f}({c})" for c in comparators for f in ("peer_z", "peer_rank")])  # the force among peers

    def number_atom(self) -> Expr:
        kinds = ["literal", "literal", "percent"]
        facts = self.scope.fact_names(*NUMERIC_FACTS)
        kinds += ["fact"] * 4 if facts else []
        kinds += ["const"] if self.scope.consts.get("number") else []
        kinds += ["counter"] * 6 if self.scope.counters else []
        kinds += ["peer"] * 2 if self.scope.fact_names("comparator") else []
        kind = self.pick(kinds)
        if kind == "peer":  # peer_z(c) (a float, 0.0 when the peers are all alike) or peer_rank(c) (a whole number)
            return f"{self.pick(['peer_z', 'peer_rank'])}({self.pick(self.scope.fact_names('comparator'))})", P_ATOM
        if kind == "literal":
            return self.pick(["0", "1", "2", "3", "5", "10", "100", "0.5", "2.25", "12"]), P_ATOM
        if kind == "percent":
            return self.pick(["0%", "50%", "75%", "90%", "100%", "12.5%", "33.3%"]), P_ATOM
        if kind == "fact":
            return self.pick(facts), P_ATOM
        if kind == "const":
            return self.pick(self.scope.consts["number"]), P_ATOM
        return self.pick(list(COUNTERS)), P_ATOM

    def flag(self, depth: int) -> Expr:
        choice = self.draw(_range(0, 11)) if depth > 0 else 0
        if choice <= 2:
            return self.flag_atom()
        if choice <= 6:
            return self.comparison(depth)
        if choice <= 8:
            op = self.pick(["and", "or"])
            strength = P_OR if op == "or" else P_AND
            left = self.wrap(self.flag(depth - 1), strength, strict=False)
            right = self.wrap(self.flag(depth - 1), strength, strict=True)
            return f"{left} {op} {right}", strength
        if choice == 9:
            return "not " + self.wrap(self.flag(depth - 1), P_NOT, strict=False), P_NOT
        if choice == 10 and (not self.scope.constant or self.scope.odd):
            return self.in_list(depth)
        if not self.scope.constant:
            args = [self.flag(depth - 1)[0] for _ in range(self.draw(_range(1, 3)))]
            return f"first_known({', '.join(args)})", P_ATOM
        return self.comparison(depth)

    def flag_atom(self) -> Expr:
        kinds = ["literal"]
        kinds += ["fact"] * 2 if self.scope.fact_names("flag") else []
        kinds += ["const"] if self.scope.consts.get("flag") else []
        kinds += ["rule"] * 3 if self.scope.rules else []
        kinds += ["present", "remediated"] if self.scope.fact_names(*EVIDENCE_TYPES) else []
        kinds += ["significance"] if not self.scope.constant and self.scope.fact_names("estimate", "ratio") else []
        kinds += ["small"] if self.scope.small_sample and self.scope.fact_names("estimate", "ratio") else []
        kinds += ["comparison"] * 2 if not self.scope.constant and self.scope.fact_names("estimate", "ratio") else []
        kinds += ["polarity"] * 2 if self.scope.fact_names("comparator") else []
        kind = self.pick(kinds)
        if kind == "small":  # small_sample(x): an unknown sample counts as small
            return f"small_sample({self.pick(self.scope.fact_names('estimate', 'ratio'))})", P_ATOM
        if kind == "polarity":  # peer_better/peer_worse(c): unknown on a neutral measure, or without a value
            func = self.pick(["peer_better", "peer_worse"])
            return f"{func}({self.pick(self.scope.fact_names('comparator'))})", P_ATOM
        if kind == "comparison":  # overlaps / significantly_changed/_lower/_higher(a, b): of two estimates or ratios
            func = self.pick(["overlaps", "significantly_changed", "significantly_lower", "significantly_higher"])
            a, b = (self.pick(self.scope.fact_names("estimate", "ratio")) for _ in range(2))
            return f"{func}({a}, {b})", P_ATOM
        if kind == "significance":  # significantly_below/above(x, s): true, false or unknown (straddles)
            func = self.pick(["significantly_below", "significantly_above"])
            x = self.pick(self.scope.fact_names("estimate", "ratio"))
            return f"{func}({x}, {self.pick(['0%', '50%', '75%', '80.1%', '90%', '100%'])})", P_ATOM
        if kind == "literal":
            return self.pick(["true", "false"]), P_ATOM
        if kind == "fact":
            return self.pick(self.scope.fact_names("flag")), P_ATOM
        if kind == "const":
            return self.pick(self.scope.consts["flag"]), P_ATOM
        if kind == "rule":
            return self.pick(self.scope.rules), P_ATOM
        return f"{kind}({self.pick(self.scope.fact_names(*EVIDENCE_TYPES))})", P_ATOM

    def comparison(self, depth: int) -> Expr:
        ty = self.pick([t for t in ["number", "number", "number", "assessment", "assessment", "text", "date",
                                    "flag", "band", "band"] if self.can(t)])
        ordered = ty in ("number", "assessment", "date")
        op = self.pick([">=", "<=", ">", "<", "==", "!=", "is", "is not"] if ordered else
                       ["==", "!=", "is", "is not"])
        left = self.wrap(self.expr(ty, depth - 1), P_CMP, strict=True)
        right = self.wrap(self.expr(ty, depth - 1), P_CMP, strict=True)
        return f"{left} {op} {right}", P_CMP

    def in_list(self, depth: int) -> Expr:
        ty = self.pick([t for t in ["number", "number", "assessment", "text", "flag", "date", "band"]
                        if self.can(t)])
        item = self.wrap(self.expr(ty, depth - 1), P_CMP, strict=True)
        count = self.draw(_range(1, 3))
        if ty == "flag":  # the checker rejects a flag option written as an and/or/comparison (reported bug)
            options = [self.flag_atom()[0] for _ in range(count)]
        else:
            options = [self.expr(ty, depth - 1)[0] for _ in range(count)]
        word = self.pick(["in", "not in"])
        return f"{item} {word} [{', '.join(options)}]", P_CMP

    def assessment(self, depth: int) -> Expr:
        kinds = ["literal", "literal"]
        kinds += ["fact"] * 3 if self.scope.fact_names("assessment") else []
        kinds += ["const"] if self.scope.consts.get("assessment") else []
        kinds += ["first_known"] if depth > 0 and not self.scope.constant else []
        kind = self.pick(kinds)
        if kind == "literal":  # in a ladder `met` and `exceeded` are counters
            return self.pick(list(ASSESSMENTS[:2] if self.scope.counters else ASSESSMENTS)), P_ATOM
        if kind == "fact":
            return self.pick(self.scope.fact_names("assessment")), P_ATOM
        if kind == "const":
            return self.pick(self.scope.consts["assessment"]), P_ATOM
        args = [self.assessment(depth - 1)[0] for _ in range(self.draw(_range(1, 3)))]
        return f"first_known({', '.join(args)})", P_ATOM

    def text(self, depth: int) -> Expr:
        kinds = ["literal", "literal"]
        kinds += ["fact"] * 3 if self.scope.fact_names("text") else []
        kinds += ["const"] if self.scope.consts.get("text") else []
        kinds += ["first_known"] if depth > 0 and not self.scope.constant else []
        kind = self.pick(kinds)
        if kind == "literal":
            return quote(self.pick(list(TEXTS))), P_ATOM
        if kind == "fact":
            return self.pick(self.scope.fact_names("text")), P_ATOM
        if kind == "const":
            return self.pick(self.scope.consts["text"]), P_ATOM
        args = [self.text(depth - 1)[0] for _ in range(self.draw(_range(1, 2)))]
        return f"first_known({', '.join(args)})", P_ATOM

    def band(self, depth: int) -> Expr:
        """A band: outlier(c) of a comparator, a band word, a band constant, or first_known of bands."""
        comparators = self.scope.fact_names("comparator")
        kinds = ["literal"]
        kinds += ["outlier"] * 3 if comparators else []
        kinds += ["const"] if self.scope.consts.get("band") else []
        kinds += ["first_known"] if depth > 0 and not self.scope.constant else []
        kind = self.pick(kinds)
        if kind == "literal":
            return self.pick(list(BANDS)), P_ATOM
        if kind == "outlier":
            return f"outlier({self.pick(comparators)})", P_ATOM
        if kind == "const":
            return self.pick(self.scope.consts["band"]), P_ATOM
        args = [self.band(depth - 1)[0] for _ in range(self.draw(_range(1, 2)))]
        return f"first_known({', '.join(args)})", P_ATOM

    def date(self, depth: int) -> Expr:
        dates = self.scope.fact_names("date")
        if depth > 0 and self.draw(_range(0, 4)) == 0:
            return f"first_known({', '.join(self.pick(dates) for _ in range(2))})", P_ATOM
        return self.pick(dates), P_ATOM


def choose(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of the options, the first ones preferred when shrinking. (Cheaper than sampled_from, which
    builds a new strategy on every call.)"""
    return options[draw(_index(len(options)))]


@functools.lru_cache(maxsize=None)
def _index(size: int) -> st.SearchStrategy[int]:
    if size < 1:
        raise ValueError("nothing to choose from")
    return st.integers(0, size - 1)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---------------------------------------------------------------- rule sets


@dataclass
class _Area:
    name: str
    title: str
    aliases: tuple[str, ...]
    grading: str  # "ungraded", "shared", "local", "local_named"
    lets: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, expression)
    rules: list[tuple[int, str, str]] = field(default_factory=list)  # (global index, name, kind)


@st.composite
def evidence_decls(draw: st.DrawFn, max_facts: int = 10, max_comparators: int = 2) -> tuple[list[FactSpec], list[str]]:
    """Declared evidence items and the `evidence` blocks declaring them: facts, then (placed among them)
    comparators, each with a measure of its own, one shared with another comparator, or none (its short name)."""
    rng = random.Random(draw(_SEEDS))
    count = draw(_range(1, max_facts))
    types = [choose(draw, EVIDENCE_TYPES) for _ in range(count)]
    comparators = draw(_range(0, max_comparators))
    blocks: dict[str, list[str]] = {}
    facts = []
    for i, ty in enumerate(types):
        block = f"e{rng.randrange(3)}"
        name, lo, hi = f"f{i}", None, None
        options = ""
        if ty in ("count", "number", "percent") and rng.random() < 0.5:
            lo, hi, written = {"count": (0.0, 1000.0, "0 to 1000"), "number": (-1000.0, 1000.0, "-1000 to 1000"),
                               "percent": (0.0, 1.0, "0% to 100%")}[ty]
            options += f" range {written}"
        if rng.random() < 0.2:
            options += ' unit "cases"'
        if rng.random() < 0.1:
            options += " context only"
        blocks.setdefault(block, []).append(f'  {name}: {ty} {quote(f"Evidence {i}, a {ty}")}{options}')
        facts.append(FactSpec(f"{block}.{name}", ty, lo, hi))
    for i in range(comparators):
        block, name = f"e{rng.randrange(3)}", f"c{i}"
        measure = choose(draw, [*MEASURES, None])
        written = f" measure {measure}" if measure else ""
        if rng.random() < 0.1:
            written += " context only"
        lines = blocks.setdefault(block, [])
        lines.insert(rng.randint(0, len(lines)), f'  {name}: comparator {quote(f"Comparator {i}")}{written}')
        facts.append(FactSpec(f"{block}.{name}", "comparator", measure=measure or name))
    texts = [f"evidence {b} {{\n" + "\n".join(lines) + "\n}\n" for b, lines in blocks.items()]
    return facts, texts


def _const_type(draw: st.DrawFn) -> str:
    return choose(draw, ["number", "number", "flag", "assessment", "text", "band"])


def _draw_lets(draw: st.DrawFn, names: list[str], scope: Scope, depth: int,
               rng: random.Random) -> list[tuple[str, str, str]]:
    """`let` definitions, each visible to the ones after it; also recorded in scope.consts."""
    lets = []
    for name in names:
        ty = _const_type(draw)
        text = ExprWriter(draw, scope, rng).expr(ty, depth)[0]
        if ty == "number" and draw(_range(0, 9)) == 0:
            text = "1 / 0"  # folds to unknown
        lets.append((name, ty, text))
        scope.consts.setdefault(ty, []).append(name)
    return lets


def _ladder_text(draw: st.DrawFn, name: str, scope: Scope, depth: int, rng: random.Random) -> str:
    rungs = []
    for _ in range(draw(_range(0, 4))):
        grade = choose(draw, GRADE_KEYS)
        condition = ExprWriter(draw, scope, rng).flag(depth)[0]
        rungs.append(f"  {grade} when {condition}")
    rungs.append(f"  {choose(draw, GRADE_KEYS)} otherwise")
    return f"ladder {name} {{\n" + "\n".join(rungs) + "\n}\n"


def _rule_text(draw: st.DrawFn, kind: str, name: str, index: int, scope: Scope, depth: int,
               rng: random.Random) -> str:
    writer = ExprWriter(draw, scope, rng)
    lines = [f"  {kind} {name} {quote(f'Rule {index}, a {kind}')} {{", f"    when {writer.flag(depth)[0]}"]
    if kind == "characteristic" and draw(_BOOLEANS):
        lines.append(f"    exceeded when {writer.flag(depth)[0]}")
    if kind in ("cause_of_concern", "area_for_improvement") and draw(_range(0, 5)) == 0:
        lines.append("    severe")  # `severe` marks findings only (PR214 elsewhere)
    if rng.random() < 0.5:
        lines.append(f'    cite "Framework {index}"')
    if kind in ("cause_of_concern", "area_for_improvement") and rng.random() < 0.5:
        lines.append('    recommendation "Do better."')
    lines.append("  }")
    return "\n".join(lines)


def _fact_scope(facts: list[FactSpec]) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for f in facts:
        by_type.setdefault(f.type, []).append(f.name)
    return by_type


@st.composite
def rule_sets(draw: st.DrawFn, max_areas: int = 4, max_rules: int = 6, max_facts: int = 10, max_depth: int = 3,
              odd_constants: bool = False, max_comparators: int = 2) -> RuleSet:
    """A well-typed rule set as rule-file text (see the module docstring)."""
    rng = random.Random(draw(_SEEDS))
    facts, evidence_texts = draw(evidence_decls(max_facts, max_comparators))
    by_type = _fact_scope(facts)
    framework = f"fw{draw(_range(0, 9))}"
    interval = choose(draw, [None, "normal", "wilson"])  # how a ratio's interval is computed
    small = choose(draw, [None, 30, 1, 20, 184])  # `small_sample below N`: small_sample(x) needs it
    items: list[str] = [_framework_text(rng, framework, interval, small), *evidence_texts]

    # global constants
    global_scope = Scope(by_type, constant=True, odd=odd_constants)
    lets = _draw_lets(draw, [f"k{i}" for i in range(draw(_range(0, 3)))], global_scope, 2, rng)
    items += [f"let {name} = {text}\n" for name, _, text in lets]
    global_consts = {t: list(v) for t, v in global_scope.consts.items()}

    # areas: names, grading, local constants and rule names first, so references can be drawn
    n_areas = draw(_range(1, max_areas))
    n_shared = draw(_range(0, 2))
    areas = [_draw_area(draw, i, n_shared) for i in range(n_areas)]
    let_index = len(lets)
    for area in areas:
        count = draw(_range(0, 2))
        scope = Scope(by_type, {t: list(v) for t, v in global_consts.items()}, constant=True, odd=odd_constants)
        area.lets = _draw_lets(draw, [f"k{let_index + j}" for j in range(count)], scope, 2, rng)
        let_index += count
    kinds = RULE_KINDS + ("characteristic", "characteristic", "area_for_improvement")  # mostly characteristics
    index = 0
    for area in areas:
        for _ in range(draw(_range(0, max_rules))):
            area.rules.append((index, f"r{index}", choose(draw, kinds)))
            index += 1

    # shared ladders (a local ladder may shadow one of these names)
    for i in range(n_shared):
        scope = Scope(by_type, _consts_for(areas, None, global_consts), _rules_for(areas, None, None),
                      counters=True, small_sample=small is not None)
        items.append(_ladder_text(draw, f"l{i}", _maybe_without_facts(draw, scope), 2, rng))

    items += [_area_text(draw, rng, area, areas, by_type, global_consts, max_depth, n_shared, small is not None)
              for area in areas]

    rng.shuffle(items)
    n_files = rng.randint(1, 3)
    files: dict[str, list[str]] = {}
    for item in items:
        files.setdefault(f"{rng.randrange(n_files):02d}-rules.peel", []).append(item)
    spec = RuleSetSpec(framework, tuple(facts),
                       tuple(AreaSpec(a.name, a.aliases, a.grading == "ungraded") for a in areas))
    return RuleSet(tuple(sorted((name, "# generated\n" + "\n".join(parts)) for name, parts in files.items())),
                   spec)


def _framework_text(rng: random.Random, name: str, interval: str | None = None, small: int | None = None) -> str:
    fields = [f"  interval {interval}"] if interval else []
    if small is not None:
        fields.append(f"  small_sample below {small}")
    if rng.random() < 0.5:
        fields.append('  version "1"')
    if rng.random() < 0.5:
        fields.append("  effective 2021-04-01 to 2023-03-31")
    if rng.random() < 0.5:
        fields.append('  publisher "Inspectorate"')
    return f'framework {name} "Framework {name}" {{\n' + "\n".join(fields) + "\n}\n"


def _draw_area(draw: st.DrawFn, i: int, n_shared: int) -> _Area:
    gradings = (["shared", "shared"] if n_shared else []) + ["local", "local_named", "ungraded"]
    aliases = (f"area {i}",) if draw(_BOOLEANS) else ()
    return _Area(f"a{i}", f"Area {i} é", aliases, choose(draw, gradings))


def _consts_for(areas: list[_Area], here: _Area | None, global_consts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Constants visible from an area (None: a shared ladder): globals, its own lets, others qualified."""
    out = {t: list(v) for t, v in global_consts.items()}
    for area in areas:
        for name, ty, _ in area.lets:
            out.setdefault(ty, []).append(name if area is here else f"{area.name}.{name}")
    return out


def _rules_for(areas: list[_Area], here: _Area | None, before: int | None) -> list[str]:
    """Rule references: all rules (ladders) or those drawn before index `before` (rules, to stay acyclic)."""
    out = []
    for area in areas:
        for index, name, _ in area.rules:
            if before is None or index < before:
                out.append(name if area is here else f"{area.name}.{name}")
    return out


def _maybe_without_facts(draw: st.DrawFn, scope: Scope) -> Scope:
    """Ladders read evidence only now and then."""
    if draw(_range(0, 5)) != 0:
        scope.facts = {}
    return scope


def _area_text(draw: st.DrawFn, rng: random.Random, area: _Area, areas: list[_Area], by_type: dict[str, list[str]],
               global_consts: dict[str, list[str]], max_depth: int, n_shared: int, small_sample: bool) -> str:
    consts = _consts_for(areas, area, global_consts)
    parts: list[str] = []
    if rng.random() < 0.5:
        parts.append('  question "How good is it?"')
    if area.aliases:
        parts.append("  aliases " + ", ".join(quote(a) for a in area.aliases))
    if area.grading == "ungraded":
        parts.append("  ungraded")
    elif area.grading == "shared":
        parts.append(f"  grade by l{draw(_range(0, n_shared - 1))}")
    else:
        scope = Scope(by_type, consts, _rules_for(areas, area, None), counters=True, small_sample=small_sample)
        # a local ladder may take the name of a shared one: the local one wins
        name = f"l{draw(_range(0, n_shared - 1))}" if n_shared and draw(_BOOLEANS) else f"m{area.name}"
        ladder = _ladder_text(draw, name, _maybe_without_facts(draw, scope), 2, rng)
        parts.append(ladder.replace("\n", "\n  ").rstrip())
        if area.grading == "local_named":
            parts.append(f"  grade by {name}")
    parts += [f"  let {name} = {text}" for name, _, text in area.lets]
    for index, name, kind in area.rules:
        scope = Scope(by_type, consts, _rules_for(areas, area, index), small_sample=small_sample)
        parts.append(_rule_text(draw, kind, name, index, scope, draw(_range(0, max_depth)), rng))
    rng.shuffle(parts)
    body = "\n".join(part if part.startswith("  ") else "  " + part for part in parts)
    return f"area {area.name} {quote(area.title)} {{\n{body}\n}}\n"


# ---------------------------------------------------------------- evidence


def _number(draw: st.DrawFn, edges: Sequence[int | float], lo: int, hi: int) -> int | float:
    """Now an edge value, now any whole number in [lo, hi]."""
    return choose(draw, edges) if draw(_BOOLEANS) else draw(_range(lo, hi))


@functools.lru_cache(maxsize=None)
def _range(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


def _percent(draw: st.DrawFn, top: int = 100) -> str:
    whole = _number(draw, [0, top, 50, 75, 90], 0, top)
    tenth = choose(draw, [0, 0, 5])
    return f"{whole}%" if tenth == 0 or whole == top else f"{whole}.{tenth}%"


def fact_value(draw: st.DrawFn, spec: FactSpec) -> dict:
    """The value part of one fact of a declared type (no source), weighted towards edges: zero counts and
    denominators, 0% and 100%, wide confidence intervals, every assessment, text naming an assessment."""
    t = spec.type
    if t == "count":
        return {"value": _number(draw, [0, 1, 90], 0, 60)}
    if t == "number":
        return {"value": _number(draw, [0, 1, -1, 0.5, 2.25, -7.5], -50, 50)}
    if t == "percent":
        return {"value": _percent(draw)}
    if t == "ratio":  # mostly small, some large enough for a two-proportion test to find a difference
        n = draw(_range(0, 12)) if draw(_BOOLEANS) else choose(draw, [100, 250])
        return {"k": draw(_range(0, n)), "n": n}
    if t == "estimate":
        return {"estimate": _percent(draw), "ci": _percent(draw, 30), "sample": choose(draw, [1, 20, 183, 1000])}
    if t == "flag":
        return {"value": draw(_BOOLEANS)}
    if t == "text":
        return {"value": choose(draw, TEXTS)}
    if t == "date":
        return {"value": choose(draw, DATES)}
    return {"assessment": choose(draw, ASSESSMENTS)}


def fact_values(spec: FactSpec) -> st.SearchStrategy[dict]:
    """fact_value() as a strategy, for tests that draw single facts."""
    return st.composite(lambda draw: fact_value(draw, spec))()


# peers' values: ties, zeros and negatives (which rule out logs), and skewed sets (which take the log path)
_PEER_VALUES = (1.2, 5, 5, 0, 2, 40, 100, 0.5, -3, 6.5, 13, 1e-3)


def comparator_value(draw: st.DrawFn) -> float | int | None:
    """One force's value in a comparator file: now None (supplied none), now an edge, now any whole number."""
    if draw(_range(0, 5)) == 0:
        return None
    return choose(draw, _PEER_VALUES) if draw(_BOOLEANS) else draw(_range(1, 20))


def comparator_data(draw: st.DrawFn, measure: str) -> dict:
    """A comparator file (docs/statistics.md) for a measure: every polarity; a handful of forces, some with no
    value; the bundle's force (FORCE) with a value, with none, or not listed at all; at least 3 values, as the
    loader requires, and sometimes all alike (sd 0)."""
    rng = random.Random(draw(_SEEDS))
    values: dict[str, float | int | None] = {}
    own = choose(draw, ["value", "high", "low", "value", "null", "absent"])  # high, low: likely outliers
    if own != "absent":
        values[FORCE] = {"null": None, "high": 1000, "low": choose(draw, [-50, 1e-4])}.get(own) if own != "value" \
            else choose(draw, _PEER_VALUES) if draw(_BOOLEANS) else draw(_range(1, 20))
    alike = draw(_range(0, 9)) == 0
    for name in PEERS[: draw(_range(2, len(PEERS)))]:
        values[name] = values.get(FORCE, 5) if alike else comparator_value(draw)
    for name in PEERS:  # at least 3 values in all
        if sum(v is not None for v in values.values()) >= 3:
            break
        if values.get(name) is None:
            values[name] = draw(_range(1, 20))
    names = list(values)
    rng.shuffle(names)  # the file's order is not the comparison's
    data = {"measure": measure, "title": f"Measure {measure}", "polarity": choose(draw, POLARITIES),
            "unit": "per 1,000 offences", "period": {"from": "2020-10-01", "to": "2021-09-30"},
            "source": {"title": "Data return", "kind": "force_data"}}
    if rng.random() < 0.5:
        data["illustrative"] = rng.random() < 0.5
    if rng.random() < 0.3:
        data["note"] = "Generated."
    data["values"] = {k: values[k] for k in names}
    return data


@dataclass(frozen=True)
class DrawnBundle:
    data: dict  # the bundle, as a YAML or JSON file holds it
    files: tuple[tuple[str, str], ...]  # (path from the bundle's folder, text): the comparator files it names


@st.composite
def bundles(draw: st.DrawFn, spec: RuleSetSpec) -> dict:
    """One evidence bundle for the rule set, as the dict a YAML or JSON file holds; without a `comparators:`
    section (bundles_with_files draws one, with the files it names)."""
    return draw(bundles_with_files(spec, comparators=False)).data


@st.composite
def bundles_with_files(draw: st.DrawFn, spec: RuleSetSpec, comparators: bool = True) -> DrawnBundle:
    """One evidence bundle for the rule set, and the comparator files its `comparators:` section names: a file
    for most of the measures the rules read (a measure without one leaves outlier(x) and the like unknown), each
    under comparators/, named by its digest (so bundles of a case may share one)."""
    rng = random.Random(draw(_SEEDS))
    facts: dict[str, dict] = {}
    missing_percent = choose(draw, [20, 0, 45, 70])  # some bundles complete, some sparse
    for fact in spec.facts:
        if fact.type == "comparator":  # never a fact: its file is under comparators:
            continue
        if draw(_range(0, 99)) < missing_percent:
            continue
        entry = fact_value(draw, fact)
        entry["source"] = f"{rng.choice(['report', 'annex'])}:L{rng.randint(1, 300)}"
        if rng.random() < 0.25:
            entry["quote"] = rng.choice(["as found", "on most (86 of 90) occasions", "«quoted»"])
        status = choose(draw, STATUSES)
        if status != "open" or rng.random() < 0.5:
            entry["status"] = status
        facts[fact.name] = entry
    marks: dict[str, dict] = {}
    mark_areas = draw(_BOOLEANS)
    for area in spec.areas:
        if mark_areas and draw(_range(0, 3)) == 3:
            key = choose(draw, (area.name, *area.aliases))
            mark: dict[str, str] = {"status": "not_inspected"}
            if rng.random() < 0.5:
                mark["note"] = "Not yet inspected"
            marks[key] = mark
    bundle: dict = {"force": "Test Constabulary", "framework": spec.framework,
                    "sources": {"report": {"title": "Report"}, "annex": {"title": "Annex", "file": "annex.txt"}}}
    if rng.random() < 0.5:
        bundle["period"] = {"from": "2021-10-01", "to": "2022-05-31"}
    if marks or rng.random() < 0.5:
        bundle["areas"] = marks
    bundle["facts"] = facts
    files: dict[str, str] = {}
    section: dict[str, str] = {}
    for measure in spec.measures if comparators else ():
        if draw(_range(0, 4)) == 0:
            continue
        text = yaml.dump(comparator_data(draw, measure), Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
        name = f"comparators/{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
        files[name] = text
        section[measure] = name
    if section:
        bundle["comparators"] = section
    return DrawnBundle(bundle, tuple(sorted(files.items())))


def bundle_text(rng: random.Random, bundle: dict) -> tuple[str, str]:
    """Render a bundle as YAML (block or flow style) or JSON: (suffix, text)."""
    form = rng.choice(["yaml", "yaml-flow", "json"])
    if form == "json":
        return ".json", json.dumps(bundle, indent=rng.choice([None, 2]), ensure_ascii=rng.random() < 0.5)
    return ".yaml", yaml.dump(bundle, Dumper=_DUMPER, sort_keys=False, allow_unicode=rng.random() < 0.5,
                                   default_flow_style=(form == "yaml-flow"))


@st.composite
def cases(draw: st.DrawFn, max_bundles: int = 3, **rule_set_options: object) -> Case:
    """A rule set and 1..max_bundles bundles for it, as text."""
    rules = draw(rule_sets(**rule_set_options))  # type: ignore[arg-type]
    rng = random.Random(draw(_SEEDS))
    texts = []
    files: dict[str, str] = {}
    for i in range(draw(_range(1, max_bundles))):
        drawn = draw(bundles_with_files(rules.spec))
        suffix, text = bundle_text(rng, drawn.data)
        texts.append((f"bundle{i}{suffix}", text))
        files.update(drawn.files)
    return Case(rules, tuple(texts), tuple(sorted(files.items())))
