"""Fault injection (issue 14 part 1): what peel leaves behind when it is killed mid-write, when the disk is full
or the folder read-only, when an input changes or vanishes while it is read, and when several peel processes
write the same outputs at once.

Real `peel` processes only where the fault needs one (SIGKILL, concurrency, a failing standard output); the
rest runs in process through CliRunner. Kill points are drawn from a seeded generator (SEED), so a failure
names the point and replays. PEEL_TEST_FAULT is write_atomic's test-only hook (peelrules/output.py)."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from peelrules import output
from peelrules.cli import main as cli_main

from conftest import LANCASHIRE, PEEL, ROOT, SHIPPED_RULES

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(os.name != "posix", reason="SIGKILL, /dev/full and mounts are POSIX")]

SEED = 14
RULE_FILE = SHIPPED_RULES / "07-protecting-vulnerable-people.peel"
LANCASHIRE_DOC = LANCASHIRE.parent / "sources" / "000_d8ec0c1289d1da33.txt"
OLD = "old content, complete\n"


# ---------------------------------------------------------------- helpers


def peel(*args: object) -> Result:
    res = CliRunner().invoke(cli_main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in res.output
    return res


def leftovers(folder: Path) -> list[str]:
    """write_atomic's temporary files still in folder."""
    return sorted(p.name for p in folder.iterdir() if output.TEMP_MARK in p.name)


def unformatted(text: str) -> str:
    """The rule file with its indentation widened: `peel fmt` puts it back."""
    return "".join(("      " + line[2:]) if line.startswith("  ") else line for line in text.splitlines(True))


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(PEEL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, **(env or {})})


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


def reference(cmd: str, folder: Path) -> str:
    """What the command writes when nothing goes wrong (in process)."""
    folder.mkdir()
    if cmd == "fmt":
        target = folder / "rules.peel"
        target.write_text(unformatted(RULE_FILE.read_text(encoding="utf-8")), encoding="utf-8")
        assert peel("fmt", target).exit_code == 0
    else:
        target = folder / "out"
        args = ["evaluate", LANCASHIRE, "--format", "html"] if cmd == "evaluate" else ["evidence", "template"]
        assert peel(*args, "--out", target).exit_code == 0
    return target.read_text(encoding="utf-8")


def command(cmd: str, target: Path) -> list[str]:
    """The real process's arguments writing target (--no-cache: only the output file is written)."""
    if cmd == "fmt":
        return ["--no-cache", "fmt", str(target)]
    if cmd == "evaluate":
        return ["--no-cache", "evaluate", str(LANCASHIRE), "--format", "html", "--out", str(target)]
    return ["--no-cache", "evidence", "template", "--out", str(target)]


# ---------------------------------------------------------------- SIGKILL mid-write


@pytest.mark.parametrize("cmd", ["evaluate", "fmt", "template"])
def test_sigkill_at_any_point_leaves_the_old_file_or_the_whole_new_one(tmp_path: Path, cmd: str) -> None:
    new = reference(cmd, tmp_path / "reference")
    old = unformatted(RULE_FILE.read_text(encoding="utf-8")) if cmd == "fmt" else OLD
    rng = random.Random(f"{SEED}-{cmd}")
    size = len(new.encode("utf-8"))
    # three points inside the data, one after the last byte (before the rename), two at random times
    points = ([f"kill-after-bytes:{n}" for n in sorted(rng.sample(range(size), 3))] + ["kill-before-rename"]
              + [f"sigkill-after:{rng.uniform(0.0, 0.8):.3f}s" for _ in range(2)])
    runs = []
    started = time.monotonic()
    for i, point in enumerate(points):
        folder = tmp_path / f"point-{i}"
        folder.mkdir()
        target = folder / ("rules.peel" if cmd == "fmt" else "out.html")
        target.write_text(old, encoding="utf-8")
        hook = {} if point.startswith("sigkill") else {output.FAULT_VARIABLE: point}
        runs.append((point, target, spawn(command(cmd, target), hook)))
    for point, target, proc in sorted(runs, key=lambda r: r[0]):  # the random-time kills, earliest first
        if point.startswith("sigkill"):
            time.sleep(max(0.0, started + float(point.split(":")[1][:-1]) - time.monotonic()))
            proc.send_signal(signal.SIGKILL)  # it may have finished already: then the target must be new
    for point, target, proc in runs:
        proc.communicate(timeout=120)
        where = f"{cmd} killed at {point} (seed {SEED})"
        got = target.read_text(encoding="utf-8")
        assert got in (old, new), f"{where}: the target holds {len(got)} characters, neither old nor new"
        if not point.startswith("sigkill"):
            assert proc.returncode == -signal.SIGKILL, where
            assert got == old, where
            stale = leftovers(target.parent)  # SIGKILL leaves the temporary file: recognisable by its name
            assert stale == [f".{target.name}{output.TEMP_MARK}{proc.pid}-{stale[0][-8:]}"], where
            written = (target.parent / stale[0]).read_bytes()
            n = int(point.split(":")[1]) if ":" in point else size
            assert written == new.encode("utf-8")[:n], where
        elif proc.returncode == 0:
            assert got == new, where
    # the next write into each folder (here in process) removes what the killed process left, and succeeds
    for point, target, proc in runs:
        if cmd == "fmt":
            target.write_text(old, encoding="utf-8")
        res = peel(*command(cmd, target)[1:])
        assert res.exit_code == 0, res.output
        assert target.read_text(encoding="utf-8") == new
        assert leftovers(target.parent) == [], f"{cmd} at {point}: stale temporary files were not removed"


