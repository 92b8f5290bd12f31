"""Batches (peelrules/batch.py, `peel evaluate` and `peel diff` over many bundles): expanding folders and globs,
the same output for every --jobs, one bad or crashing bundle not stopping the others, Ctrl-C stopping cleanly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from peelrules import batch as batches
from peelrules.cli import main as cli_main
from peelrules.diagnostics import PeelError

from conftest import PEEL, ROOT

DATA = Path(__file__).resolve().parent / "data"
MINI = str(DATA / "mini.peel")
MINI_EVIDENCE = (DATA / "mini-evidence.yaml").read_text(encoding="utf-8")
BAD = MINI_EVIDENCE.replace("calls.offered: {value: 100,", "calls.offered: {value: many,")


def _bundles(folder: Path, names: list[str], bad: tuple[str, ...] = ()) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / name
        text = BAD if name in bad else MINI_EVIDENCE
        path.write_text(text.replace("Example Constabulary", f"Force {path.stem}"), encoding="utf-8")
        paths.append(path)
    return paths


def _peel(*args: str, env: dict[str, str] | None = None):  # noqa: ANN202 - click's Result
    return CliRunner().invoke(cli_main, list(args), env=env)


# ---------------------------------------------------------------- arguments


def test_folder_gives_its_bundles_sorted_and_only_bundles(tmp_path: Path) -> None:
    _bundles(tmp_path, ["b.yaml", "a.json", "c.yml", "A.yaml"])
    (tmp_path / "notes.txt").write_text("not a bundle", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    _bundles(tmp_path / "sub", ["d.yaml"])  # a folder is read one level deep; a glob with ** goes further
    assert [p.name for p in batches.expand([tmp_path])] == ["A.yaml", "a.json", "b.yaml", "c.yml"]


def test_globs_are_expanded_sorted_and_deduplicated(tmp_path: Path) -> None:
    _bundles(tmp_path, ["b.yaml", "a.yaml"])
    _bundles(tmp_path / "sub", ["c.yaml"])
    got = batches.expand([str(tmp_path / "b.yaml"), str(tmp_path / "*.yaml"), str(tmp_path / "**" / "*.yaml"),
                          tmp_path])
    assert [str(p.relative_to(tmp_path)) for p in got] == ["b.yaml", "a.yaml", "sub/c.yaml"]
    # a file named twice is graded twice, as asked
    assert len(batches.expand([tmp_path / "a.yaml", tmp_path / "a.yaml"])) == 2


def test_a_glob_or_folder_that_matches_nothing_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PeelError) as err:
        batches.expand([str(tmp_path / "*.yaml"), tmp_path / "empty"])
    messages = [d.message for d in err.value.diagnostics]
    assert [d.code for d in err.value.diagnostics] == ["PR401", "PR401"]
    assert str(tmp_path / "*.yaml") in messages[0] and str(tmp_path / "empty") in messages[1]
    res = _peel("evaluate", str(tmp_path / "nothing-*.yaml"), "--rules", MINI)
    assert res.exit_code == 2 and "no file matches" in res.stderr and "nothing-*.yaml" in res.stderr


def test_evaluate_a_folder_as_its_files_in_order(tmp_path: Path) -> None:
    paths = _bundles(tmp_path, ["c.yaml", "a.yaml", "b.yaml"])
    by_folder = _peel("evaluate", str(tmp_path), "--rules", MINI, "--format", "csv")
    by_files = _peel("evaluate", *sorted(map(str, paths)), "--rules", MINI, "--format", "csv")
    assert by_folder.exit_code == 0, by_folder.stderr
    assert by_folder.stdout == by_files.stdout
    assert [line.split(",")[0] for line in by_folder.stdout.splitlines()[1:]] == ["Force a", "Force b", "Force c"]
    assert by_folder.stderr.startswith("3 bundles, 3 evaluated, 0 errors\n")


# ---------------------------------------------------------------- workers


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_jobs_2_gives_the_same_bytes_as_jobs_1(tmp_path: Path, fmt: str) -> None:
    _bundles(tmp_path, [f"b{i}.yaml" for i in range(5)], bad=("b3.yaml",))
    one = _peel("evaluate", str(tmp_path), "--rules", MINI, "--format", fmt, "--jobs", "1")
    two = _peel("evaluate", str(tmp_path), "--rules", MINI, "--format", fmt, "--jobs", "2")
    assert one.exit_code == two.exit_code == 2
    assert one.stdout == two.stdout and one.stderr == two.stderr
    if fmt == "json":
        assert len(json.loads(one.stdout)["results"]) == 4


def test_jobs_2_with_the_shipped_rules_as_a_real_process(tmp_path: Path) -> None:
    files = [str(ROOT / "evidence" / n) for n in ("lancashire-2022.yaml", "cleveland-2022.yaml")] * 2
    out = [subprocess.run([str(PEEL), "evaluate", *files, "--jobs", j], capture_output=True, timeout=120)
           for j in ("1", "2")]
    assert out[0].returncode == out[1].returncode == 0, out[1].stderr
    assert out[0].stdout == out[1].stdout and out[0].stderr == out[1].stderr


def test_run_keeps_order_and_reports_each_failure(tmp_path: Path) -> None:
    paths = _bundles(tmp_path, ["a.yaml", "b.yaml", "c.yaml"], bad=("b.yaml",))
    got = batches.run(paths, lambda p: p.read_text(encoding="utf-8")[:10] if p.name != "b.yaml" else
                      (_ for _ in ()).throw(PeelError([])), jobs=2)
    assert [o.path for o in got] == paths
    assert [o.failure.kind if o.failure else "ok" for o in got] == ["ok", "input", "ok"]


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_bad_bundle_is_reported_and_the_others_graded(tmp_path: Path, jobs: str) -> None:
    _bundles(tmp_path, ["a.yaml", "b.yaml", "c.yaml"], bad=("b.yaml",))
    res = _peel("evaluate", str(tmp_path), "--rules", MINI, "--format", "csv", "--jobs", jobs)
    assert res.exit_code == 2
    assert [line.split(",")[0] for line in res.stdout.splitlines()[1:]] == ["Force a", "Force c"]
    assert f"{tmp_path / 'b.yaml'}:8:" in res.stderr and "^" in res.stderr  # file, line, caret as usual
    assert "3 bundles, 2 evaluated, 1 error\n" in res.stderr



def test_a_batch_of_bad_bundles_prints_at_most_max_errors_errors(tmp_path: Path) -> None:
    names = [f"b{i:02d}.yaml" for i in range(12)]
    _bundles(tmp_path, names + ["good.yaml"], bad=tuple(names))
    res = _peel("--limit", "max_errors=4", "evaluate", str(tmp_path), "--rules", MINI, "--format", "csv")
    assert res.exit_code == 2
    assert [line.split(",")[0] for line in res.stdout.splitlines()[1:]] == ["Force good"]
    shown = [n for n in names if f"{tmp_path / n}:8:" in res.stderr]
    assert shown == names[:4]  # the first four in order, each with its error as usual
    assert "... and 8 more failed bundles, not shown: at most 4 errors are printed for a batch" in res.stderr
    assert "13 bundles, 1 evaluated, 12 errors\n" in res.stderr  # the summary still counts them all

def test_diff_batch_reports_a_bad_bundle_and_compares_the_others(tmp_path: Path) -> None:
    _bundles(tmp_path / "ev", ["a.yaml", "b.yaml", "c.yaml"], bad=("a.yaml",))
    res = _peel("diff", "--old", MINI, "--new", MINI, str(tmp_path / "ev"), "--format", "json", "--jobs", "2")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["bundles"] == 2
    assert "3 bundles, 2 evaluated, 1 error\n" in res.stderr and "a.yaml:8:" in res.stderr


def test_a_crashing_worker_fails_its_bundle_only(tmp_path: Path) -> None:
    _bundles(tmp_path, ["a.yaml", "b.yaml", "c.yaml", "d.yaml"])
    res = _peel("evaluate", str(tmp_path), "--rules", MINI, "--format", "csv", "--jobs", "2",
                env={batches.CRASH_HOOK: "b.yaml"})
    assert res.exit_code == 2, res.stderr
    assert [line.split(",")[0] for line in res.stdout.splitlines()[1:]] == ["Force a", "Force c", "Force d"]
    assert "error[PR405]" in res.stderr and "b.yaml' was killed by signal SIGKILL" in res.stderr
    assert "4 bundles, 3 evaluated, 1 error, 1 of them crashed\n" in res.stderr


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C as a terminal gives it, even when the suite itself runs as a background
    job (where SIGINT is ignored, and an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to see the worker processes")
def test_ctrl_c_stops_the_batch_and_writes_nothing(tmp_path: Path) -> None:
    _bundles(tmp_path / "ev", [f"b{i}.yaml" for i in range(6)])
    out = tmp_path / "out" / "grades.csv"
    out.parent.mkdir()
    env = dict(os.environ, **{batches.SLEEP_HOOK: "b1.yaml"})
    proc = subprocess.Popen([str(PEEL), "evaluate", str(tmp_path / "ev"), "--rules", MINI, "--format", "csv",
                             "--jobs", "2", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 60
        while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the other worker grades the rest; the batch waits on the sleeping one (a minute)
        workers = _children(proc.pid)
        assert workers and proc.poll() is None, "the workers did not start"
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # say who is still running: the parent, or a worker holding the pipes
            alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
            raise AssertionError(f"not stopped within 10 s: parent exit code {proc.poll()}, workers {workers}, "
                                 f"still running {alive}, children now {_children(proc.pid)}") from None
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    assert list(out.parent.iterdir()) == []  # neither the output nor a temporary file
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.skipif(batches.start_method() != "fork", reason="the work below is a local function: fork only")
def test_a_worker_that_dies_with_several_bundles_unanswered_is_blamed_on_the_one_it_died_on(tmp_path: Path) -> None:
    # Workers are handed several bundles ahead and answer several at once (batch.IN_FLIGHT, ANSWERS_AT_ONCE), so
    # one that dies may have graded others it had not sent back yet: those are graded again, not blamed.
    paths = [tmp_path / f"b{i:02d}.yaml" for i in range(40)]
    for p in paths:
        p.write_text("x", encoding="utf-8")

    def work(p: Path) -> str:
        if p.name in ("b05.yaml", "b30.yaml"):
            os.kill(os.getpid(), signal.SIGKILL)
        return p.name

    got = batches.run(paths, work, jobs=2)
    assert [o.path for o in got] == paths
    assert [o.failure.kind if o.failure else o.value for o in got] == \
        ["crash" if p.name in ("b05.yaml", "b30.yaml") else p.name for p in paths]
    assert "b05.yaml' was killed by signal SIGKILL" in got[5].failure.diagnostics[0].message
