"""Evidence bundles: safe loading (YAML or JSON), one pydantic model, and checks against the declarations.

The loader builds Python values from yaml's node tree itself, so it sees every key's position, rejects
duplicate keys, tags, anchors and aliases, and resolves plain scalars as JSON would (no `yes` booleans,
no sexagesimals, no timestamps). Pydantic's model is the one source of the published JSON Schema.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import difflib
import functools
import hashlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .diagnostics import Code, Diagnostic, PeelError, one_line, quoted
from .limits import DEFAULT_LIMITS, Limits
from .loader import ChangedWhileRead, forbidden_character, read_source
from .nodes import EvidenceDecl
from .program import Program
from .source import SourceFile, Span
from .stats import COMMON_Z, LEVEL
from .values import Estimate, Ratio, Value, settle
from .findings import Finding, Moderation
from .grades import GRADE_KEYS
from .vocabulary import AREA_STATUSES, ASSESSMENTS, FACT_STATUSES, FINDING_KINDS, RECOMMENDING_KINDS, SOURCE_KINDS
from .aggregates import TableModel, load_tables
from .facts import Bundle, Document, Fact, KeyPath, covers, peek_framework, stated_key
from .peers import load_peers
from .peerfacts import Comparator
from .tablefacts import EngineChoice, ResultStore, engine_choice
from .vocabulary import ENGINES

# The runtime types live in facts.py (no pydantic, no YAML); these names stay importable from here.
_REEXPORTED = (peek_framework, stated_key)

# ---------------------------------------------------------------- the model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ASCII digits only: \d would also match other scripts' digits, which int() and Decimal read silently.
PERCENT_RE = r"^[0-9]+(\.[0-9]+)?%$"
SOURCE_RE = r"^[a-z0-9_]+:L[1-9][0-9]{0,17}$"  # at most max_number_digits digits


SourceKind = Literal[tuple(SOURCE_KINDS)]  # type: ignore[valid-type]
AreaStatus = Literal[tuple(AREA_STATUSES)]  # type: ignore[valid-type]
FindingKind = Literal[tuple(FINDING_KINDS)]  # type: ignore[valid-type]
GradeKey = Literal[GRADE_KEYS]  # type: ignore[valid-type]
Assessment = Literal[ASSESSMENTS]  # type: ignore[valid-type]
FactStatus = Literal[tuple(FACT_STATUSES)]  # type: ignore[valid-type]


class SourceDocument(_Strict):
    title: str = Field(description="Title of the document, e.g. the inspection report")
    file: Optional[str] = Field(None, description="File name of the document")
    url: Optional[str] = Field(None, description="Where the document is published")
    kind: SourceKind = Field("inspection_report", description="What the document is: " + "; ".join(
        f"{k}: {v}" for k, v in SOURCE_KINDS.items()))


class AreaMark(_Strict):
    status: AreaStatus = Field(description="Why the area has no grade from this bundle: " + "; ".join(
        f"{k}: {v}" for k, v in AREA_STATUSES.items()))
    note: Optional[str] = None


class FindingModel(_Strict):
    """One area-level finding as the report states it."""

    kind: FindingKind = Field(description="; ".join(f"{k}: {v}" for k, v in FINDING_KINDS.items()))
    text: Optional[str] = Field(None, description="the finding in the report's words, e.g. its heading")
    source: str = Field(pattern=SOURCE_RE, description="document key and line, e.g. 'report:L68'")
    quote: Optional[str] = Field(None, description="the words of the source the finding is taken from")
    severe: bool = Field(False, description="the report marks the finding as serious (read by stated_severe)")
    recommendations: list[str] = Field(default_factory=list,
                                       description="the report's recommendations for it, verbatim")
    grade: Optional[GradeKey] = Field(None, description="judgment only: the grade the report states")
    note: Optional[str] = None

    @model_validator(mode="after")
    def _fits_kind(self) -> "FindingModel":
        if self.kind == "judgment" and self.grade is None:
            raise ValueError("a judgment finding needs the grade the report states, e.g. grade: good")
        if self.kind != "judgment" and self.grade is not None:
            raise ValueError("only a judgment finding has a grade")
        if self.recommendations and self.kind not in RECOMMENDING_KINDS:
            raise ValueError("only a cause of concern or an area of concern has recommendations")
        return self


class SomeFindings(_Strict):
    """Some of an area's findings, where the report's whole list is not at hand (a press release, a letter)."""

    some: list[FindingModel] = Field(description="the findings recorded; the report may state others")


class ModerationModel(_Strict):
    """An inspector's final grade for an area where it differs from the derived one."""

    final: GradeKey = Field(description="the grade published after moderation")
    rationale: str = Field(min_length=1, description="why the final grade differs from the derived one")
    source: str = Field(pattern=SOURCE_RE, description="where the final grade is recorded, e.g. 'report:L12'")
    quote: Optional[str] = None


