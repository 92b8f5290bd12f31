"""Reading rule files and evidence files from disk into SourceFiles, with clear errors."""
from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from .diagnostics import Code, Diagnostic, PeelError, one_line
from .limits import DEFAULT_LIMITS, Limits
from .source import SourceFile, Span, package_folder

SHIPPED_RULES = "peel-2021-22"
# C0 controls other than tab, newline and carriage return, DEL, C1 controls, the bidirectional controls
# that can make text read differently from how it runs ("Trojan Source"), the line and paragraph separators
# U+2028/U+2029 (a line break to some readers, not to others), U+FEFF anywhere but at the very start
# (there it is the byte order mark, which read_source removes): YAML would drop it, lark would not, and
# the noncharacters U+FFFE/U+FFFF, which YAML refuses and lark would not.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                        "\u2066-\u2069\ufeff\ufffe\uffff]")


class ChangedWhileRead(PeelError):
    """A file was written to while it was read: what was read may be part of it, and must not be used."""


def forbidden_character(text: str) -> re.Match[str] | None:
    """The first character of text that no input may hold (see above), if any."""
    return _FORBIDDEN.search(text)


def read_source(path: Path, name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> SourceFile:
    """Read a UTF-8 text file; refuse directories, special files, oversized and undecodable files."""
    shown = name or str(path)
    quoted = one_line(shown)
    try:
        st = path.stat()
    except (OSError, ValueError) as err:  # ValueError: a NUL in the path
        raise PeelError([Diagnostic(Code.PR401, f"cannot read '{quoted}': {getattr(err, 'strerror', None) or err}",
                                    None, "check the path")]) from None
    if stat.S_ISDIR(st.st_mode):
        raise PeelError([Diagnostic(Code.PR401, f"'{quoted}' is a directory, not a file", None,
                                    "give the path of a file")])
    if not stat.S_ISREG(st.st_mode):
        raise PeelError([Diagnostic(Code.PR401, f"'{quoted}' is not a regular file", None, "give the path of a file")])
    if st.st_size > limits.max_file_bytes:
        raise _too_large(quoted, limits.max_file_bytes)
    try:
        # Non-blocking, and checked again once open, in case the file was swapped for a pipe or device;
        # never more than the limit is read, whatever the size said.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as fh:
            opened = os.fstat(fh.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise PeelError([Diagnostic(Code.PR401, f"'{quoted}' is not a regular file", None,
                                            "give the path of a file")])
            data = fh.read(limits.max_file_bytes + 1)
            done = os.fstat(fh.fileno())
    except (OSError, ValueError) as err:
        raise PeelError([Diagnostic(Code.PR401, f"cannot read '{quoted}': {getattr(err, 'strerror', None) or err}",
                                    None, "check the path and its permissions")]) from None
    if len(data) > limits.max_file_bytes:
        raise _too_large(quoted, limits.max_file_bytes)
    if _changed(st, opened, done, len(data)):
        raise ChangedWhileRead([Diagnostic(Code.PR401, f"'{quoted}' changed while it was being read", None,
                                    "wait until whatever is writing it has finished, then run peel again")])
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PeelError([Diagnostic(Code.PR401, f"'{quoted}' is not UTF-8 text (bad byte at position {err.start})",
                                    None, "save the file as UTF-8")]) from None
    # Every line break becomes \n, so that lark, YAML and the messages count lines alike.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _FORBIDDEN.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        line_text = text.split("\n")[line - 1]
        raise PeelError([Diagnostic(
            Code.PR403, f"invisible or direction-changing character U+{ord(bad.group()):04X} "
                     f"(byte {len(text[:bad.start()].encode())} of the file)",
            Span(shown, line, col, line, col + 1),
            "remove it: invisible and direction-changing characters are not allowed, so text reads as it runs",
            line_text=_FORBIDDEN.sub("?", line_text))])
    return SourceFile(shown, text, digest)


def _changed(before: os.stat_result, opened: os.stat_result, done: os.stat_result, n_read: int) -> bool:
    """Whether a file was written to while read_source read it, so that what was read may be half of it.

    `before` is the path's stat, `opened` and `done` the open file's before and after the read. The same file
    (inode) must keep its size and modification time throughout, and the bytes read must be as many as its size
    said (a file whose size is 0, as in /proc, is taken as it reads). A file replaced by another one between the
    stat and the open (an atomic rename, as `peel fmt` and editors save) is not a change: the open file is whole,
    and it is what was read."""
    def same(a: os.stat_result, b: os.stat_result) -> bool:
        return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)

    replaced = (before.st_dev, before.st_ino) != (opened.st_dev, opened.st_ino)
    return ((not replaced and not same(before, opened)) or not same(opened, done)
            or (done.st_size > 0 and n_read != done.st_size))


def _too_large(quoted: str, limit: int) -> PeelError:
    return PeelError([Diagnostic(Code.PR404, f"'{quoted}' is larger than {limit} bytes", None,
                                 "split it, or raise the limit (docs/limits.md)")])


def shipped_rules_dir(name: str = SHIPPED_RULES) -> Path:
    """A rule set installed with the package (default: PEEL 2021/22)."""
    folder = package_folder("peelrules.rules")
    if folder is not None:
        return folder / name
    try:
        from importlib import resources  # installed some other way (a zip)

        return Path(str(resources.files("peelrules.rules").joinpath(name)))
    except ModuleNotFoundError:  # a source checkout imported without installing
        return Path(__file__).resolve().parent.parent / "rules" / name


_SHIPPED_SETS: tuple[str, ...] | None = None


def shipped_rule_sets() -> tuple[str, ...]:
    """The names of the rule sets installed with the package (folders of rules/), sorted; looked up once a
    process, as the shipped rule sets' files are read once a process (peelrules.shipped_program)."""
    global _SHIPPED_SETS
    if _SHIPPED_SETS is None:
        root = shipped_rules_dir().parent
        _SHIPPED_SETS = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.peel"))))
    return _SHIPPED_SETS


def rule_sources(path: Path | None, limits: Limits = DEFAULT_LIMITS) -> list[SourceFile]:
    """Every *.peel file of a rule set folder (sorted by name), or a single rule file."""
    shipped = SHIPPED_RULES if path is None else (
        path.name if len(path.parts) == 1 and not path.exists() and path.name in shipped_rule_sets() else None)
    if shipped is not None:  # the default, or a shipped rule set by name: `--rules peel-2023-25`
        root = shipped_rules_dir(shipped)
        return [read_source(p, f"rules/{shipped}/{p.name}", limits) for p in sorted(root.glob("*.peel"))]
    assert path is not None
    if path.is_dir():
        try:
            files = sorted(p for p in path.iterdir() if p.suffix == ".peel")
        except OSError as err:
            raise PeelError([Diagnostic(Code.PR401, f"cannot read the folder '{one_line(str(path))}': "
                                        f"{err.strerror or err}", None, "check its permissions")]) from None
        if len(files) > limits.max_rule_files:
            raise PeelError([Diagnostic(Code.PR404, f"'{one_line(str(path))}' holds {len(files)} rule files, more "
                                        f"than {limits.max_rule_files}", None, "see docs/limits.md")])
        if not files:
            raise PeelError([Diagnostic(Code.PR402, f"no .peel files in '{one_line(str(path))}'", None,
                                        "give the folder of a rule set, such as rules/peel-2021-22")])
        _check_set_size(path, files, limits)
        return [read_source(p, os.path.join(str(path), p.name), limits) for p in files]
    _check_set_size(path, [path], limits)
    return [read_source(path, None, limits)]


def _check_set_size(where: Path, files: list[Path], limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a rule set larger than the limit, from the files' sizes, before reading any of them."""
    total = 0
    for p in files:
        try:
            st = p.stat()
        except (OSError, ValueError):
            continue  # read_source says what is wrong with it
        total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    if total > limits.max_rule_set_bytes:
        raise PeelError([Diagnostic(Code.PR404, f"the rule set '{one_line(str(where))}' is {total} bytes, more than "
                                    f"{limits.max_rule_set_bytes}", None,
                                    "split the rules into smaller sets, or raise the limit (docs/limits.md)")])
