"""The disk cache of checked rule sets: nothing parsed and checked twice across runs, nothing trusted blindly.

An entry holds one checked `Program`, keyed by the digests of the rule files (names and bytes), the engine
(the digest of peelrules' own code and grammar) and the limits. It lives in the user's cache folder
(platformdirs; `PEEL_CACHE_DIR` overrides it), is safe to delete, and is written atomically (a private
temporary file renamed over the entry).

A cached program is input that peel acts on, so an entry is used only when all of these hold (docs/cache.md):
- the folder is a real directory (not a symlink), owned by this user, and nobody else can write to it;
- the entry is a regular file (opened without following symlinks), owned by this user, not group- or
  world-writable, and no larger than `MAX_ENTRY_BYTES`;
- its header names this format, this engine and this key, and the sha256 of its payload matches;
- its payload unpickles with an allow-list of peelrules' own dataclasses and enums: no function, no module
  attribute outside that list, so a crafted payload cannot name anything that would run code.
Anything else is ignored (one note per reason, shown with `--verbose`) and the program is rebuilt. A folder
that cannot be made or written (a read-only file system) turns the cache off for the run: peel still works.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import os
import pickle
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .limits import Limits
from .syntax import grammar_text, use_grammar_cache

if TYPE_CHECKING:
    from .program import Program
    from .source import SourceFile

FORMAT = "peelrules-cache 1"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
# The modules whose dataclasses and enums a checked program is made of: the only names an entry may use.
_ALLOWED_MODULES = frozenset({"peelrules.nodes", "peelrules.program", "peelrules.source", "peelrules.grades",
                              "peelrules.values", "peelrules.findings"})


@dataclasses.dataclass
class CacheSettings:
    """Where the cache lives and whether it is used; the CLI sets it once per command."""

    enabled: bool = True
    directory: Path | None = None  # None: PEEL_CACHE_DIR, else the user's cache folder
    notes: list[str] = dataclasses.field(default_factory=list)  # why entries were ignored, for --verbose

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


SETTINGS = CacheSettings()


def configure(*, enabled: bool = True, directory: Path | None = None) -> CacheSettings:
    """Set the cache up for one command (the CLI calls this first); returns the settings, with empty notes."""
    global SETTINGS
    SETTINGS = CacheSettings(enabled, directory)
    return SETTINGS


def cache_dir() -> Path:
    if SETTINGS.directory is not None:
        return SETTINGS.directory
    env = os.environ.get("PEEL_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs  # only when the cache is used

    return Path(platformdirs.user_cache_dir("peelrules", appauthor=False))


_ENGINE: str | None = None


def engine_digest() -> str:
    """sha256 over peelrules' own code and grammar: an entry from any other engine is never used."""
    global _ENGINE
    if _ENGINE is None:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for f in sorted(here.rglob("*.py")):
            data = f.read_bytes()
            h.update(f.name.encode() + len(data).to_bytes(8, "big") + data)
        grammar = grammar_text().encode("utf-8")
        h.update(len(grammar).to_bytes(8, "big") + grammar)
        _ENGINE = h.hexdigest()
    return _ENGINE


