"""Parse tree -> AST. lark's trees, tokens and errors never leave this module."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from decimal import Decimal

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .diagnostics import Code, Diagnostic, PeelError, quoted
from .limits import DEFAULT_LIMITS, Limits
from .source import SourceFile, Span
from .syntax import Tables, describe_expected, describe_terminal, parser

_COMPARE = {"ge": ">=", "le": "<=", "gt": ">", "lt": "<", "eq": "==", "ne": "!="}
_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_BOOL = {"or_": "or", "and_": "and"}


def parse_source(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> n.Module:
    """Parse one rule file; raise PeelError with a positioned diagnostic on a syntax error."""
    _check_lines(src, limits)
    module = _direct(src, limits)
    return module if module is not None else _parse_with_lark(src, limits)


def parse_direct(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> n.Module | None:
    """The file's nodes from the direct parser (below), or None where it leaves the file to lark."""
    _check_lines(src, limits)
    return _direct(src, limits)


def parse_with_lark(src: SourceFile, limits: Limits = DEFAULT_LIMITS) -> n.Module:
    """The file's nodes through lark's parse tree and _Lower: what the direct parser must agree with."""
    _check_lines(src, limits)
    return _parse_with_lark(src, limits)


def _parse_with_lark(src: SourceFile, limits: Limits) -> n.Module:
    try:
        tree = parser().parse(src.text)
    except UnexpectedInput as err:
        raise PeelError([_syntax_diagnostic(src, err)]) from None
    _check_tree(src, tree, limits)
    return _Lower(src.name).module(tree)


