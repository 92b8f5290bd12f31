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
import functools
import enum
import hashlib
import io
import json
import os
import pickle
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .limits import Limits

if TYPE_CHECKING:
    from .facts import Bundle
    from .program import Program
    from .source import SourceFile

FORMAT = "peelrules-cache 1"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
# The modules whose dataclasses and enums a checked program is made of: the only names an entry may use.
# A validated bundle (a `.bundle` entry) adds the runtime evidence types and the tables' computed aggregates.
_ALLOWED_MODULES = frozenset({"peelrules.nodes", "peelrules.program", "peelrules.source", "peelrules.grades",
                              "peelrules.values", "peelrules.findings", "peelrules.facts", "peelrules.tablefacts",
                              "peelrules.peerfacts", "peelrules.stats"})


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
    """sha256 over each of peelrules' code and grammar files as Python itself tells a changed module from its
    bytecode cache (name, size and modification time): an entry from any other engine, or from this one after any
    of its files was edited, is never used."""
    global _ENGINE
    if _ENGINE is None:
        from .source import package_folder

        here = os.path.dirname(os.path.abspath(__file__))
        files = []
        for root, dirs, names in os.walk(here):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            files += [os.path.join(root, name) for name in sorted(names) if name.endswith(".py")]
        grammar = package_folder("peelrules.grammar")
        files.append(str(grammar / "peel.lark") if grammar is not None else
                     os.path.join(os.path.dirname(here), "grammar", "peel.lark"))
        h = hashlib.sha256(b"peelrules engine\n")  # __init__.py, which holds the version, is among the files
        for f in files:
            name = os.path.relpath(f, here)
            try:
                st = os.stat(f)
                h.update(f"{name} {st.st_size} {st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{name} absent\n".encode())
        _ENGINE = h.hexdigest()
    return _ENGINE


@functools.lru_cache(maxsize=64)
def limits_key(limits: Limits) -> bytes:
    """The limits that can change what is built, as bytes to digest: every one but max_errors, which only bounds
    how many messages are printed (and errors are never cached). Limits are frozen: each is written out once."""
    return json.dumps({k: v for k, v in dataclasses.asdict(limits).items() if k != "max_errors"},
                      sort_keys=True).encode()


def key_of(sources: Sequence[SourceFile], limits: Limits) -> str:
    """The entry key: the engine, the limits, and every rule file's name and bytes."""
    h = hashlib.sha256()
    h.update(engine_digest().encode())
    h.update(limits_key(limits))
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
    folder = trusted_folder()
    if folder is not None:
        program = _read(folder / f"{key}.program", key)
        if program is not None and _same_sources(program, sources):
            return program
        from .syntax import use_grammar_cache

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


def trusted_folder() -> Path | None:
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


def _read(path: Path, key: str, kind: str = "program") -> Any:
    """The payload of a trusted entry (a checked program, or a bundle record), or None."""
    data = read_entry(path)
    return None if data is None else _decode(data, key, path.name, kind)


def read_entry(path: Path) -> bytes | None:
    """The bytes of a cache file that this user wrote and nobody else can change, or None (the reason noted)."""
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
        return fh.read(MAX_ENTRY_BYTES + 1)


