"""One shape for every user-facing problem: a stable code, a position, the offending line and a hint.

Codes: PR1xx syntax, PR2xx checks on rule files, PR3xx evidence, PR4xx files and usage.
Tests assert on codes and positions, never on the prose.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, StrEnum

from .source import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Every diagnostic code, declared once with its one-line meaning. A site writes the member,
    `Diagnostic(Code.PR310, ...)`, whose value is the code itself ("PR310"), so output is unchanged, a misspelt
    code fails (tests/test_codes.py checks every use), and `grep PR310` finds the docs, the tests and every site."""

    meaning: str

    def __new__(cls, code: str, meaning: str) -> Code:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        return member

    PR101 = "PR101", "unexpected token"
    PR102 = "PR102", "unexpected character"
    PR103 = "PR103", "unexpected end of file"
    PR104 = "PR104", "invalid literal"
    PR201 = "PR201", "unknown name"
    PR202 = "PR202", "duplicate definition"
    PR203 = "PR203", "unknown evidence item"
    PR204 = "PR204", "type error"
    PR205 = "PR205", "cycle between rules or areas"
    PR206 = "PR206", "ladder without `otherwise`"
    PR207 = "PR207", "unknown grade"
    PR208 = "PR208", "unknown ladder"
    PR209 = "PR209", "unknown evidence type"
    PR210 = "PR210", "rule without `when`"
    PR211 = "PR211", "framework header missing or repeated"
    PR212 = "PR212", "unknown function or wrong number of arguments"
    PR213 = "PR213", "reserved name"
    PR214 = "PR214", "misplaced construct"
    PR220 = "PR220", "unused declaration (warning)"
    PR221 = "PR221", "ladder rung that can never fire (warning)"
    PR222 = "PR222", "ladder that is not monotone (warning)"
    PR223 = "PR223", "condition that can never be true (warning)"
    PR224 = "PR224", "condition that can never be false (warning)"
    PR225 = "PR225", "percentage or ratio compared with a count (warning)"
    PR226 = "PR226", "cause of concern without a recommendation (warning)"
    PR227 = "PR227", "rule without a citation (warning)"
    PR228 = "PR228", "context-only evidence read by a rule (warning)"
    PR229 = "PR229", "a grade no evidence reaches (warning)"
    PR301 = "PR301", "evidence file cannot be parsed"
    PR302 = "PR302", "duplicate key"
    PR303 = "PR303", "evidence does not have the expected shape"
    PR304 = "PR304", "fact not declared by the rule set"
    PR305 = "PR305", "fact value does not match its declared type"
    PR306 = "PR306", "fact value out of range"
    PR307 = "PR307", "unknown area"
    PR308 = "PR308", "evidence is for another framework"
    PR309 = "PR309", "unknown source document"
    PR310 = "PR310", "quote not found on the cited line"
    PR311 = "PR311", "rule test file cannot be read"
    PR312 = "PR312", "evidence template not filled in"
    PR313 = "PR313", "not a peelrules trace"
    PR314 = "PR314", "no shipped rule set for the evidence"
    PR315 = "PR315", "a grade resting on a secondary source (warning)"
    PR316 = "PR316", "contradictory evidence (warning)"
    PR317 = "PR317", "a derived grade that differs from the report's judgment (warning)"
    PR318 = "PR318", "a case-level table that cannot be used"
    PR319 = "PR319", "a comparator dataset that cannot be used"
    PR401 = "PR401", "file cannot be read"
    PR402 = "PR402", "no rule files found"
    PR403 = "PR403", "forbidden character"
    PR404 = "PR404", "input exceeds a limit"
    PR405 = "PR405", "a bundle of a batch could not be graded (worker crash or internal error)"


CODES: dict[str, str] = {code.value: code.meaning for code in Code}  # each code's meaning, by code


@dataclass(frozen=True)
class Diagnostic:
    """One message for the user: a code from the registry, where (a span and the line's text), and what to do."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    line_text: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "span": self.span.to_json() if self.span else None,
        }


class PeelError(Exception):
    """Raised by the core with every diagnostic of the failing phase; the CLI renders them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(f"{d.code}: {d.message}" for d in self.diagnostics))