def _limit(src: SourceFile, line: int, column: int, message: str, hint: str) -> PeelError:
    return PeelError([Diagnostic(Code.PR404, message, Span(src.name, line, column, line, column + 1), hint,
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
                raise PeelError([Diagnostic(Code.PR104, f"{quoted(node)} is written with digits other than 0-9",
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
            module = _direct(src, limits) if not seen else None  # the file as it is: no error, most often
            if module is not None:
                return Parsed(module, (), frozenset())
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
        return Diagnostic(Code.PR103, "the file ends before the last block or statement is complete",
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
        return Diagnostic(Code.PR101, f"unexpected {what}",
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
    return Diagnostic(Code.PR102, f"unexpected character {char!r}",
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


# ---------------------------------------------------------------- the direct parser: tokens to nodes
#
# The same LALR tables and terminals as lark (syntax.tables()), driven here with a callback per rule that builds
# the AST node at once, as an inline transformer would: no parse tree, no second walk. Spans are lark's
# propagate_positions, reproduced: a node runs from the start of its first child's container to the end of its
# last child's, a container being the text a child took up with the tokens lark inlined away (the parentheses of
# `(a or b)`). Depth is counted as lark's tree would nest, so the expression limit is the same.
#
# It is the fast path, not a second definition of the language: wherever it is not sure to build exactly what
# lark and _Lower would (a syntax error, a word the contextual lexer could read another way, digits beyond 0-9 or
# the limit, a tree deeper than the limit) it gives up, and the file is parsed again by lark, which reports the
# error as before. tests/test_parser.py checks that both build the same nodes, spans included.

# A stack entry: (value, line, column, end line, end column, height). A token's value is its text and its
# height -1; a node's height is that of the tree lark would have built (its deepest node below it).
_Entry = tuple


@dataclass(frozen=True)
class _Item:
    """A clause that its parent reads (`when ...`, `unit "..."`): what lark would keep of its tree."""

    data: str
    kids: list
    span: Span


def _text(raw: str) -> str:
    return raw[1:-1] if "\\" not in raw else _unescape(raw)


def _direct(src: SourceFile, limits: Limits) -> n.Module | None:
    """The module of a file that parses without error, built directly; None when lark must parse it."""
    from .syntax import tables

    t = tables()
    plan = _plan(t)
    actions, keywords, reserved, chains = t.actions, t.keywords, t.reserved, plan.chains
    builders = _Builders(src.name).table
    rules = [(code, size, origin, kept, builders.get(name)) for code, size, origin, kept, name in plan.rules]
    max_depth = limits.max_expr_depth
    max_digits = limits.max_number_digits
    top = t.start  # the state on top of `states`, kept apart
    states = [top]
    values: list[_Entry] = []
    end_state = t.end
    text = src.text
    # The line is counted again only where a token starts past the next newline (no token holds one).
    line, line_start = 1, 0
    next_nl = text.find("\n")
    if next_nl < 0:
        next_nl = len(text)
    tokens = t.token.finditer(text)
    entry: _Entry | None = None
    while True:
        m = next(tokens)
        kind: str = m.lastgroup  # type: ignore[assignment]
        if kind == "_END":
            kind = "$END"
        else:
            value = m.group(kind)
            at = m.start(kind)
            if at > next_nl:
                line += text.count("\n", next_nl, at)
                line_start = text.rindex("\n", next_nl, at) + 1
                next_nl = text.find("\n", at)
                if next_nl < 0:
                    next_nl = len(text)
            column = at - line_start + 1
            if kind == "_WORD":
                kind = reserved.get(value)  # type: ignore[assignment]
                if kind is None:  # a keyword where the parser can take one, else a NAME
                    kind = keywords.get(value)  # type: ignore[assignment]
                    if kind is None or kind not in actions[top]:
                        kind = "NAME"
            elif kind in _DIGIT_TOKENS:
                if not value.isascii() or (kind in ("NUMBER", "PERCENT") and
                                           len(value.replace(".", "").rstrip("%")) > max_digits):
                    return None
            entry = (value, line, column, line, column + len(value), -1)
        while True:
            act = actions[top].get(kind)
            if act is None:
                return None
            if act >= 0:
                if kind == "$END":
                    return None
                states.append(act)
                values.append(entry)  # type: ignore[arg-type]
                top = act
                break
            code, size, origin, kept, build = rules[~act]
            if code == 0:  # a chain of `?rule` alternatives of one symbol: the value stays, the state changes
                key = (states[-2], top, kind)
                after = chains.get(key)
                if after is None:
                    after = chains[key] = plan.chain(*key)
                states[-1] = top = after
                continue
            if size == 1 and kept is None:  # one child, kept (a third of all reductions): replaced in place
                e = values[-1]
                where = (e[1], e[2], e[3], e[4])
                if code == 2:
                    values[-1] = ([e], *where, e[5])
                else:
                    if e[5] >= max_depth:
                        return None
                    values[-1] = (build([e], where), *where, e[5] + 1)
                states[-1] = top = actions[states[-2]][origin]
                continue  # a node of one symbol is never the whole file (start is a list and a node above it)
            if size:
                raw = values[-size:]
                del values[-size:]
                del states[-size:]
                first, last = raw[0], raw[-1]
                where = (first[1], first[2], last[3], last[4])
            else:
                raw = []
                where = (0, 0, 0, 0)
            if code == 1:
                e = raw[kept[0][0]]
                made = (e[0], *where, e[5])
            else:
                height = -1
                if kept is None:
                    kids = raw
                    for e in raw:
                        if e[5] > height:
                            height = e[5]
                else:
                    kids = []
                    for i, splice in kept:
                        e = raw[i]
                        if splice:
                            kids += e[0]
                        else:
                            kids.append(e)
                        if e[5] > height:
                            height = e[5]
                if code == 2:
                    made = (kids, *where, height)
                else:
                    if height >= max_depth:
                        return None
                    made = (build(kids, where), *where, height + 1)
            top = actions[states[-1]][origin]
            states.append(top)
            values.append(made)
            if kind == "$END" and top == end_state:
                items: list[n.Item] = []
                for v in made[0]:
                    if isinstance(v, list):
                        items.extend(v)
                    else:
                        items.append(v)
                return n.Module(src.name, tuple(items))


_DIGIT_TOKENS = frozenset({"NUMBER", "PERCENT", "DATE", "TIMESTAMP"})


class _Plan:
    """What the direct parser reads of one Tables, worked out once: each rule as (kind, size, the symbol it goes
    to, the children kept or None when that is all of them in order, its name), kind 0 being a `?rule`
    alternative of one symbol (nothing to do but change state), 1 one that drops tokens around its child
    (parentheses), 2 a helper list and 3 a node; and, filled as they are met, the chains of kind-0 reductions:
    by (the state below, the state on top, the lookahead), the state the whole chain ends in."""

    def __init__(self, t: Tables):
        self.tables = t
        self.rules: list[tuple[int, int, str, tuple[tuple[int, bool], ...] | None, str]] = []
        for r in t.rules:
            code = (0 if r.size == 1 else 1) if r.kind == "pass" else 2 if r.kind == "list" else 3
            every = code > 1 and r.include == tuple((i, False) for i in range(r.size))
            self.rules.append((code, r.size, r.origin, None if every else r.include, r.name))
        self.chains: dict[tuple[int, int, str], int] = {}

    def chain(self, below: int, top: int, kind: str) -> int:
        """The state after every kind-0 reduction that `kind` calls for in turn from `top` above `below`: each
        replaces the top state and leaves the one below, so the chain depends on these three alone."""
        actions, rules = self.tables.actions, self.rules
        while True:
            act = actions[top].get(kind)
            if act is None or act >= 0 or rules[~act][0] != 0:
                return top
            top = actions[below][rules[~act][2]]


_PLANS: dict[int, _Plan] = {}


def _plan(t: Tables) -> _Plan:
    plan = _PLANS.get(id(t))
    if plan is None or plan.tables is not t:
        plan = _PLANS[id(t)] = _Plan(t)
    return plan


_COMPARE_OPS = {**_COMPARE, **_ARITH, **_BOOL}


class _Builders:
    """A function per named alternative: the node (or clause) it makes from the children lark would keep."""

    def __init__(self, file: str):
        self.file = file
        f = file

        def sp(w: tuple[int, int, int, int]) -> Span:
            return Span(f, w[0], w[1], w[2], w[3])

        def tok(e: _Entry) -> Span:
            return Span(f, e[1], e[2], e[3], e[4])

        self.sp, self.tok = sp, tok
        table: dict = {}
        for name, op in _COMPARE_OPS.items():
            table[name] = (lambda op: lambda k, w: n.Binary(op, k[0][0], k[1][0], span=sp(w)))(op)
        table["is_"] = lambda k, w: n.Binary("==", k[0][0], k[1][0], span=sp(w), written="is")
        table["is_not"] = lambda k, w: n.Binary("!=", k[0][0], k[1][0], span=sp(w), written="is not")
        table["not_"] = lambda k, w: n.Unary("not", k[0][0], span=sp(w))
        table["neg"] = lambda k, w: n.Unary("-", k[0][0], span=sp(w))
        table["in_"] = lambda k, w: n.InList(False, k[0][0], tuple(k[1][0]), span=sp(w))
        table["not_in"] = lambda k, w: n.InList(True, k[0][0], tuple(k[1][0]), span=sp(w))
        table["number"] = lambda k, w: n.Number(number_value(k[0][0]), span=sp(w), text=k[0][0])
        table["percent"] = lambda k, w: n.Percent(percent_value(k[0][0][:-1]), k[0][0][:-1], span=sp(w))
        table["string"] = lambda k, w: n.String(_text(k[0][0]), span=sp(w))
        table["true"] = lambda k, w: n.Bool(True, span=sp(w))
        table["false"] = lambda k, w: n.Bool(False, span=sp(w))
        table["ref"] = lambda k, w: n.Name(k[0][0], span=sp(w))
        table["call"] = lambda k, w: n.Call(k[0][0], tuple(k[1][0]) if len(k) > 1 else (), span=sp(w))
        table["aggregate"] = lambda k, w: n.Aggregate(k[0][0], tuple(k[1][0]), k[2][0], span=sp(w))
        table["date"] = table["timestamp"] = lambda k, w: n.DateLit(k[0][0], span=sp(w))
        table["kind_call"] = lambda k, w: n.Call(k[0][0], (n.Name((k[1][0][0],), span=tok(k[1][0])),),
                                                 span=sp(w))
        table["expr_list"] = lambda k, w: [e[0] for e in k]
        table["dotted"] = lambda k, w: tuple(e[0] for e in k)
        table["kind_word"] = table["rule_kind"] = lambda k, w: k[0]
        table["text"] = lambda k, w: "".join(_text(e[0]) for e in k)
        table["decl_text"] = lambda k, w: "".join(_text(e[0]) if e[5] < 0 else e[0] for e in k)
        table["pos_number"] = lambda k, w: float(number_value(k[0][0]))
        table["pos_percent"] = lambda k, w: percent_value(k[0][0][:-1])
        table["neg_number"] = lambda k, w: -float(number_value(k[0][0]))
        table["start"] = lambda k, w: [e[0] for e in k]
        table["let_stmt"] = lambda k, w: n.Let(k[0][0], k[1][0], span=tok(k[0]), extent=sp(w))
        table["rung_when"] = lambda k, w: n.Rung(k[0][0], k[1][0], span=tok(k[0]), extent=sp(w))
        table["rung_otherwise"] = lambda k, w: n.Rung(k[0][0], None, span=tok(k[0]), extent=sp(w))
        table["ladder"] = lambda k, w: n.Ladder(k[0][0], tuple(e[0] for e in k[1:]), span=tok(k[0]),
                                                extent=sp(w))
        table["column_decl"] = lambda k, w: n.TableColumn(k[0][0], k[1][0], k[2][0] if len(k) > 2 else None,
                                                          span=tok(k[0]), type_span=tok(k[1]), extent=sp(w))
        for clause in ("fw_version", "fw_effective_range", "fw_effective", "fw_publisher", "fw_interval",
                       "fw_small_sample", "evidence_decl", "table_columns", "decl_range", "decl_unit",
                       "decl_context_only", "decl_measure", "area_question", "area_aliases", "area_ungraded",
                       "area_optional", "area_grade_by", "rule_when", "rule_exceeded_when", "rule_cite",
                       "rule_recommendation", "rule_severe"):
            table[clause] = (lambda clause: lambda k, w: _Item(clause, k, sp(w)))(clause)
        table["framework"] = self.framework
        table["evidence_block"] = self.evidence_block
        table["area"] = self.area
        table["rule"] = self.rule
        self.table = table

    def framework(self, k: list[_Entry], w: tuple[int, int, int, int]) -> n.Framework:
        values: dict[str, object] = {}
        fields: list[_Item] = [e[0] for e in k[2:]]
        for f in fields:
            c = f.kids
            if f.data == "fw_version":
                values["version"] = c[0][0]
            elif f.data == "fw_publisher":
                values["publisher"] = c[0][0]
            elif f.data == "fw_effective":
                values["effective_from"] = c[0][0]
            elif f.data == "fw_effective_range":
                values["effective_from"] = c[0][0]
                values["effective_to"] = c[1][0]
            elif f.data == "fw_interval":
                values["interval"] = c[0][0]
            elif f.data == "fw_small_sample":
                digits = c[0][0]
                values["small_sample_below"] = int(digits) if digits.isdigit() else float(digits)
        span = self.sp(w)
        return n.Framework(k[0][0], k[1][0], span=span, extent=span,
                           clauses=tuple((f.data, f.span) for f in fields), **values)  # type: ignore[arg-type]

    def evidence_block(self, k: list[_Entry], w: tuple[int, int, int, int]) -> list[n.EvidenceDecl]:
        prefix = k[0][0]
        block = self.sp(w)
        tok = self.tok
        out = []
        for e in k[1:]:
            d: _Item = e[0]
            name, type_tok, desc, *options = d.kids
            lo = hi = None
            unit = None
            context_only = False
            measure = None
            columns: tuple[n.TableColumn, ...] = ()
            for o in options:
                opt: _Item = o[0]
                if opt.data == "table_columns":
                    columns = tuple(c[0] for c in opt.kids)
                elif opt.data == "decl_range":
                    lo, hi = opt.kids[0][0], opt.kids[1][0]
                elif opt.data == "decl_unit":
                    unit = opt.kids[0][0]
                elif opt.data == "decl_context_only":
                    context_only = True
                elif opt.data == "decl_measure":
                    measure = opt.kids[0][0]
            out.append(n.EvidenceDecl(f"{prefix}.{name[0]}", type_tok[0], desc[0], lo, hi, unit, context_only,
                                      span=tok(name), type_span=tok(type_tok), extent=d.span, block=block,
                                      columns=columns, measure=measure))
        return out

    def area(self, k: list[_Entry], w: tuple[int, int, int, int]) -> n.Area:
        fields: dict[str, object] = {}
        ladders, lets, rules = [], [], []
        aliases: list[str] = []
        clauses = []
        for e in k[2:]:
            it = e[0]
            if isinstance(it, _Item):
                clauses.append((it.data, it.span))
                if it.data == "area_question":
                    fields["question"] = it.kids[0][0]
                elif it.data == "area_aliases":
                    aliases.extend(c[0] for c in it.kids)
                elif it.data == "area_ungraded":
                    fields["ungraded"] = True
                elif it.data == "area_optional":
                    fields["optional"] = True
                elif it.data == "area_grade_by":
                    fields["grade_by"] = it.kids[0][0]
                    fields["grade_by_span"] = self.tok(it.kids[0])
            elif isinstance(it, n.Ladder):
                ladders.append(it)
            elif isinstance(it, n.Let):
                lets.append(it)
            else:
                rules.append(it)
        return n.Area(k[0][0], k[1][0], aliases=tuple(aliases), ladders=tuple(ladders), lets=tuple(lets),
                      rules=tuple(rules), span=self.tok(k[0]), extent=self.sp(w), clauses=tuple(clauses),
                      **fields)  # type: ignore[arg-type]

    def rule(self, k: list[_Entry], w: tuple[int, int, int, int]) -> n.Rule:
        fields: dict[str, object] = {}
        items: list[_Item] = [e[0] for e in k[3:]]
        for it in items:
            if it.data == "rule_when":
                fields["when"] = it.kids[0][0]
            elif it.data == "rule_exceeded_when":
                fields["exceeded_when"] = it.kids[0][0]
            elif it.data == "rule_cite":
                fields["cite"] = it.kids[0][0]
            elif it.data == "rule_recommendation":
                fields["recommendation"] = it.kids[0][0]
            elif it.data == "rule_severe":
                fields["severe"] = True
        return n.Rule(k[0][0][0], k[1][0], k[2][0], span=self.tok(k[1]), extent=self.sp(w),
                      clauses=tuple((it.data, it.span) for it in items), **fields)  # type: ignore[arg-type]
