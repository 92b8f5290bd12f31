"""Writing results safely: to a temporary file beside the target, then renamed over it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .diagnostics import Diagnostic, PeelError, one_line

# What peel reads from a folder given as input (rule sets, case folders): never a place to write to.
_READ_FROM_FOLDERS = (".peel", ".yaml", ".yml", ".json")


def _fail(message: str, hint: str) -> PeelError:
    return PeelError([Diagnostic("PR401", message, None, hint)])


def _is_input(target: Path, p: Path) -> bool:
    """Whether writing target would overwrite the input p, or a file read from the input folder p."""
    try:
        if p.is_dir():
            return target.is_relative_to(p.resolve()) and target.suffix in _READ_FROM_FOLDERS
        return p.resolve() == target or (target.exists() and os.path.samefile(p, target))
    except (OSError, ValueError, RuntimeError):
        return False


def write_atomic(path: Path, text: str, inputs: list[Path] = ()) -> None:  # type: ignore[assignment]
    """Write text to path in one step; never overwrite an input, never leave a partial file."""
    shown = one_line(str(path))
    try:
        target = path.resolve()
        exists = target.exists()
    except (OSError, ValueError, RuntimeError) as err:  # a symlink loop, a NUL, a name too long
        raise _fail(f"cannot write '{shown}': {getattr(err, 'strerror', None) or err}", "choose another --out path")
    for p in inputs:
        if _is_input(target, p):
            what = "a file of the input folder" if p.is_dir() else "the input file"
            raise _fail(f"refusing to overwrite {what} '{shown}'", "choose another --out path")
    if target.is_dir():
        raise _fail(f"'{shown}' is a directory", "give a file name for --out")
    if exists and not target.is_file():  # a device or a pipe: renaming over it would replace it
        raise _fail(f"'{shown}' is not a regular file", "give the name of a new or ordinary file for --out")
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise _fail(f"cannot write in '{one_line(str(directory))}': {err.strerror or err}",
                    "check that the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):  # the disk full, the folder gone: nothing was written
            raise _fail(f"cannot write '{shown}': {err.strerror or err}", "check the space and the folder") from None
        raise