# Control, direction-changing and line-separating characters, and lone surrogates (undecodable bytes of a
# file name), which no terminal should receive; tab and newline are kept, the renderer uses them.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_UNSAFE_IN_NAME = re.compile(f"[\t\n{_UNSAFE.pattern[1:-1]}]")
LINE_WINDOW = 160  # characters of a long line shown around the caret
QUOTE_CHARS = 100  # characters of a long value or name from the input quoted in a message (`quoted`)
MAX_MESSAGE_CHARS = 8_000  # a longer message or hint is cut (room for a whole file name: PATH_MAX is 4,096)


def safe(text: str) -> str:
    """Text fit for a terminal: control and direction-changing characters shown as escapes."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(text: str) -> str:
    """A file name (or other text from outside) fit for one line of a message: tabs and newlines escaped too."""
    return _UNSAFE_IN_NAME.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def quoted(value: object, limit: int = QUOTE_CHARS, mark: str = "'") -> str:
    """A value from the input, for a message, on one line: text between `mark`s as written, anything else
    as its repr; a long one cut to its first `limit` characters with an ellipsis and its length,
    `'aaaa…' (196,608 characters)`, so that no message echoes a whole long value."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return f"{mark}{one_line(text)}{mark}" if isinstance(value, str) else one_line(text)
    cut = f"{one_line(text[:limit])}…"
    return (f"{mark}{cut}{mark}" if isinstance(value, str) else cut) + f" ({len(text):,} characters)"


def _cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The last guard on a message or hint: a very long one keeps its start and end and says how long it was."""
    if len(text) <= limit:
        return text
    keep = limit // 2
    return f"{text[:keep]}… ({len(text):,} characters in all) …{text[-keep // 4:]}"


def render(diag: Diagnostic) -> str:
    return safe(_render(diag))


def _render(diag: Diagnostic) -> str:
    """file:line:col: error[CODE]: message, then the line with a caret under the span, then the hint."""
    where = f"{one_line(str(diag.span))}: " if diag.span else ""
    out = [f"{where}{diag.severity.value}[{diag.code}]: {_cut(diag.message)}"]
    if diag.span is not None and diag.line_text:
        num = str(diag.span.line)
        pad = " " * len(num)
        line = diag.line_text.expandtabs(1)
        note = ""
        start = max(diag.span.column, 1)
        if diag.span.end_line == diag.span.line and diag.span.end_column > start:
            width = diag.span.end_column - start
        else:
            width = 1
        if len(line) > LINE_WINDOW:  # a very long line: show the stretch around the caret
            first = max(0, min(start - 1 - LINE_WINDOW // 4, len(line) - LINE_WINDOW))
            note = (f" (line {diag.span.line} is {len(line):,} characters long: columns {first + 1:,} to "
                    f"{min(first + LINE_WINDOW, len(line)):,} shown)")
            line = ("..." if first else "") + line[first:first + LINE_WINDOW] + \
                ("..." if first + LINE_WINDOW < len(line) else "")
            start = min(start - first + (3 if first else 0), len(line) + 1)
        width = max(1, min(width, max(1, len(line) - start + 1)))
        out.append(f"{pad} |{note}")
        out.append(f"{num} | {line}")
        out.append(f"{pad} | {' ' * (start - 1)}{'^' * width}")
    if diag.hint:
        out.append(f"  = help: {_cut(diag.hint)}")
    return "\n".join(out)


def render_all(diags: list[Diagnostic], limit: int | None = None) -> str:
    """Every diagnostic in order of position; with `limit`, only the first `limit` errors and the first
    `limit` warnings, then a line counting the ones left out (the max_errors limit of docs/limits.md)."""
    ordered = sorted(diags, key=Diagnostic.sort_key)
    if limit is None:
        return "\n\n".join(render(d) for d in ordered)
    shown: list[Diagnostic] = []
    seen = {Severity.ERROR: 0, Severity.WARNING: 0}
    for d in ordered:
        seen[d.severity] += 1
        if seen[d.severity] <= limit:
            shown.append(d)
    text = "\n\n".join(render(d) for d in shown)
    more = [f"{n - limit:,} more {kind}{'s' if n - limit != 1 else ''}"
            for kind, n in (("error", seen[Severity.ERROR]), ("warning", seen[Severity.WARNING])) if n > limit]
    if more:
        text += (f"\n\n... and {' and '.join(more)}, not shown: at most {limit:,} errors and {limit:,} warnings "
                 f"are printed (change it with --limit max_errors=N)")
    return text
