"""Source files and spans: where every piece of a rule file or evidence file came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class Span:
    """A region of a source file; 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column}


NO_SPAN = Span("<none>", 0, 0, 0, 0)


def span_field() -> Span:
    """A dataclass field for spans that equality and hashing ignore, so trees compare by content."""
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class SourceFile:
    """The text of one file, with the name it is shown under in messages and traces."""

    name: str
    text: str
    sha256: str = ""  # of the file's bytes as read from disk (what `sha256sum` prints)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""


def package_folder(package: str) -> Path | None:
    """The folder of one of peelrules' data packages (peelrules.rules, peelrules.grammar) when it is installed
    as files; None otherwise. importlib.util.find_spec finds it without importing importlib.resources (and with
    it tempfile and zipfile), which would cost every command a few milliseconds."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for where in (spec.submodule_search_locations or ()) if spec is not None else ():
        if Path(where).is_dir():
            return Path(where)
    return None
