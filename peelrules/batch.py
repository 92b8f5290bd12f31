"""Batches: many evidence bundles in one `peel evaluate` or `peel diff`, over worker processes if asked.

Pure: nothing here prints or exits. The CLI expands its arguments with `expand`, runs `evaluate_batch` or
`diff_batch` with a progress callback, renders what comes back and chooses the exit code.

- Arguments are files, folders (every *.yaml, *.yml and *.json directly inside, sorted) and globs (`*`, `?`,
  `[...]`, `**` across folders; sorted). A folder or glob that matches nothing is an error naming it. A file
  named twice is graded twice, as asked; a file that a folder or glob brings in again is not.
- One bundle's failure (unreadable, invalid, a bug, or its worker process dying) is recorded for that bundle and
  the others go on. Results come back in argument order whatever the number of workers, so the output is byte
  for byte the same for every `--jobs`.
- Workers are forked from the CLI process where the system allows it (Linux and other POSIX systems but macOS):
  the rules are loaded and checked once, in the parent, before the first fork (a rule set given with --rules
  compiled too), and every worker inherits them, so a worker starts in a few milliseconds; it compiles a shipped
  rule set when it first meets a bundle for it (EvaluateWork.prepare). A worker that dies is replaced by a new
  fork. The parent starts no thread (the progress callback is called from its one thread), so forking is
  safe. Elsewhere workers are spawned and each loads the rules once (cheap with the disk cache, peelrules.cache).
- Each worker is handed up to IN_FLIGHT bundles ahead and answers them in order, several in one message. The
  bundle of a worker that dies is known exactly: when it had several unanswered, they are handed out again one
  at a time, each answered before the next, for the rest of the batch (see `careful`). Workers ignore SIGINT:
  on Ctrl-C the parent gets KeyboardInterrupt, kills every worker and lets the interrupt go on.

Test-only fault hooks, read in worker processes only (never with `--jobs 1`), for the fault tests of
tests/test_batch.py: PEEL_TEST_CRASH_ON=NAME makes the worker given the bundle whose file name is NAME kill
itself with SIGKILL; PEEL_TEST_SLEEP_ON=NAME makes it sleep for a minute before grading it.
"""
from __future__ import annotations

import gc
import glob
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .diagnostics import Code, Diagnostic, PeelError, one_line
from .grades import Grade, Status
from .limits import DEFAULT_LIMITS, Limits
from .tablefacts import EngineChoice, engine_choice

if TYPE_CHECKING:  # multiprocessing is imported when workers are started, not for a batch of one
    from multiprocessing.connection import Connection

BUNDLE_SUFFIXES = (".yaml", ".yml", ".json")
_GLOB_CHARS = frozenset("*?[")
CRASH_HOOK, SLEEP_HOOK = "PEEL_TEST_CRASH_ON", "PEEL_TEST_SLEEP_ON"

T = TypeVar("T")
Progress = Callable[[int, int, Path], None]  # (done, total, the bundle just finished)


# ---------------------------------------------------------------- arguments


def _is(path: Path, test: Callable[[Path], bool]) -> bool:
    """path.exists() or path.is_dir(), False for a name the system refuses (too long, a NUL): the loader says why."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False


def _folder(path: Path) -> list[Path]:
    try:
        return sorted((p for p in path.iterdir() if p.suffix.lower() in BUNDLE_SUFFIXES and p.is_file()),
                      key=lambda p: p.name)
    except OSError as err:
        raise PeelError([Diagnostic(Code.PR401, f"cannot read folder '{one_line(str(path))}': {err.strerror or err}",
                                    None, "check the folder and its permissions")]) from None


def expand(args: Sequence[str | Path]) -> list[Path]:
    """The bundle files the arguments name, in order; PR401 naming every folder or glob that matches nothing."""
    out: list[Path] = []
    seen: set[str] = set()
    problems: list[Diagnostic] = []
    for arg in args:
        text = str(arg)
        path = Path(text)
        if text and _GLOB_CHARS & set(text) and not _is(path, Path.exists):
            found = []
            for match in sorted(glob.glob(text, recursive=True)):
                found += _folder(Path(match)) if _is(Path(match), Path.is_dir) else [Path(match)]
            if not found:
                problems.append(Diagnostic(Code.PR401, f"no file matches '{one_line(text)}'", None,
                                           "check the pattern; quote it so that peel, not the shell, expands it"))
        elif text and _is(path, Path.is_dir):
            found = _folder(path)
            if not found:
                problems.append(Diagnostic(Code.PR401, f"no evidence files (*.yaml, *.yml, *.json) in folder "
                                           f"'{one_line(text)}'", None, "check the folder"))
        else:
            out.append(path)  # a file, kept as given (the loader says what is wrong with it)
            seen.add(os.path.abspath(text))
            continue
        for p in found:
            key = os.path.abspath(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    if problems:
        raise PeelError(problems)
    return out


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Failure:
    """Why one bundle has no result: `input` (a PeelError), `crash` (its worker died), `internal` (a bug)."""
    kind: str
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One bundle of a batch: its path, and either what the work gave or why it failed."""

    path: Path
    value: T | None = None
    failure: Failure | None = None


