"""Hostile input: every case of tests/hostile/ (checked-in files listed in manifest.yaml, and the big, binary
and file-system cases of generators.py) is run as the real `peel` command, in a subprocess with a time and
memory limit, and must be refused cleanly:

- the documented exit code (1 a failing check or rule test, 2 bad input), never 3 (internal error) or a signal;
- no traceback, and output that is valid UTF-8 without control characters or escape sequences;
- the expected diagnostic code, and the file's name (escaped for a terminal) with line:column where it has one;
- no file created or changed: the folder given to --out / --junit stays empty, and every file of the work folder
  (the inputs among them) keeps its bytes; nothing is left beside them.

Cases marked `known` are problems in modules this corpus may not fix; they are strict xfails, so they turn into
failures (to be unmarked) once fixed. Plus: byte-identical output under different hash seeds, time zones,
locales and working directories; a byte order mark accepted alike by every kind of file; zero denominators.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from hostile import generators as gen
from peelrules.diagnostics import one_line

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "hostile"
DATA = ROOT / "tests" / "data"
PEEL = Path(sys.executable).parent / "peel"
MEMORY = 2 * 1024 ** 3
WORKERS = 2
# Control characters (tab and newline aside), DEL, C1, direction-changing and line-separating characters:
# none may reach a terminal.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
DEFAULT_RUN = {"evidence": ["evaluate"], "rules": ["check"], "cases": ["test"], "traces": ["verify"]}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


# ---------------------------------------------------------------- jobs: one `peel` run and what it must do


@dataclass
class Job:
    case: gen.Case
    work: Path  # the folder the command runs in; nothing in it may change
    group: str  # jobs of one group share a work folder and never run at the same time
    id: str = ""
    result: Result | None = None


@dataclass
class Result:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    before: dict[str, tuple] = field(default_factory=dict)
    after: dict[str, tuple] = field(default_factory=dict)
    keep: dict[str, int] = field(default_factory=dict)  # mode of each `keep` path afterwards


def _work_folder(base: Path, tag: str) -> Path:
    work = base / tag / "work"
    work.mkdir(parents=True)
    shutil.copy(DATA / "mini.peel", work / gen.MINI)
    shutil.copy(DATA / "mini-evidence.yaml", work / gen.MINI_EVIDENCE)
    return work


def _manifest_jobs(base: Path) -> list[Job]:
    jobs = []
    for entry in yaml.safe_load((HOSTILE / "manifest.yaml").read_text(encoding="utf-8")):
        folder, file = entry["file"].split("/")
        for command in entry.get("run", DEFAULT_RUN[folder]):
            tag = f"{folder}-{file}-{command}"
            work = _work_folder(base, tag)
            shutil.copy(HOSTILE / folder / file, work / file)
            out = work.parent / "out"
            out.mkdir()
            code = entry.get("code")
            exit_code = entry.get("exit", (2 if code and code.startswith("PR4") else 1) if command == "check" else 2)
            argv: list[str | bytes] = {
                "check": ["check", file],
                "fmt": ["fmt", file],
                "evaluate": (["evaluate", gen.MINI_EVIDENCE, "--rules", file] if folder == "rules"
                             else ["evaluate", file, "--rules", gen.MINI]) + ["--out", str(out / "result.txt")],
                "explain": ["explain", file, "--rules", gen.MINI],
                "template": ["evidence", "template", "--rules", file, "--out", str(out / "template.yaml")],
                "test": ["test", file, "--rules", gen.MINI, "--junit", str(out / "junit.xml")],
                "verify": ["verify", file],
            }[command]
            # a rule test run that fails (exit 1) writes its JUnit report, as it should
            case = gen.Case(f"{folder}/{file}::{command}", entry["class"], argv, exit_code, code, entry.get("at"),
                            entry.get("name", file), out if exit_code == 2 else None, entry.get("known"))
            jobs.append(Job(case, work, tag, case.id))
    return jobs


def _generated_jobs(base: Path) -> list[Job]:
    jobs = []
    for fn in gen.GENERATORS:
        work = _work_folder(base, f"gen-{fn.__name__}")
        for case in fn(work):
            jobs.append(Job(case, work, fn.__name__, f"gen/{case.id}"))
    return jobs


BASE = Path(tempfile.mkdtemp(prefix="peel-hostile-"))
atexit.register(shutil.rmtree, BASE, ignore_errors=True)
JOBS = _manifest_jobs(BASE / "files") + _generated_jobs(BASE / "gen")
assert len({j.id for j in JOBS}) == len(JOBS), "case ids are unique"


def _snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under folder (links not followed): its type, and the digest of a regular file's bytes."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(folder)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.fsdecode(os.path.relpath(path, os.fsencode(folder)))
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    out[rel] = ("file", hashlib.sha256(fh.read()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            else:
                out[rel] = ("other", stat.S_IFMT(st.st_mode))
    return out


def _run_all(jobs: list[Job], logs: Path) -> None:
    """Run the jobs, WORKERS at a time (never two of one group together), each with its time and memory limit.

    Popen from this one thread, so that preexec_fn (the memory limit) is safe; output goes to files."""
    pending = list(jobs)
    running: dict[str, tuple[Job, subprocess.Popen, float, object, object]] = {}
    logs.mkdir(parents=True, exist_ok=True)
    while pending or running:
        busy = {job.group for job, *_ in running.values()}
        while len(running) < WORKERS:
            job = next((j for j in pending if j.group not in busy), None)
            if job is None:
                break
            pending.remove(job)
            busy.add(job.group)
            before = _snapshot(job.work)
            out_f = (logs / f"{len(pending)}-{id(job)}.out").open("w+b")
            err_f = (logs / f"{len(pending)}-{id(job)}.err").open("w+b")
            proc = subprocess.Popen([str(PEEL), *job.case.argv], cwd=job.work, stdin=subprocess.DEVNULL,
                                    stdout=out_f, stderr=err_f, preexec_fn=_limit_memory, start_new_session=True)
            job.result = Result(None, b"", b"", 0.0, before)
            running[job.id] = (job, proc, time.monotonic(), out_f, err_f)
        time.sleep(0.02)
        for key, (job, proc, started, out_f, err_f) in list(running.items()):
            elapsed = time.monotonic() - started
            if proc.poll() is None and elapsed < job.case.timeout:
                continue
            if proc.poll() is None:  # a hang: stop it and its children
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                code = None
            else:
                code = proc.returncode
            for f in (out_f, err_f):
                f.seek(0)
            assert job.result is not None
            job.result.returncode = code
            job.result.stdout, job.result.stderr = out_f.read(), err_f.read()
            out_f.close()
            err_f.close()
            job.result.seconds = elapsed
            job.result.after = _snapshot(job.work)
            job.result.keep = {p: os.stat(p).st_mode for p in job.case.keep}
            del running[key]


@pytest.fixture(scope="module")
def ran(request: pytest.FixtureRequest) -> dict[str, Job]:
    """Run the selected jobs once, in parallel; each test then checks its own."""
    wanted = {item.callspec.params["job"].id for item in request.session.items
              if getattr(item, "callspec", None) is not None and isinstance(item.callspec.params.get("job"), Job)}
    jobs = [j for j in JOBS if j.id in wanted]
    _run_all(jobs, BASE / "logs")
    return {j.id: j for j in jobs}


def _param(job: Job) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=job.case.known)] if job.case.known else []
    return pytest.param(job, id=job.id, marks=marks)


@pytest.mark.parametrize("job", [_param(j) for j in JOBS])
def test_hostile_input_is_refused_cleanly(job: Job, ran: dict[str, Job]) -> None:
    case, result = job.case, ran[job.id].result
    assert result is not None
    command = "peel " + " ".join(os.fsdecode(a) if isinstance(a, bytes) else a for a in case.argv)
    assert result.returncode is not None, f"{command}: no answer within {case.timeout:g} s (a hang)"
    assert result.returncode >= 0, f"{command}: killed by signal {-result.returncode}"
    stdout = result.stdout.decode("utf-8")  # the output is UTF-8, whatever the input was
    stderr = result.stderr.decode("utf-8")
    shown = stdout + stderr
    assert "Traceback" not in shown, shown
    assert result.returncode != 3, f"{command}: internal error\n{shown}"
    assert result.returncode == case.exit, f"{command}: exit {result.returncode}, expected {case.exit}\n{shown}"
    bad = CONTROL.search(shown)
    assert bad is None, f"{command}: control character U+{ord(bad.group()):04X} in the output\n{shown!r}"
    if case.code:
        assert re.search(rf"(error|warning)\[{case.code}\]", shown), f"{command}: no {case.code} in\n{shown}"
    if case.name is not None:
        name = one_line(os.fsdecode(case.name) if isinstance(case.name, bytes) else case.name)
        assert name in shown, f"{command}: the message does not name {name!r}\n{shown}"
        if case.at:
            where = f"{name}:{case.at}" + ("" if ":" in case.at else ":")
            assert where in shown, f"{command}: no {where!r} in\n{shown}"
    if case.out is not None:
        left = sorted(p.name for p in case.out.iterdir())
        assert not left, f"{command}: files left in the --out folder: {left}"
    changed = {k: (result.before.get(k), result.after.get(k)) for k in result.before.keys() | result.after.keys()
               if result.before.get(k) != result.after.get(k)}
    assert not changed, f"{command}: files created or changed: {changed}"
    for path, mode in result.keep.items():
        assert not stat.S_ISREG(mode), f"{command}: {path} was replaced by a regular file"


def test_corpus_covers_every_class() -> None:
    """At least 80 distinct bad inputs, spread over the failure classes 1-12 (13 is tested below)."""
    inputs = {j.case.id.split("::")[0] for j in JOBS if j.case.exit != 0}
    assert len(inputs) >= 80, len(inputs)
    by_class: dict[int, int] = {}
    for j in JOBS:
        by_class[j.case.cls] = by_class.get(j.case.cls, 0) + 1
    assert set(range(1, 13)) <= set(by_class), by_class


def test_manifest_lists_every_file() -> None:
    listed = {e["file"] for e in yaml.safe_load((HOSTILE / "manifest.yaml").read_text(encoding="utf-8"))}
    on_disk = {f"{d}/{p.name}" for d in DEFAULT_RUN for p in (HOSTILE / d).iterdir()}
    assert listed == on_disk


# ---------------------------------------------------------------- 13 determinism


def _peel(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    return subprocess.run([str(PEEL), *args], cwd=cwd, env=full, capture_output=True, timeout=120,
                          preexec_fn=_limit_memory)


ENVIRONMENTS = [
    ({"PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C.UTF-8"}, "root"),
    ({"PYTHONHASHSEED": "4242", "TZ": "Pacific/Chatham", "LC_ALL": "C"}, "tmp"),
    ({"PYTHONHASHSEED": "random", "TZ": "America/St_Johns", "LC_ALL": "POSIX"}, "slash"),
]


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_output_is_byte_identical_everywhere(fmt: str, tmp_path: Path) -> None:
    evidence = str(ROOT / "evidence" / "lancashire-2022.yaml")  # the same string in every run
    outputs = []
    for env, where in ENVIRONMENTS:
        cwd = {"root": ROOT, "tmp": tmp_path, "slash": Path("/")}[where]
        done = _peel("evaluate", evidence, "--format", fmt, cwd=cwd, env=env)
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout)
    assert outputs[0], "no output"
    assert all(o == outputs[0] for o in outputs[1:]), "the output depends on the environment"


def test_output_file_is_byte_identical_to_stdout(tmp_path: Path) -> None:
    evidence = str(ROOT / "evidence" / "lancashire-2022.yaml")
    printed = _peel("evaluate", evidence, "--format", "json", cwd=tmp_path).stdout
    done = _peel("evaluate", evidence, "--format", "json", "--out", "trace.json", cwd=tmp_path,
                 env={"PYTHONHASHSEED": "99", "TZ": "Asia/Kathmandu"})
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "trace.json").read_bytes() == printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.json"], "a temporary file was left behind"


# ---------------------------------------------------------------- edge cases that are accepted


def test_byte_order_mark_is_accepted_by_every_kind_of_file(tmp_path: Path) -> None:
    """A UTF-8 byte order mark is dropped alike from rule, evidence, rule test and trace files."""
    bom = b"\xef\xbb\xbf"
    (tmp_path / "mini.peel").write_bytes(bom + (DATA / "mini.peel").read_bytes())
    (tmp_path / "mini-evidence.yaml").write_bytes(bom + (DATA / "mini-evidence.yaml").read_bytes())
    (tmp_path / "case.yaml").write_bytes(bom + b"evidence: mini-evidence.yaml\nexpect: {victims: ungraded}\n")
    for args in (["check", "mini.peel"], ["evaluate", "mini-evidence.yaml", "--rules", "mini.peel"],
                 ["test", "case.yaml", "--rules", "mini.peel"],
                 ["evaluate", "mini-evidence.yaml", "--rules", "mini.peel", "--format", "json", "--out", "t.json"]):
        done = _peel(*args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr.decode())
    trace = tmp_path / "t.json"
    trace.write_bytes(bom + trace.read_bytes())
    done = _peel("verify", "t.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_zero_denominators_are_unknown_not_errors(tmp_path: Path) -> None:
    """0 of 0 (a ratio) and a division by a zero count are legitimate evidence: the rule reads unknown."""
    text = (DATA / "mini-evidence.yaml").read_text(encoding="utf-8")
    text = text.replace("{value: 100,", "{value: 0,").replace("{k: 588, n: 592,", "{k: 0, n: 0,")
    (tmp_path / "zero.yaml").write_text(text, encoding="utf-8")
    shutil.copy(DATA / "mini.peel", tmp_path / "mini.peel")
    done = _peel("evaluate", "zero.yaml", "--rules", "mini.peel", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    rules = {r["rule"]: r for a in doc["results"][0]["areas"] for r in a["rules"]}
    assert rules["contact.few_abandoned"]["outcome"] == "unknown", rules["contact.few_abandoned"]["when"]
    consent = rules["contact.consent_sought"]["when"]["children"][0]  # audit.consent >= 95%
    assert consent["expr"] == "audit.consent >= 95%" and consent["value"] == "unknown", consent