class Period(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    from_: str = Field(alias="from", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    to: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

    @model_validator(mode="after")
    def _real_dates(self) -> "Period":
        try:
            start, end = dt.date.fromisoformat(self.from_), dt.date.fromisoformat(self.to)
        except ValueError:
            raise ValueError("give real dates, such as 2021-10-01") from None
        if start > end:
            raise ValueError("the period ends before it starts")
        return self




# An estimate given with its standard error has the 95% interval: the half-width is this many standard errors.
SE_TO_CI = COMMON_Z[LEVEL]


class FactModel(_Strict):
    """One fact. Give exactly one of: value; assessment; k and n; estimate with ci (or se) and sample."""

    value: Optional[int | float | bool | str] = Field(
        None, description="count, number, flag, text, date (YYYY-MM-DD) or percent ('85.2%')")
    assessment: Optional[Assessment] = None
    k: Optional[int] = Field(None, ge=0, description="ratio: how many of n")
    n: Optional[int] = Field(None, ge=0, description="ratio: out of how many")
    estimate: Optional[str] = Field(None, pattern=PERCENT_RE, description="estimate: point value, '85.2%'")
    ci: Optional[str] = Field(None, pattern=PERCENT_RE, description="estimate: confidence half-width, '5.1%'")
    se: Optional[str] = Field(None, pattern=PERCENT_RE,
                              description="estimate: standard error, '2.6%', instead of ci (95%: +/- 1.96 se)")
    sample: Optional[int] = Field(None, ge=1, description="estimate: sample size")
    source: str = Field(pattern=SOURCE_RE, description="document key and line, e.g. 'report:L68'")
    quote: Optional[str] = Field(None, description="the words of the source the fact is taken from")
    status: FactStatus = "open"
    note: Optional[str] = None

    @model_validator(mode="after")
    def _one_shape(self) -> "FactModel":
        shapes = [self.value is not None, self.assessment is not None,
                  self.k is not None or self.n is not None,
                  self.estimate is not None or self.ci is not None or self.se is not None
                  or self.sample is not None]
        if sum(shapes) != 1:
            raise ValueError("give exactly one of: value; assessment; k and n; estimate, ci (or se) and sample")
        if shapes[2] and (self.k is None or self.n is None):
            raise ValueError("a ratio needs both k and n")
        if shapes[3] and (self.estimate is None or (self.ci is None) == (self.se is None) or self.sample is None):
            raise ValueError("an estimate needs estimate, sample and one of ci (the half-width) or se (the "
                             "standard error)")
        return self


class BundleModel(_Strict):
    """An evidence bundle: one force, one framework, facts with provenance."""

    model_config = ConfigDict(extra="forbid", strict=True, title="peelrules evidence bundle")
    force: str
    framework: Optional[str] = Field(None, description="id of the rule set's framework, e.g. peel_2021_22; "
                                     "when left out, the framework in force over `period` is used")
    period: Optional[Period] = None
    sources: dict[str, SourceDocument] = Field(description="documents the facts cite, by key")
    areas: dict[str, AreaMark] = Field(default_factory=dict, description="areas without a grade from this "
                                       "bundle, and why")
    findings: dict[str, list[FindingModel] | SomeFindings] = Field(
        default_factory=dict, description="area-level findings per area, as the report states them; an area "
        "listed (even with []) has all its findings recorded, an area not listed has them unknown; "
        "`{some: [...]}` records some findings of an area whose whole list is not at hand")
    moderation: dict[str, ModerationModel] = Field(default_factory=dict,
                                                   description="final grades set by moderation, per area")
    facts: dict[str, FactModel] = Field(default_factory=dict)
    tables: dict[str, TableModel] = Field(default_factory=dict, description="case-level tables (CSV or Parquet "
                                          "files beside the bundle) the rules aggregate, by the name the rules "
                                          "declare them under (docs/tables.md)")
    comparators: dict[str, str] = Field(default_factory=dict, description="comparator datasets (a measure for "
                                        "every force), by measure: the path of a file in the bundle's folder "
                                        "(docs/statistics.md)")

    @model_validator(mode="after")
    def _records_something(self) -> "BundleModel":
        if not {"facts", "findings"} & self.model_fields_set:  # `facts: {}` says "no facts" on purpose
            raise ValueError("the evidence has neither `facts:` nor `findings:`: add the facts, the findings, "
                             "or `facts: {}` to say there are none")
        return self


def evidence_schema() -> dict:
    return BundleModel.model_json_schema(by_alias=True)


# ---------------------------------------------------------------- safe YAML


class _NoImplicit(yaml.SafeLoader):
    """Every plain scalar composes as a string; the loader below decides its JSON type."""

    yaml_implicit_resolvers: dict = {}


class _RefusedByLibyaml(Exception):
    """libyaml refused the text. Its messages are worded otherwise than PyYAML's, which _plain_yaml_problem turns
    into advice, and its scanner looks ahead past our own depth limit (to its own, 1,000): so bad YAML is read
    again by the pure-Python parser, which reports it. Only bad input pays for the second reading."""


if hasattr(yaml, "CSafeLoader"):  # libyaml, where PyYAML was built with it: the same events and nodes, ~10x faster

    class _NoImplicitC(yaml.CSafeLoader):  # type: ignore[name-defined,misc]
        yaml_implicit_resolvers: dict = {}

    YAML_LOADER: type = _NoImplicitC
else:  # pragma: no cover - a PyYAML without libyaml
    YAML_LOADER = _NoImplicit


_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_FLOAT = re.compile(r"^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][-+]?[0-9]{1,3})?$")
_LONG_NUMBER = re.compile(r"^[-+]?[0-9._]+([eE][-+]?[0-9]+)?$")
_STR_TAG = "tag:yaml.org,2002:str"


def _plain_yaml_problem(problem: str) -> tuple[str, str]:
    """The YAML library's problem in words an inspector can act on."""
    if "block end" in problem or "block mapping start" in problem or "mapping values are not allowed" in problem:
        return ("the indentation of this line does not fit the lines around it",
                "line keys up under their parent with spaces (not tabs), two more than the parent")
    if ("expected ',' or '}'" in problem or "expected ',' or ']'" in problem) and "got ':'" in problem:
        return ("text with a colon in it must be in quotes",
                'put the text in double quotes, as in quote: "Contact: calls are answered"')
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        return ("a closing `}` or `]` (or a comma) is missing before this point",
                "close the { ... } or [ ... ] on the line above, or separate items with commas")
    if "found character '\\t'" in problem or "tab" in problem:
        return "a tab character is used for indentation", "indent with spaces"
    if "found unexpected end of stream" in problem or "while scanning a quoted scalar" in problem:
        return "a quoted text is not closed", 'close it with the same quote mark (") it opened with'
    return (f"not valid YAML or JSON ({problem})" if problem else "not valid YAML or JSON",
            "check the indentation and quoting on this line")
_ALLOWED_TAGS = {_STR_TAG, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Loader:
    def __init__(self, src: SourceFile, limits: Limits = DEFAULT_LIMITS):
        self.src = src
        self.limits = limits
        self.positions: dict[KeyPath, Span] = {}
        self.diags: list[Diagnostic] = []

    def span(self, node: yaml.Node) -> Span:
        m, e = node.start_mark, node.end_mark
        end_line = e.line + 1
        end_col = e.column + 1 if e.line == m.line else m.column + 2
        return Span(self.src.name, m.line + 1, m.column + 1, end_line, end_col)

    def fail(self, code: str, message: str, span: Span | None, hint: str | None = None) -> PeelError:
        text = _line_text(self.src, span.line) if span else ""
        return PeelError([Diagnostic(code, message, span, hint, line_text=text)])

    def load(self) -> object:
        try:
            return self.load_with(YAML_LOADER)
        except _RefusedByLibyaml:  # bad YAML: the pure-Python parser says where and why in the words we explain
            return self.load_with(_NoImplicit)

    def load_with(self, parser: type) -> object:
        size = len(self.src.text.encode("utf-8", "surrogatepass"))
        if size > self.limits.max_evidence_bytes:
            raise self.fail(Code.PR404, f"'{one_line(self.src.name)}' is {size} bytes, more than the "
                            f"{self.limits.max_evidence_bytes} an evidence or rule test file may hold", None,
                            "split it into several bundles or case files (docs/limits.md)")
        try:
            depth = 0
            for event in yaml.parse(self.src.text, Loader=parser):
                if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    depth += 1
                    if depth > self.limits.max_evidence_depth:
                        m = event.start_mark
                        raise self.fail(Code.PR404, f"nesting deeper than {self.limits.max_evidence_depth} levels",
                                        Span(self.src.name, m.line + 1, m.column + 1, m.line + 1, m.column + 2),
                                        "flatten the structure (docs/limits.md)")
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    depth -= 1
                anchor = getattr(event, "anchor", None)
                if isinstance(event, yaml.AliasEvent) or anchor:
                    sp = Span(self.src.name, event.start_mark.line + 1, event.start_mark.column + 1,
                              event.start_mark.line + 1, event.start_mark.column + 2)
                    raise self.fail(Code.PR301, "anchors and aliases (& and *) are not allowed in evidence", sp,
                                    "write the value out in full")
            docs = list(yaml.compose_all(self.src.text, Loader=parser))
        except yaml.MarkedYAMLError as err:
            if parser is not _NoImplicit:
                raise _RefusedByLibyaml() from None
            mark = err.problem_mark or err.context_mark
            sp = Span(self.src.name, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2) if mark else None
            message, hint = _plain_yaml_problem(str(err.problem or err.context or ""))
            raise self.fail(Code.PR301, message, sp, hint) from None
        except yaml.reader.ReaderError as err:  # a character YAML refuses (read_source refuses them first)
            if parser is not _NoImplicit:
                raise _RefusedByLibyaml() from None
            line = self.src.text.count("\n", 0, err.position) + 1
            col = err.position - self.src.text.rfind("\n", 0, err.position)
            raise self.fail(Code.PR301, f"character U+{err.character:04X} is not allowed in YAML",
                            Span(self.src.name, line, col, line, col + 1), "remove it") from None
        if len(docs) != 1 or docs[0] is None:
            at = docs[1].start_mark if len(docs) > 1 and docs[1] is not None else None  # the second document
            line, col = (at.line + 1, at.column + 1) if at else (1, 1)
            raise self.fail(Code.PR301, "an evidence file holds exactly one document" if docs else "the file is empty",
                            Span(self.src.name, line, col, line, col + 1),
                            "put one mapping with force, framework, sources, facts")
        return self.build(docs[0], (), 0)

    def check_tag(self, node: yaml.Node, sp: Span) -> None:
        if node.tag not in _ALLOWED_TAGS:
            raise self.fail(Code.PR301, f"tag {quoted(node.tag)} is not allowed in evidence", sp,
                            "remove the tag; evidence holds plain values only")

    def check_characters(self, text: str, sp: Span) -> None:
        """The file itself holds no forbidden character (read_source); a quoted escape such as "\\e" must not
        make one either, nor a carriage return (read_source made every line break \\n)."""
        bad = forbidden_character(text) or re.search("\r", text)
        if bad:
            raise self.fail(Code.PR403, f"invisible or control character U+{ord(bad.group()):04X}, "
                            "written as an escape", sp, "remove the escape: evidence text may not hold control "
                            "or direction-changing characters")

    def build(self, node: yaml.Node, path: KeyPath, depth: int) -> object:
        sp = self.span(node)
        self.positions[path] = sp
        if depth > self.limits.max_evidence_depth:
            raise self.fail(Code.PR404, f"nesting deeper than {self.limits.max_evidence_depth} levels", sp, "flatten the structure")
        self.check_tag(node, sp)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, object] = {}
            for knode, vnode in node.value:
                self.check_tag(knode, self.span(knode))
                if not isinstance(knode, yaml.ScalarNode):
                    raise self.fail(Code.PR303, "a key must be plain text", self.span(knode),
                                    "write the key as plain text, such as calls.abandoned")
                key = knode.value
                self.check_characters(key, self.span(knode))
                if key in out:
                    first = self.positions[path + (key,)]
                    raise self.fail(Code.PR302, f"key {quoted(key)} appears twice", self.span(knode),
                                    f"the first is on line {first.line}; keep one")
                self.positions[path + (key,)] = self.span(knode)
                out[key] = self.build(vnode, path + (key,), depth + 1)
                self.positions[path + (key,)] = self.span(knode)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, path + (i,), depth + 1) for i, v in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        text = node.value
        self.check_characters(text, sp)
        if node.style:  # quoted or a block scalar: always a string (plain is None, or "" from libyaml)
            return text
        if text in ("null", "~", ""):
            return None
        if text in ("true", "false"):
            return text == "true"
        digits = sum(ch.isdigit() for ch in text)
        if digits > self.limits.max_number_digits and _LONG_NUMBER.match(text):
            raise self.fail(Code.PR404, f"number with more than {self.limits.max_number_digits} digits", sp,
                            "no evidence value needs so many digits (docs/limits.md)")
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            value = float(text)
            too_small = value == 0 and re.split("[eE]", text)[0].strip("-0.") != ""
            if not math.isfinite(value) or abs(value) >= 10.0 ** self.limits.max_number_digits or too_small:
                raise self.fail(Code.PR305, f"number {text} is out of range", sp,
                                f"numbers in evidence have at most {self.limits.max_number_digits} digits before "
                                "the point, and are not rounded to zero (docs/limits.md)")
            return value
        return text


# ---------------------------------------------------------------- checking against the rule set


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines())


