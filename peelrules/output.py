"""Writing results safely: to a temporary file beside the target, then renamed over it.

The temporary file is created private (mode 0600, by tempfile.mkstemp); before the rename it is given the mode a
plain `open(path, "w")` would have given under the current umask, or the mode of the file being rewritten, so
that the private mode of the temporary file never survives the rename (issue 15).

A process killed between creating the temporary file and the rename (SIGKILL, a power cut) leaves the target
as it was, and the temporary file behind it. Such files are named `.NAME.peel-tmp-PID-RANDOM`, so that the next
write to the same folder recognises them and removes those whose process is no longer running (issue 14).
"""
from __future__ import annotations

import errno
import os
import re
import signal
import stat
import threading
from pathlib import Path
from typing import Any

from .diagnostics import Code, Diagnostic, PeelError, one_line

def __getattr__(name: str) -> Any:
    """`tempfile` (with shutil and random) is imported on the first write, not by every command that may write."""
    if name == "tempfile":
        import tempfile

        return tempfile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What peel reads from a folder given as input (rule sets, case folders): never a place to write to.
_READ_FROM_FOLDERS = (".peel", ".yaml", ".yml", ".json")


def _fail(message: str, hint: str) -> PeelError:
    return PeelError([Diagnostic(Code.PR401, message, None, hint)])


def _is_input(target: Path, p: Path, target_id: tuple[int, int] | None = None) -> bool:
    """Whether writing target would overwrite the input p, or a file read from the input folder p.

    target_id is the (device, inode) of target when it exists: an input that exists is the target exactly when
    it is the same file (os.path.samefile), found with one stat of it, not by resolving its path (a batch's
    1,000 inputs took ~25 ms)."""
    try:
        st = os.stat(p)
    except (OSError, ValueError):
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        return target_id is not None and (st.st_dev, st.st_ino) == target_id
    try:
        if p.is_dir():
            return target.is_relative_to(p.resolve()) and target.suffix in _READ_FROM_FOLDERS
        return p.resolve() == target or (target.exists() and os.path.samefile(p, target))
    except (OSError, ValueError, RuntimeError):
        return False


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


# `.NAME.peel-tmp-PID-RANDOM`: the temporary file of write_atomic (RANDOM is tempfile's 8 characters).
TEMP_MARK = ".peel-tmp-"
_TEMP_NAME = re.compile(r"\..*\.peel-tmp-([0-9]{1,10})-[A-Za-z0-9_]{8}", re.DOTALL)
_SWEPT: set[str] = set()  # folders already cleaned of stale temporary files by this process
_SWEPT_LOCK = threading.Lock()
# Longest part of the target's name kept in the temporary file's name, so that it stays within NAME_MAX (255).
_NAME_KEPT = 200


def temp_prefix(name: str) -> str:
    """The start of the name of a temporary file for the target `name` (the folder's stale ones are found by it)."""
    return f".{name[:_NAME_KEPT]}{TEMP_MARK}{os.getpid()}-"


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (in this PID namespace)."""
    if pid <= 0:
        return True  # never a temporary file of ours: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):  # another user's process, or a number out of range
        return True
    return True


def remove_stale_temporaries(directory: Path) -> list[str]:
    """Remove the temporary files of write_atomic left in directory by processes that no longer run.

    Only regular files of this user named like ours are removed, and only when the process whose id is in the
    name is gone: a write in progress in another running peel is never touched. Done once per folder and
    process; every error is ignored (this is tidying, never a reason for a write to fail). Returns the names
    removed."""
    key = str(directory)
    with _SWEPT_LOCK:
        if key in _SWEPT:
            return []
        _SWEPT.add(key)
    removed = []
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                m = _TEMP_NAME.fullmatch(entry.name)
                if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
                        continue
                    os.unlink(os.path.join(directory, entry.name))
                    removed.append(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return sorted(removed)


# TEST ONLY. PEEL_TEST_FAULT makes write_atomic fail on purpose, so that tests/test_faults.py can stop a write
# at a chosen point; nothing else reads it, and it must never be set outside the tests:
#   kill-after-bytes:N    SIGKILL this process once N bytes of the temporary file are written (flushed)
#   kill-before-rename    SIGKILL this process when the temporary file is complete, just before the rename
#   enospc-after-bytes:N  fail like a full disk (ENOSPC) once N bytes are written
FAULT_VARIABLE = "PEEL_TEST_FAULT"


def _fault() -> tuple[str, int] | None:
    spec = os.environ.get(FAULT_VARIABLE)
    if not spec:
        return None
    kind, _, n = spec.partition(":")
    return kind, int(n) if n.isdigit() else 0


def _write_all(fh, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Write data to the open temporary file, honouring the test-only PEEL_TEST_FAULT."""
    fault = _fault()
    if fault is not None and fault[0] in ("kill-after-bytes", "enospc-after-bytes") and fault[1] < len(data):
        fh.write(data[:fault[1]])
        fh.flush()
        if fault[0] == "kill-after-bytes":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    fh.write(data)
    fh.flush()
    if fault is not None and fault[0] == "kill-before-rename":
        os.kill(os.getpid(), signal.SIGKILL)


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


def _sync_folder(directory: Path) -> None:
    """fsync the folder, so that a rename in it survives a power cut. Best effort: some systems (Windows, some
    network file systems) cannot open or sync a folder, and the new file is complete on disk either way."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    FILE no longer exists.

    The text goes to a temporary file `.NAME.peel-tmp-PID-RANDOM` in the target's folder, which is then renamed
    over the target: a reader, or a process killed at any point, sees either the old file or the complete new
    one. When the write fails (a full disk, a read-only folder) the temporary file is removed and a PeelError
    names the path; the target is untouched. A process killed by SIGKILL cannot remove its temporary file: the
    next write_atomic into the same folder removes every such file whose PID no longer runs (see
    remove_stale_temporaries). The temporary file is fsync'ed before the rename and the folder after it, so that
    after a power cut or a system crash the target is the old content or the complete new one, never an empty or
    partial file (the rename itself is then on disk too, where the file system honours fsync on a folder; see
    _sync_folder). PEEL_TEST_FAULT (above) is for the tests only."""
    shown = one_line(str(path))
    try:
        target = path.resolve()
        exists = target.exists()
    except (OSError, ValueError, RuntimeError) as err:  # a symlink loop, a NUL, a name too long
        raise _fail(f"cannot write '{shown}': {getattr(err, 'strerror', None) or err}", "choose another --out path")
    target_id = _file_id(target) if exists else None
    for p in inputs:
        if _is_input(target, p, target_id):
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
    data = text.encode("utf-8", errors="backslashreplace")
    remove_stale_temporaries(directory)
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.name), dir=directory)
    except OSError as err:
        raise _fail(f"cannot write '{shown}': cannot create a file in '{one_line(str(directory))}': "
                    f"{err.strerror or err}", "check that the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_all(fh, data)
            _give_mode(fh.fileno(), tmp, mode, keep)
            os.fsync(fh.fileno())  # the data on disk before the name points at it
        os.replace(tmp, target)
        _sync_folder(directory)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):  # the disk full, the folder gone: nothing was written
            raise _fail(f"cannot write '{shown}': {err.strerror or err}", "check the space and the folder") from None
        raise