def test_stale_temporaries_of_running_processes_and_other_files_are_kept(tmp_path: Path) -> None:
    alive = tmp_path / f".a.html{output.TEMP_MARK}{os.getppid()}-abcdefgh"  # a running process: pytest's parent
    lookalike = tmp_path / f"notes{output.TEMP_MARK}1-abcdefgh"  # not a dot file: not ours
    dead_pid = spawn(["--version"])
    finish([dead_pid])
    dead = tmp_path / f".b.html{output.TEMP_MARK}{dead_pid.pid}-abcdefgh"
    for p in (alive, lookalike, dead):
        p.write_text("partial")
    assert output.remove_stale_temporaries(tmp_path) == [dead.name]
    assert alive.exists() and lookalike.exists() and not dead.exists()


# ---------------------------------------------------------------- a full disk, a read-only folder


def _write_cases(tmp_path: Path) -> list[tuple[str, list[object], Path, str]]:
    """(name, arguments, target, old content) of the three writing commands, their targets in tmp_path."""
    fmt_target = tmp_path / "rules.peel"
    old_rules = unformatted(RULE_FILE.read_text(encoding="utf-8"))
    fmt_target.write_text(old_rules, encoding="utf-8")
    out = tmp_path / "report.html"
    template = tmp_path / "template.yaml"
    for p in (out, template):
        p.write_text(OLD, encoding="utf-8")
    return [("evaluate", ["evaluate", LANCASHIRE, "--format", "html", "--out", out], out, OLD),
            ("fmt", ["fmt", fmt_target], fmt_target, old_rules),
            ("template", ["evidence", "template", "--out", template], template, OLD)]


