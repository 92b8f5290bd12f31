"""The disk cache of compiled rule sets (peelrules/code_cache.py, docs/cache.md): a warm run takes the generated
function from its entry instead of generating and compiling it again, grades and traces exactly as a fresh
compile, and runs no code from an entry that is not signed with this user's key."""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import peelrules
from peelrules import cache, code_cache
from peelrules import compile as compiled
from peelrules.report.trace_json import dumps, trace_document

from conftest import LANCASHIRE, ROOT

RULES = ROOT / "rules" / "peel-2021-22"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A fresh cache folder for one test, and an empty in-memory cache of compiled programs."""
    where = tmp_path / "cache"
    cache.configure(directory=where)
    compiled.clear_cache()
    yield where
    compiled.clear_cache()
    cache.configure()


def program_and_bundle() -> tuple[peelrules.Program, peelrules.Bundle]:
    program = peelrules.load_rules(RULES)
    return program, peelrules.load_evidence(LANCASHIRE, program)


def code_entries(folder: Path) -> list[Path]:
    return sorted((folder / "programs").glob("*.code"))


def traced_json(program: peelrules.Program, bundle: peelrules.Bundle) -> str:
    result, traces = compiled.compile_program(program).explain(bundle)
    return dumps(trace_document(program, [(bundle, traces)], None)) + repr(result)


def never_generate(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object) -> str:
        raise AssertionError("the program was generated again, not taken from its cache entry")

    monkeypatch.setattr(compiled._Generator, "generate", refuse)


def test_a_warm_compile_comes_from_the_entry_and_grades_and_traces_as_a_fresh_one(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program, bundle = program_and_bundle()
    fresh = traced_json(program, bundle)
    (entry,) = code_entries(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    key = folder / "programs" / code_cache.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    compiled.clear_cache()
    never_generate(monkeypatch)
    warm = compiled.compile_program(program)
    assert callable(warm.plans), "the trace plans are loaded only when a run is first traced"
    assert warm.run(bundle) == compiled.compile_program(program).run(bundle)
    assert traced_json(program, bundle) == fresh
    assert not cache.SETTINGS.notes


def craft(folder: Path, program: peelrules.Program, secret: bytes) -> Path:
    """An entry for `program` whose code, if it ran, leaves a mark (`CRAFTED`) in its function's globals, with a
    correct header and digest, signed with `secret`."""
    digest = compiled.sources_digest(program)
    key = code_cache.entry_key(digest)
    real = compiled._build(program, digest)
    evil = compile("CRAFTED = True\n" + real.source, "<crafted>", "exec")
    parts = compiled.CompiledParts(digest, real.source, real.line_map, real.area_reads, {})
    path = folder / "programs" / f"{key}.code"
    path.write_bytes(code_cache.encode(parts, real.plans, evil, key, secret, program))
    path.chmod(0o600)
    return path


def test_an_entry_not_signed_with_this_users_key_never_runs(folder: Path) -> None:
    program, bundle = program_and_bundle()
    expected = compiled.compile_program(program).run(bundle)
    compiled.clear_cache()
    craft(folder, program, secret=os.urandom(32))
    again = compiled.compile_program(program)
    assert "CRAFTED" not in again.grade.__globals__, "code from an entry with a forged MAC ran"
    assert again.run(bundle) == expected
    assert any("not signed with this user's key" in n for n in cache.SETTINGS.notes), cache.SETTINGS.notes


def test_an_entry_signed_with_the_key_is_what_runs(folder: Path) -> None:
    """The converse, so that the test above can fail: with the user's key, the same crafted entry is used."""
    program, _ = program_and_bundle()
    compiled.compile_program(program)  # makes the key
    secret = (folder / "programs" / code_cache.KEY_FILE).read_bytes()
    compiled.clear_cache()
    craft(folder, program, secret=secret)
    used = compiled.compile_program(program)
    assert used.grade.__globals__.get("CRAFTED") is True
    assert "open" not in used.grade.__globals__["__builtins__"], "even a signed entry's code runs with no builtins"


@pytest.mark.parametrize("damage", ["flip a byte", "other python", "truncate"])
def test_a_damaged_entry_is_ignored_and_rebuilt(folder: Path, damage: str) -> None:
    program, bundle = program_and_bundle()
    expected = compiled.compile_program(program).run(bundle)
    (entry,) = code_entries(folder)
    data = entry.read_bytes()
    head, _, payload = data.partition(b"\n")
    if damage == "flip a byte":
        data = head + b"\n" + payload[:-10] + bytes([payload[-10] ^ 1]) + payload[-9:]
    elif damage == "other python":
        header = json.loads(head)
        header["python"] = "cpython-39 610d0d0a"
        secret = (folder / "programs" / code_cache.KEY_FILE).read_bytes()
        header["mac"] = code_cache._mac(secret, header, payload)
        data = json.dumps(header, sort_keys=True).encode() + b"\n" + payload
    else:
        data = data[: len(data) // 2]
    entry.write_bytes(data)
    compiled.clear_cache()
    assert compiled.compile_program(program).run(bundle) == expected
    why = {"flip a byte": "digest does not match", "other python": "another engine or Python version",
           "truncate": "digest does not match"}[damage]
    assert any(why in n for n in cache.SETTINGS.notes), cache.SETTINGS.notes
    assert entry.read_bytes() != data, "the entry was rebuilt"


def test_a_key_others_can_read_turns_the_code_cache_off(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program, bundle = program_and_bundle()
    expected = compiled.compile_program(program).run(bundle)
    key = folder / "programs" / code_cache.KEY_FILE
    key.chmod(0o644)
    compiled.clear_cache()
    assert compiled.compile_program(program).run(bundle) == expected
    assert any("code cache off" in n for n in cache.SETTINGS.notes), cache.SETTINGS.notes
    compiled.clear_cache()
    never_generate(monkeypatch)
    with pytest.raises(AssertionError, match="generated again"):
        compiled.compile_program(program)


def test_no_cache_writes_no_code_and_clear_removes_code_and_key(folder: Path) -> None:
    cache.configure(enabled=False, directory=folder)
    program, _ = program_and_bundle()
    compiled.compile_program(program)
    assert not folder.exists()
    cache.configure(directory=folder)
    compiled.clear_cache()
    compiled.compile_program(program)
    assert code_entries(folder)
    cache.clear()
    assert not code_entries(folder) and not (folder / "programs" / code_cache.KEY_FILE).exists()


def test_the_key_is_made_once_and_never_replaced(folder: Path) -> None:
    program, _ = program_and_bundle()
    compiled.compile_program(program)
    key = folder / "programs" / code_cache.KEY_FILE
    first = key.read_bytes()
    code_entries(folder)[0].unlink()
    compiled.clear_cache()
    compiled.compile_program(program)
    assert key.read_bytes() == first
    assert code_entries(folder)