def _line_text(src: SourceFile, line: int) -> str:
    """src.line_text(line), without splitting a large file again for every message about it."""
    lines = _lines(src.text)
    return lines[line - 1] if 1 <= line <= len(lines) else ""


def _a(type_name: str) -> str:
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def _percent(text: str) -> float:
    from decimal import Decimal

    return float(Decimal(text[:-1]) / 100)


def load_yaml(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> tuple[object, dict[KeyPath, Span]]:
    """Safely load one YAML or JSON document: the data and the position of every key."""
    loader = _Loader(src, limits)
    return loader.load(), loader.positions


def load_bundle(src: SourceFile, program: Program, limits: Limits = DEFAULT_LIMITS,
                engine: str | EngineChoice = "duckdb", *,
                store: ResultStore | None = None) -> Bundle:
    """Load and validate one evidence file against the rule set's declarations."""
    raw, positions = load_yaml(src, limits)
    return bundle_from_data(src, raw, positions, program, limits, engine, store=store)


def table_runner(engine: str | EngineChoice) -> Any:
    """What computes the table aggregates: None for DuckDB (tables.TableEngine), or the Spark runner with the
    choice's master, settings and catalog tables."""
    choice = engine_choice(engine)
    if choice.name == "duckdb":
        return None
    if choice.name == "spark":
        from .spark_engine import SparkOptions, SparkRunner

        return SparkRunner(SparkOptions(master=choice.master, conf=choice.conf), catalog=dict(choice.catalog))
    raise ValueError(f"unknown engine {choice.name!r}; one of {', '.join(ENGINES)}")  # pragma: no cover


def bundle_from_data(src: SourceFile, raw: object, positions: dict[KeyPath, Span], program: Program,
                     limits: Limits = DEFAULT_LIMITS, engine: str | EngineChoice = "duckdb", *,
                     store: ResultStore | None = None, comparators: Mapping[str, Comparator] | None = None) -> Bundle:
    """Validate loaded evidence data; `positions` maps key paths to where they are written in `src`. `engine`
    computes the table aggregates: duckdb, or spark (docs/scale.md), with the same results; an EngineChoice gives
    Spark's master, settings and catalog tables. `store` keeps the
    tables' checks and aggregates between runs (aggregates.load_tables). `comparators`: datasets already read and
    checked, by measure (a rule-test case's), used instead of the bundle's own `comparators:` entry for the
    measure (peers.load_peers)."""
    loader = _Loader(src, limits)
    loader.positions = positions
    unfilled = _unfilled(src, raw, positions)
    if unfilled:
        raise PeelError(unfilled)
    if not isinstance(raw, dict):
        raise loader.fail(Code.PR303, "the evidence must be a mapping with force, framework, sources and facts",
                          loader.positions.get(()), "start the file with `force: ...`")
    try:
        model = BundleModel.model_validate(raw)
    except ValidationError as err:
        diags = []
        for e in err.errors():
            loc = tuple(e["loc"])
            path = loc
            while path and path not in loader.positions:
                path = path[:-1]
            sp = loader.positions.get(path)
            where = quoted(".".join(str(p) for p in loc), mark="") or "(top level)"
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = "unknown key (a typo?)"
            elif e["type"] == "missing":
                msg = "required key is missing"
            elif e["type"] == "string_pattern_mismatch" and loc and loc[-1] == "source":
                msg = "a source is a document key and a line, such as report:L68"
            elif e["type"] == "string_pattern_mismatch" and loc and loc[-1] in ("estimate", "ci", "se"):
                msg = 'write a percentage as text, such as "85.2%"'
            elif e["type"] == "value_error":
                msg = msg.removeprefix("Value error, ")
            diags.append(Diagnostic(Code.PR303, f"{where}: {msg}", sp, _shape_hint(loc),
                                    line_text=_line_text(src, sp.line) if sp else ""))
        raise PeelError(_dedupe(diags)) from None
    diags: list[Diagnostic] = []

    def err(code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        while path and path not in loader.positions:
            path = path[:-1]
        sp = loader.positions.get(path)
        diags.append(Diagnostic(code, message, sp, hint, line_text=_line_text(src, sp.line) if sp else ""))

    fw = program.framework
    if model.framework is not None and model.framework != fw.name:
        err(Code.PR308, f"evidence is for framework {quoted(model.framework)}, the rules are {quoted(fw.name)}",
            ("framework",), "evaluate it with the rule set of its framework")
    elif model.period is not None and not covers(fw, model.period.from_):
        err(Code.PR308, f"the inspection period starts {model.period.from_}, outside framework {quoted(fw.name)} "
            f"(in force {fw.effective_from} to {fw.effective_to or 'now'})", ("period",),
            "grade it with the rule set of the framework in force then, or correct the period")
    elif model.framework is None and model.period is None:
        err(Code.PR308, "the evidence names no framework and no inspection period", (),
            f"add `framework: {fw.name}` or the inspection `period: {{from: ..., to: ...}}`")
    for area in model.areas:
        if program.area(area) is None:
            _unknown_area(err, program, area, ("areas", area))
    if len(model.facts) > limits.max_facts:
        err(Code.PR404, f"{len(model.facts)} facts, more than {limits.max_facts}", ("facts",),
            "split the bundle (docs/limits.md)")
        raise PeelError(diags)
    facts: dict[str, Fact] = {}
    for name, fm in model.facts.items():
        path = ("facts", name)
        decl = program.decls.get(name)
        if decl is None:
            close = difflib.get_close_matches(name, list(program.decls), n=1)
            err(Code.PR304, f"fact {quoted(name)} is not declared by the rule set", path,
                f"did you mean {quoted(close[0])}?" if close else "declare it in an `evidence` block of the rules")
            continue
        doc, _, line = fm.source.partition(":L")
        if doc not in model.sources:
            err(Code.PR309, f"source document {quoted(doc)} is not listed under `sources`", path + ("source",),
                "add it under sources: with its title")
        value, problem = _typed_value(fm, decl)
        if problem:
            err(Code.PR305 if not problem.startswith("out of range") else Code.PR306,
                f"fact {quoted(name)} is declared as {_a(decl.type)}: {problem}", path, _type_example(decl.type))
            continue
        facts[name] = Fact(name, value, decl, doc, int(line), fm.quote, fm.status,
                           loader.positions.get(path, Span(src.name, 0, 0, 0, 0)), fm.note)
    findings: dict[str, tuple[Finding, ...]] = {}
    partial: set[str] = set()
    for area_key, listed in model.findings.items():
        checked = program.area(area_key)
        if checked is None:
            _unknown_area(err, program, area_key, ("findings", area_key))
            continue
        items, at = (listed.some, ("findings", area_key, "some")) if isinstance(listed, SomeFindings) else \
            (listed, ("findings", area_key))
        if isinstance(listed, SomeFindings):
            partial.add(checked.name)
        found = []
        for i, fm in enumerate(items):
            path = at + (i,)
            doc, _, line = fm.source.partition(":L")
            if doc not in model.sources:
                err(Code.PR309, f"source document {quoted(doc)} is not listed under `sources`", path + ("source",),
                    "add it under sources: with its title")
                continue
            document = model.sources[doc]
            problem = _check_quote(src, document, int(line), fm.quote)
            if problem:
                where = "quote" if problem.startswith("the quote") else "source"
                err(Code.PR310, f"{area_key} finding {i + 1}: {problem}", path + (where,), _QUOTE_HINT
                    if where == "quote" else "check the line number in `source`")
            for j, rec in enumerate(fm.recommendations):
                if not _in_document(src, document, rec):
                    err(Code.PR310, f"{area_key} finding {i + 1}: recommendation {j + 1} is not in {document.file}",
                        path + ("recommendations", j), "copy the recommendation verbatim from the report")
            found.append(Finding(fm.kind, fm.text, doc, int(line), fm.quote, fm.severe, tuple(fm.recommendations),
                                 fm.grade, loader.positions.get(path, Span(src.name, 0, 0, 0, 0)), fm.note))
        findings[checked.name] = tuple(found)
    moderation: dict[str, Moderation] = {}
    for area_key, mm in model.moderation.items():
        checked = program.area(area_key)
        path = ("moderation", area_key)
        if checked is None:
            _unknown_area(err, program, area_key, path)
            continue
        doc, _, line = mm.source.partition(":L")
        if doc not in model.sources:
            err(Code.PR309, f"source document {quoted(doc)} is not listed under `sources`", path + ("source",),
                "add it under sources: with its title")
            continue
        problem = _check_quote(src, model.sources[doc], int(line), mm.quote)
        if problem:
            err(Code.PR310, f"moderation of {area_key}: {problem}", path, _QUOTE_HINT)
        moderation[checked.name] = Moderation(mm.final, mm.rationale, doc, int(line), mm.quote,
                                              loader.positions.get(path, Span(src.name, 0, 0, 0, 0)))
    for name, fact in facts.items():
        quote_problem = _check_quote(src, model.sources.get(fact.document), fact.line, fact.quote)
        if quote_problem:
            where = "quote" if quote_problem.startswith("the quote") else "source"
            err(Code.PR310, f"fact {quoted(name)}: {quote_problem}", ("facts", name, where),
                _QUOTE_HINT if where == "quote" else "check the line number in `source`")
    runner = table_runner(engine) if model.tables or engine_choice(engine).catalog else None
    tables, aggregates = load_tables(src, model.tables, program, err, diags.append, limits, runner, store)
    for name, table in tables.items():
        for f in table.files:
            _read(("table", table.folder, f.file, f.sha256))
        if re.search(r"[*?\[]", model.tables[name].file):  # a glob: the files it matches, too
            _read(("glob", table.folder, model.tables[name].file, *(f.file for f in table.files)))
    peers = load_peers(src, model.comparators, program, model.force, err, _comparator_reader(limits), diags.append,
                       comparators)
    set_aside: list[str] = []
    marked = {program.area(k).name for k in model.areas if program.area(k) is not None}  # type: ignore[union-attr]
    if marked:  # facts only an uninspected area reads are not findings: set them aside, unknown everywhere
        by_area = program.area_facts()
        for area in marked:
            others = frozenset().union(*(f for a, f in by_area.items() if a != area))
            set_aside += sorted((by_area[area] - others) & facts.keys())
        for name in set_aside:
            del facts[name]
    if diags:
        raise PeelError(diags)
    areas = dict(model.areas)
    optional = [a.name for a in program.areas if a.area.optional]
    read = program.area_facts() if optional else {}
    for area in optional:  # an optional area this report records nothing for was not inspected in it
        if not _named(program, area, (areas, model.findings, model.moderation)) and not read[area] & facts.keys():
            areas[area] = AreaMark(status="not_inspected",
                                        note="this report records no evidence for this area (optional in the rules)")
    period = (model.period.from_, model.period.to) if model.period else None
    marks = {(program.area(k).name if program.area(k) else k): v.note for k, v in areas.items()}  # type: ignore[union-attr]
    digest = src.sha256 or hashlib.sha256(src.text.encode("utf-8")).hexdigest()
    unchecked = tuple(sorted(k for k, d in model.sources.items() if d.file and _document_lines(src, d) is None))
    status = {(program.area(k).name if program.area(k) else k): v.status for k, v in areas.items()}  # type: ignore[union-attr]
    documents = {k: Document(d.title, d.file, d.url, d.kind) for k, d in model.sources.items()}  # no pydantic
    return Bundle(src.name, digest, model.force, model.framework or fw.name,
                  period, documents, marks, dict(sorted(facts.items())), unchecked,
                  tuple(sorted(set_aside)), dict(sorted(findings.items())), dict(sorted(status.items())),
                  dict(sorted(moderation.items())), frozenset(partial), tables, aggregates, peers)


def _comparator_reader(limits: Limits) -> Callable[[Path], tuple[SourceFile, object, dict]]:
    """Reads a comparator file for peers.load_peers with the evidence files' own safe loader."""
    def read(path: Path) -> tuple[SourceFile, object, dict]:
        csrc = read_source(path, None, limits)
        _read(("file", str(path), csrc.sha256))  # read from disk: the digest of its bytes
        raw, positions = load_yaml(csrc, limits)
        return csrc, raw, positions
    return read


def _named(program: Program, area: str, sections: tuple[dict, ...]) -> bool:
    """Whether any of the bundle's sections names `area` (by name or alias)."""
    return any(getattr(program.area(k), "name", None) == area for section in sections for k in section)


# resolved path -> (its lines, or None when it is not a file; the sha256 of the bytes read, "" when there is no
# file, None when it could not be read as text)
_DOCUMENT_LINES: dict[str, tuple[list[str] | None, str | None]] = {}
# The files a load reads, for the disk cache of validated bundles (peelrules.cache): set by recording_reads.
_READS: contextvars.ContextVar[list[tuple[str, ...]] | None] = contextvars.ContextVar("peel_reads", default=None)


@contextlib.contextmanager
def recording_reads() -> Iterator[list[tuple[str, ...]]]:
    """The files that loads inside the block read, as the cache lists them: ("file", path, sha256 or "" for none),
    ("table", folder, file, sha256), ("glob", folder, pattern, match...), ("unreadable", path) for a document that
    could not be read (a bundle that depends on one is not cached)."""
    reads: list[tuple[str, ...]] = []
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def _read(entry: tuple[str, ...]) -> None:
    reads = _READS.get()
    if reads is not None and entry not in reads:
        reads.append(entry)


def _document_lines(evidence: SourceFile, doc: SourceDocument | Document | None) -> list[str] | None:
    """The lines of a cited document when its `file` exists beside the evidence file, else None."""
    if doc is None or not doc.file:
        return None
    path = Path(evidence.name).parent / doc.file
    try:
        key = str(path.resolve())
        if key not in _DOCUMENT_LINES:
            if path.is_file():
                read = read_source(path)
                _DOCUMENT_LINES[key] = (read.text.splitlines(), read.sha256)
            else:
                _DOCUMENT_LINES[key] = (None, "")
    except ChangedWhileRead:  # part of the document: checking quotes against it would prove nothing
        raise
    except PeelError:
        _DOCUMENT_LINES[key] = (None, None)
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL in it, a symlink loop
        _read(("unreadable", str(path)))
        return None
    lines, sha = _DOCUMENT_LINES[key]
    _read(("file", str(path), sha) if sha is not None else ("unreadable", str(path)))
    return lines


_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})


