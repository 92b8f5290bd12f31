"""Reading rule files and evidence files from disk into SourceFiles, with clear errors."""
from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

from .diagnostics import Diagnostic, PeelError
from .source import SourceFile

MAX_FILE_BYTES = 5_000_000
SHIPPED_RULES = "peel-2021-22"


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
        raise PeelError([Diagnostic("PR401", f"'{shown}' is larger than {MAX_FILE_BYTES} bytes", None,
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
    return SourceFile(shown, text.replace("\r\n", "\n"), digest)


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
        if not files:
            raise PeelError([Diagnostic("PR402", f"no .peel files in '{path}'", None,
                                        "give the folder of a rule set, such as rules/peel-2021-22")])
        return [read_source(p, os.path.join(str(path), p.name)) for p in files]
    return [read_source(path)]
