"""The disk cache of validated bundles (peelrules/cache.py, docs/cache.md): a warm run reads no YAML and prints
the same bytes as --no-cache; any byte changed in the evidence, a document it quotes, a table file or a
comparator file it reads, a file that appears or goes away, and the bundle is loaded afresh; a damaged or
crafted entry is not used."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules import cache, evidence
from peelrules.cli import main
from peelrules.limits import DEFAULT_LIMITS
from peelrules.loader import read_source, rule_sources
from peelrules.output import TEMP_MARK

from conftest import LANCASHIRE, ROOT

DOCUMENT = "sources/000_d8ec0c1289d1da33.txt"
CSV = "tables/lancashire-stop-search-audit-2021.csv"
PARQUET = "tables/lancashire-999-calls-2021.parquet"
COMPARATOR = "comparators/dvpo-2021.yaml"


@pytest.fixture
def bundle(lancashire_copy: Path) -> Path:
    return lancashire_copy


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    where = tmp_path / "cache"
    monkeypatch.setenv("PEEL_CACHE_DIR", str(where))
    yield where
    cache.configure()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The evidence files validated (not taken from the cache) since the test began."""
    done: list[str] = []
    real = evidence.bundle_from_data

    def counting(src, *args, **kwargs):  # type: ignore[no-untyped-def]
        done.append(src.name)
        return real(src, *args, **kwargs)

    monkeypatch.setattr(evidence, "bundle_from_data", counting)
    return done


