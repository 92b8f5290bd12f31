"""The disk cache of compiled rule sets: the generated function's code, kept only under this user's secret key.

A `.code` entry holds what `compile_program` built for one checked program: the generated source and its code
object (marshal), the line map, the trace plans and the data the code reads. Unlike every other entry it is code
that peel runs, so the allow-list that keeps a `.program` entry harmless (cache.py) cannot be enough on its own.
An entry is used only when, beyond every check a `.program` entry passes (the folder and the file private to this
user; a header naming this format, this engine and this key, with the payload's sha256 and size), it carries an
HMAC-SHA256 of its header and payload under a key of 32 random bytes kept beside the entries (`code.key`, mode
0600, made the first time, never replaced). An entry without a valid MAC — written by anyone who does not hold
the key, copied from another account or machine, or altered in any byte — is never unmarshalled: it is ignored
(noted for `--verbose`) and the program is compiled afresh. A valid one is then read with the same allow-list
unpickler (peelrules' own dataclasses and enums; the program itself is not stored but passed in), and its code
is run only in the namespace the compiler gives it (no builtins). The key of an entry digests the engine, the
Python bytecode version and the rule sources, so another peelrules or another Python never reads it.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import marshal
import os
import pickle
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cache
from .values import UNKNOWN

if TYPE_CHECKING:
    from types import CodeType

    from .program import Program

FORMAT = "peelrules-code 1"
KEY_FILE = "code.key"
_KEY_BYTES = 32
# What a compiled program's parts are made of, beyond what a checked program is (cache.py's allow-list).
_CODE_MODULES = frozenset({"peelrules.compile", "peelrules.plan", "peelrules.result"})


def _python() -> str:
    import importlib.util

    return f"{sys.implementation.cache_tag} {importlib.util.MAGIC_NUMBER.hex()}"


def entry_key(digest: str) -> str:
    """The key of the code entry of the program whose rule sources have this digest (compile.sources_digest)."""
    h = hashlib.sha256()
    for part in (b"code", cache.engine_digest().encode(), _python().encode(), digest.encode()):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def load(program: Program, digest: str) -> tuple[Any, CodeType, Callable[[], Any]] | None:
    """The stored parts and code object of this program's compiled form, from an entry with a valid MAC, and how to
    load its trace plans (kept apart, unpickled only when a run is first traced); or None."""
    if not cache.SETTINGS.enabled or not digest:
        return None
    folder = cache.trusted_folder()
    secret = _secret(folder, make=False) if folder is not None else None
    if folder is None or secret is None:
        return None
    key = entry_key(digest)
    name = f"{key}.code"
    data = cache.read_entry(folder / name)
    if data is None:
        return None
    why, value = _decode(data, key, secret, program)
    if why is None:
        return value
    cache.SETTINGS.note(f"cache entry ignored: {name}: {why}")
    return None


def store(program: Program, digest: str, parts: Any, plans: Any, code: CodeType) -> None:
    """Keep a compiled program's parts, trace plans and code object, under a MAC made with this user's key."""
    if not cache.SETTINGS.enabled or not digest:
        return
    folder = cache.trusted_folder()
    secret = _secret(folder, make=True) if folder is not None else None
    if folder is None or secret is None:
        return
    key = entry_key(digest)
    try:
        data = encode(parts, plans, code, key, secret, program)
    except Exception as err:  # noqa: BLE001 - parts that will not pickle are simply not cached
        cache.SETTINGS.note(f"cache entry not written: {cache.one_line(err)}")
        return
    cache.write_entry(folder / f"{key}.code", data)


# ---------------------------------------------------------------- the entry


def _mac(secret: bytes, header: dict[str, Any], payload: bytes) -> str:
    signed = json.dumps({k: v for k, v in header.items() if k != "mac"}, sort_keys=True).encode("utf-8")
    return hmac.new(secret, signed + b"\n" + payload, hashlib.sha256).hexdigest()


def _pickle(value: Any, program: Program) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, program).dump(value)
    return buffer.getvalue()


def encode(parts: Any, plans: Any, code: CodeType, key: str, secret: bytes, program: Program) -> bytes:
    payload = _pickle((parts, marshal.dumps(code), _pickle(plans, program)), program)
    header: dict[str, Any] = {"engine": cache.engine_digest(), "format": FORMAT, "key": key, "python": _python(),
                              "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    header["mac"] = _mac(secret, header, payload)
    return json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload


def _decode(data: bytes, key: str, secret: bytes, program: Program) -> tuple[str | None, Any]:
    """(None, (parts, code, load_plans)) for an entry that holds; else (why not, None). Nothing is unpickled or
    unmarshalled before the MAC is checked."""
    header, payload = cache.split_entry(data)
    if header is None or header.get("format") != FORMAT:
        return "not a code entry of this format", None
    if header.get("engine") != cache.engine_digest() or header.get("python") != _python():
        return "written by another engine or Python version", None
    if header.get("key") != key:
        return "for other rule files", None
    if header.get("sha256") != hashlib.sha256(payload).hexdigest() or header.get("size") != len(payload):
        return "truncated or altered (its digest does not match)", None
    mac = header.get("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(secret, header, payload)):
        return "not signed with this user's key (code.key): not run", None
    try:
        parts, code, plans = _Unpickler(io.BytesIO(payload), program).load()
        value = (parts, marshal.loads(code), lambda: _Unpickler(io.BytesIO(plans), program).load())
    except Exception as err:  # noqa: BLE001 - any failure means: do not trust it
        return f"refused ({cache.one_line(err)})", None
    return None, value


class _Pickler(pickle.Pickler):
    """Stores the program by reference (the `.program` entry holds it), and the one unknown value as itself."""

    def __init__(self, file: io.BytesIO, program: Program):
        super().__init__(file, protocol=5)
        self.program = program

    def persistent_id(self, obj: Any) -> str | None:  # noqa: D102
        return "program" if obj is self.program else "unknown" if obj is UNKNOWN else None


class _Unpickler(cache._SafeUnpickler):
    def __init__(self, file: io.BytesIO, program: Program):
        super().__init__(file)
        self.program = program

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        if pid == "program":
            return self.program
        if pid == "unknown":
            return UNKNOWN
        raise pickle.UnpicklingError("unknown reference in a code entry")

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        if module in _CODE_MODULES:
            return cache.allowed_class(module, name)
        return super().find_class(module, name)


# ---------------------------------------------------------------- the key


def _secret(folder: Path, *, make: bool) -> bytes | None:
    """This user's key for code entries: 32 bytes in `code.key`, a regular file of this user that nobody else
    can read or write. Made (when `make`) the first time, linked into place so that it is never replaced."""
    path = folder / KEY_FILE
    if make and not os.path.lexists(path):
        cache.write_entry(path, os.urandom(_KEY_BYTES), exclusive=True)  # False: another process made it first
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        cache.SETTINGS.note(f"code cache off: {KEY_FILE}: {err.strerror or err}")
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        mine = not hasattr(os, "geteuid") or st.st_uid == os.geteuid()
        if not stat.S_ISREG(st.st_mode) or not mine or st.st_mode & 0o077 or st.st_size != _KEY_BYTES:
            cache.SETTINGS.note(f"code cache off: {KEY_FILE} is not a private {_KEY_BYTES}-byte file of this "
                                f"user (delete it, or run `peel cache clear`)")
            return None
        return fh.read(_KEY_BYTES)
