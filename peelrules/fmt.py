"""`peel fmt`: one canonical layout for rule files, with every comment kept where it was.

format_source parses a file, rebuilds its text from the AST (expressions through unparse) and puts each
comment back beside the statement or clause that held it, using the spans lower.py records (`extent`,
`clauses`, `block`). Layout rules:

* two-space indentation; one blank line between top-level items and between rules; a blank line the author
  left between two statements of a block is kept (at most one);
* areas list question, aliases, ungraded / grade by first, then local ladders, lets and rules in their written
  order; rules list when, exceeded when, cite, recommendation, severe; ladder rungs keep their order (it is
  meaning: the first rung that holds gives the grade);
* evidence names are padded so the types line up, ladder grades so `when` lines up;
* a line longer than WIDTH is wrapped at its top-level `and` / `or` with a four-space continuation indent, and
  long quoted texts are split into adjacent strings at word boundaries;
* an own-line comment goes before the statement or clause that follows it (or before the block's closing
  `}`, or at the end of the file); a comment after code stays at the end of the formatted line that held it.

The result is checked before it is returned: it must parse to the same AST with the same comments, or
FormatError is raised and nothing should be written.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from . import nodes as n
from .diagnostics import Code, Diagnostic, PeelError
from .loader import read_source
from .lower import number_value, parse_source, percent_value
from .source import SourceFile, Span
from .unparse import format_number, unparse

WIDTH = 100
INDENT = 2
CONTINUATION = 4

Pos = tuple[int, int]  # (line, column), both 1-based
Region = tuple[Pos, Pos]  # start inclusive, end exclusive


class FormatError(Exception):
    """The formatter would have changed the meaning of a file or lost a comment (a bug in the formatter)."""


# ---------------------------------------------------------------- public API


def format_source(src: SourceFile) -> str:
    """The canonical text of one rule file. Raises PeelError on a syntax error, FormatError on a formatter bug."""
    module = parse_source(src)
    scan = _scan(src.text)
    tops = _Builder(scan).module(module)
    eof: list[_Comment] = []
    for comment in scan.comments:
        _attach_top(tops, comment, eof)
    text = _render(tops, eof)
    _verify(src, module, scan.comments, text)
    return text


def comment_texts(text: str) -> list[str]:
    """Every comment of a rule file (from `#` to the end of its line, trailing spaces dropped), in order."""
    return [c.text for c in _scan(text).comments]


@dataclass(frozen=True)
class Formatted:
    """One file before and after formatting."""

    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def peel_files(paths: Sequence[Path]) -> list[Path]:
    """The files given, and every *.peel file under the folders given (sorted); unknown paths are errors."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.peel")
                            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                problems.append(Diagnostic(Code.PR402, f"no .peel files in '{path}'", None,
                                           "give a rule file or a folder of rule files"))
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            problems.append(Diagnostic(Code.PR401, f"cannot read '{path}': no such file or folder", None,
                                       "check the path"))
    if problems:
        raise PeelError(problems)
    return list(dict.fromkeys(found))


def format_paths(paths: Sequence[Path]) -> list[Formatted]:
    """Format every rule file of paths (nothing is written); every file's errors are raised together."""
    results: list[Formatted] = []
    problems: list[Diagnostic] = []
    for path in peel_files(paths):
        try:
            src = read_source(path)
            results.append(Formatted(path, src.text, format_source(src)))
        except PeelError as err:
            problems.extend(err.diagnostics)
    if problems:
        raise PeelError(problems)
    return results


def unified_diff(result: Formatted) -> str:
    """A unified diff (as `diff -u` and `patch` read it) from the file as it is to the file as formatted."""
    lines = difflib.unified_diff(result.before.splitlines(keepends=True), result.after.splitlines(keepends=True),
                                 fromfile=str(result.path), tofile=str(result.path),
                                 fromfiledate="(original)", tofiledate="(formatted)")
    return "".join(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines)


# ---------------------------------------------------------------- scanning comments


@dataclass(frozen=True)
class _Comment:
    line: int
    text: str
    own_line: bool
    anchor: Pos  # own line: where `#` is; after code: the last code character before it
    blank_before: bool  # the line above is blank


@dataclass(frozen=True)
class _Scan:
    lines: list[str]
    code: list[str]  # each line with quoted text blanked to `_` and comments to spaces (columns kept)
    comments: list[_Comment]