def _normal(text: str) -> str:
    """Whitespace collapsed and typographic quotes made plain, so a quote typed on a keyboard matches."""
    return " ".join(text.translate(_TYPOGRAPHIC).split())


_QUOTE_HINT = "copy the words exactly as they stand on that line of the document (\"...\" may join parts)"


def _unknown_area(err, program: Program, area: str, path: KeyPath) -> None:  # type: ignore[no-untyped-def]
    names = [a.name for a in program.areas]
    close = difflib.get_close_matches(area, names, n=1)
    err(Code.PR307, f"unknown area {quoted(area)}", path,
        f"did you mean {quoted(close[0])}?" if close else "areas are: " + ", ".join(names))


def _in_document(evidence: SourceFile, doc: SourceDocument, text: str) -> bool:
    """Whether text stands in the document (anywhere, lines joined); True when the document is not at hand."""
    lines = _document_lines(evidence, doc)
    if lines is None:
        return True
    return _normal(text) in _normal(" ".join(lines))


def _check_quote(evidence: SourceFile, doc: SourceDocument | None, at: int, quote: str | None) -> str | None:
    """Where the cited document is at hand, its line must exist and hold the quote (parts joined by ...)."""
    lines = _document_lines(evidence, doc)
    if lines is None:
        return None
    if not 1 <= at <= len(lines):
        return f"the document has {len(lines)} lines; there is no line {at}"
    if not quote:
        return None
    line = _normal(lines[at - 1])
    pos = 0
    for part in re.split(r"\.\.\.|…", quote):
        part = _normal(part)
        if not part:
            continue
        found = line.find(part, pos)
        if found < 0:
            return f"the quote is not on line {at} of {doc.file}: {quoted(part, 60)}"  # type: ignore[union-attr]
        pos = found + len(part)
    return None