def split_entry(data: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """An entry's JSON header (None when its first line is not one) and its payload."""
    head, sep, payload = data.partition(b"\n")
    try:
        header = json.loads(head.decode("utf-8")) if sep else None
    except (UnicodeDecodeError, ValueError):
        header = None
    return (header if isinstance(header, dict) else None), payload


def _payload(data: bytes, key: str, other_key: str) -> tuple[bytes | None, str]:
    """An entry's payload if its header is of this format and engine, for this key, and its digest matches;
    else None and why not (`other_key` says what another key means for this kind of entry)."""
    header, payload = split_entry(data)
    if header is None or header.get("format") != FORMAT:
        return None, "not a cache entry of this format"
    if header.get("engine") != engine_digest():
        return None, "written by another engine version"
    if header.get("key") != key:
        return None, other_key
    if header.get("sha256") != hashlib.sha256(payload).hexdigest() or header.get("size") != len(payload):
        return None, "truncated or altered (its digest does not match)"
    return payload, ""


def _decode(data: bytes, key: str, name: str, kind: str = "program") -> Any:
    payload, why = _payload(data, key, "for other rule files or limits" if kind == "program"
                            else "for other inputs or limits")
    if payload is not None:
        try:
            value = _SafeUnpickler(io.BytesIO(payload)).load()
        except Exception as err:  # noqa: BLE001 - any failure means: do not trust it
            why = f"refused ({one_line(err)})"
        else:
            if kind == "program":
                from .program import Program

                if isinstance(value, Program):
                    return value
                why = "does not hold a checked program"
            elif kind == "bundle":
                record = _bundle_record(value)
                if record is not None:
                    return record
                why = "does not hold a validated bundle"
            else:  # table results: their shape is checked where they are used (aggregates.load_tables)
                return value
    SETTINGS.note(f"cache entry ignored: {name}: {why}")
    return None


def one_line(err: BaseException) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only peelrules' own dataclasses and enums; every other name is refused before it is looked up
    further, so no function (os.system, builtins.eval, ...) can ever be reached from a payload."""

    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES:
            return allowed_class(module, name)
        if (module, name) in _ALLOWED_VALUE_TYPES:  # the dates and times a table's aggregate can hold
            return getattr(__import__(module), name)
        raise pickle.UnpicklingError(f"the name {module}.{name} is not allowed in a cache entry")


def allowed_class(module: str, name: str) -> type:
    """A public dataclass or enum of `module` (one of peelrules' own); anything else is refused."""
    if name.isidentifier() and not name.startswith("_"):
        obj = getattr(__import__(module, fromlist=[name]), name, None)
        if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)):
            return obj
    raise pickle.UnpicklingError(f"the name {module}.{name} is not allowed in a cache entry")