def _attempt(work: Callable[[Path], T], path: Path) -> tuple[str, Any]:
    """Run work on one bundle: ("ok", value), or (kind, diagnostics) for a failure; never raises but Ctrl-C."""
    try:
        return "ok", work(path)
    except PeelError as err:
        return "input", tuple(err.diagnostics)
    except RecursionError:
        return "input", (Diagnostic(Code.PR404, f"'{one_line(str(path))}': the input is nested too deeply to "
                                    "process", None, "see docs/limits.md"),)
    except MemoryError:
        return "input", (Diagnostic(Code.PR404, f"'{one_line(str(path))}': the input is too large to process in "
                                    "memory", None, "see docs/limits.md"),)
    except Exception as err:  # noqa: BLE001 - one bundle's bug must not stop the batch
        return "internal", (Diagnostic(Code.PR405, f"internal error on '{one_line(str(path))}': "
                                       f"{type(err).__name__}: {one_line(str(err))[:300]}", None,
                                       "this is a bug in peelrules, not in your input: please report it with "
                                       "the command and files"),)


def _crashed(path: Path, exitcode: int | None) -> Failure:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with status {exitcode}"
    return Failure("crash", (Diagnostic(
        Code.PR405, f"the worker process grading '{one_line(str(path))}' {how} before it finished", None,
        "run `peel evaluate` on this file alone to see what goes wrong; out of memory is a common cause"),))


def _outcome(path: Path, kind: str, payload: Any) -> Outcome[Any]:
    return Outcome(path, payload) if kind == "ok" else Outcome(path, failure=Failure(kind, tuple(payload)))


# ---------------------------------------------------------------- running


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def start_method() -> str:
    """fork where it is safe and available (see the module docstring), else spawn."""
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin":
        return "fork"
    return "spawn"