Run = Callable[..., "tuple[int, str, str]"]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    """`peel [--no-cache] evaluate BUNDLE ARGS...` in this process, as a new process would run it: the documents
    this process has read are forgotten first."""
    def invoke(path: Path, *args: str, cached: bool = True) -> tuple[int, str, str]:
        monkeypatch.setattr(evidence, "_DOCUMENT_LINES", {})
        result = CliRunner().invoke(main, [*([] if cached else ["--no-cache"]), "evaluate", str(path), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, result.stdout, result.stderr

    return invoke


def bundle_entries(folder: Path) -> list[Path]:
    return sorted((folder / "programs").glob("*.bundle"))


@pytest.mark.parametrize("args", [(), ("--format", "json"), ("--rules", str(ROOT / "rules" / "peel-2021-22"))],
                         ids=["text", "json", "rules given"])
def test_warm_run_validates_nothing_and_prints_the_same_bytes(folder: Path, bundle: Path, loads: list[str],
                                                              run: Run, args: tuple[str, ...]) -> None:
    cold = run(bundle, *args, cached=False)
    assert cold[0] == 0, cold
    assert not folder.exists(), "--no-cache writes nothing"
    first = run(bundle, *args)
    (entry,) = bundle_entries(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert len(loads) == 2
    warm = run(bundle, *args)
    assert len(loads) == 2, "the warm run took the validated bundle from the cache"
    assert warm == first == cold


def _edit_evidence(bundle: Path) -> None:
    text = bundle.read_text(encoding="utf-8")
    bundle.write_text(text.replace("force: Lancashire Constabulary", "force: Lancashire Police", 1), encoding="utf-8")


def _edit_document(bundle: Path) -> None:  # the quote of a finding is no longer on its line: an error
    doc = bundle.parent / DOCUMENT
    text = doc.read_text(encoding="utf-8")
    assert "is good at treating people fairly" in text
    doc.write_text(text.replace("is good at treating people fairly", "is good at treating people well"),
                   encoding="utf-8")


def _remove_document(bundle: Path) -> None:  # its quotes can no longer be checked, and the output says so
    (bundle.parent / DOCUMENT).unlink()


def _edit_csv(bundle: Path) -> None:  # fewer searches with reasonable grounds: the 999 share moves
    table = bundle.parent / CSV
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = [line.replace(",true\n", ",false\n") if i % 3 == 0 else line for i, line in enumerate(lines)]
    assert changed != lines
    table.write_text("".join(changed), encoding="utf-8")


def _edit_parquet(bundle: Path) -> None:  # the same columns, half the calls
    import duckdb

    table = bundle.parent / PARQUET
    smaller = table.with_name("smaller.parquet")
    duckdb.sql(f"COPY (SELECT * FROM '{table}' LIMIT 20000) TO '{smaller}' (FORMAT PARQUET)")
    smaller.replace(table)


def _link_csv(bundle: Path) -> None:  # the same bytes, now through a symbolic link, which tables refuse
    table = bundle.parent / CSV
    real = bundle.parent / "elsewhere.csv"
    table.rename(real)
    table.symlink_to(real)


def _glob_grows(bundle: Path) -> None:  # set up by the test with a glob: one more file matches it
    shutil.copyfile(bundle.parent / CSV, bundle.parent / "tables" / "lancashire-stop-search-audit-2022.csv")


def _edit_comparator(bundle: Path) -> None:  # Lancashire among its peers: no longer very low
    data = bundle.parent / COMPARATOR
    text = data.read_text(encoding="utf-8")
    assert "  Lancashire Constabulary: 1.2\n" in text
    data.write_text(text.replace("  Lancashire Constabulary: 1.2\n", "  Lancashire Constabulary: 6.1\n"),
                    encoding="utf-8")


EDITS = {
    "evidence edited": _edit_evidence,
    "document edited": _edit_document,
    "document removed": _remove_document,
    "CSV table edited": _edit_csv,
    "Parquet table edited": _edit_parquet,
    "table now a symlink": _link_csv,
    "glob matches one more file": _glob_grows,
    "comparator edited": _edit_comparator,
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_changed_input_is_loaded_afresh_and_prints_what_no_cache_prints(
        folder: Path, bundle: Path, loads: list[str], run: Run, edit: str) -> None:
    if edit == "glob matches one more file":
        text = bundle.read_text(encoding="utf-8")
        bundle.write_text(text.replace(f"file: {CSV}", "file: tables/lancashire-stop-search-audit-*.csv"),
                          encoding="utf-8")
    fmt = () if edit == "document removed" else ("--format", "json")  # the text says which quotes went unchecked
    before = run(bundle, *fmt)
    assert before[0] == 0, before
    assert run(bundle, *fmt) == before and len(loads) == 1, "the second run is from the cache"
    EDITS[edit](bundle)
    after = run(bundle, *fmt)
    assert len(loads) == 2, "the changed input was read and validated again"
    assert after == run(bundle, *fmt, cached=False)
    assert after != before, "the edit must change the output, or this test proves nothing"
    assert len(loads) == 3  # and once more for --no-cache
    if after[0] == 0:  # a bundle that now loads is cached again; one with errors never is
        assert run(bundle, *fmt) == after and len(loads) == 3
    else:
        assert run(bundle, *fmt) == after and len(loads) == 4


def test_a_document_that_appears_is_read(folder: Path, bundle: Path, loads: list[str], run: Run) -> None:
    doc = bundle.parent / DOCUMENT
    kept = doc.read_bytes()
    doc.unlink()
    before = run(bundle)
    assert "was not found beside the evidence" in before[1]
    doc.write_bytes(kept)
    after = run(bundle)
    assert len(loads) == 2 and after != before
    assert after == run(bundle, cached=False)


# ---------------------------------------------------------------- entries that must not be trusted


def _flip(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0x01
    entry.write_bytes(bytes(data))


def _other_key(entry: Path) -> None:
    head, _, payload = entry.read_bytes().partition(b"\n")
    entry.write_bytes(json.dumps({**json.loads(head), "key": "f" * 64}).encode() + b"\n" + payload)


def _not_a_bundle(entry: Path) -> None:  # a valid header over a payload that is no bundle record
    head, _, _ = entry.read_bytes().partition(b"\n")
    payload = pickle.dumps(("not", "a", "bundle"), protocol=5)
    header = {**json.loads(head), "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    entry.write_bytes(json.dumps(header).encode() + b"\n" + payload)


DAMAGES = {
    "flipped byte": (_flip, "truncated or altered"),
    "other key": (_other_key, "for other inputs or limits"),
    "group-writable": (lambda e: e.chmod(0o620), "group- or world-writable"),
    "not a bundle": (_not_a_bundle, "does not hold a validated bundle"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_bundle_entry_is_ignored_noted_and_rebuilt(folder: Path, bundle: Path, loads: list[str],
                                                             run: Run, damage: str) -> None:
    harm, why = DAMAGES[damage]
    first = run(bundle)
    (entry,) = bundle_entries(folder)
    harm(entry)
    again = CliRunner().invoke(main, ["--verbose", "evaluate", str(bundle)])
    assert again.exit_code == 0, again.output
    assert again.stdout == first[1]
    assert len(loads) == 2, "the damaged entry was not used"
    assert why in again.stderr, again.stderr


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_bundle_entry_never_runs_code(folder: Path, bundle: Path, loads: list[str], run: Run,
                                               tmp_path: Path) -> None:
    first = run(bundle)
    (entry,) = bundle_entries(folder)
    marker = tmp_path / "pwned"
    head, _, _ = entry.read_bytes().partition(b"\n")
    payload = pickle.dumps((_Exploit(marker), None, ()), protocol=5)
    header = {**json.loads(head), "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    entry.write_bytes(json.dumps(header, sort_keys=True).encode() + b"\n" + payload)
    again = CliRunner().invoke(main, ["--verbose", "evaluate", str(bundle)])
    assert not marker.exists(), "the crafted entry ran code"
    assert again.stdout == first[1] and len(loads) == 2
    assert "posix.system is not allowed" in again.stderr or "os.system is not allowed" in again.stderr


# ---------------------------------------------------------------- keys and temporary files


def test_max_errors_is_not_part_of_any_key() -> None:
    fewer = dataclasses.replace(DEFAULT_LIMITS, max_errors=3)
    sources = rule_sources(None)
    assert cache.key_of(sources, fewer) == cache.key_of(sources, DEFAULT_LIMITS)
    src = read_source(LANCASHIRE)
    assert cache.bundle_key(src, ["k"], fewer) == cache.bundle_key(src, ["k"], DEFAULT_LIMITS)
    other = dataclasses.replace(DEFAULT_LIMITS, max_facts=DEFAULT_LIMITS.max_facts + 1)
    assert cache.bundle_key(src, ["k"], other) != cache.bundle_key(src, ["k"], DEFAULT_LIMITS)


def test_temporary_files_of_a_killed_write_are_swept(folder: Path, bundle: Path, run: Run) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    programs = folder / "programs"
    programs.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    stale = programs / f".x.bundle{TEMP_MARK}{dead.pid}-abcd_123"
    stale.write_bytes(b"half an entry")
    stale.chmod(0o600)
    assert run(bundle)[0] == 0
    assert not stale.exists(), "the next write into the cache folder removes a dead process's temporary file"
    assert not [p for p in programs.iterdir() if TEMP_MARK in p.name]
    assert bundle_entries(folder)
    cache.configure()
    assert cache.clear() >= 1
    assert not bundle_entries(folder)