# Value types of the standard library that an aggregate over a table may hold (min and max of a date or timestamp
# column): classes whose construction from pickled data runs nothing but their own checks.
_ALLOWED_VALUE_TYPES = frozenset({("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"),
                                  ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal")})


def _same_sources(program: Program, sources: Sequence[SourceFile]) -> bool:
    """The entry's program was checked from exactly these files (a key collision is not a match)."""
    return [(s.name, s.text) for s in program.sources] == [(s.name, s.text) for s in sources]


def encode(value: Any, key: str) -> bytes:
    payload = pickle.dumps(value, protocol=5)
    header = {"engine": engine_digest(), "format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest(),
              "size": len(payload)}
    return json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload


def _write(path: Path, key: str, value: Any) -> None:
    """Store an entry atomically, private to the user; a failure only costs the cache."""
    try:
        data = encode(value, key)
    except Exception as err:  # noqa: BLE001 - a value that will not pickle is simply not cached
        SETTINGS.note(f"cache entry not written: {one_line(err)}")
        return
    write_entry(path, data)


def write_entry(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write a cache file atomically (mode 0600, fsynced, renamed over the old one); False when it failed.

    The temporary file is named as write_atomic names its own (`.NAME.peel-tmp-PID-RANDOM`), so that one left by
    a process killed mid-write is removed by the next write into the folder (peelrules.output). `exclusive`:
    never replace a file that is there (it is linked into place, not renamed), for the code cache's key."""
    import tempfile

    from .output import remove_stale_temporaries, temp_prefix

    tmp = None
    try:
        remove_stale_temporaries(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)  # mode 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        tmp = None
        return True
    except FileExistsError:  # exclusive, and another process made it first
        return False
    except OSError as err:
        SETTINGS.note(f"cache entry not written: {err.strerror or err}")
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def clear() -> int:
    """Delete every entry of the cache folder (and temporary files left by a write that was cut short)."""
    from .output import TEMP_MARK

    folder = cache_dir() / "programs"
    count = 0
    if folder.is_dir() and not folder.is_symlink():
        for entry in folder.iterdir():
            ours = (entry.suffix in (".program", ".bundle", ".tables", ".code", ".svg", ".tmp")
                    or TEMP_MARK in entry.name)
            if (ours or entry.name == "code.key") and entry.is_file():  # the code cache's key: made anew
                entry.unlink(missing_ok=True)
                count += ours
    return count


# ---------------------------------------------------------------- validated bundles
#
# A `.bundle` entry holds one evidence bundle as loading and validating it gave it (facts with provenance, quotes
# checked, tables checked and their aggregates computed), for one evidence file and rule set. Its key digests the
# engine, the limits, the libraries the values come from, the evidence file's name and bytes and the keys of the
# rule sets it could be graded with; the entry also lists every other file the load read (documents whose quotes
# were checked, or that were looked for and not found; table files; the matches of a table's glob) with their
# sha256. Before an entry is used each of those is digested again: any byte changed, a file that appeared or
# went away, a table file now reached through a symbolic link, and the entry is not used.


@dataclasses.dataclass(frozen=True)
class BundleRecord:
    """A bundle entry's contents (stored as plain tuples, checked on the way in)."""

    bundle: Bundle
    rule_set: str | None  # the shipped rule set chosen for it, when none was given
    reads: tuple[tuple[str, ...], ...]  # ("file", path, sha256 or ""), ("table", folder, file, sha256),
    #                                      ("glob", folder, pattern, match, match, ...)


def _bundle_record(value: object) -> BundleRecord | None:
    from .facts import Bundle

    if not (isinstance(value, tuple) and len(value) == 3):
        return None
    bundle, rule_set, reads = value
    if not isinstance(bundle, Bundle) or not (rule_set is None or isinstance(rule_set, str)):
        return None
    if not isinstance(reads, tuple) or not all(isinstance(r, tuple) and r and all(isinstance(x, str) for x in r)
                                               for r in reads):
        return None
    return BundleRecord(bundle, rule_set, reads)


_LIBRARY_MODULES = (("yaml", "pyyaml"), ("pydantic", "pydantic"), ("pydantic_core", "pydantic_core"),
                    ("duckdb", "duckdb"))
# Where each library's package was found (looked up once a process), and the last answer of _libraries with the
# state of the folders it listed: a batch asks once a bundle, and finding four packages and listing their folders
# each time cost about 1 ms.
_LIBRARY_PLACES: list[Path | None] | None = None
_LIBRARIES: tuple[tuple[tuple[int, int, int, int] | None, ...], bytes] | None = None


def _libraries() -> bytes:
    """The versions of the libraries whose work a validated bundle holds (PyYAML, pydantic, DuckDB), from the names
    of their installed metadata folders, found without importing them.

    Where each package lives is found once a process; its folder is listed again whenever the folder has changed
    (its inode, modification or change time or size: installing or upgrading a package there changes them)."""
    global _LIBRARY_PLACES, _LIBRARIES
    if _LIBRARY_PLACES is None:
        _LIBRARY_PLACES = [_package_folder(module) for module, _ in _LIBRARY_MODULES]
    states = tuple(_folder_state(where) for where in _LIBRARY_PLACES)
    if _LIBRARIES is not None and _LIBRARIES[0] == states and None not in states:
        return _LIBRARIES[1]
    listed: dict[Path, tuple[str, ...]] = {}
    found = []
    for (module, project), where in zip(_LIBRARY_MODULES, _LIBRARY_PLACES):
        if where is not None and where not in listed:
            listed[where] = _listing(where)
        names = listed[where] if where is not None else ()
        found.append(_metadata_name(names, module, project))
    value = "\n".join(found).encode()
    _LIBRARIES = (states, value)
    return value


def _folder_state(folder: Path | None) -> tuple[int, int, int, int] | None:
    if folder is None:
        return (0, 0, 0, 0)  # not installed: nothing to list
    try:
        st = os.stat(folder)
    except OSError:
        return None  # listed afresh each time
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def library_version(module: str, project: str) -> str:
    """The name of a library's installed metadata folder (`matplotlib-3.9.2.dist-info`), which gives its version,
    found without importing it; the module's name alone when there is none."""
    where = _package_folder(module)
    return _metadata_name(_listing(where) if where is not None else (), module, project)


def _package_folder(module: str) -> Path | None:
    """The folder a module's package is installed in (site-packages), found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    return Path(spec.origin).parent.parent if spec is not None and spec.origin else None


def _metadata_name(names: tuple[str, ...], module: str, project: str) -> str:
    return next((n for n in names if n.lower().replace("-", "_").startswith(project + "-")), module)


def _listing(folder: Path) -> tuple[str, ...]:
    try:
        return tuple(sorted(n for n in os.listdir(folder) if n.endswith((".dist-info", ".egg-info"))))
    except OSError:
        return ()


def bundle_key(evidence: SourceFile, rule_keys: Sequence[str], limits: Limits, tables: str = "duckdb") -> str:
    """The key of a bundle entry: the engine, the limits, the libraries, the evidence file's name and bytes, the
    keys of the rule sets (the one given, or every shipped one the bundle's rule set is chosen from), and the
    engine that computed the table aggregates (`tables`: duckdb or spark), so one is never served for the other."""
    h = hashlib.sha256()
    for part in (b"bundle", engine_digest().encode(), limits_key(limits), _libraries(),
                 b"" if tables == "duckdb" else f"tables={tables}".encode(),
                 evidence.name.encode("utf-8", "surrogatepass"), (evidence.sha256 or "").encode(),
                 evidence.text.encode("utf-8", "surrogatepass") if not evidence.sha256 else b"",
                 *(k.encode() for k in rule_keys)):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def cached_bundle(evidence: SourceFile, rule_keys: Sequence[str], limits: Limits,
                  tables: str = "duckdb") -> BundleRecord | None:
    """The validated bundle of this evidence file, from a trusted entry whose every read file is unchanged."""
    if not SETTINGS.enabled:
        return None
    folder = trusted_folder()
    if folder is None:
        return None
    key = bundle_key(evidence, rule_keys, limits, tables)
    record = _read(folder / f"{key}.bundle", key, "bundle")
    if record is None:
        return None
    if record.bundle.file != evidence.name or record.bundle.sha256 != evidence.sha256:
        SETTINGS.note(f"cache entry ignored: {key}.bundle: for another evidence file")
        return None
    for read in record.reads:
        why = _changed(read)
        if why:
            SETTINGS.note(f"cache entry ignored: {key}.bundle: {why}")
            return None
    return record


def store_bundle(evidence: SourceFile, rule_keys: Sequence[str], limits: Limits, bundle: Bundle,
                 rule_set: str | None, reads: Sequence[tuple[str, ...]], tables: str = "duckdb") -> None:
    """Keep a validated bundle with the list of files its load read, as verified by cached_bundle."""
    if not SETTINGS.enabled or evidence.sha256 is None:
        return
    folder = trusted_folder()
    if folder is None:
        return
    key = bundle_key(evidence, rule_keys, limits, tables)
    _write(folder / f"{key}.bundle", key, (bundle, rule_set, tuple(tuple(r) for r in reads)))


# Digests of files this process has read, by what the open file's fstat says of it (docs/cache.md, "Within one
# process"): a batch of 1,000 bundles that share their table files and documents checks each bundle's entry
# against the same few files, and reading and hashing them again for every bundle was most of a warm load.
_DIGESTS: dict[tuple[str, int, int, int, int, int], str] = {}
_DIGESTS_MAX = 4096
_SETTLED_NS = 2_000_000_000  # a file modified less than 2 s before it was read is digested afresh every time


def file_digest(path: str | Path) -> str:
    """sha256 of a regular file's bytes (following links, as the documents are read); "" when there is none.

    Memoised within this process, keyed by the path and the open file's device, inode, size, modification and
    change times, so that a file written, replaced or touched since is digested again. A file modified in the
    last two seconds before it was read is never memoised: a write within the file system's timestamp
    granularity would otherwise leave both times and the size as they were."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return ""
            key = (os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            known = _DIGESTS.get(key)
            if known is not None:
                return known
            h = hashlib.sha256()
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
            digest = h.hexdigest()
            after = os.fstat(fh.fileno())  # unchanged while it was read, and not modified just before
            same = (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == key[2:]
            if same and time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS:
                if len(_DIGESTS) >= _DIGESTS_MAX:
                    _DIGESTS.clear()
                _DIGESTS[key] = digest
            return digest
    except (OSError, ValueError):
        return ""


def _changed(read: tuple[str, ...]) -> str | None:
    """Why a file the load read is not as it was then, or None."""
    kind, rest = read[0], read[1:]
    if kind == "file" and len(rest) == 2:
        path, sha = rest
        return None if file_digest(path) == sha else f"{path} has changed"
    if kind == "table" and len(rest) == 3:
        folder, name, sha = rest
        base = Path(folder).resolve()
        walked = base
        for part in Path(name).parts:
            walked = walked / part
            if walked.is_symlink():
                return f"{(Path(folder) / name).as_posix()} is reached through a symbolic link"
        return None if file_digest(base / name) == sha else f"{(Path(folder) / name).as_posix()} has changed"
    if kind == "glob" and len(rest) >= 2:
        folder, pattern, *matches = rest
        base = Path(folder).resolve()
        now = [p.relative_to(base).as_posix() for p in sorted(base.glob(pattern))]
        return None if now == matches else f"the files matching {pattern} have changed"
    return "an unknown kind of read"


# ---------------------------------------------------------------- table results
#
# A `.tables` entry holds a checked table's row count, or the aggregates of a rule set over a bundle's tables,
# keyed by the engine, the limits, the libraries and what aggregates.load_tables computed them from: the tables'
# declarations and every file's name and sha256, which load_tables computes afresh on every run. So a bundle whose
# YAML changed but whose tables did not is validated again without DuckDB reading the tables again.


@dataclasses.dataclass
class TableStore:
    """The disk cache as aggregates.load_tables reads and writes it (tablefacts.ResultStore). The folder is
    checked (trusted_folder) on first use, so a bundle without tables costs nothing here."""

    limits: Limits
    _folder: Path | None = dataclasses.field(default=None, repr=False)
    _looked: bool = dataclasses.field(default=False, repr=False)

    def _path(self, kind: str, key: str) -> tuple[Path, str] | None:
        if not self._looked:
            self._folder, self._looked = trusted_folder(), True
        if self._folder is None:
            return None
        h = hashlib.sha256()
        for part in (b"tables", kind.encode(), engine_digest().encode(), limits_key(self.limits), _libraries(),
                     key.encode("utf-8", "surrogatepass")):
            h.update(len(part).to_bytes(8, "big") + part)
        digest = h.hexdigest()
        return self._folder / f"{digest}.tables", digest

    def get(self, kind: str, key: str) -> object | None:
        found = self._path(kind, key)
        return _read(found[0], found[1], "tables") if found is not None else None

    def put(self, kind: str, key: str, value: object) -> None:
        found = self._path(kind, key)
        if found is not None:
            _write(found[0], found[1], value)


def table_store(limits: Limits) -> TableStore | None:
    """Where table results are kept for this run; None with --no-cache (an untrusted folder keeps nothing)."""
    return TableStore(limits) if SETTINGS.enabled else None


# ---------------------------------------------------------------- rendered text (charts)
#
# A `.svg` entry holds text a renderer made: a peer chart as matplotlib drew it (report/chart.py), keyed by what the
# drawing depends on (the caller gives the parts: the comparator file's sha256, the force, the method, the
# matplotlib version...) and the engine. Its payload is the text itself, UTF-8, never unpickled or run; it is still
# read only from the trusted folder and checked as every entry is (owner, mode, header, digest), since it goes
# into the report as it is.


def text_key(kind: str, parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for part in (kind, engine_digest(), *parts):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def cached_text(kind: str, parts: Sequence[str], build: Callable[[], str]) -> str:
    """The text `build()` makes for these parts: from a trusted `.<kind>` entry, or built (and then stored).
    With the cache off (--no-cache) it is built and nothing is read or written."""
    if not SETTINGS.enabled:
        return build()
    folder = trusted_folder()
    if folder is None:
        return build()
    key = text_key(kind, parts)
    path = folder / f"{key}.{kind}"
    data = read_entry(path)
    if data is not None:
        text = _decode_text(data, key, path.name)
        if text is not None:
            return text
    text = build()
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:  # not text a file can hold: not kept
        return text
    header = {"engine": engine_digest(), "format": FORMAT, "key": key, "kind": kind,
              "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    write_entry(path, json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload)
    return text


def _decode_text(data: bytes, key: str, name: str) -> str | None:
    payload, why = _payload(data, key, "for other inputs")
    if payload is not None:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            why = "not UTF-8 text"
    SETTINGS.note(f"cache entry ignored: {name}: {why}")
    return None
