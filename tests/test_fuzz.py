"""Property tests at the three doors hostile input comes through, with the library API (no subprocesses):

(a) rule text -> read_source -> parse -> check, from the shipped rule files and tests/data/mini.peel mutated:
    byte flips, token deletions, duplications and swaps, and insertions of grammar keywords and punctuation;
(b) evidence text -> the safe YAML loader -> the model -> the checks against mini.peel, from
    tests/data/mini-evidence.yaml mutated: keys deleted, duplicated and renamed, values retyped as other JSON and
    YAML values (YAML 1.1 lookalikes, huge and non-finite numbers, deep nesting), the text itself cut and spliced;
(c) the evaluator, on well-typed bundles for mini.peel drawn by tests/strategies.py.

Whatever the input, nothing but PeelError may escape, and every diagnostic of a PeelError has a code listed in
CODES and a hint. Inputs are small so that the 2,000 examples of each target stay within about a minute; that
full budget is drawn with PEEL_HYPOTHESIS_PROFILE=thorough, and by default (the ci profile, see conftest.py)
300 examples of each, new ones on every run.
"""
from __future__ import annotations

import atexit
import json
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peelrules
from peelrules.diagnostics import CODES, PeelError, render_all
from peelrules.evidence import load_bundle
from peelrules.loader import read_source
from peelrules.report import text as text_report
from peelrules.source import SourceFile
from conftest import examples
from strategies import AreaSpec, FactSpec, RuleSetSpec, bundle_text, bundles

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "rules" / "peel-2021-22"
MINI_TEXT = (ROOT / "tests" / "data" / "mini.peel").read_text(encoding="utf-8")
MINI_EVIDENCE = yaml.safe_load((ROOT / "tests" / "data" / "mini-evidence.yaml").read_text(encoding="utf-8"))
MINI = peelrules.load_rules(ROOT / "tests" / "data" / "mini.peel")
FUZZ = settings(max_examples=examples(ci=300, thorough=2000), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="peel-fuzz-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)


def refused_cleanly(action: Callable[[], object]) -> None:
    """Run action; a PeelError is a clean refusal if each diagnostic has a known code and a hint. Any other
    exception propagates, and fails the test."""
    try:
        action()
    except PeelError as err:
        assert err.diagnostics, "a PeelError without diagnostics"
        for d in err.diagnostics:
            assert d.code in CODES, f"unknown code {d.code}: {d.message}"
            assert d.hint, f"{d.code} without a hint: {d.message}"
        render_all(err.diagnostics)  # and it can be shown


# ---------------------------------------------------------------- (a) rule text


def _shipped_seeds() -> list[str]:
    """Small, realistic rule texts: mini.peel, the framework header with the shared ladders, and from each
    shipped file its evidence block, and its area cut to the first two rules under the header, the ladders and
    that evidence block (so that the unmutated seed checks)."""
    header = (SHIPPED / "00-framework.peel").read_text(encoding="utf-8")
    ladders = (SHIPPED / "01-ladder.peel").read_text(encoding="utf-8")
    seeds = [MINI_TEXT, header + ladders]
    rule_start = re.compile(r"^  (characteristic|cause_of_concern|area_for_improvement|innovative_practice|"
                            r"good_practice) ", re.M)
    for path in sorted(SHIPPED.glob("*.peel"))[2:]:
        blocks = re.split(r"\n(?=(?:evidence|let|area)\b)", path.read_text(encoding="utf-8"))
        declared = "\n".join(b for b in blocks if b.startswith(("evidence", "let")))
        seeds.append(header + declared)
        for block in blocks:
            if block.startswith("area"):
                starts = [m.start() for m in rule_start.finditer(block)]
                seeds.append(header + ladders + declared + "\n" +
                             (block[:starts[2]] + "}\n" if len(starts) > 2 else block))
    return seeds


SEEDS = _shipped_seeds()
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\d+(?:\.\d+)?%?|[a-z_][a-z0-9_]*|>=|<=|==|!=|\s+|.', re.S)
KEYWORDS = ["framework", "evidence", "let", "ladder", "area", "characteristic", "cause_of_concern",
            "area_for_improvement", "innovative_practice", "good_practice", "when", "exceeded", "cite",
            "recommendation", "severe", "otherwise", "grade", "by", "question", "aliases", "ungraded", "version",
            "effective", "publisher", "range", "to", "unit", "context", "only", "and", "or", "not", "in", "is",
            "true", "false", "count", "percent", "ratio", "estimate", "flag", "assessment", "met", "concerns"]
PUNCTUATION = ["{", "}", "(", ")", "[", "]", ",", ".", ":", "=", "==", "!=", ">=", "<=", ">", "<", "+", "-",
               "*", "/", "%", '"', "#", "\n", " ", "90%", "0", "1.5", "2021-04-01", '"x"', "\\", "é", "\t"]


@st.composite
def mutated_rule_bytes(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(SEEDS))
    tokens = TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "keyword", "punctuation"]))
        i = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            word = draw(st.sampled_from(KEYWORDS if op == "keyword" else PUNCTUATION))
            tokens.insert(i, f" {word} " if op == "keyword" else word)
        if not tokens:
            tokens = [""]
    data = bytearray("".join(tokens).encode("utf-8"))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # byte flips, now and then
        if data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


