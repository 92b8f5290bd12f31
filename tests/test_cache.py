"""The disk cache of checked rule sets (peelrules/cache.py, docs/cache.md): a second load comes from the cache,
the folder and entries are private, and no entry is trusted that is stale, damaged, written by someone else or
in a folder someone else can write to; a crafted entry never runs code."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import peelrules
from peelrules import cache
from peelrules.cli import main
from peelrules.limits import DEFAULT_LIMITS
from peelrules.loader import rule_sources

from conftest import LANCASHIRE, ROOT

MINI = ROOT / "tests" / "data" / "mini.peel"


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A fresh cache folder for one test (restored to the suite's own afterwards)."""
    where = tmp_path / "cache"
    cache.configure(directory=where)
    yield where
    cache.configure()


def load(builds: list[int], limits=DEFAULT_LIMITS) -> peelrules.Program:
    """The mini rule set through the cache, counting the times it had to be built."""
    sources = rule_sources(MINI, limits)

    def build() -> peelrules.Program:
        builds.append(1)
        return peelrules._check_rules(sources, limits)

    return cache.cached_program(sources, limits, build)


def entries(folder: Path) -> list[Path]:
    return sorted((folder / "programs").glob("*.program"))


def test_second_load_comes_from_the_cache_and_equals_a_fresh_build(folder: Path) -> None:
    builds: list[int] = []
    first = load(builds)
    second = load(builds)
    assert builds == [1], "the second load must not parse and check again"
    assert second == first
    assert second is not first
    assert len(entries(folder)) == 1


def test_a_cached_program_grades_byte_for_byte_as_a_fresh_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "cli-cache"
    monkeypatch.setenv("PEEL_CACHE_DIR", str(where))
    runner = CliRunner()
    # --rules: the shipped set named by the bundle is also kept in memory for the process, which would hide the cache
    args = ["evaluate", str(LANCASHIRE), "--rules", str(ROOT / "rules" / "peel-2021-22"), "--format", "json"]
    cold = runner.invoke(main, ["--no-cache", *args])
    assert cold.exit_code == 0, cold.output
    assert not where.exists()
    first = runner.invoke(main, args)
    written = sorted((where / "programs").glob("*.program"))
    assert len(written) == 1
    stamp = written[0].stat().st_mtime_ns
    warm = runner.invoke(main, ["--verbose", *args])
    assert warm.exit_code == 0, warm.output
    assert written[0].stat().st_mtime_ns == stamp, "the entry was used, not written again"
    assert warm.stdout == first.stdout == cold.stdout
    cache.configure()


def test_folder_is_private_and_entries_are_0600(folder: Path) -> None:
    load([])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "programs").stat().st_mode) == 0o700
    (entry,) = entries(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not [p for p in (folder / "programs").iterdir() if p.suffix == ".tmp" or ".peel-tmp-" in p.name], \
        "no temporary file is left"


def test_other_limits_give_another_entry(folder: Path) -> None:
    builds: list[int] = []
    load(builds)
    load(builds, dataclasses.replace(DEFAULT_LIMITS, max_facts=DEFAULT_LIMITS.max_facts + 1))
    assert builds == [1, 1]
    assert len(entries(folder)) == 2


def test_changed_rule_file_is_rebuilt(folder: Path, tmp_path: Path) -> None:
    rules = tmp_path / "mini.peel"
    rules.write_text(MINI.read_text(encoding="utf-8"), encoding="utf-8")
    builds: list[int] = []

    def run() -> None:
        sources = rule_sources(rules)
        cache.cached_program(sources, DEFAULT_LIMITS,
                             lambda: builds.append(1) or peelrules._check_rules(sources, DEFAULT_LIMITS))

    run()
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    run()
    run()
    assert builds == [1, 1]


# ---------------------------------------------------------------- entries that must not be trusted


def _damage_truncate(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])


