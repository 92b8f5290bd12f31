"""Parse tree -> AST. lark's trees, tokens and errors never leave this module."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .diagnostics import Diagnostic, PeelError, quoted
from .limits import DEFAULT_LIMITS, Limits
from .source import SourceFile, Span
from .syntax import describe_expected, describe_terminal, parser

_COMPARE = {"ge": ">=", "le": "<=", "gt": ">", "lt": "<", "eq": "==", "ne": "!="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_BOOL = {"or_": "or", "and_": "and"}


def parse_source(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> n.Module:
    """Parse one rule file; raise PeelError with a positioned diagnostic on a syntax error."""
    _check_lines(src, limits)
    try:
        tree = parser().parse(src.text)
    except UnexpectedInput as err:
        raise PeelError([_syntax_diagnostic(src, err)]) from None
    _check_tree(src, tree, limits)
    return _Lower(src.name).module(tree)


def _limit(src: SourceFile, line: int, column: int, message: str, hint: str) -> PeelError:
    return PeelError([Diagnostic("PR404", message, Span(src.name, line, column, line, column + 1), hint,
                                 line_text=src.line_text(line))])


def _check_lines(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> None:
    for row, line in enumerate(src.text.split("\n"), start=1):
        if len(line) > limits.max_line_chars:
            raise _limit(src, row, limits.max_line_chars, f"line longer than "
                         f"{limits.max_line_chars} characters", "break it up (docs/limits.md)")


def _check_tree(src: SourceFile, tree: Tree, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse trees deeper than the limit, and numbers with too many digits, before any recursion."""
    stack: list[tuple[Tree | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            if node.type in ("NUMBER", "PERCENT", "DATE", "TIMESTAMP") and not node.isascii():
                # the grammar's \d also matches other scripts' digits, which int() would read silently
                raise PeelError([Diagnostic("PR104", f"{quoted(node)} is written with digits other than 0-9",
                                            Span(src.name, node.line or 1, node.column or 1, node.end_line or 1,
                                                 node.end_column or 2), "write numbers and dates with 0-9",
                                            line_text=src.line_text(node.line or 1))])
            if node.type in ("NUMBER", "PERCENT") and len(node.replace(".", "").rstrip("%")) > \
                    limits.max_number_digits:
                raise _limit(src, node.line or 1, node.column or 1,
                             f"number with more than {limits.max_number_digits} digits",
                             "write a shorter number (docs/limits.md)")
            continue
        if depth > limits.max_expr_depth:
            meta = node.meta
            raise _limit(src, getattr(meta, "line", 1), getattr(meta, "column", 1),
                         f"expression nested more than {limits.max_expr_depth} levels deep",
                         "split it with `let` constants or separate rules (docs/limits.md)")
        stack.extend((c, depth + 1) for c in reversed(node.children))  # in source order


MAX_SYNTAX_ERRORS = 20
_STATEMENT = re.compile(r"^(\s*)(framework|evidence|let|ladder|area|characteristic|cause_of_concern|"
                        r"area_for_improvement|innovative_practice|good_practice)\b(\s+([A-Za-z_][A-Za-z0-9_]*))?")
_TOP_LEVEL = {"framework", "evidence", "let", "ladder", "area"}


@dataclass(frozen=True)
class Parsed:
    """A file parsed with recovery: what could be read, every syntax error, and the names lost to them."""

    module: n.Module
    diagnostics: tuple[Diagnostic, ...]
    lost_names: frozenset[str]


def parse_recovering(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> Parsed:
    """Parse a file; on a syntax error, blank out the statement that holds it and parse again.

    Statements are found by their leading keyword (a rule, or a top-level block), and blanked line for
    line so every later position stays right. This reports independent errors of one file in one run
    and still gives the checker everything else in the file.
    """
    lines = src.text.split("\n")
    diags: list[Diagnostic] = []
    lost: set[str] = set()
    seen: set[tuple[int, int]] = set()
    while True:
        text = "\n".join(lines)
        try:
            _check_lines(src, limits)
            tree = parser().parse(text)
            _check_tree(src, tree, limits)
            return Parsed(_Lower(src.name).module(tree), tuple(diags), frozenset(lost))
        except PeelError as err:  # a limit: no recovery past it
            return Parsed(n.Module(src.name, ()), tuple(diags) + tuple(err.diagnostics), frozenset(lost | {"*"}))
        except UnexpectedInput as err:
            diag = _syntax_diagnostic(src, err)
            assert diag.span is not None
            pos = (diag.span.line, diag.span.column)
            if pos not in seen:
                diags.append(diag)
            seen.add(pos)
            region = _statement_region(lines, diag.span.line - 1, diag.span.column - 1)
            if region is None or len(diags) >= MAX_SYNTAX_ERRORS or len(seen) > MAX_SYNTAX_ERRORS:
                return Parsed(n.Module(src.name, ()), tuple(diags), frozenset(lost | {"*"}))
            start, end, name = region
            if name:
                lost |= {name, name.lower()}
            for i in range(start, end + 1):
                lines[i] = ""


def _statement_region(lines: list[str], row: int, col: int) -> tuple[int, int, str | None] | None:
    """The lines [start, end] of the statement holding the error at (row, col), and the name it defines."""
    row = min(row, len(lines) - 1)
    starts = [i for i, line in enumerate(lines) if _STATEMENT.match(line)]
    before = [i for i in starts if i <= row]
    if not before:
        return None
    start = before[-1]
    m = _STATEMENT.match(lines[start])
    assert m is not None
    if start == row and col <= len(m.group(1)) and len(before) > 1:
        # the error is the first word of a statement: the statement before it is unfinished
        start = before[-2]
        m = _STATEMENT.match(lines[start])
        assert m is not None
    top = m.group(2) in _TOP_LEVEL and not m.group(1)
    end = len(lines) - 1
    for i in range(start + 1, len(lines)):
        if i in starts and (not top or not lines[i].startswith((" ", "\t"))):
            end = i - 1
            break
        if lines[i].startswith("}"):
            end = i if top else i - 1
            break
    return start, max(start, end), m.group(4)


def percent_value(text: str) -> float:
    """`85.2` (the digits before %) -> 0.852, correctly rounded."""
    return float(Decimal(text) / 100)


def number_value(text: str) -> int | float:
    return int(text) if "." not in text else float(Decimal(text))


def _syntax_diagnostic(src: SourceFile, err: UnexpectedInput) -> Diagnostic:
    line = getattr(err, "line", 1) or 1
    column = getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedToken) and err.token.type == "$END" or isinstance(err, UnexpectedEOF):
        lines = src.text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        unclosed = _unclosed_block(src.text)
        hint = (f"the block opened on line {unclosed} seems to lack its closing `}}`" if unclosed
                else "is a closing `}` missing, or a statement unfinished?")
        return Diagnostic("PR103", "the file ends before the last block or statement is complete",
                          Span(src.name, line, column, line, column + 1), hint, line_text=src.line_text(line))
    if isinstance(err, UnexpectedToken):
        tok = err.token
        end = column + max(1, len(str(tok)))
        expected = set(err.accepts or err.expected)
        line_text = src.line_text(line)
        hint = _hint_for(str(tok), tok.type, expected, line_text[:column - 1])
        if hint is None and column == len(line_text) - len(line_text.lstrip()) + 1 and line > 1:
            if "RBRACE" in expected:
                hint = f"the block before line {line} seems to lack its closing `}}`"
            else:
                hint = f"the statement before line {line} is unfinished: it needs {describe_expected(expected)}"
        word = describe_terminal(tok.type)
        what = word if word.startswith("`") else f"{word.split(' (')[0].removeprefix('a ')} `{tok}`"
        return Diagnostic("PR101", f"unexpected {what}",
                          Span(src.name, line, column, line, end),
                          hint or f"expected {describe_expected(expected)}", line_text=src.line_text(line))
    assert isinstance(err, UnexpectedCharacters)
    char = src.text[err.pos_in_stream] if err.pos_in_stream < len(src.text) else ""
    hint = f"expected {describe_expected(set(err.allowed or ()))}"
    if char in _CHAR_HINTS:
        hint = _CHAR_HINTS[char]
    elif char.isupper():
        hint = "names are lower case snake_case, such as answer_standard"
    elif not char.isalnum():
        hint = f"remove or replace this character; {hint}"
    return Diagnostic("PR102", f"unexpected character {char!r}",
                      Span(src.name, line, column, line, column + 1), hint, line_text=src.line_text(line))


# Advice for a character the lexer cannot start a token with.
_CHAR_HINTS = {
    "=": "use `==` to compare, or `let name = value` to define a constant",
    "%": "write a percentage with no space before %, as in 90%",
    '"': "close the quoted text with \" on the same line",
    "&": "write `and`, not `&&`",
    "|": "write `or`, not `||`",
    "!": "write `not`, or `!=` for not equal",
    "'": "quote text with double quotes: \"...\"",
}


def _unclosed_block(text: str) -> int | None:
    """Line of the `{` most likely missing its `}`: the first whose closing brace is indented differently."""
    stack: list[tuple[int, int]] = []
    for row, line in enumerate(text.split("\n"), start=1):
        indent = len(line) - len(line.lstrip())
        code = re.sub(r'"([^"\\]|\\.)*"|#.*', "", line)
        for ch in code:
            if ch == "{":
                stack.append((row, indent))
            elif ch == "}" and stack:
                open_row, open_indent = stack.pop()
                if code.strip().startswith("}") and indent != open_indent:
                    return open_row
    return stack[-1][0] if stack else None


_COMPARISONS = {">=", "<=", ">", "<", "==", "!="}


def _hint_for(token: str, kind: str, expected: set[str], before: str) -> str | None:
    """Plain-English advice for the commonest slips, from the token and what precedes it on the line."""
    keywords = [describe_terminal(t).strip("`") for t in expected if describe_terminal(t).startswith("`")]
    if kind == "NAME":
        close = difflib.get_close_matches(token, [k for k in keywords if k.isalpha() or "_" in k], n=1, cutoff=0.75)
        if close:
            return f"did you mean `{close[0]}`?"
    if token == "=" and "EQUAL" not in expected:
        return "use `==` to compare two values"
    if token == ",":
        if before.rstrip() and before.rstrip()[-1].isdigit():
            return "write decimals with a point, as in 90.5%"
    if token in _COMPARISONS:
        if before.rstrip().endswith("not"):
            return "`not` goes before a whole condition: `not (a >= b)`"
        return "comparisons do not chain: write `a < b and b < c`"
    return None


def _unescape(raw: str) -> str:
    body = raw[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _Lower:
    def __init__(self, file: str):
        self.file = file

    # ------------------------------------------------------------ positions
    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(self.file, node.line or 0, node.column or 0,
                        node.end_line or node.line or 0, node.end_column or node.column or 0)
        meta = node.meta
        if getattr(meta, "empty", True):
            return Span(self.file, 0, 0, 0, 0)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    # ------------------------------------------------------------ structure
    def module(self, tree: Tree) -> n.Module:
        items: list[n.Item] = []
        for child in tree.children:
            kind = child.data
            if kind == "framework":
                items.append(self.framework(child))
            elif kind == "evidence_block":
                items.extend(self.evidence_block(child))
            elif kind == "let_stmt":
                items.append(self.let(child))
            elif kind == "ladder":
                items.append(self.ladder(child))
            elif kind == "area":
                items.append(self.area(child))
        return n.Module(self.file, tuple(items))

    def text(self, tree: Tree) -> str:
        parts: list[str] = []
        stack: list[Tree | Token] = [tree]
        while stack:  # decl_text nests to the left: walk it without recursion
            node = stack.pop()
            if isinstance(node, Token):
                parts.append(_unescape(str(node)))
            else:
                stack.extend(reversed(node.children))
        return "".join(parts)

    def framework(self, tree: Tree) -> n.Framework:
        name, title, *fields = tree.children
        values: dict[str, str | None] = {}
        for f in fields:
            if f.data == "fw_version":
                values["version"] = self.text(f.children[0])
            elif f.data == "fw_publisher":
                values["publisher"] = self.text(f.children[0])
            elif f.data == "fw_effective":
                values["effective_from"] = str(f.children[0])
            elif f.data == "fw_effective_range":
                values["effective_from"] = str(f.children[0])
                values["effective_to"] = str(f.children[1])
            elif f.data == "fw_interval":
                values["interval"] = str(f.children[0])
            elif f.data == "fw_small_sample":
                text = str(f.children[0])
                values["small_sample_below"] = int(text) if text.isdigit() else float(text)  # type: ignore[assignment]
        clauses = tuple((f.data, self.span(f)) for f in fields)
        return n.Framework(str(name), self.text(title), span=self.span(tree), extent=self.span(tree),
                           clauses=clauses, **values)  # type: ignore[arg-type]

    def evidence_block(self, tree: Tree) -> list[n.EvidenceDecl]:
        prefix, *decls = tree.children
        out = []
        for d in decls:
            name, type_tok, desc, *options = d.children  # desc is a decl_text tree
            lo = hi = None
            unit = None
            context_only = False
            measure = None
            columns: tuple[n.TableColumn, ...] = ()
            for opt in options:
                if opt.data == "table_columns":
                    columns = tuple(self.column(c) for c in opt.children)
                elif opt.data == "decl_range":
                    lo, hi = (self.signed(c) for c in opt.children)
                elif opt.data == "decl_unit":
                    unit = self.text(opt.children[0])
                elif opt.data == "decl_context_only":
                    context_only = True
                elif opt.data == "decl_measure":
                    measure = str(opt.children[0])
            out.append(n.EvidenceDecl(f"{prefix}.{name}", str(type_tok), self.text(desc), lo, hi, unit,
                                      context_only, span=self.span(name), type_span=self.span(type_tok),
                                      extent=self.span(d), block=self.span(tree), columns=columns,
                                      measure=measure))
        return out

    def column(self, tree: Tree) -> n.TableColumn:
        name, type_tok, *unit = tree.children
        return n.TableColumn(str(name), str(type_tok), self.text(unit[0]) if unit else None, span=self.span(name),
                             type_span=self.span(type_tok), extent=self.span(tree))

    def signed(self, tree: Tree) -> float:
        tok = str(tree.children[0])
        if tree.data == "pos_percent":
            return percent_value(tok[:-1])
        value = float(number_value(tok))
        return -value if tree.data == "neg_number" else value

    def let(self, tree: Tree) -> n.Let:
        name, expr = tree.children
        return n.Let(str(name), self.expr(expr), span=self.span(name), extent=self.span(tree))

    def ladder(self, tree: Tree) -> n.Ladder:
        name, *rungs = tree.children
        out = []
        for r in rungs:
            grade = r.children[0]
            cond = self.expr(r.children[1]) if r.data == "rung_when" else None
            out.append(n.Rung(str(grade), cond, span=self.span(grade), extent=self.span(r)))
        return n.Ladder(str(name), tuple(out), span=self.span(name), extent=self.span(tree))

    def area(self, tree: Tree) -> n.Area:
        name, title, *items = tree.children
        fields: dict[str, object] = {}
        ladders, lets, rules = [], [], []
        aliases: list[str] = []
        for it in items:
            kind = it.data
            if kind == "area_question":
                fields["question"] = self.text(it.children[0])
            elif kind == "area_aliases":
                aliases.extend(self.text(c) for c in it.children)
            elif kind == "area_ungraded":
                fields["ungraded"] = True
            elif kind == "area_optional":
                fields["optional"] = True
            elif kind == "area_grade_by":
                fields["grade_by"] = str(it.children[0])
                fields["grade_by_span"] = self.span(it.children[0])
            elif kind == "ladder":
                ladders.append(self.ladder(it))
            elif kind == "let_stmt":
                lets.append(self.let(it))
            elif kind == "rule":
                rules.append(self.rule(it))
        clauses = tuple((it.data, self.span(it)) for it in items
                        if it.data in ("area_question", "area_aliases", "area_ungraded", "area_optional",
                                       "area_grade_by"))
        return n.Area(str(name), self.text(title), aliases=tuple(aliases), ladders=tuple(ladders),
                      lets=tuple(lets), rules=tuple(rules), span=self.span(name), extent=self.span(tree),
                      clauses=clauses, **fields)  # type: ignore[arg-type]

    def rule(self, tree: Tree) -> n.Rule:
        kind, name, title, *items = tree.children
        fields: dict[str, object] = {}
        for it in items:
            if it.data == "rule_when":
                fields["when"] = self.expr(it.children[0])
            elif it.data == "rule_exceeded_when":
                fields["exceeded_when"] = self.expr(it.children[0])
            elif it.data == "rule_cite":
                fields["cite"] = self.text(it.children[0])
            elif it.data == "rule_recommendation":
                fields["recommendation"] = self.text(it.children[0])
            elif it.data == "rule_severe":
                fields["severe"] = True
        clauses = tuple((it.data, self.span(it)) for it in items)
        return n.Rule(str(kind.children[0]), str(name), self.text(title), span=self.span(name),
                      extent=self.span(tree), clauses=clauses, **fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------ expressions
    def expr(self, tree: Tree | Token) -> n.Expr:
        if isinstance(tree, Token):  # pragma: no cover - every atom is aliased
            raise ValueError(f"unexpected token {tree!r}")
        kind = tree.data
        sp = self.span(tree)
        ch = tree.children
        if kind in _COMPARE:
            return n.Binary(_COMPARE[kind], self.expr(ch[0]), self.expr(ch[1]), span=sp)
        if kind in ("is_", "is_not"):
            op, word = ("==", "is") if kind == "is_" else ("!=", "is not")
            return n.Binary(op, self.expr(ch[0]), self.expr(ch[1]), span=sp, written=word)
        if kind in _ARITH:
            return n.Binary(_ARITH[kind], self.expr(ch[0]), self.expr(ch[1]), span=sp)
        if kind in _BOOL:
            return n.Binary(_BOOL[kind], self.expr(ch[0]), self.expr(ch[1]), span=sp)
        if kind == "not_":
            return n.Unary("not", self.expr(ch[0]), span=sp)
        if kind == "neg":
            return n.Unary("-", self.expr(ch[0]), span=sp)
        if kind in ("in_", "not_in"):
            return n.InList(kind == "not_in", self.expr(ch[0]),
                            tuple(self.expr(c) for c in ch[1].children), span=sp)
        if kind == "number":
            return n.Number(number_value(str(ch[0])), span=sp, text=str(ch[0]))
        if kind == "percent":
            digits = str(ch[0])[:-1]
            return n.Percent(percent_value(digits), digits, span=sp)
        if kind == "string":
            return n.String(_unescape(str(ch[0])), span=sp)
        if kind == "true":
            return n.Bool(True, span=sp)
        if kind == "false":
            return n.Bool(False, span=sp)
        if kind == "ref":
            return n.Name(tuple(str(t) for t in ch[0].children), span=sp)
        if kind == "call":
            args = tuple(self.expr(c) for c in ch[1].children) if len(ch) > 1 else ()
            return n.Call(str(ch[0]), args, span=sp)
        if kind == "aggregate":
            return n.Aggregate(str(ch[0]), tuple(self.expr(c) for c in ch[1].children), self.expr(ch[2]), span=sp)
        if kind in ("date", "timestamp"):
            return n.DateLit(str(ch[0]), span=sp)
        if kind == "kind_call":
            word = ch[1].children[0]
            return n.Call(str(ch[0]), (n.Name((str(word),), span=self.span(word)),), span=sp)
        raise ValueError(f"unknown expression node {kind}")  # pragma: no cover