def assert_refused(res, target: Path, old: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    assert f"cannot write '{target}'" in res.stderr, res.stderr
    assert reason in res.stderr, res.stderr
    assert "Traceback" not in res.output and "internal error" not in res.output
    assert target.read_text(encoding="utf-8") == old
    assert leftovers(target.parent) == []


def test_a_full_disk_through_the_fault_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(output.FAULT_VARIABLE, "enospc-after-bytes:100")
    for name, args, target, old in _write_cases(tmp_path):
        assert_refused(peel(*args), target, old, "No space left on device")


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    """A 64 KiB tmpfs mounted for the test (root with CAP_SYS_ADMIN, as in CI's container); else skipped."""
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_really_full_disk(tiny_tmpfs: Path) -> None:
    cases = _write_cases(tiny_tmpfs)  # about 30 KiB of old files on a 64 KiB file system
    filler = tiny_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill the rest: not even the 9 KiB rule file fits again
    try:
        while os.write(fd, b"x" * 1024):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for name, args, target, old in cases:
        assert_refused(peel(*args), target, old, "No space left on device")


def test_a_read_only_file_system(tiny_tmpfs: Path) -> None:
    cases = _write_cases(tiny_tmpfs)
    made = subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot remount read-only: {made.stderr.strip()}")
    for name, args, target, old in cases:
        assert_refused(peel(*args), target, old, "Read-only file system")


def test_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    cases = _write_cases(folder)
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes through 0555: make creating a file there fail as it would for a user
        real = output.tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):  # type: ignore[no-untyped-def]
            if dir is not None and Path(dir) == folder:
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(output.tempfile, "mkstemp", refuse)
    try:
        for name, args, target, old in cases:
            res = peel(*args)
            assert_refused(res, target, old, "Permission denied")
            assert f"cannot create a file in '{folder}'" in res.stderr
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_on_a_full_disk() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([str(PEEL), "evaluate", str(LANCASHIRE)], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write to standard output: No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "Exception ignored" not in proc.stderr


# ---------------------------------------------------------------- inputs that change while they are read


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A copy of the Lancashire bundle with its source document and tables beside it (fresh paths: nothing
    cached)."""
    (tmp_path / "sources").mkdir()
    shutil.copy(LANCASHIRE_DOC, tmp_path / "sources" / LANCASHIRE_DOC.name)
    shutil.copytree(LANCASHIRE.parent / "tables", tmp_path / "tables")
    shutil.copytree(LANCASHIRE.parent / "comparators", tmp_path / "comparators")  # and its comparator datasets
    shutil.copy(LANCASHIRE, tmp_path / "bundle.yaml")
    return tmp_path / "bundle.yaml"


class Interrupted:
    """Calls `change()` on the file at `path` at one moment of read_source's reading it (os.open and
    os.fdopen are wrapped for that one path; every other file opens as usual).

    at="before-open": between the stat and the open; at="mid-read": after half of the bytes were read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path, at: str, change) -> None:  # type: ignore[no-untyped-def]
        self.path, self.at, self.change, self.fired, self.fds = path.resolve(), at, change, False, set()
        real_open, real_fdopen = os.open, os.fdopen

        def fake_open(p, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
            mine = not self.fired and isinstance(p, (str, Path)) and Path(p).resolve() == self.path
            if mine and at == "before-open":
                self.fired = True
                change(self.path)
            fd = real_open(p, flags, *args, **kwargs)
            if mine and at == "mid-read":
                self.fds.add(fd)
            return fd

        def fake_fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
            fh = real_fdopen(fd, *args, **kwargs)
            return HalfThenChange(fh, self) if fd in self.fds else fh

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "fdopen", fake_fdopen)