def _unfilled(src: SourceFile, raw: object, positions: dict[KeyPath, Span]) -> list[Diagnostic]:
    """Template placeholders left as null: name each one, so an inspector sees what is still to do."""
    if not isinstance(raw, dict):
        return []
    out = []

    def add(path: KeyPath, what: str, hint: str) -> None:
        sp = positions.get(path)
        out.append(Diagnostic(Code.PR312, f"{what} is not filled in", sp, hint,
                              line_text=_line_text(src, sp.line) if sp else ""))

    for key in ("force", "framework"):
        if key in raw and raw[key] is None:
            add((key,), f"`{key}`", "give it a value")
    for doc, body in (raw.get("sources") or {}).items() if isinstance(raw.get("sources"), dict) else ():
        if isinstance(body, dict) and body.get("title") is None and "title" in body:
            add(("sources", doc, "title"), f"the title of source {quoted(doc)}", "give the document's title")
    period = raw.get("period")
    if isinstance(period, dict) and any(v is None for v in period.values()):
        add(("period",), "`period`", 'give dates such as {from: "2021-10-01", to: "2022-05-31"}, or delete it')
    facts = raw.get("facts")
    if isinstance(facts, dict):
        for name, body in facts.items():
            if isinstance(body, dict) and body and all(v is None for v in body.values()):
                add(("facts", name), f"fact {quoted(name)}",
                    "give its value and source, or delete it: a missing fact counts as unknown")
    return out