def _scan(text: str) -> _Scan:
    lines = text.split("\n")
    code: list[str] = []
    comments: list[_Comment] = []
    for row, line in enumerate(lines, start=1):
        masked, hash_at = _mask_line(line)
        code.append(masked)
        if hash_at is None:
            continue
        before = masked[:hash_at].rstrip()
        own = before.strip() == ""
        anchor = (row, hash_at + 1) if own else (row, len(before))
        blank = own and row > 1 and lines[row - 2].strip() == ""
        comments.append(_Comment(row, line[hash_at:].rstrip(), own, anchor, blank))
    return _Scan(lines, code, comments)


def _mask_line(line: str) -> tuple[str, int | None]:
    """The line with quoted text blanked, and the index of its comment's `#` (None if it has none)."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_string:
            if ch == "\\" and i + 1 < len(line):
                out.append("__")
                i += 2
                continue
            in_string = ch != '"'
            out.append('"' if ch == '"' else "_")
        elif ch == '"':
            in_string = True
            out.append('"')
        elif ch == "#":
            out.append(" " * (len(line) - i))
            return "".join(out), i
        else:
            out.append(ch)
        i += 1
    return "".join(out), None


# ---------------------------------------------------------------- the layout tree


@dataclass
class _Node:
    """A statement or clause (one or more output lines), or a block (header, statements, closing `}`)."""

    kind: str
    regions: list[Region]  # where it was written (several when repeated clauses merge into one)
    lines: list[str]  # code lines with their indentation; for a block, the header ending in `{`
    indent: int
    children: list["_Node"] | None = None
    body: Pos | None = None  # a block's `{`
    blank: bool = False  # the author left a blank line before it
    leading: list[tuple[bool, str]] = field(default_factory=list)  # own-line comments before it
    trailing: dict[int, str] = field(default_factory=dict)  # line index -> comment after the code
    closing_leading: list[tuple[bool, str]] = field(default_factory=list)
    closing_trailing: str | None = None

    def holds(self, p: Pos) -> Region | None:
        return next((r for r in self.regions if r[0] <= p < r[1]), None)

    @property
    def closing(self) -> Pos:
        end = self.regions[0][1]
        return (end[0], end[1] - 1)


def _region(span: Span) -> Region:
    return ((span.line, span.column), (span.end_line, span.end_column))


def _pad(indent: int) -> str:
    return " " * indent


def _quote(text: str) -> str:
    return unparse(n.String(text))


class _Builder:
    """AST -> layout tree; the source scan supplies blank lines, `{` positions and written range bounds."""

    def __init__(self, scan: _Scan):
        self.scan = scan

    def node(self, kind: str, spans: Iterable[Span], lines: list[str], indent: int,
             children: list[_Node] | None = None) -> _Node:
        regions = sorted(_region(s) for s in spans)
        node = _Node(kind, regions, lines, indent, children, blank=self.blank_above(regions[0][0]))
        if children is not None:
            node.body = self.brace_after(regions[0][0])
        return node

    def blank_above(self, start: Pos) -> bool:
        """The statement starting at `start` begins its line, and the line above is blank."""
        line, column = start
        begins = self.scan.code[line - 1][:column - 1].strip() == ""
        return begins and line > 1 and self.scan.lines[line - 2].strip() == ""

    def brace_after(self, start: Pos) -> Pos:
        row, col = start
        while row <= len(self.scan.code):
            at = self.scan.code[row - 1].find("{", col - 1)
            if at >= 0:
                return (row, at + 1)
            row, col = row + 1, 1
        raise FormatError(f"no `{{` after line {start[0]}")  # pragma: no cover - the file parsed

    # ------------------------------------------------------------ top level
    def module(self, module: n.Module) -> list[_Node]:
        out: list[_Node] = []
        items = list(module.items)
        i = 0
        while i < len(items):
            item = items[i]
            if isinstance(item, n.EvidenceDecl):
                j = i
                while j < len(items) and isinstance(items[j], n.EvidenceDecl) and items[j].block == item.block:
                    j += 1
                out.append(self.evidence_block([d for d in items[i:j] if isinstance(d, n.EvidenceDecl)]))
                i = j
                continue
            out.append(self.item(item, 0))
            i += 1
        return out

    def item(self, item: n.Item, indent: int) -> _Node:
        if isinstance(item, n.Framework):
            return self.framework(item)
        if isinstance(item, n.Let):
            return self.let(item, indent)
        if isinstance(item, n.Ladder):
            return self.ladder(item, indent)
        if isinstance(item, n.Area):
            return self.area(item)
        raise TypeError(f"cannot format {item!r}")  # pragma: no cover

    def framework(self, fw: n.Framework) -> _Node:
        inner = INDENT
        header = _text_lines(f"framework {fw.name}", fw.title, " {", 0, move=True)
        spans = _clause_spans(fw.clauses, {"fw_version": "version", "fw_effective": "effective",
                                           "fw_effective_range": "effective", "fw_publisher": "publisher",
                                           "fw_interval": "interval", "fw_small_sample": "small_sample"})
        children = []
        if fw.version is not None:
            children.append(self.node("version", spans["version"], _text_lines("version", fw.version, "", inner),
                                      inner))
        if fw.effective_from is not None:
            dates = fw.effective_from + (f" to {fw.effective_to}" if fw.effective_to is not None else "")
            children.append(self.node("effective", spans["effective"], [f"{_pad(inner)}effective {dates}"], inner))
        if fw.publisher is not None:
            children.append(self.node("publisher", spans["publisher"],
                                      _text_lines("publisher", fw.publisher, "", inner), inner))
        if fw.interval is not None:
            children.append(self.node("interval", spans["interval"], [f"{_pad(inner)}interval {fw.interval}"], inner))
        if fw.small_sample_below is not None:
            children.append(self.node("small_sample", spans["small_sample"],
                                      [f"{_pad(inner)}small_sample below {fw.small_sample_below}"], inner))
        return self.node("framework", [fw.extent], header, 0, children)

    def evidence_block(self, decls: list[n.EvidenceDecl]) -> _Node:
        prefix = decls[0].name.split(".", 1)[0]
        children = []
        for section in self.sections(decls):
            width = max(len(d.name.split(".", 1)[1]) + 1 for d in section)
            children += [self.table(d, width) if d.columns else
                         self.node("decl", [d.extent], self.decl_lines(d, width, INDENT), INDENT) for d in section]
        return self.node("evidence", [decls[0].block], [f"evidence {prefix} {{"], 0, children)

    def table(self, d: n.EvidenceDecl, width: int) -> _Node:
        """A table's declaration: a block of its columns, one a line, names padded as evidence names are."""
        inner = INDENT + INDENT
        header = self.decl_lines(d, width, INDENT)
        header[-1] += " {"
        pad = max(len(c.name) + 1 for c in d.columns)
        columns = [self.node("column", [c.extent], [f"{_pad(inner)}{c.name + ':':<{pad}} {c.type}"
                                                    + (f" unit {_quote(c.unit)}" if c.unit is not None else "")],
                             inner) for c in d.columns]
        return self.node("table", [d.extent], header, INDENT, columns)

    def sections(self, decls: list[n.EvidenceDecl]) -> list[list[n.EvidenceDecl]]:
        """Runs of declarations with no blank line between them: each run is aligned on its own (as gofmt)."""
        runs: list[list[n.EvidenceDecl]] = [[decls[0]]]
        for before, decl in zip(decls, decls[1:]):
            gap = self.scan.lines[before.extent.end_line:decl.extent.line - 1]
            if any(line.strip() == "" for line in gap):
                runs.append([])
            runs[-1].append(decl)
        return runs

    def decl_lines(self, d: n.EvidenceDecl, width: int, indent: int) -> list[str]:
        short = d.name.split(".", 1)[1]
        options = ""
        if d.range_lo is not None and d.range_hi is not None:
            lo, hi = self.written_range(d)
            options += f" range {lo} to {hi}"
        if d.unit is not None:
            options += f" unit {_quote(d.unit)}"
        if d.context_only:
            options += " context only"
        if d.measure is not None:
            options += f" measure {d.measure}"
        return _text_lines(f"{short + ':':<{width}} {d.type}", d.description, options, indent, move=True)

    def written_range(self, d: n.EvidenceDecl) -> tuple[str, str]:
        """The range bounds as written (`0%`, `1.50`), which the AST keeps only as floats."""
        assert d.range_lo is not None and d.range_hi is not None
        fallback = (format_number(d.range_lo), format_number(d.range_hi))
        (l1, c1), (l2, c2) = _region(d.extent)
        rows = self.scan.code[l1 - 1:l2]
        text = "\n".join(rows)
        text = text[:len(text) - len(rows[-1]) + c2 - 1][c1 - 1:]
        found = _RANGE.findall(text)
        if not found:
            return fallback  # pragma: no cover - a range is always written
        neg_lo, lo, neg_hi, hi = found[-1]
        written = (neg_lo + lo, neg_hi + hi)
        if (_signed_value(written[0]), _signed_value(written[1])) != (d.range_lo, d.range_hi):
            return fallback  # pragma: no cover - defensive
        return written

    def let(self, let: n.Let, indent: int) -> _Node:
        return self.node("let", [let.extent], _expr_lines(f"let {let.name} =", let.expr, indent), indent)

    def ladder(self, ladder: n.Ladder, indent: int) -> _Node:
        inner = indent + INDENT
        width = max((len(r.grade) for r in ladder.rungs), default=0)
        rungs = [self.node("rung", [r.extent], self.rung_lines(r, width, inner), inner) for r in ladder.rungs]
        return self.node("ladder", [ladder.extent], [f"{_pad(indent)}ladder {ladder.name} {{"], indent, rungs)

    def rung_lines(self, rung: n.Rung, width: int, indent: int) -> list[str]:
        grade = f"{rung.grade:<{width}}"
        if rung.condition is None:
            return [f"{_pad(indent)}{grade} otherwise"]
        return _expr_lines(f"{grade} when", rung.condition, indent)

    # ------------------------------------------------------------ areas and rules
    def area(self, area: n.Area) -> _Node:
        inner = INDENT
        spans = _clause_spans(area.clauses, {"area_question": "question", "area_aliases": "aliases",
                                             "area_ungraded": "ungraded", "area_optional": "optional",
                                             "area_grade_by": "grade_by"})
        children: list[_Node] = []
        if area.question is not None:
            children.append(self.node("question", spans["question"],
                                      _text_lines("question", area.question, "", inner), inner))
        if area.aliases:
            children.append(self.node("aliases", spans["aliases"], _alias_lines(area.aliases, inner), inner))
        if area.ungraded:
            children.append(self.node("ungraded", spans["ungraded"], [f"{_pad(inner)}ungraded"], inner))
        if area.optional:
            children.append(self.node("optional", spans["optional"], [f"{_pad(inner)}optional"], inner))
        if area.grade_by is not None:
            children.append(self.node("grade_by", spans["grade_by"], [f"{_pad(inner)}grade by {area.grade_by}"],
                                      inner))
        members: list[n.Ladder | n.Let | n.Rule] = [*area.ladders, *area.lets, *area.rules]
        for member in sorted(members, key=lambda m: (m.extent.line, m.extent.column)):
            if isinstance(member, n.Rule):
                children.append(self.rule(member, inner))
            else:
                children.append(self.item(member, inner))
        header = _text_lines(f"area {area.name}", area.title, " {", 0, move=True)
        return self.node("area", [area.extent], header, 0, children)

    def rule(self, rule: n.Rule, indent: int) -> _Node:
        inner = indent + INDENT
        spans = _clause_spans(rule.clauses, {"rule_when": "when", "rule_exceeded_when": "exceeded",
                                             "rule_cite": "cite", "rule_recommendation": "recommendation",
                                             "rule_severe": "severe"})
        children: list[_Node] = []
        if rule.when is not None:
            children.append(self.node("when", spans["when"], _expr_lines("when", rule.when, inner), inner))
        if rule.exceeded_when is not None:
            children.append(self.node("exceeded", spans["exceeded"],
                                      _expr_lines("exceeded when", rule.exceeded_when, inner), inner))
        if rule.cite is not None:
            children.append(self.node("cite", spans["cite"], _text_lines("cite", rule.cite, "", inner), inner))
        if rule.recommendation is not None:
            children.append(self.node("recommendation", spans["recommendation"],
                                      _text_lines("recommendation", rule.recommendation, "", inner), inner))
        if rule.severe:
            children.append(self.node("severe", spans["severe"], [f"{_pad(inner)}severe"], inner))
        header = _text_lines(f"{rule.kind} {rule.name}", rule.title, " {", indent, move=True)
        return self.node("rule", [rule.extent], header, indent, children)