class HalfThenChange:
    def __init__(self, fh, watch: Interrupted) -> None:  # type: ignore[no-untyped-def]
        self.fh, self.watch = fh, watch

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        self.fh.close()

    def fileno(self) -> int:
        return self.fh.fileno()

    def read(self, n: int = -1) -> bytes:
        first = self.fh.read(max(1, os.fstat(self.fh.fileno()).st_size // 2))
        self.watch.fired = True
        self.watch.change(self.watch.path)
        return first + self.fh.read()


def truncate_half(path: Path) -> None:
    data = path.read_bytes()
    with open(path, "r+b") as fh:
        fh.truncate(len(data) // 2)


def append_facts(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"\n# more written by someone else\n")


def vanish(path: Path) -> None:
    path.unlink()


def replace_whole(path: Path) -> None:
    """An atomic save: a complete copy renamed over the file (a new inode)."""
    shutil.copy(path, path.with_name("copy"))
    os.replace(path.with_name("copy"), path)


CHANGED = "changed while it was being read"


@pytest.mark.parametrize("at, change", [("before-open", truncate_half), ("mid-read", truncate_half),
                                        ("mid-read", append_facts)], ids=["truncated-before-open",
                                                                          "truncated-mid-read", "appended-mid-read"])
def test_an_evidence_file_changing_while_read_is_refused(bundle: Path, monkeypatch, at, change) -> None:
    watch = Interrupted(monkeypatch, bundle, at, change)
    res = peel("evaluate", bundle)
    assert watch.fired
    assert res.exit_code == 2, res.output
    assert f"'{bundle}' {CHANGED}" in res.stderr
    assert res.stdout == ""  # no grade from part of the file


def test_an_evidence_file_vanishing_before_it_is_opened(bundle: Path, monkeypatch) -> None:
    watch = Interrupted(monkeypatch, bundle, "before-open", vanish)
    res = peel("evaluate", bundle)
    assert watch.fired and res.exit_code == 2
    assert f"cannot read '{bundle}': No such file or directory" in res.stderr and res.stdout == ""


def test_an_evidence_file_replaced_whole_is_read_whole(bundle: Path, monkeypatch) -> None:
    expected = peel("evaluate", bundle, "--format", "csv").stdout
    watch = Interrupted(monkeypatch, bundle, "before-open", replace_whole)
    res = peel("evaluate", bundle, "--format", "csv")
    assert watch.fired and res.exit_code == 0, res.output
    assert res.stdout == expected


def test_a_rule_file_changing_while_read_is_refused(tmp_path: Path, monkeypatch) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, rules)
    victim = rules / RULE_FILE.name
    watch = Interrupted(monkeypatch, victim, "mid-read", truncate_half)
    res = peel("--no-cache", "evaluate", LANCASHIRE, "--rules", rules)
    assert watch.fired and res.exit_code == 2, res.output
    assert f"'{victim}' {CHANGED}" in res.stderr and res.stdout == ""


@pytest.mark.parametrize("command", ["evaluate", "verify"])
def test_a_source_document_changing_while_its_quotes_are_checked(bundle: Path, tmp_path, monkeypatch,
                                                                 command: str) -> None:
    trace = tmp_path / "trace.json"
    if command == "verify":
        assert peel("evaluate", bundle, "--format", "json", "--out", trace).exit_code == 0
        from peelrules import evidence
        monkeypatch.setattr(evidence, "_DOCUMENT_LINES", {})  # read the document again, as a new process would
    doc = bundle.parent / "sources" / LANCASHIRE_DOC.name
    watch = Interrupted(monkeypatch, doc, "mid-read", truncate_half)
    res = peel("evaluate", bundle) if command == "evaluate" else peel("verify", trace)
    assert watch.fired and res.exit_code == 2, res.output
    assert f"'{doc}' {CHANGED}" in res.stderr
    assert "verified" not in res.stdout and "Inadequate" not in res.stdout and res.stdout == ""


def test_a_half_written_source_document_fails_the_quote_check(bundle: Path) -> None:
    truncate_half(bundle.parent / "sources" / LANCASHIRE_DOC.name)  # left half-written by someone else
    res = peel("evaluate", bundle)
    assert res.exit_code == 2 and "PR310" in res.stderr and res.stdout == ""


def test_a_source_document_deleted_before_the_quote_check(bundle: Path, monkeypatch) -> None:
    """After the evidence is read, before its document is: the quotes are not checked, and the text report
    says so (the document is as good as absent, which evidence may be: docs/evidence.md)."""
    doc = bundle.parent / "sources" / LANCASHIRE_DOC.name
    watch = Interrupted(monkeypatch, doc, "before-open", vanish)
    res = peel("evaluate", bundle)
    assert watch.fired and res.exit_code == 0, res.output
    assert "note: quotes citing 'report' were not checked" in res.stdout


# ---------------------------------------------------------------- several peel processes at once


@pytest.mark.parametrize("n", [2, 4])
def test_concurrent_evaluate_writes_one_complete_report(tmp_path: Path, n: int) -> None:
    new = reference("evaluate", tmp_path / "reference")
    out = tmp_path / "report.html"
    env = {"PEEL_CACHE_DIR": str(tmp_path / "cache")}  # an empty cache they all race to fill
    results = finish([spawn(["evaluate", str(LANCASHIRE), "--format", "html", "--out", str(out)], env)
                      for _ in range(n)])
    assert [r[0] for r in results] == [0] * n, [r[2] for r in results]
    assert out.read_text(encoding="utf-8") == new
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("n", [2, 4])
def test_concurrent_fmt_of_one_file(tmp_path: Path, n: int) -> None:
    target = tmp_path / "rules.peel"
    target.write_text(unformatted(RULE_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    results = finish([spawn(["fmt", str(target)]) for _ in range(n)])
    assert [r[0] for r in results] == [0] * n, [r[2] for r in results]
    assert target.read_text(encoding="utf-8") == RULE_FILE.read_text(encoding="utf-8")
    assert leftovers(tmp_path) == []


def test_evaluate_while_fmt_rewrites_its_rules(tmp_path: Path) -> None:
    """Two `peel fmt` rewrite a rule set in place while two `peel evaluate --rules` read it: each reader sees
    every file whole (old or new layout), so the grades are those of a quiet run."""
    rules = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES, rules)
    for f in rules.glob("*.peel"):
        f.write_text(unformatted(f.read_text(encoding="utf-8")), encoding="utf-8")
    expected = peel("--no-cache", "evaluate", LANCASHIRE, "--format", "csv").stdout
    args = ["--no-cache", "evaluate", str(LANCASHIRE), "--rules", str(rules), "--format", "csv"]
    procs = [spawn(["fmt", str(rules)]), spawn(args), spawn(["fmt", str(rules)]), spawn(args)]
    results = finish(procs)
    assert [r[0] for r in results] == [0] * 4, [r[2] for r in results]
    assert results[1][1] == results[3][1] == expected
    for f in rules.glob("*.peel"):
        assert f.read_text(encoding="utf-8") == (SHIPPED_RULES / f.name).read_text(encoding="utf-8")
    assert leftovers(rules) == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
