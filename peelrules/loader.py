"""Reading rule files and evidence files from disk into SourceFiles, with clear errors."""
from __future__ import annotations

import hashlib
import os
import re
from importlib import resources
from pathlib import Path

from .diagnostics import Diagnostic, PeelError
from .limits import DEFAULT_LIMITS
from .source import SourceFile, Span

MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes
SHIPPED_RULES = "peel-2021-22"
# C0 controls other than tab, newline and carriage return, DEL, C1 controls, and the bidirectional
# controls that can make text read differently from how it runs ("Trojan Source").
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def read_source(path: Path, name: str | None = None) -> SourceFile:
    """Read a UTF-8 text file; refuse directories, special files, oversized and undecodable files."""
    shown = name or str(path)
    try:
        st = path.stat()
    except OSError as err:
        raise PeelError([Diagnostic("PR401", f"cannot read '{shown}': {err.strerror or err}", None,
                                    "check the path")]) from None
    if path.is_dir():
        raise PeelError([Diagnostic("PR401", f"'{shown}' is a directory, not a file", None,
                                    "give the path of a file")])
    if not path.is_file():
        raise PeelError([Diagnostic("PR401", f"'{shown}' is not a regular file", None, "give the path of a file")])
    if st.st_size > MAX_FILE_BYTES:
        raise PeelError([Diagnostic("PR404", f"'{shown}' is larger than {MAX_FILE_BYTES} bytes", None,
                                    "split it, or raise the limit (docs/limits.md)")])
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PeelError([Diagnostic("PR401", f"cannot read '{shown}': {err.strerror or err}", None,
                                    "check the path and its permissions")]) from None
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PeelError([Diagnostic("PR401", f"'{shown}' is not UTF-8 text (bad byte at position {err.start})",
                                    None, "save the file as UTF-8")]) from None
    text = text.replace("\r\n", "\n")
    bad = _FORBIDDEN.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        line_text = text.split("\n")[line - 1]
        raise PeelError([Diagnostic(
            "PR403", f"invisible or direction-changing character U+{ord(bad.group()):04X} "
                     f"(byte {len(text[:bad.start()].encode())} of the file)",
            Span(shown, line, col, line, col + 1),
            "remove it: invisible and direction-changing characters are not allowed, so text reads as it runs",
            line_text=_FORBIDDEN.sub("?", line_text))])
    return SourceFile(shown, text, digest)


def shipped_rules_dir() -> Path:
    """The PEEL 2021/22 rule set installed with the package."""
    try:
        return Path(str(resources.files("peelrules.rules").joinpath(SHIPPED_RULES)))
    except ModuleNotFoundError:  # a source checkout imported without installing
        return Path(__file__).resolve().parent.parent / "rules" / SHIPPED_RULES


def rule_sources(path: Path | None) -> list[SourceFile]:
    """Every *.peel file of a rule set folder (sorted by name), or a single rule file."""
    if path is None:
        root = shipped_rules_dir()
        return [read_source(p, f"rules/{SHIPPED_RULES}/{p.name}") for p in sorted(root.glob("*.peel"))]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".peel")
        if len(files) > DEFAULT_LIMITS.max_rule_files:
            raise PeelError([Diagnostic("PR404", f"'{path}' holds {len(files)} rule files, more than "
                                        f"{DEFAULT_LIMITS.max_rule_files}", None, "see docs/limits.md")])
        if not files:
            raise PeelError([Diagnostic("PR402", f"no .peel files in '{path}'", None,
                                        "give the folder of a rule set, such as rules/peel-2021-22")])
        return [read_source(p, os.path.join(str(path), p.name)) for p in files]
    return [read_source(path)]