@FUZZ
@given(mutated_rule_bytes())
def test_mutated_rule_files_are_refused_cleanly(data: bytes) -> None:
    path = SCRATCH / "fuzz.peel"
    path.write_bytes(data)
    refused_cleanly(lambda: peelrules.check_rules([read_source(path, "fuzz.peel")]))


# ---------------------------------------------------------------- (b) evidence text

LOOKALIKES = ["yes", "no", "on", "off", "True", "NULL", "~", "1:20", "2022-01-01", "2022-01-01T10:00:00Z",
              ".nan", ".inf", "-.Inf", "NaN", "Infinity", "0x1F", "0o17", "1_000", "+5", "1e999", "1e-999",
              "١٢", "８５%", "85%", "85.2%", "100.1%", "-5%", "report:L0", "report:L1", "met", "not_inspected",
              "&a", "*a", "!!python/object/apply:os.system", "<<", "---", "...", "|", ">", "@", "`", "%TAG"]
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(-10, 10), st.integers(-10 ** 30, 10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(LOOKALIKES), st.text(max_size=12),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _parent(doc: object, path: tuple) -> object:
    for p in path[:-1]:
        doc = doc[p]  # type: ignore[index]
    return doc


def _nested(depth: int, leaf: object) -> object:
    for i in range(depth):
        leaf = [leaf] if i % 2 else {"k": leaf}
    return leaf


@st.composite
def mutated_evidence_text(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(MINI_EVIDENCE))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            doc = draw(VALUES)
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        op = draw(st.sampled_from(["delete", "retype", "retype", "rename", "nest", "huge"]))
        if op == "delete":
            del parent[path[-1]]  # type: ignore[attr-defined]
        elif op == "retype":
            parent[path[-1]] = draw(VALUES)  # type: ignore[index]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(LOOKALIKES + ["value", "k", "n", "facts", "calls.offered"]))] = \
                parent.pop(path[-1])
        elif op == "nest":
            parent[path[-1]] = _nested(draw(st.integers(1, 40)), parent[path[-1]])  # type: ignore[index]
        elif op == "huge":
            huge = [10 ** 18, -10 ** 18, 10 ** 400, 1e308, 5e-324, 2 ** 63]
            parent[path[-1]] = draw(st.sampled_from(huge))  # type: ignore[index]
    rng = random.Random(draw(st.integers(0, 2 ** 32 - 1)))
    form = rng.choice(["json", "block", "flow"])
    if form == "json":
        text = json.dumps(doc, allow_nan=True, ensure_ascii=rng.random() < 0.5)
    else:
        text = yaml.safe_dump(doc, default_flow_style=form == "flow", allow_unicode=rng.random() < 0.5,
                              sort_keys=False, width=10 ** 6)
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 2))):  # and the text itself: lines duplicated (duplicate keys), cut
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["duplicate", "delete", "splice"]))
        if op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(LOOKALIKES + [":", "- ", "{", "}", "[", "]", "'",
                                                                          '"', "#", "\t", "  "])) + lines[i][at:]
    return "\n".join(lines)


@FUZZ
@given(mutated_evidence_text())
def test_mutated_evidence_is_refused_cleanly(text: str) -> None:
    refused_cleanly(lambda: load_bundle(SourceFile("fuzz.yaml", text), MINI))


# ---------------------------------------------------------------- (c) the evaluator

MINI_SPEC = RuleSetSpec(
    MINI.framework.name,
    tuple(FactSpec(d.name, d.type, d.range_lo, d.range_hi) for d in MINI.decls.values()),
    tuple(AreaSpec(a.name, tuple(a.area.aliases), bool(a.area.ungraded)) for a in MINI.areas),
)


@st.composite
def mini_bundle_texts(draw: st.DrawFn) -> str:
    bundle = draw(bundles(MINI_SPEC))
    return bundle_text(random.Random(draw(st.integers(0, 2 ** 32 - 1))), bundle)[1]


@FUZZ
@given(mini_bundle_texts())
def test_evaluator_survives_generated_evidence(text: str) -> None:
    def evaluate() -> None:
        bundle = load_bundle(SourceFile("fuzz.yaml", text), MINI)
        result, traces = peelrules.explain(MINI, bundle)
        text_report.summary(MINI, bundle, result)
        text_report.explain(traces)

    refused_cleanly(evaluate)