def _clause_spans(clauses: Iterable[tuple[str, Span]], names: dict[str, str]) -> dict[str, list[Span]]:
    """Clause spans grouped under the canonical clause they merge into."""
    out: dict[str, list[Span]] = {}
    for kind, span in clauses:
        out.setdefault(names[kind], []).append(span)
    return out


_RANGE = re.compile(r"\brange\s+(-?)\s*(\d+(?:\.\d+)?%?)\s+to\s+(-?)\s*(\d+(?:\.\d+)?%?)")


def _signed_value(text: str) -> float:
    neg = text.startswith("-")
    digits = text.lstrip("-")
    value = percent_value(digits[:-1]) if digits.endswith("%") else float(number_value(digits))
    return -value if neg else value


# ---------------------------------------------------------------- line layout


def _expr_lines(head: str, e: n.Expr, indent: int) -> list[str]:
    """`head expr`, wrapped at the top-level `and` / `or` when longer than WIDTH."""
    one = f"{_pad(indent)}{head} {unparse(e)}"
    chain = operator_chain(e)
    if len(one) <= WIDTH or chain is None:
        return [one]
    op, operands = chain
    cont = _pad(indent + CONTINUATION)
    return [f"{_pad(indent)}{head} {operands[0]}"] + [f"{cont}{op} {text}" for text in operands[1:]]