def _worker(conn: Connection, work: Callable[[Path], Any], inherited: Sequence[Connection] = ()) -> None:
    """Grade the bundles the parent sends (lists of (index, path)), in order; send back their outcomes in lists of
    at most ANSWERS_AT_ONCE, and whatever it has before it waits for more work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    gc.enable()
    for other in inherited:  # a fork's copies of the parent's ends: closed, so that EOF means the parent is gone
        other.close()
    crash_on, sleep_on = os.environ.get(CRASH_HOOK), os.environ.get(SLEEP_HOOK)
    todo: deque[tuple[int, Path]] = deque()
    done: list[tuple[int, str, Any, Path]] = []
    while True:
        if not todo:
            if done:
                _answer(conn, done)
                done = []
            try:
                tasks = conn.recv()
            except EOFError:
                return
            if tasks is None:
                return
            todo.extend(tasks)
            continue
        index, path = todo.popleft()
        if crash_on and path.name == crash_on:
            os.kill(os.getpid(), signal.SIGKILL)
        if sleep_on and path.name == sleep_on:
            time.sleep(60)
        done.append((index, *_attempt(work, path), path))
        if len(done) >= ANSWERS_AT_ONCE:
            _answer(conn, done)
            done = []


def _answer(conn: Connection, done: list[tuple[int, str, Any, Path]]) -> None:
    try:
        conn.send([(index, kind, payload) for index, kind, payload, _ in done])
    except Exception:  # noqa: BLE001 - a result that cannot be sent back (a bug): sent one by one, to name it
        for index, kind, payload, path in done:
            try:
                conn.send([(index, kind, payload)])
            except Exception as err:  # noqa: BLE001
                conn.send([(index, "internal", (Diagnostic(
                    Code.PR405, f"internal error on '{one_line(str(path))}': the result cannot be sent back: "
                             f"{type(err).__name__}", None, "this is a bug in peelrules: please report it"),))])


def run(paths: Sequence[Path], work: Callable[[Path], T], *, jobs: int = 1,
        progress: Progress | None = None) -> list[Outcome[T]]:
    """work(path) for every path, in up to `jobs` worker processes (0: one per CPU; 1: in this process).

    The outcomes are in the order of `paths`. work must be picklable where workers are spawned."""
    total = len(paths)
    workers = min(jobs if jobs > 0 else cpu_count(), total)
    if workers <= 1:
        done: list[Outcome[T]] = []
        for i, path in enumerate(paths):
            done.append(_outcome(path, *_attempt(work, path)))
            if progress:
                progress(i + 1, total, path)
        return done
    return _run_in_workers(paths, work, workers, progress)


# A worker answers up to ANSWERS_AT_ONCE bundles in one message, and is handed up to IN_FLIGHT ahead, so that it
# goes straight on while the parent reads its answers, and the parent wakes once for several bundles rather than
# for each (waking it, reading and replying cost about as much as a small bundle's grading took of a CPU).
ANSWERS_AT_ONCE = 8
IN_FLIGHT = 2 * ANSWERS_AT_ONCE


def _run_in_workers(paths: Sequence[Path], work: Callable[[Path], T], workers: int,
                    progress: Progress | None) -> list[Outcome[T]]:
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context(start_method())
    results: list[Outcome[T] | None] = [None] * len(paths)
    queue = deque(enumerate(paths))
    # connection -> (process, the indices handed to it and not yet answered, oldest first)
    running: dict[Connection, tuple[Any, deque[int]]] = {}
    finished = 0
    # A worker that dies with one bundle unanswered died on it. One that dies with several may have graded some
    # of them, unanswered yet: they are all handed out again, and from then on to every worker one at a time
    # (`careful`), each answered before the next is given, so that the bundle a death is blamed on is known
    # exactly; the one that killed its worker is then the only one to kill another.
    careful = False

    def hand_out(conn: Connection, proc: Any) -> None:
        given = running.setdefault(conn, (proc, deque()))[1]
        room = (1 if careful else IN_FLIGHT) - len(given)
        share = -(-len(queue) // workers)  # near the end, what is left is shared out, not all to one worker
        n = min(room, share)
        if n > 0:
            tasks = [queue.popleft() for _ in range(n)]
            conn.send(tasks)
            given.extend(i for i, _ in tasks)
        if not given:
            conn.send(None)
            conn.close()
            running.pop(conn, None)
            proc.join()

    def start() -> None:
        mine, theirs = ctx.Pipe()
        gc.freeze()
        inherited = [mine, *running] if ctx.get_start_method() == "fork" else []
        proc = ctx.Process(target=_worker, args=(theirs, work, inherited), daemon=True)
        proc.start()
        theirs.close()
        hand_out(mine, proc)

    def record(index: int, outcome: Outcome[T]) -> None:
        nonlocal finished
        results[index] = outcome
        finished += 1
        if progress:
            progress(finished, len(paths), outcome.path)

    # The garbage collector as the gc module's documentation advises for fork without exec: off in the parent
    # while it unpickles results (many new objects, no cycles: collecting then took half of its time), all its
    # objects frozen before each fork, on in the worker, so that no worker's collection touches (and copies) them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(workers):
            if queue:
                start()
        while running:
            for conn in wait(list(running)):
                proc, given = running[conn]  # type: ignore[index]
                try:
                    answers = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):  # the worker died
                    running.pop(conn)  # type: ignore[arg-type]
                    conn.close()  # type: ignore[union-attr]
                    proc.join()
                    if len(given) == 1:  # the bundle it had in hand
                        index = given.popleft()
                        record(index, Outcome(paths[index], failure=_crashed(paths[index], proc.exitcode)))
                    elif given:  # on one of these: each is graded again, one at a time
                        careful = True
                        queue.extendleft((i, paths[i]) for i in reversed(given))
                    if queue:
                        start()
                    continue
                for got, kind, payload in answers:
                    if got in given:  # the oldest: a worker answers in the order it was given
                        given.remove(got)
                    record(got, _outcome(paths[got], kind, payload))
                hand_out(conn, proc)  # type: ignore[arg-type]
    finally:  # Ctrl-C, or a bug here: no worker outlives the batch
        gc.unfreeze()
        if collecting:
            gc.enable()
        for conn, (proc, _) in list(running.items()):
            if proc.is_alive():
                proc.kill()
            proc.join()
            conn.close()
    return [r for r in results if r is not None]


# ---------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Summary:
    """Bundles of a batch, how many failed, and per area how many bundles got each judgment."""
    bundles: int
    errors: int
    crashed: int
    columns: tuple[str, ...]  # judgment keys: every grade, best first, undetermined, then other statuses
    areas: tuple[tuple[str, str, tuple[int, ...]], ...]  # (area, title, count per column)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the summary table (every cell text), for a renderer."""
        heads = ["area"] + [c.replace("_", " ") for c in self.columns]
        return heads, [[title, *map(str, counts)] for _, title, counts in self.areas]

    def line(self) -> str:
        failed = f", {self.crashed} of them crashed" if self.crashed else ""
        return (f"{self.bundles} bundle{'s' if self.bundles != 1 else ''}, {self.bundles - self.errors} evaluated, "
                f"{self.errors} error{'s' if self.errors != 1 else ''}{failed}")