def _damage_flip(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0x01
    entry.write_bytes(bytes(data))


def _rewrite_header(entry: Path, **changes: object) -> None:
    head, _, payload = entry.read_bytes().partition(b"\n")
    header = {**json.loads(head), **changes}
    entry.write_bytes(json.dumps(header).encode() + b"\n" + payload)


def _damage_engine(entry: Path) -> None:
    _rewrite_header(entry, engine="0" * 64)


def _damage_key(entry: Path) -> None:
    _rewrite_header(entry, key="f" * 64)


def _damage_not_header(entry: Path) -> None:
    entry.write_bytes(b"\x80\x05garbage without a header")


def _damage_group_writable(entry: Path) -> None:
    entry.chmod(0o620)


def _damage_world_writable(entry: Path) -> None:
    entry.chmod(0o602)


def _damage_symlink(entry: Path) -> None:
    real = entry.with_name("elsewhere")
    entry.rename(real)
    entry.symlink_to(real)


DAMAGES = {
    "truncated": (_damage_truncate, "truncated or altered"),
    "flipped byte": (_damage_flip, "truncated or altered"),
    "other engine": (_damage_engine, "another engine version"),
    "other rule digests": (_damage_key, "other rule files or limits"),
    "no header": (_damage_not_header, "not a cache entry"),
    "group-writable": (_damage_group_writable, "group- or world-writable"),
    "world-writable": (_damage_world_writable, "group- or world-writable"),
    "symlinked entry": (_damage_symlink, "cache entry ignored"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_untrusted_entry_is_ignored_noted_and_rebuilt(folder: Path, damage: str) -> None:
    harm, why = DAMAGES[damage]
    builds: list[int] = []
    good = load(builds)
    harm(entries(folder)[0] if damage != "symlinked entry" else next((folder / "programs").glob("*.program")))
    cache.SETTINGS.notes.clear()
    again = load(builds)
    assert builds == [1, 1], "the damaged entry must not be used"
    assert again == good
    assert any(why in note for note in cache.SETTINGS.notes), cache.SETTINGS.notes
    builds.clear()
    load(builds)
    assert builds == [], "the rebuilt entry replaced the damaged one and is used"


def _folder_symlinked(folder: Path) -> None:
    real = folder.parent / "real-cache"
    real.mkdir(mode=0o700)
    folder.symlink_to(real)


def _folder_group_writable(folder: Path) -> None:
    folder.mkdir(mode=0o700)
    folder.chmod(0o770)


def _folder_programs_world_writable(folder: Path) -> None:
    (folder / "programs").mkdir(mode=0o700, parents=True)
    folder.chmod(0o700)
    (folder / "programs").chmod(0o777)


def _folder_under_a_file(folder: Path) -> None:
    folder.parent.mkdir(exist_ok=True)
    blocker = folder.parent / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    cache.configure(directory=blocker / "cache")


FOLDERS = {
    "symlinked folder": (_folder_symlinked, "symbolic link"),
    "group-writable folder": (_folder_group_writable, "can be written by other users"),
    "world-writable programs folder": (_folder_programs_world_writable, "can be written by other users"),
    "folder cannot be made": (_folder_under_a_file, "cannot make"),
}


@pytest.mark.parametrize("case", FOLDERS, ids=list(FOLDERS))
def test_untrusted_folder_turns_the_cache_off_and_peel_still_works(folder: Path, case: str) -> None:
    prepare, why = FOLDERS[case]
    prepare(folder)
    builds: list[int] = []
    first = load(builds)
    second = load(builds)
    assert builds == [1, 1], "nothing is read from or written to an untrusted folder"
    assert first == second
    assert any(why in note for note in cache.SETTINGS.notes), cache.SETTINGS.notes
    assert not list(folder.parent.rglob("*.program"))


def test_read_only_folder_still_grades(folder: Path) -> None:
    """A cache folder that cannot be written (a read-only file system, here a folder without write permission):
    peel grades as usual, without caching. Root ignores permissions, so there the check is os.access."""
    (folder / "programs").mkdir(parents=True, mode=0o700)
    (folder / "programs").chmod(0o500)
    try:
        builds: list[int] = []
        load(builds)
        load(builds)
        if os.geteuid() != 0:
            assert builds == [1, 1]
            assert any("not writable" in note for note in cache.SETTINGS.notes), cache.SETTINGS.notes
        result = CliRunner().invoke(main, ["evaluate", str(LANCASHIRE)])
        assert result.exit_code == 0, result.output
    finally:
        (folder / "programs").chmod(0o700)


# ---------------------------------------------------------------- a crafted entry never runs code


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_crafted_entry_with_a_valid_header_never_runs_code(folder: Path, tmp_path: Path) -> None:
    """An attacker who could write an entry with a correct header and digest still cannot make peel call a
    function: the payload may name only peelrules' own dataclasses and enums."""
    builds: list[int] = []
    load(builds)
    (entry,) = entries(folder)
    marker = tmp_path / "pwned"
    head, _, _ = entry.read_bytes().partition(b"\n")
    header = json.loads(head)
    payload = pickle.dumps(_Exploit(marker), protocol=5)
    assert b"system" in payload  # it would run `touch` if unpickled plainly
    header.update(sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    entry.write_bytes(json.dumps(header, sort_keys=True).encode() + b"\n" + payload)
    cache.SETTINGS.notes.clear()
    load(builds)
    assert not marker.exists(), "the crafted entry ran code"
    assert builds == [1, 1]
    assert any("is not allowed in a cache entry" in note for note in cache.SETTINGS.notes), cache.SETTINGS.notes


def test_crafted_entry_naming_builtins_is_refused(folder: Path) -> None:
    load([])
    (entry,) = entries(folder)
    head, _, _ = entry.read_bytes().partition(b"\n")
    header = json.loads(head)
    payload = b"\x80\x05cbuiltins\neval\n\x8c\x0bprint('hi')\x85R."
    header.update(sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    entry.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    builds: list[int] = []
    load(builds)
    assert builds == [1]
    assert any("builtins.eval is not allowed" in note for note in cache.SETTINGS.notes), cache.SETTINGS.notes


# ---------------------------------------------------------------- the command line


def test_no_cache_writes_nothing_and_verbose_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "cli-cache"
    monkeypatch.setenv("PEEL_CACHE_DIR", str(where))
    runner = CliRunner()
    done = runner.invoke(main, ["--no-cache", "check", str(MINI)])
    assert done.exit_code == 0, done.output
    assert not where.exists()
    done = runner.invoke(main, ["check", str(MINI)])
    assert done.exit_code == 0, done.output
    (entry,) = sorted((where / "programs").glob("*.program"))
    entry.chmod(0o666)
    done = runner.invoke(main, ["--verbose", "check", str(MINI)])
    assert done.exit_code == 0, done.output
    assert "cache entry ignored" in done.stderr and "group- or world-writable" in done.stderr
    cache.configure()


def test_cache_dir_and_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / "cli-cache"
    monkeypatch.setenv("PEEL_CACHE_DIR", str(where))
    runner = CliRunner()
    assert runner.invoke(main, ["cache", "dir"]).stdout.strip() == str(where)
    runner.invoke(main, ["check", str(MINI)])
    assert len(list((where / "programs").glob("*.program"))) == 1
    done = runner.invoke(main, ["cache", "clear"])
    assert done.exit_code == 0 and "deleted 1 cache entry" in done.stdout
    assert not list((where / "programs").glob("*.program"))
    cache.configure()


def test_lark_parse_tables_are_cached_privately(folder: Path) -> None:
    from peelrules import syntax

    syntax.parser.cache_clear()
    try:
        load([])
        (tables,) = (folder / "programs").glob("grammar-*.lark")
        assert stat.S_IMODE(tables.stat().st_mode) == 0o600
        assert syntax.GRAMMAR_CACHE == str(tables)
    finally:
        syntax.use_grammar_cache(False)
        syntax.parser.cache_clear()


# ---------------------------------------------------------------- file digests within one process (docs/cache.md)


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if every file had been written long before it is read: its digest may be remembered."""
    now = cache.time.time_ns()
    monkeypatch.setattr(cache.time, "time_ns", lambda: now + 60 * 10**9)


def test_a_remembered_digest_is_not_used_for_a_file_changed_since(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    _settled(monkeypatch)
    f = tmp_path / "t.csv"
    f.write_bytes(b"a,b\n1,2\n")
    before = os.stat(f)
    assert cache.file_digest(f) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert any(k[0] == str(f) for k in cache._DIGESTS)  # remembered
    time.sleep(0.05)  # the change time moves on (timestamps advance in ticks)
    with open(f, "r+b") as fh:  # rewritten in place: same size, same inode, modification time put back
        fh.write(b"a,b\n3,4\n")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache.file_digest(f) == hashlib.sha256(b"a,b\n3,4\n").hexdigest()
    other = tmp_path / "new.csv"
    other.write_bytes(b"a,b\n5,6\n")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, f)  # replaced by another file of the same size and times
    assert cache.file_digest(f) == hashlib.sha256(b"a,b\n5,6\n").hexdigest()


def test_a_file_modified_just_before_it_is_read_is_not_remembered(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_bytes(b"x\n")
    assert cache.file_digest(f) == hashlib.sha256(b"x\n").hexdigest()
    assert not any(k[0] == str(f) for k in cache._DIGESTS)