_BOOL_PREC = {"or": 1, "and": 2}


def operator_chain(e: n.Expr) -> tuple[str, list[str]] | None:
    """A top-level `a and b and c` (or `or`) as its operator and operand texts; None for anything else.

    " {op} ".join(operands) is exactly unparse(e).
    """
    if not (isinstance(e, n.Binary) and e.op in _BOOL_PREC):
        return None
    op = e.op
    rights: list[n.Expr] = []
    left: n.Expr = e
    while isinstance(left, n.Binary) and left.op == op:
        rights.append(left.right)
        left = left.left
    operands = [_operand_text(left, op, right=False)]
    operands += [_operand_text(r, op, right=True) for r in reversed(rights)]
    return op, operands


def _operand_text(e: n.Expr, op: str, right: bool) -> str:
    text = unparse(e)
    if isinstance(e, n.Binary) and e.op in _BOOL_PREC:
        mine, parent = _BOOL_PREC[e.op], _BOOL_PREC[op]
        if mine < parent or (right and mine == parent) or (op == "or" and e.op == "and"):
            return f"({text})"  # the last case as unparse writes it: `a or (b and c)`
    return text


def _text_lines(head: str, text: str, tail: str, indent: int, move: bool = False) -> list[str]:
    """`head "text"tail`; a long text moves to its own line (move) and is split into adjacent strings."""
    pad, cont = _pad(indent), _pad(indent + CONTINUATION)
    quoted = _quote(text)
    one = f"{pad}{head} {quoted}{tail}"
    if len(one) <= WIDTH:
        return [one]
    if move and len(cont + quoted + tail) <= WIDTH:
        return [pad + head, cont + quoted + tail]
    first = f"{pad}{head} "
    first_width = WIDTH - len(cont) if move else WIDTH - len(first)
    chunks = _split_text(text, first_width, WIDTH - len(cont), len(tail))
    if move:
        lines = [pad + head] + [cont + _quote(c) for c in chunks]
    else:
        lines = [first + _quote(chunks[0])] + [cont + _quote(c) for c in chunks[1:]]
    lines[-1] += tail
    return lines