Judgments = tuple[tuple[str, str, str], ...]  # per area: (name, title, final judgment key)


def summarise(outcomes: Sequence[Outcome[Any]], judgments: Callable[[Any], Judgments]) -> Summary:
    grades = [g.key for g in sorted(Grade, reverse=True)]
    counts: dict[str, tuple[str, dict[str, int]]] = {}
    for o in outcomes:
        if o.value is None:
            continue
        for name, title, key in judgments(o.value):
            tally = counts.setdefault(name, (title, {}))[1]
            tally[key] = tally.get(key, 0) + 1
    seen = {k for _, c in counts.values() for k in c}
    others = [s.value for s in Status if s.value in seen and s.value not in grades
              and s is not Status.UNDETERMINED and s is not Status.GRADED]
    columns = (*grades, Status.UNDETERMINED.value, *others, *sorted(seen - set(grades) - {s.value for s in Status}))
    failures = [o.failure for o in outcomes if o.failure is not None]
    return Summary(len(outcomes), len(failures), sum(1 for f in failures if f.kind == "crash"), columns,
                   tuple((name, title, tuple(c.get(k, 0) for k in columns)) for name, (title, c) in counts.items()))


# ---------------------------------------------------------------- evaluate and diff


@dataclass(frozen=True)
class Graded:
    """What a worker sends back for one bundle of `peel evaluate`: the bundle, its result and traces, or, when the
    work was given `keep`, only what keep made of them (then bundle, result and traces are None, None, ())."""
    framework: str
    bundle: Any  # evidence.Bundle
    result: Any  # result.BundleResult
    traces: tuple[Any, ...]  # trace.AreaTrace, when traced
    judged: Judgments = ()  # per area (name, title, final judgment): what the summary counts
    kept: Any = None  # EvaluateWork.keep(program, bundle, result, traces)

    def judgments(self) -> Judgments:
        return self.judged


def _judged(bundle: Any, result: Any) -> Judgments:
    from .judgments import judgment_of

    return tuple((r.name, r.title, judgment_of(r, bundle).final) for r in result.areas)


# The rule sets this process graded with (or prepared for its workers), by framework name: what renders results.
_PROGRAMS: dict[tuple[str, Limits], Any] = {}