def _typed_value(fm: FactModel, decl: EvidenceDecl) -> tuple[Value, str | None]:
    t = decl.type
    v = fm.value
    if t == "comparator":  # the peers' values come from a file: comparators: {measure: path} (docs/statistics.md)
        return None, "a comparator is not a fact: give its file under `comparators:`"  # type: ignore[return-value]
    if t == "assessment":
        if fm.assessment is None:
            return None, "give `assessment: met` (or partly_met, not_met, exceeded)"  # type: ignore[return-value]
        return fm.assessment, None
    if t == "ratio":
        if fm.k is None or fm.n is None:
            return None, "give k and n, as in `k: 86, n: 90`"  # type: ignore[return-value]
        if fm.k > fm.n:
            return None, f"out of range: k ({fm.k}) is larger than n ({fm.n})"  # type: ignore[return-value]
        return Ratio(fm.k, fm.n), None
    if t == "estimate":
        if fm.estimate is None or (fm.ci is None) == (fm.se is None) or fm.sample is None:
            return None, "give estimate, sample and one of ci or se"  # type: ignore[return-value]
        if fm.se is not None and _percent(fm.se) > 1:
            return None, "out of range: a standard error (se) lies between 0% and 100%"  # type: ignore
        # a standard error stands for the 95% interval the inspectorate states: +/- 1.96 se, settled
        half = _percent(fm.ci) if fm.ci is not None else settle(SE_TO_CI * _percent(fm.se))  # type: ignore[arg-type]
        est = Estimate(_percent(fm.estimate), half, fm.sample)
        if not 0 <= est.value <= 1:
            return None, "out of range: an estimate lies between 0% and 100%"  # type: ignore[return-value]
        if est.ci > 1:
            return None, "out of range: a confidence half-width (ci) lies between 0% and 100%"  # type: ignore
        return est, None
    if v is None:
        return None, "give `value: ...`"  # type: ignore[return-value]
    if t == "count":
        if not isinstance(v, int) or isinstance(v, bool):
            return None, f"a count is a whole number, not {quoted(v)}"  # type: ignore[return-value]
        if v < 0:
            return None, "out of range: a count cannot be negative"  # type: ignore[return-value]
        return _ranged(v, decl)
    if t == "number":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return None, f"expected a number, not {quoted(v)}"  # type: ignore[return-value]
        return _ranged(v, decl)
    if t == "percent":
        if not isinstance(v, str) or not re.match(PERCENT_RE, v):
            return None, f"write a percentage as text such as '29%', not {quoted(v)}"  # type: ignore[return-value]
        p = _percent(v)
        if p > 1:
            return None, "out of range: a percentage lies between 0% and 100%"  # type: ignore[return-value]
        return _ranged(p, decl)
    if t == "flag":
        if not isinstance(v, bool):
            return None, f"a flag is true or false, not {quoted(v)}"  # type: ignore[return-value]
        return v, None
    if t == "text":
        if not isinstance(v, str):
            return None, f"expected text, not {quoted(v)}"  # type: ignore[return-value]
        return v, None
    if t == "date":
        if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return None, f"a date is written 2022-05-31, not {quoted(v)}"  # type: ignore[return-value]
        try:
            dt.date.fromisoformat(v)
        except ValueError:
            return None, f"{v} is not a real date"  # type: ignore[return-value]
        return v, None
    return None, f"unsupported type {t}"  # type: ignore[return-value]


