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
  the rules are loaded, checked and compiled once, in the parent, before the first fork, and every worker
  inherits them, so a worker starts in a few milliseconds and loads nothing; a worker that dies is replaced by
  a new fork. The parent starts no thread (the progress callback is called from its one thread), so forking is
  safe. Elsewhere workers are spawned and each loads the rules once (cheap with the disk cache, peelrules.cache).
- Each worker has one bundle at a time, so the bundle of a worker that dies is known exactly. Workers ignore
  SIGINT: on Ctrl-C the parent gets KeyboardInterrupt, kills every worker and lets the interrupt go on.

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

from .diagnostics import Diagnostic, PeelError, one_line
from .grades import Grade, Status
from .limits import DEFAULT_LIMITS, Limits
from .tablefacts import EngineChoice

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
        raise PeelError([Diagnostic("PR401", f"cannot read folder '{one_line(str(path))}': {err.strerror or err}",
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
                problems.append(Diagnostic("PR401", f"no file matches '{one_line(text)}'", None,
                                           "check the pattern; quote it so that peel, not the shell, expands it"))
        elif text and _is(path, Path.is_dir):
            found = _folder(path)
            if not found:
                problems.append(Diagnostic("PR401", f"no evidence files (*.yaml, *.yml, *.json) in folder "
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
        return "input", (Diagnostic("PR404", f"'{one_line(str(path))}': the input is nested too deeply to "
                                    "process", None, "see docs/limits.md"),)
    except MemoryError:
        return "input", (Diagnostic("PR404", f"'{one_line(str(path))}': the input is too large to process in "
                                    "memory", None, "see docs/limits.md"),)
    except Exception as err:  # noqa: BLE001 - one bundle's bug must not stop the batch
        return "internal", (Diagnostic("PR405", f"internal error on '{one_line(str(path))}': "
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
        "PR405", f"the worker process grading '{one_line(str(path))}' {how} before it finished", None,
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    gc.enable()
    for other in inherited:  # a fork's copies of the parent's ends: closed, so that EOF means the parent is gone
        other.close()
    crash_on, sleep_on = os.environ.get(CRASH_HOOK), os.environ.get(SLEEP_HOOK)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, path = task
        if crash_on and path.name == crash_on:
            os.kill(os.getpid(), signal.SIGKILL)
        if sleep_on and path.name == sleep_on:
            time.sleep(60)
        kind, payload = _attempt(work, path)
        try:
            conn.send((index, kind, payload))
        except Exception as err:  # noqa: BLE001 - a result that cannot be sent back (a bug)
            conn.send((index, "internal", (Diagnostic("PR405", f"internal error on '{one_line(str(path))}': "
                                                      f"the result cannot be sent back: {type(err).__name__}",
                                                      None, "this is a bug in peelrules: please report it"),)))


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


def _run_in_workers(paths: Sequence[Path], work: Callable[[Path], T], workers: int,
                    progress: Progress | None) -> list[Outcome[T]]:
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context(start_method())
    results: list[Outcome[T] | None] = [None] * len(paths)
    queue = deque(enumerate(paths))
    running: dict[Connection, tuple[Any, int | None]] = {}  # connection -> (process, index being graded)
    finished = 0

    def hand_out(conn: Connection, proc: Any) -> None:
        if queue:
            index, path = queue.popleft()
            conn.send((index, path))
            running[conn] = (proc, index)
        else:
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
                proc, index = running[conn]  # type: ignore[index]
                try:
                    got, kind, payload = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):  # the worker died with this bundle in hand
                    running.pop(conn)  # type: ignore[arg-type]
                    conn.close()  # type: ignore[union-attr]
                    proc.join()
                    if index is not None:
                        record(index, Outcome(paths[index], failure=_crashed(paths[index], proc.exitcode)))
                    if queue:
                        start()
                    continue
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
    """What a worker sends back for one bundle of `peel evaluate`."""
    framework: str
    bundle: Any  # evidence.Bundle
    result: Any  # result.BundleResult
    traces: tuple[Any, ...]  # trace.AreaTrace, when traced

    def judgments(self) -> Judgments:
        from .judgments import judgment_of

        return tuple((r.name, r.title, judgment_of(r, self.bundle).final) for r in self.result.areas)


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
    facade's one engine (the compiled evaluator)."""
    program: Any  # program.Program | None
    traced: bool
    limits: Limits = DEFAULT_LIMITS
    engine: str | EngineChoice = "duckdb"  # what computes table aggregates: duckdb or spark (docs/scale.md)

    def prepare(self) -> None:
        """Load and compile once in this process, so that forked workers inherit it all."""
        from . import shipped_program
        from .compile import compile_program
        from .loader import shipped_rule_sets

        programs = [self.program] if self.program is not None else \
            [shipped_program(s, self.limits) for s in shipped_rule_sets()]
        for p in programs:
            compile_program(p)
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
        return Graded(program.framework.name, bundle, result, tuple(traces))


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
                   engine: str | EngineChoice = "duckdb") -> Batch[Graded]:
    """Grade every bundle; `engine` computes the table aggregates. With Spark the bundles are graded in this one
    process, whatever `jobs` says: one Spark session (itself parallel) rather than one JVM per worker."""
    if (engine if isinstance(engine, str) else engine.name) != "duckdb":
        jobs = 1
    work = EvaluateWork(program, traced, limits, engine=engine)
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
