"""Issue 11's targets as ratios, measured in one run against hand-written baselines (medians of several runs).

    .venv/bin/python bench/ratios.py [--quick] [--markdown] [--runs R] [--bundles N] [--public-bundles M]

  (a) a cold `peel evaluate evidence/lancashire-2022.yaml` as a fresh process, with a warm disk cache (a private
      PEEL_CACHE_DIR, filled by one untimed run) and with --no-cache, against `python bench/lancashire_by_hand.py`
      (PyYAML's C loader and the same decisions written by hand); `peel --help` against `python -c pass`.
      Before timing, the baseline's grades are checked equal to those of `peel evaluate --format json`.
  (b) N generated bundles (bench/run.py's synthetic rule set, every fact given): the compiled path
      (compile_program(program).run on loaded bundles) against bench/synthetic_by_hand.grade on the loaded
      dicts; and M of them as YAML files through the public path (peelrules.load_evidence, then
      peelrules.evaluate) against the same grade function after yaml.load with the C loader. Each in this
      process; grades checked equal on every bundle.
  (c) `peel --no-cache check FOLDER` as a fresh process on synthetic rule sets of about 100, 1,000 and 10,000
      rules (--limit max_rule_set_bytes raised when a set is larger than the default), with the growth.
  (d) bench/run.py's batch() (`peel evaluate FOLDER --jobs 1` against `--jobs 2`), when it is there.
  (e) bench/table_aggregates.py: eight aggregates over a generated 999-call table of 1M and 10M rows, peel's
      TableEngine (check, then one DuckDB pass) against NumPy on the same columns, values checked equal; peak memory.

Process workloads: time.perf_counter around subprocess.run, peel and baseline in turn, after one untimed run of
each. Nothing here asserts a time; a line that misses its target says so. See bench/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  the synthetic workload and (d)
import table_aggregates  # noqa: E402  (e)
import synthetic_by_hand  # noqa: E402

if TYPE_CHECKING:
    from peelrules.program import Program
    from peelrules.result import BundleResult

PYTHON = sys.executable
PEEL = str(Path(sys.executable).parent / "peel")
LANCASHIRE = "evidence/lancashire-2022.yaml"
BY_HAND = str(BENCH / "lancashire_by_hand.py")
RULES_PER_AREA = 11
AREAS_PER_FILE = 100


@dataclass
class Row:
    workload: str
    peel: float | None  # seconds
    baseline: float | None
    ratio: str
    target: str
    verdict: str  # "ok", "MISSED" or ""


def seconds(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:,.2f} s"


class Table:
    """Rows printed as they are measured; the whole table again at the end (plain or markdown)."""

    COLUMNS = ("workload", "peel median", "baseline median", "ratio", "target", "")
    WIDTHS = (50, 12, 15, 18, 26, 6)

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def cells(self, row: Row) -> tuple[str, ...]:
        return (row.workload, seconds(row.peel), seconds(row.baseline), row.ratio, row.target, row.verdict)

    def line(self, cells: tuple[str, ...]) -> str:
        return " ".join(c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cells, self.WIDTHS))).rstrip()

    def header(self) -> None:
        print(self.line(self.COLUMNS), flush=True)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(self.line(self.cells(row)), flush=True)

    def markdown(self) -> str:
        out = ["| " + " | ".join(self.COLUMNS[:-1]) + " | met |", "|---|---:|---:|---:|---|---|"]
        out += ["| " + " | ".join(self.cells(r)) + " |" for r in self.rows]
        return "\n".join(out)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ---------------------------------------------------------------- process timing


def run_process(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return proc


def time_in_turn(cmds: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median wall time of each command as a fresh process: one untimed run each, then `runs` rounds in turn."""
    for cmd in cmds.values():
        run_process(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            run_process(cmd, env)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def time_in_process(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of `fn()` over `runs` calls, and the result of the first."""
    times, first = [], None
    for i in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if i == 0:
            first = result
    return statistics.median(times), first


# ---------------------------------------------------------------- (a) one bundle, fresh processes


def peel_grades(json_text: str) -> dict[str, str]:
    """{area: final} of every area of the one bundle in `peel evaluate --format json` output."""
    (result,) = json.loads(json_text)["results"]
    return {a["area"]: a["final"] for a in result["areas"]}


def by_hand_grades(output: str) -> dict[str, str]:
    """{area: grade} from the `area grade` lines printed by bench/lancashire_by_hand.py."""
    return dict(line.split(" ", 1) for line in output.splitlines() if line.strip())


def check_lancashire_baseline(env: dict[str, str]) -> dict[str, str]:
    peel = peel_grades(run_process([PEEL, "evaluate", LANCASHIRE, "--format", "json"], env).stdout.decode())
    mine = by_hand_grades(run_process([PYTHON, BY_HAND, LANCASHIRE], env).stdout.decode())
    if mine != peel:
        diff = {a: (peel.get(a), mine.get(a)) for a in sorted(set(peel) | set(mine)) if peel.get(a) != mine.get(a)}
        raise SystemExit(f"bench/lancashire_by_hand.py disagrees with peel (peel, by hand): {diff}")
    return peel


def byte_compile() -> None:
    """Write peelrules' bytecode, as `pip install` does for an installed package. An editable checkout gets none
    where PYTHONDONTWRITEBYTECODE is set (as on the project's machines), and every process would then compile
    all of peelrules' source again: about 50 ms that no installed peel pays, and that the baseline (a script
    importing only PyYAML, whose bytecode pip wrote) does not pay either."""
    import compileall

    compileall.compile_dir(str(ROOT / "peelrules"), quiet=1)


def single_bundle(table: Table, runs: int) -> None:
    byte_compile()
    with tempfile.TemporaryDirectory(prefix="peel-bench-cache-") as cache:
        env = {**os.environ, "PEEL_CACHE_DIR": cache}
        grades = check_lancashire_baseline(env)  # also fills the cache
        if not any(Path(cache).glob("programs/*.program")):
            raise SystemExit(f"peel wrote no cache entry under {cache}: the warm-cache line would not be warm")
        t = time_in_turn({"peel": [PEEL, "evaluate", LANCASHIRE],
                          "nocache": [PEEL, "--no-cache", "evaluate", LANCASHIRE],
                          "hand": [PYTHON, BY_HAND, LANCASHIRE],
                          "help": [PEEL, "--help"],
                          "python": [PYTHON, "-c", "pass"]}, runs, env)
    graded = sum(g not in ("ungraded", "not_inspected") for g in grades.values())
    table.add(Row(f"(a) evaluate Lancashire, warm cache ({graded} graded)", t["peel"], t["hand"],
                  f"{t['peel'] / t['hand']:.1f}x", "<= 3x by-hand script", verdict(t["peel"] <= 3 * t["hand"])))
    table.add(Row("(a) evaluate Lancashire, --no-cache", t["nocache"], t["hand"],
                  f"{t['nocache'] / t['hand']:.1f}x", "(none)", ""))
    table.add(Row("(a) peel --help (baseline: python -c pass)", t["help"], t["python"],
                  f"{t['help'] / t['python']:.1f}x", "< 100 ms", verdict(t["help"] < 0.100)))


# ---------------------------------------------------------------- (b) many bundles, in process


def peel_judgments(results: list[BundleResult]) -> list[dict[str, str]]:
    return [{a.name: a.judgment for a in r.areas} for r in results]


def agree(what: str, peel: list[dict[str, str]], mine: list[dict[str, str]]) -> None:
    wrong = [i for i, (p, m) in enumerate(zip(peel, mine)) if p != m]
    if wrong or len(peel) != len(mine):
        raise SystemExit(f"(b) {what}: bench/synthetic_by_hand.py disagrees with peel on {len(wrong)} bundles, "
                         f"first {wrong[:5]}")


def compiled_path(table: Table, program: Program, texts: list[str], runs: int) -> None:
    from peelrules.compile import compile_program
    from peelrules.evidence import load_bundle
    from peelrules.source import SourceFile

    loaded = [load_bundle(SourceFile(f"bundle{i}.json", t), program) for i, t in enumerate(texts)]
    dicts = [json.loads(t) for t in texts]
    compiled = compile_program(program)
    fast, results = time_in_process(lambda: [compiled.run(b) for b in loaded], runs)
    plain, mine = time_in_process(lambda: [synthetic_by_hand.grade(d) for d in dicts], runs)
    agree("compiled path", peel_judgments(results), mine)  # type: ignore[arg-type]
    table.add(Row(f"(b) compiled run, {len(texts):,} loaded bundles", fast, plain, f"{fast / plain:.1f}x",
                  "<= 2x plain Python", verdict(fast <= 2 * plain)))


def public_path(table: Table, program: Program, texts: list[str], runs: int) -> None:
    import yaml

    import peelrules

    with tempfile.TemporaryDirectory(prefix="peel-bench-bundles-") as tmp:
        paths = []
        for i, text in enumerate(texts):
            path = Path(tmp) / f"bundle{i:05d}.yaml"
            path.write_text(yaml.dump(json.loads(text), Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")
            paths.append(path)
        public, results = time_in_process(
            lambda: [peelrules.evaluate(program, peelrules.load_evidence(p, program)) for p in paths], runs)
        script, mine = time_in_process(
            lambda: [synthetic_by_hand.grade(synthetic_by_hand.load(str(p))) for p in paths], runs)
    agree("public path", peel_judgments(results), mine)  # type: ignore[arg-type]
    table.add(Row(f"(b) load_evidence + evaluate, {len(texts):,} YAML files", public, script,
                  f"{public / script:.1f}x", "<= 3x C-loader script", verdict(public <= 3 * script)))


def many_bundles(table: Table, bundles: int, public_bundles: int, runs: int, public_runs: int, seed: int) -> None:
    import peelrules
    from peelrules.source import SourceFile

    program = peelrules.check_rules([SourceFile("bench/synthetic.peel", run.synthetic_rules())])
    rng = random.Random(seed)
    texts = [run.synthetic_bundle(rng, i, 0.0) for i in range(max(bundles, public_bundles))]
    compiled_path(table, program, texts[:bundles], runs)
    public_path(table, program, texts[:public_bundles], public_runs)


# ---------------------------------------------------------------- (c) peel check at growing sizes


def write_rule_set(folder: Path, rules: int) -> int:
    """bench/run.py's synthetic rule set with enough areas for `rules` rules (a file per 100 areas)."""
    folder.mkdir(parents=True)
    (folder / "00-header.peel").write_text(run.HEADER, encoding="utf-8")
    areas = -(-rules // RULES_PER_AREA)
    for start in range(0, areas, AREAS_PER_FILE):
        parts = []
        for i in range(start, min(areas, start + AREAS_PER_FILE)):
            decls = "\n".join(f'  {n}: {ty} "{n.replace("_", " ")} in area {i}"' for n, ty in run.FACTS.items())
            parts.append(f"evidence s{i} {{\n{decls}\n}}\n\n{run._area(i)}")
        (folder / f"{1 + start // AREAS_PER_FILE:03d}-areas.peel").write_text("\n".join(parts), encoding="utf-8")
    return areas * RULES_PER_AREA


def check_sizes(table: Table, sizes: list[int], runs: int) -> None:
    from peelrules.limits import DEFAULT_LIMITS

    measured: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(prefix="peel-bench-rules-") as tmp:
        for size in sizes:
            folder = Path(tmp) / f"rules-{size}"
            n = write_rule_set(folder, size)
            total = sum(p.stat().st_size for p in folder.glob("*.peel"))
            limit = ["--limit", f"max_rule_set_bytes={total}"] if total > DEFAULT_LIMITS.max_rule_set_bytes else []
            cmd = [PEEL, "--no-cache", *limit, "check", str(folder)]
            t = time_in_turn({"check": cmd}, runs, dict(os.environ))["check"]
            growth = "" if not measured else f"{t / measured[-1][1]:.1f}x for {n / measured[-1][0]:.1f}x rules"
            big = n >= 10_000
            table.add(Row(f"(c) peel check, {n:,} rules ({total / 1e6:.2f} MB)" + (" --limit" if limit else ""),
                          t, None, growth, "< 3 s" if big else "", verdict(t < 3) if big else ""))
            measured.append((n, t))
    if len(measured) >= 3:
        (n0, t0), (n1, t1), (n2, t2) = measured[-3:]
        low, high = (t1 - t0) / (n1 - n0), (t2 - t1) / (n2 - n1)
        table.add(Row(f"(c) ms a rule, {n0:,}-{n1:,} then {n1:,}-{n2:,} rules", None, None,
                      f"{low * 1e3:.2f} then {high * 1e3:.2f}", "linear (at most 1.5x)",
                      verdict(high <= 1.5 * max(low, 1e-9))))


# ---------------------------------------------------------------- (d) batches: bench/run.py's part


def batch(table: Table, bundles: int, runs: int) -> None:
    """(d) is measured by bench/run.py's batch(), which another part owns: called here, its line kept verbatim."""
    if not hasattr(run, "batch"):
        table.add(Row("(d) batch --jobs 2 against --jobs 1", None, None, "not in bench/run.py yet", ">= 1.7x", ""))
        return
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            run.batch(bundles, runs)
    except (subprocess.CalledProcessError, AssertionError) as e:  # their part failing must not lose the table
        table.add(Row(f"(d) batch of {bundles:,}", None, None, "failed (bench/run.py)", ">= 1.7x", ""))
        print(f"    bench/run.py batch() failed: {e}", flush=True)
        return
    said = captured.getvalue().strip()
    times = re.search(r"--jobs 1 ([0-9.]+) s.*--jobs 2 ([0-9.]+) s", said)
    if times:
        one, two = float(times[1]), float(times[2])
        table.add(Row(f"(d) batch of {bundles:,}: --jobs 2 (baseline --jobs 1)", two, one, f"{one / two:.2f}x",
                      ">= 1.7x", verdict(one / two >= 1.7)))
    else:
        table.add(Row(f"(d) batch of {bundles:,}", None, None, "see bench/run.py's line", ">= 1.7x", ""))
    print(f"    bench/run.py batch(): {said}", flush=True)


def aggregates(table: Table, sizes: list[int], runs: int) -> None:
    """(e) bench/table_aggregates.py: a rule set's aggregates over a generated table, peel against NumPy."""
    for rows in sizes:
        m = table_aggregates.compare(rows, runs)
        table.add(Row(f"(e) {m.aggregates} aggregates, {rows:,} rows (peak {m.peel_rss / 2 ** 20:,.0f} MiB)",
                      m.peel, m.numpy, f"{m.ratio:.1f}x", "<= 2x NumPy, < 2 GiB" if m.met is not None else "",
                      {None: "", True: "ok", False: "MISSED"}[m.met]))


# ---------------------------------------------------------------- main


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else ""


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    print(f"    ({name} took {time.perf_counter() - start:.0f} s; {load()})", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs and bundles (a minute or two): figures are rougher")
    parser.add_argument("--runs", type=int,
                        help="runs of every workload, the median kept (default: (a) 10, quick 5; "
                             "(b) 5 compiled and 3 public, quick 3 and 3; (c), (d) and (e) 3, quick 1)")
    parser.add_argument("--bundles", type=int, help="bundles of the compiled path (default 10,000, quick 2,000)")
    parser.add_argument("--public-bundles", type=int,
                        help="YAML files of the public path (default 10,000, quick 300)")
    parser.add_argument("--sizes", default="100,1000,10000", help="rule counts of (c), comma-separated")
    parser.add_argument("--batch-bundles", type=int, help="bundles of (d) (default 1,000, quick 100; 0: skip)")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--markdown", action="store_true", help="print the table again as markdown at the end")
    parser.add_argument("--table-rows", default="1000000,10000000", help="table sizes of (e), comma-separated")
    parser.add_argument("--only", default="a,b,c,d,e", help="the parts to run, comma-separated (e.g. --only a)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    q = args.quick
    runs = args.runs or (5 if q else 10)
    compiled_runs, public_runs = (args.runs, args.runs) if args.runs else (3 if q else 5, 3)
    check_runs = args.runs or (1 if q else 3)
    batch_runs = table_runs = check_runs
    bundles = args.bundles or (2_000 if q else 10_000)
    public_bundles = args.public_bundles or (300 if q else 10_000)
    batch_bundles = args.batch_bundles if args.batch_bundles is not None else (100 if q else 1_000)

    print(run.machine().rsplit(", load average", 1)[0] + f"; at start {load()}")
    print(f"medians: (a) of {runs} fresh processes each, in turn; (b) of {compiled_runs} runs (compiled) and "
          f"{public_runs} (public) in this process; (c) of {check_runs} fresh processes; (d) of {batch_runs} each; "
          f"(e) of {table_runs} fresh processes each")
    table = Table()
    table.header()
    if "a" in parts:
        with stage("(a)"):
            single_bundle(table, runs)
    if "b" in parts:
        with stage("(b)"):
            many_bundles(table, bundles, public_bundles, compiled_runs, public_runs, args.seed)
    if "c" in parts:
        with stage("(c)"):
            check_sizes(table, [int(s) for s in args.sizes.split(",")], check_runs)
    if batch_bundles and "d" in parts:
        with stage("(d)"):
            batch(table, batch_bundles, batch_runs)
    if "e" in parts:
        with stage("(e)"):
            aggregates(table, [int(s) for s in args.table_rows.split(",")], table_runs)
    print(f"at end {load()}")
    if args.markdown:
        print()
        print(table.markdown())
    missed = [r.workload for r in table.rows if r.verdict == "MISSED"]
    print(f"{len(missed)} target(s) missed" + (": " + "; ".join(missed) if missed else ""))


if __name__ == "__main__":
    main()