def _split_text(text: str, first_width: int, rest_width: int, tail: int) -> list[str]:
    """Text cut at word boundaries (spaces stay at the end of a piece) so each quoted piece fits its width."""
    words = re.findall(r"\S+\s*|\s+", text) or [""]
    chunks: list[list[str]] = [[]]

    def width() -> int:
        return first_width if len(chunks) == 1 else rest_width

    for word in words:
        if chunks[-1] and len(_quote("".join(chunks[-1]) + word)) > width():
            chunks.append([])
        chunks[-1].append(word)
    while len(chunks[-1]) > 1 and len(_quote("".join(chunks[-1]))) + tail > width():
        last = chunks[-1].pop()
        chunks.append([last])
    return ["".join(c) for c in chunks]


def _alias_lines(aliases: tuple[str, ...], indent: int) -> list[str]:
    items = [_quote(a) for a in aliases]
    one = f"{_pad(indent)}aliases {', '.join(items)}"
    if len(one) <= WIDTH:
        return [one]
    lines = [f"{_pad(indent)}aliases {items[0]}"]
    cont = _pad(indent + CONTINUATION)
    for item in items[1:]:
        if len(f"{lines[-1]}, {item}") <= WIDTH:
            lines[-1] += f", {item}"
        else:
            lines[-1] += ","
            lines.append(cont + item)
    return lines


# ---------------------------------------------------------------- placing comments