def program_for(framework: str, given: Any = None, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The rule set (program.Program) a batch's bundle of `framework` was graded with."""
    if given is not None:
        return given
    if (framework, limits) not in _PROGRAMS:
        from . import shipped_program
        from .loader import shipped_rule_sets

        for name in shipped_rule_sets():
            p = shipped_program(name, limits)
            _PROGRAMS.setdefault((p.framework.name, limits), p)
    return _PROGRAMS[(framework, limits)]


@dataclass(frozen=True)
class EvaluateWork:
    """Grade one bundle with the given rule set (None: the shipped one it is for), traced or not, through the
    facade's one engine (the compiled evaluator).

    `keep`, when given, is what of a graded bundle the caller needs: keep(program, bundle, result, traces) is
    computed where the bundle was graded and comes back instead of the bundle, its result and traces. A report
    that needs a few strings a bundle (the csv and text formats) then has the workers send those, not the whole
    bundle: pickling, piping and unpickling each bundle (tens of kB, with its facts and their declarations) in the
    one parent process was what kept `--jobs 2` from running twice as fast as `--jobs 1`. It runs the same with
    `--jobs 1`, so the output is the same for every --jobs. It must be picklable where workers are spawned (a
    module-level function)."""
    program: Any  # program.Program | None
    traced: bool
    limits: Limits = DEFAULT_LIMITS
    engine: str | EngineChoice = "duckdb"  # what computes table aggregates: duckdb or spark (docs/scale.md)
    keep: Callable[[Any, Any, Any, tuple[Any, ...]], Any] | None = None

    def prepare(self) -> None:
        """Load (and the given rule set, compile) once in this process, so that forked workers inherit it.

        The shipped rule sets are loaded but not compiled here: which of them the bundles need is known only once
        they are read, so each worker compiles the one its bundles are for when it first meets one (in parallel
        with the others), and none compiles a rule set no bundle needs."""
        from . import shipped_program
        from .compile import compile_program
        from .loader import shipped_rule_sets

        if self.program is not None:
            compile_program(self.program)
            _PROGRAMS[(self.program.framework.name, self.limits)] = self.program
            return
        for s in shipped_rule_sets():
            p = shipped_program(s, self.limits)
            _PROGRAMS[(p.framework.name, self.limits)] = p

    def __call__(self, path: Path) -> Graded:
        from . import evaluate, load_evidence, load_with_rules

        program, bundle = (self.program, load_evidence(path, self.program, self.limits, self.engine)) \
            if self.program is not None else load_with_rules(path, None, self.limits, self.engine)
        if self.traced:
            result, traces = evaluate(program, bundle, trace=True)
        else:
            result, traces = evaluate(program, bundle), ()
        _PROGRAMS.setdefault((program.framework.name, self.limits), program)
        judged = _judged(bundle, result)
        if self.keep is not None:
            return Graded(program.framework.name, None, None, (), judged, self.keep(program, bundle, result,
                                                                                  tuple(traces)))
        return Graded(program.framework.name, bundle, result, tuple(traces), judged)


@dataclass
class Batch(Generic[T]):
    """A finished batch: every outcome in the order given, the graded values, and the summary."""

    outcomes: list[Outcome[T]]
    summary: Summary
    values: list[T] = field(default_factory=list)  # of the bundles that succeeded, in order

    @property
    def failures(self) -> list[Outcome[T]]:
        return [o for o in self.outcomes if o.failure is not None]


def _batch(outcomes: list[Outcome[T]], judgments: Callable[[T], Judgments]) -> Batch[T]:
    return Batch(outcomes, summarise(outcomes, judgments), [o.value for o in outcomes if o.value is not None])


def evaluate_batch(paths: Sequence[Path], program: Any, *, traced: bool, limits: Limits = DEFAULT_LIMITS,
                   jobs: int = 1, progress: Progress | None = None,
                   engine: str | EngineChoice = "duckdb",
                   keep: Callable[[Any, Any, Any, tuple[Any, ...]], Any] | None = None) -> Batch[Graded]:
    """Grade every bundle; `engine` computes the table aggregates. With Spark the bundles are graded in this one
    process, whatever `jobs` says: one Spark session (itself parallel) rather than one JVM per worker. With
    `keep`, each Graded holds what keep made of its bundle instead of the bundle (EvaluateWork)."""
    if engine_choice(engine).name != "duckdb":
        jobs = 1
    work = EvaluateWork(program, traced, limits, engine=engine, keep=keep)
    if jobs != 1 and len(paths) > 1:
        work.prepare()
    return _batch(run(paths, work, jobs=jobs, progress=progress), Graded.judgments)


@dataclass(frozen=True)
class DiffWork:
    """The work of `peel diff` on one bundle: evaluate it with the old and the new rule set."""

    old: Any  # program.Program
    new: Any

    def prepare(self) -> None:
        from .compile import compile_program

        compile_program(self.old)
        compile_program(self.new)

    def __call__(self, path: Path) -> Any:
        from .compare import diff_bundle

        return diff_bundle(self.old, self.new, path)


def diff_batch(old: Any, new: Any, paths: Sequence[Path], *, jobs: int = 1,
               progress: Progress | None = None) -> tuple[Any, Batch[Any]]:
    """The RuleSetDiff of the bundles that loaded with both rule sets, and the batch (failures, summary)."""
    from .compare import combine

    work = DiffWork(old, new)
    if jobs != 1 and len(paths) > 1:
        work.prepare()
    batch = _batch(run(paths, work, jobs=jobs, progress=progress), lambda d: d.judgments)
    return combine(batch.values), batch