def key_of(sources: Sequence[SourceFile], limits: Limits) -> str:
    """The entry key: the engine, the limits, and every rule file's name and bytes."""
    h = hashlib.sha256()
    h.update(engine_digest().encode())
    h.update(json.dumps(dataclasses.asdict(limits), sort_keys=True).encode())
    for src in sources:
        for part in (src.name, src.sha256 or src.text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def cached_program(sources: Sequence[SourceFile], limits: Limits, build: Callable[[], Program]) -> Program:
    """The checked program for these sources: from a trusted cache entry, or built (and then stored)."""
    if not SETTINGS.enabled or not sources:
        return build()
    key = key_of(sources, limits)
    folder = _trusted_folder()
    if folder is not None:
        program = _read(folder / f"{key}.program", key)
        if program is not None and _same_sources(program, sources):
            return program
        grammar = folder / f"grammar-{engine_digest()[:32]}.lark"
        use_grammar_cache(str(grammar) if not grammar.exists() or _trusted_file(grammar) else False)
    program = build()
    if folder is not None:
        _write(folder / f"{key}.program", key, program)
        _make_private(folder / f"grammar-{engine_digest()[:32]}.lark")
    return program


def _make_private(path: Path) -> None:
    """lark writes its parse tables with the umask's mode; the cache's files are 0600 like its entries."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != 0o600:
            os.chmod(path, 0o600)
    except OSError:
        pass


# ---------------------------------------------------------------- the folder


def _trusted_folder() -> Path | None:
    """The cache folder, made private if it is new; None (no cache this run) when it cannot be trusted."""
    folder = cache_dir() / "programs"
    try:
        if not folder.parent.exists():  # made private: a new cache folder is nobody else's business
            folder.parent.mkdir(mode=0o700, parents=True)
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as err:
        SETTINGS.note(f"cache off: cannot make {folder}: {err.strerror or err}")
        return None
    for place in (folder, folder.parent):
        why = _untrusted_folder(place)
        if why:
            SETTINGS.note(f"cache off: {place} {why}")
            return None
    if not os.access(folder, os.W_OK | os.X_OK):
        SETTINGS.note(f"cache off: {folder} is not writable")
        return None
    return folder


def _untrusted_folder(place: Path) -> str | None:
    try:
        st = os.lstat(place)
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return "belongs to another user"
    if st.st_mode & 0o022:
        return "can be written by other users"
    return None


# ---------------------------------------------------------------- entries


def _trusted_file(path: Path) -> bool:
    """A file in the cache folder that this user wrote and nobody else can change (lark's parse tables)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    mine = not hasattr(os, "geteuid") or st.st_uid == os.geteuid()
    ok = stat.S_ISREG(st.st_mode) and mine and not st.st_mode & 0o022
    if not ok:
        SETTINGS.note(f"cache entry ignored: {path.name}: not a private file of this user")
    return ok


def _read(path: Path, key: str) -> Program | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        SETTINGS.note(f"cache entry ignored: {path.name}: {err.strerror or err}")
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        why = None
        if not stat.S_ISREG(st.st_mode):
            why = "not a regular file"
        elif hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            why = "written by another user"
        elif st.st_mode & 0o022:
            why = "group- or world-writable"
        elif st.st_size > MAX_ENTRY_BYTES:
            why = "too large"
        if why:
            SETTINGS.note(f"cache entry ignored: {path.name}: {why}")
            return None
        data = fh.read(MAX_ENTRY_BYTES + 1)
    return _decode(data, key, path.name)


def _decode(data: bytes, key: str, name: str) -> Program | None:
    head, sep, payload = data.partition(b"\n")
    try:
        header = json.loads(head.decode("utf-8")) if sep else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        why = "not a cache entry of this format"
    elif header.get("engine") != engine_digest():
        why = "written by another engine version"
    elif header.get("key") != key:
        why = "for other rule files or limits"
    elif header.get("sha256") != hashlib.sha256(payload).hexdigest() or header.get("size") != len(payload):
        why = "truncated or altered (its digest does not match)"
    else:
        try:
            program = _SafeUnpickler(io.BytesIO(payload)).load()
        except Exception as err:  # noqa: BLE001 - any failure means: do not trust it
            why = f"refused ({one_line(err)})"
        else:
            from .program import Program

            if isinstance(program, Program):
                return program
            why = "does not hold a checked program"
    SETTINGS.note(f"cache entry ignored: {name}: {why}")
    return None


def one_line(err: BaseException) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only peelrules' own dataclasses and enums; every other name is refused before it is looked up
    further, so no function (os.system, builtins.eval, ...) can ever be reached from a payload."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES and name.isidentifier() and not name.startswith("_"):
            obj = getattr(__import__(module, fromlist=[name]), name, None)
            if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)):
                return obj
        raise pickle.UnpicklingError(f"the name {module}.{name} is not allowed in a cache entry")


def _same_sources(program: Program, sources: Sequence[SourceFile]) -> bool:
    """The entry's program was checked from exactly these files (a key collision is not a match)."""
    return [(s.name, s.text) for s in program.sources] == [(s.name, s.text) for s in sources]


def encode(program: Program, key: str) -> bytes:
    payload = pickle.dumps(program, protocol=5)
    header = {"engine": engine_digest(), "format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest(),
              "size": len(payload)}
    return json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload


def _write(path: Path, key: str, program: Program) -> None:
    """Store an entry atomically, private to the user; a failure only costs the cache."""
    try:
        data = encode(program, key)
    except Exception as err:  # noqa: BLE001 - a program that will not pickle is simply not cached
        SETTINGS.note(f"cache entry not written: {one_line(err)}")
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        SETTINGS.note(f"cache entry not written: {err.strerror or err}")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def clear() -> int:
    """Delete every entry of the cache folder; the number deleted."""
    folder = cache_dir() / "programs"
    count = 0
    if folder.is_dir() and not folder.is_symlink():
        for entry in folder.iterdir():
            if entry.suffix in (".program", ".tmp") and entry.is_file():
                entry.unlink(missing_ok=True)
                count += 1
    return count