def _attach_top(tops: list[_Node], c: _Comment, eof: list[_Comment]) -> None:
    for node in tops:
        region = node.holds(c.anchor)
        if region is not None:
            _attach(node, region, c)
            return
    _before_next(tops, c, eof)


def _before_next(siblings: list[_Node], c: _Comment, rest: list[_Comment]) -> None:
    """An own-line comment goes before the next statement, or into `rest` (the closing brace / end of file)."""
    following = [(r[0], node) for node in siblings for r in node.regions if r[0] > c.anchor]
    if following:
        min(following, key=lambda pair: pair[0])[1].leading.append((c.blank_before, c.text))
    else:
        rest.append(c)


def _attach(node: _Node, region: Region, c: _Comment) -> None:
    if node.children is None:
        if c.own_line:  # inside a statement written over several lines: it moves above the statement
            node.leading.append((False, c.text))
        elif c.line == region[1][0]:  # after the statement's last line: after the last formatted line
            _trail(node, len(node.lines) - 1, c.text)
        else:
            _trail(node, c.line - region[0][0], c.text)
        return
    assert node.body is not None
    if not c.own_line and c.anchor == node.closing:
        if node.closing_trailing is None:
            node.closing_trailing = c.text
        else:  # pragma: no cover - one `}` per line
            node.closing_leading.append((False, c.text))
        return
    if c.anchor <= node.body:
        if c.own_line:  # inside the header: it moves above the block
            node.leading.append((False, c.text))
        elif c.anchor == node.body:  # after the `{`: after the formatted `{`
            _trail(node, len(node.lines) - 1, c.text)
        else:
            _trail(node, c.line - region[0][0], c.text)
        return
    for child in node.children:
        inner = child.holds(c.anchor)
        if inner is not None:
            _attach(child, inner, c)
            return
    # an own-line comment between statements, or a comment after code the AST no longer holds
    closing: list[_Comment] = []
    _before_next(node.children, c, closing)
    node.closing_leading.extend((x.blank_before, x.text) for x in closing)


def _trail(node: _Node, offset: int, text: str) -> None:
    """A comment after code: at the end of the matching formatted line; an earlier one there moves above."""
    index = max(0, min(offset, len(node.lines) - 1))
    if index in node.trailing:
        node.leading.append((False, node.trailing[index]))
    node.trailing[index] = text


# ---------------------------------------------------------------- output


def _render(tops: list[_Node], eof: list[_Comment]) -> str:
    out: list[str] = []
    previous: _Node | None = None
    for node in tops:
        constants = previous is not None and previous.kind == node.kind == "let"
        _emit(node, out, first=not out, forced=bool(out) and not constants)
        previous = node
    for c in eof:
        if out and c.blank_before:
            out.append("")
        out.append(c.text)
    return "\n".join(out) + "\n" if out else ""


def _emit(node: _Node, out: list[str], first: bool, forced: bool) -> None:
    """Leading comments, the node's lines with their trailing comments, then (for a block) its body."""
    group = [*node.leading, (node.blank, None)]
    for i, (blank, text) in enumerate(group):
        if i == 0 and (forced or (blank and not first)) or i > 0 and blank:
            out.append("")
        if text is not None:
            out.append(_pad(node.indent) + text)
    for i, line in enumerate(node.lines):
        out.append(line + (f"  {node.trailing[i]}" if i in node.trailing else ""))
    if node.children is None:
        return
    start = len(out)
    previous: _Node | None = None
    for child in node.children:
        rule_after_rule = previous is not None and previous.kind == child.kind == "rule"
        _emit(child, out, first=len(out) == start, forced=rule_after_rule)
        previous = child
    inner = _pad(node.indent + INDENT)
    for blank, text in node.closing_leading:
        if blank and len(out) > start:
            out.append("")
        out.append(inner + text)
    closing = f"{_pad(node.indent)}}}"
    out.append(closing + (f"  {node.closing_trailing}" if node.closing_trailing else ""))


def _verify(src: SourceFile, module: n.Module, comments: list[_Comment], text: str) -> None:
    """Black's safety check: the formatted text parses to the same AST and holds the same comments."""
    try:
        again = parse_source(SourceFile(src.name, text))
    except PeelError as err:
        raise FormatError(f"formatting {src.name} produced text that does not parse: {err}") from None
    if again != module:
        raise FormatError(f"formatting {src.name} would change its meaning")
    if Counter(c.text for c in comments) != Counter(comment_texts(text)):
        raise FormatError(f"formatting {src.name} would lose or repeat a comment")
