"""Hostile input: every case of tests/hostile/ (checked-in files listed in manifest.yaml, and the big, binary
and file-system cases of generators.py) is run as a `peel` command with a time and memory limit, and must be
refused cleanly:

- the documented exit code (1 a failing check or rule test, 2 bad input), never 3 (internal error) or a signal;
- no traceback, and output that is valid UTF-8 without control characters or escape sequences;
- the expected diagnostic code, and the file's name (escaped for a terminal) with line:column where it has one;
- no file created or changed: the folder given to --out / --junit stays empty, and every file of the work folder
  (the inputs among them) keeps its bytes; nothing is left beside them.

Most cases run in this process, through click's CliRunner (a new `peel` process costs a third of a second
to start, and there are hundreds of cases): the same arguments, in the same work folder, with the output
captured as bytes, an alarm for the time limit and RLIMIT_AS for the memory limit; an exception other than
SystemExit fails the case with its traceback. Some run as the real installed `peel` script, in a subprocess
(REAL_PROCESS says which and why): every case with a time limit of its own (a hang on a pipe or a device, or
work that must stay fast, is killed there, not waited on), arguments that are bytes no UTF-8 decoder reads,
and a sample of every class and every command, so that the console entry point with its guard, a fresh
interpreter's stack and the memory limit of a process stay covered. Each sample case that can safely be run
both ways is also run in this process, and the two runs must print the same bytes and exit alike: the
in-process harness is checked against the real command.

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
import traceback
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hostile import generators as gen
from peelrules.cli import main as peel_main
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
    twin: Result | None = None  # a real-process case run again in this process, to compare


@dataclass
class Result:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    before: dict[str, tuple] = field(default_factory=dict)
    after: dict[str, tuple] = field(default_factory=dict)
    keep: dict[str, int] = field(default_factory=dict)  # mode of each `keep` path afterwards
    how: str = "real process"  # or "in process"
    error: str | None = None  # in process: the traceback of an exception that escaped the command


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

# ---------------------------------------------------------------- which cases run as real `peel` processes

DEFAULT_TIMEOUT = next(f.default for f in fields(gen.Case) if f.name == "timeout")
# A sample of every class and every command (besides the cases below with their own time limit or undecodable
# arguments), each with why it is worth a third of a second; each is also run in this process, to compare.
REAL_SAMPLE = {
    "evidence/tag-python-apply.yaml::evaluate": "class 1, evaluate: YAML tags",
    "evidence/alias-billion-laughs.yaml::evaluate": "class 2: an alias bomb, under a process's memory limit",
    "gen/trace-deep-100k": "class 3, verify: a deeply nested trace, on a fresh interpreter's stack",
    "evidence/number-1e999.yaml::explain": "class 5, explain",
    "cases/inline-bundle-bad-fact.yaml::test": "class 6, test: a failing rule test writes its JUnit report",
    "rules/dup-rule-name.peel::check": "class 7, check",
    "rules/bidi-override-in-string.peel::template": "class 8, evidence template",
    "rules/domain-cycle.peel::evaluate": "class 9, evaluate with --rules",
    "rules/unclosed-brace.peel::fmt": "class 10, fmt",
}
# Seconds of work each, on a fresh interpreter's stack: run as real processes, in parallel with the others.
HEAVY = {
    "gen/evidence-10001-facts": "class 4: 10,001 facts",
    "gen/rules-deep-parens-over-lines": "class 3: 100,000 nested parentheses",
    "gen/rules-deep-minus-over-lines": "class 3: 200,000 nested minus signs",
    "gen/rules-deep-not-over-lines": "class 3: 100,000 nested `not`s",
    "gen/rules-deep-calls-over-lines": "class 3: 20,000 nested calls",
}
assert (REAL_SAMPLE.keys() | HEAVY.keys()) <= {j.id for j in JOBS}


def _undecodable(argv: list[str | bytes]) -> bool:
    """An argument of bytes that are not UTF-8: the interpreter decodes sys.argv itself (surrogateescape)."""
    for arg in argv:
        if isinstance(arg, bytes):
            try:
                arg.decode("utf-8")
            except UnicodeDecodeError:
                return True
    return False


def real_process(job: Job) -> str | None:
    """Why the job runs as a real `peel` process, or None: it runs in this process."""
    if job.case.timeout != DEFAULT_TIMEOUT:
        return f"a time limit of its own ({job.case.timeout:g} s): a hang is killed, not waited on"
    if _undecodable(job.case.argv):
        return "an argument of bytes that are not UTF-8"
    return REAL_SAMPLE.get(job.id) or HEAVY.get(job.id)


def twinned(job: Job) -> bool:
    """A real-process case that is also run in this process, to check the harness against the real command."""
    return (real_process(job) is not None and job.case.timeout == DEFAULT_TIMEOUT and job.id not in HEAVY
            and not job.case.known)


REAL = {j.id for j in JOBS if real_process(j)}


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


class _Hang(BaseException):
    """Raised by the alarm in an in-process run that overran its time limit (not an Exception: nothing the
    command catches stops it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang()


def _vm_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


RUNNER = CliRunner(capture="fd")  # output written to the file descriptors themselves is captured too


def _run_in_process(job: Job) -> Result:
    """Run the job's command in this process, as the real one would run: in its work folder, with its arguments
    decoded as the interpreter decodes sys.argv, stdin empty, Python's default warning filters (warnings are
    printed to stderr), the memory limit on top of what this process already uses and the time limit."""
    case = job.case
    argv = [os.fsdecode(a) if isinstance(a, bytes) else a for a in case.argv]
    result = Result(None, b"", b"", 0.0, _snapshot(job.work), how="in process")
    cwd = os.getcwd()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + MEMORY
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    try:
        os.chdir(job.work)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
        with warnings.catch_warnings():
            warnings.resetwarnings()  # the filters of a fresh interpreter (python -W, without pytest's)
            for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
                warnings.filterwarnings("ignore", category=category)
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            warnings.showwarning = _show_warning
            signal.setitimer(signal.ITIMER_REAL, case.timeout)
            try:
                done = RUNNER.invoke(peel_main, argv, prog_name="peel", catch_exceptions=True)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        result.returncode, result.stdout, result.stderr = done.exit_code, done.stdout_bytes, done.stderr_bytes
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            result.error = "".join(traceback.format_exception(*done.exc_info))
    except _Hang:
        result.returncode = None
    finally:
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        os.chdir(cwd)
    result.seconds = time.monotonic() - started
    result.after = _snapshot(job.work)
    result.keep = {p: os.stat(p).st_mode for p in case.keep}
    return result


def _run_all(jobs: list[Job], logs: Path) -> None:
    """Run the jobs: the real-process ones WORKERS at a time, each with its time and memory limit, and meanwhile
    the others in this process, one after another; never two jobs of one group together. The twins (in-process
    runs of real-process jobs) come once their real run is done.

    Popen and poll from this one thread, between in-process runs, so that preexec_fn (the memory limit) is safe;
    output goes to files."""
    # the slow ones first (their own time limit, or HEAVY), so that none is left to run alone at the end
    pending = sorted((j for j in jobs if j.id in REAL),
                     key=lambda j: j.case.timeout == DEFAULT_TIMEOUT and j.id not in HEAVY)
    local: list[tuple[Job, bool]] = [(j, False) for j in jobs if j.id not in REAL]
    local += [(j, True) for j in jobs if twinned(j)]
    finished: set[str] = set()
    running: dict[str, tuple[Job, subprocess.Popen, float, object, object]] = {}
    logs.mkdir(parents=True, exist_ok=True)

    def step() -> None:
        """Start what may start, collect what has finished (or kill what hangs)."""
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
            finished.add(job.id)

    while pending or running or local:
        step()
        busy = {job.group for job, *_ in running.values()}
        chosen = next(((job, twin) for job, twin in local
                       if job.group not in busy and (not twin or job.id in finished)), None)
        if chosen is None:
            time.sleep(0.02)
            continue
        local.remove(chosen)
        job, twin = chosen
        if twin:
            job.twin = _run_in_process(job)
        else:
            job.result = _run_in_process(job)


@pytest.fixture(scope="module")
def ran(request: pytest.FixtureRequest) -> dict[str, Job]:
    """Run the selected jobs once (the real-process ones in parallel); each test then checks its own."""
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
    _assert_refused_cleanly(case, result)


def _assert_refused_cleanly(case: gen.Case, result: Result) -> None:
    command = "peel " + " ".join(os.fsdecode(a) if isinstance(a, bytes) else a for a in case.argv)
    command += f" ({result.how})"
    assert result.returncode is not None, f"{command}: no answer within {case.timeout:g} s (a hang)"
    assert result.error is None, f"{command}: an exception escaped the command\n{result.error}"
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


def _twin_param(job: Job) -> object:
    return pytest.param(job, id=job.id)


@pytest.mark.parametrize("job", [_twin_param(j) for j in JOBS if twinned(j)])
def test_in_process_run_matches_the_real_command(job: Job, ran: dict[str, Job]) -> None:
    """The harness that runs most cases in this process is faithful: for each real-process case that can also be
    run here, both runs exit alike and print the same bytes, and the in-process one too leaves every file as it
    was."""
    real, here = ran[job.id].result, ran[job.id].twin
    assert real is not None and here is not None
    assert here.error is None, here.error
    assert (here.returncode, here.stdout, here.stderr) == (real.returncode, real.stdout, real.stderr)
    assert here.before == here.after, "the in-process run created or changed files"
    assert here.keep == real.keep


def test_real_processes_cover_every_class_and_command() -> None:
    """The sample that runs as the real `peel` script spans every failure class and every command."""
    real = [j for j in JOBS if j.id in REAL]
    assert {j.case.cls for j in real} >= set(range(1, 13)), sorted({j.case.cls for j in real})
    commands = {next(a for a in j.case.argv if isinstance(a, str) and not a.startswith("-")) for j in real}
    assert commands >= {"evaluate", "explain", "check", "fmt", "evidence", "test", "verify"}, commands
    assert len(real) < len(JOBS) // 4, "most cases run in process: a real `peel` costs a third of a second"


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


def _peel_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`peel ARGS` run in this process (CliRunner) from cwd, for the accepted edge cases below, which depend
    on no environment; an exception that escapes the command fails the test with its traceback."""
    here = os.getcwd()
    try:
        os.chdir(cwd)
        done = RUNNER.invoke(peel_main, list(args), prog_name="peel", catch_exceptions=True)
    finally:
        os.chdir(here)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(*done.exc_info)))
    return subprocess.CompletedProcess(["peel", *args], done.exit_code, done.stdout_bytes, done.stderr_bytes)


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
        done = _peel_here(*args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr.decode())
    trace = tmp_path / "t.json"
    trace.write_bytes(bom + trace.read_bytes())
    done = _peel_here("verify", "t.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_zero_denominators_are_unknown_not_errors(tmp_path: Path) -> None:
    """0 of 0 (a ratio) and a division by a zero count are legitimate evidence: the rule reads unknown."""
    text = (DATA / "mini-evidence.yaml").read_text(encoding="utf-8")
    text = text.replace("{value: 100,", "{value: 0,").replace("{k: 588, n: 592,", "{k: 0, n: 0,")
    (tmp_path / "zero.yaml").write_text(text, encoding="utf-8")
    shutil.copy(DATA / "mini.peel", tmp_path / "mini.peel")
    done = _peel_here("evaluate", "zero.yaml", "--rules", "mini.peel", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    doc = json.loads(done.stdout)
    rules = {r["rule"]: r for a in doc["results"][0]["areas"] for r in a["rules"]}
    assert rules["contact.few_abandoned"]["outcome"] == "unknown", rules["contact.few_abandoned"]["when"]
    consent = rules["contact.consent_sought"]["when"]["children"][0]  # audit.consent >= 95%
    assert consent["expr"] == "audit.consent >= 95%" and consent["value"] == "unknown", consent