def _ranged(v: int | float, decl: EvidenceDecl) -> tuple[Value, str | None]:
    if decl.range_lo is not None and v < decl.range_lo or decl.range_hi is not None and v > decl.range_hi:
        show = (lambda x: f"{x * 100:g}%") if decl.type == "percent" else (lambda x: f"{x:g}")
        lo = show(decl.range_lo) if decl.range_lo is not None else "any"
        hi = show(decl.range_hi) if decl.range_hi is not None else "any"
        return None, f"out of range: {show(v)} is outside the declared range {lo} to {hi}"  # type: ignore
    return v, None


def _type_example(t: str) -> str:
    return {
        "count": "e.g. `{value: 90, source: \"report:L27\"}`",
        "number": "e.g. `{value: 12.5, source: \"report:L10\"}`",
        "percent": "e.g. `{value: \"29%\", source: \"report:L85\"}`",
        "ratio": "e.g. `{k: 86, n: 90, source: \"report:L109\"}`",
        "estimate": "e.g. `{estimate: \"85.2%\", ci: \"5.1%\", sample: 183, source: \"report:L68\"}`",
        "flag": "e.g. `{value: true, source: \"report:L12\"}`",
        "text": "e.g. `{value: \"...\", source: \"report:L12\"}`",
        "date": "e.g. `{value: \"2022-05-31\", source: \"report:L12\"}`",
        "assessment": "e.g. `{assessment: not_met, source: \"report:L47\", quote: \"...\"}`",
        "comparator": "remove it from facts: and name its file under comparators:, e.g. "
                      "`comparators: {dvpo_applications_per_1000_da_offences: comparators/dvpo-2021.yaml}`",
    }.get(t, "see docs/evidence.md")


def _shape_hint(loc: tuple) -> str:
    if len(loc) == 1:
        return f"add `{loc[0]}:` at the top level of the bundle (see docs/evidence.md)"
    if loc and loc[0] == "facts":
        return "a fact is a mapping with source and one of value / assessment / k,n / estimate,ci,sample"
    return "see docs/evidence.md for the layout of a bundle"


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen, out = set(), []
    for d in diags:
        key = (d.message, d.span)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
