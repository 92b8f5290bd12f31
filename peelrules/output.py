"""Writing results safely: to a temporary file beside the target, then renamed over it.

The temporary file is created private (mode 0600, by tempfile.mkstemp); before the rename it is given the mode a
plain `open(path, "w")` would have given under the current umask, or the mode of the file being rewritten, so
that the private mode of the temporary file never survives the rename (issue 15).
"""
from __future__ import annotations

import os
import stat
import tempfile
import threading
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


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    On Linux (4.7 and later) it is the `Umask:` line of /proc/self/status. Elsewhere the umask can only be read
    by setting it: it is set to 0o077 (so that a file another thread creates in that instant is private rather
    than open to all) and put back at once, under a lock so that two callers never see each other's value."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        old = os.umask(0o077)
        os.umask(old)
    return old & 0o777


def _give_mode(fd: int, tmp: str, mode: int, keep: os.stat_result | None) -> None:
    """Give the temporary file (still open as fd) its final owner, group and mode, before it is renamed."""
    if keep is not None and hasattr(os, "fchown"):
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (keep.st_uid, keep.st_gid):
            try:
                os.fchown(fd, keep.st_uid, keep.st_gid)
            except PermissionError:  # not root: keep the group at least, when we are one of its members
                try:
                    os.fchown(fd, -1, keep.st_gid)
                except PermissionError:
                    pass
    # the mode after the owner: changing the owner may clear the set-user-ID and set-group-ID bits
    final = stat.S_IMODE(keep.st_mode) if keep is not None else mode & ~current_umask() & 0o7777
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, final)
        else:  # pragma: no cover - Windows before Python 3.13
            os.chmod(tmp, final)
    except PermissionError:  # pragma: no cover - a folder without modes (vfat, some network shares)
        pass


def write_atomic(path: Path, text: str, inputs: list[Path] = (),  # type: ignore[assignment]
                 *, mode: int = 0o666, keep_mode_of: Path | None = None) -> None:
    """Write text to path in one step; never overwrite an input, never leave a partial file.

    The file gets the mode `open(path, "w")` would give it: `mode & ~umask`, 0o644 under the usual umask 022.
    This holds for a new file and also when an existing file is overwritten (an --out target, a JUnit report):
    its old mode is not kept, since output is a new result, not an edit of the old file, and its mode should not
    depend on whatever happened to be there before. Give `mode=0o600` for a file that must stay private (a
    cache); the umask can only narrow it further, as with os.open.

    `keep_mode_of=FILE` is for rewriting a file in place (`peel fmt`): the new file keeps FILE's mode (a 0755
    file stays 0755) and, where the permissions allow, its owner and group; `mode` is then used only when
    FILE no longer exists."""
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
    keep = None
    if keep_mode_of is not None:
        try:
            keep = os.stat(keep_mode_of)
        except (OSError, ValueError):  # gone since it was read: a new file, with the umask's mode
            keep = None
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise _fail(f"cannot write in '{one_line(str(directory))}': {err.strerror or err}",
                    "check that the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            _give_mode(fh.fileno(), tmp, mode, keep)
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):  # the disk full, the folder gone: nothing was written
            raise _fail(f"cannot write '{shown}': {err.strerror or err}", "check the space and the folder") from None
        raise
